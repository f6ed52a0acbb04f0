"""HTML to heading-structured text: headings become Markdown headings, so chunks keep their heading path.

Only the standard library's ``html.parser`` is used; it never raises on malformed HTML. ``<script>``,
``<style>``, ``<template>``, ``<noscript>``, ``<svg>`` and ``<head>`` content is dropped (the ``<title>`` too:
the first ``<h1>`` is the document's own title). Block elements end a paragraph; ``<br>`` ends a line;
``<pre>`` keeps its line breaks as a fenced block. Entities are decoded. Same HTML in, same text out.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

_DROPPED = frozenset({"script", "style", "template", "noscript", "svg", "head", "iframe", "object"})
_BLOCKS = frozenset(
    {
        "p", "div", "section", "article", "main", "header", "footer", "aside", "nav", "ul", "ol", "li",
        "table", "tr", "blockquote", "dl", "dt", "dd", "figure", "figcaption", "form", "hr", "details",
        "summary", "address",
    }
)  # fmt: skip
_HEADINGS = {f"h{level}": level for level in range(1, 7)}
_SPACES = re.compile(r"[ \t\r\n\f\v]+")


def html_to_markdown(html: str) -> str:
    """The readable text of ``html``, with ``#`` headings and blank lines between blocks."""
    parser = _Extractor()
    parser.feed(html)
    parser.close()
    return parser.text()


class _Extractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self._blocks: list[str] = []
        self._line: list[str] = []
        self._dropping = 0
        self._heading: int | None = None
        self._pre = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _DROPPED:
            self._dropping += 1
        elif tag in _HEADINGS:
            self._end_block()
            self._heading = _HEADINGS[tag]
        elif tag == "pre":
            self._end_block()
            self._pre += 1
        elif tag == "br":
            self._line.append("\n")
        elif tag in _BLOCKS or tag in {"td", "th"}:
            if tag in {"td", "th"}:
                self._line.append(" ")
            else:
                self._end_block()

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self._line.append("\n")
        elif tag in _BLOCKS:
            self._end_block()

    def handle_endtag(self, tag: str) -> None:
        if tag in _DROPPED:
            self._dropping = max(0, self._dropping - 1)
        elif tag in _HEADINGS or tag in _BLOCKS:
            self._end_block()
        elif tag == "pre":
            self._end_block(pre=True)
            self._pre = max(0, self._pre - 1)

    def handle_data(self, data: str) -> None:
        if not self._dropping:
            self._line.append(data)

    def _end_block(self, *, pre: bool = False) -> None:
        raw = "".join(self._line)
        self._line.clear()
        if pre and raw.strip():
            self._blocks.append("```\n" + raw.strip("\n") + "\n```")
            return
        lines = [_SPACES.sub(" ", line).strip() for line in raw.split("\n")]
        text = "\n".join(line for line in lines if line)
        if not text:
            self._heading = None
            return
        if self._heading is not None:
            text = "#" * self._heading + " " + text.replace("\n", " ")
            self._heading = None
        self._blocks.append(text)

    def text(self) -> str:
        self._end_block()
        return "\n\n".join(self._blocks) + ("\n" if self._blocks else "")
