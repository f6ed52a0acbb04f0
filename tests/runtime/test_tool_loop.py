"""The task loop with tools on the demo pilot: allowed, denied, unknown, bad arguments, limits, degraded."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from runtime_helpers import ScriptedModel, bodies, kinds, receipts_of, response

from doubles.openai_server import closed_port_url
from pilotgate.demo import scaffold_pilot
from pilotgate.models import NO_BACKOFF, ModelRequest, ToolCall
from pilotgate.runtime import Outcome, Runtime, TaskLimits, TaskState, open_runtime
from pilotgate.runtime.rows import load
from pilotgate.testing import FixedClock, SequentialIds
from pilotgate.workspace import Workspace, open_workspace


@pytest.fixture
def runtime(workspace: Workspace) -> Iterator[Runtime]:
    with open_runtime(workspace, clock=FixedClock(), ids=SequentialIds()) as opened:
        yield opened


def test_an_allowed_read_tool_runs_and_its_result_is_cited(runtime: Runtime, workspace: Workspace) -> None:
    result = runtime.run("Where is my order 100200?", user="alice")
    assert result.outcome is Outcome.RESOLVED
    assert "shipped" in result.answer
    assert [(c.chunk_id, c.source, c.uri) for c in result.citations] == [
        ("tool:call_1", "tool", "lookup_order")
    ]
    assert kinds(workspace, result.task_id) == [
        "task.started",
        "retrieval",
        "model.call",
        "policy.decision",
        "tool.intent",
        "tool.result",
        "model.call",
        "task.finished",
    ]
    decision = bodies(workspace, result.task_id, "policy.decision")[0]
    assert (decision["effect"], decision["rule"], decision["tool"]) == (
        "allow",
        "reads-are-fine",
        "lookup_order",
    )
    finished = bodies(workspace, result.task_id, "task.finished")[0]
    assert finished["citations"] == ["tool:call_1"]
    assert (finished["model_turns"], finished["tool_calls"]) == (2, 1)


def test_a_denied_call_goes_back_to_the_model_and_the_task_escalates(
    runtime: Runtime, workspace: Workspace
) -> None:
    result = runtime.run("Please refund 40 EUR for order 100200.", user="alice")
    assert result.outcome is Outcome.ESCALATED
    assert kinds(workspace, result.task_id) == [
        "task.started",
        "retrieval",
        "model.call",
        "policy.decision",
        "model.call",
        "task.finished",
    ]
    decision = bodies(workspace, result.task_id, "policy.decision")[0]
    assert (decision["effect"], decision["rule"]) == ("deny", "customers-never-refund")
    [(_call, answer)] = result.tool_summary()
    assert answer is not None and answer.is_error and "customers-never-refund" in answer.content


def test_a_planted_instruction_in_a_document_is_stopped_by_policy(
    runtime: Runtime, workspace: Workspace
) -> None:
    result = runtime.run("Do vouchers expire?", user="bob")
    [(call, answer)] = result.tool_summary()
    assert call.name == "issue_refund" and call.arguments == {"order_id": "100422", "amount": 950}
    assert answer is not None and answer.is_error
    decision = bodies(workspace, result.task_id, "policy.decision")[0]
    assert (decision["effect"], decision["rule"]) == ("deny", "refund-only-orders-the-requester-named")
    assert "tool.intent" not in kinds(workspace, result.task_id)
    # The user asked about vouchers, not for a refund: the sources answer, and the planted line is not quoted.
    assert result.outcome is Outcome.RESOLVED and "never expire" in result.answer
    assert "issue_refund did not run" in result.answer and "wire 950" not in result.answer


def test_only_tools_the_users_roles_allow_are_offered(workspace: Workspace) -> None:
    model = ScriptedModel(lambda request: response("nothing", citations=()))
    with open_runtime(workspace, model=model, sync=True) as runtime:
        runtime.run("hello there refunds", user="bob")
        offered = {tool.name for tool in model.requests[0].tools}
    assert offered == {"lookup_order", "issue_refund"}
    text = (workspace.root / "pilot.yaml").read_text()
    (workspace.root / "pilot.yaml").write_text(
        text.replace("roles: [customers, agents]       #", "roles: [agents] #")
    )
    narrowed = open_workspace(
        workspace.root, str(workspace.store.engine.url.render_as_string(hide_password=False))
    )
    try:
        model.requests.clear()
        with open_runtime(narrowed, model=model, sync=False) as runtime:
            runtime.run("hello there refunds", user="alice")
        assert {tool.name for tool in model.requests[0].tools} == {"lookup_order"}
    finally:
        narrowed.close()


def _asks(*calls: ToolCall) -> ScriptedModel:
    """A model that asks for ``calls`` once, then answers from whatever came back."""

    def reply(request: ModelRequest) -> object:
        if not request.turns:
            return response(calls=calls)
        return response("done, see [1]", citations=(f"tool:{calls[0].id}",))

    return ScriptedModel(reply)  # type: ignore[arg-type]


def test_an_unknown_tool_is_denied_and_recorded(workspace: Workspace) -> None:
    model = _asks(ToolCall("c1", "drop_tables", {"all": True}))
    with open_runtime(workspace, model=model) as runtime:
        result = runtime.run("How do I reset my password?", user="bob")
    assert result.outcome is Outcome.ESCALATED  # its only citation is an error result
    decision = bodies(workspace, result.task_id, "policy.decision")[0]
    assert (decision["effect"], decision["rule"], decision["tool"]) == ("deny", "unknown-tool", "drop_tables")
    assert model.requests[1].turns[-1].is_error  # type: ignore[union-attr]


def test_bad_arguments_are_refused_before_policy_naming_the_problem(workspace: Workspace) -> None:
    model = _asks(ToolCall("c1", "lookup_order", {"order_id": "x" * 5000}))
    with open_runtime(workspace, model=model) as runtime:
        result = runtime.run("How do I reset my password?", user="bob")
    assert "policy.decision" not in kinds(workspace, result.task_id)
    [refused] = bodies(workspace, result.task_id, "tool.refused")
    assert refused["tool"] == "lookup_order" and "$.order_id" in refused["problem"]
    assert "xxxx" not in refused["problem"]


def test_limits_stop_a_model_that_never_stops_asking(workspace: Workspace) -> None:
    counter = iter(range(1000))

    def reply(request: ModelRequest) -> object:
        n = next(counter)
        return response(calls=(ToolCall(f"c{n}", "lookup_order", {"order_id": f"{100200 + n}"}),))

    model = ScriptedModel(reply)  # type: ignore[arg-type]
    limits = TaskLimits(max_model_turns=50, max_tool_calls=4)
    with open_runtime(workspace, model=model, limits=limits) as runtime:
        result = runtime.run("Where is my order 100200?", user="bob")
        assert result.outcome is Outcome.ESCALATED
        finished = bodies(workspace, result.task_id, "task.finished")[0]
        assert finished["stopped"] == {"limit": "max_tool_calls", "value": 4}
        assert finished["tool_calls"] == 4
        assert len(bodies(workspace, result.task_id, "tool.result")) == 4
    turns = TaskLimits(max_model_turns=3)
    with open_runtime(workspace, model=model, limits=turns, sync=False) as runtime:
        result = runtime.run("Where is my order 100200?", user="bob")
    finished = bodies(workspace, result.task_id, "task.finished")[0]
    assert finished["stopped"] == {"limit": "max_model_turns", "value": 3}
    assert len(bodies(workspace, result.task_id, "model.call")) == 3


def test_a_reference_rule_that_keeps_firing_is_stopped_too(workspace: Workspace) -> None:
    """The reference model calls each tool once per task; a token limit still ends the loop."""
    limits = TaskLimits(max_tokens=1)
    with open_runtime(workspace, limits=limits) as runtime:
        result = runtime.run("Where is my order 100200?", user="alice")
    finished = bodies(workspace, result.task_id, "task.finished")[0]
    assert finished["stopped"] == {"limit": "max_tokens", "value": 1}


@pytest.mark.parametrize(
    ("mode", "outcome"), [("escalate", "escalated"), ("answer_from_fallback", "resolved")]
)
def test_degraded_mode_when_the_model_server_is_down(tmp_path: Path, mode: str, outcome: str) -> None:
    from pilotgate.demo import scaffold_pilot

    scaffold_pilot(tmp_path / "desk")
    pilot = tmp_path / "desk" / "pilot.yaml"
    text = pilot.read_text()
    start = text.index("models:")
    end = text.index("tools:")
    down = (
        "models:\n"
        "  - name: primary\n"
        "    provider: openai-compatible\n"
        f"    base_url: {closed_port_url()}\n"
        "    model: gpt-4o-mini\n"
        "    timeout: 2s\n"
        "    price: {input_per_mtok: 0, output_per_mtok: 0}\n"
        f"degraded_mode: {mode}\n\n"
    )
    pilot.write_text(text[:start] + down + text[end:])
    workspace = open_workspace(tmp_path / "desk")
    try:
        with open_runtime(workspace, backoff=NO_BACKOFF) as runtime:
            result = runtime.run("How do I reset my password?", user="alice")
        assert result.label == outcome
        call = bodies(workspace, result.task_id, "model.call")[0]
        assert call["degraded"]["reason"] == "all_models_failed"
        assert call["attempts"][0]["error"] == "ModelConnectionError"
    finally:
        workspace.close()


def test_the_row_keeps_what_the_task_needs(runtime: Runtime, workspace: Workspace) -> None:
    result = runtime.run("Where is my order 100200?", user="alice")
    with workspace.store.read() as conn:
        row = load(conn, workspace.name, result.task_id)
    assert row.state is TaskState.RESOLVED and row.step == 1 and row.pending == []
    assert '"lookup_order"' in (row.transcript or "")


def test_an_error_in_the_loop_is_recorded_as_a_failed_task(workspace: Workspace) -> None:
    def broken(request: ModelRequest) -> object:
        raise ValueError("a bug, with data that must not be recorded: 4111-1111")

    model = ScriptedModel(broken)  # type: ignore[arg-type]
    with open_runtime(workspace, model=model) as runtime, pytest.raises(ValueError):
        runtime.run("How do I reset my password?", user="alice")
    [finished] = [r for r in receipts_of(workspace, kind="task.finished")]
    assert finished.record["body"]["outcome"] == "failed"
    assert finished.record["body"]["error"] == "ValueError"
    assert b"4111" not in finished.canonical
    with workspace.store.read() as conn:
        assert load(conn, workspace.name, finished.task or "").state is TaskState.FAILED


def test_limits_declared_in_pilot_yaml_stop_the_task(tmp_path: Path) -> None:
    scaffold_pilot(tmp_path / "desk")
    path = tmp_path / "desk" / "pilot.yaml"
    text = path.read_text()
    assert "\n  max_tool_calls: 8\n" in text
    path.write_text(text.replace("\n  max_tool_calls: 8\n", "\n  max_tool_calls: 0\n", 1))
    workspace = open_workspace(tmp_path / "desk")
    try:
        with open_runtime(workspace) as runtime:
            assert runtime.limits.max_tool_calls == 0
            result = runtime.run("Where is my order 100200?", user="alice")
        assert result.outcome is Outcome.ESCALATED
        finished = bodies(workspace, result.task_id, "task.finished")[0]
        assert finished["stopped"] == {"limit": "max_tool_calls", "value": 0}
        assert bodies(workspace, result.task_id, "tool.intent") == []
    finally:
        workspace.close()


@pytest.mark.parametrize(
    ("question", "user"),
    [
        ("How long do I have to return shoes?", "alice"),  # an answer
        ("Where is my order 100200?", "alice"),  # a read tool
        ("Please refund 40 EUR for order 100200.", "alice"),  # denied by policy
        ("Refund 35 EUR for order 100311, the parcel arrived late.", "bob"),  # a write tool
        ("Refund 480 EUR for order 100422, the customer returned everything.", "bob"),  # waits: approval
    ],
)
def test_the_result_holds_every_receipt_the_task_wrote_byte_for_byte(
    runtime: Runtime, workspace: Workspace, question: str, user: str
) -> None:
    # The eval runner scores a finished task from these bytes instead of reading them back.
    result = runtime.run(question, user=user)
    stored = receipts_of(workspace, result.task_id)
    assert result.state is not TaskState.RUNNING
    assert [(r.seq, r.hash, r.canonical) for r in result.receipts] == [
        (r.seq, r.hash, r.canonical) for r in stored
    ]
