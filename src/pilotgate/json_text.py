"""Compact JSON text for the store's own columns (a task's passages, transcript and spend; eval results).

These columns are read back by pilotgate, never hashed (receipts have ``receipts.canonical``), so any valid
JSON does. orjson writes it about ten times as fast as the stdlib encoder (a task row's passages, ~3 KB, in
~2 µs against ~15 µs). Where orjson refuses a value (an unpaired surrogate in a string, an integer past 64
bits, nesting past 255 levels) the stdlib encoder writes it with ASCII escapes, which any database can
store; so only the speed depends on which one ran. A float JSON cannot hold (NaN, an infinity) is written
as ``null``, as JSON has no such number.
"""

from __future__ import annotations

import json
from typing import Any

import orjson


def compact(value: Any, *, sort_keys: bool = False) -> str:
    """``value`` as compact JSON text (UTF-8, no whitespace)."""
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS if sort_keys else 0).decode("utf-8")
    except (orjson.JSONEncodeError, UnicodeDecodeError):
        return json.dumps(value, separators=(",", ":"), sort_keys=sort_keys)
