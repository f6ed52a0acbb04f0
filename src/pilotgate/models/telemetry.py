"""OpenTelemetry GenAI attribute names, kept as pilotgate's own constants.

The semantic-conventions package marks these names as moved between modules from release to release, so
pilotgate spells them once, here, and spans use them as they are. Receipts do not: a receipt is the
auditors' contract, with short keys of its own that do not change when the conventions do.
"""

from __future__ import annotations

OPERATION_NAME = "gen_ai.operation.name"
PROVIDER_NAME = "gen_ai.provider.name"
REQUEST_MODEL = "gen_ai.request.model"
RESPONSE_MODEL = "gen_ai.response.model"
RESPONSE_FINISH_REASONS = "gen_ai.response.finish_reasons"
USAGE_INPUT_TOKENS = "gen_ai.usage.input_tokens"
USAGE_OUTPUT_TOKENS = "gen_ai.usage.output_tokens"
ERROR_TYPE = "error.type"

CHAT = "chat"
"""The ``gen_ai.operation.name`` of a chat completion."""
