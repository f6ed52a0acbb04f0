"""The example support-desk pilot, shipped as package data.

`pilotgate init` copies it; `pilotgate demo` runs it.
"""

from pilotgate.demo.scaffold import DEMO_QUESTIONS, demo_questions, scaffold_pilot

__all__ = ["DEMO_QUESTIONS", "demo_questions", "scaffold_pilot"]
