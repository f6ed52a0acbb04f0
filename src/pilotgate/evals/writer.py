"""Write generated eval cases as a YAML pack a person can read, review and edit.

`eval capture` and `eval redteam` both produce packs. Each case is validated as an ``EvalCase`` before it
is written, so a generated pack always loads with ``load_pack``; each carries comments saying where it
came from and which assertions were derived, because a generated case nobody can read is one nobody will
keep. Values are written as JSON scalars and flow mappings (valid YAML 1.2), so no string can change
meaning on the way (``no`` stays a string, a colon in an input stays text).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pilotgate.evals.cases import EvalCase

FIELD_ORDER: tuple[str, ...] = ("id", "input", "user", "category", "risk", "repeats", "threshold", "tags")
"""The order of a case's keys in a written pack (``assert`` comes last)."""


@dataclass(frozen=True)
class DraftCase:
    """A generated case: its fields, its assertions, and comment lines written above it."""

    fields: Mapping[str, Any]
    """``id``, ``input``, ``user``, ``category`` and optionally ``risk``, ``tags``, ``repeats``..."""
    assertions: Sequence[Mapping[str, Any]]
    notes: Sequence[str] = field(default=())
    """Comment lines: where the case came from, why each assertion is there."""

    @property
    def id(self) -> str:
        """The case's id."""
        return str(self.fields["id"])

    def validated(self) -> Any:
        """The case as an ``EvalCase`` (raises pydantic's ValidationError when a generator got it wrong)."""
        return EvalCase.model_validate({**self.fields, "assert": [dict(a) for a in self.assertions]})


def _scalar(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _flow(mapping: Mapping[str, Any]) -> str:
    """``{kind: "cites", source: "help-center"}``: keys bare (they are identifiers), values as JSON."""
    return "{" + ", ".join(f"{key}: {_scalar(value)}" for key, value in mapping.items()) + "}"


def _comment(lines: Iterable[str], indent: str) -> list[str]:
    out = []
    for line in lines:
        for part in str(line).splitlines() or [""]:
            out.append(f"{indent}# {part}".rstrip())
    return out


def render_pack(cases: Sequence[DraftCase], *, description: str, header: Sequence[str] = ()) -> str:
    """The YAML text of a pack holding *cases* (each validated first), with *header* as comments on top."""
    for case in cases:
        case.validated()
    lines = _comment(header, "")
    lines.append(f"description: {_scalar(description)}")
    lines.append("cases:")
    for case in cases:
        lines.extend(_comment(case.notes, "  "))
        keys = [k for k in FIELD_ORDER if k in case.fields] + sorted(
            k for k in case.fields if k not in FIELD_ORDER
        )
        for index, key in enumerate(keys):
            lead = "  - " if index == 0 else "    "
            lines.append(f"{lead}{key}: {_scalar(case.fields[key])}")
        lines.append("    assert:")
        lines.extend(f"      - {_flow(item)}" for item in case.assertions)
    return "\n".join(lines) + "\n"


__all__ = ["FIELD_ORDER", "DraftCase", "render_pack"]
