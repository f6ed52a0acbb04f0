"""A validated pilot together with where it was loaded from."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from pilotgate.errors import ConfigIssue
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

    def resolve(self, relative: str | Path) -> Path:
        """*relative* against the pilot's folder; an absolute path (or `~/...`) is kept as is."""
        candidate = Path(relative).expanduser()
        return candidate if candidate.is_absolute() else self.root / candidate
