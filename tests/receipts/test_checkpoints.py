"""Signed checkpoints: the note format, the key file, and what they catch that the chain alone cannot."""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from receipts_helpers import PILOT, entries
from sqlalchemy import Connection, text

from pilotgate.errors import ReceiptNotFoundError, SigningKeyError, VerificationError
from pilotgate.receipts import (
    InclusionProof,
    ReceiptLog,
    Signer,
    checkpoint_body,
    generate_signing_key,
    iter_receipt_rows,
    load_public_key,
    load_signing_key,
    parse_checkpoint,
    prove_consistency,
    prove_inclusion,
    receipt_hash,
    signer_for,
    verify_checkpoint_signature,
    verify_store,
)
from pilotgate.receipts.hashes import Frontier, leaf_hash
from pilotgate.receipts.note import key_id, parse_verifier_key, sign_note, verify_note
from pilotgate.store import Store

Fill = Callable[..., None]


# Known answer: the example key and note of Go's golang.org/x/mod/sumdb/note documentation (the
# reference implementation of C2SP signed-note). Ed25519 is deterministic, so signing the same text with
# the same key must give the very same note. Facts only.
GO_SEED = base64.b64decode("AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz")[1:]
GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_TEXT = (
    "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
)
GO_SIG = "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM="


def test_signed_note_matches_the_reference_vector() -> None:
    key = Ed25519PrivateKey.from_private_bytes(GO_SEED)
    note = sign_note(GO_TEXT, "PeterNeumann", key)
    assert note == f"{GO_TEXT}\n\u2014 PeterNeumann {GO_SIG}\n"
    name, public = parse_verifier_key(GO_VKEY)
    assert key_id(name, public).hex() == "c74f20a3"
    assert verify_note(note, name, public) == GO_TEXT


def test_checkpoint_note_format(signer: Signer) -> None:
    root = bytes(range(32))
    body = checkpoint_body(PILOT, 42, root)
    assert body == f"pilotgate/{PILOT}\n42\n{base64.b64encode(root).decode()}\n"
    note = signer.sign(body)
    head, _, sig_line = note.partition("\n\n")
    assert head + "\n" == body
    assert sig_line.startswith(f"\u2014 pilotgate/{PILOT} ")
    raw = base64.b64decode(sig_line.split(" ")[2])
    assert raw[:4] == signer.key_id and len(raw) == 68
    parsed = verify_checkpoint_signature(note, signer.public_key)
    assert (parsed.pilot, parsed.size, parsed.root) == (PILOT, 42, root)


def test_key_file_is_private_and_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "signing.key"
    key = generate_signing_key(path)
    assert path.stat().st_mode & 0o777 == 0o600
    assert load_signing_key(path).private_bytes_raw() == key.private_bytes_raw()
    with pytest.raises(SigningKeyError, match="refusing to overwrite"):
        generate_signing_key(path)
    assert load_signing_key(path).private_bytes_raw() == key.private_bytes_raw()


def test_unusable_key_files_say_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(SigningKeyError) as missing:
        load_signing_key(tmp_path / "nope.key")
    assert "pilotgate init" in (missing.value.hint or "")
    loose = tmp_path / "loose.key"
    generate_signing_key(loose)
    loose.chmod(0o644)
    with pytest.raises(SigningKeyError) as readable:
        load_signing_key(loose)
    assert "chmod 600" in (readable.value.hint or "")
    other = tmp_path / "ec.key"
    other.write_bytes(
        ec.generate_private_key(ec.SECP256R1()).private_bytes(
            Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()
        )
    )
    other.chmod(0o600)
    with pytest.raises(SigningKeyError, match="not an Ed25519 key"):
        load_signing_key(other)
    garbage = tmp_path / "garbage.key"
    garbage.write_text("hello")
    garbage.chmod(0o600)
    with pytest.raises(SigningKeyError, match="not an unencrypted PEM"):
        load_signing_key(garbage)


def test_public_key_file_round_trip(tmp_path: Path, signer: Signer) -> None:
    path = tmp_path / "pilot.pub"
    path.write_text(signer.public_key.text() + "\n")
    assert load_public_key(path) == signer.public_key
    with pytest.raises(SigningKeyError, match="not of"):
        load_public_key(path, name="pilotgate/other")


# --- what checkpoints catch -----------------------------------------------------------------------------


def _rewrite_from(conn: Connection, start: int, edit: bytes, replacement: bytes) -> None:
    """An attacker with the database but not the key: edit one receipt, recompute every hash after it."""
    rows = list(iter_receipt_rows(conn, PILOT))
    prev = rows[start][2]
    for seq, _h, _p, _k, _t, _a, canonical in rows[start:]:
        if seq == start:
            canonical = canonical.replace(edit, replacement)
        old_prev = canonical[canonical.rfind(b'"prev":"') + 8 :][:71]
        canonical = canonical.replace(b'"prev":"' + old_prev, b'"prev":"' + prev.encode())
        digest = receipt_hash(canonical)
        conn.execute(
            text(
                "UPDATE receipts SET canonical = :c, hash = :h, prev = :p WHERE pilot = :pilot AND seq = :s"
            ),
            {"c": canonical, "h": digest, "p": prev, "pilot": PILOT, "s": seq},
        )
        prev = digest
    conn.execute(text("UPDATE chain_heads SET head = :h WHERE pilot = :p"), {"h": prev, "p": PILOT})


def test_a_whole_rewrite_without_the_key_is_caught_by_the_checkpoints(
    store: Store, fill: Fill, signer: Signer
) -> None:
    fill(4)  # 24 receipts, checkpoints at 4, 8, ..., 24
    with store.write() as conn:
        _rewrite_from(conn, 5, b'"step":5', b'"step":0')
        chain_only = verify_store(conn, PILOT, None)
        assert chain_only.failure is not None  # roots are checked even without the key
    with store.read() as conn:
        report = verify_store(conn, PILOT, signer.public_key)
    assert report.failure is not None
    assert report.failure.reason == "checkpoint_root_mismatch"
    assert (report.failure.seq, report.failure.checkpoint_size) == (4, 8)
    assert report.checkpoints_checked == 1


def test_checkpoints_signed_with_another_key_are_unknown(store: Store, fill: Fill, signer: Signer) -> None:
    fill(2)
    mallory = signer_for(PILOT, Ed25519PrivateKey.generate())
    with store.write() as conn:
        for size, note in conn.execute(text("SELECT size, note FROM checkpoints")).all():
            forged = mallory.sign(parse_checkpoint(note).note.partition("\n\n")[0] + "\n")
            conn.execute(text("UPDATE checkpoints SET note = :n WHERE size = :s"), {"n": forged, "s": size})
    with store.read() as conn:
        failure = verify_store(conn, PILOT, signer.public_key).failure
    assert failure is not None and failure.reason == "unknown_key" and failure.checkpoint_size == 4


def test_a_bad_signature_is_rejected(store: Store, fill: Fill, signer: Signer) -> None:
    fill(2)
    with store.write() as conn:
        note = conn.execute(text("SELECT note FROM checkpoints WHERE size = 8")).scalar_one()
        body, _, line = note.partition("\n\n")
        prefix, encoded = line.rstrip("\n").rsplit(" ", 1)
        raw = bytearray(base64.b64decode(encoded))
        raw[10] ^= 0x40
        broken = f"{body}\n\n{prefix} {base64.b64encode(bytes(raw)).decode()}\n"
        conn.execute(text("UPDATE checkpoints SET note = :n WHERE size = 8"), {"n": broken})
    with store.read() as conn:
        failure = verify_store(conn, PILOT, signer.public_key).failure
    assert failure is not None and (failure.reason, failure.checkpoint_size) == (
        "checkpoint_signature_wrong",
        8,
    )
    with pytest.raises(VerificationError):
        verify_checkpoint_signature(broken, signer.public_key)


def test_deleted_checkpoints_are_missed_when_they_are_expected(
    store: Store, fill: Fill, signer: Signer
) -> None:
    fill(2)
    with store.write() as conn:
        conn.execute(text("DELETE FROM checkpoints WHERE size = 8"))
    with store.read() as conn:
        assert verify_store(conn, PILOT, signer.public_key).ok
        failure = verify_store(conn, PILOT, signer.public_key, expect_checkpoint_every=4).failure
    assert failure is not None and (failure.reason, failure.seq) == ("checkpoint_missing", 7)


def test_a_checkpoint_beyond_the_log_means_truncation(store: Store, fill: Fill, signer: Signer) -> None:
    fill(2)  # 12 receipts
    with store.write() as conn:
        conn.execute(text("DELETE FROM receipts WHERE seq >= 10"))
        conn.execute(
            text("UPDATE chain_heads SET size = 10, head = (SELECT hash FROM receipts WHERE seq = 9)")
        )
    with store.read() as conn:
        failure = verify_store(conn, PILOT, signer.public_key).failure
    assert failure is not None and (failure.reason, failure.seq, failure.checkpoint_size) == (
        "truncated",
        10,
        12,
    )


def test_inclusion_proof_from_the_store(store: Store, fill: Fill, signer: Signer) -> None:
    fill(3)  # 18 receipts, latest checkpoint 16
    with store.read() as conn:
        proof = prove_inclusion(conn, PILOT, 13)
        older = prove_inclusion(conn, PILOT, 2, size=4)
        with pytest.raises(ReceiptNotFoundError):
            prove_inclusion(conn, PILOT, 17)  # not covered by any checkpoint yet
        consistency = prove_consistency(conn, PILOT, 4, 16)
    assert (proof.tree_size, older.tree_size) == (16, 4)
    proof.check(signer.public_key)
    InclusionProof.from_json(proof.to_json()).check(signer.public_key)
    older.check(signer.public_key)
    assert len(consistency) > 0
    doc = proof.to_json()
    doc["receipt"] = doc["receipt"].replace('"step":1', '"step":2')
    with pytest.raises(VerificationError, match="not in the checkpoint"):
        InclusionProof.from_json(doc).check(signer.public_key)
    doc = proof.to_json()
    doc["path"][0] = "00" * 32
    with pytest.raises(VerificationError):
        InclusionProof.from_json(doc).check(signer.public_key)
    with pytest.raises(VerificationError, match="unknown_key"):
        proof.check(signer_for(PILOT, Ed25519PrivateKey.generate()).public_key)


def test_frontier_in_head_row_equals_a_fresh_tree(store: Store, fill: Fill) -> None:
    fill(3, per=7)
    with store.read() as conn:
        size, hexed = conn.execute(text("SELECT size, frontier FROM chain_heads")).one()
        leaves = [leaf_hash(row[6]) for row in iter_receipt_rows(conn, PILOT)]
    fresh = Frontier()
    for leaf in leaves:
        fresh.append(leaf)
    assert Frontier.from_hex(size, hexed).root() == fresh.root()


def test_checkpoint_at_task_end_via_log(store: Store, log: ReceiptLog) -> None:
    with store.write() as conn:
        log.append_many(conn, entries(0, 3))
        assert log.checkpoint(conn).size == 3
