"""Loading good pilots: the full example, a minimal one with its defaults, files and folders."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from pilotgate.errors import ConfigError, UsageError
from pilotgate.spec import (
    CsvSource,
    FolderSource,
    LoadedPilot,
    OpenAICompatibleModel,
    PilotSpec,
    ReferenceModel,
    find_pilot,
    load_pilot,
    load_pilot_text,
)


def test_full_example_loads(fixtures: Path) -> None:
    loaded = load_pilot(fixtures / "full.yaml")
    spec = loaded.spec
    assert spec.pilot.name == "refund-desk"
    assert spec.pilot.escalation is not None and spec.pilot.escalation.to == "group:agents"
    assert [type(s) for s in spec.sources] == [FolderSource, CsvSource]
    assert spec.sources[0].freshness == timedelta(days=90)
    assert spec.sources[1].acl_column == "allowed_groups"
    primary = spec.models[0]
    assert isinstance(primary, OpenAICompatibleModel)
    assert primary.api_key == "env:LLM_API_KEY"
    assert primary.timeout == timedelta(seconds=20)
    assert primary.price is not None and primary.price.input_per_mtok == Decimal("0.10")
    assert isinstance(spec.models[1], ReferenceModel)
    assert spec.routing.fallbacks == ["reference"] and spec.routing.retries == 2
    assert spec.tools[0].replay == "idempotent"  # read tools default to idempotent
    assert spec.tools[1].replay == "reconcilable"
    assert spec.tools[1].cost_per_call == Decimal("0.002")
    assert spec.policy.rules[2].expires == timedelta(hours=4)
    assert spec.policy.tests[1].expect == "require_approval"
    assert spec.budgets.per_task == Decimal("0.05")
    assert spec.budgets.periodic.infra_per_month == Decimal("120.00")
    assert spec.budgets.manual_minutes_per_task == Decimal(9)
    assert spec.evals.judge == "primary" and spec.evals.repeats == 3
    assert len(spec.gate.require) == 7
    assert spec.alerts[0].cooldown == timedelta(minutes=30)
    assert spec.alerts[1].post == "log"
    assert spec.flags["issue_refund"].groups == ["agents"]
    assert spec.receipts.checkpoint_every == 500
    assert spec.receipts.checkpoint_at_task_end is True
    assert spec.receipts.witness == "witness/checkpoints.log"
    assert loaded.warnings == ()


def test_money_is_never_a_float(fixtures: Path, minimal: str) -> None:
    spec = load_pilot(fixtures / "full.yaml").spec
    amounts = [spec.budgets.per_task, spec.budgets.per_day, spec.budgets.vendor_switching_cost]
    assert all(type(amount) is Decimal for amount in amounts)
    assert load_pilot_text(minimal + "budgets: {per_task: 0.10}\n").budgets.per_task == Decimal("0.10")


def test_minimal_pilot_gets_defaults(minimal: str) -> None:
    spec = load_pilot_text(minimal)
    assert spec.models == [ReferenceModel(name="reference", provider="reference")]
    assert spec.routing.primary == "reference"
    assert spec.degraded_mode == "escalate"
    assert spec.sources[0].sensitivity == "internal"
    assert spec.sources[0].freshness is None
    assert spec.receipts.checkpoint_every == 1000
    assert spec.receipts.checkpoint_at_task_end is False
    assert spec.receipts.signing_key == ".pilotgate/signing.key"
    assert spec.receipts.witness is None
    assert spec.tools == [] and spec.policy.rules == [] and spec.flags == {}


def test_empty_models_list_means_the_reference_model(minimal: str) -> None:
    spec = load_pilot_text(minimal + "models: []\n")
    assert [m.name for m in spec.models] == ["reference"]


def test_routing_primary_defaults_to_first_model(minimal: str) -> None:
    text = (
        minimal + "models:\n  - {name: local, provider: openai-compatible, base_url: http://h/v1, model: m}\n"
    )
    assert load_pilot_text(text).routing.primary == "local"


def test_yaml_1_2_keeps_no_as_a_string(minimal: str) -> None:
    spec = load_pilot_text(minimal.replace("owner: sam", "owner: no"))
    assert spec.pilot.owner == "no"


def test_dumped_spec_loads_back_the_same(fixtures: Path) -> None:
    spec = load_pilot(fixtures / "full.yaml").spec
    again = PilotSpec.model_validate(spec.model_dump(mode="json"))
    assert again == spec
    assert spec.model_dump(mode="json")["models"][0]["timeout"] == "20s"


def test_loaded_pilot_resolves_relative_to_its_folder(fixtures: Path) -> None:
    loaded = load_pilot(fixtures / "full.yaml")
    assert isinstance(loaded, LoadedPilot)
    assert loaded.path == (fixtures / "full.yaml").resolve()
    assert loaded.root == fixtures.resolve()
    assert loaded.resolve(loaded.spec.receipts.signing_key) == fixtures.resolve() / "keys/refund-desk.key"
    assert loaded.resolve("/abs/x") == Path("/abs/x")


def test_warnings_do_not_stop_loading(tmp_path: Path, minimal: str) -> None:
    text = minimal + (
        "tools:\n"
        "  - {name: t, adapter: 'python:m:f', effect: write, risk: high, roles: [staff]}\n"
        "policy:\n"
        "  rules:\n"
        "    - {name: r, decision: require_approval, when: 'true', approvers: [finance]}\n"
    )
    (tmp_path / "pilot.yaml").write_text(text, encoding="utf-8")
    loaded = load_pilot(tmp_path / "pilot.yaml")
    assert [str(w).split(": ", 1)[1] for w in loaded.warnings] == [
        'policy.rules[0].approvers[0]: no user has the group "finance" yet; approvals wait until one does, '
        "then expire"
    ]
    assert (loaded.warnings[0].line, loaded.warnings[0].column) == (18, 71)


# --- files ------------------------------------------------------------------------------------------


def _only_issue(path: Path) -> str:
    with pytest.raises(ConfigError) as caught:
        load_pilot(path)
    assert len(caught.value.issues) == 1
    return str(caught.value.issues[0])


def test_missing_file(tmp_path: Path) -> None:
    text = _only_issue(tmp_path / "pilot.yaml")
    assert text.startswith(f"{tmp_path / 'pilot.yaml'}: file not found")
    assert "pilotgate init" in text


def test_folder_instead_of_file(tmp_path: Path) -> None:
    assert "is a folder, not a file" in _only_issue(tmp_path)


def test_unreadable_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, minimal: str) -> None:
    path = tmp_path / "pilot.yaml"
    path.write_text(minimal, encoding="utf-8")

    def refuse(self: Path) -> bytes:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "read_bytes", refuse)
    assert _only_issue(path) == f"{path}: cannot be read: permission denied (check the file's permissions)"


@pytest.mark.parametrize("content", ["", "# nothing but a comment\n", "\n\n"])
def test_empty_file(tmp_path: Path, content: str) -> None:
    path = tmp_path / "pilot.yaml"
    path.write_text(content, encoding="utf-8")
    assert "file is empty" in _only_issue(path)


@pytest.mark.parametrize(
    ("content", "found"), [("- a\n- b\n", "a list"), ("just text\n", '"just text"'), ("42\n", "42")]
)
def test_top_level_not_a_mapping(tmp_path: Path, content: str, found: str) -> None:
    path = tmp_path / "pilot.yaml"
    path.write_text(content, encoding="utf-8")
    assert _only_issue(path) == f"{path}:1:1: expected a mapping of sections at the top level; got {found}"


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "pilot.yaml"
    path.write_bytes(b"pilot:\n  name: caf\xe9\n")
    assert _only_issue(path) == f"{path}:2: is not UTF-8 text (save the file as UTF-8)"


# --- finding pilot.yaml -----------------------------------------------------------------------------


def test_find_pilot_in_start_folder(tmp_path: Path, minimal: str) -> None:
    (tmp_path / "pilot.yaml").write_text(minimal, encoding="utf-8")
    assert find_pilot(tmp_path) == tmp_path / "pilot.yaml"


def test_find_pilot_defaults_to_current_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, minimal: str
) -> None:
    (tmp_path / "pilot.yaml").write_text(minimal, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert find_pilot().resolve() == (tmp_path / "pilot.yaml").resolve()


def test_find_pilot_explicit_file_or_folder(tmp_path: Path, minimal: str) -> None:
    other = tmp_path / "elsewhere.yaml"
    other.write_text(minimal, encoding="utf-8")
    (tmp_path / "pilot.yaml").write_text(minimal, encoding="utf-8")
    assert find_pilot(Path("/nonexistent"), explicit=other) == other
    assert find_pilot(Path("/nonexistent"), explicit=str(tmp_path)) == tmp_path / "pilot.yaml"


def test_find_pilot_absent_says_how_to_fix(tmp_path: Path) -> None:
    with pytest.raises(UsageError) as caught:
        find_pilot(tmp_path)
    assert str(caught.value) == f"no pilot.yaml in {tmp_path}"
    assert caught.value.hint == "run `pilotgate init DIR` to create one, or pass --pilot PATH"
    with pytest.raises(UsageError, match="no pilot file at"):
        find_pilot(tmp_path, explicit=tmp_path / "missing.yaml")


def test_anchors_and_merge_keys(minimal: str) -> None:
    text = minimal + (
        "models:\n"
        "  - &local\n"
        "    {name: a, provider: openai-compatible, base_url: 'http://h/v1', model: m1, timeout: 30s}\n"
        "  - {<<: *local, name: b, model: m2}\n"
    )
    spec = load_pilot_text(text)
    assert [(m.name, getattr(m, "timeout", None)) for m in spec.models] == [
        ("a", timedelta(seconds=30)),
        ("b", timedelta(seconds=30)),
    ]


def test_merged_key_errors_still_have_a_position(minimal: str) -> None:
    text = minimal + (
        "models:\n"
        "  - &local {name: a, provider: openai-compatible, base_url: 'http://h/v1', model: m1}\n"
        "  - {<<: *local, name: b, model: m2, timeout: never}\n"
    )
    with pytest.raises(ConfigError) as caught:
        load_pilot_text(text)
    [issue] = caught.value.issues
    assert (issue.line, issue.field) == (16, "models[1].timeout")


def test_spec_helpers(fixtures: Path) -> None:
    spec = load_pilot(fixtures / "full.yaml").spec
    assert spec.model_named("reference").provider == "reference"
    with pytest.raises(KeyError):
        spec.model_named("nope")
    assert spec.groups() == {"customers", "agents", "finance"}
