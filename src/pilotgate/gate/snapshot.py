"""Release snapshots: the bytes of the files a release is made of, stored beside the release.

A release id says *what* the behaviour was (a hash); the snapshot keeps *the files themselves*, so the
release can be served, rolled back to and bundled after pilot.yaml and the eval packs on disk have moved
on. Parts are named as in the manifest: ``pilot.yaml`` and ``evals/<pack as pilot.yaml names it>``.
A release created before migration 0006 has no snapshot; asking for it fails with ``SnapshotMissing``.
"""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy import Connection, func, insert, select

from pilotgate.errors import ConfigError, UsageError, VerificationError
from pilotgate.spec import PilotSpec, load_pilot_text
from pilotgate.store.tables import release_files

PILOT_PART = "pilot.yaml"
"""The snapshot part holding pilot.yaml's text, byte for byte as it was read."""


class SnapshotMissing(UsageError):
    """The release has no stored snapshot, so it cannot be served or rolled back to (exit 2)."""


def sha256_of(data: bytes) -> str:
    """``sha256:<hex>`` of *data*."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def pack_part(name: str) -> str:
    """The snapshot (and manifest) part name of the eval pack pilot.yaml names *name*."""
    return f"evals/{name}"


def read_snapshot_files(workspace: Any) -> dict[str, bytes]:
    """pilot.yaml's bytes and each eval pack's, read once from disk; UsageError naming what is missing."""
    files: dict[str, bytes] = {}
    missing: list[str] = []
    try:
        files[PILOT_PART] = workspace.loaded.path.read_bytes()
    except OSError:
        missing.append(str(workspace.loaded.path))
    for name in workspace.spec.evals.packs:
        try:
            files[pack_part(name)] = workspace.loaded.resolve(name).read_bytes()
        except OSError:
            missing.append(pack_part(name))
    if missing:
        raise UsageError(f"cannot make a release: {', '.join(missing)} missing", hint="fix evals.packs")
    return files


def store_snapshot(conn: Connection, pilot: str, release: str, files: dict[str, bytes]) -> None:
    """Insert the snapshot rows in the caller's transaction (with the release row and its receipt)."""
    conn.execute(
        insert(release_files),
        [
            {"pilot": pilot, "release": release, "name": name, "sha256": sha256_of(data), "content": data}
            for name, data in sorted(files.items())
        ],
    )


def has_snapshot(workspace: Any, release: str) -> bool:
    """True when the release's files are stored."""
    with workspace.store.read() as conn:
        count = conn.execute(
            select(func.count())
            .select_from(release_files)
            .where(release_files.c.pilot == workspace.name, release_files.c.release == release)
        ).scalar_one()
    return int(count) > 0


def load_snapshot(workspace: Any, release: str) -> dict[str, bytes]:
    """The release's stored files, each checked against its stored hash.

    ``SnapshotMissing`` when the release has none (created before snapshots were stored);
    ``VerificationError`` naming the part whose bytes no longer match their hash.
    """
    with workspace.store.read() as conn:
        rows = conn.execute(
            select(release_files.c.name, release_files.c.sha256, release_files.c.content).where(
                release_files.c.pilot == workspace.name, release_files.c.release == release
            )
        ).all()
    if not rows:
        raise SnapshotMissing(
            f"release {release} has no stored snapshot (it was created before pilotgate stored release "
            "contents), so it cannot be served or rolled back to",
            hint="check out the files it was made from and run `pilotgate release create` (same content, "
            "same id: the snapshot is stored then), or promote a newer release",
        )
    files: dict[str, bytes] = {}
    for row in rows:
        data = bytes(row.content)
        if sha256_of(data) != row.sha256:
            raise VerificationError(
                f"the snapshot of release {release} is damaged: {row.name} does not match its hash",
                failures=[("snapshot_hash_mismatch", row.name)],
            )
        files[str(row.name)] = data
    if PILOT_PART not in files:
        raise VerificationError(
            f"the snapshot of release {release} has no pilot.yaml",
            failures=[("snapshot_incomplete", PILOT_PART)],
        )
    return files


def snapshot_spec(files: dict[str, bytes], label: str) -> PilotSpec:
    """The validated spec of a snapshot's pilot.yaml; *label* names the file in any problem."""
    try:
        text = files[PILOT_PART].decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UsageError(f"{label} is not UTF-8 text") from exc
    try:
        return load_pilot_text(text, label)
    except ConfigError as exc:
        issues = "; ".join(str(issue) for issue in exc.issues[:3])
        raise UsageError(f"{label} does not validate: {issues}", hint="run `pilotgate check`") from exc
