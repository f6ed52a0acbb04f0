"""`pilotgate init DIR`: scaffold a working pilot with its own signing key."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pilotgate.cli.output import console
from pilotgate.demo import scaffold_pilot


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


def register(app: typer.Typer) -> None:
    """Add `init`."""
    app.command()(init)
