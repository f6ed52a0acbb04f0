"""Checking RFC 9162 Merkle proofs: what an auditor runs, with no database and no writer code.

The two algorithms are RFC 9162 §2.1.3.2 (verifying an inclusion proof) and §2.1.4.2 (verifying a
consistency proof), written from the RFC's step lists. Both return a bool and never raise on a bad proof:
a proof that does not check is an answer, not an error.
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence

from pilotgate.receipts.hashes import node_hash

HASH_SIZE = 32


def root_from_inclusion_proof(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes]
) -> bytes | None:
    """The root an inclusion proof leads to, or None when the proof's shape cannot fit the tree."""
    if not 0 <= index < size or len(leaf_hash) != HASH_SIZE:
        return None
    fn, sn = index, size - 1
    r = leaf_hash
    for p in proof:
        if len(p) != HASH_SIZE or sn == 0:
            return None
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return r if sn == 0 else None


def verify_inclusion(leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes) -> bool:
    """True when ``proof`` shows the leaf at ``index`` is in the tree of ``size`` leaves with ``root``."""
    computed = root_from_inclusion_proof(leaf_hash, index, size, proof)
    return computed is not None and hmac.compare_digest(computed, root)


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """True when ``proof`` shows the tree of ``old_size`` (``old_root``) is a prefix of that of ``new_size``.

    Edge cases as RFC 9162 implies them: from size 0 anything is consistent (with an empty proof); equal
    sizes need equal roots and an empty proof; a shrinking tree never is.
    """
    if not 0 <= old_size <= new_size:
        return False
    if old_size == 0:
        return len(proof) == 0
    if old_size == new_size:
        return len(proof) == 0 and hmac.compare_digest(old_root, new_root)
    if not proof or any(len(p) != HASH_SIZE for p in proof):
        return False
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # step 2: an exact power of two is its own first node
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:  # step 4
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and hmac.compare_digest(fr, old_root) and hmac.compare_digest(sr, new_root)
