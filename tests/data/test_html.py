"""HTML documents in a folder source: readable text with their headings kept for chunking."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from pilotgate.data import FolderConnector, SourceDocument, chunk_document
from pilotgate.data.connectors.base import MARKDOWN
from pilotgate.data.connectors.html import html_to_markdown

PAGE = """<!doctype html><html><head><title>Ignored</title><style>p{}</style>
<script>alert("x")</script></head><body>
<h1>Refunds</h1><p>Refunds are paid&nbsp;within <b>14 days</b>.</p>
<h2>Damaged items</h2><ul><li>Send a photo</li><li>Keep the box</li></ul>
<pre>code
  kept</pre><table><tr><td>a</td><td>b</td></tr></table>
</body></html>"""


def test_html_becomes_markdown_with_headings() -> None:
    text = html_to_markdown(PAGE)
    assert "alert" not in text and "Ignored" not in text and "p{}" not in text
    assert text.startswith("# Refunds\n\nRefunds are paid\xa0within 14 days.\n\n## Damaged items")
    assert "Send a photo\n\nKeep the box" in text
    assert "```\ncode\n  kept\n```" in text
    headings = {chunk.heading for chunk in chunk_document(text, MARKDOWN)}
    assert "Refunds > Damaged items" in headings


def test_broken_html_never_raises() -> None:
    assert html_to_markdown("<h1>Open <p>never closed <div><<>>").startswith("# Open")
    assert html_to_markdown("") == ""


def test_folder_reads_html_files(tree: Callable[..., Path]) -> None:
    root = tree({"page.html": PAGE, "old.htm": "<p>legacy</p>", "note.md": "# N\n"})
    items = list(FolderConnector("site", root, ("agents",)).scan())
    assert [item.uri for item in items] == ["note.md", "old.htm", "page.html"]
    page = items[2]
    assert isinstance(page, SourceDocument)
    assert page.media_type == MARKDOWN and page.text.startswith("# Refunds")


def test_front_matter_key_and_topic(tree: Callable[..., Path]) -> None:
    root = tree({"a.md": "---\nkey: order_id=1\ntopic: refunds\nowner: legal\n---\n# A\n"})
    (item,) = FolderConnector("docs", root, ("agents",)).scan()
    assert isinstance(item, SourceDocument)
    assert (item.record_key, item.topic, dict(item.metadata)) == ("order_id=1", "refunds", {"owner": "legal"})
