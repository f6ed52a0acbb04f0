"""The model protocol: a question and retrieved context in, an answer with citations and usage out.

Every model pilotgate calls (the offline reference model now; an OpenAI-compatible client and others later)
implements ``Model.complete``. The request and response are plain values so that the runtime can record
them in receipts as they are. Tool calling will extend both (tools offered on the request, tool calls asked
for on the response) without changing what is here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


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
