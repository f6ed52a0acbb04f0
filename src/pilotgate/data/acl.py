"""Retrieval tokens: who may retrieve a chunk, written where the full-text engine can match it.

Each active chunk carries an ``acl`` text of tokens:

- the pilot's token ``p...0`` (every active chunk of the pilot has it; audits rank by it),
- the source's token ``s...0`` (so a search restricted to some sources is a MATCH too),
- one token ``g...0`` per group that may retrieve the chunk, and none at all when nobody may (no
  readable group, or its document lost a conflict).

A token is a letter (``p``, ``s``, ``g``), the first 80 bits of SHA-256 over the compact JSON of
``["pilotgate.acl/1", kind, pilot, name]`` in base 36 (lower case), and a final ``0``: letters and digits
only, so FTS5's ``unicode61`` tokenizer and PostgreSQL's ``simple`` parser keep it whole, and ending in a
digit, so the ``porter`` stemmer (whose rules all strip letter suffixes) leaves it unchanged; a query quotes
each token and never adds ``*``, so a token matches only itself. Because the pilot is hashed into every
token, two pilots' tokens never meet. The document version's ``read_groups`` (group names, JSON) is the
readable record of the same grant; ingest writes both in one transaction. On SQLite the tokens are the
``acl`` column of the FTS5 index; on PostgreSQL they are lexemes of the generated ``tsv``, taken whole and
without positions (migration 0007).

**Masks (SQLite).** Matching a group token means intersecting the query's matches with a posting list that
can be as long as the corpus (every chunk of a source ``agents`` may read carries its token), so the SQLite
ranked query filters with a bitmask instead (migration 0008): ``acl_bits`` gives each (pilot, group) a
number, unique in the whole store and never renumbered; ``chunk_masks`` holds, per active chunk (keyed by
its FTS5 rowid), the OR of ``1 << number`` over the groups that may retrieve it, 0 when nobody may (the same
chunks that carry no group token). A caller's mask is the OR over its groups; a chunk passes when the two
share a bit. Numbers are unique across pilots, so a shared bit also means the caller's own pilot. Only
numbers 0-62 are bits (SQLite integers are signed 64-bit): a group numbered 63 or later has no bit, and a
caller holding one is filtered by the tokens as before (``caller_mask`` returns None), which still hold every
group. Ingest and reconciliation write a chunk's mask with its tokens, in one transaction.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from functools import lru_cache

from sqlalchemy import Connection

from pilotgate.store.engine import driver_execute

_BITS = 80
_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"


@lru_cache(maxsize=4096)
def _token(kind: str, pilot: str, name: str) -> str:
    """Cached: ingest asks for the same few tokens for every document (a hash and 16 divisions each)."""
    payload = json.dumps(["pilotgate.acl/1", kind, pilot, name], separators=(",", ":"), ensure_ascii=False)
    value = int.from_bytes(hashlib.sha256(payload.encode("utf-8")).digest()[: _BITS // 8], "big")
    encoded = ""
    while value:
        value, digit = divmod(value, 36)
        encoded = _DIGITS[digit] + encoded
    return kind + encoded + "0"


def pilot_token(pilot: str) -> str:
    """The token every active chunk of ``pilot`` carries."""
    return _token("p", pilot, "")


def source_token(pilot: str, source: str) -> str:
    """The token every active chunk of one source carries."""
    return _token("s", pilot, source)


def group_token(pilot: str, group: str) -> str:
    """The token a chunk carries when ``group`` may retrieve it."""
    return _token("g", pilot, group)


def acl_text(pilot: str, source: str, groups: Iterable[str], *, retrievable: bool = True) -> str:
    """The ``acl`` value of a chunk: pilot and source tokens, and group tokens if it is retrievable."""
    tokens = [pilot_token(pilot), source_token(pilot, source)]
    if retrievable:
        tokens.extend(group_token(pilot, group) for group in sorted(set(groups)))
    return " ".join(tokens)


def any_of(tokens: Iterable[str]) -> str:
    """An FTS5 expression matching a row holding any of ``tokens`` (each quoted: an exact token)."""
    return "(" + " OR ".join(f'"{token}"' for token in tokens) + ")"


MASK_BITS = 63
"""Group numbers below this are bits of a chunk mask; later ones are matched by their tokens only."""


class GroupBits:
    """One pilot's group numbers (SQLite), read once per write transaction; a group met for the first time
    is numbered (the store's next number) and recorded in the same transaction."""

    def __init__(self, conn: Connection, pilot: str) -> None:
        self._conn = conn
        self._pilot = pilot
        rows = driver_execute(conn, "SELECT name, bit FROM acl_bits WHERE pilot = ?", (pilot,)).fetchall()
        self._bits: dict[str, int] = {name: int(bit) for name, bit in rows}
        self._masks: dict[tuple[str, ...], int] = {}

    def mask(self, groups: Iterable[str]) -> int:
        """The mask of a chunk ``groups`` may retrieve (numbering any group not numbered yet)."""
        key = tuple(sorted(set(groups)))
        known = self._masks.get(key)
        if known is not None:
            return known
        mask = 0
        for group in key:
            bit = self._bits.get(group)
            if bit is None:
                bit = self._number(group)
            if bit < MASK_BITS:
                mask |= 1 << bit
        self._masks[key] = mask
        return mask

    def _number(self, group: str) -> int:
        (bit,) = driver_execute(self._conn, "SELECT coalesce(max(bit) + 1, 0) FROM acl_bits").fetchone()
        driver_execute(
            self._conn, "INSERT INTO acl_bits (pilot, name, bit) VALUES (?, ?, ?)", (self._pilot, group, bit)
        )
        self._bits[group] = int(bit)
        return int(bit)


def caller_mask(conn: Connection, pilot: str, groups: Iterable[str]) -> int | None:
    """SQLite: the caller's mask (0: its groups were never granted anything), or None when one of its
    groups has no bit and the query must filter by tokens."""
    wanted = sorted(set(groups))
    if not wanted:
        return 0
    listed = ", ".join("?" * len(wanted))
    statement = f"SELECT bit FROM acl_bits WHERE pilot = ? AND name IN ({listed})"  # noqa: S608 - placeholders
    rows = driver_execute(conn, statement, (pilot, *wanted)).fetchall()
    mask = 0
    for (bit,) in rows:
        if bit >= MASK_BITS:
            return None
        mask |= 1 << bit
    return mask
