"""Which command modules make up the CLI. Each module exposes ``register(app)``."""

from __future__ import annotations

import importlib

import typer

COMMAND_MODULES: tuple[str, ...] = (
    "demo",
    "sources",
    "init",
    "config",
    "run",
    "receipts",
    "policy",
    "tools",
    "approvals",
    "release",
    "evals",
    "eval_generate",
    "db",
)
"""Modules under pilotgate.cli, each with a ``register(app: typer.Typer) -> None``."""


def register(app: typer.Typer) -> None:
    """Attach every command module's commands to ``app``."""
    for name in COMMAND_MODULES:
        importlib.import_module(f"pilotgate.cli.{name}").register(app)
