"""Declared tool rules, compiled: which requests the offline reference model answers with a tool call.

pilot.yaml declares them on a ``reference`` model (``pilotgate.spec.sections.llm.ToolRule``); here each
becomes a compiled pattern and an argument template. A rule is matched case-insensitively anywhere in the
question (or in each retrieved passage, in order); its named groups fill the arguments. The same request
always gives the same call, so demos and tests can exercise tools offline.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from pilotgate.models.base import ModelRequest
from pilotgate.spec.sections.llm import ArgValue, ToolRule, template_fields


@dataclass(frozen=True)
class CompiledToolRule:
    """One tool rule, ready to match: a compiled pattern, the tool, and the argument templates."""

    pattern: re.Pattern[str]
    tool: str
    args: Mapping[str, ArgValue]
    match_on: Literal["question", "context"] = "question"

    @classmethod
    def from_spec(cls, rule: ToolRule) -> CompiledToolRule:
        """Compile a declared rule (already validated by the spec)."""
        return cls(re.compile(rule.when, re.IGNORECASE), rule.tool, dict(rule.args), rule.match_on)

    @classmethod
    def of(cls, when: str, tool: str, args: Mapping[str, ArgValue] | None = None) -> CompiledToolRule:
        """Build a rule in code, validated as pilot.yaml would validate it."""
        return cls.from_spec(ToolRule(when=when, tool=tool, args=dict(args or {})))

    def arguments(self, request: ModelRequest) -> dict[str, Any] | None:
        """The call's arguments when the rule matches the request, else None.

        A match whose `:number` or `:integer` group is not a number does not count: the rule stays silent
        rather than call a tool with an argument the declaration did not mean.
        """
        texts = [request.question] if self.match_on == "question" else [p.text for p in request.context]
        for text in texts:
            match = self.pattern.search(text)
            if match is None:
                continue
            rendered = _render(self.args, match)
            if rendered is not None:
                return rendered
        return None


def _render(args: Mapping[str, ArgValue], match: re.Match[str]) -> dict[str, Any] | None:
    rendered: dict[str, Any] = {}
    for key, template in args.items():
        if not isinstance(template, str):
            rendered[key] = template
            continue
        fields = template_fields(template)
        if len(fields) == 1 and fields[0][1] != "text":
            name, kind = fields[0]
            number = _number(match.group(name), kind)
            if number is None:
                return None
            rendered[key] = number
            continue
        pieces: list[str] = []
        for literal, name, _, _ in string.Formatter().parse(template):
            pieces.append(literal)
            if name is not None:
                group = match.group(name)
                if group is None:
                    return None
                pieces.append(group)
        rendered[key] = "".join(pieces)
    return rendered


def _number(text: str | None, kind: str) -> int | float | None:
    """Read a matched group as a JSON number: an integer when it is whole, a float otherwise."""
    if text is None:
        return None
    try:
        value = Decimal(text.strip().replace(",", ""))
    except InvalidOperation:
        return None
    if not value.is_finite():
        return None
    if value == value.to_integral_value():
        return int(value)
    return None if kind == "integer" else float(value)
