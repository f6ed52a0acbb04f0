"""Chunks keep their heading path, respect the size limit, and come out the same every time."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pilotgate.data import Chunk, chunk_document, chunk_markdown, chunk_text
from pilotgate.data.connectors.base import MARKDOWN, PLAIN_TEXT

POLICY = """Preamble before any heading.

# Refunds

Refunds are issued within 14 days.

## Damaged items

Send a photo of the damage.

### Fragile goods

Glass is refunded in full.

## Late delivery

We refund shipping.

# Shipping

We ship worldwide.
"""


def test_heading_paths_follow_nesting() -> None:
    chunks = chunk_markdown(POLICY)
    assert [(c.ordinal, c.heading) for c in chunks] == [
        (0, None),
        (1, "Refunds"),
        (2, "Refunds > Damaged items"),
        (3, "Refunds > Damaged items > Fragile goods"),
        (4, "Refunds > Late delivery"),
        (5, "Shipping"),
    ]
    assert chunks[3].text == "Glass is refunded in full."


def test_headings_without_body_make_no_chunk_and_closing_hashes_are_dropped() -> None:
    chunks = chunk_markdown("# Top #\n## Empty ##\n### Leaf ###\nText.\n")
    assert chunks == [Chunk(0, "Top > Empty > Leaf", "Text.")]


def test_setext_headings_are_headings() -> None:
    chunks = chunk_markdown("Title\n=====\n\nIntro.\n\nPart\n----\n\nBody.\n")
    assert [(c.heading, c.text) for c in chunks] == [("Title", "Intro."), ("Title > Part", "Body.")]


def test_a_thematic_break_separates_paragraphs_and_is_not_text() -> None:
    chunks = chunk_markdown("One.\n\n---\n\nTwo.\n", max_chars=4)
    assert [c.text for c in chunks] == ["One.", "Two."]


def test_hash_lines_inside_code_fences_are_not_headings() -> None:
    text = "# Setup\n\n```bash\n# install\n\npip install x\n```\n\n~~~\n## nope\n~~~\n"
    chunks = chunk_markdown(text)
    assert {c.heading for c in chunks} == {"Setup"}
    assert "# install\n\npip install x" in chunks[0].text
    assert "## nope" in chunks[0].text


def test_hashtags_are_not_headings() -> None:
    assert chunk_markdown("#hashtag text\n") == [Chunk(0, None, "#hashtag text")]


def test_paragraphs_are_packed_up_to_the_limit() -> None:
    paragraphs = [f"Paragraph {i} " + "word " * 20 for i in range(10)]
    chunks = chunk_markdown("# H\n\n" + "\n\n".join(paragraphs), max_chars=300)
    assert len(chunks) > 1
    assert all(len(c.text) <= 300 for c in chunks)
    joined = "\n\n".join(c.text for c in chunks)
    assert joined == "\n\n".join(p.strip() for p in paragraphs)


def test_a_long_paragraph_is_split_at_sentences_then_words() -> None:
    sentences = " ".join(f"Sentence number {i} is here." for i in range(100))
    chunks = chunk_text(sentences, max_chars=120)
    assert all(len(c.text) <= 120 for c in chunks)
    assert all(c.text.endswith(".") for c in chunks)
    giant = chunk_text("x" * 500, max_chars=120)
    assert [len(c.text) for c in giant] == [120, 120, 120, 120, 20]


def test_plain_text_is_split_by_paragraphs_without_headings() -> None:
    chunks = chunk_text("# not a heading\n\nsecond paragraph\n  \nthird", max_chars=20)
    assert [(c.heading, c.text) for c in chunks] == [
        (None, "# not a heading"),
        (None, "second paragraph"),
        (None, "third"),
    ]


def test_chunk_document_dispatches_on_media_type() -> None:
    assert chunk_document("# H\nx", MARKDOWN)[0].heading == "H"
    assert chunk_document("# H\nx", PLAIN_TEXT)[0].heading is None


def test_empty_documents_have_no_chunks() -> None:
    assert chunk_markdown("") == []
    assert chunk_markdown("# Only a heading\n") == []
    assert chunk_text("  \n\n ") == []


def test_a_non_positive_limit_is_refused() -> None:
    with pytest.raises(ValueError, match="max_chars"):
        chunk_text("x", max_chars=0)


@settings(max_examples=60, deadline=None)
@given(
    text=st.text(alphabet=st.sampled_from(list("ab #\n`~=-.!?")), max_size=400),
    limit=st.integers(min_value=5, max_value=80),
)
def test_any_markdown_chunks_deterministically_within_the_limit(text: str, limit: int) -> None:
    first = chunk_markdown(text, max_chars=limit)
    assert first == chunk_markdown(text, max_chars=limit)
    assert [c.ordinal for c in first] == list(range(len(first)))
    assert all(0 < len(c.text) <= limit for c in first)
