"""SQLite's group masks (``pilotgate.data.acl``): each active chunk's mask grants what its document's
``read_groups`` grant (nothing once it lost a conflict), through first ingests, re-grants, new versions,
tombstones and reconciliations; numbers are store-wide and never change; groups past the bits are matched by
their tokens. PostgreSQL keeps the tables empty."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Connection

from pilotgate.data import (
    IngestReport,
    SourceDocument,
    SourceRegistry,
    SourceRules,
    ingest_source,
    reconcile,
    retrieve,
    search,
)
from pilotgate.data.acl import MASK_BITS, caller_mask
from pilotgate.store import Store, open_store
from pilotgate.testing import FixedClock

PILOT = "mask-desk"


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Store]:
    opened = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    yield opened
    opened.close()


def numbers(conn: Connection) -> dict[tuple[str, str], int]:
    rows = conn.exec_driver_sql("SELECT pilot, name, bit FROM acl_bits").all()
    return {(pilot, name): int(bit) for pilot, name, bit in rows}


def assert_masks_follow_read_groups(store: Store) -> None:
    """Every active chunk has a mask row, and only active chunks do; a mask holds exactly the bits of its
    document's groups (0 when superseded); every granted group is numbered, each number once."""
    with store.read() as conn:
        bits = numbers(conn)
        assert len(set(bits.values())) == len(bits)
        rows = conn.exec_driver_sql(
            "SELECT c.rowid, c.pilot, c.superseded, d.read_groups FROM chunks AS c "
            "JOIN documents AS d ON d.id = c.document_id WHERE c.active"
        ).all()
        stored = dict(conn.exec_driver_sql("SELECT chunk, mask FROM chunk_masks").all())
    expected = {}
    for rowid, pilot, superseded, granted in rows:
        mask = 0
        for group in json.loads(granted):
            bit = bits[(pilot, group)]
            if bit < MASK_BITS:
                mask |= 1 << bit
        expected[rowid] = 0 if superseded else mask
    assert stored == expected


def load(
    store: Store, list_connector: type, source: str, groups: tuple[str, ...], docs: list[SourceDocument]
) -> IngestReport:
    with store.write() as conn:
        return ingest_source(
            conn, pilot=PILOT, connector=list_connector(source, groups, docs), clock=FixedClock()
        )


def found(store: Store, query: str, groups: list[str], pilot: str = PILOT) -> list[str]:
    with store.read() as conn:
        return sorted({hit.uri for hit in search(conn, pilot=pilot, query=query, groups=groups, limit=100)})


def test_masks_follow_regrants_new_versions_and_tombstones(sqlite_store: Store, list_connector: type) -> None:
    store = sqlite_store
    docs = [
        SourceDocument("open.md", "Refunds for everyone."),
        SourceDocument("agents.md", "Refunds by agents.", read_groups=("agents",)),
        SourceDocument("nobody.md", "Refunds for nobody.", read_groups=("strangers",)),
    ]
    load(store, list_connector, "policy", ("agents", "customers"), docs)
    assert_masks_follow_read_groups(store)
    assert found(store, "refunds", ["customers"]) == ["open.md"]
    assert found(store, "refunds", ["agents"]) == ["agents.md", "open.md"]

    before = numbers_of(store)
    docs = [
        SourceDocument("open.md", "Refunds for everyone, now in a week."),  # a new version
        SourceDocument("agents.md", "Refunds by agents.", read_groups=("customers",)),  # re-granted
    ]  # nobody.md is gone: tombstoned
    report = load(store, list_connector, "policy", ("agents", "customers"), docs)
    assert (report.count("changed"), report.count("acl_changed"), report.count("tombstoned")) == (1, 1, 1)
    assert_masks_follow_read_groups(store)
    assert numbers_of(store) == before  # no group renumbered
    assert found(store, "refunds", ["customers"]) == ["agents.md", "open.md"]
    assert found(store, "refunds", ["agents"]) == ["open.md"]

    load(store, list_connector, "policy", ("agents", "auditors"), docs)  # the source's groups change
    assert_masks_follow_read_groups(store)
    assert numbers_of(store)[(PILOT, "auditors")] == max(before.values()) + 1
    assert found(store, "refunds", ["customers"]) == []
    assert found(store, "refunds", ["auditors"]) == ["open.md"]


def numbers_of(store: Store) -> dict[tuple[str, str], int]:
    with store.read() as conn:
        return numbers(conn)


def test_conflict_losers_get_no_bits_and_get_them_back(sqlite_store: Store, list_connector: type) -> None:
    store = sqlite_store
    load(store, list_connector, "crm", ("agents",), [SourceDocument("1", "Order shipped.", record_key="o=1")])
    load(store, list_connector, "erp", ("agents",), [SourceDocument("1", "Order lost.", record_key="o=1")])
    for ranks, winner in (({"crm": 1, "erp": 2}, "Order shipped."), ({"crm": 2, "erp": 1}, "Order lost.")):
        registry = SourceRegistry.of(SourceRules(name, rank=rank) for name, rank in ranks.items())
        with store.write() as conn:
            assert len(reconcile(conn, pilot=PILOT, registry=registry).conflicts) == 1
        assert_masks_follow_read_groups(store)
        with store.read() as conn:
            hits = search(conn, pilot=PILOT, query="order", groups=["agents"])
        assert [hit.text for hit in hits] == [winner]


def test_numbers_are_store_wide_so_a_shared_bit_never_crosses_pilots(
    sqlite_store: Store, list_connector: type
) -> None:
    store = sqlite_store
    load(store, list_connector, "kb", ("agents", "finance"), [SourceDocument("a.md", "Refunds here.")])
    with store.write() as conn:
        ingest_source(
            conn,
            pilot="other-desk",
            connector=list_connector("kb", ("agents",), [SourceDocument("b.md", "Refunds there.")]),
            clock=FixedClock(),
        )
    assert_masks_follow_read_groups(store)
    with store.read() as conn:
        bits = numbers(conn)
        assert bits[(PILOT, "agents")] != bits[("other-desk", "agents")]
        assert caller_mask(conn, "nobody-desk", ["agents"]) == 0
    assert found(store, "refunds", ["agents"]) == ["a.md"]
    assert found(store, "refunds", ["agents"], pilot="other-desk") == ["b.md"]
    assert found(store, "refunds", ["finance"], pilot="other-desk") == []


def test_groups_past_the_bits_are_matched_by_their_tokens(sqlite_store: Store, list_connector: type) -> None:
    store = sqlite_store
    groups = [f"team{i:02d}" for i in range(MASK_BITS + 7)]  # numbered in name order: team63.. have no bit
    docs = [SourceDocument(f"{g}.md", f"Shared word. Owned by {g}.", read_groups=(g,)) for g in groups]
    load(store, list_connector, "s", tuple(groups), docs)
    assert_masks_follow_read_groups(store)
    with store.read() as conn:
        assert caller_mask(conn, PILOT, ["team00", "team62"]) == 1 | 1 << 62
        assert caller_mask(conn, PILOT, ["team00", "team63"]) is None  # filtered by tokens
        for group in groups:
            hits = retrieve(conn, pilot=PILOT, query="shared word", groups=[group], limit=100)
            assert [hit.uri for hit in hits.chunks] == [f"{group}.md"]
            assert hits.withheld.restricted == len(groups) - 1
        mixed = retrieve(conn, pilot=PILOT, query="shared word", groups=["team01", "team68"], limit=100)
    assert sorted(hit.uri for hit in mixed.chunks) == ["team01.md", "team68.md"]
    assert mixed.withheld.restricted == len(groups) - 2


def test_postgresql_leaves_the_mask_tables_empty(store: Store, list_connector: type) -> None:
    load(store, list_connector, "kb", ("agents",), [SourceDocument("a.md", "Refunds here.")])
    with store.read() as conn:
        counts = [
            conn.exec_driver_sql(f"SELECT count(*) FROM {t}").scalar() for t in ("acl_bits", "chunk_masks")
        ]
    assert counts == ([0, 0] if store.dialect == "postgresql" else [1, 1])
    assert found(store, "refunds", ["agents"]) == ["a.md"]
