"""Load pilot.yaml into a `PilotSpec`, reporting every problem at its file:line:column at once."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from pilotgate.errors import ConfigError, ConfigIssue, UsageError
from pilotgate.spec.checks import format_loc, reference_warnings
from pilotgate.spec.issues import in_file_order, problem_issues, validation_issues
from pilotgate.spec.loaded import LoadedPilot
from pilotgate.spec.locate import locate
from pilotgate.spec.models import PilotSpec
from pilotgate.spec.types import describe
from pilotgate.spec.yamldoc import parse_yaml, to_plain

PILOT_FILENAME = "pilot.yaml"
_INIT_HINT = "run `pilotgate init DIR` to create one, or pass --pilot PATH"


def find_pilot(start: Path | None = None, explicit: str | Path | None = None) -> Path:
    """The pilot.yaml to use: *explicit* (a file, or a folder holding pilot.yaml), else the one in *start*.

    *start* defaults to the current folder; parent folders are not searched, so a command never acts on
    a pilot the user did not point at.
    """
    if explicit is not None:
        candidate = Path(explicit).expanduser()
        if candidate.is_dir():
            candidate = candidate / PILOT_FILENAME
        if not candidate.is_file():
            raise UsageError(f"no pilot file at {candidate}", hint=_INIT_HINT)
        return candidate
    folder = start if start is not None else Path.cwd()
    candidate = folder / PILOT_FILENAME
    if not candidate.is_file():
        raise UsageError(f"no {PILOT_FILENAME} in {folder}", hint=_INIT_HINT)
    return candidate


def load_pilot(path: str | Path) -> LoadedPilot:
    """Read, parse and validate the pilot.yaml at *path*; raise ConfigError listing every problem."""
    path = Path(path)
    filename = str(path)
    text = _read(path, filename)
    spec, warnings, document = _load(text, filename)
    absolute = path.expanduser().resolve()
    return LoadedPilot(
        spec=spec, path=absolute, root=absolute.parent, warnings=tuple(warnings), document=document
    )


def load_pilot_text(text: str, filename: str = PILOT_FILENAME) -> PilotSpec:
    """Validate pilot.yaml content given as text; *filename* only labels the issues."""
    spec, _, _ = _load(text, filename)
    return spec


def _read(path: Path, filename: str) -> str:
    def fail(message: str, hint: str | None = None, line: int | None = None) -> ConfigError:
        return ConfigError([ConfigIssue(filename, line, None, "", message, hint)])

    try:
        data = path.expanduser().read_bytes()
    except FileNotFoundError:
        raise fail("file not found", _INIT_HINT) from None
    except IsADirectoryError:
        raise fail("is a folder, not a file", f"pass {path / PILOT_FILENAME}") from None
    except PermissionError:
        raise fail("cannot be read: permission denied", "check the file's permissions") from None
    except OSError as exc:
        raise fail(f"cannot be read: {os.strerror(exc.errno) if exc.errno else exc}") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise fail("is not UTF-8 text", "save the file as UTF-8", line) from None


def _load(text: str, filename: str) -> tuple[PilotSpec, list[ConfigIssue], CommentedMap]:
    """The spec, its warnings and the positioned document; or a ConfigError with every issue in file order."""
    document = parse_yaml(text, filename)
    if document is None:
        raise ConfigError(
            [
                ConfigIssue(
                    filename,
                    None,
                    None,
                    "",
                    "file is empty",
                    "a pilot needs at least pilot: {name, owner, workflow}",
                )
            ]
        )
    if not isinstance(document, CommentedMap):
        found = "a list" if isinstance(document, CommentedSeq) else describe(to_plain(document))
        raise ConfigError(
            [ConfigIssue(filename, 1, 1, "", f"expected a mapping of sections at the top level; got {found}")]
        )
    tagged: list[tuple[Any, Any]] = []
    data = to_plain(document, tagged)
    issues = [_tag_issue(document, filename, parent, key) for parent, key in tagged]
    try:
        spec = PilotSpec.model_validate(data)
    except ValidationError as exc:
        # a tagged value was also validated as its plain value: report the tag, not both
        tag_places = {(i.line, i.column, i.field) for i in issues}
        issues += [
            i
            for i in validation_issues(PilotSpec, exc, document, filename)
            if (i.line, i.column, i.field) not in tag_places
        ]
    if issues:
        raise ConfigError(in_file_order(issues))
    return spec, problem_issues(document, filename, reference_warnings(spec)), document


def _tag_issue(document: Any, filename: str, parent: Any, key: Any) -> ConfigIssue:
    """Custom YAML tags are refused: pilot.yaml stays plain data, with secrets as references."""
    path = _path_to(document, parent, key)
    place = locate(document, path)
    return ConfigIssue(
        filename,
        place.line,
        place.column,
        format_loc(path),
        "YAML tags are not supported",
        "write plain values; for a secret use a reference such as env:NAME",
    )


def _path_to(document: Any, target: Any, key: Any) -> tuple[Any, ...]:
    """The path from *document* to the child *key* of the node *target* (identity search)."""

    def search(node: Any, trail: tuple[Any, ...]) -> tuple[Any, ...] | None:
        if node is target:
            return (*trail, key)
        children = (
            node.items()
            if isinstance(node, CommentedMap)
            else enumerate(node)
            if isinstance(node, CommentedSeq)
            else ()
        )
        for child_key, child in children:
            found = search(child, (*trail, child_key))
            if found is not None:
                return found
        return None

    if target is None:
        return ()
    return search(document, ()) or ()
