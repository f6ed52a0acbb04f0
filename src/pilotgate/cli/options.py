"""Options shared by many commands, declared once."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pilotgate import settings

PilotOption = Annotated[
    Path | None,
    typer.Option(
        "--pilot",
        "-p",
        envvar=settings.PILOT.env,
        help="pilot.yaml, or the folder holding it. Default: ./pilot.yaml.",
        show_default=False,
    ),
]
DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        envvar=settings.DB.env,
        help=(
            "Database URL (sqlite:///PATH or postgresql+psycopg://...). "
            "Default: .pilotgate/pilot.db beside pilot.yaml."
        ),
        show_default=False,
    ),
]
