"""The folder connector reads text and Markdown deterministically and reports what it cannot read."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from pilotgate.data import FolderConnector, SkippedDocument, SourceDocument
from pilotgate.data.connectors.base import MARKDOWN, PLAIN_TEXT
from pilotgate.errors import SourceError

Tree = Callable[..., Path]
DenyListing = Callable[[Path], None]


def scan(path: Path, **kwargs: object) -> list[SourceDocument | SkippedDocument]:
    return list(FolderConnector("policy", path, ("agents",), **kwargs).scan())  # type: ignore[arg-type]


def test_reads_text_and_markdown_recursively_in_sorted_order(tree: Tree) -> None:
    root = tree(
        {
            "b.md": "# B\n",
            "a.txt": "plain",
            "sub/c.markdown": "# C\n",
            "sub/deeper/d.MD": "# D\n",
            "image.png": b"\x89PNG",
            "notes.docx": "ignored",
            ".hidden.md": "hidden",
            ".git/config.md": "hidden folder",
        }
    )
    items = scan(root)
    assert [item.uri for item in items] == ["a.txt", "b.md", "sub/c.markdown", "sub/deeper/d.MD"]
    assert all(isinstance(item, SourceDocument) for item in items)
    media = {item.uri: item.media_type for item in items if isinstance(item, SourceDocument)}
    assert media == {
        "a.txt": PLAIN_TEXT,
        "b.md": MARKDOWN,
        "sub/c.markdown": MARKDOWN,
        "sub/deeper/d.MD": MARKDOWN,
    }


def test_scans_are_repeatable(tree: Tree) -> None:
    root = tree({f"doc{i}.md": f"# Doc {i}\n" for i in range(30)})
    assert scan(root) == scan(root)


def test_modified_time_is_aware_utc(tree: Tree) -> None:
    root = tree({"a.md": "x"})
    os.utime(root / "a.md", (1_700_000_000, 1_700_000_000))
    (item,) = scan(root)
    assert isinstance(item, SourceDocument)
    assert item.modified_at is not None
    assert item.modified_at.tzinfo is not None
    assert item.modified_at.timestamp() == 1_700_000_000


def test_newlines_and_bom_are_normalized(tree: Tree) -> None:
    root = tree({"a.md": "\ufeff# T\r\n\r\nLine one.\rLine two.\r\n".encode()})
    (item,) = scan(root)
    assert isinstance(item, SourceDocument)
    assert item.text == "# T\n\nLine one.\nLine two.\n"


def test_front_matter_narrows_and_is_removed(tree: Tree) -> None:
    root = tree({"a.md": "---\nread: [agents]\nowner: legal\n---\n# A\n", "b.md": "# B\n"})
    a, b = scan(root)
    assert isinstance(a, SourceDocument) and isinstance(b, SourceDocument)
    assert a.read_groups == ("agents",)
    assert a.metadata == {"owner": "legal"}
    assert a.text == "# A\n"
    assert b.read_groups is None


def test_unreadable_documents_are_skipped_and_reported(tree: Tree) -> None:
    root = tree(
        {
            "binary.md": b"abc\x00\x01\x02def",
            "latin1.txt": "caf\xe9".encode("latin-1"),
            "big.md": "x" * 2000,
            "bad-front.md": "---\nread: [unclosed\n---\nbody",
            "good.md": "# Good\n",
        }
    )
    items = {item.uri: item for item in scan(root, max_bytes=1000)}
    assert isinstance(items["good.md"], SourceDocument)
    reasons = {uri: item.reason for uri, item in items.items() if isinstance(item, SkippedDocument)}
    assert set(reasons) == {"binary.md", "latin1.txt", "big.md", "bad-front.md"}
    assert "binary" in reasons["binary.md"]
    assert "UTF-8" in reasons["latin1.txt"]
    assert "size limit" in reasons["big.md"]
    assert "front matter" in reasons["bad-front.md"]


def test_the_default_size_limit_is_five_megabytes(tree: Tree) -> None:
    root = tree({"huge.txt": b"a" * (5 * 1024 * 1024 + 1), "fine.txt": b"a" * 100})
    huge, fine = sorted(scan(root), key=lambda item: item.uri, reverse=True)
    assert isinstance(huge, SkippedDocument) and "size limit" in huge.reason
    assert isinstance(fine, SourceDocument)


def test_a_symlink_out_of_the_folder_is_skipped(tree: Tree, tmp_path: Path) -> None:
    secret = tmp_path / "secret.md"
    secret.write_text("the payroll", encoding="utf-8")
    root = tree({"inside.md": "# In\n"})
    (root / "leak.md").symlink_to(secret)
    (root / "alias.md").symlink_to(root / "inside.md")
    items = {item.uri: item for item in scan(root)}
    leak = items["leak.md"]
    assert isinstance(leak, SkippedDocument) and "outside" in leak.reason
    assert isinstance(items["alias.md"], SourceDocument)


def test_a_vanished_folder_is_a_source_error_naming_source_and_path(tmp_path: Path) -> None:
    missing = tmp_path / "gone"
    with pytest.raises(SourceError) as caught:
        scan(missing)
    assert "'policy'" in caught.value.message
    assert str(missing) in caught.value.message
    assert caught.value.hint and "path:" in caught.value.hint


def test_a_file_instead_of_a_folder_is_a_source_error(tmp_path: Path) -> None:
    (tmp_path / "file.md").write_text("x", encoding="utf-8")
    with pytest.raises(SourceError, match="not a folder"):
        scan(tmp_path / "file.md")


def test_an_unlistable_subfolder_is_reported_as_a_folder(tree: Tree, deny_listing: DenyListing) -> None:
    root = tree({"open/a.md": "# A\n", "closed/b.md": "# B\n"})
    deny_listing(root / "closed")
    items = scan(root)
    assert [item.uri for item in items] == ["closed/", "open/a.md"]
    closed = items[0]
    assert isinstance(closed, SkippedDocument) and "Permission denied" in closed.reason


def test_an_unlistable_source_folder_is_a_source_error(tree: Tree, deny_listing: DenyListing) -> None:
    root = tree({"a.md": "# A\n"})
    deny_listing(root)
    with pytest.raises(SourceError, match="cannot list the folder"):
        scan(root)


def test_read_groups_are_normalized(tmp_path: Path) -> None:
    source = FolderConnector("s", str(tmp_path), ["b", "a", "b"])  # type: ignore[arg-type]
    assert source.read_groups == ("a", "b")
    assert source.path == tmp_path
