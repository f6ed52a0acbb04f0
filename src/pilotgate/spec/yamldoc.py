"""Read YAML keeping node positions, and hand pydantic plain Python built from it.

ruamel.yaml's round-trip loader is YAML 1.2 (`no` stays a string), refuses duplicate keys, and keeps
`.lc` positions on every mapping and list; pydantic gets plain dicts, lists and scalars.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq, TaggedScalar
from ruamel.yaml.constructor import DuplicateKeyError
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.scalarbool import ScalarBoolean

from pilotgate.errors import ConfigError, ConfigIssue

_DUPLICATE_KEY = re.compile(r'found duplicate key "(.*)" with value "')
_STANDARD_TAG = "tag:yaml.org,2002:"


def parse_yaml(text: str, filename: str) -> Any:
    """The document's nodes (CommentedMap, CommentedSeq, scalars), or a ConfigError at the bad spot."""
    yaml = YAML(typ="rt")
    try:
        return yaml.load(text)
    except DuplicateKeyError as exc:
        match = _DUPLICATE_KEY.search(str(exc.problem or ""))
        key = match.group(1) if match else "?"
        raise ConfigError(
            [_marked(filename, exc, "", f'duplicate key "{key}"', "each key may appear once in a mapping")]
        ) from None
    except MarkedYAMLError as exc:
        hint = None
        if exc.context and exc.context_mark is not None and exc.context_mark is not exc.problem_mark:
            start = exc.context_mark
            hint = f"{exc.context}, which started at line {start.line + 1}, column {start.column + 1}"
        problem = exc.problem or exc.context or "cannot be parsed"
        raise ConfigError([_marked(filename, exc, "", f"YAML syntax error: {problem}", hint)]) from None
    except YAMLError as exc:
        raise ConfigError([ConfigIssue(filename, None, None, "", f"YAML error: {exc}")]) from None


def _marked(filename: str, exc: MarkedYAMLError, field: str, message: str, hint: str | None) -> ConfigIssue:
    mark = exc.problem_mark or exc.context_mark
    line = mark.line + 1 if mark is not None else None
    column = mark.column + 1 if mark is not None else None
    return ConfigIssue(filename, line, column, field, message, hint)


def _tag(node: Any) -> str | None:
    tag = getattr(node, "tag", None)
    value = getattr(tag, "value", None)
    if isinstance(value, str) and not value.startswith(_STANDARD_TAG):
        return value
    return None


def to_plain(
    node: Any, on_tag: list[tuple[Any, str]] | None = None, parent: Any = None, key: Any = None
) -> Any:
    """Plain dicts, lists, str, int, float, bool and None from ruamel's node types.

    A custom tag (`!env FOO`) is noted in *on_tag* as (parent, key) and read as its plain value, so
    the caller can report it at its position.
    """
    if on_tag is not None and _tag(node) is not None:
        on_tag.append((parent, key))
    if isinstance(node, CommentedMap):
        return {to_plain(k): to_plain(v, on_tag, node, k) for k, v in node.items()}
    if isinstance(node, CommentedSeq):
        return [to_plain(v, on_tag, node, i) for i, v in enumerate(node)]
    if isinstance(node, TaggedScalar):
        return to_plain(node.value)
    if isinstance(node, ScalarBoolean | bool):
        return bool(node)
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    if isinstance(node, str):
        return str(node)
    if isinstance(node, datetime):
        return datetime.fromisoformat(node.isoformat())
    if isinstance(node, date):
        return date(node.year, node.month, node.day)
    return node
