"""`PilotSpec`: the whole of pilot.yaml, assembled from its sections, checked across sections."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from pilotgate.spec.base import SpecModel
from pilotgate.spec.checks import SpecReferenceError, reference_problems
from pilotgate.spec.sections.economics import Budgets, PeriodicCosts
from pilotgate.spec.sections.identity import Escalation, PilotSection, UserSpec
from pilotgate.spec.sections.limits import Limits
from pilotgate.spec.sections.llm import (
    DegradedMode,
    ModelSpec,
    OpenAICompatibleModel,
    Price,
    ReferenceModel,
    Routing,
)
from pilotgate.spec.sections.operations import Alert, Evals, Flag, Gate
from pilotgate.spec.sections.policy import Policy, PolicyTest, Rule
from pilotgate.spec.sections.receipts import Receipts
from pilotgate.spec.sections.sources import CsvSource, FolderSource, JsonlSource, Source, SqlSource
from pilotgate.spec.sections.tools import ToolSpec
from pilotgate.spec.types import Name

REFERENCE_MODEL_NAME = "reference"

__all__ = [
    "REFERENCE_MODEL_NAME",
    "Alert",
    "Budgets",
    "CsvSource",
    "Escalation",
    "Evals",
    "Flag",
    "FolderSource",
    "Gate",
    "JsonlSource",
    "Limits",
    "ModelSpec",
    "OpenAICompatibleModel",
    "PeriodicCosts",
    "PilotSection",
    "PilotSpec",
    "Policy",
    "PolicyTest",
    "Price",
    "Receipts",
    "ReferenceModel",
    "Routing",
    "Rule",
    "Source",
    "SqlSource",
    "ToolSpec",
    "UserSpec",
]


class PilotSpec(SpecModel):
    """One pilot: one workflow taken from pilot to production, declared in one pilot.yaml."""

    version: Literal[1] = 1
    """Version of the pilot.yaml format."""
    pilot: PilotSection
    """Scope and value: name, owner, workflow, metric, kill condition, escalation."""
    users: list[UserSpec] = Field(default=[])
    """The people who may run tasks, with their groups."""
    sources: list[Source] = Field(default=[])
    """The content the assistant may read, with owner, sensitivity, ACL, freshness and rank."""
    models: list[ModelSpec] = Field(default=[], validate_default=True)
    """The models tasks may use. Empty: the offline reference model, named `reference`."""
    routing: Routing = Field(default=Routing())
    """Which model answers first and which take over."""
    degraded_mode: DegradedMode = "escalate"
    """What to do when every model fails (or the task's budget is spent): escalate the task, or answer
    from the fallbacks, and at last from the offline reference model."""
    tools: list[ToolSpec] = Field(default=[])
    """The tools the model may ask for."""
    policy: Policy = Field(default=Policy())
    """Rules deciding each tool call (default deny) and their tests."""
    budgets: Budgets = Field(default=Budgets())
    """Spending limits and cost baselines."""
    limits: Limits = Field(default=Limits())
    """Per-task limits on model turns, tool calls and tokens that stop a runaway task."""
    evals: Evals = Field(default=Evals())
    """Eval packs, judge and repeats."""
    gate: Gate = Field(default=Gate())
    """What must hold for a release to be promoted."""
    alerts: list[Alert] = Field(default=[])
    """Alert rules over the pilot's metrics."""
    flags: dict[Name, Flag] = Field(default={})
    """Feature flags by feature name (usually a tool name)."""
    receipts: Receipts = Field(default=Receipts())
    """Checkpointing and signing of the receipt log."""

    @field_validator("models")
    @classmethod
    def _reference_by_default(cls, value: list[Any]) -> list[Any]:
        """A pilot with no models still runs, offline, on the reference model."""
        return value or [ReferenceModel(name=REFERENCE_MODEL_NAME, provider="reference")]

    @model_validator(mode="after")
    def _check_references(self) -> PilotSpec:
        """Fill the routing default, then check every name one section uses against the one declaring it."""
        if self.routing.primary is None:
            self.routing.primary = self.models[0].name
        problems = reference_problems(self)
        if problems:
            raise SpecReferenceError(problems)
        return self

    def model_named(self, name: str) -> OpenAICompatibleModel | ReferenceModel:
        """The declared model called *name*; KeyError when there is none."""
        for model in self.models:
            if model.name == name:
                return model
        raise KeyError(name)

    def groups(self) -> set[str]:
        """Every group some declared user holds."""
        return {group for user in self.users for group in user.groups}
