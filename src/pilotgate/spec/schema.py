"""The JSON Schema of pilot.yaml (for `pilotgate schema` and editors) and the reference docs built from it.

The docs are generated from the same schema the editor sees, which is generated from the models'
attribute docstrings: one source, so the reference cannot drift from what the loader accepts.
"""

from __future__ import annotations

import functools
import json
from datetime import timedelta
from typing import Any

from pydantic import TypeAdapter
from pydantic.json_schema import GenerateJsonSchema

from pilotgate.spec import types
from pilotgate.spec.models import PilotSpec
from pilotgate.spec.types import format_duration

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
_GENERATED_BY = "pilotgate.spec.schema.render_reference_markdown"


class _PilotSchemaGenerator(GenerateJsonSchema):
    """Write defaults the way pilot.yaml spells them (`60s`, not `PT1M`)."""

    def encode_default(self, dft: Any) -> Any:
        if isinstance(dft, timedelta):
            return format_duration(dft)
        return super().encode_default(dft)


def pilot_json_schema() -> dict[str, Any]:
    """The JSON Schema (2020-12) of pilot.yaml, with `$schema` and `title` set."""
    schema = PilotSpec.model_json_schema(schema_generator=_PilotSchemaGenerator)
    return {"$schema": JSON_SCHEMA_DIALECT, **schema, "title": "pilot.yaml"}


# --- the Markdown reference -------------------------------------------------------------------------


def _canonical(schema: dict[str, Any]) -> str:
    return json.dumps(schema, sort_keys=True)


@functools.cache
def _named_types() -> dict[str, str]:
    """Schemas of the value types the docs should call by name rather than spell out."""
    probes: dict[str, Any] = {
        "duration": types.Duration,
        "amount": types.Amount,
        "secret reference": types.SecretReference,
        "http(s) URL": types.HttpUrl,
        "database URL or secret reference": types.DatabaseUrl,
        "file path or http(s) URL": types.WitnessLocation,
        "`log`, URL or secret reference": types.AlertTarget,
        "adapter": types.Adapter,
        "slug": types.Slug,
        "name": types.Name,
        "user name": types.UserName,
        "tool name": types.ToolName,
        "`group:NAME` or `user:NAME`": types.EscalationTarget,
        "text": types.Text,
    }
    named: dict[str, str] = {}
    for label, tp in probes.items():
        named.setdefault(_canonical(TypeAdapter(tp).json_schema()), label)
    return named


_SKIP_KEYS = {"title", "description", "default"}


def _ref_name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


class _Renderer:
    """Walks the schema from the top, giving each model one section titled by where it is used."""

    def __init__(self, schema: dict[str, Any]) -> None:
        self.schema = schema
        self.defs: dict[str, Any] = schema.get("$defs", {})
        self.paths: dict[str, str] = {}
        self.titles: dict[str, str] = {}
        self.queue: list[str] = []

    def _enqueue(self, name: str, path: str, title: str | None = None) -> None:
        if name not in self.paths:
            self.paths[name] = path
            self.titles[name] = title or path
            self.queue.append(name)

    def type_of(self, prop: dict[str, Any], label: str) -> str:
        """A short type description of a property; registers models it refers to under *label*."""
        core = {k: v for k, v in prop.items() if k not in _SKIP_KEYS}
        named = _named_types().get(_canonical(core))
        if named:
            return named
        if "$ref" in prop:
            name = _ref_name(prop["$ref"])
            self._enqueue(name, label)
            return f"mapping, see `{self.titles[name]}`"
        if "const" in prop:
            return f"`{prop['const']}`"
        if "enum" in prop:
            return "one of " + ", ".join(f"`{value}`" for value in prop["enum"])
        if "oneOf" in prop and "discriminator" in prop:
            field = prop["discriminator"]["propertyName"]
            tag_of = {ref: tag for tag, ref in prop["discriminator"]["mapping"].items()}
            tags = [tag_of[member["$ref"]] for member in prop["oneOf"]]
            for member in prop["oneOf"]:
                tag = tag_of[member["$ref"]]
                self._enqueue(_ref_name(member["$ref"]), label, f"{label} ({field}: {tag})")
            return f"mapping by `{field}`: " + ", ".join(f"`{tag}`" for tag in tags)
        if "anyOf" in prop:
            members = [m for m in prop["anyOf"] if m.get("type") != "null"]
            named = _named_types().get(_canonical({"anyOf": members}))
            if named:
                return named
            return " or ".join(self.type_of(m, label) for m in members)
        kind = prop.get("type")
        if kind == "array":
            return "list of " + self.type_of(prop.get("items", {}), f"{label}[]")
        if kind == "object":
            values = prop.get("additionalProperties") or next(
                iter(prop.get("patternProperties", {}).values()), None
            )
            if isinstance(values, dict) and values:
                return "map of name to " + self.type_of(values, f"{label}.<name>")
            return "mapping"
        return {"string": "string", "integer": "integer", "boolean": "boolean", "number": "number"}.get(
            str(kind), "any"
        )

    @staticmethod
    def default_of(prop: dict[str, Any], required: bool) -> str:
        if required:
            return "required"
        if "default" not in prop:
            return "—"
        value = prop["default"]
        if value is None:
            return "unset"
        if isinstance(value, dict) and value and "$ref" in prop:
            return "see section"
        return f"`{json.dumps(value)}`"

    def table(self, model: dict[str, Any], path: str) -> list[str]:
        lines = ["| key | type | default | description |", "| --- | --- | --- | --- |"]
        required = set(model.get("required", []))
        for key, prop in model.get("properties", {}).items():
            label = f"{path}.{key}" if path else key
            kind = self.type_of(prop, label)
            description = " ".join(str(prop.get("description", "")).split()).replace("|", "\\|")
            lines.append(f"| `{key}` | {kind} | {self.default_of(prop, key in required)} | {description} |")
        return lines

    def render(self) -> str:
        out = [
            "# pilot.yaml reference",
            "",
            f"<!-- Generated by {_GENERATED_BY}(); do not edit by hand. -->",
            "",
            "One `pilot.yaml` declares one pilot: its owner, workflow, sources, models, tools, policy,",
            "budgets, evals, gate and receipt settings. Paths are relative to the folder holding",
            "`pilot.yaml`. Unknown keys are errors. Durations are written `90d`, `4h`, `30m`, `20s`, `2w`",
            'or as a whole number of seconds; amounts as strings like `"0.05"` (numbers are accepted) and',
            "are never held as floats; secrets only as references: `env:NAME`, `file:PATH`,",
            "`keyring:SERVICE/NAME`, `vault:PATH#KEY`.",
            "",
            "Names must be unique within each list. Every model, user, tool and group named in one section",
            "must be declared (models in `models`, users in `users`, tools in `tools`, groups by some user's",
            "`groups`), except that an approver group nobody holds yet is only a warning. These",
            "cross-section checks run once every section is valid on its own.",
            "",
            "Editors: `pilotgate schema > pilot.schema.json`, then start pilot.yaml with",
            "`# yaml-language-server: $schema=pilot.schema.json`.",
            "",
            "## Top level",
            "",
            *self.table(self.schema, ""),
        ]
        while self.queue:
            name = self.queue.pop(0)
            waiting = len(self.queue)
            model = self.defs[name]
            out += ["", f"## `{self.titles[name]}`", ""]
            if model.get("description"):
                out += [" ".join(str(model["description"]).split()), ""]
            out += self.table(model, self.paths[name])
            # a section's own subsections follow it, before the next top-level section
            self.queue = self.queue[waiting:] + self.queue[:waiting]
        return "\n".join(out) + "\n"


def render_reference_markdown() -> str:
    """The pilot.yaml reference in Markdown: every section and field, with type, default and description."""
    return _Renderer(pilot_json_schema()).render()
