"""Near-duplicate sketches: a small, stable signature per chunk that estimates how alike two chunks are.

A chunk's sketch is the bottom-k sketch (k = ``SKETCH_SIZE``) of its word bigrams: the text is folded to
lower case, encoded as UTF-8 and split at ASCII whitespace; each word is hashed with CRC-32 and each pair of
adjacent words ``(a, b)`` becomes ``crc(a) * 4294967311 + crc(b)`` (a prime above 2^32, so distinct pairs of
word hashes give distinct values); the k smallest distinct values are kept, written as 16 hex digits each,
ascending. Two chunks' Jaccard similarity
(over bigram sets) is estimated from their sketches alone (``similarity``); two chunks of different text are
near-duplicates when it is at least ``NEAR_DUPLICATE`` (an edited word or two in a long paragraph). Texts
with fewer than ``MIN_BIGRAMS`` distinct bigrams get no sketch: they are too short to call near anything,
and only exact duplicates (same content hash) are reported for them. CRC-32 keeps the sketch the same on
every machine and Python (no hash salting), and fast: the work is done in C.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from itertools import repeat
from operator import add, mul

SKETCH_SIZE = 16
"""Hashes kept per chunk."""

MIN_BIGRAMS = 8
"""A text with fewer distinct bigrams gets no sketch."""

NEAR_DUPLICATE = 0.75
"""Estimated bigram Jaccard similarity from which two different texts count as near-duplicates."""

_PAIR = 4294967311
_HEX = 16


def sketch(text: str) -> str | None:
    """The text's sketch (up to ``SKETCH_SIZE`` hex values joined, ascending), or None for short text."""
    hashes = list(map(zlib.crc32, text.lower().encode("utf-8").split()))
    pairs = set(map(add, map(mul, hashes, repeat(_PAIR)), hashes[1:]))
    if len(pairs) < MIN_BIGRAMS:
        return None
    return "".join(f"{value:016x}" for value in sorted(pairs)[:SKETCH_SIZE])


def parse(sketch_text: str) -> tuple[int, ...]:
    """The values of a sketch, ascending."""
    return tuple(int(sketch_text[i : i + _HEX], 16) for i in range(0, len(sketch_text), _HEX))


def similarity(a: Sequence[int], b: Sequence[int]) -> float:
    """Estimated Jaccard similarity of two sketches' texts: of the k smallest values of their union, the
    share both hold."""
    union = sorted(set(a).union(b))[:SKETCH_SIZE]
    if not union:
        return 0.0
    both = set(a).intersection(b)
    return sum(1 for value in union if value in both) / len(union)
