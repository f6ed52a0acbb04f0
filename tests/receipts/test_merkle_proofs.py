"""RFC 9162 Merkle trees: known test vectors, and every proof up to 64 leaves verifies (and breaks)."""

from __future__ import annotations

import hashlib

import pytest

from pilotgate.receipts.hashes import EMPTY_ROOT, Frontier, leaf_hash
from pilotgate.receipts.merkle import MerkleTree, consistency_proof, inclusion_proof, merkle_root
from pilotgate.receipts.proofs import root_from_inclusion_proof, verify_consistency, verify_inclusion

# Test vectors: the 8-leaf RFC 6962 / RFC 9162 tree used by transparency-dev/merkle
# (proof/verify_test.go: `leaves`, `roots`, `inclusionProofs`, `consistencyProofs`). Facts only; the
# leaf data is hashed with the 0x00 prefix and nodes with 0x01, as in RFC 9162 §2.1.1.
LEAVES = [bytes.fromhex(h) for h in ("", "00", "10", "2021", "3031", "40414243", "5051525354555657",
                                       "606162636465666768696a6b6c6d6e6f")]  # fmt: skip
ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
# (leaf index, tree size, path) — the Go file numbers leaves from 1; these are 0-based.
INCLUSION = [
    (0, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (5, 8, ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (1, 5, ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
]  # fmt: skip
CONSISTENCY = [
    (1, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (6, 8, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 5, ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
    (6, 7, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
]  # fmt: skip

HASHES = [leaf_hash(data) for data in LEAVES]


def test_empty_tree_root_is_hash_of_nothing() -> None:
    assert merkle_root([]) == EMPTY_ROOT == hashlib.sha256(b"").digest()


@pytest.mark.parametrize("size", range(1, 9))
def test_roots_match_vectors(size: int) -> None:
    assert merkle_root(HASHES[:size]).hex() == ROOTS[size - 1]
    frontier = Frontier()
    for leaf in HASHES[:size]:
        frontier.append(leaf)
    assert frontier.root().hex() == ROOTS[size - 1]
    assert Frontier.from_hex(size, frontier.to_hex()).root() == frontier.root()


@pytest.mark.parametrize(("index", "size", "path"), INCLUSION)
def test_inclusion_proofs_match_vectors(index: int, size: int, path: list[str]) -> None:
    proof = inclusion_proof(HASHES, index, size)
    assert [node.hex() for node in proof] == path
    assert verify_inclusion(HASHES[index], index, size, proof, bytes.fromhex(ROOTS[size - 1]))


@pytest.mark.parametrize(("old", "new", "path"), CONSISTENCY)
def test_consistency_proofs_match_vectors(old: int, new: int, path: list[str]) -> None:
    proof = consistency_proof(HASHES, old, new)
    assert [node.hex() for node in proof] == path
    assert verify_consistency(old, new, bytes.fromhex(ROOTS[old - 1]), bytes.fromhex(ROOTS[new - 1]), proof)


def _flip(node: bytes, bit: int = 3) -> bytes:
    return bytes([node[0] ^ (1 << bit)]) + node[1:]


def test_every_inclusion_proof_up_to_64_verifies_and_a_flipped_bit_fails() -> None:
    for size in range(1, 65):
        leaves = [leaf_hash(b"receipt %d" % i) for i in range(size)]
        tree = MerkleTree(leaves)
        root = tree.root()
        for index in range(size):
            proof = tree.inclusion_proof(index)
            assert verify_inclusion(leaves[index], index, size, proof, root), (index, size)
            assert not verify_inclusion(_flip(leaves[index]), index, size, proof, root)
            assert not verify_inclusion(leaves[index], index, size, proof, _flip(root))
            for position in range(len(proof)):
                broken = list(proof)
                broken[position] = _flip(broken[position])
                assert not verify_inclusion(leaves[index], index, size, broken, root)
            if proof:
                assert not verify_inclusion(leaves[index], index, size, proof[:-1], root)
                assert not verify_inclusion(leaves[index], index, size, [*proof, root], root)
            if size > 1:
                assert not verify_inclusion(leaves[index], (index + 1) % size, size, proof, root)


def test_every_consistency_proof_up_to_64_verifies_and_a_flipped_bit_fails() -> None:
    leaves = [leaf_hash(b"receipt %d" % i) for i in range(64)]
    tree = MerkleTree(leaves)
    for new in range(1, 65):
        new_root = tree.root(new)
        for old in range(0, new + 1):
            old_root = tree.root(old)
            proof = tree.consistency_proof(old, new)
            assert verify_consistency(old, new, old_root, new_root, proof), (old, new)
            if 0 < old < new:
                assert not verify_consistency(old, new, _flip(old_root), new_root, proof)
                assert not verify_consistency(old, new, old_root, _flip(new_root), proof)
                for position in range(len(proof)):
                    broken = list(proof)
                    broken[position] = _flip(broken[position], 4)
                    assert not verify_consistency(old, new, old_root, new_root, broken)
                assert not verify_consistency(old, new, old_root, new_root, proof[:-1])
                assert not verify_consistency(old, new, old_root, new_root, [])


def test_consistency_edge_cases() -> None:
    some, other = leaf_hash(b"a"), leaf_hash(b"b")
    assert verify_consistency(0, 0, some, other, [])  # from the empty tree anything follows
    assert verify_consistency(1, 1, some, some, [])
    assert not verify_consistency(1, 1, some, other, [])
    assert not verify_consistency(2, 1, some, other, [])  # time travel
    assert not verify_consistency(1, 1, some, some, [EMPTY_ROOT])


def test_bad_shapes_never_verify() -> None:
    assert root_from_inclusion_proof(HASHES[0], 0, 0, []) is None
    assert root_from_inclusion_proof(HASHES[0], 1, 1, []) is None
    assert root_from_inclusion_proof(b"short", 0, 1, []) is None
    assert not verify_inclusion(HASHES[0], 0, 2, [b"short"], EMPTY_ROOT)


def test_tree_of_100k_leaves_builds_and_proves_quickly() -> None:
    leaves = [hashlib.sha256(i.to_bytes(4, "big")).digest() for i in range(100_000)]
    tree = MerkleTree(leaves)
    root = tree.root()
    for index in (0, 1, 65_535, 65_536, 99_999):
        assert verify_inclusion(leaves[index], index, 100_000, tree.inclusion_proof(index), root)
    assert verify_consistency(70_000, 100_000, tree.root(70_000), root, tree.consistency_proof(70_000))
