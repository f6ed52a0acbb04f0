"""canonical_bytes is RFC 8785, byte for byte, and refuses what JSON cannot hold exactly."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from pilotgate.receipts.canonical import MAX_SAFE_INTEGER, canonical_bytes

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-MAX_SAFE_INTEGER, max_value=MAX_SAFE_INTEGER)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()  # any code point, incl. astral, controls, U+2028
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=8), children, max_size=5)
    ),
    max_leaves=25,
)


def _no_surrogates(value: Any) -> bool:
    if isinstance(value, str):
        return not any(0xD800 <= ord(ch) <= 0xDFFF for ch in value)
    if isinstance(value, dict):
        return all(_no_surrogates(k) and _no_surrogates(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_no_surrogates(v) for v in value)
    return True


@settings(max_examples=400, deadline=None)
@given(json_values.filter(_no_surrogates))
def test_equals_rfc8785(value: Any) -> None:
    assert canonical_bytes(value) == rfc8785.dumps(value)


@settings(max_examples=300, deadline=None)
@given(st.floats(allow_nan=False, allow_infinity=False))
def test_floats_match_ecmascript_layout(number: float) -> None:
    assert canonical_bytes({"x": number}) == rfc8785.dumps({"x": number})


@pytest.mark.parametrize(
    "value",
    [0.0, -0.0, 100.0, 1e16, 1e21, 1e-7, 1e-5, 0.0001, 123.456, 5e-324, 1.7976931348623157e308, 2.0**53],
)
def test_float_edges(value: float) -> None:
    assert canonical_bytes([value]) == rfc8785.dumps([value])


def test_keys_sort_by_utf16_code_units() -> None:
    # U+FB01 sorts after U+1F600 in code points but before it in UTF-16 (surrogates are 0xD83D...).
    value = {"\U0001f600": 1, "\ufb01": 2, "a": 3}
    assert canonical_bytes(value) == rfc8785.dumps(value)
    assert canonical_bytes(value).index("\ufb01".encode()) > canonical_bytes(value).index(
        "\U0001f600".encode()
    )


def test_non_ascii_and_controls_are_kept_as_rfc8785_writes_them() -> None:
    value = {"s": 'café \u2028 \x7f \x01 \n "q" \\'}
    assert canonical_bytes(value) == rfc8785.dumps(value)


@pytest.mark.parametrize(
    ("value", "error", "path"),
    [
        ({"body": {"amount": Decimal("1.10")}}, TypeError, "$.body.amount"),
        ({"at": datetime(2026, 1, 1, tzinfo=UTC)}, TypeError, "$.at"),
        ({"body": {"x": [1, math.nan]}}, ValueError, "$.body.x[1]"),
        ({"n": math.inf}, ValueError, "$.n"),
        ({"n": 2**53}, ValueError, "$.n"),
        ({"n": -(2**53)}, ValueError, "$.n"),
        ({"b": b"bytes"}, TypeError, "$.b"),
        ({1: "int key"}, TypeError, "$"),
        ({"s": "\ud800"}, ValueError, "$.s"),
    ],
)
def test_refuses_what_json_cannot_hold_and_names_the_path(
    value: Any, error: type[Exception], path: str
) -> None:
    with pytest.raises(error) as caught:
        canonical_bytes(value)
    assert str(caught.value).startswith(path)


def test_nesting_deeper_than_the_fast_encoder_goes_still_gives_rfc8785() -> None:
    # orjson stops at 255 levels; the stdlib encoder writes such a value, with the same bytes.
    deep: Any = "leaf"
    for level in range(300):
        deep = {f"k{level % 3}": deep, "n": level} if level % 2 else [deep, level]
    assert canonical_bytes(deep) == rfc8785.dumps(deep)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.text(max_size=8), json_scalars, max_size=12))
def test_the_fast_path_and_the_stdlib_encoder_agree(value: dict[str, Any]) -> None:
    from pilotgate.receipts.canonical import _fits_stdlib, _stdlib_dumps_sorted, dumps_sorted

    if _no_surrogates(value) and _fits_stdlib(value):
        assert dumps_sorted(value) == _stdlib_dumps_sorted(value)
