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
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from functools import lru_cache

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
