"""Split a document into chunks that remember where they sit: Markdown by headings, then by paragraphs.

A chunk keeps its heading path (``Refunds > Damaged items``) so that retrieval can rank by it and a reader
can see where an answer came from. Within a section, whole paragraphs are packed into chunks of at most
``max_chars`` characters; a paragraph longer than that is split at sentence ends, then at spaces. Fenced code
blocks stay whole paragraphs and their ``#`` lines are not headings. Plain text is split by paragraphs only.
Same text in, same chunks out: there is no randomness and no dependence on the environment.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pilotgate.data.connectors.base import MARKDOWN

CHUNK_CHARS = 800
"""The default upper bound of a chunk's text, in characters (a word longer than this is cut)."""

HEADING_SEPARATOR = " > "
"""Joins the titles of nested headings into a chunk's heading path."""

_ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?[ \t]*$")
_ATX_CLOSING = re.compile(r"(?:^|[ \t]+)#+$")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_THEMATIC_BREAK = re.compile(r"^ {0,3}(?:(?:\*[ \t]*){3,}|(?:-[ \t]*){3,}|(?:_[ \t]*){3,})$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


@dataclass(frozen=True)
class Chunk:
    """One piece of a document: its position, its heading path and its text."""

    ordinal: int
    """0-based position within the document."""
    heading: str | None
    """The heading path (``A > B``), or None before the first heading and in plain text."""
    text: str


@dataclass
class _Section:
    heading: str | None
    paragraphs: list[str]


def chunk_document(text: str, media_type: str, *, max_chars: int = CHUNK_CHARS) -> list[Chunk]:
    """Chunk ``text`` as Markdown if ``media_type`` says so, else as plain text."""
    if media_type == MARKDOWN:
        return chunk_markdown(text, max_chars=max_chars)
    return chunk_text(text, max_chars=max_chars)


def chunk_markdown(text: str, *, max_chars: int = CHUNK_CHARS) -> list[Chunk]:
    """Chunk Markdown: one or more chunks per section, each carrying its section's heading path."""
    return _number(_markdown_sections(_normalize(text)), max_chars)


def chunk_text(text: str, *, max_chars: int = CHUNK_CHARS) -> list[Chunk]:
    """Chunk plain text by paragraphs (blank-line separated), with no heading."""
    paragraphs = [block.strip() for block in re.split(r"\n[ \t]*\n", _normalize(text))]
    return _number([_Section(None, [p for p in paragraphs if p])], max_chars)


def _normalize(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _number(sections: list[_Section], max_chars: int) -> list[Chunk]:
    if max_chars < 1:
        raise ValueError(f"max_chars must be positive, got {max_chars}")
    chunks: list[Chunk] = []
    for section in sections:
        for piece in _pack(section.paragraphs, max_chars):
            chunks.append(Chunk(ordinal=len(chunks), heading=section.heading, text=piece))
    return chunks


def _markdown_sections(text: str) -> list[_Section]:
    """Walk the lines once: track fences, headings (ATX and one-line setext) and paragraph breaks."""
    sections = [_Section(None, [])]
    stack: list[tuple[int, str]] = []
    lines: list[str] = []
    fence: str | None = None

    def end_paragraph() -> None:
        paragraph = "\n".join(line.rstrip() for line in lines).strip()
        if paragraph:
            sections[-1].paragraphs.append(paragraph)
        lines.clear()

    def open_section(level: int, title: str) -> None:
        end_paragraph()
        while stack and stack[-1][0] >= level:
            stack.pop()
        stack.append((level, title))
        path = HEADING_SEPARATOR.join(name for _, name in stack if name)
        sections.append(_Section(path or None, []))

    for line in text.split("\n"):
        if fence is not None:
            lines.append(line)
            if line.strip().startswith(fence) and set(line.strip()) == {fence[0]}:
                fence = None
            continue
        opened = _FENCE.match(line)
        if opened:
            fence = opened.group(1)
            lines.append(line)
            continue
        atx = _ATX.match(line)
        if atx:
            title = _ATX_CLOSING.sub("", atx.group(2) or "").strip()
            open_section(len(atx.group(1)), title)
            continue
        setext = _SETEXT.match(line)
        if setext and len(lines) == 1 and lines[0].strip():
            title = lines.pop().strip()
            open_section(1 if setext.group(1).startswith("=") else 2, title)
            continue
        if not line.strip() or _THEMATIC_BREAK.match(line):
            end_paragraph()
            continue
        lines.append(line)
    end_paragraph()
    return [section for section in sections if section.paragraphs]


def _pack(paragraphs: list[str], max_chars: int) -> list[str]:
    """Greedily pack whole paragraphs (or pieces of long ones) into chunks of at most ``max_chars``."""
    packed: list[str] = []
    current: list[str] = []
    size = 0
    for paragraph in paragraphs:
        for piece in _split_long(paragraph, max_chars):
            added = len(piece) + (2 if current else 0)
            if current and size + added > max_chars:
                packed.append("\n\n".join(current))
                current, size, added = [], 0, len(piece)
            current.append(piece)
            size += added
    if current:
        packed.append("\n\n".join(current))
    return packed


def _split_long(paragraph: str, max_chars: int) -> list[str]:
    if len(paragraph) <= max_chars:
        return [paragraph]
    pieces: list[str] = []
    for sentence in _SENTENCE_END.split(paragraph):
        pieces.extend(_split_words(sentence, max_chars) if len(sentence) > max_chars else [sentence])
    return _join_up_to(pieces, max_chars, " ")


def _split_words(sentence: str, max_chars: int) -> list[str]:
    words: list[str] = []
    for word in sentence.split():
        words.extend(word[i : i + max_chars] for i in range(0, len(word), max_chars))
    return _join_up_to(words, max_chars, " ")


def _join_up_to(pieces: list[str], max_chars: int, separator: str) -> list[str]:
    joined: list[str] = []
    for piece in pieces:
        if joined and len(joined[-1]) + len(separator) + len(piece) <= max_chars:
            joined[-1] += separator + piece
        else:
            joined.append(piece)
    return joined
