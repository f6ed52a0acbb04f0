"""The redactor removes registered secrets and known secret shapes, everywhere, before hashing."""

from __future__ import annotations

import re
import threading

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from pilotgate.receipts import REDACTED, Redactor

CANARY = "canary-secret-4242-xyz"


SHAPES = [
    ("key sk-abcdefghijklmnopqrstuvwx in text", "sk-abcdefghijklmnopqrstuvwx"),
    ("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.payload.sig", "eyJhbGciOiJIUzI1NiJ9"),
    ("aws AKIAIOSFODNN7EXAMPLE here", "AKIAIOSFODNN7EXAMPLE"),
    ("postgres://app:s3cr3tpass@db.internal/prod", "s3cr3tpass"),
    ("https://x.example/cb?token=abc123def456&ok=1", "abc123def456"),
    ("PASSWORD=hunter2hunter2", "hunter2hunter2"),
    ("ghp_" + "a" * 36, "ghp_" + "a" * 36),
    ("xoxb-1234567890-abcdefghij", "xoxb-1234567890"),
    ("-----BEGIN PRIVATE KEY-----\nMIIEv\nQ==\n-----END PRIVATE KEY-----", "MIIEv"),
    ("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA (cut off", "b3BlbnNzaC1rZXkt"),
    ("Authorization: basic dXNlcjpwYXNzd29yZA==", "dXNlcjpwYXNzd29yZA"),
    ("GOOGLE AIza" + "B" * 35, "AIza" + "B" * 35),
    ("github_pat_" + "1" * 40, "github_pat_" + "1" * 40),
    ("conn Api_Key=zzzz9999zzzz", "zzzz9999zzzz"),
]


@pytest.mark.parametrize(("text", "leaked"), SHAPES)
def test_known_shapes_are_removed(text: str, leaked: str) -> None:
    redacted = Redactor().redact_text(text)
    assert leaked not in redacted and REDACTED in redacted


@pytest.mark.parametrize("text", ["high throughput", "a = b", "see https://example.com/docs", "skeleton key"])
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert Redactor().redact_text(text) == text


def test_registered_secret_is_removed_from_values_keys_and_nesting() -> None:
    redactor = Redactor([CANARY])
    body = {"a": f"x{CANARY}y", CANARY: [CANARY, {"deep": (f"{CANARY}",)}], "n": 1, "f": None, "b": True}
    out = redactor.redact_body(body)
    assert CANARY not in repr(out)
    assert out == {
        "a": "x[REDACTED]y",
        REDACTED: [REDACTED, {"deep": [REDACTED]}],
        "n": 1,
        "f": None,
        "b": True,
    }
    assert CANARY in repr(body)  # the input is not changed


def test_url_encoded_and_json_escaped_forms_are_caught() -> None:
    secret = 'p@ss w"rd\\1'
    redactor = Redactor([secret])
    assert redactor.redact_body({"url": "https://h/?q=p%40ss%20w%22rd%5C1"}) == {
        "url": "https://h/?q=[REDACTED]"
    }
    assert redactor.redact_body({"s": f"<{secret}>"}) == {"s": "<[REDACTED]>"}


def test_too_short_secret_is_refused() -> None:
    with pytest.raises(ValueError, match="shorter than"):
        Redactor().register("abc")


def test_colliding_redacted_keys_keep_both_values() -> None:
    redactor = Redactor(["secret-one", "secret-two"])
    assert redactor.redact({"secret-one": 1, "secret-two": 2}) == {REDACTED: 1, REDACTED + "#": 2}


def test_registering_while_redacting_is_safe() -> None:
    redactor = Redactor()
    errors: list[BaseException] = []

    def register() -> None:
        for n in range(200):
            redactor.register(f"value-number-{n:04d}")

    def redact() -> None:
        try:
            for _ in range(200):
                redactor.redact_body({"x": "value-number-0001 and more"})
        except BaseException as exc:  # pragma: no cover - the failure we look for
            errors.append(exc)

    threads = [threading.Thread(target=register), threading.Thread(target=redact)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert redactor.redact_text("value-number-0199") == REDACTED


@settings(max_examples=200, deadline=None)
@given(prefix=st.text(max_size=20), suffix=st.text(max_size=20), secret=st.text(min_size=6, max_size=30))
def test_a_registered_secret_never_survives(prefix: str, suffix: str, secret: str) -> None:
    # A "secret" that overlaps the marker itself ("REDACT", "D]abc") can be re-formed from the marker and
    # the ordinary text beside it; no real credential looks like that.
    assume(not _overlaps_marker(secret))
    redactor = Redactor([secret], shapes=False)
    out = redactor.redact_body({"k": prefix + secret + suffix, prefix + secret: 1})
    assert all(secret not in key for key in out)
    assert secret not in out["k"]


def _overlaps_marker(secret: str) -> bool:
    marker = REDACTED
    if secret in marker:
        return True
    edges = range(1, len(marker))
    return any(secret.startswith(marker[i:]) for i in edges) or any(
        secret.endswith(marker[:i]) for i in edges
    )


@settings(max_examples=150, deadline=None)
@given(
    shape=st.sampled_from(SHAPES),
    prefix=st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=12),
    suffix=st.sampled_from(["", " ", "\n", '"', ".", " tail"]),
    in_key=st.booleans(),
    score=st.floats(allow_nan=False, allow_infinity=False),
)
def test_the_trigger_scan_never_skips_a_shape(
    shape: tuple[str, str], prefix: str, suffix: str, in_key: bool, score: float
) -> None:
    # The writer scans a body's canonical JSON text once and redacts only when the scan finds what a shape
    # needs; a shape anywhere in a body (value or key, next to any text, with floats that send the body
    # down the reference canonicalizer) must still be removed.
    text, leaked = shape
    value = (" " if re.match(r"\w", prefix[-1:]) else "") + text  # the shapes start at a word boundary
    body = {prefix + value + suffix: 1} if in_key else {"k": [prefix + value + suffix], "score": score}
    assert leaked not in Redactor().redact_canonical(body)
