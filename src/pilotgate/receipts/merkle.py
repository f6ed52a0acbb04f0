"""Building RFC 9162 Merkle trees over receipt leaves: roots, inclusion proofs, consistency proofs.

RFC 9162 §2.1: MTH({}) = SHA-256(), MTH({d}) = SHA-256(0x00 ‖ d), and for n > 1 with k the largest power of
two smaller than n, MTH(D[n]) = SHA-256(0x01 ‖ MTH(D[0:k]) ‖ MTH(D[k:n])). The left part of every split is
a perfect subtree aligned on its size, so ``MerkleTree`` hashes each level once (O(n)) and then answers any
root or proof in O(log² n) by looking perfect subtrees up instead of rehashing them.

This module only *builds* proofs; checking them is ``pilotgate.receipts.proofs``, kept apart so that the
verifier shares no code path with the writer beyond the hash functions.
"""

from __future__ import annotations

from collections.abc import Sequence

from pilotgate.receipts.hashes import EMPTY_ROOT, node_hash


def _split(n: int) -> int:
    """The largest power of two strictly smaller than n (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


class MerkleTree:
    """A Merkle tree over a list of leaf hashes (each SHA-256(0x00 ‖ receipt bytes))."""

    def __init__(self, leaves: Sequence[bytes]) -> None:
        self.levels: list[list[bytes]] = [list(leaves)]
        """levels[h][i] is the root of the perfect subtree over leaves [i·2^h, (i+1)·2^h)."""
        level = self.levels[0]
        while len(level) > 1:
            level = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
            self.levels.append(level)

    @property
    def size(self) -> int:
        """Number of leaves."""
        return len(self.levels[0])

    def _subtree(self, start: int, end: int) -> bytes:
        """MTH(D[start:end]) where start is aligned as RFC 9162's splits always leave it."""
        n = end - start
        if n & (n - 1) == 0:  # a perfect subtree (its start is a multiple of n on every RFC 9162 path)
            return self.levels[n.bit_length() - 1][start // n]
        k = _split(n)
        return node_hash(self._subtree(start, start + k), self._subtree(start + k, end))

    def root(self, size: int | None = None) -> bytes:
        """MTH of the first ``size`` leaves (all of them by default)."""
        size = self.size if size is None else size
        self._check_size(size)
        return EMPTY_ROOT if size == 0 else self._subtree(0, size)

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """RFC 9162 §2.1.3.1 PATH(index, D[size]): the sibling hashes from leaf to root."""
        size = self.size if size is None else size
        self._check_size(size)
        if not 0 <= index < size:
            raise ValueError(f"leaf index {index} is outside a tree of size {size}")
        path: list[bytes] = []
        start, end = 0, size
        while end - start > 1:
            k = _split(end - start)
            if index < start + k:
                path.append(self._subtree(start + k, end))
                end = start + k
            else:
                path.append(self._subtree(start, start + k))
                start += k
        path.reverse()
        return path

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        """RFC 9162 §2.1.4.1 PROOF(old_size, D[new_size]): proves the old tree is a prefix of the new."""
        new_size = self.size if new_size is None else new_size
        self._check_size(new_size)
        if not 0 <= old_size <= new_size:
            raise ValueError(f"no consistency proof from size {old_size} to size {new_size}")
        if old_size in (0, new_size):
            return []
        proof: list[bytes] = []
        start, end, m, complete = 0, new_size, old_size, True
        while m != end - start:
            k = _split(end - start)
            if m <= k:
                proof.append(self._subtree(start + k, end))
                end = start + k
            else:
                proof.append(self._subtree(start, start + k))
                start += k
                m -= k
                complete = False
        if not complete:
            proof.append(self._subtree(start, end))
        proof.reverse()
        return proof

    def _check_size(self, size: int) -> None:
        if not 0 <= size <= self.size:
            raise ValueError(f"tree size {size} is outside 0..{self.size}")


def merkle_root(leaves: Sequence[bytes]) -> bytes:
    """MTH over all the given leaf hashes."""
    return MerkleTree(leaves).root()


def inclusion_proof(leaves: Sequence[bytes], index: int, size: int) -> list[bytes]:
    """PATH(index, D[size]) over the given leaf hashes."""
    return MerkleTree(leaves[:size]).inclusion_proof(index, size)


def consistency_proof(leaves: Sequence[bytes], old_size: int, new_size: int) -> list[bytes]:
    """PROOF(old_size, D[new_size]) over the given leaf hashes."""
    return MerkleTree(leaves[:new_size]).consistency_proof(old_size, new_size)
