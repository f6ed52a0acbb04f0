"""Models and how tasks are routed across them."""

from __future__ import annotations

import re
import string
from datetime import timedelta
from typing import Annotated, Literal

from pydantic import Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from pilotgate.spec.base import SpecModel
from pilotgate.spec.types import Amount, Duration, HttpUrl, Name, SecretReference, Text, ToolName, describe

ARG_CONVERSIONS = ("text", "number", "integer")
"""How a `{group:conversion}` placeholder turns matched text into an argument value."""


class Price(SpecModel):
    """A model's price, for models genai-prices does not know; amounts per million tokens."""

    input_per_mtok: Amount
    """Price of one million input tokens."""
    output_per_mtok: Amount
    """Price of one million output tokens."""


class OpenAICompatibleModel(SpecModel):
    """A model behind any OpenAI-compatible endpoint (OpenAI, vLLM, Ollama, llama.cpp)."""

    name: Name
    """The model's unique name in this pilot; routing and evals refer to it."""
    provider: Literal["openai-compatible"]
    """`openai-compatible`: an endpoint speaking the OpenAI chat completions protocol."""
    base_url: HttpUrl
    """The endpoint's base URL, e.g. `http://127.0.0.1:8000/v1`."""
    model: Text
    """The model id the endpoint expects."""
    api_key: SecretReference | None = None
    """Where the API key lives (`env:NAME`, `file:PATH`, `keyring:SERVICE/NAME`, `vault:PATH#KEY`)."""
    timeout: Duration = timedelta(seconds=60)
    """How long one call may take before it counts as failed."""
    price: Price | None = None
    """The price to charge; unset: looked up in genai-prices by model id."""


ArgValue = str | int | float | bool | None
"""One declared argument value: a template string, or a number, boolean or null passed as written."""


def template_fields(template: str) -> list[tuple[str, str]]:
    """The `(group, conversion)` of each `{group}` or `{group:conversion}` in *template*; ValueError if bad.

    `{{` and `}}` stand for literal braces. A conversion other than `text` must fill the whole value, since
    a number cannot sit inside a string.
    """
    fields: list[tuple[str, str]] = []
    parts = list(string.Formatter().parse(template))
    for _, field_name, spec, conversion in parts:
        if field_name is None:
            continue
        if conversion or not field_name.isidentifier():
            raise ValueError(f"{{{field_name}}} is not a placeholder; write {{group}} or {{group:number}}")
        kind = spec or "text"
        if kind not in ARG_CONVERSIONS:
            raise ValueError(f"unknown conversion {kind!r}; expected one of {', '.join(ARG_CONVERSIONS)}")
        if kind != "text" and (len(parts) != 1 or parts[0][0]):
            raise ValueError(f"{{{field_name}:{kind}}} must be the whole value, not part of a string")
        fields.append((field_name, kind))
    return fields


class ToolRule(SpecModel):
    """A request the reference model answers with a tool call, so tools can be exercised offline."""

    when: Text
    """A regular expression (Python syntax, matched case-insensitively anywhere in the text); its named
    groups `(?P<name>...)` fill the arguments."""
    tool: ToolName
    """The tool to call. The rule fires only when the task offers this tool and has not called it yet."""
    args: dict[str, ArgValue] = Field(default={})
    """The call's arguments: `"{name}"` is replaced by the named group's text, `"{name:number}"` and
    `"{name:integer}"` by it as a number; other values are passed as written."""
    match_on: Literal["question", "context"] = "question"
    """Where to look: the task's `question`, or the retrieved `context` (to show what a model that obeys
    an instruction planted in a document would ask for)."""

    @field_validator("when")
    @classmethod
    def _compiles(cls, value: str) -> str:
        """A pattern that does not compile is reported at load time, with the reason."""
        try:
            re.compile(value, re.IGNORECASE)
        except re.error as exc:
            raise PydanticCustomError(
                "pilotgate_regex", "not a valid regular expression: {reason}", {"reason": str(exc)}
            ) from None
        return value

    @field_validator("args")
    @classmethod
    def _placeholders_name_groups(
        cls, value: dict[str, ArgValue], info: ValidationInfo
    ) -> dict[str, ArgValue]:
        """Every placeholder names a group of `when`, so a rule never fires with a hole in its arguments."""
        when = info.data.get("when")
        if when is None:
            return value
        groups = set(re.compile(when, re.IGNORECASE).groupindex)
        for key, template in value.items():
            if not isinstance(template, str):
                continue
            try:
                fields = template_fields(template)
            except ValueError as exc:
                raise PydanticCustomError(
                    "pilotgate_tool_rule", "{key}: {reason}", {"key": key, "reason": str(exc)}
                ) from None
            for name, _ in fields:
                if name not in groups:
                    raise PydanticCustomError(
                        "pilotgate_tool_rule",
                        "{key}: {got} names no group of `when` (its named groups: {known})",
                        {
                            "key": key,
                            "got": describe("{" + name + "}"),
                            "known": ", ".join(sorted(groups)) or "none",
                        },
                    )
        return value


class ReferenceModel(SpecModel):
    """The offline reference model: deterministic, no keys, no network; the default when none is declared."""

    name: Name
    """The model's unique name in this pilot."""
    provider: Literal["reference"]
    """`reference`: pilotgate's built-in offline model."""
    tool_rules: list[ToolRule] = Field(default=[])
    """Requests it answers with a tool call instead of an extract, first matching rule first; after the
    tool's result arrives it answers from the result."""


ModelSpec = Annotated[OpenAICompatibleModel | ReferenceModel, Field(discriminator="provider")]
"""One declared model; `provider` picks the shape."""


class Routing(SpecModel):
    """Which model answers first and which take over when it fails."""

    primary: Name | None = None
    """The model that answers first. Unset: the first declared model."""
    fallbacks: list[Name] = Field(default=[])
    """Models tried in order when the primary fails after its retries."""
    retries: int = Field(default=1, ge=0, le=10)
    """Retries per model before moving to the next."""


DegradedMode = Literal["escalate", "answer_from_fallback"]
