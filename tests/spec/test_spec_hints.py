"""Property: a mis-spelt key anywhere in pilot.yaml gets a "did you mean" naming the key that was meant."""

from __future__ import annotations

import difflib
import io
from pathlib import Path
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel
from ruamel.yaml import YAML

from pilotgate.errors import ConfigError
from pilotgate.spec import (
    Alert,
    Budgets,
    CsvSource,
    Escalation,
    Evals,
    Flag,
    FolderSource,
    OpenAICompatibleModel,
    PeriodicCosts,
    PilotSection,
    PilotSpec,
    Price,
    Receipts,
    Routing,
    Rule,
    ToolSpec,
    UserSpec,
    load_pilot_text,
)
from pilotgate.spec.checks import format_loc
from pilotgate.spec.sections.policy import Policy, PolicyTest

FULL = YAML(typ="safe").load((Path(__file__).parent / "fixtures" / "full.yaml").read_text(encoding="utf-8"))

# where in the full example each model's mapping sits
PLACES: list[tuple[tuple[str | int, ...], type[BaseModel]]] = [
    ((), PilotSpec),
    (("pilot",), PilotSection),
    (("pilot", "escalation"), Escalation),
    (("users", 1), UserSpec),
    (("sources", 0), FolderSource),
    (("sources", 1), CsvSource),
    (("models", 0), OpenAICompatibleModel),
    (("models", 0, "price"), Price),
    (("routing",), Routing),
    (("tools", 1), ToolSpec),
    (("policy",), Policy),
    (("policy", "rules", 2), Rule),
    (("policy", "tests", 0), PolicyTest),
    (("budgets",), Budgets),
    (("budgets", "periodic"), PeriodicCosts),
    (("evals",), Evals),
    (("alerts", 0), Alert),
    (("flags", "issue_refund"), Flag),
    (("receipts",), Receipts),
]

LETTERS = "abcdefghijklmnopqrstuvwxyz_"


@st.composite
def misspelling(draw: st.DrawFn) -> tuple[tuple[str | int, ...], str, str]:
    """A place, a key of the model there, and a one-edit mis-spelling of it."""
    place, model = draw(st.sampled_from(PLACES))
    key = draw(st.sampled_from([name for name in model.model_fields if len(name) >= 4]))
    at = draw(st.integers(min_value=0, max_value=len(key) - 1))
    edit = draw(st.sampled_from(["drop", "swap", "double", "replace", "insert"]))
    letter = draw(st.sampled_from(LETTERS))
    if edit == "drop":
        typo = key[:at] + key[at + 1 :]
    elif edit == "swap" and at < len(key) - 1:
        typo = key[:at] + key[at + 1] + key[at] + key[at + 2 :]
    elif edit == "double":
        typo = key[: at + 1] + key[at:]
    elif edit == "replace":
        typo = key[:at] + letter + key[at + 1 :]
    else:
        typo = key[:at] + letter + key[at:]
    fields = list(model.model_fields)
    assume(typo not in fields and not typo.startswith("_"))
    # the property is about the right key, so skip typos that are as close to another key
    best = max(fields, key=lambda name: difflib.SequenceMatcher(None, typo, name).ratio())
    assume(best == key)
    return place, key, typo


def _dump(data: Any) -> str:
    out = io.StringIO()
    YAML(typ="rt").dump(data, out)
    return out.getvalue()


@settings(max_examples=100, deadline=None)
@given(misspelling())
def test_misspelt_key_hint_names_the_right_key(case: tuple[tuple[str | int, ...], str, str]) -> None:
    place, key, typo = case
    data = _dump_ready(FULL)
    target = data
    for part in place:
        target = target[part]
    target[typo] = target.pop(key) if key in target else "x"
    with pytest.raises(ConfigError) as caught:
        load_pilot_text(_dump(data))
    naming = [
        issue
        for issue in caught.value.issues
        if issue.field == format_loc((*place, typo)) or f'found "{typo}"' in (issue.hint or "")
    ]
    assert len(naming) == 1
    issue = naming[0]
    assert issue.hint is not None and f'did you mean "{key}"?' in issue.hint
    assert issue.line is not None and issue.column is not None
    if issue.message == "unknown key":
        assert issue.field == format_loc((*place, typo))
    else:  # a mis-spelt union tag: the variant cannot be chosen, so the tag is reported missing
        assert issue.message == f'missing required field "{key}"' and issue.field == format_loc(place)


def _dump_ready(data: Any) -> Any:
    """A deep copy of the parsed example that ruamel can dump again."""
    if isinstance(data, dict):
        return {k: _dump_ready(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_dump_ready(v) for v in data]
    return data
