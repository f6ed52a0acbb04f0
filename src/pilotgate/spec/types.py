"""Value types shared by the pilot.yaml sections: names, durations, money, secret references.

Each type validates once, here, with a message that says what was expected and what was found, so the
loader can print it as is. Secret-shaped fields never echo their input: a mistyped reference may be a key.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import BeforeValidator, PlainSerializer, StringConstraints, WithJsonSchema
from pydantic_core import PydanticCustomError

SLUG_PATTERN = r"^[a-z0-9][a-z0-9-]{0,62}$"
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
USER_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}$"
TOOL_PATTERN = r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$"
ESCALATION_PATTERN = r"^(group|user):[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}$"

PATTERN_DESCRIPTIONS: dict[str, str] = {
    SLUG_PATTERN: (
        "a slug: lowercase letters, digits and '-', starting with a letter or digit, at most 63 long"
    ),
    NAME_PATTERN: (
        "a name: letters, digits, '.', '_' and '-', starting with a letter or digit, at most 64 long"
    ),
    USER_PATTERN: "a user name: letters, digits, '.', '_', '@', '+' and '-', starting with a letter or digit",
    TOOL_PATTERN: "a tool name: letters, digits, '_' and '-', starting with a letter or '_', at most 64 long",
    ESCALATION_PATTERN: "group:NAME or user:NAME",
}
"""Plain words for each pattern, so an error never shows a bare regular expression."""


def describe(value: Any) -> str:
    """Render a found value for an error message: short, quoted like YAML would show it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | Decimal):
        return str(value)
    if isinstance(value, str):
        shown = value if len(value) <= 60 else value[:57] + "..."
        return json.dumps(shown, ensure_ascii=False)
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, date):
        return f"the date {value.isoformat()}"
    return f"a {type(value).__name__}"


# --- names -----------------------------------------------------------------------------------------

Slug = Annotated[str, StringConstraints(pattern=SLUG_PATTERN)]
Name = Annotated[str, StringConstraints(pattern=NAME_PATTERN)]
GroupName = Annotated[str, StringConstraints(pattern=NAME_PATTERN)]
UserName = Annotated[str, StringConstraints(pattern=USER_PATTERN)]
ToolName = Annotated[str, StringConstraints(pattern=TOOL_PATTERN)]
EscalationTarget = Annotated[str, StringConstraints(pattern=ESCALATION_PATTERN)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
"""A non-empty string (surrounding whitespace, such as a folded scalar's newline, is dropped)."""
Expression = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
"""A CEL expression; compiled and checked by the package that evaluates it."""


# --- durations -------------------------------------------------------------------------------------

_DURATION_RE = re.compile(r"^([0-9]+)(s|m|h|d|w)$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(value: Any) -> timedelta:
    """Read `90d`, `4h`, `30m`, `20s`, `2w` or a whole number of seconds; always positive."""
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, int) and not isinstance(value, bool):
        seconds = value
    elif isinstance(value, str) and (match := _DURATION_RE.match(value)):
        seconds = int(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    else:
        raise PydanticCustomError(
            "pilotgate_duration",
            "expected a duration like 90d, 4h, 30m, 20s or a whole number of seconds; got {got}",
            {"got": describe(value)},
        )
    if seconds <= 0:
        raise PydanticCustomError(
            "pilotgate_duration", "expected a duration above zero; got {got}", {"got": describe(value)}
        )
    return timedelta(seconds=seconds)


def format_duration(value: timedelta) -> str:
    """Write a duration back in the largest unit that divides it, the way pilot.yaml spells it."""
    seconds = int(value.total_seconds())
    for unit in ("w", "d", "h", "m"):
        if seconds % _UNIT_SECONDS[unit] == 0:
            return f"{seconds // _UNIT_SECONDS[unit]}{unit}"
    return f"{seconds}s"


Duration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str, when_used="json"),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": r"^[0-9]+(s|m|h|d|w)$"},
                {"type": "integer", "minimum": 1},
            ]
        }
    ),
]
"""A positive duration: `90d`, `4h`, `30m`, `20s`, `2w`, or an integer number of seconds."""


# --- money -----------------------------------------------------------------------------------------


def parse_amount(value: Any) -> Decimal:
    """Read a non-negative decimal from a string or a number; a YAML float goes through its shortest text."""
    if isinstance(value, Decimal):
        amount = value
    elif isinstance(value, int) and not isinstance(value, bool):
        amount = Decimal(value)
    elif isinstance(value, float):
        amount = Decimal(repr(value))
    elif isinstance(value, str):
        try:
            amount = Decimal(value.strip())
        except InvalidOperation:
            amount = Decimal("NaN")
    else:
        amount = Decimal("NaN")
    if not amount.is_finite():
        raise PydanticCustomError(
            "pilotgate_amount", 'expected an amount like "0.05" or 12; got {got}', {"got": describe(value)}
        )
    if amount < 0:
        raise PydanticCustomError(
            "pilotgate_amount", "expected an amount of zero or more; got {got}", {"got": describe(value)}
        )
    return amount


Amount = Annotated[
    Decimal,
    BeforeValidator(parse_amount),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": r"^[0-9]+(\.[0-9]+)?$"},
                {"type": "number", "minimum": 0},
            ]
        }
    ),
]
"""A non-negative decimal (money, minutes): a string like `"0.05"` or a number; never held as a float."""


# --- secret references -----------------------------------------------------------------------------

_SECRET_FORMS = {
    "env": (re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$"), "env:NAME (NAME: letters, digits and _)"),
    "file": (re.compile(r"^\S.*$"), "file:PATH"),
    "keyring": (re.compile(r"^[^/\s]+/[^/\s]+$"), "keyring:SERVICE/NAME"),
    "vault": (re.compile(r"^[^#\s]+#[^#\s]+$"), "vault:PATH#KEY"),
}
REFERENCE_PATTERN = r"^(env:[A-Za-z_][A-Za-z0-9_]*|file:\S.*|keyring:[^/\s]+/[^/\s]+|vault:[^#\s]+#[^#\s]+)$"
REFERENCE_FORMS = "env:NAME, file:PATH, keyring:SERVICE/NAME or vault:PATH#KEY"


@dataclass(frozen=True)
class SecretRef:
    """A parsed secret reference: where to read the secret from, never the secret itself."""

    scheme: str
    """One of env, file, keyring, vault."""
    target: str
    """What follows the scheme: a variable name, a path, `SERVICE/NAME` or `PATH#KEY`."""


def is_secret_reference(value: str) -> bool:
    """True when *value* has the shape of one of the four secret reference forms."""
    scheme, sep, rest = value.partition(":")
    form = _SECRET_FORMS.get(scheme)
    return bool(sep) and form is not None and form[0].match(rest) is not None


def parse_secret_ref(value: str) -> SecretRef:
    """Split a validated reference into scheme and target; raise ValueError on anything else."""
    if not is_secret_reference(value):
        raise ValueError(f"not a secret reference; expected {REFERENCE_FORMS}")
    scheme, _, rest = value.partition(":")
    return SecretRef(scheme=scheme, target=rest)


def check_secret_reference(value: Any) -> str:
    """Accept only a reference; the error never repeats the input, which may be the secret itself."""
    if not isinstance(value, str):
        raise PydanticCustomError(
            "pilotgate_secret_ref",
            "expected a secret reference ({forms}); got {got}",
            {
                "forms": REFERENCE_FORMS,
                "got": "a number" if isinstance(value, int | float) else describe(value),
            },
        )
    scheme, sep, _ = value.partition(":")
    if sep and scheme in _SECRET_FORMS and not is_secret_reference(value):
        raise PydanticCustomError(
            "pilotgate_secret_ref",
            "malformed {scheme}: reference; expected {form}",
            {"scheme": scheme, "form": _SECRET_FORMS[scheme][1]},
        )
    if not is_secret_reference(value):
        raise PydanticCustomError(
            "pilotgate_secret_value",
            "expected a secret reference ({forms}), not a secret value",
            {"forms": REFERENCE_FORMS},
        )
    return value


SecretReference = Annotated[
    str,
    BeforeValidator(check_secret_reference),
    WithJsonSchema({"type": "string", "pattern": REFERENCE_PATTERN}),
]
"""Where a secret lives: `env:NAME`, `file:PATH`, `keyring:SERVICE/NAME` or `vault:PATH#KEY`."""


# --- locations: URLs and paths ----------------------------------------------------------------------


def check_http_url(value: Any) -> str:
    """Accept an absolute http(s) URL with a host."""
    if isinstance(value, str):
        parts = urlsplit(value.strip())
        if parts.scheme in ("http", "https") and parts.hostname:
            return value.strip()
    raise PydanticCustomError(
        "pilotgate_url", "expected an http:// or https:// URL; got {got}", {"got": describe(value)}
    )


HttpUrl = Annotated[
    str, BeforeValidator(check_http_url), WithJsonSchema({"type": "string", "pattern": r"^https?://"})
]
"""An absolute `http://` or `https://` URL, kept as written."""


def check_database_url(value: Any) -> str:
    """Accept a secret reference or a database URL that carries no password."""
    if isinstance(value, str) and is_secret_reference(value):
        return value
    if not isinstance(value, str) or "://" not in value:
        raise PydanticCustomError(
            "pilotgate_db_url",
            "expected a database URL like postgresql://host/db or a secret reference ({forms})",
            {"forms": REFERENCE_FORMS},
        )
    try:
        password = urlsplit(value).password
    except ValueError:
        password = None
    if password:
        raise PydanticCustomError("pilotgate_url_password", "the database URL carries a password")
    return value


DatabaseUrl = Annotated[
    str,
    BeforeValidator(check_database_url),
    WithJsonSchema(
        {"type": "string", "pattern": r"^([A-Za-z][A-Za-z0-9+.-]*://|env:|file:|keyring:|vault:)"}
    ),
]
"""A database URL without a password, or a secret reference holding the URL."""


def check_witness(value: Any) -> str:
    """Accept a file path or an http(s) URL; refuse other URL schemes rather than read them as paths."""
    if isinstance(value, str) and value.strip():
        text = value.strip()
        scheme = urlsplit(text).scheme if "://" in text else ""
        if not scheme:
            return text
        if scheme in ("http", "https"):
            return check_http_url(text)
    raise PydanticCustomError(
        "pilotgate_witness",
        "expected a file path or an http:// or https:// URL; got {got}",
        {"got": describe(value)},
    )


WitnessLocation = Annotated[
    str,
    BeforeValidator(check_witness),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": r"^https?://"},
                {"type": "string", "minLength": 1, "not": {"pattern": r"^[A-Za-z][A-Za-z0-9+.-]*://"}},
            ]
        }
    ),
]
"""Where checkpoints are also written: a file path (relative to pilot.yaml's folder) or an http(s) URL."""


def check_alert_target(value: Any) -> str:
    """Accept `log`, a secret reference (for webhook URLs that carry tokens) or an http(s) URL."""
    if value == "log" or (isinstance(value, str) and is_secret_reference(value)):
        return value
    if isinstance(value, str) and value.startswith(("http://", "https://")):
        return check_http_url(value)
    raise PydanticCustomError(
        "pilotgate_alert_target",
        "expected log, an http(s) URL or a secret reference holding one; got {got}",
        {"got": describe(value) if not isinstance(value, str) or len(value) < 40 else "a long string"},
    )


AlertTarget = Annotated[
    str,
    BeforeValidator(check_alert_target),
    WithJsonSchema(
        {
            "anyOf": [
                {"const": "log"},
                {"type": "string", "pattern": r"^https?://"},
                {"type": "string", "pattern": REFERENCE_PATTERN},
            ]
        }
    ),
]
"""Where an alert goes: `log`, an http(s) webhook URL, or a secret reference to one."""


_PYTHON_ADAPTER = re.compile(r"^python:[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")


def check_adapter(value: Any) -> str:
    """Accept `python:MODULE:ATTRIBUTE`, an http(s) URL, or `mcp:stdio:COMMAND ARGS#TOOL` / `mcp:http://HOST/mcp#TOOL`."""
    if isinstance(value, str):
        if _PYTHON_ADAPTER.match(value):
            return value
        if value.startswith(("http://", "https://")):
            return check_http_url(value)
        if value.startswith("mcp:") and len(value) > len("mcp:"):
            return value
    raise PydanticCustomError(
        "pilotgate_adapter",
        "expected python:MODULE:ATTRIBUTE, an http(s) URL or mcp:stdio:COMMAND#TOOL "
        "/ mcp:http://HOST/mcp#TOOL; got {got}",
        {"got": describe(value)},
    )


Adapter = Annotated[
    str,
    BeforeValidator(check_adapter),
    WithJsonSchema({"type": "string", "pattern": r"^(python:|https?://|mcp:)"}),
]
"""How a tool is called: `python:MODULE:ATTRIBUTE`, an http(s) URL, or `mcp:stdio:COMMAND ARGS#TOOL` / `mcp:http://HOST/mcp#TOOL`."""
