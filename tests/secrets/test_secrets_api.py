"""The public surface of pilotgate.secrets is what __all__ says."""

from __future__ import annotations

import pilotgate.secrets


def test_all_names_exist_and_nothing_else_is_public() -> None:
    for name in pilotgate.secrets.__all__:
        assert hasattr(pilotgate.secrets, name), name
    public = {name for name in vars(pilotgate.secrets) if not name.startswith("_")}
    modules = {"base", "env", "file", "keyring_store", "resolver", "vault", "annotations"}
    assert public - modules == set(pilotgate.secrets.__all__)
