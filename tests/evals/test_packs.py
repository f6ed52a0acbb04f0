# ruff: noqa: E501
"""Eval packs: YAML and JSONL, every problem at file:line with its field, checked against pilot.yaml."""

from __future__ import annotations

from pathlib import Path

import pytest

from eval_pilot import GOLDEN_YAML, MORE_JSONL, write_pilot
from pilotgate.errors import ConfigError
from pilotgate.evals import load_pack, load_packs
from pilotgate.spec import load_pilot


def _issues(exc: pytest.ExceptionInfo[ConfigError]) -> list[str]:
    return [str(issue) for issue in exc.value.issues]


def test_loads_yaml_and_jsonl_packs(tmp_path: Path) -> None:
    suite = load_packs(load_pilot(write_pilot(tmp_path)))
    assert [case.id for case in suite.cases] == ["returns-window", "no-orders-for-customers", "refund-big"]
    big = suite.case("refund-big")
    assert (big.runs(), big.needed()) == (3, 2)
    assert suite.case("returns-window").runs(suite.repeats) == 1
    assert suite.packs[0].sha256.startswith("sha256:") and suite.packs[0].description == "the happy path"
    assert [a.kind for a in suite.case("returns-window").assertions] == ["contains", "cites"]


def test_unknown_assertion_kind_names_line_field_and_suggests(tmp_path: Path) -> None:
    bad = GOLDEN_YAML.replace("{kind: contains, value: 30 days}", "{kind: contians, value: 30 days}")
    (tmp_path / "p.yaml").write_text(bad)
    with pytest.raises(ConfigError) as exc:
        load_pack(tmp_path / "p.yaml", "evals/p.yaml")
    (issue,) = _issues(exc)
    assert issue.startswith("evals/p.yaml:8:10: cases[0].assert[0].kind: expected one of contains,")
    assert 'got "contians"' in issue and 'did you mean "contains"?' in issue


def test_every_problem_reported_at_once_in_file_order(tmp_path: Path) -> None:
    bad = (
        GOLDEN_YAML.replace("category: golden", "category: goldn")
        .replace(
            "user: alice\n    category: restricted", "user: alice\n    category: restricted\n    colour: red"
        )
        .replace("{kind: cites, source: policy}", "{kind: regex, pattern: '('}")
    )
    (tmp_path / "p.yaml").write_text(bad)
    with pytest.raises(ConfigError) as exc:
        load_pack(tmp_path / "p.yaml", "p.yaml")
    issues = _issues(exc)
    assert issues[0].startswith("p.yaml:6:5: cases[0].category:") and 'did you mean "golden"' in issues[0]
    assert issues[1].startswith("p.yaml:9:23: cases[0].assert[1].pattern: not a valid regular expression")
    assert issues[2].startswith("p.yaml:14:5: cases[1].colour: unknown key")


def test_jsonl_errors_name_the_line(tmp_path: Path) -> None:
    (tmp_path / "p.jsonl").write_text(
        '{"id": "a", "input": "q", "user": "bob", "category": "golden", "assert": [{"kind": "contains", "value": "x"}]}\n'
        "\n"
        '{"id": "b", "input": "q", "user": "bob", "category": "golden", "assert": [{"kind": "contanis"}]}\n'
        "{not json\n"
        '{"id": "c", "input": "q", "user": "bob", "category": "golden", "assert": []}\n'
    )
    with pytest.raises(ConfigError) as exc:
        load_pack(tmp_path / "p.jsonl", "p.jsonl")
    issues = _issues(exc)
    assert issues[0].startswith("p.jsonl:3: assert[0].kind: expected one of") and '"contains"' in issues[0]
    assert issues[1].startswith("p.jsonl:4:2: not JSON")
    assert issues[2].startswith("p.jsonl:5: assert: expected at least 1 item")


def test_cross_checks_against_pilot_yaml(tmp_path: Path) -> None:
    golden = GOLDEN_YAML.replace(
        "user: alice\n    category: golden", "user: alise\n    category: golden"
    ).replace("{kind: cites, source: policy}", "{kind: cites, source: polcy}")
    path = write_pilot(tmp_path, golden=golden, more=MORE_JSONL.replace("refund-big", "returns-window"))
    with pytest.raises(ConfigError) as exc:
        load_packs(load_pilot(path))
    issues = _issues(exc)
    assert any(
        i.startswith("evals/golden.yaml:5:5: cases[0].user: unknown user 'alise'") and "alice" in i
        for i in issues
    )
    assert any("cases[0].assert[1].source: unknown source 'polcy'" in i and '"policy"' in i for i in issues)
    assert any(
        i.startswith("evals/more.jsonl:1: id: duplicate case id 'returns-window'")
        and "first declared at evals/golden.yaml:3" in i
        for i in issues
    )


def test_missing_pack_is_reported_at_its_pilot_yaml_line(tmp_path: Path) -> None:
    path = write_pilot(tmp_path)
    (tmp_path / "evals" / "more.jsonl").unlink()
    with pytest.raises(ConfigError) as exc:
        load_packs(load_pilot(path))
    (issue,) = exc.value.issues
    assert issue.field == "evals.packs[1]" and issue.line == 14 and "not found" in issue.message


def test_threshold_above_repeats_and_judge_without_model(tmp_path: Path) -> None:
    more = (
        '{"id": "x", "input": "q", "user": "bob", "category": "golden", "threshold": 3,'
        ' "assert": [{"kind": "judge", "rubric": "polite"}]}\n'
    )
    pilot = write_pilot(tmp_path, more=more).read_text().replace("  judge: reference\n", "")
    (tmp_path / "pilot.yaml").write_text(pilot)
    with pytest.raises(ConfigError) as exc:
        load_packs(load_pilot(tmp_path / "pilot.yaml"))
    text = str(exc.value)
    assert "evals/more.jsonl:1: threshold: threshold 3 is more than the 1 repeat(s)" in text
    assert "evals/more.jsonl:1: assert[0]: a judge assertion needs a judge model" in text
