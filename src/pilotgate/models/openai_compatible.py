"""A model behind any OpenAI-compatible chat-completions endpoint (OpenAI, vLLM, Ollama, llama.cpp).

It POSTs the chat-completions body itself, over the standard library's http.client with a kept-alive
connection per thread (``pilotgate.models.transport``), and reads the JSON reply as plain data: the
openai SDK's request and response machinery cost several times the request's own CPU, and the eval
runner makes thousands of calls on one core (measured, docs/models.md). Nothing is retried here:
retrying, backoff and fallback belong to the router, which sees every attempt and records it. The API
key comes from a secret reference, resolved once when the client is built; it only ever goes into the
Authorization header, and every error message is scrubbed of it, since a server may echo what it was
sent.

Failures become named errors that say which model failed and why, as they did under the SDK:
``ModelTimeoutError``, ``ModelConnectionError``, ``ModelHTTPError`` (with the status) and
``ModelReplyError`` (a body that is not a chat completion, or tool arguments that are not a JSON object).
A tool the request did not offer is not an error: the call is kept as asked and its name listed in
``ModelResponse.unknown_tools``, so the runtime refuses it and the receipt shows what the model tried.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

import orjson

from pilotgate.errors import (
    ModelConnectionError,
    ModelError,
    ModelHTTPError,
    ModelReplyError,
    ModelTimeoutError,
)
from pilotgate.models import prompt
from pilotgate.models.base import FinishReason, ModelRequest, ModelResponse
from pilotgate.models.calls import ToolCall
from pilotgate.models.reference import approximate_tokens
from pilotgate.models.transport import JsonPoster, Reply, TransportDown, TransportTimeout
from pilotgate.spec.sections.llm import OpenAICompatibleModel as OpenAICompatibleSpec

PROVIDER = "openai-compatible"

USER_AGENT = "pilotgate"

KEYLESS = "pilotgate-no-key"
"""Sent as the bearer token when no `api_key` is declared (local servers ignore it). Passing it keeps the
client from ever sending an ambient ``OPENAI_API_KEY`` to whatever ``base_url`` says (the SDK read it)."""

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
        self._name = name
        self.base_url = base_url
        self.model = model
        self.timeout = timeout
        self.instructions = instructions
        self.timer = timer
        self._secret = api_key or ""
        try:
            self._poster = JsonPoster(
                base_url,
                {"Authorization": f"Bearer {api_key or KEYLESS}", "User-Agent": USER_AGENT},
                timeout,
            )
        except ValueError as exc:  # names the header, never the key
            raise ModelError(
                f"model {name!r} cannot be called: {exc}",
                model=name,
                hint="an API key may hold no line break or control character; check the secret it comes from",
            ) from None

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
        """Close the pooled HTTP connections."""
        self._poster.close()

    def __enter__(self) -> OpenAICompatibleClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def complete(self, request: ModelRequest) -> ModelResponse:
        """One chat completion; a failure raises a ModelUnavailableError naming this model and the cause."""
        sent = prompt.messages(request, self.instructions)
        body: dict[str, Any] = {"model": self.model, "messages": sent}
        if request.tools:
            body["tools"] = prompt.tools(request)
        if request.max_output_tokens is not None:
            body["max_tokens"] = request.max_output_tokens
        data = _request_bytes(body)
        started = self.timer()
        try:
            reply = self._poster.post("/chat/completions", data)
        except TransportTimeout as exc:
            raise self._timeout_error(str(exc)) from None
        except TransportDown as exc:
            raise self._connection_error(str(exc)) from None
        latency_ms = round((self.timer() - started) * 1000, 3)
        if reply.status >= 300:
            raise self._status_error(reply) from None
        return self._read(self._decode(reply), request, sent, latency_ms)

    def _decode(self, reply: Reply) -> Any:
        """The reply's JSON; a body that is not JSON is a reply error. A body sent as something other than
        JSON (an HTML page from a gateway) is read as no completion at all, as the SDK read it."""
        if "json" not in reply.content_type.lower():
            return None
        try:
            return orjson.loads(reply.body)
        except ValueError:
            pass  # orjson is stricter in corners (NaN, integers past 64 bits): the stdlib decides
        try:
            return json.loads(reply.body)
        except ValueError as exc:
            raise self._reply_error(f"the body is not valid JSON: {exc}") from None

    def _read(
        self, completion: Any, request: ModelRequest, sent: list[dict[str, Any]], latency_ms: float
    ) -> ModelResponse:
        choices = completion.get("choices") if isinstance(completion, dict) else None
        if not isinstance(choices, list) or not choices:
            raise self._reply_error("the reply is not a chat completion (no choices)") from None
        first = choices[0] if isinstance(choices[0], dict) else {}
        message = first.get("message")
        if not isinstance(message, dict):
            raise self._reply_error("the reply's first choice has no message") from None
        text = _text(message.get("content")) or _text(message.get("refusal"))
        raw_calls = message.get("tool_calls") or []
        if not isinstance(raw_calls, list):
            raise self._reply_error("the reply's tool_calls is not a list") from None
        calls = tuple(self._tool_call(call) for call in raw_calls)
        text, citations = prompt.cite(text, request.context)
        usage = completion.get("usage")
        usage = usage if isinstance(usage, dict) else {}
        input_tokens = usage.get("prompt_tokens")
        output_tokens = usage.get("completion_tokens")
        estimated = not _is_count(input_tokens) or not _is_count(output_tokens)
        if estimated:
            input_tokens = sum(approximate_tokens(json.dumps(m.get("content") or "")) for m in sent)
            output_tokens = approximate_tokens(text) + sum(
                approximate_tokens(json.dumps(c.as_dict())) for c in calls
            )
        reason = first.get("finish_reason")
        finish: FinishReason = _FINISH_REASONS.get(reason if isinstance(reason, str) else "", "other")
        if calls and finish == "stop":
            finish = "tool_calls"
        answered_by = completion.get("model")
        return ModelResponse(
            text=text,
            citations=citations,
            input_tokens=int(input_tokens or 0),
            output_tokens=int(output_tokens or 0),
            model=str(answered_by or self.model),
            provider=PROVIDER,
            latency_ms=latency_ms,
            tool_calls=calls,
            finish_reason=finish,
            unknown_tools=tuple(dict.fromkeys(c.name for c in calls if not request.offers(c.name))),
            usage_estimated=estimated,
        )

    def _tool_call(self, call: Any) -> ToolCall:
        call = call if isinstance(call, dict) else {}
        function = call.get("function")
        name = function.get("name") if isinstance(function, dict) else None
        if (call.get("type") or "function") != "function" or not isinstance(name, str) or not name:
            raise self._reply_error("a tool call in the reply is not a function call with a name") from None
        assert isinstance(function, dict)
        raw = function.get("arguments") or "{}"
        try:
            arguments = json.loads(raw) if isinstance(raw, str) else raw
        except ValueError as exc:
            raise self._reply_error(f"malformed tool arguments for {name!r}: {exc}") from None
        if not isinstance(arguments, Mapping):
            raise self._reply_error(f"malformed tool arguments for {name!r}: not a JSON object") from None
        return ToolCall(id=str(call.get("id") or ""), name=name, arguments=dict(arguments))

    def _reply_error(self, cause: str) -> ModelReplyError:
        cause = self._scrub(cause)
        return ModelReplyError(
            f"{self._where()}: unusable reply: {cause}",
            model=self._name,
            cause=cause,
            hint="check that base_url points at a chat-completions endpoint that supports tools",
        )

    def _timeout_error(self, reason: str) -> ModelTimeoutError:
        return ModelTimeoutError(
            f"{self._where()}: no reply within {self.timeout:g} s",
            model=self._name,
            cause=self._scrub(reason or "timed out"),
            hint=f"check the server, or raise `timeout` of model {self._name!r} in pilot.yaml",
        )

    def _connection_error(self, reason: str) -> ModelConnectionError:
        cause = self._scrub(reason)
        return ModelConnectionError(
            f"{self._where()}: cannot connect: {cause}",
            model=self._name,
            cause=cause,
            hint=f"is the server at {_shown(self.base_url)} running and reachable?",
        )

    def _status_error(self, reply: Reply) -> ModelHTTPError:
        """An error status, with the server's own message (OpenAI's ``error.message``, else the body)."""
        status = reply.status
        cause = self._scrub(_error_message(reply) or f"HTTP {status}")
        return ModelHTTPError(
            f"{self._where()}: HTTP {status}: {cause}",
            model=self._name,
            cause=cause,
            status=status,
            retryable=status >= 500 or status in RETRYABLE_STATUS,
            hint=_status_hint(status, self._name),
        )

    def _where(self) -> str:
        return f"model {self._name!r} ({self.model} at {_shown(self.base_url)})"

    def _scrub(self, text: str) -> str:
        if self._secret:
            text = text.replace(self._secret, REDACTED)
        return text if len(text) <= MAX_CAUSE_CHARS else text[: MAX_CAUSE_CHARS - 3] + "..."


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _error_message(reply: Reply) -> str:
    """The message of an error reply: ``error.message`` of OpenAI's error shape, else the body as text."""
    text = reply.body.decode("utf-8", errors="replace").strip()
    try:
        data = json.loads(text)
    except ValueError:
        return text
    error = data.get("error") if isinstance(data, dict) else None
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return str(error["message"])
    if isinstance(error, str):
        return error
    return text


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


def _request_bytes(body: dict[str, Any]) -> bytes:
    """The request as JSON: orjson (UTF-8, ~0.5 µs against ~11 µs for the stdlib on a 4 KB prompt), or,
    when the text holds a lone surrogate (a badly decoded document) orjson refuses, the stdlib with ASCII
    escapes, which keeps it sendable JSON rather than an encode error."""
    try:
        return orjson.dumps(body)
    except orjson.JSONEncodeError:
        return json.dumps(body, separators=(",", ":")).encode("ascii")
