"""`pilotgate check` validates the eval packs pilot.yaml names, as `eval run` would, before anything runs."""

from __future__ import annotations

from pathlib import Path

from cli_runner import fresh_app, invoke
from pilotgate.demo import scaffold_pilot
from pilotgate.errors import ConfigError


def test_check_counts_the_demo_packs_cases(tmp_path: Path) -> None:
    root = scaffold_pilot(tmp_path / "desk")  # the path of pilot.yaml
    result = invoke(fresh_app(), "check", str(root))
    assert result.exit_code == 0, result.output
    assert "30 eval cases" in result.output


def test_check_names_a_broken_pack_at_its_line(tmp_path: Path) -> None:
    root = scaffold_pilot(tmp_path / "desk")  # the path of pilot.yaml
    (root.parent / "evals" / "golden.yaml").write_text(
        "cases:\n  - id: x\n    input: hi\n    user: alice\n    category: golden\n"
        "    assert: [{kind: contans, value: a}]\n",
        encoding="utf-8",
    )
    result = invoke(fresh_app(), "check", str(root))
    assert isinstance(result.exception, ConfigError), result.output
    message = str(result.exception)
    assert "golden.yaml:6" in message and "contains" in message  # the line, and the did-you-mean
