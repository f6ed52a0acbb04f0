"""The data package exports exactly what its __all__ names."""

from __future__ import annotations

import pilotgate.data


def test_all_names_exist_and_every_public_class_or_function_is_listed() -> None:
    for name in pilotgate.data.__all__:
        assert hasattr(pilotgate.data, name), name
    exported = {
        name
        for name, value in vars(pilotgate.data).items()
        if not name.startswith("_") and getattr(value, "__module__", "").startswith("pilotgate.data.")
    }
    assert exported <= set(pilotgate.data.__all__)
