"""The pilot's Ed25519 signing key: created once, kept in a file outside the database, mode 0600.

The key lives outside the store on purpose: whoever can write the database can rewrite the whole chain
and recompute every hash, but cannot sign a checkpoint over the rewritten chain without this file.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    load_pem_private_key,
    load_pem_public_key,
)

from pilotgate.errors import SigningKeyError
from pilotgate.receipts.note import key_id, parse_verifier_key, raw_public_key, sign_note, verifier_key

KEY_HINT = "create the key with `pilotgate init` (or point receipts.signing_key in pilot.yaml at it)"


@dataclass(frozen=True)
class PublicKey:
    """A verifier's view of a signing key: the key name and the raw Ed25519 public key."""

    name: str
    """The key name in checkpoint signature lines (the log's origin, ``pilotgate/<pilot>``)."""
    raw: bytes
    """The 32-byte Ed25519 public key."""

    @property
    def key_id(self) -> bytes:
        return key_id(self.name, self.raw)

    def text(self) -> str:
        """The verifier-key text (``name+hexid+base64key``) written beside an export."""
        return verifier_key(self.name, self.raw)


@dataclass(frozen=True)
class Signer:
    """A private key bound to the key name it signs checkpoints as."""

    name: str
    private_key: Ed25519PrivateKey

    @property
    def public_key(self) -> PublicKey:
        return PublicKey(name=self.name, raw=raw_public_key(self.private_key.public_key()))

    @property
    def key_id(self) -> bytes:
        return self.public_key.key_id

    def sign(self, text: str) -> str:
        """A signed note over ``text``."""
        return sign_note(text, self.name, self.private_key)


def generate_signing_key(path: Path) -> Ed25519PrivateKey:
    """Create a new Ed25519 key in a PKCS#8 PEM file readable by its owner only; never overwrites."""
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as exc:
        raise SigningKeyError(
            f"a signing key already exists at {path}; refusing to overwrite it",
            hint="a new key would orphan every checkpoint signed with the old one; keep it or move it away",
        ) from exc
    except OSError as exc:
        raise SigningKeyError(f"cannot create the signing key {path}: {exc.strerror}") from exc
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
        handle.flush()
        os.fsync(handle.fileno())
    return key


def load_signing_key(path: Path) -> Ed25519PrivateKey:
    """Read the pilot's signing key; SigningKeyError when missing, too readable, or not Ed25519."""
    try:
        info = path.stat()
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise SigningKeyError(f"no signing key at {path}", hint=KEY_HINT) from exc
    except OSError as exc:
        raise SigningKeyError(f"cannot read the signing key {path}: {exc.strerror}", hint=KEY_HINT) from exc
    if os.name == "posix" and stat.S_IMODE(info.st_mode) & 0o077:
        raise SigningKeyError(
            f"the signing key {path} is readable by other users (mode {stat.S_IMODE(info.st_mode):o})",
            hint=f"chmod 600 {path}",
        )
    try:
        key = load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise SigningKeyError(
            f"{path} is not an unencrypted PEM private key",
            hint="point receipts.signing_key at the pilot's key",
        ) from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningKeyError(
            f"{path} holds a {type(key).__name__.removeprefix('_')}, not an Ed25519 key",
            hint="pilotgate signs checkpoints with Ed25519 only; " + KEY_HINT,
        )
    return key


def load_public_key(path: Path, *, name: str | None = None) -> PublicKey:
    """Read a public key: a verifier-key line (as exported) or a PEM public key plus the given name."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SigningKeyError(f"cannot read the public key {path}: {exc.strerror or exc}") from exc
    return parse_public_key(data, name=name, source=str(path))


def parse_public_key(
    data: bytes | str, *, name: str | None = None, source: str = "the public key"
) -> PublicKey:
    """A PublicKey from verifier-key text or PEM (a PEM key needs ``name``)."""
    raw_bytes = data.encode() if isinstance(data, str) else data
    if raw_bytes.lstrip().startswith(b"-----BEGIN"):
        try:
            key = load_pem_public_key(raw_bytes)
        except ValueError as exc:
            raise SigningKeyError(f"{source} is not a valid PEM public key") from exc
        if not isinstance(key, Ed25519PublicKey):
            raise SigningKeyError(f"{source} is not an Ed25519 public key")
        if name is None:
            raise SigningKeyError(
                f"{source} is a bare PEM key; its key name (pilotgate/<pilot>) is needed too"
            )
        return PublicKey(name=name, raw=raw_public_key(key))
    try:
        parsed_name, raw = parse_verifier_key(raw_bytes.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise SigningKeyError(f"{source} is not a pilotgate public key: {exc}") from exc
    if name is not None and parsed_name != name:
        raise SigningKeyError(f"{source} is the key of {parsed_name}, not of {name}")
    return PublicKey(name=parsed_name, raw=raw)
