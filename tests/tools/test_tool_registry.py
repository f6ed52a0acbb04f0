"""The registry and the key: deterministic keys, adapter overrides, and what `check` should report."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
from tool_helpers import make_spec, tool

from pilotgate.spec import load_pilot
from pilotgate.tools import PythonAdapter, ToolRegistry, args_hash, idempotency_key, tool_issues


def test_the_idempotency_key_is_canonical_and_covers_every_part() -> None:
    key = idempotency_key("desk", "t1", 0, "refund", {"a": 1, "b": [1, 2]})
    assert key == idempotency_key("desk", "t1", 0, "refund", {"b": [1, 2], "a": 1})
    assert key.startswith("sha256:") and len(key) == 71
    others = {
        idempotency_key("desk2", "t1", 0, "refund", {"a": 1, "b": [1, 2]}),
        idempotency_key("desk", "t2", 0, "refund", {"a": 1, "b": [1, 2]}),
        idempotency_key("desk", "t1", 1, "refund", {"a": 1, "b": [1, 2]}),
        idempotency_key("desk", "t1", 0, "refund2", {"a": 1, "b": [1, 2]}),
        idempotency_key("desk", "t1", 0, "refund", {"a": 1, "b": [2, 1]}),
    }
    assert key not in others and len(others) == 5
    assert args_hash({"x": 1}) == args_hash({"x": 1}) != args_hash({"x": 2})


class Closing(PythonAdapter):
    closed = 0

    def close(self) -> None:
        Closing.closed += 1


def test_adapters_are_built_lazily_overridable_and_closed() -> None:
    built: list[str] = []

    def factory(spec: object) -> Closing:
        built.append("b")
        return Closing("sample_tools", "no_key")

    spec = make_spec(tool("a", "python:sample_tools:no_key"), tool("b", "python:never_imported_module:f"))
    with ToolRegistry.from_spec(spec, adapters={"b": factory}) as registry:
        assert built == [] and len(registry) == 2 and "a" in registry
        assert registry.get("b").adapter.call({"order_id": "1"}, idempotency_key="k").content == "order 1"
        assert built == ["b"]
    assert Closing.closed == 1


def test_tool_issues_name_what_check_should_report(tmp_path: Path) -> None:
    (tmp_path / "pilot.yaml").write_text(
        """\
pilot: {name: desk, owner: dana, workflow: w}
users: [{name: bob, groups: [agents]}]
tools:
  - {name: ok, adapter: "python:x:y", effect: read, risk: low, roles: [agents]}
  - {name: mcp_rec, adapter: "mcp:http://127.0.0.1:1/mcp#t", effect: write, risk: low, replay: reconcilable,
     roles: [agents]}
  - {name: mcp_bad, adapter: "mcp:desk/create", effect: write, risk: low, roles: [agents]}
  - {name: bad_schema, adapter: "python:x:y", effect: read, risk: low, roles: [agents],
     args: {type: object, required: 5}}
""",
        encoding="utf-8",
    )
    issues = tool_issues(load_pilot(tmp_path / "pilot.yaml"))
    fields = [issue.field for issue in issues]
    assert fields == ["tools[1].replay", "tools[2].adapter", "tools[3].args"]
    assert all(issue.line for issue in issues)
    assert "always park" in issues[0].message


@pytest.mark.parametrize("name", ["pilotgate.tools", "pilotgate.tools.adapters", "pilotgate.approvals"])
def test_public_surface_is_honest(name: str) -> None:
    module = importlib.import_module(name)
    assert len(module.__all__) == len(set(module.__all__))
    assert [item for item in module.__all__ if not hasattr(module, item)] == []
