"""pilotgate: the production spine around one AI workflow — receipts, not claims.

The library API in one place; the CLI and (later) the server are thin shells over these::

    from pilotgate import open_workspace, open_runtime

    workspace = open_workspace("pilot.yaml")
    result = open_runtime(workspace).run("How long do refunds take?", user="alice")
"""

from __future__ import annotations

import importlib.metadata

from pilotgate.errors import (
    ConfigError,
    ConfigIssue,
    PilotgateError,
    SchemaTooNewError,
    SigningKeyError,
    SourceError,
    StoreError,
    StoreUnavailableError,
    TaskError,
    UsageError,
    VerificationError,
)
from pilotgate.receipts import ReceiptLog, VerifyReport, verify_export, verify_store
from pilotgate.runtime import Outcome, Runtime, TaskResult, TaskState, open_runtime
from pilotgate.spec import LoadedPilot, PilotSpec, load_pilot
from pilotgate.store import Store, open_store
from pilotgate.workspace import Workspace, open_workspace

try:
    __version__ = importlib.metadata.version("pilotgate")
except importlib.metadata.PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"

__all__ = [
    "ConfigError",
    "ConfigIssue",
    "LoadedPilot",
    "Outcome",
    "PilotSpec",
    "PilotgateError",
    "ReceiptLog",
    "Runtime",
    "SchemaTooNewError",
    "SigningKeyError",
    "SourceError",
    "Store",
    "StoreError",
    "StoreUnavailableError",
    "TaskError",
    "TaskResult",
    "TaskState",
    "UsageError",
    "VerificationError",
    "VerifyReport",
    "Workspace",
    "__version__",
    "load_pilot",
    "open_runtime",
    "open_store",
    "open_workspace",
    "verify_export",
    "verify_store",
]
