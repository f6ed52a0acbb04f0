"""The value types: durations, amounts, secret references, URLs, adapters."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from pilotgate.spec import SecretRef, format_duration, is_secret_reference, parse_duration, parse_secret_ref
from pilotgate.spec.types import (
    Adapter,
    AlertTarget,
    Amount,
    DatabaseUrl,
    Duration,
    SecretReference,
    WitnessLocation,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90d", timedelta(days=90)),
        ("4h", timedelta(hours=4)),
        ("30m", timedelta(minutes=30)),
        ("20s", timedelta(seconds=20)),
        ("2w", timedelta(weeks=2)),
        (45, timedelta(seconds=45)),
        (timedelta(minutes=1), timedelta(minutes=1)),
    ],
)
def test_durations(text: Any, expected: timedelta) -> None:
    assert TypeAdapter(Duration).validate_python(text) == expected


@pytest.mark.parametrize("bad", ["", "d", "1.5h", "-3m", "0s", 0, -1, True, 1.5, "1 h", "P1D", None])
def test_bad_durations(bad: Any) -> None:
    with pytest.raises(ValidationError):
        TypeAdapter(Duration).validate_python(bad)


@given(st.integers(min_value=1, max_value=10**9))
def test_duration_text_round_trips(seconds: int) -> None:
    value = timedelta(seconds=seconds)
    assert parse_duration(format_duration(value)) == value


def test_duration_serializes_as_written() -> None:
    adapter = TypeAdapter(Duration)
    assert adapter.dump_python(timedelta(hours=4), mode="json") == "4h"
    assert adapter.dump_python(timedelta(seconds=90), mode="json") == "90s"


@pytest.mark.parametrize(
    ("value", "expected"),
    [("0.05", Decimal("0.05")), (0.1, Decimal("0.1")), (12, Decimal(12)), ("2500.00", Decimal("2500.00"))],
)
def test_amounts_are_decimals(value: Any, expected: Decimal) -> None:
    amount = TypeAdapter(Amount).validate_python(value)
    assert amount == expected and type(amount) is Decimal
    assert str(amount) == str(expected)


@pytest.mark.parametrize("bad", ["-1", -0.5, "NaN", "inf", "1,5", "", True, None, [1]])
def test_bad_amounts(bad: Any) -> None:
    with pytest.raises(ValidationError):
        TypeAdapter(Amount).validate_python(bad)


@pytest.mark.parametrize(
    ("ref", "scheme", "target"),
    [
        ("env:LLM_API_KEY", "env", "LLM_API_KEY"),
        ("file:/run/secrets/llm", "file", "/run/secrets/llm"),
        ("keyring:pilotgate/llm", "keyring", "pilotgate/llm"),
        ("vault:secret/data/llm#api_key", "vault", "secret/data/llm#api_key"),
    ],
)
def test_secret_references(ref: str, scheme: str, target: str) -> None:
    assert TypeAdapter(SecretReference).validate_python(ref) == ref
    assert is_secret_reference(ref)
    assert parse_secret_ref(ref) == SecretRef(scheme=scheme, target=target)


@pytest.mark.parametrize(
    "bad", ["sk-abc", "env:", "env:1BAD", "keyring:x", "vault:path", "vault:#k", "ENV:X", "file: ", 42]
)
def test_bad_secret_references(bad: Any) -> None:
    with pytest.raises(ValidationError) as caught:
        TypeAdapter(SecretReference).validate_python(bad)
    assert str(bad) not in caught.value.errors()[0]["msg"] or bad in ("env:", "file: ")
    if isinstance(bad, str):
        assert not is_secret_reference(bad)
        with pytest.raises(ValueError, match="not a secret reference"):
            parse_secret_ref(bad)


def test_printed_validation_error_hides_the_secret() -> None:
    from pilotgate.spec import PilotSpec

    data = {
        "pilot": {"name": "x", "owner": "o", "workflow": "w"},
        "models": [
            {
                "name": "m",
                "provider": "openai-compatible",
                "base_url": "http://h",
                "model": "m",
                "api_key": "sk-very-secret",
            }
        ],
    }
    with pytest.raises(ValidationError) as caught:
        PilotSpec.model_validate(data)
    assert "sk-very-secret" not in str(caught.value)


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("sqlite:///data/x.db", True),
        ("postgresql://reader@db:5432/app", True),
        ("env:DATABASE_URL", True),
        ("postgresql://u:pw@db/app", False),
        ("just-a-name", False),
    ],
)
def test_database_urls(value: str, ok: bool) -> None:
    adapter = TypeAdapter(DatabaseUrl)
    if ok:
        assert adapter.validate_python(value) == value
    else:
        with pytest.raises(ValidationError):
            adapter.validate_python(value)


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("witness/log", True),
        ("/var/lib/pilotgate/witness", True),
        ("https://witness.example/pilots", True),
        ("ftp://x/y", False),
        ("http://", False),
        ("", False),
    ],
)
def test_witness_locations(value: str, ok: bool) -> None:
    adapter = TypeAdapter(WitnessLocation)
    if ok:
        assert adapter.validate_python(value) == value
    else:
        with pytest.raises(ValidationError):
            adapter.validate_python(value)


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("python:refund_desk.tools:lookup_order", True),
        ("http://127.0.0.1:9100/refunds", True),
        ("mcp:orders/lookup", True),
        ("python:refund_desk.tools", False),
        ("mcp:", False),
        ("lookup_order", False),
    ],
)
def test_adapters(value: str, ok: bool) -> None:
    adapter = TypeAdapter(Adapter)
    if ok:
        assert adapter.validate_python(value) == value
    else:
        with pytest.raises(ValidationError):
            adapter.validate_python(value)


@pytest.mark.parametrize(
    ("value", "ok"),
    [("log", True), ("env:ALERT_WEBHOOK_URL", True), ("https://hooks.example/x", True), ("email", False)],
)
def test_alert_targets(value: str, ok: bool) -> None:
    adapter = TypeAdapter(AlertTarget)
    if ok:
        assert adapter.validate_python(value) == value
    else:
        with pytest.raises(ValidationError):
            adapter.validate_python(value)
