"""The rules of each source that ingest and retrieval apply: rank, system of record, freshness.

``SourceRegistry.from_spec(spec.sources)`` reads them from pilot.yaml; tests build ``SourceRules`` directly.
A source the registry does not know (an old source's chunks still in the store) gets default rules: no
rank (it loses every conflict to a ranked source), not a system of record, never stale.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Literal

from pilotgate.clock import rfc3339
from pilotgate.spec.sections.sources import SourceBase

StaleAction = Literal["flag", "exclude"]


@dataclass(frozen=True)
class SourceRules:
    """One source's rules."""

    name: str
    rank: int | None = None
    """Lower wins a conflict; None loses to every ranked source."""
    system_of_record: bool | tuple[str, ...] = False
    """True for everything the source holds, or the topics and record fields it is the authority for."""
    freshness: timedelta | None = None
    """How old content may be before it is stale; None: never stale."""
    stale: StaleAction = "flag"
    """What retrieval does with stale content."""

    def authority_for(self, subject: str | None) -> bool:
        """Whether the source is the system of record for ``subject`` (a topic or a record field)."""
        if isinstance(self.system_of_record, bool):
            return self.system_of_record
        return subject is not None and subject in self.system_of_record

    def precedence(self, subject: str | None) -> tuple[bool, int, bool, str]:
        """Sort key of the conflict order: ranked before unranked, lower rank first, the system of record
        for ``subject`` first among equals, then the source name (a tie, reported as such)."""
        return (self.rank is None, self.rank or 0, not self.authority_for(subject), self.name)

    def stale_before(self, now: datetime) -> str | None:
        """The RFC 3339 time before which this source's content is stale at ``now``, if it can be."""
        return rfc3339(now - self.freshness) if self.freshness is not None else None


@dataclass(frozen=True)
class SourceRegistry:
    """The rules of every declared source, by name."""

    sources: Mapping[str, SourceRules] = field(default_factory=dict)
    _memo: list[tuple[datetime, dict[str, str], dict[str, str]]] = field(
        default_factory=list, init=False, repr=False, compare=False, hash=False
    )
    """The last second's ``freshness_at`` (one entry): tasks in the same second share it."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "sources", MappingProxyType(dict(self.sources)))

    @classmethod
    def of(cls, rules: Iterable[SourceRules]) -> SourceRegistry:
        """A registry of the given rules."""
        return cls({rule.name: rule for rule in rules})

    @classmethod
    def from_spec(cls, sources: Iterable[SourceBase]) -> SourceRegistry:
        """The registry pilot.yaml's ``sources:`` declare."""
        return cls.of(
            SourceRules(
                name=source.name,
                rank=source.rank,
                system_of_record=(
                    source.system_of_record
                    if isinstance(source.system_of_record, bool)
                    else tuple(source.system_of_record)
                ),
                freshness=source.freshness,
                stale=source.stale,
            )
            for source in sources
        )

    def rules(self, name: str) -> SourceRules:
        """The rules of source ``name`` (defaults for a source not declared)."""
        return self.sources.get(name) or SourceRules(name=name)

    def stale_cutoffs(self, now: datetime) -> dict[str, str]:
        """Source name -> the time before which its content is stale at ``now`` (sources with freshness)."""
        cutoffs = {}
        for name, rule in self.sources.items():
            cutoff = rule.stale_before(now)
            if cutoff is not None:
                cutoffs[name] = cutoff
        return cutoffs

    def freshness_at(self, now: datetime) -> tuple[dict[str, str], dict[str, str]]:
        """``stale_cutoffs`` at ``now`` to the second, and those of the ``stale: exclude`` sources alone.

        A runtime builds its registry once and asks this per task: within one second the same dicts are
        returned (do not change them), so content may count as fresh for up to one second longer than
        its source's ``freshness`` says.
        """
        second = now.replace(microsecond=0)
        memo = self._memo
        if memo and memo[0][0] == second:
            return memo[0][1], memo[0][2]
        cutoffs = self.stale_cutoffs(second)
        excluded = {name: cutoff for name, cutoff in cutoffs.items() if self.sources[name].stale == "exclude"}
        memo[:] = [(second, cutoffs, excluded)]
        return cutoffs, excluded
