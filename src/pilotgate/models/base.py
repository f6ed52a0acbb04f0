"""The model protocol: a question and retrieved context in, an answer with citations and usage out.

Every model pilotgate calls (the offline reference model now; an OpenAI-compatible client and others later)
implements ``Model.complete``. The request and response are plain values so that the runtime can record
them in receipts as they are. Tool calling rides on the same two values: the request offers ``tools`` and
carries the task's earlier ``turns`` (tool calls and their results); the response may ask for
``tool_calls`` instead of answering. Every new field has a default, so a plain question-and-context call
reads as it always did.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from pilotgate.models.calls import ToolCall, ToolDefinition, Turn

FinishReason = Literal["stop", "tool_calls", "length", "content_filter", "other"]
"""Why the model stopped: it answered, it asked for tools, it ran out of tokens, it was filtered, other."""


class Passage(Protocol):
    """A piece of retrieved context, as a model sees it (``pilotgate.data.RetrievedChunk`` is one)."""

    @property
    def chunk_id(self) -> str: ...

    @property
    def source(self) -> str: ...

    @property
    def uri(self) -> str: ...

    @property
    def heading(self) -> str | None: ...

    @property
    def text(self) -> str: ...


@dataclass(frozen=True)
class ModelRequest:
    """What a task asks a model."""

    question: str
    context: Sequence[Passage] = ()
    """Retrieved passages the answer must come from, best first."""
    instructions: str | None = None
    """System instructions; a model that takes none (the reference model) ignores them."""
    max_output_tokens: int | None = None
    tools: Sequence[ToolDefinition] = ()
    """Tools the model may ask for in this turn; empty: it must answer."""
    turns: Sequence[Turn] = ()
    """This task's earlier tool calls and their results, in order."""

    def offers(self, name: str) -> bool:
        """True when a tool called *name* is offered in this request."""
        return any(tool.name == name for tool in self.tools)


@dataclass(frozen=True)
class ModelResponse:
    """What a model answered, what it cited, and what the call cost in tokens and time."""

    text: str
    """The answer. A marker ``[n]`` in it refers to ``citations[n - 1]``."""
    citations: tuple[str, ...]
    """Chunk ids the answer rests on, in the order of their markers; empty when nothing was cited."""
    input_tokens: int
    output_tokens: int
    model: str
    provider: str
    latency_ms: float
    abstained: bool = False
    """True when the model said it could not answer from the context (the runtime escalates the task)."""
    tool_calls: tuple[ToolCall, ...] = ()
    """Tools the model asks to call, exactly as asked (names it was not offered included)."""
    finish_reason: FinishReason = "stop"
    unknown_tools: tuple[str, ...] = ()
    """Names in ``tool_calls`` that the request did not offer; the runtime refuses those calls."""
    usage_estimated: bool = False
    """True when the endpoint reported no usage and the token counts are pilotgate's approximation."""
    cached: bool = False
    """True when no call was made: an eval run's model cache answered with the response it recorded
    (``pilotgate.evals.cache``); the tokens, latency and cost are those of the recorded call."""


class Model(Protocol):
    """Anything that answers a ModelRequest."""

    @property
    def name(self) -> str:
        """The model's name as recorded in receipts."""
        ...

    @property
    def provider(self) -> str:
        """Who serves it: ``reference``, ``openai-compatible``, ..."""
        ...

    def complete(self, request: ModelRequest) -> ModelResponse:
        """Answer one request."""
        ...
