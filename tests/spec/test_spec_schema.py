"""The JSON Schema and the generated reference: complete, documented, and in step with the models."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pilotgate.spec as spec_package
from pilotgate.spec import PilotSpec, pilot_json_schema, render_reference_markdown

DOCS = Path(__file__).parents[2] / "docs" / "pilot-yaml.md"


def _objects(schema: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    yield "(top level)", schema
    yield from schema.get("$defs", {}).items()


def test_schema_is_json_with_dialect_and_title() -> None:
    schema = pilot_json_schema()
    again = json.loads(json.dumps(schema))
    assert again == schema
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["title"] == "pilot.yaml"
    assert schema["required"] == ["pilot"]
    assert schema["additionalProperties"] is False


def test_every_property_has_a_description() -> None:
    undocumented = [
        f"{owner}.{name}"
        for owner, obj in _objects(pilot_json_schema())
        for name, prop in obj.get("properties", {}).items()
        if not str(prop.get("description", "")).strip()
    ]
    assert undocumented == []


def test_every_model_has_a_description_and_forbids_unknown_keys() -> None:
    for owner, obj in _objects(pilot_json_schema()):
        assert str(obj.get("description", "")).strip(), owner
        assert obj.get("additionalProperties") is False, owner


def test_schema_defaults_are_written_as_in_pilot_yaml() -> None:
    defs = pilot_json_schema()["$defs"]
    assert defs["OpenAICompatibleModel"]["properties"]["timeout"]["default"] == "1m"
    assert defs["Alert"]["properties"]["cooldown"]["default"] == "15m"
    assert defs["Receipts"]["properties"]["checkpoint_every"]["default"] == 1000
    assert defs["Receipts"]["properties"]["signing_key"]["default"] == ".pilotgate/signing.key"


def test_sources_and_models_are_discriminated_in_the_schema() -> None:
    props = pilot_json_schema()["properties"]
    assert props["sources"]["items"]["discriminator"]["propertyName"] == "kind"
    kinds = {"folder", "csv", "jsonl", "sql", "plugin"}
    assert set(props["sources"]["items"]["discriminator"]["mapping"]) == kinds
    assert props["models"]["items"]["discriminator"]["propertyName"] == "provider"


def test_committed_reference_matches_the_models() -> None:
    generated = render_reference_markdown()
    assert DOCS.read_text(encoding="utf-8") == generated, (
        'docs/pilot-yaml.md is stale; regenerate it with: python -c "from pilotgate.spec import '
        "render_reference_markdown as r; open('docs/pilot-yaml.md', 'w').write(r())\""
    )


def test_reference_names_every_field() -> None:
    text = render_reference_markdown()
    for _, obj in _objects(pilot_json_schema()):
        for name in obj.get("properties", {}):
            assert f"| `{name}` |" in text
    assert "## `receipts`" in text and "## `sources[] (kind: csv)`" in text


def test_public_names_are_exported() -> None:
    exported = set(spec_package.__all__)
    assert len(exported) == len(spec_package.__all__)
    public = {name for name in vars(spec_package) if not name.startswith("_")}
    modules = {
        "base",
        "checks",
        "issues",
        "loaded",
        "loader",
        "locate",
        "models",
        "schema",
        "sections",
        "types",
        "yamldoc",
        "annotations",
    }
    assert exported == public - modules
    assert PilotSpec.__name__ in exported
