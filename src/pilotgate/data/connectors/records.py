"""Records to documents: one row of a CSV file, JSON Lines file or SQL query becomes one document.

Shared by the record connectors so that a record reads the same whatever it came from:

- its uri is the key's value (``123456``) and its ``record_key`` is ``field=value`` (``order_id=123456``);
- its text is the ``text_columns`` values as paragraphs, or, by default, one ``field: value`` line per field
  except the ACL field; a ``title_column`` value becomes its heading;
- its ACL is the ``acl_column`` value (a list, or names separated by commas, semicolons or spaces); a record
  whose ACL field is empty, missing or not a list of names is readable by nobody and says why;
- a record without a key value, with an unreadable ``modified_column`` value, with binary values or over the
  size limit is skipped with a reason naming the record (its key, else its line or row number).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal

from pilotgate.data.connectors.base import MARKDOWN, PLAIN_TEXT, SkippedDocument, SourceDocument

MAX_RECORD_BYTES = 1024 * 1024
"""A record whose text is larger than this is skipped and reported."""

_GROUP_SEPARATORS = re.compile(r"[,;\s]+")


@dataclass(frozen=True)
class RecordLayout:
    """How a record source's fields map onto a document (the record fields of its pilot.yaml entry)."""

    key: str
    acl_column: str | None = None
    text_columns: tuple[str, ...] = ()
    title_column: str | None = None
    topic_column: str | None = None
    modified_column: str | None = None
    max_bytes: int = MAX_RECORD_BYTES
    required: tuple[str, ...] = field(init=False, default=())

    def __post_init__(self) -> None:
        named = [self.key, self.acl_column, *self.text_columns, self.title_column, self.topic_column]
        named.append(self.modified_column)
        object.__setattr__(self, "required", tuple(dict.fromkeys(n for n in named if n is not None)))

    def missing(self, columns: Sequence[str]) -> list[str]:
        """The declared fields that ``columns`` lacks (the key first), for a source-level error."""
        present = set(columns)
        return [name for name in self.required if name not in present]


def record_document(
    layout: RecordLayout, record: Mapping[str, object], where: str
) -> SourceDocument | SkippedDocument:
    """One record as a document, or a skip naming ``where`` (``line 7``, ``row 12``) and the reason."""
    key_value = _text(record.get(layout.key))
    if not key_value:
        return SkippedDocument(where, f"no value in the key field {layout.key!r}")
    label = f"{layout.key}={key_value}"
    binary = [name for name, value in record.items() if isinstance(value, bytes | bytearray | memoryview)]
    if binary:
        return SkippedDocument(key_value, f"record {label}: binary value in field {binary[0]!r}")
    modified: datetime | None = None
    if layout.modified_column is not None:
        raw = record.get(layout.modified_column)
        if _text(raw):
            modified = _moment(raw)
            if modified is None:
                return SkippedDocument(
                    key_value,
                    f"record {label}: {layout.modified_column!r} is not an ISO 8601 time: "
                    f"{_text(raw)[:40]!r}",
                )
    title = _text(record.get(layout.title_column)) if layout.title_column else ""
    body = _body(layout, record)
    text = f"# {title}\n\n{body}" if title else body
    if len(text.encode("utf-8")) > layout.max_bytes:
        return SkippedDocument(
            key_value, f"record {label}: over the size limit of {layout.max_bytes:,} bytes of text"
        )
    groups, problem = _acl(layout, record)
    topic = _text(record.get(layout.topic_column)) if layout.topic_column else ""
    return SourceDocument(
        uri=key_value,
        text=text,
        modified_at=modified,
        metadata={},
        media_type=MARKDOWN if title else PLAIN_TEXT,
        read_groups=groups,
        acl_problem=problem,
        record_key=label,
        topic=topic or None,
    )


def _body(layout: RecordLayout, record: Mapping[str, object]) -> str:
    if layout.text_columns:
        return "\n\n".join(v for v in (_text(record.get(name)) for name in layout.text_columns) if v)
    lines = []
    for name, value in record.items():
        if name == layout.acl_column:
            continue
        shown = _text(value)
        if shown:
            lines.append(f"{name}: {shown}")
    return "\n".join(lines)


def _acl(layout: RecordLayout, record: Mapping[str, object]) -> tuple[tuple[str, ...] | None, str | None]:
    if layout.acl_column is None:
        return None, None
    value = record.get(layout.acl_column)
    if value is None or (isinstance(value, str) and not value.strip()):
        return (), f"no value in the ACL field {layout.acl_column!r}"
    if isinstance(value, str):
        groups = [name for name in _GROUP_SEPARATORS.split(value) if name]
    elif isinstance(value, list | tuple) and all(isinstance(item, str) for item in value):
        groups = [item.strip() for item in value if item.strip()]
    else:
        return (), f"the ACL field {layout.acl_column!r} is not a list of group names"
    if not groups:
        return (), f"no group in the ACL field {layout.acl_column!r}"
    return tuple(sorted(set(groups))), None


def _text(value: object) -> str:
    """A field value as text: None is empty; numbers and times print as written."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, list | tuple):
        return ", ".join(_text(item) for item in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_text(v)}" for k, v in value.items())
    return str(value).strip()


def _moment(value: object) -> datetime | None:
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day, tzinfo=UTC)
    else:
        text = _text(value).replace("Z", "+00:00").replace("z", "+00:00")
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)
