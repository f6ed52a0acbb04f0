"""A validated pilot together with where it was loaded from."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pilotgate.errors import ConfigIssue
from pilotgate.spec.checks import format_loc
from pilotgate.spec.locate import locate
from pilotgate.spec.models import PilotSpec


@dataclass(frozen=True)
class LoadedPilot:
    """A `PilotSpec` and its file: relative paths in pilot.yaml are relative to the file's folder.

    The folder lives here, not in the model, so the same spec text means the same pilot wherever it sits.
    """

    spec: PilotSpec
    path: Path
    """The pilot.yaml file, absolute."""
    root: Path
    """The folder holding pilot.yaml; relative paths in it resolve against this."""
    warnings: tuple[ConfigIssue, ...] = field(default=())
    """Legitimate but surprising things: an approver group nobody holds yet, a tool nobody may call."""
    document: Any = field(default=None, repr=False, compare=False)
    """The parsed YAML document with node positions, so later checks can name file:line:column too."""

    def position(self, path: tuple[str | int, ...]) -> tuple[int | None, int | None]:
        """1-based (line, column) of the node at *path* (e.g. ``("sources", 1, "path")``), if known."""
        if self.document is None:
            return None, None
        place = locate(self.document, path)
        return place.line, place.column

    def issue(self, path: tuple[str | int, ...], message: str, hint: str | None = None) -> ConfigIssue:
        """A ConfigIssue at the node *path* names, e.g. for a source folder that does not exist."""
        line, column = self.position(path)
        return ConfigIssue(str(self.path), line, column, format_loc(path), message, hint)

    def resolve(self, relative: str | Path) -> Path:
        """*relative* against the pilot's folder; an absolute path (or `~/...`) is kept as is."""
        candidate = Path(relative).expanduser()
        return candidate if candidate.is_absolute() else self.root / candidate
