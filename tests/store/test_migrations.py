"""Migrations that change data: a store that already holds chunks is upgraded and still answers the same.

Migration 0008 (group masks): a store at 0007 with ingested, re-ingested, tombstoned and conflicting
documents of two pilots is upgraded; on SQLite every active chunk then has the mask its document's groups
give (0 for a conflict's loser) and every search finds what it found before; PostgreSQL gets the tables,
empty.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, inspect

from pilotgate.data import SourceDocument, SourceRegistry, SourceRules, ingest_source, reconcile, search
from pilotgate.data.acl import MASK_BITS
from pilotgate.store import Store, current_revision, head_revision, open_store
from pilotgate.store.migrations_runner import MIGRATIONS
from pilotgate.testing import FixedClock


@dataclass
class Listed:
    name: str
    read_groups: tuple[str, ...]
    items: list[SourceDocument]

    def scan(self) -> Iterator[SourceDocument]:
        yield from self.items


def ingest(
    store: Store, pilot: str, source: str, groups: tuple[str, ...], docs: list[SourceDocument]
) -> None:
    with store.write() as conn:
        ingest_source(conn, pilot=pilot, connector=Listed(source, groups, docs), clock=FixedClock())


def migrate(store: Store, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with store.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, revision)


def granted(conn: Connection) -> dict[str, frozenset[str]]:
    """chunk id -> the groups its mask grants, decoded with the numbers."""
    names = {int(bit): name for _, name, bit in conn.exec_driver_sql("SELECT pilot, name, bit FROM acl_bits")}
    rows = conn.exec_driver_sql(
        "SELECT c.id, m.mask FROM chunk_masks AS m JOIN chunks AS c ON c.rowid = m.chunk"
    )
    return {
        chunk: frozenset(names[bit] for bit in range(MASK_BITS) if mask >> bit & 1) for chunk, mask in rows
    }


QUESTIONS = [
    ("desk", "refunds order", ["agents"]),
    ("desk", "refunds order", ["customers"]),
    ("desk", "refunds order", ["finance", "customers"]),
    ("desk", "refunds", ["strangers"]),
    ("other", "refunds", ["agents"]),
]


def answers(store: Store) -> list[list[str]]:
    with store.read() as conn:
        return [
            [hit.chunk_id for hit in search(conn, pilot=pilot, query=query, groups=groups, limit=20)]
            for pilot, query, groups in QUESTIONS
        ]


def test_0008_fills_the_masks_of_a_store_that_holds_chunks(store_url: str) -> None:
    store = open_store(store_url)
    try:
        ingest(
            store,
            "desk",
            "policy",
            ("agents", "customers"),
            [
                SourceDocument("open.md", "Refunds for everyone."),
                SourceDocument("agents.md", "Refunds by agents only.", read_groups=("agents",)),
                SourceDocument("nobody.md", "Refunds for nobody.", read_groups=("strangers",)),
                SourceDocument("gone.md", "Refunds of the past."),
                SourceDocument("order.md", "Order 7 refunds were paid.", record_key="order=7"),
            ],
        )
        ingest(
            store,
            "desk",
            "policy",
            ("agents", "customers"),
            [
                SourceDocument("open.md", "Refunds for everyone, within a week."),  # a new version
                SourceDocument("agents.md", "Refunds by agents only.", read_groups=("agents",)),
                SourceDocument("nobody.md", "Refunds for nobody.", read_groups=("strangers",)),
                SourceDocument("order.md", "Order 7 refunds were paid.", record_key="order=7"),
            ],  # gone.md: tombstoned
        )
        ingest(
            store,
            "desk",
            "ledger",
            ("finance", "agents"),
            [SourceDocument("7", "Order 7 refunds are pending.", record_key="order=7")],
        )
        registry = SourceRegistry.of([SourceRules("ledger", rank=1), SourceRules("policy", rank=2)])
        with store.write() as conn:
            assert len(reconcile(conn, pilot="desk", registry=registry).conflicts) == 1
        ingest(store, "other", "kb", ("agents",), [SourceDocument("x.md", "Refunds elsewhere.")])
        before = answers(store)
        assert all(before[:3]) and before[3] == []
        if store.dialect == "sqlite":
            with store.read() as conn:
                masks = granted(conn)
        migrate(store, "0007")
        assert current_revision(store.engine) == "0007"
        assert not {"acl_bits", "chunk_masks"} & set(inspect(store.engine).get_table_names())
    finally:
        store.close()

    upgraded = open_store(store_url)  # SQLite upgrades in place; so does a PostgreSQL store opened to migrate
    try:
        assert current_revision(upgraded.engine) == head_revision()
        with upgraded.read() as conn:
            if upgraded.dialect == "sqlite":
                assert granted(conn) == masks  # renumbered, the same groups
                rows = conn.exec_driver_sql(
                    "SELECT c.id, c.superseded, d.read_groups FROM chunks AS c "
                    "JOIN documents AS d ON d.id = c.document_id WHERE c.active"
                ).all()
                expected = {cid: frozenset() if lost else frozenset(json.loads(g)) for cid, lost, g in rows}
                assert masks == expected
            else:
                assert conn.exec_driver_sql("SELECT count(*) FROM chunk_masks").scalar() == 0
        assert answers(upgraded) == before
    finally:
        upgraded.close()
