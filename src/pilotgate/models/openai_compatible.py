"""A model behind any OpenAI-compatible chat-completions endpoint (OpenAI, vLLM, Ollama, llama.cpp).

It talks through the openai SDK with the SDK's own retries off (``max_retries=0``): retrying, backoff and
fallback belong to the router, which sees every attempt and records it. The API key comes from a secret
reference, resolved once when the client is built; it is only ever handed to the SDK, and every error
message is scrubbed of it, since a server may echo what it was sent.

Failures become named errors that say which model failed and why: ``ModelTimeoutError``,
``ModelConnectionError``, ``ModelHTTPError`` (with the status) and ``ModelReplyError`` (a body that is not
a chat completion, or tool arguments that are not a JSON object). A tool the request did not offer is not
an error: the call is kept as asked and its name listed in ``ModelResponse.unknown_tools``, so the runtime
refuses it and the receipt shows what the model tried.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, NoReturn
from urllib.parse import urlsplit

from pilotgate.errors import (
    ModelConnectionError,
    ModelHTTPError,
    ModelReplyError,
    ModelTimeoutError,
    ModelUnavailableError,
)
from pilotgate.models import prompt
from pilotgate.models.base import FinishReason, ModelRequest, ModelResponse
from pilotgate.models.calls import ToolCall
from pilotgate.models.reference import approximate_tokens
from pilotgate.spec.sections.llm import OpenAICompatibleModel as OpenAICompatibleSpec

if TYPE_CHECKING:
    from openai import OpenAI

PROVIDER = "openai-compatible"

KEYLESS = "pilotgate-no-key"
"""Sent as the bearer token when no `api_key` is declared (local servers ignore it). Passing it keeps the
SDK from picking up an ambient ``OPENAI_API_KEY`` and sending it to whatever ``base_url`` says."""

REDACTED = "[redacted]"

MAX_CAUSE_CHARS = 300
"""Longest server message kept in an error: enough to act on, not a whole HTML error page."""

RETRYABLE_STATUS = frozenset({408, 429})
"""4xx statuses worth retrying (request timeout, rate limit); every 5xx is retried too."""

_FINISH_REASONS: dict[str, FinishReason] = {
    "stop": "stop",
    "tool_calls": "tool_calls",
    "function_call": "tool_calls",
    "length": "length",
    "content_filter": "content_filter",
}


class OpenAICompatibleClient:
    """One declared OpenAI-compatible model: a name, an endpoint, a model id, a key and a timeout."""

    def __init__(
        self,
        *,
        name: str,
        base_url: str,
        model: str,
        api_key: str | None = None,
        timeout: float = 60.0,
        instructions: str = prompt.DEFAULT_INSTRUCTIONS,
        timer: Callable[[], float] = time.perf_counter,
    ) -> None:
        from openai import OpenAI  # the SDK takes ~0.4 s to import: only pilots that use it pay for it

        self._name = name
        self.base_url = base_url
        self.model = model
        self.timeout = timeout
        self.instructions = instructions
        self.timer = timer
        self._secret = api_key or ""
        from openai.types.chat import ChatCompletion

        self._completion_type = ChatCompletion
        self._client: OpenAI = OpenAI(
            api_key=api_key or KEYLESS,
            base_url=base_url,
            timeout=timeout,
            max_retries=0,
        )

    @classmethod
    def from_spec(
        cls, spec: OpenAICompatibleSpec, resolve_secret: Callable[[str], str], **kwargs: Any
    ) -> OpenAICompatibleClient:
        """The client pilot.yaml declares; the key reference is resolved here, at the edge."""
        key = resolve_secret(spec.api_key) if spec.api_key else None
        return cls(
            name=spec.name,
            base_url=spec.base_url,
            model=spec.model,
            api_key=key,
            timeout=spec.timeout.total_seconds(),
            **kwargs,
        )

    @property
    def name(self) -> str:
        """The model's name in pilot.yaml."""
        return self._name

    @property
    def provider(self) -> str:
        """``openai-compatible``."""
        return PROVIDER

    def __repr__(self) -> str:
        return (
            f"OpenAICompatibleClient(name={self._name!r}, base_url={_shown(self.base_url)!r}, "
            f"model={self.model!r}, timeout={self.timeout!r})"
        )

    def close(self) -> None:
        """Close the SDK's HTTP connections."""
        self._client.close()

    def __enter__(self) -> OpenAICompatibleClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def complete(self, request: ModelRequest) -> ModelResponse:
        """One chat completion; a failure raises a ModelUnavailableError naming this model and the cause."""
        sent = prompt.messages(request, self.instructions)
        options: dict[str, Any] = {}
        if request.tools:
            options["tools"] = prompt.tools(request)
        if request.max_output_tokens is not None:
            options["max_tokens"] = request.max_output_tokens
        started = self.timer()
        try:
            # The SDK's own client (auth, base URL, status errors, parsing into ChatCompletion) without
            # ``chat.completions.create``'s transform of the body against its TypedDicts: our body is
            # plain JSON already, and the transform cost ~0.5 ms of CPU a call (measured), a third of it all.
            completion = self._client.post(
                "/chat/completions",
                cast_to=self._completion_type,
                body={"model": self.model, "messages": sent, **options},
            )
        except Exception as exc:  # every SDK failure becomes one named, scrubbed error
            self._fail(exc)
        latency_ms = round((self.timer() - started) * 1000, 3)
        return self._read(completion, request, sent, latency_ms)

    def _read(
        self, completion: Any, request: ModelRequest, sent: list[dict[str, Any]], latency_ms: float
    ) -> ModelResponse:
        choices = getattr(completion, "choices", None)
        if not isinstance(choices, list) or not choices:
            raise self._reply_error("the reply is not a chat completion (no choices)")
        message = getattr(choices[0], "message", None)
        if message is None:
            raise self._reply_error("the reply's first choice has no message")
        text = getattr(message, "content", None) or getattr(message, "refusal", None) or ""
        calls = tuple(self._tool_call(call) for call in getattr(message, "tool_calls", None) or ())
        text, citations = prompt.cite(text, request.context)
        usage = getattr(completion, "usage", None)
        input_tokens = getattr(usage, "prompt_tokens", None)
        output_tokens = getattr(usage, "completion_tokens", None)
        estimated = not isinstance(input_tokens, int) or not isinstance(output_tokens, int)
        if estimated:
            input_tokens = sum(approximate_tokens(json.dumps(m.get("content") or "")) for m in sent)
            output_tokens = approximate_tokens(text) + sum(
                approximate_tokens(json.dumps(c.as_dict())) for c in calls
            )
        reason = getattr(choices[0], "finish_reason", None)
        finish: FinishReason = _FINISH_REASONS.get(reason or "", "other")
        if calls and finish == "stop":
            finish = "tool_calls"
        return ModelResponse(
            text=text,
            citations=citations,
            input_tokens=int(input_tokens or 0),
            output_tokens=int(output_tokens or 0),
            model=str(getattr(completion, "model", None) or self.model),
            provider=PROVIDER,
            latency_ms=latency_ms,
            tool_calls=calls,
            finish_reason=finish,
            unknown_tools=tuple(dict.fromkeys(c.name for c in calls if not request.offers(c.name))),
            usage_estimated=estimated,
        )

    def _tool_call(self, call: Any) -> ToolCall:
        function = getattr(call, "function", None)
        name = getattr(function, "name", None)
        if getattr(call, "type", "function") != "function" or not isinstance(name, str) or not name:
            raise self._reply_error("a tool call in the reply is not a function call with a name")
        raw = getattr(function, "arguments", None) or "{}"
        try:
            arguments = json.loads(raw) if isinstance(raw, str) else raw
        except ValueError as exc:
            raise self._reply_error(f"malformed tool arguments for {name!r}: {exc}") from None
        if not isinstance(arguments, Mapping):
            raise self._reply_error(f"malformed tool arguments for {name!r}: not a JSON object")
        return ToolCall(id=str(getattr(call, "id", None) or ""), name=name, arguments=dict(arguments))

    def _reply_error(self, cause: str) -> ModelReplyError:
        cause = self._scrub(cause)
        return ModelReplyError(
            f"{self._where()}: unusable reply: {cause}",
            model=self._name,
            cause=cause,
            hint="check that base_url points at a chat-completions endpoint that supports tools",
        )

    def _fail(self, exc: Exception) -> NoReturn:
        """Raise the named error for an SDK failure, scrubbed of the key, without the SDK's exception chain
        (it holds the request, headers included)."""
        import openai

        where = self._where()
        cause = self._scrub(str(exc) or type(exc).__name__)
        if isinstance(exc, openai.APITimeoutError):
            raise ModelTimeoutError(
                f"{where}: no reply within {self.timeout:g} s",
                model=self._name,
                cause=cause,
                hint=f"check the server, or raise `timeout` of model {self._name!r} in pilot.yaml",
            ) from None
        if isinstance(exc, openai.APIConnectionError):
            raise ModelConnectionError(
                f"{where}: cannot connect: {cause}",
                model=self._name,
                cause=cause,
                hint=f"is the server at {_shown(self.base_url)} running and reachable?",
            ) from None
        if isinstance(exc, openai.APIStatusError):
            status = exc.status_code
            raise ModelHTTPError(
                f"{where}: HTTP {status}: {cause}",
                model=self._name,
                cause=cause,
                status=status,
                retryable=status >= 500 or status in RETRYABLE_STATUS,
                hint=_status_hint(status, self._name),
            ) from None
        if isinstance(exc, ValueError | openai.APIResponseValidationError):
            raise self._reply_error(f"the body is not valid JSON: {cause}") from None
        raise ModelUnavailableError(
            f"{where}: {type(exc).__name__}: {cause}", model=self._name, cause=cause
        ) from None

    def _where(self) -> str:
        return f"model {self._name!r} ({self.model} at {_shown(self.base_url)})"

    def _scrub(self, text: str) -> str:
        if self._secret:
            text = text.replace(self._secret, REDACTED)
        return text if len(text) <= MAX_CAUSE_CHARS else text[: MAX_CAUSE_CHARS - 3] + "..."


def _shown(url: str) -> str:
    """A URL as messages show it: without user information, which may hold a credential."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return parts._replace(netloc=host + port).geturl()


def _status_hint(status: int, name: str) -> str:
    if status in (401, 403):
        return f"check the key that `api_key` of model {name!r} names, and that it may use this model"
    if status == 404:
        return f"check `base_url` (it usually ends in /v1) and `model` of model {name!r}"
    if status == 429:
        return "the endpoint is rate limiting: lower the load, raise the quota, or add a fallback model"
    if status >= 500:
        return "the endpoint failed; the router retries and falls back"
    return f"the endpoint refused the request; check model {name!r} in pilot.yaml"
