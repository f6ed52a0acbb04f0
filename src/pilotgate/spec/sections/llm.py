"""Models and how tasks are routed across them."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal

from pydantic import Field

from pilotgate.spec.base import SpecModel
from pilotgate.spec.types import Amount, Duration, HttpUrl, Name, SecretReference, Text


class Price(SpecModel):
    """A model's price, for models genai-prices does not know; amounts per million tokens."""

    input_per_mtok: Amount
    """Price of one million input tokens."""
    output_per_mtok: Amount
    """Price of one million output tokens."""


class OpenAICompatibleModel(SpecModel):
    """A model behind any OpenAI-compatible endpoint (OpenAI, vLLM, Ollama, llama.cpp)."""

    name: Name
    """The model's unique name in this pilot; routing and evals refer to it."""
    provider: Literal["openai-compatible"]
    """`openai-compatible`: an endpoint speaking the OpenAI chat completions protocol."""
    base_url: HttpUrl
    """The endpoint's base URL, e.g. `http://127.0.0.1:8000/v1`."""
    model: Text
    """The model id the endpoint expects."""
    api_key: SecretReference | None = None
    """Where the API key lives (`env:NAME`, `file:PATH`, `keyring:SERVICE/NAME`, `vault:PATH#KEY`)."""
    timeout: Duration = timedelta(seconds=60)
    """How long one call may take before it counts as failed."""
    price: Price | None = None
    """The price to charge; unset: looked up in genai-prices by model id."""


class ReferenceModel(SpecModel):
    """The offline reference model: deterministic, no keys, no network; the default when none is declared."""

    name: Name
    """The model's unique name in this pilot."""
    provider: Literal["reference"]
    """`reference`: pilotgate's built-in offline model."""


ModelSpec = Annotated[OpenAICompatibleModel | ReferenceModel, Field(discriminator="provider")]
"""One declared model; `provider` picks the shape."""


class Routing(SpecModel):
    """Which model answers first and which take over when it fails."""

    primary: Name | None = None
    """The model that answers first. Unset: the first declared model."""
    fallbacks: list[Name] = Field(default=[])
    """Models tried in order when the primary fails after its retries."""
    retries: int = Field(default=1, ge=0, le=10)
    """Retries per model before moving to the next."""


DegradedMode = Literal["escalate", "answer_from_fallback"]
