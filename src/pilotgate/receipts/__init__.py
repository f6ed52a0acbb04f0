"""Receipts: the hash-chained, Merkle-checkpointed record of everything a pilot does.

Writer side: ``ReceiptLog`` (append inside the caller's transaction, checkpoint, witness after commit).
Verifier side: ``verify_log`` over plain rows, ``verify_store`` / ``verify_export`` around it, and the
RFC 9162 proof checks in ``proofs``. The format contract is ``docs/receipts.md``.
"""

from pilotgate.receipts.audit import verify_export, verify_store
from pilotgate.receipts.canonical import canonical_bytes
from pilotgate.receipts.chain import (
    AppendedReceipt,
    ChainHead,
    Entry,
    PreparedBatch,
    ReceiptLog,
    append,
    open_log,
    read_head,
)
from pilotgate.receipts.checkpoint import (
    Checkpoint,
    checkpoint_body,
    origin,
    parse_checkpoint,
    signer_for,
    verify_checkpoint_signature,
)
from pilotgate.receipts.export import ExportSummary, export, read_export
from pilotgate.receipts.hashes import ZERO_HASH, leaf_hash, node_hash, receipt_hash
from pilotgate.receipts.keys import PublicKey, Signer, generate_signing_key, load_public_key, load_signing_key
from pilotgate.receipts.merkle import MerkleTree, consistency_proof, inclusion_proof, merkle_root
from pilotgate.receipts.model import Actor, StoredReceipt, format_at
from pilotgate.receipts.proofs import verify_consistency, verify_inclusion
from pilotgate.receipts.prover import InclusionProof, prove_consistency, prove_inclusion
from pilotgate.receipts.reader import get_receipt, iter_receipt_rows, list_receipts, read_checkpoints
from pilotgate.receipts.redaction import REDACTED, Redactor
from pilotgate.receipts.verify import Failure, VerifyReport, verify_log
from pilotgate.receipts.witness import FileWitness, HttpWitness, Witness, open_witness

__all__ = [
    "REDACTED",
    "ZERO_HASH",
    "Actor",
    "AppendedReceipt",
    "ChainHead",
    "Checkpoint",
    "Entry",
    "ExportSummary",
    "Failure",
    "FileWitness",
    "HttpWitness",
    "InclusionProof",
    "MerkleTree",
    "PreparedBatch",
    "PublicKey",
    "ReceiptLog",
    "Redactor",
    "Signer",
    "StoredReceipt",
    "VerifyReport",
    "Witness",
    "append",
    "canonical_bytes",
    "checkpoint_body",
    "consistency_proof",
    "export",
    "format_at",
    "generate_signing_key",
    "get_receipt",
    "inclusion_proof",
    "iter_receipt_rows",
    "leaf_hash",
    "list_receipts",
    "load_public_key",
    "load_signing_key",
    "merkle_root",
    "node_hash",
    "open_log",
    "open_witness",
    "origin",
    "parse_checkpoint",
    "prove_consistency",
    "prove_inclusion",
    "read_checkpoints",
    "read_export",
    "read_head",
    "receipt_hash",
    "signer_for",
    "verify_checkpoint_signature",
    "verify_consistency",
    "verify_export",
    "verify_inclusion",
    "verify_log",
    "verify_store",
]
