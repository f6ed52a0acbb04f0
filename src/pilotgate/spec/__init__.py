"""pilot.yaml: the declared pilot as pydantic models, a loader that keeps line numbers, and its schema.

load_pilot("pilot.yaml")      -> LoadedPilot(spec, path, root, warnings)
load_pilot_text(text)         -> PilotSpec
find_pilot(explicit=...)      -> Path of the pilot.yaml to use
pilot_json_schema()           -> JSON Schema for `pilotgate schema` and editors
"""

from __future__ import annotations

from pilotgate.spec.loaded import LoadedPilot
from pilotgate.spec.loader import PILOT_FILENAME, find_pilot, load_pilot, load_pilot_text
from pilotgate.spec.models import (
    REFERENCE_MODEL_NAME,
    Alert,
    Budgets,
    CsvSource,
    Escalation,
    Evals,
    Flag,
    FolderSource,
    Gate,
    JsonlSource,
    Limits,
    ModelSpec,
    OpenAICompatibleModel,
    PeriodicCosts,
    PilotSection,
    PilotSpec,
    Policy,
    PolicyTest,
    Price,
    Receipts,
    ReferenceModel,
    Routing,
    Rule,
    Source,
    SqlSource,
    ToolSpec,
    UserSpec,
)
from pilotgate.spec.schema import pilot_json_schema, render_reference_markdown
from pilotgate.spec.sections.receipts import DEFAULT_SIGNING_KEY
from pilotgate.spec.types import (
    SecretRef,
    format_duration,
    is_secret_reference,
    parse_duration,
    parse_secret_ref,
)

__all__ = [
    "DEFAULT_SIGNING_KEY",
    "PILOT_FILENAME",
    "REFERENCE_MODEL_NAME",
    "Alert",
    "Budgets",
    "CsvSource",
    "Escalation",
    "Evals",
    "Flag",
    "FolderSource",
    "Gate",
    "JsonlSource",
    "Limits",
    "LoadedPilot",
    "ModelSpec",
    "OpenAICompatibleModel",
    "PeriodicCosts",
    "PilotSection",
    "PilotSpec",
    "Policy",
    "PolicyTest",
    "Price",
    "Receipts",
    "ReferenceModel",
    "Routing",
    "Rule",
    "SecretRef",
    "Source",
    "SqlSource",
    "ToolSpec",
    "UserSpec",
    "find_pilot",
    "format_duration",
    "is_secret_reference",
    "load_pilot",
    "load_pilot_text",
    "parse_duration",
    "parse_secret_ref",
    "pilot_json_schema",
    "render_reference_markdown",
]
