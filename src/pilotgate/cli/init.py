"""`pilotgate init DIR`: scaffold a working pilot with its own signing key."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pilotgate.cli.options import PilotOption
from pilotgate.cli.output import console
from pilotgate.demo import scaffold_pilot
from pilotgate.receipts import generate_signing_key, origin, signer_for
from pilotgate.workspace import load_workspace_config


def init(
    directory: Annotated[Path, typer.Argument(help="Folder to create the pilot in (created if missing).")],
    force: Annotated[bool, typer.Option("--force", help="Overwrite the example files if present.")] = False,
) -> None:
    """Create a working pilot: pilot.yaml with comments, example sources, users, a signing key."""
    path = scaffold_pilot(directory, force=force)
    console.print(f"[green]created[/] {path}")
    console.print(
        "next:\n"
        f"  cd {directory}\n"
        "  pilotgate check\n"
        '  pilotgate run "How long do refunds take?" --user alice\n'
        "  pilotgate receipts verify"
    )
    console.print(
        "[dim]the signing key .pilotgate/signing.key (mode 0600) is the pilot's identity: back it up[/]"
    )


def keygen(pilot: PilotOption = None) -> None:
    """Create the pilot's Ed25519 signing key (mode 0600) where pilot.yaml's receipts.signing_key says.

    Refuses to replace an existing key: a pilot's key is its identity, and a new one would orphan every
    checkpoint the old one signed.
    """
    loaded = load_workspace_config(pilot)
    path = loaded.resolve(loaded.spec.receipts.signing_key)
    key = generate_signing_key(path)
    public = signer_for(loaded.spec.pilot.name, key).public_key
    console.print(f"[green]created[/] {path} (mode 0600) for {origin(loaded.spec.pilot.name)}")
    console.print(f"public key: {public.text()}")


def register(app: typer.Typer) -> None:
    """Add `init` and `keygen`."""
    app.command()(init)
    app.command()(keygen)
