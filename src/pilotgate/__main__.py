"""`python -m pilotgate` runs the CLI."""

from pilotgate.cli import main

main()
