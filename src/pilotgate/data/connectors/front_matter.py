"""YAML front matter (``---`` ... ``---``) at the top of a text document: per-document metadata and ACL.

A document opens with front matter only when its first line is ``---`` and a later line is ``---`` or
``...``; otherwise the whole text is the body (a Markdown thematic break at the top stays Markdown).
Front matter is parsed with ruamel.yaml's safe loader (YAML 1.2, duplicate keys refused). The ``read`` key,
when present, must be a list of group names; anything else makes the document unreadable as a whole, so
that a typo in an ACL never silently widens who may read it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

READ_KEY = "read"
"""The front-matter key carrying the document's groups."""

_CLOSING = re.compile(r"^(?:---|\.\.\.)[ \t]*$", re.MULTILINE)


class FrontMatterError(ValueError):
    """Front matter that is there but cannot be used; the message says why."""


@dataclass(frozen=True)
class FrontMatter:
    """What a document's front matter says, and the body after it."""

    body: str
    read_groups: tuple[str, ...] | None = None
    metadata: dict[str, object] = field(default_factory=dict)


def split_front_matter(text: str) -> FrontMatter:
    """Split ``text`` (newlines already ``\\n``) into front matter and body.

    Raises FrontMatterError when front matter is there but unusable: the caller skips the document.
    """
    first_end = text.find("\n")
    if first_end < 0 or text[:first_end].rstrip(" \t") != "---":
        return FrontMatter(body=text)
    closing = _CLOSING.search(text, first_end + 1)
    if closing is None:
        return FrontMatter(body=text)
    raw = text[first_end + 1 : closing.start()]
    body = text[closing.end() :].removeprefix("\n")
    try:
        loaded = YAML(typ="safe", pure=True).load(raw)
    except YAMLError as exc:
        problem = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise FrontMatterError(f"front matter is not valid YAML: {problem}") from exc
    if loaded is None:
        return FrontMatter(body=body)
    if not isinstance(loaded, dict):
        kind = type(loaded).__name__
        raise FrontMatterError(f"front matter must be a mapping of keys to values, not a {kind}")
    metadata = {str(key): value for key, value in loaded.items() if key != READ_KEY}
    if READ_KEY not in loaded:
        return FrontMatter(body=body, metadata=metadata)
    return FrontMatter(body=body, read_groups=_groups(loaded[READ_KEY]), metadata=metadata)


def _groups(value: object) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(item, str) and item.strip() for item in value):
        raise FrontMatterError(
            f"front matter `{READ_KEY}` must be a list of group names "
            f"(e.g. `{READ_KEY}: [agents]`), got {value!r}"
        )
    return tuple(sorted({item.strip() for item in value}))
