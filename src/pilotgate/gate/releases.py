"""Releases: a content hash of everything that changes the pilot's behaviour.

The manifest hashes each part separately: pilot.yaml's canonical content (the validated spec as canonical
JSON, so comments and key order do not count; it holds the models and their settings, routing, policy,
tools, budgets, gate rules and the source *declarations*, not the source contents), each eval pack file's
bytes, and the pilotgate version. The release hash is SHA-256 over the manifest's canonical JSON; the id is
``rel-`` and its first 16 hex digits, so the same content always gives the same release.

Creating a release also stores its snapshot (``gate.snapshot``): pilot.yaml's text and each pack's bytes,
so the release can be served, rolled back to and bundled after the files on disk have moved on. Python
tool adapters name installed code (``python:MODULE:ATTR``), which the pilotgate version and the package
versions cover, not the release; source *contents* are data, not behaviour, and stay the workspace's.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from sqlalchemy import insert, select

from pilotgate.clock import Clock, rfc3339, utc_now
from pilotgate.errors import UsageError
from pilotgate.gate.snapshot import (
    has_snapshot,
    pack_part,
    read_snapshot_files,
    sha256_of,
    snapshot_spec,
    store_snapshot,
)
from pilotgate.receipts import canonical_bytes
from pilotgate.spec import PilotSpec
from pilotgate.store.tables import releases

SYSTEM = {"kind": "system", "id": "pilotgate-release"}


def _sha(data: bytes) -> str:
    return sha256_of(data)


def _pilotgate_version() -> str:
    try:
        return version("pilotgate")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree without metadata
        return "unknown"


def release_manifest(workspace: Any) -> dict[str, str]:
    """Part name -> its hash, for the workspace's pilot as it is on disk now."""
    return manifest_of(workspace.spec, read_pack_files(workspace))


def manifest_of(spec: PilotSpec, packs: dict[str, bytes | None]) -> dict[str, str]:
    """The manifest of *spec* and its eval packs' bytes (None: the pack is missing)."""
    manifest = {"pilot.yaml": spec_hash(spec), "pilotgate": _pilotgate_version()}
    for name, data in packs.items():
        manifest[f"evals/{name}"] = "missing" if data is None else _sha(data)
    return manifest


def spec_hash(spec: PilotSpec) -> str:
    """The hash of pilot.yaml's validated content: comments and key order do not count."""
    return _sha(canonical_bytes(spec.model_dump(mode="json", by_alias=True)))


def read_pack_files(workspace: Any) -> dict[str, bytes | None]:
    """Each eval pack pilot.yaml names -> its bytes on disk, or None when it cannot be read."""
    packs: dict[str, bytes | None] = {}
    for name in workspace.spec.evals.packs:
        try:
            packs[name] = workspace.loaded.resolve(name).read_bytes()
        except OSError:
            packs[name] = None
    return packs


def release_hash(manifest: dict[str, str]) -> str:
    """SHA-256 over the manifest's canonical JSON."""
    return _sha(canonical_bytes(manifest))


@dataclass(frozen=True)
class Release:
    """A stored release."""

    id: str
    content_hash: str
    manifest: dict[str, str]
    created_at: str
    created_by: str
    receipt: str


def create_release(workspace: Any, *, by: str = "pilotgate", clock: Clock = utc_now) -> tuple[Release, bool]:
    """Store the workspace's current release and its snapshot with a ``release.created`` receipt;
    (release, created).

    The same content gives the same id: creating it again returns the stored release and ``False`` (and
    stores its snapshot if it has none: a release made before snapshots existed gets one this way).
    """
    files = read_snapshot_files(workspace)
    if spec_hash(snapshot_spec(files, str(workspace.loaded.path))) != spec_hash(workspace.spec):
        raise UsageError(
            f"{workspace.loaded.path} changed on disk since it was loaded", hint="run the command again"
        )
    packs: dict[str, bytes | None] = {name: files[pack_part(name)] for name in workspace.spec.evals.packs}
    manifest = manifest_of(workspace.spec, packs)
    digest = release_hash(manifest)
    release_id = "rel-" + digest.removeprefix("sha256:")[:16]
    existing = find_release(workspace, release_id)
    if existing is not None:
        if not has_snapshot(workspace, release_id):
            with workspace.store.write() as conn:
                store_snapshot(conn, workspace.name, release_id, files)
        return existing, False
    log = workspace.receipt_log(signed=False, clock=clock)
    at = rfc3339(clock())
    snapshot = {name: _sha(data) for name, data in sorted(files.items())}
    with log.transaction(workspace.store) as conn:
        appended = log.append(
            conn,
            kind="release.created",
            body={"release": release_id, "content_hash": digest, "manifest": manifest, "snapshot": snapshot},
            actor={"kind": "user", "id": by},
            release=release_id,
        )
        conn.execute(
            insert(releases).values(
                pilot=workspace.name,
                id=release_id,
                content_hash=digest,
                manifest=json.dumps(manifest, sort_keys=True),
                created_at=at,
                created_by=by,
                receipt=appended.hash,
            )
        )
        store_snapshot(conn, workspace.name, release_id, files)
    return Release(release_id, digest, manifest, at, by, appended.hash), True


def _row(row: Any) -> Release:
    return Release(
        row.id, row.content_hash, json.loads(row.manifest), row.created_at, row.created_by, row.receipt
    )


def find_release(workspace: Any, release_id: str) -> Release | None:
    """The stored release, or None."""
    with workspace.store.read() as conn:
        row = conn.execute(
            select(releases).where(releases.c.pilot == workspace.name, releases.c.id == release_id)
        ).one_or_none()
    return _row(row) if row is not None else None


def get_release(workspace: Any, release_id: str) -> Release:
    """The stored release; UsageError naming the known ones when there is none."""
    release = find_release(workspace, release_id)
    if release is None:
        raise UsageError(f"no release {release_id!r}", hint="`pilotgate release list` shows the releases")
    return release


def list_releases(workspace: Any) -> list[Release]:
    """The pilot's releases, newest first."""
    with workspace.store.read() as conn:
        rows = conn.execute(
            select(releases).where(releases.c.pilot == workspace.name).order_by(releases.c.created_at.desc())
        ).all()
    return [_row(row) for row in rows]


def verify_release(workspace: Any, release_id: str) -> list[str]:
    """The parts that changed since the release was created (empty: the files on disk are the release)."""
    release = get_release(workspace, release_id)
    now = release_manifest(workspace)
    names = sorted(set(release.manifest) | set(now))
    return [name for name in names if release.manifest.get(name) != now.get(name)]
