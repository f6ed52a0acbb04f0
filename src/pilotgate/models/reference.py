"""The offline reference model: an extractive reference model, not an LLM.

It answers only with sentences copied from the retrieved context: those that share the most content words
with the question (ties go to sentences whose passage heading shares more of them, then to the earlier
passage and sentence), at most ``max_sentences`` of them, quoted in the order of the passages and of the
sentences within them, each followed by a citation marker. When no passage
shares a content word with the question it says so plainly and abstains, so the runtime escalates.

A passage flagged stale (older than its source's ``freshness`` allows) ranks after fresh passages whose
sentences share as many words with the question; an answer quoting one says it may be out of date.

It needs no keys and no network, and the same request always gives the same answer, which makes it the
offline default and the model every test can rely on. Ties are broken by passage order, then sentence order.

Tool rules declared in pilot.yaml make it ask for tools: when a rule matches, the rule's tool is offered
in the request and the task has not called it yet, it answers with that call. Once the results are in
(and no other rule fires) it answers from them, citing each result as ``tool:<call id>``; when every call
failed or was refused it says so and abstains, so the task escalates, unless the question asked for none
of those calls (a rule matching the context made them, as an instruction planted in a document would) and
the context answers the question: then it answers from the context, saying what did not run.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from pilotgate.data.terms import STOPWORDS, terms
from pilotgate.models.base import ModelRequest, ModelResponse, Passage
from pilotgate.models.calls import ToolCall, ToolResult, calls_in, results_in, tool_citation
from pilotgate.models.prompt import is_stale
from pilotgate.models.tool_rules import CompiledToolRule
from pilotgate.spec.sections.llm import ReferenceModel as ReferenceModelSpec

REFERENCE_MODEL_NAME = "pilotgate-reference-extractive-1"
"""The name recorded in receipts; it says what the model is."""

REFERENCE_PROVIDER = "reference"

NOTHING_FOUND = "I found nothing in the sources you may read that answers this."
"""The whole answer when nothing retrieved is relevant to the question."""

STALE_NOTE = "(Part of this comes from content older than its source's freshness allows: it may be outdated.)"
"""Appended to an answer that quotes a stale passage."""

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_LIST_MARKER = re.compile(r"^\s*(?:[-*+]|\d{1,3}[.)])\s+")
_NOT_PROSE = re.compile(r"^\s*(?:```|~~~|\|?[\s:|-]*-{3,}[\s:|-]*\|?$)")
_TOKEN = re.compile(r"[^\W_]+|[^\w\s]|_")
_SUFFIXES = (("ies", "y"), ("sses", "ss"), ("ing", ""), ("ed", ""), ("es", ""), ("s", ""))


def approximate_tokens(text: str) -> int:
    """An approximate token count: each run of letters or digits and each punctuation mark counts one.

    It is not any real model's tokenizer; it is stable, cheap and in the right range for English prose.
    """
    return len(_TOKEN.findall(text))


@dataclass
class ReferenceModel:
    """Extractive reference model, not an LLM: answers with cited sentences from the retrieved context."""

    max_sentences: int = 3
    """At most this many sentences in an answer."""
    timer: Callable[[], float] = field(default=time.perf_counter, repr=False)
    """Seconds, monotonic; tests pass a fixed timer so whole traces compare equal."""
    tool_rules: Sequence[CompiledToolRule] = ()
    """Requests answered with a tool call, first matching rule first."""

    @classmethod
    def from_spec(cls, spec: ReferenceModelSpec, **kwargs: object) -> ReferenceModel:
        """The reference model as pilot.yaml declares it, tool rules compiled."""
        rules = tuple(CompiledToolRule.from_spec(rule) for rule in spec.tool_rules)
        return cls(tool_rules=rules, **kwargs)  # type: ignore[arg-type]

    @property
    def name(self) -> str:
        """``pilotgate-reference-extractive-1``."""
        return REFERENCE_MODEL_NAME

    @property
    def provider(self) -> str:
        """``reference``."""
        return REFERENCE_PROVIDER

    def complete(self, request: ModelRequest) -> ModelResponse:
        """Ask for a tool a rule names, else answer from tool results, else from the context; abstain if
        nothing is relevant."""
        started = self.timer()
        call = self._next_call(request)
        results = results_in(request.turns)
        tool_calls: tuple[ToolCall, ...] = ()
        if call is not None:
            text, citations, abstained, tool_calls = "", (), False, (call,)
        elif results:
            text, citations, abstained = _from_results(results)
            unasked = abstained and not self._asked_for(request, results)
            planted = [r.pattern for r in self.tool_rules if r.match_on == "context"]
            picked = _pick(request.question, request.context, self.max_sentences, planted) if unasked else []
            if picked:  # no call ran, none the user asked for, and the sources answer: say so, answer
                answer, citations = _compose(picked, request.context)
                text, abstained = f"{answer} ({text})", False
        else:
            picked = _pick(request.question, request.context, self.max_sentences)
            if picked:
                text, citations = _compose(picked, request.context)
            else:
                text, citations = NOTHING_FOUND, ()
            abstained = not picked
        prompt = " ".join(
            [
                request.question,
                *(f"{p.heading or ''} {p.text}" for p in request.context),
                *(result.content for result in results),
            ]
        )
        return ModelResponse(
            text=text,
            citations=citations,
            input_tokens=approximate_tokens(prompt),
            output_tokens=approximate_tokens(text)
            + sum(approximate_tokens(str(c.as_dict())) for c in tool_calls),
            model=self.name,
            provider=self.provider,
            latency_ms=round((self.timer() - started) * 1000, 3),
            abstained=abstained,
            tool_calls=tool_calls,
            finish_reason="tool_calls" if tool_calls else "stop",
        )

    def _asked_for(self, request: ModelRequest, results: Sequence[ToolResult]) -> bool:
        """Whether the question itself asks for one of the tools called (a rule matching the question names
        it): the user wanted that action, so a refusal is for a person to handle, not for the sources."""
        called = {result.name for result in results}
        return any(
            rule.match_on == "question" and rule.tool in called and rule.arguments(request) is not None
            for rule in self.tool_rules
        )

    def _next_call(self, request: ModelRequest) -> ToolCall | None:
        """The call of the first rule that matches, whose tool is offered and not yet called in this task."""
        earlier = calls_in(request.turns)
        called = {call.name for call in earlier}
        for rule in self.tool_rules:
            if rule.tool in called or not request.offers(rule.tool):
                continue
            arguments = rule.arguments(request)
            if arguments is not None:
                return ToolCall(id=f"call_{len(earlier) + 1}", name=rule.tool, arguments=arguments)
        return None


@dataclass(frozen=True)
class _Sentence:
    in_sentence: int
    in_heading: int
    covered: int
    passage: int
    position: int
    text: str
    stale: bool = False


def _stem(word: str) -> str:
    """A crude suffix stripper, enough to match "refunds" to "refund" and "damaged" to "damage"."""
    for suffix, replacement in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)] + replacement
            break
    if len(word) > 3 and word[-1] == word[-2] and word[-1] not in "lsz":
        word = word[:-1]
    if len(word) > 3 and word.endswith("e"):
        word = word[:-1]
    return word


def _content_stems(text: str) -> set[str]:
    return {_stem(word) for word in terms(text) if word not in STOPWORDS}


def _sentences(text: str) -> list[str]:
    """Sentences of the prose in ``text``: wrapped lines are joined first, list items stand alone."""
    found: list[str] = []
    for unit in _prose_units(text):
        found.extend(part.strip() for part in _SENTENCE_END.split(unit) if part.strip())
    return found


def _prose_units(text: str) -> list[str]:
    """Paragraphs and list items as single lines; code fences, tables and rules are left out."""
    units: list[str] = []
    current: list[str] = []

    def flush() -> None:
        if current:
            units.append(" ".join(current))
            current.clear()

    for line in text.split("\n"):
        if not line.strip() or _NOT_PROSE.match(line):
            flush()
            continue
        if line.lstrip().startswith("#"):
            flush()
            units.append(line.strip().lstrip("#").strip())
            continue
        if _LIST_MARKER.match(line):
            flush()
        current.append(_LIST_MARKER.sub("", line).strip())
    flush()
    return units


def _pick(
    question: str, context: Sequence[Passage], limit: int, skip: Sequence[re.Pattern[str]] = ()
) -> list[_Sentence]:
    """The ``limit`` most relevant sentences, best first (none that a ``skip`` pattern matches: the
    instructions that made refused calls are not repeated to the user).

    The context answers only if its best sentence (with its passage's heading) covers at least half of
    the question's content words: one shared word out of four ("agents" in a password article) is not an
    answer, and abstaining is better than answering beside the question. Once it does, other sentences
    sharing a content word join it as support.
    """
    wanted = _content_stems(question)
    if not wanted or limit < 1:
        return []
    needed = math.ceil(len(wanted) / 2)
    candidates: list[_Sentence] = []
    seen: set[str] = set()
    for index, passage in enumerate(context):
        stale = is_stale(passage)
        in_heading = wanted & _content_stems(passage.heading or "")
        for position, sentence in enumerate(_sentences(passage.text)):
            key = " ".join(terms(sentence))
            if not key or key in seen or any(pattern.search(sentence) for pattern in skip):
                continue
            seen.add(key)
            in_sentence = wanted & _content_stems(sentence)
            if in_sentence:
                covered = len(in_sentence | in_heading)
                candidates.append(
                    _Sentence(len(in_sentence), len(in_heading), covered, index, position, sentence, stale)
                )
    if not candidates or max(c.covered for c in candidates) < needed:
        return []
    ordered = sorted(
        candidates, key=lambda s: (-s.in_sentence, s.stale, -s.in_heading, s.passage, s.position)
    )
    return ordered[:limit]


def _from_results(results: Sequence[ToolResult]) -> tuple[str, tuple[str, ...], bool]:
    """Report each result, citing those that succeeded; abstain when none did."""
    citations: list[str] = []
    parts: list[str] = []
    for result in results:
        if result.is_error:
            parts.append(f"{result.name} did not run: {result.content}")
        else:
            citations.append(tool_citation(result.call_id))
            parts.append(f"{result.name} returned: {result.content} [{len(citations)}]")
    return " ".join(parts), tuple(citations), not citations


def _compose(picked: list[_Sentence], context: Sequence[Passage]) -> tuple[str, tuple[str, ...]]:
    citations: list[str] = []
    parts: list[str] = []
    for sentence in picked:
        chunk = context[sentence.passage].chunk_id
        if chunk not in citations:
            citations.append(chunk)
        parts.append(f"{sentence.text} [{citations.index(chunk) + 1}]")
    if any(sentence.stale for sentence in picked):
        parts.append(STALE_NOTE)
    return " ".join(parts), tuple(citations)
