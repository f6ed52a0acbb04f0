"""Serving a stored release: a Workspace whose spec is the release's snapshot, and the canary pick.

``release_workspace`` materializes the snapshot (pilot.yaml and the eval packs, written under
``.pilotgate/releases/<id>/`` beside pilot.yaml) and returns a Workspace whose spec is the release's while
the sources, the signing key, secrets and the store stay the workspace's own: data is not part of a
release, and the receipts go to the same log. ``pick`` is the one rule that splits tasks between
production and a canary, so the CLI and a server send the same task to the same release.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pilotgate.errors import VerificationError
from pilotgate.gate.releases import get_release, manifest_of, spec_hash
from pilotgate.gate.snapshot import PILOT_PART, load_snapshot, pack_part, snapshot_spec
from pilotgate.spec import LoadedPilot
from pilotgate.workspace import Workspace

SHARE_SCALE = 10_000
"""Canary shares are kept in basis points: 10000 is every task."""


@dataclass(frozen=True)
class ReleasePilot(LoadedPilot):
    """A release's pilot.yaml: its eval packs resolve to the snapshot's copies, every other path (sources,
    signing key, secret files) to the workspace's folder, as on disk."""

    release: str = ""
    files: Mapping[str, Path] = field(default_factory=dict)
    """Pack name as pilot.yaml names it -> the materialized copy."""

    def resolve(self, relative: str | Path) -> Path:
        """The snapshot's copy of an eval pack; anything else against the workspace's folder."""
        copy = self.files.get(str(relative))
        return copy if copy is not None else super().resolve(relative)


def release_workspace(workspace: Workspace, release_id: str) -> Workspace:
    """A Workspace that runs *release_id* as it was released, sharing *workspace*'s store (close that one).

    ``SnapshotMissing`` when the release has no snapshot; ``VerificationError`` when the snapshot does
    not hash to the release's manifest (the pilotgate version part excepted: an upgrade may serve it).
    """
    release = get_release(workspace, release_id)
    files = load_snapshot(workspace, release_id)
    label = f"{release_id}:pilot.yaml"
    spec = snapshot_spec(files, label)
    packs: dict[str, bytes | None] = {name: files.get(pack_part(name)) for name in spec.evals.packs}
    now = manifest_of(spec, packs)
    wrong = [
        name
        for name in sorted(set(release.manifest) | set(now))
        if name != "pilotgate" and release.manifest.get(name) != now.get(name)
    ]
    if wrong or spec_hash(spec) != release.manifest.get(PILOT_PART):
        raise VerificationError(
            f"the snapshot of release {release_id} does not match its manifest: {', '.join(wrong)}",
            failures=[("snapshot_manifest_mismatch", name) for name in wrong],
            hint="the store was changed by hand; restore it from a backup",
        )
    folder = _materialize(workspace.root, release_id, files)
    copies = {name: folder / _pack_file(index, name) for index, name in enumerate(spec.evals.packs)}
    loaded = ReleasePilot(
        spec=spec,
        path=folder / PILOT_PART,
        root=workspace.root,
        warnings=(),
        release=release_id,
        files=copies,
    )
    return Workspace(loaded=loaded, store=workspace.store, release=release_id)


def _pack_file(index: int, name: str) -> str:
    """A flat file name for a pack (its suffix kept: the loader reads .yaml and .jsonl differently)."""
    return f"pack-{index}-{Path(name).name}"


def _materialize(root: Path, release_id: str, files: Mapping[str, bytes]) -> Path:
    """Write the snapshot under ``.pilotgate/releases/<id>/`` (a temporary folder if that is read-only)."""
    spec = snapshot_spec(dict(files), release_id)
    wanted = {PILOT_PART: files[PILOT_PART]}
    for index, name in enumerate(spec.evals.packs):
        wanted[_pack_file(index, name)] = files[pack_part(name)]
    try:
        folder = root / ".pilotgate" / "releases" / release_id
        _write_all(folder, wanted)
    except OSError:
        folder = Path(tempfile.mkdtemp(prefix=f"pilotgate-{release_id}-"))
        _write_all(folder, wanted)
    return folder


def _write_all(folder: Path, wanted: Mapping[str, bytes]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in wanted.items():
        path = folder / name
        if path.is_file() and path.read_bytes() == data:
            continue
        partial = path.with_name(path.name + ".partial")
        partial.write_bytes(data)
        partial.replace(path)


def bucket(candidate: str, key: str) -> int:
    """The task key's place in 0..9999 for this candidate: fixed per (candidate, key), so raising the
    share keeps the tasks already sent to the candidate there."""
    digest = hashlib.sha256(f"{candidate}\n{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % SHARE_SCALE


def pick(production: str | None, canary: str | None, share: int, key: str) -> str | None:
    """The release that serves the task with *key*: the canary for its share (basis points) of keys,
    production for the rest; None when nothing is in production."""
    if production is None:
        return None
    if canary is not None and share > 0 and bucket(canary, key) < share:
        return canary
    return production
