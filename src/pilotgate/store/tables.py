"""The store's tables, declared once for SQLite and PostgreSQL.

The Alembic migrations under ``migrations/versions`` create these tables; a test checks that the
migrated database and this metadata agree, so the two cannot drift.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    text,
)

metadata = MetaData()

chain_heads = Table(
    "chain_heads",
    metadata,
    Column("pilot", String(64), primary_key=True, doc="the log's origin (pilot name)"),
    Column("size", BigInteger, nullable=False, doc="number of receipts in the chain"),
    Column("head", String(71), nullable=False, doc="hash of the last receipt, sha256:<hex>"),
    Column(
        "frontier",
        Text,
        nullable=False,
        server_default="",
        doc="hex roots of the perfect Merkle subtrees over the chain, largest first (the compact range)",
    ),
)
"""One row per pilot: the chain's head, locked (FOR UPDATE / BEGIN IMMEDIATE) to serialize appends."""

receipts = Table(
    "receipts",
    metadata,
    Column("pilot", String(64), primary_key=True),
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("hash", String(71), nullable=False),
    Column("prev", String(71), nullable=False),
    Column("kind", String(64), nullable=False),
    Column("task", String(64), nullable=True),
    Column("at", String(40), nullable=False),
    Column("canonical", LargeBinary, nullable=False, doc="RFC 8785 bytes: these bytes ARE the receipt"),
    Index("ix_receipts_pilot_kind", "pilot", "kind"),
    Index("ix_receipts_pilot_task", "pilot", "task"),
)
"""The receipt log. ``canonical`` is the receipt; the other columns are copies for queries."""

checkpoints = Table(
    "checkpoints",
    metadata,
    Column("pilot", String(64), primary_key=True),
    Column("size", BigInteger, primary_key=True, autoincrement=False),
    Column("root", String(64), nullable=False, doc="hex Merkle root over receipts [0, size)"),
    Column("key_id", String(64), nullable=False),
    Column("note", Text, nullable=False, doc="the signed checkpoint note, verbatim"),
    Column("created_at", String(40), nullable=False),
)
"""Signed checkpoints (transparency-log notes) of the receipt log."""

tasks = Table(
    "tasks",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("pilot", String(64), nullable=False),
    Column("user", String(128), nullable=False),
    Column("input", Text, nullable=False),
    Column("state", String(32), nullable=False),
    Column("outcome", String(32), nullable=True),
    Column("answer", Text, nullable=True),
    Column("release", String(80), nullable=True),
    Column("created_at", String(40), nullable=False),
    Column("updated_at", String(40), nullable=False),
    Column("step", Integer, nullable=False, server_default="0", doc="tool calls asked so far"),
    Column("context", Text, nullable=True, doc="JSON: the retrieved passages the model sees"),
    Column("transcript", Text, nullable=True, doc="JSON: tool calls and results so far, in order"),
    Column("pending", Text, nullable=True, doc="JSON: calls of the model's last turn not yet answered"),
    Column("spent", Text, nullable=True, doc="JSON: model turns, tool calls, tokens and cost so far"),
    Index("ix_tasks_pilot_state", "pilot", "state"),
)
"""Tasks and their state; every state change commits with its receipt."""

documents = Table(
    "documents",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("pilot", String(64), nullable=False),
    Column("source", String(64), nullable=False),
    Column("uri", Text, nullable=False),
    Column("version", Integer, nullable=False),
    Column("content_hash", String(71), nullable=False),
    Column("modified_at", String(40), nullable=True, doc="when the source says it changed, if it says"),
    Column("ingested_at", String(40), nullable=False),
    Column("tombstoned", Boolean, nullable=False, default=False),
    Column("record_key", Text, nullable=True, doc="field=value of a record, or a front-matter key"),
    Column("topic", Text, nullable=True, doc="the topic the document speaks for, if it names one"),
    Column("superseded_by", String(64), nullable=True, doc="the id of the document that wins its conflict"),
    Column(
        "read_groups",
        Text,
        nullable=False,
        server_default="[]",
        doc="JSON list of the groups that may read this version (sorted); [] means nobody (fail closed)",
    ),
    Index("ix_documents_pilot_source_uri", "pilot", "source", "uri"),
    Index(
        "ix_documents_superseded_by",
        "superseded_by",
        sqlite_where=text("superseded_by IS NOT NULL"),
        postgresql_where=text("superseded_by IS NOT NULL"),
    ),
)
"""Ingested documents, one row per version; provenance for every chunk, and who may read it."""

chunks = Table(
    "chunks",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("pilot", String(64), nullable=False),
    Column("document_id", String(64), ForeignKey("documents.id"), nullable=False),
    Column("source", String(64), nullable=False),
    Column("ordinal", Integer, nullable=False),
    Column("heading", Text, nullable=True),
    Column("text", Text, nullable=False),
    Column("content_hash", String(71), nullable=False),
    Column("active", Boolean, nullable=False, default=True),
    Column(
        "acl",
        Text,
        nullable=False,
        server_default="",
        doc="retrieval tokens: the pilot's and the source's, then one per group that may retrieve the chunk "
        "(see pilotgate.data.acl); written with the document's read_groups in one transaction",
    ),
    Column("content_at", String(40), nullable=True, doc="the content's time, for freshness"),
    Column("superseded", Boolean, nullable=False, default=False, doc="its document lost a conflict"),
    Column("sketch", Text, nullable=True, doc="near-duplicate signature (pilotgate.data.duplicates)"),
    Index("ix_chunks_pilot_source", "pilot", "source"),
    Index("ix_chunks_document_id", "document_id"),
    Index("ix_chunks_pilot_content_hash", "pilot", "content_hash"),
)
"""Searchable chunks. Full-text indexes are dialect-specific and created by the migration: SQLite indexes
the active chunks' heading, text and acl in ``chunks_fts``; PostgreSQL's generated ``tsv`` holds the heading
(weight A), the text (B) and the acl tokens (whole lexemes without positions, migration 0007), so the
permission filter is part of the ``@@`` match."""

acl_bits = Table(
    "acl_bits",
    metadata,
    Column("pilot", String(64), primary_key=True),
    Column("name", Text, primary_key=True, doc="a group the pilot has granted a chunk to"),
    Column(
        "bit",
        Integer,
        nullable=False,
        unique=True,
        doc="unique in the store; 0-62 are bits of chunk_masks.mask, 63 and on have no bit (tokens only)",
    ),
)
"""SQLite: the number of each (pilot, group) in the chunk masks, allocated by ingest in the transaction that
first grants the group (migration 0008); never renumbered. Empty on PostgreSQL."""

chunk_masks = Table(
    "chunk_masks",
    metadata,
    Column("chunk", Integer, primary_key=True, autoincrement=False, doc="the chunk's rowid (the FTS5 rowid)"),
    Column("mask", BigInteger, nullable=False, doc="OR of 1 << bit of the groups that may retrieve it"),
)
"""SQLite: one row per active chunk, written with the chunk and its ``acl`` tokens in one transaction; mask 0
when nobody may retrieve it (see ``pilotgate.data.acl``). Empty on PostgreSQL."""

tool_calls = Table(
    "tool_calls",
    metadata,
    Column("key", String(71), primary_key=True, doc="the idempotency key, sha256:<hex>"),
    Column("pilot", String(64), nullable=False),
    Column("task", String(64), nullable=False),
    Column("step", Integer, nullable=False, doc="the call's index within its task"),
    Column("tool", String(64), nullable=False),
    Column("args", Text, nullable=False, doc="canonical JSON of the checked arguments (to re-call)"),
    Column("args_hash", String(71), nullable=False),
    Column("state", String(16), nullable=False, doc="intent | done | failed | parked"),
    Column("intent_seq", BigInteger, nullable=False, doc="seq of the tool.intent receipt"),
    Column("result_seq", BigInteger, nullable=True, doc="seq of the tool.result or tool.parked receipt"),
    Column("output", Text, nullable=True, doc="canonical JSON {content, is_error} as recorded"),
    Column("created_at", String(40), nullable=False),
    Column("updated_at", String(40), nullable=False),
    Index("ix_tool_calls_pilot_task", "pilot", "task"),
    Index("ix_tool_calls_pilot_state", "pilot", "state"),
)
"""Every tool call's intent and outcome, keyed by idempotency key: the executor's never-twice ledger."""

approvals = Table(
    "approvals",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("pilot", String(64), nullable=False),
    Column("task", String(64), nullable=False),
    Column("tool", String(64), nullable=False),
    Column("args", Text, nullable=False, doc="canonical JSON of the arguments the approval is bound to"),
    Column("args_hash", String(71), nullable=False),
    Column("rule", String(64), nullable=False, doc="the policy rule that required the approval"),
    Column("approvers", Text, nullable=False, doc="JSON list of the groups whose users may decide"),
    Column("requested_by", String(128), nullable=False, doc="the user whose task asked; may not decide"),
    Column("state", String(16), nullable=False, doc="pending | approved | denied | expired | consumed"),
    Column("decided_by", String(128), nullable=True),
    Column("reason", Text, nullable=True),
    Column("created_at", String(40), nullable=False),
    Column("expires_at", String(40), nullable=False),
    Column("decided_at", String(40), nullable=True),
    Column("consumed_at", String(40), nullable=True),
    Index("ix_approvals_pilot_state", "pilot", "state", "expires_at"),
    Index("ix_approvals_pilot_task", "pilot", "task"),
)
"""Approval requests and their decisions; only a row here, approved and unconsumed, lets a call through."""

releases = Table(
    "releases",
    metadata,
    Column("pilot", String(64), primary_key=True),
    Column("id", String(80), primary_key=True, doc="rel-<first 16 hex of the content hash>"),
    Column("content_hash", String(71), nullable=False, doc="sha256 over the manifest's canonical JSON"),
    Column("manifest", Text, nullable=False, doc="JSON: each behaviour-changing part and its hash"),
    Column("created_at", String(40), nullable=False),
    Column("created_by", String(128), nullable=False),
    Column("receipt", String(71), nullable=False, doc="hash of the release.created receipt"),
)
"""Releases: a content hash of everything that changes the pilot's behaviour, recorded once."""

eval_runs = Table(
    "eval_runs",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("pilot", String(64), nullable=False),
    Column("release", String(80), nullable=True),
    Column("state", String(16), nullable=False, doc="running | complete | interrupted"),
    Column("created_at", String(40), nullable=False),
    Column("finished_at", String(40), nullable=True),
    Column(
        "cases",
        Text,
        nullable=False,
        doc="JSON: case id -> {category, user, runs, needed, judged, human_label}",
    ),
    Column("receipt", String(71), nullable=True, doc="hash of the eval.run receipt, once complete"),
    Column("blessed_by", String(128), nullable=True),
    Column("blessed_at", String(40), nullable=True),
    Column("blessed_receipt", String(71), nullable=True, doc="hash of the eval.blessed receipt"),
    Index("ix_eval_runs_pilot_release", "pilot", "release"),
)
"""Eval runs: which release, which cases (so a resumed run knows what is left), and their receipts."""

eval_results = Table(
    "eval_results",
    metadata,
    Column("run_id", String(64), ForeignKey("eval_runs.id"), primary_key=True),
    Column("case_id", String(128), primary_key=True),
    Column("repeat", Integer, primary_key=True, autoincrement=False),
    Column("category", String(32), nullable=False),
    Column("outcome", String(16), nullable=False, doc="resolved | escalated | failed"),
    Column("passed", Boolean, nullable=False),
    Column("assertions", Text, nullable=False, doc="JSON list of each assertion's result"),
    Column("answer", Text, nullable=False),
    Column("cost", String(40), nullable=True, doc="decimal string; null when unknown"),
    Column("latency_ms", Float, nullable=False),
    Column("task", String(64), nullable=True),
    Column("receipts", Text, nullable=False, doc="JSON list of the task's receipt hashes"),
    Column("recorded_at", String(40), nullable=False),
)
"""One row per case and repeat of a run: outcome, each assertion's result, cost, latency, receipts."""

model_cache = Table(
    "model_cache",
    metadata,
    Column("key", String(71), primary_key=True, doc="sha256 over the request's canonical JSON and the model"),
    Column("model", String(200), nullable=False),
    Column("response", Text, nullable=False, doc="JSON: the model's response as recorded"),
    Column("created_at", String(40), nullable=False),
)
"""Eval runs' model-call cache (only when a run asks for it): the same request gets the same response."""

release_files = Table(
    "release_files",
    metadata,
    Column("pilot", String(64), primary_key=True),
    Column("release", String(80), primary_key=True),
    Column("name", String(300), primary_key=True, doc="the manifest part: pilot.yaml or evals/<pack>"),
    Column("sha256", String(71), nullable=False, doc="sha256:<hex> of the bytes"),
    Column("content", LargeBinary, nullable=False, doc="the file's bytes as they were at release create"),
)
"""Release snapshots: the files of each release, so a release can be served and rolled back to after the
files on disk have moved on. A release created before migration 0006 has none."""

deployments = Table(
    "deployments",
    metadata,
    Column("pilot", String(64), primary_key=True),
    Column("production", String(80), nullable=True, doc="the release in production"),
    Column("canary", String(80), nullable=True, doc="the candidate release a share of tasks goes to"),
    Column("canary_share", Integer, nullable=False, doc="the candidate's share in basis points (0..10000)"),
    Column("updated_at", String(40), nullable=False),
    Column("receipt", String(71), nullable=False, doc="hash of the receipt of the last switch"),
)
"""The serving pointer, one row per pilot: what serves tasks now. Every change commits with its receipt."""

promotions = Table(
    "promotions",
    metadata,
    Column("pilot", String(64), primary_key=True),
    Column(
        "seq", BigInteger, primary_key=True, autoincrement=False, doc="seq of the release.promoted receipt"
    ),
    Column("release", String(80), nullable=False),
    Column("promoted_at", String(40), nullable=False),
    Column("promoted_by", String(128), nullable=False),
    Column("receipt", String(71), nullable=False, doc="hash of the release.promoted receipt"),
    Column("rolled_back", String(71), nullable=True, doc="hash of the release.rolled_back receipt, if any"),
)
"""Production's history: rollback returns to the newest promotion before the current one not rolled back."""
