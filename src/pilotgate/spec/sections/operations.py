"""Evals, the release gate, alerts and feature flags: what decides and watches a release."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field

from pilotgate.spec.base import SpecModel
from pilotgate.spec.types import AlertTarget, Duration, Expression, GroupName, Name, Text


class Evals(SpecModel):
    """Eval packs and how they are run."""

    packs: list[Text] = Field(default=[])
    """Eval pack files (YAML or JSONL), relative to pilot.yaml's folder."""
    judge: Name | None = None
    """A declared model that grades answers for judged assertions. Unset: no judged assertions."""
    repeats: int = Field(default=1, ge=1, le=100)
    """How many times each case runs, to measure flakiness."""


class Gate(SpecModel):
    """The release gate: every expression must hold for a release to be promoted."""

    require: list[Expression] = Field(default=[])
    """CEL expressions over eval runs, costs and checks; a failing or erroring one blocks the release."""
    safety_categories: list[Name] = Field(default=["adversarial", "restricted"])
    """Eval categories that must pass at 100%, with at least one case, whatever `require` says (the safety
    and restricted-data cases by default). A category with no cases in the run blocks the release."""


class Alert(SpecModel):
    """An alert rule over the pilot's metrics."""

    name: Name
    """The alert's unique name."""
    when: Expression
    """CEL expression over metrics; the alert fires when it becomes true."""
    post: AlertTarget = "log"
    """Where the alert goes: `log`, an http(s) webhook URL, or a secret reference to one."""
    cooldown: Duration = timedelta(minutes=15)
    """Least time between two firings of this alert."""


class Flag(SpecModel):
    """A feature flag: turn a feature (usually a tool) on or off, or on for some groups."""

    enabled: bool = True
    """Whether the feature is on at all."""
    groups: list[GroupName] = Field(default=[])
    """When set, the feature is on only for users in these groups."""
