"""Turn pydantic errors and cross-section problems into `ConfigIssue`s a person can act on.

Each message says what was expected and what was found, at the line of the key that holds it. Inputs of
secret-shaped fields and of unknown keys are never repeated: they may be secrets.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from pilotgate.errors import ConfigIssue
from pilotgate.spec.checks import Loc, Problem, SpecReferenceError, format_loc, suggest
from pilotgate.spec.locate import document_loc, fields_at, locate, union_tags
from pilotgate.spec.types import PATTERN_DESCRIPTIONS, describe

_EXPECTED = {
    "string_type": "a string",
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "list_type": "a list",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
}
_BOUNDS = {"greater_than": ">", "greater_than_equal": ">=", "less_than": "<", "less_than_equal": "<="}
_KEEP_OUT_HINT = "keep secrets out of pilot.yaml: put the value in an environment variable and write env:NAME"
_URL_HINT = "put the whole URL in a secret and write url: env:NAME"


def _quoted_options(expected: str) -> list[str]:
    """Pull the options out of pydantic's `'low', 'medium' or 'high'`."""
    return re.findall(r"'([^']*)'", expected)


def _unknown_key_hint(root: type[BaseModel], loc: Loc, key: Any) -> str | None:
    fields = fields_at(root, loc[:-1])
    if not fields.names:
        return None
    close = suggest(str(key), fields.names)
    if close:
        return close
    if fields.discriminator:
        elsewhere = sorted({name for _, names in fields.others for name in names} - set(fields.names))
        meant = key if key in elsewhere else _closest(str(key), elsewhere)
        if meant is not None:
            kinds = ", ".join(str(tag) for tag, names in fields.others if meant in names)
            lead = "" if meant == key else f'did you mean "{meant}"? '
            return f'{lead}"{meant}" applies only to {fields.discriminator}: {kinds}'
    return "expected one of: " + ", ".join(fields.names)


def _closest(word: str, choices: list[str]) -> str | None:
    match = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return match[0] if match else None


def _missing_hint(root: type[BaseModel], loc: Loc) -> str | None:
    fields = fields_at(root, loc[:-1])
    name = loc[-1]
    if fields.model is not None and isinstance(name, str) and name in fields.model.model_fields:
        return fields.model.model_fields[name].description
    return None


def _message(root: type[BaseModel], error: ErrorDetails) -> tuple[Loc, str, str | None, bool]:
    """(document location, message, hint, points at the parent mapping) for one pydantic error."""
    kind = error["type"]
    loc = tuple(error["loc"])
    ctx: dict[str, Any] = dict(error.get("ctx") or {})
    found = error.get("input")
    where = document_loc(root, loc)
    if kind == "missing":
        return where, f'missing required field "{where[-1]}"', _missing_hint(root, loc), True
    if kind == "union_tag_not_found":
        field = str(ctx.get("discriminator", "")).strip("'")
        tags = ", ".join(str(tag) for tag in union_tags(root, loc))
        hint = f"{field} is one of {tags}"
        keys = [str(key) for key in found] if isinstance(found, dict) else []
        typo = difflib.get_close_matches(field, keys, n=1, cutoff=0.6)
        if typo:
            hint = f'found "{typo[0]}": did you mean "{field}"? {hint}'
        return (*where, field), f'missing required field "{field}"', hint, True
    if kind == "union_tag_invalid":
        field = str(ctx.get("discriminator", "")).strip("'")
        options = [str(tag) for tag in union_tags(root, loc)]
        tag = str(ctx.get("tag", ""))
        message = f"expected one of {', '.join(options)}; got {describe(tag)}"
        return (*where, field), message, suggest(tag, options), False
    if kind == "extra_forbidden":
        return where, "unknown key", _unknown_key_hint(root, loc, loc[-1]), False
    if kind == "literal_error":
        options = _quoted_options(str(ctx.get("expected", "")))
        hint = suggest(found, options) if isinstance(found, str) else None
        return where, f"expected one of {', '.join(options)}; got {describe(found)}", hint, False
    if kind == "pilotgate_secret_value":
        return where, error["msg"], _KEEP_OUT_HINT, False
    if kind == "pilotgate_url_password":
        return where, error["msg"], _URL_HINT, False
    if kind.startswith("pilotgate_"):
        return where, error["msg"], None, False
    if kind == "string_pattern_mismatch":
        pattern = str(ctx.get("pattern", ""))
        wanted = PATTERN_DESCRIPTIONS.get(pattern, f"a string matching {pattern}")
        return where, f"expected {wanted}; got {describe(found)}", None, False
    if kind in _EXPECTED:
        hint = (
            "quote it to make it a string"
            if kind == "string_type" and not isinstance(found, dict | list)
            else None
        )
        return where, f"expected {_EXPECTED[kind]}; got {describe(found)}", hint, False
    if kind in _BOUNDS:
        bound = next(iter(ctx.values()), "?")
        return where, f"expected a number {_BOUNDS[kind]} {bound}; got {describe(found)}", None, False
    if kind == "string_too_short":
        return where, f"expected a non-empty string; got {describe(found)}", None, False
    if kind == "too_short":
        return where, f"expected at least {ctx.get('min_length')} item(s); got {describe(found)}", None, False
    if kind == "value_error":
        return where, str(error["msg"]).removeprefix("Value error, "), None, False
    text = str(error["msg"])
    return where, f"{text[:1].lower()}{text[1:]}; got {describe(found)}", None, False


def _issue(
    document: Any, filename: str, loc: Loc, message: str, hint: str | None, *, parent: bool
) -> ConfigIssue:
    """An issue at *loc*; for a missing field, placed at and named by the mapping that lacks it."""
    shown = loc[:-1] if parent else loc
    place = locate(document, shown)
    return ConfigIssue(
        file=filename,
        line=place.line,
        column=place.column,
        field=format_loc(shown),
        message=message,
        hint=hint,
    )


def problem_issues(document: Any, filename: str, problems: Iterable[Problem]) -> list[ConfigIssue]:
    """Cross-section problems (already in document locations) as issues."""
    return [_issue(document, filename, p.loc, p.message, p.hint, parent=False) for p in problems]


def validation_issues(
    root: type[BaseModel], error: ValidationError, document: Any, filename: str
) -> list[ConfigIssue]:
    """Every error in *error* as an issue, in file order."""
    issues: list[ConfigIssue] = []
    for detail in error.errors(include_url=False):
        cause = (detail.get("ctx") or {}).get("error")
        if detail["type"] == "value_error" and isinstance(cause, SpecReferenceError):
            issues += problem_issues(document, filename, cause.problems)
            continue
        loc, message, hint, parent = _message(root, detail)
        issues.append(_issue(document, filename, loc, message, hint, parent=parent))
    return in_file_order(issues)


def in_file_order(issues: Iterable[ConfigIssue]) -> list[ConfigIssue]:
    """Sort by line and column; issues without a position go last, in their given order."""
    return sorted(
        issues,
        key=lambda i: (
            i.line if i.line is not None else math.inf,
            i.column if i.column is not None else math.inf,
        ),
    )
