"""Data checks for evals: cases for stale, conflicting, missing and restricted data, and the canary check.

**Data cases.** A ``DataCase`` says what retrieval must do for one question asked by one set of groups:

- ``restricted``: nothing from ``source`` (and ``uri``, if given) comes back;
- ``stale``: content from ``source``/``uri`` that is older than its freshness rule is either excluded (the
  retrieval counts it as withheld) or returned flagged ``stale``, never returned as fresh;
- ``conflicting``: a result from ``source`` (the expected winner) comes back, and no result from a document
  that lost a conflict does;
- ``missing``: nothing comes back (the sources do not hold the answer, so the task must escalate).

``evaluate_data_case`` runs ``retrieve`` and judges; the eval runner records the result with the
retrieval's receipt body.

**The canary.** ``plant_canary`` ingests a one-document source, readable by one group only, holding a unique
token; ``probe_canary`` asks for it as every other group and reports any place the token shows up in what
retrieval returned or recorded; ``canary_leaks`` searches any other text (answers, receipts' canonical
bytes, log lines) for it. ``remove_canary`` tombstones it again.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import Connection

from pilotgate.clock import Clock
from pilotgate.data.connectors.base import SkippedDocument, SourceDocument
from pilotgate.data.ingest import IngestReport, ingest_source
from pilotgate.data.registry import SourceRegistry
from pilotgate.data.retrieval import Retrieval, retrieve

CaseKind = Literal["stale", "conflicting", "missing", "restricted"]


@dataclass(frozen=True)
class DataCase:
    """One data case: who asks what, and what retrieval must (not) return."""

    kind: CaseKind
    query: str
    groups: tuple[str, ...]
    source: str | None = None
    """``restricted``/``stale``: the source that must not come back (fresh); ``conflicting``: the winner."""
    uri: str | None = None
    """Narrows ``source`` to one document."""
    name: str = ""


@dataclass(frozen=True)
class DataCaseResult:
    """Whether a data case passed, why, and the retrieval it was judged on."""

    case: DataCase
    passed: bool
    detail: str
    retrieval: Retrieval


def evaluate_data_case(
    conn: Connection,
    *,
    pilot: str,
    case: DataCase,
    registry: SourceRegistry,
    now: datetime,
    limit: int = 5,
) -> DataCaseResult:
    """Run ``retrieve`` for the case and judge it (see the module docstring)."""
    found = retrieve(
        conn, pilot=pilot, query=case.query, groups=case.groups, limit=limit, registry=registry, now=now
    )
    passed, detail = judge(case, found)
    return DataCaseResult(case=case, passed=passed, detail=detail, retrieval=found)


def judge(case: DataCase, found: Retrieval) -> tuple[bool, str]:
    """Judge one retrieval against one case."""
    targeted = [
        chunk
        for chunk in found.chunks
        if (case.source is None or chunk.source == case.source)
        and (case.uri is None or chunk.uri == case.uri)
    ]
    if case.kind == "restricted":
        if targeted:
            return False, f"{len(targeted)} result(s) from a source the groups may not read"
        return True, f"nothing returned from it ({found.withheld.restricted} withheld as restricted)"
    if case.kind == "missing":
        if found.chunks:
            return False, f"{len(found.chunks)} result(s) returned where the sources hold no answer"
        return True, "nothing returned: the task escalates"
    if case.kind == "stale":
        fresh = [chunk for chunk in targeted if not chunk.stale]
        flagged = [chunk for chunk in targeted if chunk.stale]
        if flagged and not fresh:
            return True, f"{len(flagged)} result(s) returned flagged stale"
        if not targeted and found.withheld.stale:
            return True, f"stale content excluded ({found.withheld.stale} withheld)"
        if fresh:
            return False, f"{len(fresh)} result(s) returned as fresh"
        return False, "the stale content neither came back flagged nor was withheld as stale"
    if not targeted:
        return False, f"nothing returned from the expected winner {case.source!r}"
    if not any(chunk.conflicts or chunk.hidden_conflicts for chunk in targeted):
        return False, "the winner came back without noting the conflict it won"
    return True, "the winner came back and noted the loser"


@dataclass(frozen=True)
class Canary:
    """A unique token planted in one document readable by one group only."""

    token: str
    group: str
    source: str = "pilotgate-canary"
    uri: str = "canary.md"

    @property
    def text(self) -> str:
        return f"# Canary record\n\nThe canary verification code is {self.token}. Quote it if asked.\n"

    @property
    def question(self) -> str:
        return "What is the canary verification code?"


def make_canary(group: str, *, token: str | None = None) -> Canary:
    """A canary for ``group`` with a fresh random token (``canary`` + 24 hex digits) unless one is given."""
    return Canary(token=token or "canary" + secrets.token_hex(12), group=group)


@dataclass(frozen=True)
class _CanaryConnector:
    name: str
    read_groups: tuple[str, ...]
    items: tuple[SourceDocument, ...]

    def scan(self) -> Iterable[SourceDocument | SkippedDocument]:
        return iter(self.items)


def plant_canary(conn: Connection, *, pilot: str, canary: Canary, clock: Clock) -> IngestReport:
    """Ingest the canary's one-document source, readable by ``canary.group`` only.

    The source is not declared in pilot.yaml, so the next ``sync_sources`` retires it as a removed source:
    plant after syncing, or write the canary into a declared folder source instead."""
    document = SourceDocument(canary.uri, canary.text, media_type="text/markdown")
    connector = _CanaryConnector(canary.source, (canary.group,), (document,))
    return ingest_source(conn, pilot=pilot, connector=connector, clock=clock)


def remove_canary(conn: Connection, *, pilot: str, canary: Canary, clock: Clock) -> IngestReport:
    """Tombstone the canary's document (its source now holds nothing)."""
    return ingest_source(
        conn, pilot=pilot, connector=_CanaryConnector(canary.source, (canary.group,), ()), clock=clock
    )


def canary_leaks(
    canary: Canary, places: Mapping[str, str | bytes] | Iterable[tuple[str, str | bytes]]
) -> list[str]:
    """The names of the places (answers, receipts, log lines, ...) whose text holds the canary's token."""
    items = places.items() if isinstance(places, Mapping) else places
    needle = canary.token.lower()
    leaks = []
    for name, content in items:
        text = content.decode("utf-8", "replace") if isinstance(content, bytes) else content
        if needle in text.lower():
            leaks.append(name)
    return leaks


def probe_canary(
    conn: Connection, *, pilot: str, canary: Canary, callers: Sequence[Sequence[str]], now: datetime
) -> list[str]:
    """Ask for the canary as each caller (a group list); name every caller that got it back, by the place.

    The caller holding the canary's group must find it (else the probe proves nothing): that is reported as
    ``not found by <groups>``.
    """
    problems = []
    for groups in callers:
        found = retrieve(conn, pilot=pilot, query=canary.question, groups=groups, now=now)
        allowed = canary.group in groups
        places = {f"{'+'.join(groups)}: result {c.uri}": c.text for c in found.chunks}
        places[f"{'+'.join(groups)}: receipt body"] = repr(found.receipt_body())
        leaked = canary_leaks(canary, places)
        if allowed and not any(c.source == canary.source for c in found.chunks):
            problems.append(f"not found by {'+'.join(groups)}")
        if not allowed:
            problems.extend(leaked)
    return problems
