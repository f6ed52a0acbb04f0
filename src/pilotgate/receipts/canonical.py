"""Canonical JSON (RFC 8785, JCS): the one byte form a receipt is hashed and stored in.

The ``rfc8785`` package is the reference, but it serializes in pure Python (about 33 µs a receipt). A JSON
encoder with sorted keys and no whitespace produces the very same bytes whenever the value holds no float
that Python prints differently from ECMAScript, no integer outside ±(2^53-1) and no object key whose UTF-16
order differs from its code-point order. ``canonical_bytes`` checks those conditions in one walk, takes the
fast path when they hold and the reference path otherwise, so its output is always RFC 8785's (a property
test holds the two equal).

The fast path is orjson: the stdlib encoder (sorting and escaping in C, but building a string per value)
took ~50 µs for a task's 3.4 KB retrieval receipt, the largest single cost of recording it, and orjson
~6 µs. Where orjson refuses a value (nesting deeper than it recurses, an unpaired surrogate) the stdlib
encoder writes it, so nothing but the speed depends on which one ran.
"""

from __future__ import annotations

import json
import math
from typing import Any

import orjson
import rfc8785

MAX_SAFE_INTEGER = 2**53 - 1
"""RFC 8785 (I-JSON) numbers are IEEE doubles: integers beyond this are not exact, so they are refused."""

_stdlib_dumps_sorted = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False, check_circular=False
).encode

_SORTED = orjson.OPT_SORT_KEYS


def dumps_sorted(value: Any) -> str:
    """RFC 8785's text for any value ``_fits_stdlib`` accepts: sorted keys, no whitespace, no ASCII escaping
    (orjson; the stdlib encoder where orjson refuses the value)."""
    try:
        return orjson.dumps(value, option=_SORTED).decode("utf-8")
    except orjson.JSONEncodeError:
        return _stdlib_dumps_sorted(value)


def canonical_bytes(value: Any) -> bytes:
    """The RFC 8785 canonical UTF-8 bytes of a JSON value (dict, list, str, int, float, bool, None).

    Raises ``TypeError`` for anything JSON cannot hold exactly (Decimal, datetime, bytes, sets, non-string
    keys) and ``ValueError`` for NaN, infinities, integers beyond ±(2^53-1) and unpaired surrogates; the
    message names the path of the offending value (``$.body.amount``). Money and times belong in strings.
    """
    text = canonical_text(value)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        _raise_for_surrogates(value, "$")
        raise


def canonical_text(value: Any, *, path: str = "$") -> str:
    """``canonical_bytes`` as text, before the UTF-8 encoding (which is where unpaired surrogates fail).

    The receipt writer canonicalizes a body once as text, scans that text for secrets and splices it into
    the record's own canonical text, instead of encoding the body two or three times. ``path`` is what an
    error message calls the value (``$.body``).
    """
    try:
        fast = _fits_stdlib(value)
    except _Unfit:
        _explain(value, path)
        raise TypeError("the value is not JSON") from None
    if fast:
        return dumps_sorted(value)
    return _reference(value, path).decode("utf-8")


def _reference(value: Any, path: str = "$") -> bytes:
    try:
        return rfc8785.dumps(value)
    except rfc8785.CanonicalizationError as exc:
        _raise_for_surrogates(value, path)
        raise ValueError(f"cannot canonicalize: {exc}") from exc


class _Unfit(Exception):
    """A value JSON cannot hold; ``_explain`` then finds where, for the message."""


def _fits_stdlib(value: Any) -> bool:
    """True when the stdlib encoder gives RFC 8785's bytes; raises _Unfit on values JSON cannot hold.

    The hot path of every append, so it tracks no paths (``_explain`` walks again to name one) and
    settles an object's plain leaves (strings, null, booleans, safe integers) without a call.
    """
    kind = type(value)
    if kind is dict:
        safe = True
        for key, item in value.items():
            if type(key) is not str:
                raise _Unfit
            if not key.isascii() and max(key) > "\uffff":
                safe = False  # UTF-16 order (RFC 8785) may differ from code-point order (sort_keys)
            leaf = type(item)
            if leaf is str or item is None or leaf is bool:
                continue
            if leaf is int and -MAX_SAFE_INTEGER <= item <= MAX_SAFE_INTEGER:
                continue
            if not _fits_stdlib(item):
                safe = False
        return safe
    if kind is list or kind is tuple:
        safe = True
        for item in value:
            if type(item) is not str and not _fits_stdlib(item):
                safe = False
        return safe
    if kind is str or kind is bool or value is None:
        return True
    if kind is int:
        if -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
            return True
        raise _Unfit
    if kind is float:
        if not math.isfinite(value):
            raise _Unfit
        # Python and ECMAScript agree on the shortest round-trip digits; they differ only in layout:
        # Python writes "100.0", "0.0" and exponents outside [1e-4, 1e16), ECMAScript does not.
        return 1e-4 <= abs(value) < 1e16 and not value.is_integer()
    if isinstance(value, (str, int, float)):
        return False  # subclasses (IntEnum, ...): let the reference implementation decide
    raise _Unfit


def _explain(value: Any, path: str) -> None:
    """Raise the TypeError / ValueError naming the first value JSON cannot hold."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"{path}: object keys must be strings, got {type(key).__name__} {key!r}")
            _explain(item, f"{path}.{key}" if key.isidentifier() else f"{path}[{key!r}]")
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            _explain(item, f"{path}[{index}]")
    elif isinstance(value, int):
        if not -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
            raise ValueError(f"{path}: integer {value} is outside ±(2^53-1); write it as a string")
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{path}: {value} is not a JSON number (NaN and infinities are not allowed)")
    else:
        raise TypeError(
            f"{path}: {type(value).__name__} is not a JSON value; write decimals and times as strings "
            "(money as a decimal string, times as RFC 3339)"
        )


def _raise_for_surrogates(value: Any, path: str) -> None:
    """Find the first string that is not valid Unicode and name its path."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise ValueError(f"{path}: string holds an unpaired surrogate; it is not valid Unicode") from exc
    elif isinstance(value, dict):
        for key, item in value.items():
            _raise_for_surrogates(key, f"{path} (key)")
            _raise_for_surrogates(item, f"{path}.{key}")
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            _raise_for_surrogates(item, f"{path}[{index}]")
