"""A pilot at work: its loaded pilot.yaml, its open store and where its signing key lives.

The CLI and the server both start here, so that they find pilot.yaml, the database and the key the same
way: ``--pilot`` / PILOTGATE_PILOT / ./pilot.yaml, and ``--db`` / PILOTGATE_DB / .pilotgate/pilot.db.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pilotgate.clock import Clock, utc_now
from pilotgate.errors import ConfigError, ConfigIssue
from pilotgate.policy import policy_issues
from pilotgate.receipts import (
    PublicKey,
    ReceiptLog,
    Signer,
    Witness,
    load_signing_key,
    open_log,
    open_witness,
    signer_for,
)
from pilotgate.spec import (
    CsvSource,
    FolderSource,
    JsonlSource,
    LoadedPilot,
    PilotSpec,
    find_pilot,
    load_pilot,
)
from pilotgate.store import Store, default_url, open_store
from pilotgate.tools import tool_issues


@dataclass
class Workspace:
    """One pilot's config and store, opened together."""

    loaded: LoadedPilot
    store: Store
    release: str | None = None
    """The stored release whose snapshot ``loaded`` is (``pilotgate.gate.release_workspace``); None: the
    files on disk."""

    @property
    def name(self) -> str:
        """The pilot's name: the origin of its receipt log."""
        return self.loaded.spec.pilot.name

    @property
    def spec(self) -> PilotSpec:
        """The validated pilot.yaml."""
        return self.loaded.spec

    @property
    def root(self) -> Path:
        """The folder holding pilot.yaml; relative paths in it resolve from here."""
        return self.loaded.root

    @property
    def signing_key_path(self) -> Path:
        """Where the pilot's Ed25519 signing key lives (outside the database)."""
        return self.loaded.resolve(self.spec.receipts.signing_key)

    def signer(self) -> Signer:
        """The pilot's checkpoint signer, loaded from its key file (SigningKeyError if unusable)."""
        return signer_for(self.name, load_signing_key(self.signing_key_path))

    def public_key(self) -> PublicKey:
        """The public half of the pilot's signing key, named as its checkpoints name it."""
        return self.signer().public_key

    def witness(self, location: str | None = None) -> Witness | None:
        """The witness named by ``location`` or by ``receipts.witness`` in pilot.yaml, if any."""
        where = location or self.spec.receipts.witness
        return open_witness(where, base=self.root) if where else None

    def receipt_log(self, *, clock: Clock = utc_now, signed: bool = True) -> ReceiptLog:
        """The writer of this pilot's receipt log, signing checkpoints as pilot.yaml says."""
        return open_log(
            self.name,
            signing_key=self.signing_key_path if signed else None,
            checkpoint_every=self.spec.receipts.checkpoint_every,
            witness=self.spec.receipts.witness,
            base=self.root,
            clock=clock,
        )

    def close(self) -> None:
        """Close the store."""
        self.store.close()


def load_workspace_config(pilot: str | Path | None = None) -> LoadedPilot:
    """Find and validate pilot.yaml without opening the store (for `pilotgate check`)."""
    return load_pilot(find_pilot(explicit=pilot))


def open_workspace(
    pilot: str | Path | None = None, db: str | None = None, *, migrate: bool = True
) -> Workspace:
    """Find and validate pilot.yaml, then open (and on first use create) its store."""
    loaded = load_workspace_config(pilot)
    store = open_store(db or default_url(loaded.root), migrate=migrate)
    return Workspace(loaded=loaded, store=store)


def environment_issues(loaded: LoadedPilot) -> list[ConfigIssue]:
    """What a valid pilot.yaml still gets wrong: missing source folders and files, policy rules that do
    not compile, a missing signing key."""
    issues: list[ConfigIssue] = []
    for index, source in enumerate(loaded.spec.sources):
        if isinstance(source, FolderSource):
            path = loaded.resolve(source.path)
            if not path.is_dir():
                issues.append(
                    loaded.issue(
                        ("sources", index, "path"),
                        f"source {source.name!r}: folder {path} does not exist",
                        "create it, or fix the path (relative paths start at pilot.yaml's folder)",
                    )
                )
        elif isinstance(source, CsvSource | JsonlSource):
            path = loaded.resolve(source.path)
            if not path.is_file():
                issues.append(
                    loaded.issue(
                        ("sources", index, "path"),
                        f"source {source.name!r}: file {path} does not exist",
                        "fix the path (relative paths start at pilot.yaml's folder)",
                    )
                )
    issues.extend(policy_issues(loaded))
    issues.extend(tool_issues(loaded))
    key = loaded.resolve(loaded.spec.receipts.signing_key)
    if not key.is_file():
        issues.append(
            loaded.issue(
                ("receipts", "signing_key"),
                f"signing key {key} does not exist",
                "create one with `pilotgate keygen`; checkpoints cannot be signed without it",
            )
        )
    return issues


def check_environment(loaded: LoadedPilot) -> None:
    """Raise ConfigError if anything pilot.yaml names is missing (see ``environment_issues``)."""
    issues = environment_issues(loaded)
    if issues:
        raise ConfigError(issues)
