"""Checkpoints: signed statements "the log of pilot P had N receipts with Merkle root R".

The note follows the transparency-log checkpoint format (C2SP tlog-checkpoint), so the body is::

    pilotgate/<pilot>
    <tree size, decimal>
    <base64 of the 32-byte RFC 9162 root>

signed as a C2SP signed note by the key named after the origin. This module only formats, parses and
checks notes; storing one is the writer's job (``chain.ReceiptLog.checkpoint``).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from pilotgate.errors import VerificationError
from pilotgate.receipts.keys import PublicKey, Signer
from pilotgate.receipts.note import split_note, verify_note

ORIGIN_PREFIX = "pilotgate/"


def origin(pilot: str) -> str:
    """The log's origin line and checkpoint key name: ``pilotgate/<pilot>``."""
    return ORIGIN_PREFIX + pilot


@dataclass(frozen=True)
class Checkpoint:
    """A signed checkpoint: the tree it commits to and the note that says so."""

    pilot: str
    size: int
    root: bytes
    note: str
    key_id: str
    """Hex id of the key in the (first) signature line."""

    @property
    def root_hex(self) -> str:
        return self.root.hex()


def checkpoint_body(pilot: str, size: int, root: bytes) -> str:
    """The text that is signed."""
    return f"{origin(pilot)}\n{size}\n{base64.b64encode(root).decode('ascii')}\n"


def make_checkpoint(pilot: str, size: int, root: bytes, signer: Signer) -> Checkpoint:
    """Sign a checkpoint of ``size`` receipts with ``root``."""
    if signer.name != origin(pilot):
        raise ValueError(
            f"the signer is named {signer.name!r}; checkpoints of {pilot} need {origin(pilot)!r}"
        )
    note = signer.sign(checkpoint_body(pilot, size, root))
    return Checkpoint(pilot=pilot, size=size, root=root, note=note, key_id=signer.key_id.hex())


def parse_checkpoint(note: str) -> Checkpoint:
    """Read a checkpoint note (its signature is *not* checked here); ValueError when malformed."""
    text, signatures = split_note(note)
    lines = text.split("\n")[:-1]
    if len(lines) < 3:
        raise ValueError("a checkpoint's text has an origin, a size and a root line")
    origin_line, size_line, root_line = lines[:3]
    if not origin_line.startswith(ORIGIN_PREFIX):
        raise ValueError(f"checkpoint origin {origin_line!r} is not a pilotgate log")
    if not size_line.isdigit() or (size_line.startswith("0") and size_line != "0"):
        raise ValueError(f"checkpoint size {size_line!r} is not a decimal number")
    try:
        root = base64.b64decode(root_line, validate=True)
    except binascii.Error as exc:
        raise ValueError("checkpoint root is not base64") from exc
    if len(root) != 32:
        raise ValueError("checkpoint root is not 32 bytes")
    return Checkpoint(
        pilot=origin_line.removeprefix(ORIGIN_PREFIX),
        size=int(size_line),
        root=root,
        note=note,
        key_id=signatures[0].key_id.hex(),
    )


def checkpoint_problem(note: str, public_key: PublicKey) -> tuple[str, str] | None:
    """None when the note is a well-formed checkpoint signed by ``public_key``; else (reason, detail).

    Reasons: ``checkpoint_malformed``, ``unknown_key`` (not signed by this key),
    ``checkpoint_signature_wrong``.
    """
    try:
        checkpoint = parse_checkpoint(note)
    except ValueError as exc:
        return "checkpoint_malformed", str(exc)
    if origin(checkpoint.pilot) != public_key.name:
        return (
            "unknown_key",
            f"the checkpoint is of {origin(checkpoint.pilot)}; the key is {public_key.name}'s",
        )
    try:
        verify_note(note, public_key.name, public_key.raw)
    except LookupError as exc:
        return "unknown_key", str(exc)
    except ValueError as exc:
        return "checkpoint_signature_wrong", str(exc)
    return None


def verify_checkpoint_signature(note: str, public_key: PublicKey) -> Checkpoint:
    """The parsed checkpoint when it is signed by ``public_key``; VerificationError otherwise."""
    problem = checkpoint_problem(note, public_key)
    if problem is not None:
        reason, detail = problem
        raise VerificationError(f"checkpoint rejected ({reason}): {detail}", failures=[problem])
    return parse_checkpoint(note)


def signer_for(pilot: str, private_key: Ed25519PrivateKey) -> Signer:
    """A signer naming itself after the pilot's log origin, as checkpoints require."""
    return Signer(name=origin(pilot), private_key=private_key)
