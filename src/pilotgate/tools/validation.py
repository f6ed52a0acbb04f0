"""Checking a tool call's arguments before policy sees them: JSON only, bounded, and schema-valid.

Arguments come from a model, and so from whatever text the model read: they are hostile until checked.
Three passes, cheapest first: (1) a walk that copies the value into plain JSON, refusing anything JSON
cannot hold (sets, bytes, NaN, integers past 2^53, non-string keys), NUL characters (PostgreSQL text
cannot store them), strings over ``max_string`` and nesting past ``max_depth``; (2) the total canonical
size against ``max_bytes``; (3) the tool's JSON Schema, with the ``jsonschema`` package: the full
standard (``$ref``, ``oneOf``, ``patternProperties``, ``additionalProperties``, formats' dialects)
rather than a hand-written subset that would pass what it does not understand.

Errors name the tool, the path (``$.items[2].sku``) and the rule that failed, never the value found:
an oversized or hostile value is not echoed into a message, a log line or a receipt.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from jsonschema import ValidationError
from jsonschema.exceptions import SchemaError
from jsonschema.validators import Draft202012Validator, validator_for

from pilotgate.errors import ToolArgumentsError
from pilotgate.receipts import canonical_bytes
from pilotgate.tools.adapters.base import clip

MAX_SAFE_INTEGER = 2**53 - 1
MAX_PROBLEMS = 3
"""How many problems one error lists."""

_SAFE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,39}$")


@dataclass(frozen=True)
class ArgumentLimits:
    """Bounds every tool's arguments must fit, whatever its schema says."""

    max_bytes: int = 16 * 1024
    """Total size of the canonical JSON of the arguments."""
    max_string: int = 4096
    """Characters in any one string (keys included)."""
    max_depth: int = 16
    """Nesting of objects and arrays."""


DEFAULT_LIMITS = ArgumentLimits()


@dataclass(frozen=True)
class Problem:
    """One reason the arguments were refused: where, and what rule failed (never the value)."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class ArgumentValidator:
    """One tool's compiled checks: build once per tool, call ``validate`` per call."""

    def __init__(self, tool: str, schema: Mapping[str, Any], limits: ArgumentLimits = DEFAULT_LIMITS) -> None:
        self.tool = tool
        self.limits = limits
        cls = validator_for(schema, default=Draft202012Validator)
        cls.check_schema(schema)  # SchemaError: the registry reports it as a config problem
        self._schema = cls(dict(schema))

    def validate(self, args: Any) -> dict[str, Any]:
        """A fresh plain copy of ``args`` that passed every check, or ToolArgumentsError.

        The copy is what the executor records and calls with, so a caller that mutates its own object
        afterwards cannot change a call that was already checked.
        """
        if not isinstance(args, Mapping):
            self._refuse([Problem("$", f"expected an object; got {_json_type(args)}")])
        problems: list[Problem] = []
        copy = _copy(args, "$", 0, self.limits, problems)
        if problems:
            self._refuse(problems)
        size = len(canonical_bytes(copy))
        if size > self.limits.max_bytes:
            self._refuse(
                [Problem("$", f"{size:,} bytes of arguments; the limit is {self.limits.max_bytes:,}")]
            )
        errors = sorted(self._schema.iter_errors(copy), key=lambda e: (len(e.absolute_path), str(e.path)))
        if errors:
            self._refuse([_explain(error) for error in errors])
        return copy

    def _refuse(self, problems: list[Problem]) -> None:
        shown = "; ".join(str(p) for p in problems[:MAX_PROBLEMS])
        more = f" (and {len(problems) - MAX_PROBLEMS} more)" if len(problems) > MAX_PROBLEMS else ""
        raise ToolArgumentsError(
            f"arguments for tool {self.tool!r} refused: {shown}{more}",
            tool=self.tool,
            problems=problems,
            hint="the call was not made and nothing was recorded; the arguments must fit the tool's "
            "`args` schema in pilot.yaml",
        )


def check_schema(schema: Mapping[str, Any]) -> str | None:
    """Why ``schema`` is not a valid JSON Schema, or None."""
    try:
        validator_for(schema, default=Draft202012Validator).check_schema(schema)
    except SchemaError as exc:
        return clip(exc.message, 200)
    return None


def _copy(value: Any, path: str, depth: int, limits: ArgumentLimits, problems: list[Problem]) -> Any:
    """Plain JSON copy of ``value``; each refusal is appended to ``problems`` (the walk goes on)."""
    if depth > limits.max_depth:
        problems.append(Problem(path, f"nested deeper than {limits.max_depth} levels"))
        return None
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        if abs(value) > MAX_SAFE_INTEGER:
            problems.append(Problem(path, "integer outside ±(2^53-1); send it as a string"))
        return int(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            problems.append(Problem(path, "NaN and infinities are not JSON"))
        return float(value)
    if isinstance(value, str):
        _check_string(value, path, limits, problems)
        return str(value)
    if isinstance(value, Mapping):
        copied: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                problems.append(Problem(path, f"an object key is {_json_type(key)}, not a string"))
                continue
            child = _child(path, key)
            _check_string(key, child, limits, problems)
            copied[key] = _copy(item, child, depth + 1, limits, problems)
        return copied
    if isinstance(value, list):
        return [_copy(item, f"{path}[{i}]", depth + 1, limits, problems) for i, item in enumerate(value)]
    problems.append(Problem(path, f"{_json_type(value)} is not a JSON value"))
    return None


def _check_string(text: str, path: str, limits: ArgumentLimits, problems: list[Problem]) -> None:
    if len(text) > limits.max_string:
        problems.append(Problem(path, f"{len(text):,} characters; the limit is {limits.max_string:,}"))
    elif "\x00" in text:
        problems.append(Problem(path, "contains a NUL character"))
    else:
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            problems.append(Problem(path, "contains an unpaired surrogate (not valid Unicode)"))


def _child(path: str, key: str) -> str:
    return f"{path}.{key}" if _SAFE_NAME.match(key) else f"{path}[{_shown_name(key)}]"


def _shown_name(name: str) -> str:
    """A property name fit for a message: quoted and short; a long or odd one is described, not shown."""
    if _SAFE_NAME.match(name):
        return repr(name)
    printable = name.isprintable() and len(name) <= 40
    return repr(name) if printable else f"<a {len(name)}-character name>"


def _path(error: ValidationError) -> str:
    path = "$"
    for part in error.absolute_path:
        path = f"{path}[{part}]" if isinstance(part, int) else _child(path, str(part))
    return path


def _explain(error: ValidationError) -> Problem:
    """The failed rule in words, built from the schema (ours) and the value's JSON type, not its content."""
    keyword, expected, instance = error.validator, error.validator_value, error.instance
    path = _path(error)
    if keyword == "type":
        wanted = " or ".join(expected) if isinstance(expected, list) else str(expected)
        return Problem(path, f"expected {wanted}; got {_json_type(instance)}")
    if keyword == "required" and isinstance(instance, Mapping):
        missing = [name for name in expected if name not in instance]
        return Problem(path, "missing required " + ", ".join(_shown_name(str(n)) for n in missing[:5]))
    if keyword == "additionalProperties" and isinstance(instance, Mapping):
        known = set(error.schema.get("properties", {}))
        patterns = [re.compile(p) for p in error.schema.get("patternProperties", {})]
        extra = [k for k in instance if k not in known and not any(p.search(k) for p in patterns)]
        names = ", ".join(_shown_name(k) for k in extra[:3]) + (" …" if len(extra) > 3 else "")
        return Problem(path, f"properties not allowed by the schema: {names}")
    if keyword in ("enum", "const"):
        return Problem(path, "not one of the values the schema allows")
    if keyword in ("maxLength", "minLength", "maxItems", "minItems", "maxProperties", "minProperties"):
        bound = "at most" if keyword.startswith("max") else "at least"
        unit = {"Length": "characters", "Items": "items", "Properties": "properties"}[keyword[3:]]
        return Problem(path, f"must have {bound} {expected} {unit}")
    if keyword in ("maximum", "exclusiveMaximum", "minimum", "exclusiveMinimum"):
        relation = {
            "maximum": "at most",
            "exclusiveMaximum": "less than",
            "minimum": "at least",
            "exclusiveMinimum": "greater than",
        }[keyword]
        return Problem(path, f"must be {relation} {expected}")
    if keyword == "pattern":
        return Problem(path, f"does not match the pattern {clip(str(expected), 80)}")
    if keyword in ("oneOf", "anyOf"):
        return Problem(path, f"matches none of the shapes `{keyword}` allows")
    return Problem(path, f"fails the schema's `{keyword}` rule")


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Mapping):
        return "object"
    if isinstance(value, list):
        return "array"
    return f"a Python {type(value).__name__}"
