"""One task, end to end: retrieval with the caller's permissions, the model, an answer with citations.

Each step commits with its receipt (``task.started``, ``retrieval``, ``model.call``, ``task.finished``), so a
crash between steps loses nothing already recorded and leaves the task visibly ``running``. Later issues put
tool calls, policy and approvals between the model call and the finish; the shape stays the same.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, insert, update

from pilotgate.clock import Clock, IdFactory, new_id, rfc3339, utc_now
from pilotgate.data import RetrievedChunk, search
from pilotgate.errors import TaskError
from pilotgate.models import Model, ModelRequest, ModelResponse, ReferenceModel
from pilotgate.receipts import AppendedReceipt, ReceiptLog
from pilotgate.runtime.states import Outcome, TaskState
from pilotgate.spec import PilotSpec, UserSpec
from pilotgate.store import Store
from pilotgate.store.tables import tasks

MAX_QUESTION_CHARS = 8_000
"""A question longer than this is refused before anything is recorded."""

RETRIEVAL_LIMIT = 5
"""How many chunks a task retrieves for the model."""

WORKER_ACTOR = {"kind": "worker", "id": "pilotgate-runtime"}


@dataclass(frozen=True)
class TaskResult:
    """What one task did: its outcome, its answer, what it cited and the receipts it left."""

    task_id: str
    user: str
    question: str
    outcome: Outcome
    answer: str
    citations: tuple[RetrievedChunk, ...]
    receipts: tuple[AppendedReceipt, ...] = field(default=())
    latency_ms: float = 0.0


@dataclass
class Runtime:
    """Runs tasks of one pilot against its store and receipt log."""

    spec: PilotSpec
    store: Store
    log: ReceiptLog
    model: Model = field(default_factory=ReferenceModel)
    clock: Clock = utc_now
    ids: IdFactory = new_id

    def user(self, name: str) -> UserSpec:
        """The declared user called ``name``, or a TaskError naming the users there are."""
        for user in self.spec.users:
            if user.name == name:
                return user
        known = ", ".join(user.name for user in self.spec.users) or "none declared"
        raise TaskError(
            f"unknown user {name!r}: pilot {self.spec.pilot.name!r} declares {known}",
            hint="add the user under `users:` in pilot.yaml, or pass --user with a declared name",
        )

    def run(self, question: str, *, user: str) -> TaskResult:
        """Run one task for ``user`` and return its result; every step is a committed receipt."""
        question = question.strip()
        if not question:
            raise TaskError("the question is empty", hint='pass the question in quotes: pilotgate run "..."')
        if len(question) > MAX_QUESTION_CHARS:
            raise TaskError(
                f"the question has {len(question):,} characters; the limit is {MAX_QUESTION_CHARS:,}",
                hint="shorten it",
            )
        caller = self.user(user)
        started = time.perf_counter()
        task_id = self.ids("task")
        recorded: list[AppendedReceipt] = []
        pilot = self.spec.pilot.name

        with self.log.transaction(self.store) as conn:
            now = rfc3339(self.clock())
            conn.execute(
                insert(tasks).values(
                    id=task_id,
                    pilot=pilot,
                    user=caller.name,
                    input=question,
                    state=TaskState.RUNNING,
                    created_at=now,
                    updated_at=now,
                )
            )
            recorded.append(
                self._append(
                    conn,
                    "task.started",
                    task_id,
                    {"input": question, "user": caller.name, "groups": sorted(caller.groups)},
                    actor={"kind": "user", "id": caller.name},
                )
            )

        with self.store.read() as conn:
            chunks = search(
                conn, pilot=pilot, query=question, groups=list(caller.groups), limit=RETRIEVAL_LIMIT
            )
        with self.log.transaction(self.store) as conn:
            recorded.append(self._append(conn, "retrieval", task_id, _retrieval_body(question, chunks)))

        response = self.model.complete(ModelRequest(question=question, context=list(chunks)))
        cited = _cited(chunks, response)
        with self.log.transaction(self.store) as conn:
            recorded.append(self._append(conn, "model.call", task_id, _model_body(response)))

        outcome = Outcome.RESOLVED if cited else Outcome.ESCALATED
        with self.log.transaction(self.store) as conn:
            conn.execute(
                update(tasks)
                .where(tasks.c.id == task_id)
                .values(
                    state=outcome.value,
                    outcome=outcome.value,
                    answer=response.text,
                    updated_at=rfc3339(self.clock()),
                )
            )
            body: dict[str, Any] = {
                "outcome": outcome.value,
                "answer": response.text,
                "citations": [chunk.chunk_id for chunk in cited],
            }
            if outcome is Outcome.ESCALATED:
                body["escalated_to"] = self.spec.pilot.escalation.to if self.spec.pilot.escalation else None
            recorded.append(self._append(conn, "task.finished", task_id, body))
            if self.spec.receipts.checkpoint_at_task_end:
                self.log.checkpoint(conn)

        return TaskResult(
            task_id=task_id,
            user=caller.name,
            question=question,
            outcome=outcome,
            answer=response.text,
            citations=tuple(cited),
            receipts=tuple(recorded),
            latency_ms=(time.perf_counter() - started) * 1000,
        )

    def _append(
        self,
        conn: Connection,
        kind: str,
        task_id: str,
        body: dict[str, Any],
        *,
        actor: dict[str, str] | None = None,
    ) -> AppendedReceipt:
        return self.log.append(conn, kind=kind, task=task_id, body=body, actor=actor or WORKER_ACTOR)


def _retrieval_body(query: str, chunks: Sequence[RetrievedChunk]) -> dict[str, Any]:
    return {
        "query": query,
        "returned": len(chunks),
        "chunks": [
            {
                "chunk": chunk.chunk_id,
                "document": chunk.document_id,
                "source": chunk.source,
                "uri": chunk.uri,
                "version": chunk.version,
                "score": f"{chunk.score:.6f}",
            }
            for chunk in chunks
        ],
    }


def _model_body(response: ModelResponse) -> dict[str, Any]:
    return {
        "model": response.model,
        "provider": response.provider,
        "input_tokens": response.input_tokens,
        "output_tokens": response.output_tokens,
        "latency_ms": f"{response.latency_ms:.3f}",
        "output": response.text,
        "citations": list(response.citations),
    }


def _cited(chunks: Sequence[RetrievedChunk], response: ModelResponse) -> list[RetrievedChunk]:
    by_id = {chunk.chunk_id: chunk for chunk in chunks}
    return [by_id[chunk_id] for chunk_id in response.citations if chunk_id in by_id]
