"""The verifier: does a receipt log still say what was written, and does it match what was signed?

Separate from the writer on purpose: it takes plain rows (from the store or from an export file), the
stored checkpoints, the public key and optionally the checkpoint a witness holds, and reports the first
place they disagree, by receipt and reason:

=========================  ====================================================================
content_changed            the receipt's bytes no longer hash to the hash recorded for it
link_broken                its ``prev`` is not the hash of the receipt before it
missing                    a sequence number is skipped: receipts were deleted
order_changed              receipts appear out of order (swapped)
inserted                   two receipts claim the same sequence number
column_mismatch            a column copied out for queries (seq, hash, prev, kind, task, at) disagrees
malformed                  the bytes are not a version-1 receipt of this pilot
checkpoint_signature_wrong a checkpoint's signature by the pilot's key does not verify
unknown_key                a checkpoint is not signed by the pilot's key
checkpoint_malformed       a checkpoint note cannot be read
checkpoint_root_mismatch   the receipts a checkpoint covers no longer have the root it signed
checkpoint_missing         no checkpoint where one is expected (every ``checkpoint_every`` receipts)
truncated                  the log is shorter than a checkpoint, the witness or the head row says
head_mismatch              the head row disagrees with the last receipt
witness_*                  the witnessed checkpoint is unsigned, forged, or rolled back
=========================  ====================================================================

Speed: the stored bytes are the receipt, so they are re-hashed, never re-serialized. The fields the chain
depends on are read with two anchored patterns over the canonical layout (the head ``{"actor":…,"at":…,
"body":`` and the tail from the last ``,"kind":`` on); any receipt they do not fit is parsed in full and
judged by the full parse, so the patterns only ever speed up a receipt that is fine.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from pilotgate.errors import VerificationError
from pilotgate.receipts.canonical import canonical_bytes
from pilotgate.receipts.checkpoint import Checkpoint, checkpoint_problem, parse_checkpoint
from pilotgate.receipts.hashes import ZERO_HASH, Frontier
from pilotgate.receipts.keys import PublicKey
from pilotgate.receipts.model import FORMAT_VERSION, ReceiptRow

_STR = rb'"([^"\\]*(?:\\.[^"\\]*)*)"'
_NULLABLE = rb'(null|"[^"\\]*(?:\\.[^"\\]*)*")'
_HEAD = re.compile(
    rb'\{"actor":\{"id":"[^"\\]*(?:\\.[^"\\]*)*","kind":"[a-z]+"\},"at":' + _STR + rb',"body":\{'
)
_TAIL = re.compile(
    rb',"kind":' + _STR + rb',"pilot":' + _STR + rb',"prev":"(sha256:[0-9a-f]{64})",'
    rb'"refs":\[(?:"sha256:[0-9a-f]{64}"(?:,"sha256:[0-9a-f]{64}")*)?\],"release":' + _NULLABLE + rb","
    rb'"seq":(0|[1-9][0-9]*),"task":' + _NULLABLE + rb',"v":([0-9]+)\}'
)
_KIND_MARK = b',"kind":'
_LEAF_SEED = hashlib.sha256(b"\x00")


@dataclass(frozen=True)
class Failure:
    """The first place the log and what was recorded or signed disagree."""

    reason: str
    seq: int | None
    detail: str
    checkpoint_size: int | None = None

    def __str__(self) -> str:
        where = (
            f"receipt {self.seq}" if self.seq is not None else f"checkpoint of size {self.checkpoint_size}"
        )
        return f"{where}: {self.reason}: {self.detail}"


@dataclass
class VerifyReport:
    """What verify checked and the first failure, if any."""

    pilot: str
    receipts_checked: int = 0
    checkpoints_checked: int = 0
    latest_checkpoint: int | None = None
    """Size of the largest checkpoint that verified."""
    witnessed: int | None = None
    """Size of the witnessed checkpoint that verified, when a witness was given."""
    signatures_checked: bool = True
    head: str = ZERO_HASH
    """Hash of the last receipt checked."""
    failure: Failure | None = None

    @property
    def ok(self) -> bool:
        return self.failure is None

    def raise_for_failure(self) -> None:
        """VerificationError naming the first failing receipt, if there is one."""
        if self.failure is not None:
            raise VerificationError(
                f"the receipt log of {self.pilot} does not verify: {self.failure}",
                failures=[self.failure],
                hint="restore the store from a backup and investigate who wrote it; "
                "`pilotgate receipts show SEQ` shows the receipt",
            )


@dataclass(frozen=True)
class _Expected:
    """A checkpoint (stored or witnessed) whose root must be met at its size."""

    size: int
    root: bytes
    source: str
    note: str | None = None
    root_column: str | None = None


def verify_log(
    pilot: str,
    rows: Iterable[ReceiptRow],
    *,
    checkpoints: Iterable[tuple[int | None, str | None, str]] = (),
    public_key: PublicKey | None = None,
    witnessed: Checkpoint | None = None,
    head: tuple[int, str] | None = None,
    expect_checkpoint_every: int | None = None,
    strict: bool = False,
) -> VerifyReport:
    """Verify one pilot's receipt rows (in seq order) against its checkpoints and witness.

    ``checkpoints`` are ``(size column, root column, note)`` (columns None in an export). Without a
    ``public_key`` the signatures cannot be checked; roots still are, and the report says so. ``head`` is
    the head row's (size, hash). ``strict`` parses and re-canonicalizes every receipt (slower).
    """
    report = VerifyReport(pilot=pilot, signatures_checked=public_key is not None)
    expected, failure = _expected_roots(pilot, checkpoints, public_key, witnessed, report)
    if failure is not None:
        report.failure = failure
        return report
    by_size: dict[int, list[_Expected]] = {}
    for item in expected:
        by_size.setdefault(item.size, []).append(item)
    report.failure = _walk(pilot, iter(rows), by_size, report, strict)
    if report.failure is None:
        report.failure = _after_walk(report, by_size, head, expect_checkpoint_every)
    return report


def _expected_roots(
    pilot: str,
    checkpoints: Iterable[tuple[int | None, str | None, str]],
    public_key: PublicKey | None,
    witnessed: Checkpoint | None,
    report: VerifyReport,
) -> tuple[list[_Expected], Failure | None]:
    """Parse and signature-check every checkpoint before the walk; the walk then checks their roots."""
    out: list[_Expected] = []
    for size_column, root_column, note in checkpoints:
        try:
            parsed = parse_checkpoint(note)
        except ValueError as exc:
            return out, Failure("checkpoint_malformed", None, str(exc), size_column)
        if public_key is not None:
            problem = checkpoint_problem(note, public_key)
            if problem is not None:
                return out, Failure(problem[0], None, problem[1], parsed.size)
        if parsed.pilot != pilot:
            return out, Failure(
                "unknown_key", None, f"the checkpoint is of pilot {parsed.pilot}", parsed.size
            )
        if size_column is not None and size_column != parsed.size:
            return out, Failure("column_mismatch", None, f"size column says {size_column}", parsed.size)
        if root_column is not None and root_column != parsed.root.hex():
            return out, Failure(
                "column_mismatch", None, "the root column disagrees with the note", parsed.size
            )
        out.append(_Expected(parsed.size, parsed.root, "checkpoint", note))
    if witnessed is not None:
        if public_key is not None:
            problem = checkpoint_problem(witnessed.note, public_key)
            if problem is not None:
                return out, Failure("witness_" + problem[0], None, problem[1], witnessed.size)
        if witnessed.pilot != pilot:
            return out, Failure(
                "witness_unknown_key", None, f"the witness holds pilot {witnessed.pilot}", witnessed.size
            )
        out.append(_Expected(witnessed.size, witnessed.root, "witness", witnessed.note))
    return out, None


def _walk(
    pilot: str,
    rows: Iterator[ReceiptRow],
    by_size: dict[int, list[_Expected]],
    report: VerifyReport,
    strict: bool,
) -> Failure | None:
    """One pass: re-hash each receipt, check its link and columns, and meet every expected root."""
    pilot_bytes = pilot.encode()
    version = str(FORMAT_VERSION).encode()
    kind_mark = _KIND_MARK
    need_leaves = max(by_size, default=0)
    stack: list[bytes] = []  # the Merkle frontier of the receipts walked so far
    sha256 = hashlib.sha256
    head_match = _HEAD.match
    tail_match = _TAIL.fullmatch
    leaf_seed = _LEAF_SEED
    prev = ZERO_HASH
    covered = 0  # receipts covered by the largest root met so far
    i = 0
    for row in rows:
        seq_col, hash_col, prev_col, kind_col, task_col, at_col, canonical = row
        if type(canonical) is not bytes:
            canonical = _as_bytes(canonical)
            row = (*row[:6], canonical)
        digest = "sha256:" + sha256(canonical).hexdigest()
        ok = False
        if not strict and hash_col == digest and seq_col == i and prev_col == prev and kind_col and at_col:
            # The common receipt (no refs, no release): its whole tail after the body is known from the
            # columns, so one endswith replaces the tail pattern. Read backwards from the final "}", those
            # bytes can only be the top-level members kind..v (their strings hold no quote or backslash).
            task_json = b"null" if task_col is None else b'"%s"' % task_col.encode()
            if (
                canonical.endswith(
                    b',"kind":"%s","pilot":"%s","prev":"%s","refs":[],"release":null,"seq":%d,"task":%s,"v":%s}'
                    % (kind_col.encode(), pilot_bytes, prev.encode(), i, task_json, version)
                )
                and b"\\" not in task_json
                and task_json.count(b'"') in (0, 2)
            ):
                head = head_match(canonical)
                ok = head is not None and head.group(1) == at_col.encode()
        if not ok and not strict and (hash_col is None or hash_col == digest):
            head = head_match(canonical)
            tail = tail_match(canonical, canonical.rfind(kind_mark)) if head is not None else None
            if head is not None and tail is not None:
                kind_b, pilot_b, prev_b, _release, seq_b, task_b, version_b = tail.groups()
                ok = (
                    seq_b == b"%d" % i
                    and prev_b == prev.encode()
                    and pilot_b == pilot_bytes
                    and version_b == version
                )
                if ok and hash_col is not None:  # a stored row: its copied-out columns must agree
                    ok = (
                        seq_col == i
                        and prev_col == prev
                        and kind_b == (kind_col or "").encode()
                        and head.group(1) == (at_col or "").encode()
                        and (task_b == b"null" if task_col is None else task_b == b'"%s"' % task_col.encode())
                    )
        if not ok:
            failure = _diagnose(pilot, i, row, digest, prev, rows, strict)
            if failure is not None:
                report.receipts_checked = i
                return failure
        if i < need_leaves:
            # Frontier.append, inlined: this loop is the verifier's hot path.
            leaf = leaf_seed.copy()
            leaf.update(canonical)
            stack.append(leaf.digest())
            carry = i
            while carry & 1:
                right = stack.pop()
                stack[-1] = sha256(b"\x01" + stack[-1] + right).digest()
                carry >>= 1
            found = by_size.get(i + 1)
            if found:
                root = Frontier(i + 1, stack).root()
                for item in found:
                    if item.root != root:
                        report.receipts_checked = i + 1
                        reason = (
                            "checkpoint_root_mismatch" if item.source == "checkpoint" else "witness_mismatch"
                        )
                        return Failure(
                            reason,
                            covered,
                            f"receipts {covered}..{i} no longer have the Merkle root the {item.source} "
                            f"of size "
                            f"{i + 1} signed: at least one of them was changed, inserted or removed",
                            i + 1,
                        )
                    if item.source == "checkpoint":
                        report.checkpoints_checked += 1
                        report.latest_checkpoint = i + 1
                    else:
                        report.witnessed = i + 1
                covered = i + 1
        prev = digest
        i += 1
    report.receipts_checked = i
    report.head = prev
    return None


def _after_walk(
    report: VerifyReport,
    by_size: dict[int, list[_Expected]],
    head: tuple[int, str] | None,
    every: int | None,
) -> Failure | None:
    n = report.receipts_checked
    for size in sorted(by_size):
        if size > n:
            source = by_size[size][0].source
            return Failure(
                "truncated",
                n,
                f"the {source} covers {size} receipts but the log holds {n}: "
                f"receipts {n}..{size - 1} are gone",
                size,
            )
    if head is not None:
        head_size, head_hash = head
        if head_size > n:
            return Failure("truncated", n, f"the head row counts {head_size} receipts; the log holds {n}")
        if head_size < n:
            return Failure("head_mismatch", head_size, f"receipts past the head row's size {head_size} exist")
        if head_hash != report.head:
            return Failure("head_mismatch", n - 1, "the head row's hash is not the last receipt's")
    if every:
        stored = {
            size for size, items in by_size.items() if any(item.source == "checkpoint" for item in items)
        }
        for size in range(every, n + 1, every):
            if size not in stored:
                return Failure(
                    "checkpoint_missing",
                    size - 1,
                    f"no checkpoint of size {size}, though one is signed every {every} receipts",
                    size,
                )
    return None


def _diagnose(
    pilot: str,
    i: int,
    row: ReceiptRow,
    digest: str,
    prev: str,
    rows: Iterator[ReceiptRow],
    strict: bool,
) -> Failure | None:
    """The slow path: parse the receipt in full and name exactly what is wrong (None: nothing is)."""
    seq_col, hash_col, prev_col, kind_col, task_col, at_col, canonical = row
    if hash_col is not None and hash_col != digest:
        following = next(rows, None)
        if following is not None and _content(_as_bytes(following[6])).get("prev") == digest:
            return Failure("column_mismatch", i, "the hash column is not the hash of the receipt's bytes")
        return Failure("content_changed", i, "the receipt's bytes no longer hash to its recorded hash")
    record = _content(canonical)
    if not record:
        return Failure("malformed", i, "the bytes are not a JSON receipt")
    content_seq = record.get("seq")
    if content_seq != i:
        if isinstance(content_seq, int) and content_seq == i - 1:
            if record.get("prev") == prev:
                # It links to receipt i-1 as receipt i must: its seq field was rewritten, not a copy inserted.
                return Failure("content_changed", i, f"receipt {i} claims seq {content_seq}")
            return Failure("inserted", i - 1, f"two receipts claim seq {i - 1}: one of them was inserted")
        following = next(rows, None)
        following_seq = _content(_as_bytes(following[6])).get("seq") if following is not None else None
        if following_seq == i:
            return Failure("order_changed", i, f"receipt {content_seq} stands where receipt {i} belongs")
        if isinstance(content_seq, int) and content_seq > i:
            return Failure("missing", i, f"receipts {i}..{content_seq - 1} are missing")
        return Failure("order_changed", i, f"receipt {content_seq!r} stands where receipt {i} belongs")
    if record.get("prev") != prev:
        following = next(rows, None)
        if i and following is not None and _content(_as_bytes(following[6])).get("prev") == digest:
            # Receipt i still links to what follows it, so it is receipt i-1 that no longer hashes to the
            # prev receipt i recorded: i-1 was rewritten (and its hash column with it, if it has one).
            return Failure(
                "content_changed",
                i - 1,
                f"receipt {i - 1} was rewritten: it no longer hashes to receipt {i}'s prev",
            )
        return Failure(
            "link_broken", i, f"its prev is not the hash of receipt {i - 1}" if i else "its prev is not zero"
        )
    if record.get("pilot") != pilot:
        return Failure("malformed", i, f"the receipt is of pilot {record.get('pilot')!r}")
    if record.get("v") != FORMAT_VERSION:
        return Failure("malformed", i, f"unknown receipt format version {record.get('v')!r}")
    for name, column, value in (
        ("seq", seq_col, i),
        ("prev", prev_col, prev),
        ("kind", kind_col, record.get("kind")),
        ("task", task_col, record.get("task")),
        ("at", at_col, record.get("at")),
    ):
        if hash_col is not None and column != value:
            return Failure(
                "column_mismatch", i, f"the {name} column says {column!r}; the receipt says {value!r}"
            )
    if strict:
        try:
            recanonical = canonical_bytes(record)
        except (TypeError, ValueError) as exc:
            return Failure("malformed", i, f"the receipt cannot be canonicalized: {exc}")
        if recanonical != canonical:
            return Failure("malformed", i, "the stored bytes are not in canonical form (RFC 8785)")
    return None


def _content(canonical: bytes) -> dict[str, Any]:
    try:
        record = json.loads(canonical)
    except (ValueError, UnicodeDecodeError):
        return {}
    return record if isinstance(record, dict) else {}


def _as_bytes(value: object) -> bytes:
    """A canonical value as bytes, whatever the driver (memoryview) or a tampering hand (text) left."""
    if isinstance(value, str):  # SQLite keeps whatever type was written; text hashes as its UTF-8 bytes
        return value.encode("utf-8", "surrogatepass")
    return bytes(value)  # type: ignore[call-overload]
