"""The public surface: every name in each package's __all__ exists, and nothing public is left out."""

from __future__ import annotations

import importlib
import inspect

import pytest

import pilotgate

PACKAGES = [
    "pilotgate",
    "pilotgate.spec",
    "pilotgate.store",
    "pilotgate.receipts",
    "pilotgate.data",
    "pilotgate.models",
    "pilotgate.tools",
    "pilotgate.approvals",
    "pilotgate.policy",
    "pilotgate.secrets",
    "pilotgate.runtime",
]


@pytest.mark.parametrize("name", PACKAGES)
def test_all_names_exist_and_are_unique(name: str) -> None:
    module = importlib.import_module(name)
    exported = module.__all__
    assert len(exported) == len(set(exported)), f"{name}.__all__ repeats a name"
    missing = [item for item in exported if not hasattr(module, item)]
    assert not missing, f"{name}.__all__ names what it does not have: {missing}"


def test_top_level_exports_every_public_class_and_function_it_imports() -> None:
    public = {
        name
        for name, value in vars(pilotgate).items()
        if not name.startswith("_") and (inspect.isclass(value) or inspect.isfunction(value))
    }
    assert public <= set(pilotgate.__all__), f"not in __all__: {sorted(public - set(pilotgate.__all__))}"


def test_version_is_set() -> None:
    assert pilotgate.__version__ and pilotgate.__version__ != "0+unknown"
