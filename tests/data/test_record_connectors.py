"""CSV, JSON Lines and SQL sources: one record a document, per-record ACLs, and every bad input named."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pilotgate.data import (
    CsvConnector,
    JsonlConnector,
    RecordLayout,
    SkippedDocument,
    SourceDocument,
    SqlConnector,
)
from pilotgate.data.connectors.base import MARKDOWN, PLAIN_TEXT
from pilotgate.errors import SourceError

ORDERS = RecordLayout(key="order_id", acl_column="allowed_groups", title_column="title")

CSV_TEXT = (
    "order_id,title,status,allowed_groups\n"
    "100001,Damaged kettle,refunded,agents;finance\n"
    "100002,Late parcel,shipped,agents\n"
    "100003,Lost parcel,open,\n"
)


def docs(items: list[SourceDocument | SkippedDocument]) -> dict[str, SourceDocument]:
    return {item.uri: item for item in items if isinstance(item, SourceDocument)}


def skips(items: list[SourceDocument | SkippedDocument]) -> dict[str, SkippedDocument]:
    return {item.uri: item for item in items if isinstance(item, SkippedDocument)}


def csv_source(tmp_path: Path, content: str | bytes, **kwargs: object) -> CsvConnector:
    path = tmp_path / "orders.csv"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    layout = kwargs.pop("layout", ORDERS)
    return CsvConnector("orders", path, layout, ("agents", "finance"), **kwargs)  # type: ignore[arg-type]


def test_csv_rows_become_records_with_key_title_and_acl(tmp_path: Path) -> None:
    items = list(csv_source(tmp_path, CSV_TEXT).scan())
    found = docs(items)
    assert list(found) == ["100001", "100002", "100003"]
    kettle = found["100001"]
    assert kettle.record_key == "order_id=100001"
    assert kettle.text == "# Damaged kettle\n\norder_id: 100001\ntitle: Damaged kettle\nstatus: refunded"
    assert kettle.media_type == MARKDOWN
    assert kettle.read_groups == ("agents", "finance")
    assert kettle.acl_problem is None
    assert kettle.modified_at is not None and kettle.modified_at.tzinfo is not None
    lost = found["100003"]
    assert lost.read_groups == ()  # fail closed
    assert lost.acl_problem == "no value in the ACL field 'allowed_groups'"


def test_csv_text_columns_topic_and_modified(tmp_path: Path) -> None:
    layout = RecordLayout(key="id", text_columns=("body",), topic_column="topic", modified_column="updated")
    content = "id,body,topic,updated\n7,Refunds take 14 days.,refunds,2026-03-01T10:00:00\n"
    (item,) = csv_source(tmp_path, content, layout=layout).scan()
    assert isinstance(item, SourceDocument)
    assert (item.text, item.media_type, item.topic) == ("Refunds take 14 days.", PLAIN_TEXT, "refunds")
    assert item.modified_at == datetime(2026, 3, 1, 10, tzinfo=UTC)
    assert item.read_groups is None  # no acl column: the source's groups apply


def test_csv_missing_key_column_is_a_source_error_naming_it(tmp_path: Path) -> None:
    source = csv_source(tmp_path, "id,title\n1,x\n")
    with pytest.raises(SourceError) as caught:
        list(source.scan())
    assert "orders" in caught.value.message and "'order_id'" in caught.value.message
    assert "id, title" in caught.value.message
    assert caught.value.hint


def test_csv_missing_file_is_a_source_error(tmp_path: Path) -> None:
    source = CsvConnector("orders", tmp_path / "gone.csv", ORDERS, ("agents",))
    with pytest.raises(SourceError, match="does not exist"):
        list(source.scan())


def test_csv_bad_encoding_skips_only_the_row_and_names_it(tmp_path: Path) -> None:
    content = CSV_TEXT.encode() + b"100004,Caf\xe9 order,open,agents\n\xff\xfe,broken key,open,agents\n"
    items = list(csv_source(tmp_path, content).scan())
    assert list(docs(items)) == ["100001", "100002", "100003"]
    skipped = skips(items)
    assert skipped["100004"].reason == "bytes that are not utf-8 in field 'title' (line 5)"
    assert skipped["100004"].prefix is None  # the key is known: only that record keeps its old version
    assert skipped["line 6"].prefix == ""  # the key is unreadable: it may be any record


def test_csv_declared_encoding_reads_what_utf8_cannot(tmp_path: Path) -> None:
    content = b"order_id,title,allowed_groups\n1,Caf\xe9,agents\n"
    (item,) = csv_source(tmp_path, content, encoding="latin-1").scan()
    assert isinstance(item, SourceDocument) and "Café" in item.text


def test_csv_unknown_encoding_and_empty_file(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="unknown encoding"):
        list(csv_source(tmp_path, CSV_TEXT, encoding="klingon").scan())
    with pytest.raises(SourceError, match="empty"):
        list(csv_source(tmp_path, "").scan())


def test_csv_bad_rows_are_named_by_line(tmp_path: Path) -> None:
    content = CSV_TEXT + "100005,too,many,fields,here\n,No key,open,agents\n\n"
    items = list(csv_source(tmp_path, content).scan())
    skipped = skips(items)
    assert skipped["line 5"].reason == "5 fields where the header has 4"
    assert skipped["line 6"].reason == "no value in the key field 'order_id'"
    assert skipped["line 6"].prefix is None


def test_a_record_over_the_size_limit_is_skipped(tmp_path: Path) -> None:
    layout = RecordLayout(key="order_id", max_bytes=100)
    content = "order_id,notes\n1,short\n2," + "x" * 200 + "\n"
    items = list(csv_source(tmp_path, content, layout=layout).scan())
    assert list(docs(items)) == ["1"]
    assert "over the size limit of 100 bytes" in skips(items)["2"].reason


def test_a_bad_modified_time_skips_the_record(tmp_path: Path) -> None:
    layout = RecordLayout(key="id", modified_column="updated")
    items = list(csv_source(tmp_path, "id,updated\n1,yesterday\n2,2026-01-02\n", layout=layout).scan())
    assert list(docs(items)) == ["2"]
    assert "'updated' is not an ISO 8601 time" in skips(items)["1"].reason


def write_jsonl(tmp_path: Path, lines: list[str | bytes]) -> Path:
    path = tmp_path / "tickets.jsonl"
    path.write_bytes(b"\n".join(line if isinstance(line, bytes) else line.encode() for line in lines) + b"\n")
    return path


def test_jsonl_records_with_list_acls(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path,
        [
            json.dumps({"id": "t-1", "subject": "Refund", "body": "Where is my refund?", "acl": ["agents"]}),
            "",
            json.dumps({"id": "t-2", "subject": "Parcel", "body": "Lost parcel", "acl": "agents, finance"}),
            json.dumps({"id": "t-3", "subject": "Odd", "body": "x", "acl": 42}),
        ],
    )
    layout = RecordLayout(key="id", acl_column="acl", title_column="subject", text_columns=("body",))
    items = list(JsonlConnector("tickets", path, layout, ("agents", "finance")).scan())
    found = docs(items)
    assert found["t-1"].text == "# Refund\n\nWhere is my refund?"
    assert found["t-1"].read_groups == ("agents",)
    assert found["t-2"].read_groups == ("agents", "finance")
    assert found["t-3"].read_groups == ()
    assert found["t-3"].acl_problem == "the ACL field 'acl' is not a list of group names"


def test_jsonl_bad_lines_are_named_and_cover_every_record(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path, ['{"id": "a", "x": 1}', "{not json", "[1, 2]", b'{"id": "\xff"}'])
    items = list(JsonlConnector("tickets", path, RecordLayout(key="id"), ("agents",)).scan())
    assert list(docs(items)) == ["a"]
    skipped = skips(items)
    assert skipped["line 2"].reason.startswith("not valid JSON")
    assert skipped["line 3"].reason == "a JSON list, not an object"
    assert skipped["line 4"].reason.startswith("not UTF-8")
    assert all(skip.prefix == "" for skip in skipped.values())


def test_jsonl_missing_file_is_a_source_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=r"tickets.*does not exist"):
        list(JsonlConnector("tickets", tmp_path / "nope.jsonl", RecordLayout(key="id")).scan())


@pytest.fixture
def crm(tmp_path: Path) -> str:
    path = tmp_path / "crm.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE customers (customer_id INTEGER, name TEXT, tier TEXT, grp TEXT, photo BLOB)")
        db.executemany(
            "INSERT INTO customers VALUES (?, ?, ?, ?, ?)",
            [
                (1, "Ada", "gold", "agents", None),
                (2, "Bo", "basic", None, None),
                (3, "Cy", "x", "agents", b"\x00"),
            ],
        )
    return f"sqlite:///{path}"


def test_sql_rows_become_records(crm: str) -> None:
    layout = RecordLayout(key="customer_id", acl_column="grp")
    query = "SELECT customer_id, name, tier, grp, photo FROM customers ORDER BY customer_id"
    items = list(SqlConnector("crm", crm, query, layout, ("agents",)).scan())
    found = docs(items)
    assert found["1"].text == "customer_id: 1\nname: Ada\ntier: gold"
    assert found["1"].record_key == "customer_id=1"
    assert found["2"].read_groups == () and found["2"].acl_problem
    assert skips(items)["3"].reason == "record customer_id=3: binary value in field 'photo'"


def test_sql_that_cannot_connect_is_a_source_error_without_password(tmp_path: Path) -> None:
    url = "postgresql+psycopg://reader:s3cret@127.0.0.1:1/nowhere"
    source = SqlConnector("crm", url, "SELECT 1", RecordLayout(key="id"), ("agents",))
    with pytest.raises(SourceError) as caught:
        list(source.scan())
    assert "crm" in caught.value.message
    assert "s3cret" not in caught.value.message and "***" in caught.value.message
    assert "s3cret" not in repr(source)


def test_sql_bad_query_and_missing_column(crm: str) -> None:
    with pytest.raises(SourceError, match=r"the query on .* failed"):
        list(SqlConnector("crm", crm, "SELECT * FROM nope", RecordLayout(key="id")).scan())
    with pytest.raises(SourceError, match="returns no column 'id'"):
        list(SqlConnector("crm", crm, "SELECT name FROM customers", RecordLayout(key="id")).scan())
    with pytest.raises(SourceError, match="cannot use the database URL"):
        list(SqlConnector("crm", "nodriver://x/y", "SELECT 1", RecordLayout(key="id")).scan())
