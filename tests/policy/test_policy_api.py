"""The public surface of pilotgate.policy is what __all__ says."""

from __future__ import annotations

import pilotgate.policy


def test_all_names_exist_and_are_sorted_by_kind() -> None:
    for name in pilotgate.policy.__all__:
        assert hasattr(pilotgate.policy, name), name
    # "@py_builtins" and the like: pytest rewrites the asserts of every module of a plugin's distribution.
    public = {name for name in vars(pilotgate.policy) if not name.startswith(("_", "@"))}
    modules = {"cases", "compile", "decision", "engine", "inputs", "positions", "annotations"}
    assert public - modules == set(pilotgate.policy.__all__)
