"""What a rule sees: the five CEL variables, built as plain data from the spec's users and tools.

Rules read plain maps, lists, strings, numbers, booleans and null, never pydantic models: the same rule
then means the same thing in `pilotgate policy test`, at run time and in a receipt.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from pilotgate.spec import ToolSpec, UserSpec

VARIABLES: tuple[str, ...] = ("user", "tool", "args", "task", "budget")
"""The only top-level names a rule may use; anything else is refused when the policy compiles."""


def user_input(user: UserSpec | Mapping[str, Any]) -> dict[str, Any]:
    """`user` as a rule sees it: `{name, groups}`."""
    if isinstance(user, UserSpec):
        return {"name": user.name, "groups": list(user.groups)}
    groups = user.get("groups", [])
    if not isinstance(groups, list | tuple):  # a bare string would otherwise read as one group per letter
        raise TypeError("user groups must be a list")
    return {"name": user.get("name"), "groups": list(groups)}


def tool_input(tool: ToolSpec | Mapping[str, Any]) -> dict[str, Any]:
    """`tool` as a rule sees it: `{name, effect, risk, replay, roles}`."""
    if isinstance(tool, ToolSpec):
        return {
            "name": tool.name,
            "effect": tool.effect,
            "risk": tool.risk,
            "replay": tool.replay,
            "roles": list(tool.roles),
        }
    return {key: plain(tool[key]) for key in ("name", "effect", "risk", "replay", "roles") if key in tool}


def plain(value: Any) -> Any:
    """*value* as plain data CEL takes: a Decimal becomes a float (rules compare it), a tuple a list.

    Anything else is passed through as is; a value CEL cannot take fails the evaluation, which denies.
    """
    if isinstance(value, Mapping):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    if isinstance(value, Decimal):
        return float(value)
    return value


def context(
    user: UserSpec | Mapping[str, Any],
    tool: ToolSpec | Mapping[str, Any],
    args: Mapping[str, Any] | None,
    task: Mapping[str, Any] | None = None,
    budget: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The evaluation context; an absent task or budget is an empty map, so `has(task.x)` is false."""
    return {
        "user": user_input(user),
        "tool": tool_input(tool),
        "args": plain(args or {}),
        "task": plain(task or {}),
        "budget": plain(budget or {}),
    }
