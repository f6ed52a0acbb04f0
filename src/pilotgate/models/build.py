"""Build a pilot's router from pilot.yaml: each routed model made real, priced, in routing order."""

from __future__ import annotations

import time
from collections.abc import Callable

from pilotgate.models.openai_compatible import OpenAICompatibleClient
from pilotgate.models.pricing import ModelPricing
from pilotgate.models.reference import ReferenceModel
from pilotgate.models.router import DEFAULT_BACKOFF, Backoff, Route, Router
from pilotgate.spec import OpenAICompatibleModel, PilotSpec, Routing
from pilotgate.spec import ReferenceModel as ReferenceModelSpec


def build_route(
    spec: OpenAICompatibleModel | ReferenceModelSpec, resolve_secret: Callable[[str], str]
) -> Route:
    """One declared model as a route: the model, built, and how its calls are priced."""
    if isinstance(spec, ReferenceModelSpec):
        return Route(spec.name, ReferenceModel.from_spec(spec), ModelPricing(free=True))
    client = OpenAICompatibleClient.from_spec(spec, resolve_secret)
    return Route(spec.name, client, ModelPricing(spec.price, spec.model, spec.base_url))


def build_router(
    spec: PilotSpec,
    resolve_secret: Callable[[str], str],
    *,
    routing: Routing | None = None,
    backoff: Backoff = DEFAULT_BACKOFF,
    sleep: Callable[[float], None] = time.sleep,
) -> Router:
    """The router for ``spec``'s routing (or a release's ``routing``): primary first, then the fallbacks.

    API keys are resolved here, through ``resolve_secret``; a reference that cannot be resolved raises the
    resolver's own error (never a silent fallback), after closing any client already built.
    """
    routing = routing or spec.routing
    names = [routing.primary or spec.models[0].name, *routing.fallbacks]
    routes: list[Route] = []
    try:
        for name in names:
            routes.append(build_route(spec.model_named(name), resolve_secret))
    except BaseException:
        for route in routes:
            close = getattr(route.model, "close", None)
            if callable(close):
                close()
        raise
    return Router(routes, retries=routing.retries, backoff=backoff, sleep=sleep)
