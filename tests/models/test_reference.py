"""The extractive reference model answers from the context, cites it, and abstains plainly."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest

from pilotgate.models import (
    NOTHING_FOUND,
    REFERENCE_MODEL_NAME,
    Model,
    ModelRequest,
    ModelResponse,
    ReferenceModel,
    approximate_tokens,
)


@dataclass(frozen=True)
class Passage:
    """A stand-in for a retrieved chunk: the fields the model protocol asks for."""

    chunk_id: str
    text: str
    heading: str | None = None
    source: str = "policy"
    uri: str = "policy.md"


DAMAGED = Passage(
    "chk_damaged",
    "Send a photo of the damaged item. We refund the full price within 14 days. Keep the box.",
    "Refunds > Damaged items",
)
SHIPPING = Passage("chk_shipping", "Parcels ship in two days.\n\n- Tracking arrives by email.", "Shipping")
GENERAL = Passage("chk_general", "Refunds go to the original card.", "Refunds")


def fixed_timer() -> float:
    return 0.0


def answer(question: str, *context: Passage, **kwargs: object) -> ModelResponse:
    model = ReferenceModel(timer=fixed_timer, **kwargs)  # type: ignore[arg-type]
    return model.complete(ModelRequest(question=question, context=list(context)))


def test_it_names_itself_for_what_it_is() -> None:
    model = ReferenceModel()
    assert model.name == REFERENCE_MODEL_NAME == "pilotgate-reference-extractive-1"
    assert model.provider == "reference"
    assert "not an LLM" in (ReferenceModel.__doc__ or "")
    assert isinstance(model, object) and _is_model(model)


def _is_model(model: Model) -> bool:
    return callable(model.complete)


def test_it_answers_with_the_best_sentences_and_cites_them() -> None:
    response = answer("How do refunds for damaged items work?", DAMAGED, SHIPPING, GENERAL)
    assert not response.abstained
    assert response.citations == ("chk_damaged", "chk_general")
    assert response.text.startswith("Send a photo of the damaged item. [1]")
    assert "Refunds go to the original card. [2]" in response.text
    assert "Parcels" not in response.text


def test_a_sentence_sharing_one_word_of_four_is_not_an_answer() -> None:
    password = Passage("chk_pw", "Support agents can never see or set your password.", "Password reset")
    response = answer("When should agents escalate to a team lead?", password)
    assert response.abstained
    assert response.text == NOTHING_FOUND
    assert (response.model, response.provider) == (REFERENCE_MODEL_NAME, "reference")


def test_every_marker_points_at_a_citation_and_every_sentence_is_copied() -> None:
    context = (DAMAGED, SHIPPING, GENERAL)
    response = answer("refund photo email tracking card", *context)
    markers = [int(n) for n in re.findall(r"\[(\d+)\]", response.text)]
    assert set(markers) == set(range(1, len(response.citations) + 1))
    for sentence, marker in re.findall(r"(.+?) \[(\d+)\]\s*", response.text):
        cited = next(p for p in context if p.chunk_id == response.citations[int(marker) - 1])
        assert sentence.strip() in cited.text


def test_list_markers_are_dropped_from_quoted_sentences() -> None:
    response = answer("when does tracking arrive", SHIPPING)
    assert response.text == "Tracking arrives by email. [1]"


def test_heading_words_break_ties_and_can_carry_a_section() -> None:
    # both sentences hold "refund"; the one under the heading with "damaged" wins
    plain = Passage("chk_plain", "Refunds go to the original card.")
    response = answer(
        "refund damaged", plain, Passage("chk_x", "We refund quickly.", "Damaged"), max_sentences=1
    )
    assert response.citations == ("chk_x",)
    # "shipping" is only in the heading: the section's first sentence is the answer
    assert answer("shipping", SHIPPING, max_sentences=1).text == "Parcels ship in two days. [1]"


def test_it_abstains_plainly_when_nothing_relevant_was_retrieved() -> None:
    for response in (
        answer("How do refunds work?"),
        answer("What is the capital of France?", SHIPPING),
        answer("what is it", DAMAGED),
    ):
        assert response.abstained
        assert response.text == NOTHING_FOUND
        assert response.citations == ()


def test_answers_are_deterministic_and_ties_follow_context_order() -> None:
    first = Passage("chk_a", "Refund one.")
    second = Passage("chk_b", "Refund two.")
    response = answer("refund", first, second, max_sentences=1)
    assert response.citations == ("chk_a",)
    assert answer("refund", first, second) == answer("refund", first, second)


def test_duplicate_sentences_are_quoted_once() -> None:
    response = answer(
        "refund", Passage("chk_a", "Refund in 14 days."), Passage("chk_b", "Refund in 14 days.")
    )
    assert response.text == "Refund in 14 days. [1]"
    assert response.citations == ("chk_a",)


def test_token_counts_are_the_documented_approximation() -> None:
    assert approximate_tokens("Refunds take 14 days.") == 5
    assert approximate_tokens("") == 0
    response = answer("refund?", GENERAL)
    assert response.input_tokens == approximate_tokens("refund? Refunds Refunds go to the original card.")
    assert response.output_tokens == approximate_tokens(response.text)


def test_latency_is_measured_with_the_timer() -> None:
    ticks = iter([1.0, 1.0025])
    model = ReferenceModel(timer=lambda: next(ticks))
    assert model.complete(ModelRequest("refund", [GENERAL])).latency_ms == 2.5


@pytest.mark.parametrize("question", ["", "   ", '"', "AND OR *", "🚚"])
def test_odd_questions_abstain_without_error(question: str) -> None:
    assert answer(question, GENERAL).abstained


def test_wrapped_lines_are_one_sentence() -> None:
    from pilotgate.models.reference import _sentences

    text = (
        "# Refund timing\nRefunds are issued within 5 days after the warehouse receives\n"
        "the return. Cards take longer.\n- one item\n- two"
    )
    assert _sentences(text) == [
        "Refund timing",
        "Refunds are issued within 5 days after the warehouse receives the return.",
        "Cards take longer.",
        "one item",
        "two",
    ]
