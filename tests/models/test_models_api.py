"""The models package exports exactly what its __all__ names."""

from __future__ import annotations

import pilotgate.models


def test_all_names_exist_and_are_public() -> None:
    for name in pilotgate.models.__all__:
        assert hasattr(pilotgate.models, name), name
    exported = {
        name
        for name, value in vars(pilotgate.models).items()
        if not name.startswith("_") and getattr(value, "__module__", "").startswith("pilotgate.models.")
    }
    assert exported <= set(pilotgate.models.__all__)
