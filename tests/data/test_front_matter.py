"""Front matter is optional, parsed safely, and unusable front matter is an error the caller reports."""

from __future__ import annotations

import pytest

from pilotgate.data.connectors.front_matter import FrontMatterError, split_front_matter


def test_no_front_matter_keeps_the_whole_text() -> None:
    parsed = split_front_matter("# Title\n\nBody.\n")
    assert parsed.body == "# Title\n\nBody.\n"
    assert parsed.read_groups is None
    assert parsed.metadata == {}


def test_read_groups_and_metadata_are_taken_and_removed_from_the_body() -> None:
    parsed = split_front_matter("---\ntitle: Refunds\nread: [agents, customers, agents]\n---\n# Refunds\n")
    assert parsed.body == "# Refunds\n"
    assert parsed.read_groups == ("agents", "customers")
    assert parsed.metadata == {"title": "Refunds"}


def test_empty_read_list_means_nobody() -> None:
    assert split_front_matter("---\nread: []\n---\nx").read_groups == ()


def test_empty_front_matter_and_dot_closer() -> None:
    assert split_front_matter("---\n---\nbody").body == "body"
    assert split_front_matter("---\nread: [a]\n...\nbody").read_groups == ("a",)


def test_an_unclosed_opening_rule_is_markdown_not_front_matter() -> None:
    text = "---\nJust a thematic break and text.\n"
    assert split_front_matter(text).body == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("---\nread: [agents\n---\nbody", "not valid YAML"),
        ("---\nread: [a]\nread: [b]\n---\nbody", "not valid YAML"),
        ("---\n- a\n- b\n---\nbody", "must be a mapping"),
        ("---\nread: agents\n---\nbody", "must be a list of group names"),
        ("---\nread: [1, 2]\n---\nbody", "must be a list of group names"),
        ("---\nread: ['']\n---\nbody", "must be a list of group names"),
        ("---\nread:\n---\nbody", "must be a list of group names"),
    ],
)
def test_unusable_front_matter_raises_with_a_reason(text: str, expected: str) -> None:
    with pytest.raises(FrontMatterError, match=expected):
        split_front_matter(text)


def test_yaml_tags_are_not_executed() -> None:
    with pytest.raises(FrontMatterError):
        split_front_matter("---\nx: !!python/object/apply:os.system ['true']\n---\nbody")
