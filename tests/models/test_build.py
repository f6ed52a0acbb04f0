"""build_router: pilot.yaml's models and routing made real, keys resolved at the edge, in routing order."""

from __future__ import annotations

import textwrap
from decimal import Decimal

import pytest
from models_helpers import CANARY_KEY, RETURNS

from doubles.openai_server import OpenAIServerDouble, error, text
from pilotgate.errors import SecretError
from pilotgate.models import (
    NO_BACKOFF,
    REFERENCE_MODEL_NAME,
    ModelRequest,
    OpenAICompatibleClient,
    ReferenceModel,
    build_router,
)
from pilotgate.secrets import SecretResolver
from pilotgate.spec import PilotSpec, Routing, load_pilot_text

ASK = ModelRequest(question="How long do returns take?", context=[RETURNS])


def pilot(base_url: str, *, price: str = "", fallbacks: str = "[reference]") -> PilotSpec:
    return load_pilot_text(
        textwrap.dedent(
            f"""
            pilot: {{name: desk, owner: sam, workflow: Answer questions.}}
            models:
              - name: primary
                provider: openai-compatible
                base_url: {base_url}
                model: gpt-4o-mini
                api_key: env:LLM_API_KEY
                timeout: 20s
                {price}
              - name: reference
                provider: reference
            routing: {{primary: primary, fallbacks: {fallbacks}, retries: 2}}
            """
        )
    )


def resolve(reference: str) -> str:
    assert reference == "env:LLM_API_KEY"
    return CANARY_KEY


def test_it_builds_the_routes_in_order_with_keys_and_prices(openai_server: OpenAIServerDouble) -> None:
    spec = pilot(openai_server.base_url, price='price: {input_per_mtok: "1", output_per_mtok: "2"}')
    with build_router(spec, resolve, backoff=NO_BACKOFF) as router:
        assert [route.name for route in router.routes] == ["primary", "reference"]
        primary, reference = (route.model for route in router.routes)
        assert isinstance(primary, OpenAICompatibleClient) and primary.timeout == 20.0
        assert isinstance(reference, ReferenceModel)
        assert router.retries == 2
        openai_server.reply(text("Thirty days [1].", usage=(1000, 1000)))
        routed = router.route(ASK)
    assert routed.cost.amount == Decimal("0.003")
    assert openai_server.requests[0].headers["authorization"] == f"Bearer {CANARY_KEY}"


def test_the_reference_model_answers_offline_when_the_primary_is_down(
    openai_server: OpenAIServerDouble,
) -> None:
    openai_server.reply(error(500), error(500), error(500))
    with build_router(pilot(openai_server.base_url), resolve, backoff=NO_BACKOFF) as router:
        routed = router.route(ASK)
    assert (routed.model, routed.fallback) == ("reference", True)
    assert routed.response.model == REFERENCE_MODEL_NAME
    assert routed.cost.source == "free" and routed.receipt_body()["cost"] == "0"
    assert len(routed.attempts) == 4


def test_a_release_can_route_differently(openai_server: OpenAIServerDouble) -> None:
    spec = pilot(openai_server.base_url)
    with build_router(spec, resolve, routing=Routing(primary="reference", retries=0)) as router:
        assert [route.name for route in router.routes] == ["reference"]
        assert router.route(ASK).model == "reference"
    assert openai_server.requests == []


def test_keys_come_through_the_secret_resolver(openai_server: OpenAIServerDouble) -> None:
    told: list[str] = []
    secrets = SecretResolver(environ={"LLM_API_KEY": CANARY_KEY}, on_resolved=told.append)
    with build_router(pilot(openai_server.base_url), secrets.resolve) as router:
        router.route(ASK)
    assert told == [CANARY_KEY], "the resolver tells its listeners (the redactor) about the key"
    assert openai_server.requests[0].headers["authorization"] == f"Bearer {CANARY_KEY}"


def test_a_secret_that_cannot_be_resolved_fails_closed() -> None:
    spec = pilot("http://127.0.0.1:9/v1")

    def refuse(reference: str) -> str:
        raise SecretError("env variable LLM_API_KEY is not set", reference=reference)

    with pytest.raises(SecretError):
        build_router(spec, refuse)


def test_a_pilot_without_models_routes_to_the_reference_model() -> None:
    spec = load_pilot_text("pilot: {name: desk, owner: sam, workflow: Answer questions.}\n")
    with build_router(spec, resolve) as router:
        assert [route.name for route in router.routes] == ["reference"]
        assert router.route(ASK).response.model == REFERENCE_MODEL_NAME
