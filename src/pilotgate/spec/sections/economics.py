"""Budgets and the cost figures the economics report needs; every amount is a Decimal."""

from __future__ import annotations

from decimal import Decimal

from pydantic import Field

from pilotgate.spec.base import SpecModel
from pilotgate.spec.types import Amount


class PeriodicCosts(SpecModel):
    """Costs that accrue by the month rather than by the task."""

    infra_per_month: Amount = Decimal(0)
    """Hosting, database and other infrastructure, per month."""
    support_per_month: Amount = Decimal(0)
    """People time to support users, per month."""
    maintenance_per_month: Amount = Decimal(0)
    """People time to keep the pilot working, per month."""


class Budgets(SpecModel):
    """Spending limits enforced at run time and the baseline the savings are measured against."""

    per_task: Amount | None = None
    """Most one task may spend; a task that would exceed it stops. Unset: no limit."""
    per_day: Amount | None = None
    """Most the pilot may spend in a UTC day. Unset: no limit."""
    per_month: Amount | None = None
    """Most the pilot may spend in a calendar month. Unset: no limit."""
    review_rate_per_hour: Amount | None = None
    """Hourly cost of a human reviewer or approver, for review cost."""
    periodic: PeriodicCosts = Field(default=PeriodicCosts())
    """Monthly costs outside the tasks."""
    manual_minutes_per_task: Amount | None = None
    """Minutes a person spends on one task without the assistant: the savings baseline."""
    vendor_switching_cost: Amount | None = None
    """Estimated one-off cost of moving to another model vendor."""
