"""Where a rule's CEL expression sits in pilot.yaml, so a compile error points at the bad character.

CEL reports a line and column inside the expression; the YAML node gives where the expression starts.
Adding the two is exact only when the expression's line appears verbatim in the file (a plain or quoted
scalar on one line, or a `|` block); for a folded or escaped scalar the error points at the `when` value.
"""

from __future__ import annotations

import contextlib
from typing import Any

from pilotgate.spec import LoadedPilot


def _value_start(loaded: LoadedPilot, index: int) -> tuple[int, int] | None:
    """0-based (line, column) of the rule's `when` value, from the parsed document's positions."""
    document: Any = getattr(loaded, "document", None)
    with contextlib.suppress(KeyError, IndexError, TypeError, AttributeError):
        node = document["policy"]["rules"][index]
        line, column = node.lc.value("when")
        return int(line), int(column)
    return None


def expression_position(
    loaded: LoadedPilot, index: int, source: str, line: int | None, column: int | None
) -> tuple[int | None, int | None, bool]:
    """1-based (line, column) in pilot.yaml for a spot inside rule *index*'s `when`, and whether it is exact.

    *line* and *column* are 1-based inside *source*; None means "the expression as a whole".
    """
    start = _value_start(loaded, index)
    if start is None:
        key_line, key_column = _key_position(loaded, index)
        return key_line, key_column, False
    value_line, value_column = start
    if line is None or column is None:
        return value_line + 1, value_column + 1, False
    lines = source.split("\n")
    if not 1 <= line <= len(lines) or not lines[line - 1].strip():
        return value_line + 1, value_column + 1, False
    wanted = lines[line - 1]
    try:
        file_lines = loaded.path.read_text(encoding="utf-8-sig").split("\n")
    except OSError:
        return value_line + 1, value_column + 1, False
    # a quoted or plain scalar starts on the value's line; a `|` block's content on the lines after it
    for candidate in (value_line + line - 1, value_line + line):
        if not 0 <= candidate < len(file_lines):
            continue
        offset = value_column if candidate == value_line else 0
        found = file_lines[candidate].find(wanted, offset)
        if found >= 0:
            return candidate + 1, found + column, True
    return value_line + 1, value_column + 1, False


def _key_position(loaded: LoadedPilot, index: int) -> tuple[int | None, int | None]:
    position = getattr(loaded, "position", None)
    if position is None:
        return None, None
    line, column = position(("policy", "rules", index, "when"))
    return line, column
