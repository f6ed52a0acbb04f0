"""Signed notes (C2SP signed-note): text, a blank line, then ``— <key name> <base64(key id ‖ signature)>``.

The format transparency logs use for checkpoints, so any tooling that reads Go's ``sumdb/note`` or the
transparency-dev checkpoints reads ours. Ed25519 only (signature type 0x01). The key id is the first four
bytes of SHA-256(key name ‖ 0x0A ‖ 0x01 ‖ public key); a verifier key is written
``<name>+<hex key id>+<base64(0x01 ‖ public key)>``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

ED25519_TYPE = b"\x01"
"""The signed-note signature type of Ed25519."""

SIGNATURE_PREFIX = "\u2014 "
"""An em dash and a space open every signature line."""

MAX_SIGNATURES = 100


@dataclass(frozen=True)
class NoteSignature:
    """One signature line of a note."""

    name: str
    key_id: bytes
    signature: bytes


def check_key_name(name: str) -> str:
    """A key name is non-empty and holds no whitespace and no ``+`` (the verifier-key separator)."""
    if not name or "+" in name or any(ch.isspace() for ch in name):
        raise ValueError(f"key name {name!r} must be non-empty, without spaces or '+'")
    return name


def key_id(name: str, public_key: bytes) -> bytes:
    """The 4-byte id binding a key name to an Ed25519 public key."""
    return hashlib.sha256(name.encode("utf-8") + b"\n" + ED25519_TYPE + public_key).digest()[:4]


def raw_public_key(key: Ed25519PublicKey) -> bytes:
    """The 32 raw bytes of an Ed25519 public key."""
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def verifier_key(name: str, public_key: bytes) -> str:
    """The text form a verifier is given: ``name+hexid+base64(0x01 ‖ key)``."""
    check_key_name(name)
    encoded = base64.b64encode(ED25519_TYPE + public_key).decode("ascii")
    return f"{name}+{key_id(name, public_key).hex()}+{encoded}"


def parse_verifier_key(text: str) -> tuple[str, bytes]:
    """(name, raw public key) from a verifier key; ValueError when it is malformed or its id is wrong."""
    parts = text.strip().split("+", 2)  # the base64 key may itself hold "+"
    if len(parts) != 3:
        raise ValueError("a verifier key reads NAME+KEYID+KEY")
    name, hex_id, encoded = parts
    check_key_name(name)
    try:
        raw = base64.b64decode(encoded, validate=True)
        wanted_id = bytes.fromhex(hex_id)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("the verifier key's id or key is not valid hex / base64") from exc
    if len(raw) != 33 or raw[:1] != ED25519_TYPE:
        raise ValueError("the verifier key is not an Ed25519 key (type 0x01, 32 bytes)")
    if key_id(name, raw[1:]) != wanted_id:
        raise ValueError("the verifier key's id does not match its name and key")
    return name, raw[1:]


def sign_note(text: str, name: str, private_key: Ed25519PrivateKey) -> str:
    """The text followed by a blank line and one Ed25519 signature line."""
    check_key_name(name)
    _check_text(text)
    public = raw_public_key(private_key.public_key())
    signature = private_key.sign(text.encode("utf-8"))
    encoded = base64.b64encode(key_id(name, public) + signature).decode("ascii")
    return f"{text}\n{SIGNATURE_PREFIX}{name} {encoded}\n"


def split_note(note: str) -> tuple[str, list[NoteSignature]]:
    """(text, signatures) of a signed note; ValueError when it is not one."""
    split = note.rfind("\n\n")
    if split < 0 or not note.endswith("\n"):
        raise ValueError("not a signed note: no blank line before the signatures, or no final newline")
    text = note[: split + 1]
    _check_text(text)
    signatures: list[NoteSignature] = []
    for line in note[split + 2 : -1].split("\n"):
        if not line.startswith(SIGNATURE_PREFIX):
            raise ValueError(f"not a signature line: {line[:40]!r}")
        name, space, encoded = line[len(SIGNATURE_PREFIX) :].partition(" ")
        if not space:
            raise ValueError("a signature line reads '— NAME SIGNATURE'")
        try:
            raw = base64.b64decode(encoded, validate=True)
        except binascii.Error as exc:
            raise ValueError("a signature is not valid base64") from exc
        if len(raw) < 5:
            raise ValueError("a signature is too short to hold a key id")
        signatures.append(NoteSignature(name=check_key_name(name), key_id=raw[:4], signature=raw[4:]))
    if not signatures or len(signatures) > MAX_SIGNATURES:
        raise ValueError(f"a signed note carries 1 to {MAX_SIGNATURES} signatures")
    return text, signatures


def verify_note(note: str, name: str, public_key: bytes) -> str:
    """Check the note's signature by this key; returns the signed text.

    Raises ``LookupError`` when no signature line is by this key (an unknown key) and ``ValueError`` when
    the note is malformed or the signature by this key is wrong.
    """
    text, signatures = split_note(note)
    wanted = key_id(name, public_key)
    for sig in signatures:
        if sig.name == name and sig.key_id == wanted:
            try:
                Ed25519PublicKey.from_public_bytes(public_key).verify(sig.signature, text.encode("utf-8"))
            except InvalidSignature as exc:
                raise ValueError(f"the signature by {name} does not verify") from exc
            return text
    found = ", ".join(f"{sig.name} ({sig.key_id.hex()})" for sig in signatures)
    raise LookupError(f"no signature by {name} ({wanted.hex()}); signed by {found}")


def _check_text(text: str) -> None:
    if not text.endswith("\n") or "\n\n" in text:
        raise ValueError("a note's text ends with a newline and holds no blank line")
    if any(ord(ch) < 0x20 and ch != "\n" for ch in text):
        raise ValueError("a note's text holds no control characters other than newline")
