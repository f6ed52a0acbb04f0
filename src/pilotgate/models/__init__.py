"""Models: the protocol every model implements, the offline reference model, an OpenAI-compatible client,
pricing, and the router that tries a pilot's models in order."""

from pilotgate.models.base import FinishReason, Model, ModelRequest, ModelResponse, Passage
from pilotgate.models.build import build_route, build_router
from pilotgate.models.calls import (
    TOOL_CITATION_PREFIX,
    ToolCall,
    ToolDefinition,
    ToolResult,
    Turn,
    calls_in,
    results_in,
    tool_citation,
)
from pilotgate.models.degraded import DegradedOutcome, DegradedReason, degrade
from pilotgate.models.openai_compatible import OpenAICompatibleClient
from pilotgate.models.pricing import CallCost, ModelPricing, PriceSource, genai_prices_cost, money
from pilotgate.models.reference import NOTHING_FOUND, REFERENCE_MODEL_NAME, ReferenceModel, approximate_tokens
from pilotgate.models.router import (
    DEFAULT_BACKOFF,
    NO_BACKOFF,
    Attempt,
    Backoff,
    Route,
    RoutedResponse,
    Router,
)
from pilotgate.models.tool_rules import CompiledToolRule

__all__ = [
    "DEFAULT_BACKOFF",
    "NOTHING_FOUND",
    "NO_BACKOFF",
    "REFERENCE_MODEL_NAME",
    "TOOL_CITATION_PREFIX",
    "Attempt",
    "Backoff",
    "CallCost",
    "CompiledToolRule",
    "DegradedOutcome",
    "DegradedReason",
    "FinishReason",
    "Model",
    "ModelPricing",
    "ModelRequest",
    "ModelResponse",
    "OpenAICompatibleClient",
    "Passage",
    "PriceSource",
    "ReferenceModel",
    "Route",
    "RoutedResponse",
    "Router",
    "ToolCall",
    "ToolDefinition",
    "ToolResult",
    "Turn",
    "approximate_tokens",
    "build_route",
    "build_router",
    "calls_in",
    "degrade",
    "genai_prices_cost",
    "money",
    "results_in",
    "tool_citation",
]
