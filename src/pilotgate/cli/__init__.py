"""The command line: a thin shell over the library. ``main`` is the console script."""

from pilotgate.cli.app import app, main

__all__ = ["app", "main"]
