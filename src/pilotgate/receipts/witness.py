"""Witnesses: somewhere outside the store that keeps the latest signed checkpoint.

A signed checkpoint stops a database writer from rewriting receipts the checkpoint covers, but not from
deleting the newest receipts *and* their checkpoints: the shorter log still verifies on its own. A witness
remembers the largest checkpoint it was given, so verify can tell that the log was cut back. A witness
refuses a checkpoint smaller than the one it holds (a rollback) or of the same size with another root (a
fork); both are raised as VerificationError, because both mean the log was tampered with.

Two kinds, chosen by ``receipts.witness`` in pilot.yaml:

- a file path: an append-only JSONL file, one line per accepted checkpoint
  ``{"origin", "size", "root" (hex), "note"}``; the last line of an origin is its latest. Put it on other
  storage than the database (another disk, a mounted bucket, a WORM volume).
- an http(s) URL: ``POST <url>`` with the note as ``text/plain`` adds a checkpoint (2xx accepted, 409
  refused as rollback or fork); ``GET <url>?origin=<origin>`` returns the latest note (404: none yet).
  Uses the standard library's urllib (no extra dependency).
"""

from __future__ import annotations

import contextlib
import json
import os
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

from pilotgate.errors import VerificationError, WitnessError
from pilotgate.receipts.checkpoint import Checkpoint, origin, parse_checkpoint

HTTP_TIMEOUT_SECONDS = 10.0


class Witness(Protocol):
    """Where signed checkpoints are kept outside the store."""

    location: str

    def submit(self, checkpoint: Checkpoint) -> None:
        """Keep ``checkpoint``; VerificationError if it rolls back or forks the latest one."""
        ...

    def latest(self, pilot: str) -> Checkpoint | None:
        """The largest checkpoint kept for ``pilot``, or None."""
        ...


def check_successor(latest: Checkpoint | None, checkpoint: Checkpoint, where: str) -> bool:
    """True when ``checkpoint`` should be added after ``latest``; False when it is already there.

    Raises VerificationError for a rollback (smaller) or a fork (same size, another root).
    """
    if latest is None or checkpoint.size > latest.size:
        return True
    if checkpoint.size < latest.size:
        raise VerificationError(
            f"{where} holds a checkpoint of {latest.size} receipts; "
            f"refusing one of {checkpoint.size} (rollback)",
            failures=[("witness_rollback", checkpoint.size)],
            hint="the receipt log was cut back; restore it from a backup and investigate",
        )
    if checkpoint.root != latest.root:
        raise VerificationError(
            f"{where} holds another root for size {checkpoint.size} (fork)",
            failures=[("witness_fork", checkpoint.size)],
            hint="the receipt log was rewritten; restore it from a backup and investigate",
        )
    return False


class FileWitness:
    """An append-only JSONL file of accepted checkpoints."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.location = str(path)

    def submit(self, checkpoint: Checkpoint) -> None:
        with self._locked() as handle:
            latest = self._latest_in(handle.read().decode("utf-8"), checkpoint.pilot)
            if not check_successor(latest, checkpoint, f"the witness file {self.path}"):
                return
            line = {
                "origin": origin(checkpoint.pilot),
                "size": checkpoint.size,
                "root": checkpoint.root.hex(),
                "note": checkpoint.note,
            }
            handle.seek(0, os.SEEK_END)
            handle.write((json.dumps(line, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8"))
            handle.flush()
            os.fsync(handle.fileno())

    def latest(self, pilot: str) -> Checkpoint | None:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise WitnessError(f"cannot read the witness file {self.path}: {exc.strerror}") from exc
        return self._latest_in(text, pilot)

    def _latest_in(self, text: str, pilot: str) -> Checkpoint | None:
        """The last checkpoint of ``pilot`` in the file, checking the file never went backwards."""
        want = origin(pilot)
        latest: Checkpoint | None = None
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
                if entry["origin"] != want:
                    continue
                checkpoint = parse_checkpoint(entry["note"])
            except (ValueError, KeyError, TypeError) as exc:
                raise WitnessError(f"{self.path}:{number}: not a witnessed checkpoint ({exc})") from exc
            if latest is not None:
                check_successor(latest, checkpoint, f"the witness file {self.path} (line {number})")
            latest = checkpoint
        return latest

    @contextlib.contextmanager
    def _locked(self) -> Iterator[object]:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            handle = self.path.open("a+b")
        except OSError as exc:
            raise WitnessError(
                f"cannot write the witness file {self.path}: {exc.strerror}",
                hint="check receipts.witness in pilot.yaml and that its folder is writable",
            ) from exc
        with handle:
            if os.name == "posix":
                import fcntl

                fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            handle.seek(0)
            yield handle


class HttpWitness:
    """A witness behind an HTTP endpoint (see the module docstring for the two requests)."""

    def __init__(self, url: str, *, timeout: float = HTTP_TIMEOUT_SECONDS) -> None:
        if not url.startswith(("http://", "https://")):
            raise WitnessError(f"a witness URL must be http(s): {url!r}")
        self.url = url
        self.location = url
        self.timeout = timeout

    def submit(self, checkpoint: Checkpoint) -> None:
        request = urllib.request.Request(  # noqa: S310 - the scheme is checked in __init__
            self.url,
            data=checkpoint.note.encode("utf-8"),
            method="POST",
            headers={"Content-Type": "text/plain; charset=utf-8"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout):  # noqa: S310
                return
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode("utf-8", "replace").strip()[:200]
            if exc.code == 409:
                raise VerificationError(
                    f"the witness {self.url} refused the checkpoint of {checkpoint.size} receipts: {detail}",
                    failures=[("witness_rollback", checkpoint.size)],
                    hint="the receipt log was cut back or rewritten; restore it and investigate",
                ) from exc
            raise WitnessError(f"the witness {self.url} answered {exc.code}: {detail}") from exc
        except (urllib.error.URLError, OSError) as exc:
            raise WitnessError(
                f"cannot reach the witness {self.url}: {getattr(exc, 'reason', exc)}",
                hint="the checkpoint is stored; `pilotgate receipts checkpoint` sends it again later",
            ) from exc

    def latest(self, pilot: str) -> Checkpoint | None:
        query = urllib.parse.urlencode({"origin": origin(pilot)})
        url = f"{self.url}{'&' if '?' in self.url else '?'}{query}"
        try:
            with urllib.request.urlopen(url, timeout=self.timeout) as response:  # noqa: S310
                body = response.read().decode("utf-8")
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return None
            raise WitnessError(f"the witness {self.url} answered {exc.code}") from exc
        except (urllib.error.URLError, OSError) as exc:
            raise WitnessError(f"cannot reach the witness {self.url}: {getattr(exc, 'reason', exc)}") from exc
        try:
            return parse_checkpoint(body)
        except ValueError as exc:
            raise WitnessError(f"the witness {self.url} returned no checkpoint: {exc}") from exc


def open_witness(location: str, *, base: Path | None = None) -> Witness:
    """A witness for ``receipts.witness``: an http(s) URL, or a file path relative to ``base``."""
    if location.startswith(("http://", "https://")):
        return HttpWitness(location)
    path = Path(location).expanduser()
    if not path.is_absolute() and base is not None:
        path = base / path
    return FileWitness(path)
