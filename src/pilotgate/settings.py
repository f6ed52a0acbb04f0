"""Runtime settings, each declared once: its environment variable, default, type and meaning.

Command-line options win over environment variables, which win over defaults.
"""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Setting:
    """One setting: where it comes from and what it means."""

    env: str
    default: str | None
    doc: str

    def get(self) -> str | None:
        """The value from the environment, or the default."""
        value = os.environ.get(self.env)
        return value if value not in (None, "") else self.default


DB = Setting(
    env="PILOTGATE_DB",
    default=None,
    doc=(
        "Database URL (sqlite:///PATH or postgresql+psycopg://...). "
        "Default: .pilotgate/pilot.db beside pilot.yaml."
    ),
)
PILOT = Setting(
    env="PILOTGATE_PILOT", default=None, doc="Path of pilot.yaml (or its folder). Default: ./pilot.yaml."
)
DEBUG = Setting(env="PILOTGATE_DEBUG", default=None, doc="Set to 1 to print tracebacks for every error.")

VAULT_MOUNT = Setting(
    env="PILOTGATE_VAULT_MOUNT", default="secret", doc="KV v2 mount point for vault: secret references."
)
VAULT_TIMEOUT = Setting(
    env="PILOTGATE_VAULT_TIMEOUT", default="5", doc="Seconds to wait for Vault before failing closed."
)

ALL: tuple[Setting, ...] = (DB, PILOT, DEBUG, VAULT_MOUNT, VAULT_TIMEOUT)
"""Every setting, for `pilotgate --help` and the docs."""
