"""The receipt record, format version 1: its fields, their checks, and a stored receipt.

A receipt is the RFC 8785 canonical JSON of::

    {"v": 1, "pilot", "seq", "prev", "at", "task", "release", "actor": {"kind", "id"}, "kind", "body", "refs"}

Its stored canonical bytes *are* the receipt; everything else (the hash, the Merkle leaf, the columns
copied out for queries) is derived from them. ``docs/receipts.md`` is the contract for auditors.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from pilotgate.clock import rfc3339
from pilotgate.receipts.hashes import HASH_PATTERN

FORMAT_VERSION = 1
"""The ``v`` of every receipt this pilotgate writes."""

ACTOR_KINDS = frozenset({"user", "worker", "approver", "system"})
"""Who can act: a person asking, a worker process, a person approving, pilotgate itself."""

KIND_PATTERN = re.compile(r"[a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)*")
"""Receipt kinds are dotted lowercase names: ``task.started``, ``model.call``, ``gate.verdict``."""

PILOT_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
"""A pilot name is the log's origin (``pilotgate/<pilot>``), so it may not hold spaces, ``+`` or ``/``."""

MAX_KIND = 64
MAX_TASK = 64
MAX_RELEASE = 80


@dataclass(frozen=True)
class Actor:
    """Who did what a receipt records."""

    kind: str
    """One of user, worker, approver, system."""
    id: str
    """The user name, worker id, approver name or component name."""

    def __post_init__(self) -> None:
        if self.kind not in ACTOR_KINDS:
            raise ValueError(f"actor kind must be one of {', '.join(sorted(ACTOR_KINDS))}; got {self.kind!r}")
        if not isinstance(self.id, str) or not self.id:
            raise ValueError(f"actor id must be a non-empty string; got {self.id!r}")

    @classmethod
    def of(cls, value: Actor | Mapping[str, str] | tuple[str, str]) -> Actor:
        """Accept an Actor, a ``{"kind", "id"}`` mapping or a ``(kind, id)`` pair."""
        if isinstance(value, Actor):
            return value
        if isinstance(value, Mapping):
            return cls(kind=value["kind"], id=value["id"])
        kind, ident = value
        return cls(kind=kind, id=ident)


format_at = rfc3339
"""A receipt's ``at``: RFC 3339 in UTC with microseconds and ``Z`` (``pilotgate.clock.rfc3339``)."""


def validate_pilot(pilot: str) -> str:
    """Refuse pilot names that cannot be a log origin."""
    if not isinstance(pilot, str) or not PILOT_PATTERN.fullmatch(pilot):
        raise ValueError(
            f"pilot name {pilot!r} cannot name a receipt log: use letters, digits, '.', '_' or '-' (max 64)"
        )
    return pilot


def build_record(
    *,
    pilot: str,
    seq: int,
    prev: str,
    at: str,
    kind: str,
    body: Mapping[str, Any],
    actor: Actor,
    task: str | None = None,
    release: str | None = None,
    refs: Sequence[str] = (),
) -> dict[str, Any]:
    """The receipt as a JSON object, every field checked; canonicalize it to get the receipt."""
    if not isinstance(kind, str) or len(kind) > MAX_KIND or not KIND_PATTERN.fullmatch(kind):
        raise ValueError(
            f"receipt kind {kind!r} must be a dotted lowercase name of at most {MAX_KIND} characters"
        )
    if not isinstance(body, Mapping):
        raise TypeError(f"receipt body must be a mapping; got {type(body).__name__}")
    if task is not None and (not isinstance(task, str) or not task or len(task) > MAX_TASK):
        raise ValueError(f"task id must be a non-empty string of at most {MAX_TASK} characters; got {task!r}")
    if release is not None and (not isinstance(release, str) or not release or len(release) > MAX_RELEASE):
        raise ValueError(
            f"release must be a non-empty string of at most {MAX_RELEASE} characters; got {release!r}"
        )
    if isinstance(refs, str):
        raise TypeError("refs must be a sequence of receipt hashes, not one string")
    for ref in refs:
        if not isinstance(ref, str) or not HASH_PATTERN.fullmatch(ref):
            raise ValueError(f"each ref must be a receipt hash sha256:<64 hex>; got {ref!r}")
    return {
        "v": FORMAT_VERSION,
        "pilot": pilot,
        "seq": seq,
        "prev": prev,
        "at": at,
        "task": task,
        "release": release,
        "actor": {"kind": actor.kind, "id": actor.id},
        "kind": kind,
        "body": dict(body),
        "refs": list(refs),
    }


ReceiptRow = tuple[int | None, str | None, str | None, str | None, str | None, str | None, bytes]
"""(seq, hash, prev, kind, task, at, canonical): a stored receipt with the columns copied out of it.
In an export the copies do not exist, and every column but ``canonical`` is None."""


@dataclass(frozen=True)
class StoredReceipt:
    """One receipt as the store holds it: its sequence number, hash and canonical bytes."""

    seq: int
    hash: str
    canonical: bytes = field(repr=False)

    @cached_property
    def record(self) -> dict[str, Any]:
        """The parsed receipt (parsed once, on first use)."""
        parsed: dict[str, Any] = json.loads(self.canonical)
        return parsed

    @property
    def kind(self) -> str:
        return str(self.record["kind"])

    @property
    def task(self) -> str | None:
        return self.record.get("task")

    @property
    def at(self) -> str:
        return str(self.record["at"])

    @property
    def body(self) -> dict[str, Any]:
        return dict(self.record["body"])

    @property
    def text(self) -> str:
        """The canonical bytes as text (they are UTF-8)."""
        return self.canonical.decode("utf-8")
