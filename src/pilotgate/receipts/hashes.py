"""The hashing contract: receipt hashes, RFC 9162 Merkle leaf and node hashes, and the compact range.

These few functions are the whole of what an auditor must reimplement to check a receipt log, so they
live alone, import nothing but hashlib, and are shared by the writer and the verifier.
"""

from __future__ import annotations

import hashlib
import re

HASH_PREFIX = "sha256:"
"""Every receipt hash is written ``sha256:<64 lowercase hex>``."""

ZERO_HASH = HASH_PREFIX + "0" * 64
"""The ``prev`` of receipt 0: no receipt comes before it."""

HASH_PATTERN = re.compile(r"sha256:[0-9a-f]{64}")
"""What a receipt hash looks like (used to validate ``prev`` and ``refs``)."""

_LEAF = b"\x00"
_NODE = b"\x01"
_sha256 = hashlib.sha256


def receipt_hash(canonical: bytes) -> str:
    """``sha256:`` + hex SHA-256 of a receipt's canonical bytes: the chain's link."""
    return HASH_PREFIX + _sha256(canonical).hexdigest()


def leaf_hash(canonical: bytes) -> bytes:
    """RFC 9162 leaf hash of a receipt: SHA-256(0x00 ‖ canonical bytes)."""
    return _sha256(_LEAF + canonical).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 9162 interior node hash: SHA-256(0x01 ‖ left ‖ right)."""
    return _sha256(_NODE + left + right).digest()


EMPTY_ROOT = _sha256(b"").digest()
"""RFC 9162: the root of the empty tree is the hash of the empty string."""


class Frontier:
    """The compact range of a Merkle tree: the roots of its perfect subtrees, largest first.

    A tree of ``size`` leaves splits into one perfect subtree per set bit of ``size``; keeping only their
    roots lets the writer append a leaf in O(1) amortized hashes and compute the RFC 9162 root at any
    moment without reading old receipts. The verifier uses the same structure to check checkpoints in one
    pass over the log.
    """

    __slots__ = ("hashes", "size")

    def __init__(self, size: int = 0, hashes: list[bytes] | None = None) -> None:
        self.size = size
        self.hashes = list(hashes or [])
        if len(self.hashes) != size.bit_count():
            raise ValueError(
                f"a frontier of size {size} has {size.bit_count()} hashes, not {len(self.hashes)}"
            )

    def append(self, leaf: bytes) -> None:
        """Add one leaf hash, merging equal-height subtrees as a binary counter carries."""
        hashes = self.hashes
        hashes.append(leaf)
        size = self.size
        while size & 1:
            right = hashes.pop()
            hashes[-1] = node_hash(hashes[-1], right)
            size >>= 1
        self.size += 1

    def root(self) -> bytes:
        """The RFC 9162 Merkle tree hash of the leaves appended so far."""
        if not self.hashes:
            return EMPTY_ROOT
        hashes = self.hashes
        root = hashes[-1]
        for left in reversed(hashes[:-1]):
            root = node_hash(left, root)
        return root

    def copy(self) -> Frontier:
        """An independent copy (appending to it leaves this one unchanged)."""
        return Frontier(self.size, self.hashes)

    def to_hex(self) -> str:
        """The stored form: the hashes' hex, concatenated."""
        return b"".join(self.hashes).hex()

    @classmethod
    def from_hex(cls, size: int, text: str) -> Frontier:
        """Read the stored form back (``size`` says how many hashes to expect)."""
        raw = bytes.fromhex(text)
        return cls(size, [raw[i : i + 32] for i in range(0, len(raw), 32)])
