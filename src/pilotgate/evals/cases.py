"""Eval cases and their assertions, as declared in an eval pack (pydantic, unknown keys refused).

An assertion is a mapping with a ``kind`` (``contains``, ``regex``, ``judge``, ...) and that kind's own
fields; an unknown kind is reported at its line with a did-you-mean, like any other pilot.yaml mistake.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import Field, create_model, field_validator, model_validator

from pilotgate.spec.base import SpecModel
from pilotgate.spec.types import Amount, Name, Text, ToolName, UserName

Category = Literal[
    "golden",
    "adversarial",
    "refusal",
    "escalation",
    "regression",
    "uncertainty",
    "stale",
    "conflicting",
    "missing",
    "restricted",
]
"""What a case tests: the happy path, attacks, refusals, escalations, regressions, uncertainty, and the data
cases (stale, conflicting, missing and restricted content)."""

CATEGORIES: tuple[str, ...] = Category.__args__  # type: ignore[attr-defined]


class Contains(SpecModel):
    """The answer contains a text."""

    kind: Literal["contains"]
    value: Text
    """The text to find."""
    case_sensitive: bool = False
    """Match case exactly."""


class NotContains(SpecModel):
    """The answer does not contain a text."""

    kind: Literal["not_contains"]
    value: Text
    """The text that must not appear."""
    case_sensitive: bool = False
    """Match case exactly."""


class Regex(SpecModel):
    """The answer matches a regular expression (Python syntax, searched anywhere in the answer)."""

    kind: Literal["regex"]
    pattern: Text
    """The expression."""

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a valid regular expression: {exc}") from None
        return value


class JsonSchema(SpecModel):
    """The answer is JSON valid against a JSON Schema."""

    kind: Literal["json_schema"]
    value: dict[str, Any]
    """The JSON Schema the parsed answer must satisfy."""


class Cites(SpecModel):
    """The answer cites a source, a document of a source, or both."""

    kind: Literal["cites"]
    source: Name | None = None
    """The source that must be cited."""
    document: Text | None = None
    """The document (its uri, or the end of it) that must be cited."""

    @model_validator(mode="after")
    def _something(self) -> Cites:
        if self.source is None and self.document is None:
            raise ValueError("cites needs a source, a document, or both")
        return self


class Refuses(SpecModel):
    """The task refuses (``expect: false``: it must not refuse)."""

    kind: Literal["refuses"]
    expect: bool = True
    """Whether a refusal is expected."""


class Escalates(SpecModel):
    """The task ends escalated to a person (``expect: false``: it must not escalate)."""

    kind: Literal["escalates"]
    expect: bool = True
    """Whether an escalation is expected."""


class ToolCalled(SpecModel):
    """The model asked for a tool, with arguments that include the given ones."""

    kind: Literal["tool_called"]
    tool: ToolName
    """The tool's name."""
    args: dict[str, Any] = Field(default={})
    """Arguments the call must include (each key equal; extra arguments allowed)."""
    executed: bool | None = None
    """When set: the call must (true) or must not (false) have been executed."""


class ToolNotCalled(SpecModel):
    """The model did not ask for a tool (or not with the given arguments)."""

    kind: Literal["tool_not_called"]
    tool: ToolName
    """The tool's name."""
    args: dict[str, Any] | None = None
    """When set: only a call including these arguments counts."""


class NoRestrictedLeak(SpecModel):
    """Nothing restricted reaches the answer: no canary string, nothing from a forbidden source."""

    kind: Literal["no_restricted_leak"]
    canaries: list[Text] = Field(default=[])
    """Strings that must appear nowhere in the answer or the tool arguments."""
    sources: list[Name] = Field(default=[])
    """Sources the answer must not cite or retrieve from."""
    unreadable: bool = True
    """Also forbid every source the case's user may not read (from pilot.yaml's `read` lists)."""


class MaxCost(SpecModel):
    """The task cost at most this much; an unknown cost fails."""

    kind: Literal["max_cost"]
    value: Amount
    """The most the task may cost, e.g. "0.01"."""


class MaxLatency(SpecModel):
    """The task took at most this many milliseconds."""

    kind: Literal["max_latency"]
    ms: float = Field(gt=0)
    """The most the task may take, in milliseconds."""


class JudgeAssertion(SpecModel):
    """A judge model grades the answer against a rubric; its reasoning is recorded."""

    kind: Literal["judge"]
    rubric: Text
    """What a good answer does, in plain words."""
    min_score: float = Field(default=0.5, ge=0, le=1)
    """The lowest score (0 to 1) that passes, besides the judge saying it passes."""


Assertion = Annotated[
    Contains
    | NotContains
    | Regex
    | JsonSchema
    | Cites
    | Refuses
    | Escalates
    | ToolCalled
    | ToolNotCalled
    | NoRestrictedLeak
    | MaxCost
    | MaxLatency
    | JudgeAssertion,
    Field(discriminator="kind"),
]
"""One assertion, chosen by its ``kind``."""

ASSERTION_KINDS: tuple[str, ...] = (
    "contains",
    "not_contains",
    "regex",
    "json_schema",
    "cites",
    "refuses",
    "escalates",
    "tool_called",
    "tool_not_called",
    "no_restricted_leak",
    "max_cost",
    "max_latency",
    "judge",
)

CASE_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"
CaseId = Annotated[str, Field(pattern=CASE_ID_PATTERN)]


class _CaseFields(SpecModel):
    """One eval case: a question, the user it runs as, its category and what must hold of the task."""

    id: CaseId
    """Unique across the pilot's packs; results and comparisons are keyed by it."""
    input: Text
    """The question or request, as the user would send it."""
    user: UserName
    """A user declared in pilot.yaml; the case runs with that user's permissions."""
    category: Category
    """What the case tests."""
    repeats: int | None = Field(default=None, ge=1, le=100)
    """How many times to run the case. Unset: pilot.yaml's `evals.repeats`."""
    threshold: int | None = Field(default=None, ge=1, le=100)
    """How many runs must pass for the case to pass (e.g. 4 of 5). Unset: every run."""
    human_label: bool | None = None
    """A person's verdict on the judged assertions of this case, to measure the judge against."""
    risk: Text | None = None
    """The risk the case tests (e.g. an OWASP LLM Top 10 entry), for adversarial cases."""
    tags: list[Name] = Field(default=[])
    """Free labels, for filtering."""

    @model_validator(mode="after")
    def _threshold_fits(self) -> _CaseFields:
        if self.threshold is not None and self.repeats is not None and self.threshold > self.repeats:
            raise ValueError(f"threshold {self.threshold} is more than repeats {self.repeats}")
        return self

    @property
    def assertions(self) -> list[Assertion]:
        """The case's ``assert:`` list (``assert`` is a Python keyword, so it is read through here)."""
        return list(getattr(self, "assert"))

    def runs(self, default_repeats: int = 1) -> int:
        """How many times the case runs."""
        return self.repeats if self.repeats is not None else default_repeats

    def needed(self, default_repeats: int = 1) -> int:
        """How many runs must pass."""
        runs = self.runs(default_repeats)
        return min(self.threshold, runs) if self.threshold is not None else runs

    def judged(self) -> bool:
        """True when the case has a judge assertion."""
        return any(isinstance(item, JudgeAssertion) for item in self.assertions)


EvalCase = create_model(
    "EvalCase",
    __base__=_CaseFields,
    __module__=__name__,
    **{
        "assert": (
            list[Assertion],
            Field(
                min_length=1,
                description="What must hold of the task; every assertion must pass for a run to pass.",
            ),
        )
    },
)
"""One eval case. Its ``assert`` field is built here because ``assert`` is a Python keyword: the model
field keeps the name the pack uses, so errors and did-you-mean hints point at the key users wrote."""


class EvalPackFile(SpecModel):
    """An eval pack file in YAML: an optional description and its cases."""

    description: Text | None = None
    """What the pack covers."""
    cases: list[EvalCase] = Field(min_length=1)
    """The cases."""
