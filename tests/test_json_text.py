"""compact() writes JSON that reads back to the same value, whichever encoder ran."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pilotgate.json_text import compact

finite = st.floats(allow_nan=False, allow_infinity=False)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text() | finite,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4),
    max_leaves=20,
)


@given(json_values)
def test_reads_back_to_the_same_value(value: Any) -> None:
    assert json.loads(compact(value)) == value


@pytest.mark.parametrize(
    "value",
    [
        {"text": "a lone \ud800 surrogate"},  # orjson refuses it; ASCII escapes keep it storable
        {"big": 2**70},
        [[[[["deep"]]]]] * 3,
    ],
)
def test_values_orjson_refuses_still_become_storable_json(value: Any) -> None:
    text = compact(value)
    text.encode("utf-8")  # storable in any text column
    assert json.loads(text) == value


def test_sorted_keys_when_asked() -> None:
    assert compact({"b": 1, "a": {"d": 2, "c": 3}}, sort_keys=True) == '{"a":{"c":3,"d":2},"b":1}'
    assert compact({"b": 1, "a": 2}) == '{"b":1,"a":2}'


def test_a_float_json_cannot_hold_is_written_as_null() -> None:
    assert compact({"x": float("inf"), "y": float("nan")}) == '{"x":null,"y":null}'
