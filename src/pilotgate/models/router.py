"""Routing one request across a pilot's models: the primary, then each fallback in order.

Each model gets ``1 + retries`` tries, with exponential backoff and jitter between them (tenacity), but only
for failures that trying again can fix: timeouts, connection errors, 429 and 5xx. Any other failure (a 4xx,
a malformed reply) moves straight to the next model. Every try is recorded as an ``Attempt``; the answer
comes back as a ``RoutedResponse`` carrying which model answered, whether it was a fallback, every attempt
and the call's cost. When every model has failed, ``AllModelsFailed`` carries the attempts so the runtime
can apply the pilot's degraded mode. Errors that are not model failures (a bug, a secret that cannot be
resolved) are not caught: they must never turn into a silent fallback.

Timeouts are each model's own (the client enforces them); the router only decides what happens next.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from pilotgate.errors import AllModelsFailed, ModelUnavailableError
from pilotgate.models import telemetry
from pilotgate.models.base import Model, ModelRequest, ModelResponse
from pilotgate.models.pricing import CallCost, ModelPricing


@dataclass(frozen=True)
class Backoff:
    """Waits between retries of one model: ``initial * 2**n`` seconds, capped at ``maximum``, plus up to
    ``jitter`` seconds at random so that many workers do not retry in step."""

    initial: float = 0.5
    maximum: float = 8.0
    jitter: float = 0.5


DEFAULT_BACKOFF = Backoff()
"""0.5 s, 1 s, 2 s, ... capped at 8 s, each plus up to 0.5 s of jitter."""

NO_BACKOFF = Backoff(0.0, 0.0, 0.0)
"""Retry at once: for tests, and for callers that pace themselves."""


@dataclass(frozen=True)
class Route:
    """One model in a route: its name in pilot.yaml, the model itself, and how its calls are priced."""

    name: str
    model: Model
    pricing: ModelPricing = field(default_factory=ModelPricing)


@dataclass(frozen=True)
class Attempt:
    """One try of one model."""

    model: str
    """The model's name in pilot.yaml."""
    try_number: int
    """1 for the first try of this model, 2 for its first retry, ..."""
    latency_ms: float
    error: str | None = None
    """The error's class name (``ModelTimeoutError``, ``ModelHTTPError``, ...); None when it answered."""
    cause: str | None = None
    """What went wrong, as the error says it (never holds a key)."""
    status: int | None = None
    """The HTTP status, when the endpoint answered with an error."""

    @property
    def ok(self) -> bool:
        """True when this try produced the answer."""
        return self.error is None

    def as_dict(self) -> dict[str, Any]:
        """The attempt as a receipt records it (latency as a string, like every time in a receipt)."""
        return {
            "model": self.model,
            "try": self.try_number,
            "ok": self.ok,
            "error": self.error,
            "cause": self.cause,
            "status": self.status,
            "latency_ms": f"{self.latency_ms:.3f}",
        }


@dataclass(frozen=True)
class RoutedResponse:
    """A model's answer, with which model gave it, whether it was a fallback, every attempt, and the cost."""

    response: ModelResponse
    model: str
    """The name in pilot.yaml of the model that answered."""
    fallback: bool
    """True when a model other than the route's first answered."""
    attempts: tuple[Attempt, ...]
    cost: CallCost

    def receipt_body(self) -> dict[str, Any]:
        """The body of this call's ``model.call`` receipt: everything an auditor needs, money and times as
        strings. Keys are pilotgate's own (see ``otel_attributes`` for the OpenTelemetry names)."""
        response = self.response
        body: dict[str, Any] = {
            "model": self.model,
            "provider": response.provider,
            "model_id": response.model,
            "input_tokens": response.input_tokens,
            "output_tokens": response.output_tokens,
            "tokens_estimated": response.usage_estimated,
            "latency_ms": f"{response.latency_ms:.3f}",
            **self.cost.receipt_fields(),
            "fallback": self.fallback,
            "attempts": [attempt.as_dict() for attempt in self.attempts],
            "finish_reason": response.finish_reason,
            "output": response.text,
            "citations": list(response.citations),
            "tool_calls": [call.as_dict() for call in response.tool_calls],
            "unknown_tools": list(response.unknown_tools),
        }
        if response.cached:  # only then: a live call's receipt reads as it always did
            body["cached"] = True
        return body

    def otel_attributes(self) -> dict[str, Any]:
        """The call as OpenTelemetry GenAI span attributes."""
        response = self.response
        return {
            telemetry.OPERATION_NAME: telemetry.CHAT,
            telemetry.PROVIDER_NAME: response.provider,
            telemetry.REQUEST_MODEL: self.model,
            telemetry.RESPONSE_MODEL: response.model,
            telemetry.RESPONSE_FINISH_REASONS: [response.finish_reason],
            telemetry.USAGE_INPUT_TOKENS: response.input_tokens,
            telemetry.USAGE_OUTPUT_TOKENS: response.output_tokens,
        }


def _retryable(exc: BaseException) -> bool:
    return isinstance(exc, ModelUnavailableError) and exc.retryable


class Router:
    """Routes requests over a pilot's models: first route first, each retried, then the next."""

    def __init__(
        self,
        routes: Sequence[Route],
        *,
        retries: int = 1,
        backoff: Backoff = DEFAULT_BACKOFF,
        sleep: Callable[[float], None] = time.sleep,
        timer: Callable[[], float] = time.perf_counter,
    ) -> None:
        if not routes:
            raise ValueError("a router needs at least one model")
        self.routes = tuple(routes)
        self.retries = retries
        self.backoff = backoff
        self.sleep = sleep
        """Called with each backoff in seconds; tests pass one that records instead of sleeping."""
        self.timer = timer
        self._built: tuple[tuple[int, Backoff], Retrying] | None = None

    @property
    def primary(self) -> Route:
        """The route's first model."""
        return self.routes[0]

    def route(self, request: ModelRequest, *, skip_primary: bool = False) -> RoutedResponse:
        """Answer ``request`` from the first model that can; raise AllModelsFailed when none can.

        ``skip_primary`` starts at the first fallback (the budget-spent degraded mode).
        """
        attempts: list[Attempt] = []
        candidates = self.routes[1:] if skip_primary else self.routes
        for route in candidates:
            try:
                response = self._call(route, request, attempts)
            except ModelUnavailableError:
                continue
            return RoutedResponse(
                response=response,
                model=route.name,
                fallback=route is not self.primary,
                attempts=tuple(attempts),
                cost=route.pricing.cost(response.input_tokens, response.output_tokens),
            )
        tried = ", ".join(dict.fromkeys(attempt.model for attempt in attempts)) or "none"
        last = attempts[-1] if attempts else None
        raise AllModelsFailed(
            f"every model failed ({tried})" + (f"; last: {last.model}: {last.cause}" if last else ""),
            attempts=attempts,
            hint="the degraded mode decides what happens to the task; `attempts` says why each failed",
        )

    def _call(self, route: Route, request: ModelRequest, attempts: list[Attempt]) -> ModelResponse:
        """Call one model with retries on retryable errors; every try lands in ``attempts``."""
        tries = 0

        def once() -> ModelResponse:
            nonlocal tries
            tries += 1
            started = self.timer()
            try:
                response = route.model.complete(request)
            except ModelUnavailableError as exc:
                attempts.append(
                    Attempt(
                        model=route.name,
                        try_number=tries,
                        latency_ms=(self.timer() - started) * 1000,
                        error=type(exc).__name__,
                        cause=exc.cause,
                        status=exc.status,
                    )
                )
                raise
            attempts.append(Attempt(route.name, tries, (self.timer() - started) * 1000))
            return response

        # The first try is made here: a model that answers (nearly every call) costs no trip through
        # tenacity (~15 µs a call, measured). A retryable failure is handed to the retry policy as its
        # first attempt, so the backoff and the attempts' count are exactly the policy's.
        try:
            return once()
        except Exception as exc:
            if not _retryable(exc) or self.retries < 1:
                raise
            failed: Exception | None = exc

        def again() -> ModelResponse:
            nonlocal failed
            if failed is not None:
                first, failed = failed, None
                raise first
            return once()

        return self._retrying()(again)

    def _retrying(self) -> Retrying:
        """The retry policy, built once per (retries, backoff): a Retrying keeps its per-call state in a
        thread-local, so the eval runner's threads share one (building it cost ~25 µs a call)."""
        key = (self.retries, self.backoff)
        built = self._built
        if built is None or built[0] != key:
            retrying = Retrying(
                stop=stop_after_attempt(self.retries + 1),
                wait=wait_exponential_jitter(
                    multiplier=self.backoff.initial, max=self.backoff.maximum, jitter=self.backoff.jitter
                ),
                retry=retry_if_exception(_retryable),
                sleep=self._sleep,
                reraise=True,
            )
            built = self._built = (key, retrying)
        return built[1]

    def _sleep(self, seconds: float) -> None:
        if seconds > 0:
            self.sleep(seconds)

    def close(self) -> None:
        """Close every model that holds connections."""
        for route in self.routes:
            close = getattr(route.model, "close", None)
            if callable(close):
                close()

    def __enter__(self) -> Router:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
