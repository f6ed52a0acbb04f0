"""Connectors from pilot.yaml declarations: built-in kinds, and a plugin found through a real entry point."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from pilotgate.data import (
    ENTRY_POINT_GROUP,
    ConnectorContext,
    CsvConnector,
    FolderConnector,
    JsonlConnector,
    SourceDocument,
    SqlConnector,
    connector_for,
)
from pilotgate.errors import SourceError
from pilotgate.spec import CsvSource, FolderSource, JsonlSource, SqlSource
from pilotgate.spec.sections.sources import PluginSource

PLUGIN_MODULE = """
from dataclasses import dataclass
from pilotgate.data import SourceDocument

@dataclass
class Tickets:
    name: str
    read_groups: tuple
    prefix: str

    def scan(self):
        for number in range(3):
            yield SourceDocument(f"{self.prefix}-{number}", f"ticket {number} about a parcel")

def make(source, context):
    return Tickets(source.name, tuple(source.read), source.options["prefix"])

def broken(source, context):
    return "not a connector"

def exploding(source, context):
    raise RuntimeError("boom")
"""


@pytest.fixture
def installed_plugin(tmp_path: Path) -> Iterator[None]:
    """A package with entry points in ``pilotgate.sources``, installed on sys.path (a real distribution)."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "pg_tickets_plugin.py").write_text(PLUGIN_MODULE, encoding="utf-8")
    info = site / "pg_tickets_plugin-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: pg-tickets-plugin\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        f"[{ENTRY_POINT_GROUP}]\n"
        "tickets = pg_tickets_plugin:make\n"
        "broken = pg_tickets_plugin:broken\n"
        "exploding = pg_tickets_plugin:exploding\n"
        "missing = pg_tickets_plugin_gone:make\n"
    )
    sys.path.insert(0, str(site))
    try:
        yield
    finally:
        sys.path.remove(str(site))
        sys.modules.pop("pg_tickets_plugin", None)


def context(tmp_path: Path, **kwargs: object) -> ConnectorContext:
    return ConnectorContext(root=tmp_path, **kwargs)  # type: ignore[arg-type]


def test_builtin_kinds(tmp_path: Path) -> None:
    common = {"read": ["agents"]}
    folder = connector_for(FolderSource(name="f", kind="folder", path="docs", **common), context(tmp_path))
    assert isinstance(folder, FolderConnector) and folder.path == tmp_path / "docs"
    csv = connector_for(
        CsvSource(name="c", kind="csv", path="o.csv", key="id", delimiter=";", **common), context(tmp_path)
    )
    assert isinstance(csv, CsvConnector) and csv.delimiter == ";" and csv.layout.key == "id"
    jsonl = connector_for(
        JsonlSource(name="j", kind="jsonl", path="/abs/t.jsonl", key="id"), context(tmp_path)
    )
    assert isinstance(jsonl, JsonlConnector) and jsonl.path == Path("/abs/t.jsonl")
    sql = connector_for(
        SqlSource(name="s", kind="sql", url="sqlite:///x.db", query="SELECT 1", key="id"), context(tmp_path)
    )
    assert isinstance(sql, SqlConnector) and sql.url == "sqlite:///x.db"


def test_sql_secret_reference_is_resolved_by_the_given_resolver(tmp_path: Path) -> None:
    source = SqlSource(name="s", kind="sql", url="env:CRM_URL", query="SELECT 1", key="id")
    with pytest.raises(SourceError, match="no secret resolver"):
        connector_for(source, context(tmp_path))
    resolved = connector_for(
        source, context(tmp_path, resolve_secret={"env:CRM_URL": "sqlite:///crm.db"}.get)
    )
    assert isinstance(resolved, SqlConnector) and resolved.url == "sqlite:///crm.db"


def test_a_plugin_connector_is_found_by_its_entry_point(tmp_path: Path, installed_plugin: None) -> None:
    source = PluginSource(
        name="tickets", kind="plugin", connector="tickets", options={"prefix": "T"}, read=["agents"]
    )
    connector = connector_for(source, context(tmp_path))
    items = list(connector.scan())
    assert [item.uri for item in items] == ["T-0", "T-1", "T-2"]
    assert all(isinstance(item, SourceDocument) for item in items)
    assert connector.read_groups == ("agents",)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("nowhere", "no connector 'nowhere' is installed"),
        ("broken", "returned str, not a connector"),
        ("exploding", "could not be made: RuntimeError: boom"),
        ("missing", "failed to load"),
    ],
)
def test_plugin_problems_are_source_errors(
    tmp_path: Path, installed_plugin: None, name: str, message: str
) -> None:
    source = PluginSource(name="tickets", kind="plugin", connector=name)
    with pytest.raises(SourceError) as caught:
        connector_for(source, context(tmp_path))
    assert message in caught.value.message
    assert "'tickets'" in caught.value.message
    assert caught.value.hint
