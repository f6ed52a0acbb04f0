"""Proofs an auditor can check without the whole log: one receipt is in a checkpoint, one checkpoint
extends another.

``prove_inclusion`` builds the RFC 9162 path of one receipt to the root of a signed checkpoint; the proof
document carries the receipt, the path and the checkpoint note, and ``InclusionProof.check`` verifies it
with nothing but the public key.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from pilotgate.errors import ReceiptNotFoundError, VerificationError
from pilotgate.receipts.checkpoint import checkpoint_problem, parse_checkpoint
from pilotgate.receipts.hashes import leaf_hash, receipt_hash
from pilotgate.receipts.keys import PublicKey
from pilotgate.receipts.merkle import MerkleTree
from pilotgate.receipts.proofs import verify_consistency, verify_inclusion
from pilotgate.receipts.reader import checkpoint_at, get_receipt, latest_checkpoint, read_leaves


@dataclass(frozen=True)
class InclusionProof:
    """Receipt ``seq`` is leaf ``seq`` of the tree of ``tree_size`` leaves the checkpoint signed."""

    pilot: str
    seq: int
    receipt: bytes
    tree_size: int
    root: bytes
    path: list[bytes]
    checkpoint: str

    def to_json(self) -> dict[str, Any]:
        """The proof document (hashes in hex, the receipt as its canonical text)."""
        return {
            "pilot": self.pilot,
            "leaf_index": self.seq,
            "tree_size": self.tree_size,
            "receipt": self.receipt.decode("utf-8"),
            "receipt_hash": receipt_hash(self.receipt),
            "leaf_hash": leaf_hash(self.receipt).hex(),
            "root": self.root.hex(),
            "root_base64": base64.b64encode(self.root).decode("ascii"),
            "path": [node.hex() for node in self.path],
            "checkpoint": self.checkpoint,
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> InclusionProof:
        return cls(
            pilot=str(doc["pilot"]),
            seq=int(doc["leaf_index"]),
            receipt=str(doc["receipt"]).encode("utf-8"),
            tree_size=int(doc["tree_size"]),
            root=bytes.fromhex(doc["root"]),
            path=[bytes.fromhex(node) for node in doc["path"]],
            checkpoint=str(doc["checkpoint"]),
        )

    def check(self, public_key: PublicKey | None) -> None:
        """VerificationError unless the checkpoint is signed (when a key is given), matches the proof's
        size and root, and the path leads from the receipt to that root."""
        if public_key is not None:
            problem = checkpoint_problem(self.checkpoint, public_key)
            if problem is not None:
                raise VerificationError(
                    f"the proof's checkpoint is rejected ({problem[0]}): {problem[1]}", failures=[problem]
                )
        signed = parse_checkpoint(self.checkpoint)
        if signed.size != self.tree_size or signed.root != self.root or signed.pilot != self.pilot:
            raise VerificationError(
                "the proof's tree size or root is not the checkpoint's", failures=["checkpoint_root_mismatch"]
            )
        if not verify_inclusion(leaf_hash(self.receipt), self.seq, self.tree_size, self.path, self.root):
            raise VerificationError(
                f"receipt {self.seq} is not in the checkpoint of {self.tree_size} receipts by this path",
                failures=["inclusion_failed"],
            )


def prove_inclusion(conn: Connection, pilot: str, seq: int, *, size: int | None = None) -> InclusionProof:
    """An inclusion proof of receipt ``seq`` against the checkpoint of ``size`` (default: the latest)."""
    stored = (
        checkpoint_at(conn, pilot, size)
        if size is not None
        else latest_checkpoint(conn, pilot, at_least=seq + 1)
    )
    if seq >= stored.size:
        raise ReceiptNotFoundError(
            f"the checkpoint of size {stored.size} does not cover receipt {seq}",
            hint="sign a newer one with `pilotgate receipts checkpoint`, or pick a larger --size",
        )
    receipt = get_receipt(conn, pilot, seq)
    tree = MerkleTree(read_leaves(conn, pilot, stored.size))
    signed = parse_checkpoint(stored.note)
    return InclusionProof(
        pilot=pilot,
        seq=seq,
        receipt=receipt.canonical,
        tree_size=stored.size,
        root=signed.root,
        path=tree.inclusion_proof(seq, stored.size),
        checkpoint=stored.note,
    )


def prove_consistency(conn: Connection, pilot: str, old_size: int, new_size: int) -> list[bytes]:
    """The RFC 9162 consistency proof between two stored checkpoints, checked before it is returned."""
    old, new = checkpoint_at(conn, pilot, old_size), checkpoint_at(conn, pilot, new_size)
    proof = MerkleTree(read_leaves(conn, pilot, new_size)).consistency_proof(old_size, new_size)
    old_root, new_root = parse_checkpoint(old.note).root, parse_checkpoint(new.note).root
    if not verify_consistency(old_size, new_size, old_root, new_root, proof):
        raise VerificationError(
            f"the checkpoints of size {old_size} and {new_size} are not consistent: the log was rewritten",
            failures=["checkpoint_root_mismatch"],
        )
    return proof
