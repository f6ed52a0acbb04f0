"""Bringing a pilot's declared sources into the store, each ingest recorded as an ``ingest`` receipt.

The connector for a source comes from its declaration in pilot.yaml; each source is ingested in its own
transaction together with its receipt, so a source that fails leaves the others (and its own previous
good version) in place.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from pilotgate import spec as specs
from pilotgate.clock import Clock, utc_now
from pilotgate.data.connectors import FolderSource
from pilotgate.data.ingest import IngestReport, ingest_source
from pilotgate.errors import SourceError, UsageError
from pilotgate.receipts import ReceiptLog
from pilotgate.spec import LoadedPilot
from pilotgate.store import Store

SYSTEM_ACTOR = {"kind": "system", "id": "pilotgate-ingest"}


@dataclass(frozen=True)
class SourceSync:
    """What happened to one source: its report, or why it could not be read at all."""

    name: str
    report: IngestReport | None
    error: SourceError | None = None
    receipt_seq: int | None = None

    @property
    def changed(self) -> bool:
        """Whether anything was written (a receipt is recorded only then)."""
        return self.report is not None and _changed(self.report)


def connector_for(loaded: LoadedPilot, source: specs.Source) -> FolderSource:
    """The connector that reads ``source`` as declared."""
    if isinstance(source, specs.FolderSource):
        return FolderSource(
            name=source.name, path=loaded.resolve(source.path), read_groups=tuple(source.read)
        )
    raise SourceError(
        f"source {source.name!r}: kind {source.kind!r} cannot be ingested by this version yet",
        hint="use kind: folder for now",
    )


def sync_sources(
    store: Store,
    log: ReceiptLog,
    loaded: LoadedPilot,
    *,
    names: Sequence[str] | None = None,
    clock: Clock = utc_now,
    on_source: Callable[[SourceSync], None] | None = None,
) -> list[SourceSync]:
    """Ingest the named sources (default: all), each in one transaction with its ``ingest`` receipt."""
    declared = {source.name: source for source in loaded.spec.sources}
    unknown = [name for name in names or () if name not in declared]
    if unknown:
        raise UsageError(
            f"unknown source {unknown[0]!r}",
            hint=f"declared sources: {', '.join(declared) or 'none'}",
        )
    results: list[SourceSync] = []
    for name in names or list(declared):
        try:
            connector = connector_for(loaded, declared[name])
            with log.transaction(store) as conn:
                report = ingest_source(conn, pilot=log.pilot, connector=connector, clock=clock)
                seq = None
                if _changed(report):
                    seq = log.append(conn, kind="ingest", body=report.summary(), actor=SYSTEM_ACTOR).seq
            result = SourceSync(name=name, report=report, receipt_seq=seq)
        except SourceError as exc:
            result = SourceSync(name=name, report=None, error=exc)
        results.append(result)
        if on_source is not None:
            on_source(result)
    return results


def _changed(report: IngestReport) -> bool:
    return any(outcome.action != "unchanged" for outcome in report.documents)
