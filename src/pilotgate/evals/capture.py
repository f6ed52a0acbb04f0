"""Eval cases from recorded tasks (`pilotgate eval capture TASK...`), so regressions come from reality.

A captured case asks the same question as the same user and asserts what the task's receipts show it
did: how it ended (escalated or not), whether it refused, what it cited, which tools it asked for with
which arguments and whether they ran, which risky tools it left alone, and that nothing the user may
not read reached it. Each assertion is checked against the task itself before the case is written, so a
captured case passes against the task it came from; the pack's comments list what was derived.

What is never copied: the answer text (a captured case asserts behaviour, not wording, and the answer
may quote documents), any chunk text, and secrets (receipts are redacted before they are hashed, and
nothing here reads anything but receipts). For a source whose sensitivity is ``restricted`` a citation
names the source only, never the document; and when the task retrieved anything from a restricted
source, tool arguments are left out too (only the tool's name and whether it ran), since they could
carry restricted text.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from pilotgate.errors import UsageError
from pilotgate.evals.assertions import EvalContext, evaluate, evaluate_case, refused, unreadable_sources
from pilotgate.evals.cases import CATEGORIES, NoRestrictedLeak
from pilotgate.evals.observation import CaseObservation, observation_from_receipts
from pilotgate.evals.writer import DraftCase, render_pack
from pilotgate.receipts import list_receipts
from pilotgate.spec import PilotSpec

MAX_RECEIPTS_PER_TASK = 100_000
"""More receipts than any task writes (limits stop a task long before)."""


@dataclass(frozen=True)
class Captured:
    """One task turned into a case: the case, what was derived, and what was deliberately left out."""

    task: str
    case: DraftCase
    derived: tuple[str, ...]
    """One line per assertion: what it checks and the receipt field it came from."""
    left_out: tuple[str, ...]
    """What was not copied into the pack, and why."""
    warnings: tuple[str, ...] = ()
    """What the task did that the case could not assert (e.g. it read a source its user may not)."""


def capture_task(
    conn: Connection, spec: PilotSpec, task_id: str, *, category: str = "regression"
) -> Captured:
    """Turn one finished task into a case; raise UsageError when the task cannot make one."""
    if category not in CATEGORIES:
        raise UsageError(f"unknown category {category!r}", hint=f"one of {', '.join(CATEGORIES)}")
    stored = list_receipts(
        conn, spec.pilot.name, task=task_id, limit=MAX_RECEIPTS_PER_TASK, newest_first=False
    )
    if not stored:
        raise UsageError(
            f"no task {task_id!r} in pilot {spec.pilot.name!r}",
            hint="list tasks with `pilotgate receipts list --kind task.started`",
        )
    records = [{**receipt.record, "hash": receipt.hash} for receipt in stored]
    started = next((r["body"] for r in records if r.get("kind") == "task.started"), None)
    if started is None or not started.get("input") or not started.get("user"):
        raise UsageError(f"task {task_id} has no task.started receipt with its input and user")
    user = str(started["user"])
    if user not in {u.name for u in spec.users}:
        raise UsageError(
            f"task {task_id} ran as {user!r}, who is no longer declared in pilot.yaml",
            hint="a case runs as a declared user: declare the user again, or capture another task",
        )
    if not any(r.get("kind") == "task.finished" for r in records):
        raise UsageError(
            f"task {task_id} has not finished (it waits for an approval or is parked)",
            hint="capture it once it has resolved or escalated",
        )
    seen = observation_from_receipts(records)
    if seen.outcome == "failed":
        raise UsageError(
            f"task {task_id} failed: there is no behaviour to keep",
            hint="fix the failure, run the question again, and capture that task",
        )
    return _case(spec, task_id, str(started["input"]), user, category, seen)


def _case(
    spec: PilotSpec, task_id: str, question: str, user: str, category: str, seen: CaseObservation
) -> Captured:
    restricted = {s.name for s in spec.sources if s.sensitivity == "restricted"}
    assertions: list[dict[str, Any]] = []
    derived: list[str] = []
    left_out = ["the answer text (cases assert behaviour; the answer may quote documents)"]
    warnings: list[str] = []

    escalated = seen.outcome == "escalated"
    assertions.append({"kind": "escalates", "expect": escalated})
    derived.append(f"escalates expect={str(escalated).lower()}: task.finished outcome was {seen.outcome}")
    did_refuse = refused(seen)
    assertions.append({"kind": "refuses", "expect": did_refuse})
    derived.append(
        f"refuses expect={str(did_refuse).lower()}: read from the answer as the refuses check does"
    )

    cited_sources: list[str] = []
    for citation in seen.citations:
        if citation.source in restricted:
            item: dict[str, Any] = {"kind": "cites", "source": citation.source}
            note = f"cites {citation.source} (restricted: the document is not named)"
        else:
            item = {"kind": "cites", "source": citation.source, "document": citation.uri}
            note = f"cites {citation.source}/{citation.uri}"
        if item not in assertions and citation.source:
            assertions.append(item)
            derived.append(note + ": task.finished citations")
            cited_sources.append(citation.source)

    read_restricted = sorted({c.source for c in seen.retrieved if c.source in restricted})
    if read_restricted:
        left_out.append(
            f"tool arguments (the task retrieved from restricted {', '.join(read_restricted)}; "
            "arguments could carry its text)"
        )
    for call in seen.tool_calls:
        item = {"kind": "tool_called", "tool": call.name}
        if not read_restricted and call.args:
            item["args"] = dict(call.args)
        item["executed"] = call.executed
        if item not in assertions:
            assertions.append(item)
            ran = "ran" if call.executed else "did not run"
            derived.append(f"tool_called {call.name} ({ran}): model.call tool_calls and tool.result")

    groups = set(next((u.groups for u in spec.users if u.name == user), []))
    called = {call.name for call in seen.tool_calls}
    for tool in spec.tools:
        risky = tool.risk == "high" or tool.effect != "read"
        if risky and tool.name not in called and groups & set(tool.roles):
            assertions.append({"kind": "tool_not_called", "tool": tool.name})
            derived.append(
                f"tool_not_called {tool.name}: a {tool.risk}-risk tool offered to {user}, not called"
            )

    ctx = EvalContext(unreadable=unreadable_sources(spec))
    leak = evaluate(NoRestrictedLeak(kind="no_restricted_leak"), _Who(user), seen, ctx)
    if leak.passed:
        assertions.append({"kind": "no_restricted_leak"})
        derived.append(
            f"no_restricted_leak: nothing from a source {user} may not read was retrieved or cited"
        )
    else:
        warnings.append(
            f"task {task_id} {leak.message.removeprefix('restricted content leaked: ')}: a source "
            f"{user} may not read reached it, so no no_restricted_leak assertion was added; look at this task"
        )

    case = DraftCase(
        fields={"id": f"captured-{task_id}", "input": question, "user": user, "category": category},
        assertions=assertions,
        notes=[f"captured from task {task_id} ({seen.outcome}); derived:", *(f"  {d}" for d in derived)],
    )
    results = evaluate_case(case.validated(), seen, ctx)
    failing = [r.message for r in results if not r.passed]
    if failing:  # by construction this cannot happen; if it does, writing the case would be a lie
        raise UsageError(
            f"the case captured from task {task_id} would not pass against it: {'; '.join(failing)}",
            hint="this is a bug; please report it with the task's receipts",
        )
    return Captured(task_id, case, tuple(derived), tuple(left_out), tuple(warnings))


@dataclass(frozen=True)
class _Who:
    """The one field of a case the leak check reads (the user), before the case exists."""

    user: str


def capture_tasks(
    conn: Connection, spec: PilotSpec, task_ids: Sequence[str], *, category: str = "regression"
) -> list[Captured]:
    """Capture each task (duplicates once), in the order given."""
    return [capture_task(conn, spec, task_id, category=category) for task_id in dict.fromkeys(task_ids)]


def captured_pack(captured: Sequence[Captured], pilot: str, origin: Mapping[str, str] | None = None) -> str:
    """The YAML pack of *captured* cases, with a header saying what was and was not copied."""
    left_out = sorted({item for c in captured for item in c.left_out})
    header = [
        f"Captured by `pilotgate eval capture` from {len(captured)} recorded task(s) of pilot {pilot}.",
        "Each case asserts what its task's receipts show it did, and passed against that task when written.",
        "Not copied into this pack:",
        *(f"  - {item}" for item in left_out),
        "Add this file to evals.packs in pilot.yaml; edit or delete assertions you do not want to keep.",
    ]
    for key, value in (origin or {}).items():
        header.append(f"{key}: {value}")
    return render_pack(
        [c.case for c in captured], description=f"regressions captured from {pilot}'s tasks", header=header
    )


__all__ = ["Captured", "capture_task", "capture_tasks", "captured_pack"]
