"""Helpers for data tests: folders of documents in tmp_path, an in-memory connector, a listing failure."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from pilotgate.data import SkippedDocument, SourceDocument


@pytest.fixture
def tree(tmp_path: Path) -> Callable[..., Path]:
    """A factory: ``tree({"a.md": "..."})`` writes a folder of documents (text or bytes) and returns it."""

    def make(files: dict[str, str | bytes], name: str = "docs") -> Path:
        root = tmp_path / name
        root.mkdir(parents=True, exist_ok=True)
        for relative, content in files.items():
            path = root / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_text(content, encoding="utf-8")
        return root

    return make


@pytest.fixture
def deny_listing(monkeypatch: pytest.MonkeyPatch) -> Callable[[Path], None]:
    """Make the folder connector's os.walk fail to list one folder (tests run as root, so chmod cannot)."""
    real_walk = os.walk

    def deny(denied: Path) -> None:
        def walk(
            top: Path, onerror: Callable[[OSError], None] | None = None, **kwargs: bool
        ) -> Iterator[tuple[str, list[str], list[str]]]:
            for folder, dirnames, filenames in real_walk(top, onerror=onerror, **kwargs):
                if Path(folder) == denied:
                    assert onerror is not None
                    onerror(PermissionError(13, "Permission denied", str(folder)))
                    dirnames[:] = []
                    continue
                yield folder, dirnames, filenames

        monkeypatch.setattr("pilotgate.data.connectors.folder.os.walk", walk)

    return deny


def _add_sources(pilot_yaml: Path, block: str) -> None:
    """Append ``block`` (YAML list items indented two spaces) to the ``sources:`` section of a pilot.yaml,
    wherever that section sits in the file."""
    lines = pilot_yaml.read_text(encoding="utf-8").splitlines(keepends=True)
    start = next(i for i, line in enumerate(lines) if line.startswith("sources:"))
    end = start + 1
    while end < len(lines) and (not lines[end].strip() or lines[end][0] in " #"):
        end += 1
    while not lines[end - 1].strip():
        end -= 1
    lines[end:end] = [block.strip("\n") + "\n"]
    pilot_yaml.write_text("".join(lines), encoding="utf-8")


@pytest.fixture
def add_sources() -> Callable[[Path, str], None]:
    """``add_sources(pilot_yaml, block)``: declare more sources in a pilot.yaml (a fixture, since test folders
    are not packages)."""
    return _add_sources


@dataclass
class ListConnector:
    """A test double of the Connector protocol: serves a fixed list of documents from memory."""

    name: str
    read_groups: tuple[str, ...]
    items: list[SourceDocument | SkippedDocument] = field(default_factory=list)

    def scan(self) -> Iterator[SourceDocument | SkippedDocument]:
        yield from self.items


@pytest.fixture
def list_connector() -> type[ListConnector]:
    """The in-memory connector class (a fixture, since test folders are not packages)."""
    return ListConnector
