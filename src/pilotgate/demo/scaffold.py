"""Copying the example pilot into a folder and giving it its own signing key."""

from __future__ import annotations

import shutil
from importlib.resources import as_file, files
from pathlib import Path

from pilotgate.errors import UsageError
from pilotgate.receipts import generate_signing_key

TEMPLATE = "support-desk"
"""The package-data folder holding the example pilot."""

DEMO_QUESTIONS = "questions.txt"
"""Tab-separated ``user<TAB>question`` lines the demo runs; not copied by `pilotgate init`."""


def scaffold_pilot(dest: Path, *, force: bool = False, include_questions: bool = False) -> Path:
    """Write a working pilot (pilot.yaml, sources, signing key) into ``dest``; return pilot.yaml's path.

    Refuses to overwrite an existing pilot.yaml unless ``force``; never overwrites an existing signing key
    (a pilot's key is its identity: replacing it would orphan every checkpoint it signed).
    """
    dest = dest.expanduser()
    target = dest / "pilot.yaml"
    if target.exists() and not force:
        raise UsageError(
            f"{target} already exists",
            hint="choose an empty folder, or pass --force to overwrite the example files",
        )
    if dest.exists() and not dest.is_dir():
        raise UsageError(f"{dest} exists and is not a folder", hint="choose another path")
    with as_file(files("pilotgate.demo") / TEMPLATE) as template:
        ignore = None if include_questions else shutil.ignore_patterns(DEMO_QUESTIONS)
        shutil.copytree(template, dest, dirs_exist_ok=True, ignore=ignore)
    key = dest / ".pilotgate" / "signing.key"
    if not key.exists():
        generate_signing_key(key)
    return target


def demo_questions() -> list[tuple[str, str]]:
    """The demo's (user, question) pairs, in order."""
    text = (files("pilotgate.demo") / TEMPLATE / DEMO_QUESTIONS).read_text(encoding="utf-8")
    pairs = []
    for line in text.splitlines():
        if line.strip():
            user, _, question = line.partition("\t")
            pairs.append((user.strip(), question.strip()))
    return pairs
