"""The example CI workflow uses real commands and flags: each `pilotgate` command it runs exists (its
`--help` works in-process) and takes every option the workflow passes, so the example cannot rot."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import typer
from ruamel.yaml import YAML

from cli_runner import fresh_app, invoke

WORKFLOW = Path(__file__).parent.parent / "examples" / "github-actions" / "pilotgate.yml"
_EXPRESSION = re.compile(r"\$\{\{.*?\}\}")
_OPERATORS = {"|", "||", "&&", ";", "(", ")", "$(", ">", ">>", "<"}


def _workflow() -> dict:
    return YAML(typ="safe", pure=True).load(WORKFLOW.read_text(encoding="utf-8"))


def pilotgate_commands(script: str) -> list[list[str]]:
    """The argument lists of every `pilotgate` invocation in a shell script (GitHub expressions as X)."""
    found = []
    for line in script.splitlines():
        lexer = shlex.shlex(_EXPRESSION.sub("X", line), posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        tokens = list(lexer)
        for index, token in enumerate(tokens):
            if token == "pilotgate" and (index == 0 or tokens[index - 1] in _OPERATORS):
                args = []
                for arg in tokens[index + 1 :]:
                    if arg in _OPERATORS:
                        break
                    args.append(arg)
                found.append(args)
    return found


def _resolve(root: Any, args: list[str]) -> tuple[list[str], Any, list[str]]:
    """(the command path, the command object, the rest of the arguments). Typer ships its own copy of
    click, so groups are told by their ``commands`` mapping rather than by class."""
    path: list[str] = []
    command = root
    rest = list(args)
    while hasattr(command, "commands") and rest and rest[0] in command.commands:
        path.append(rest[0])
        command = command.commands[rest.pop(0)]
    return path, command, rest


def test_the_workflow_runs_on_pull_requests_and_keeps_its_evidence() -> None:
    workflow = _workflow()
    assert "pull_request" in workflow["on"]
    steps = [step for job in workflow["jobs"].values() for step in job["steps"]]
    uses = [step.get("uses", "") for step in steps]
    assert any(u.startswith("actions/upload-artifact@") for u in uses)
    scripts = "\n".join(step.get("run", "") for step in steps)
    assert "tail -n 1 release.txt" in scripts  # the release id is the last line of `release create`
    assert "gh pr comment" in scripts and "--body-file pilotgate-summary.md" in scripts
    paths = [
        " ".join(_resolve(typer.main.get_command(fresh_app()), args)[0])
        for args in pilotgate_commands(scripts)
    ]
    assert paths == ["check", "sources ingest", "release create", "eval run", "gate", "eval report"]


def problems(app: typer.Typer, args: list[str]) -> list[str]:
    """What is wrong with one `pilotgate ARGS` invocation: not a command, no --help, unknown options."""
    path, command, rest = _resolve(typer.main.get_command(app), args)
    if not path or hasattr(command, "commands"):
        return [f"not a pilotgate command: {' '.join(args)}"]
    helped = invoke(app, *path, "--help")
    if helped.exit_code != 0:
        return [f"`pilotgate {' '.join(path)} --help` exited {helped.exit_code}"]
    options = {opt for param in command.params for opt in (*param.opts, *param.secondary_opts)}
    return [
        f"`pilotgate {' '.join(path)}` has no option {arg}"
        for arg in rest
        if arg.startswith("-") and arg.split("=", 1)[0] not in options
    ]


def test_every_command_and_flag_the_workflow_uses_exists() -> None:
    app = fresh_app()
    scripts = [step.get("run", "") for job in _workflow()["jobs"].values() for step in job["steps"]]
    commands = [args for script in scripts for args in pilotgate_commands(script)]
    assert len(commands) >= 6
    assert [problem for args in commands for problem in problems(app, args)] == []


def test_a_renamed_command_or_option_is_caught() -> None:
    app = fresh_app()
    assert problems(app, ["eval", "run", "--release", "X", "--junit", "x.xml"]) == [
        "`pilotgate eval run` has no option --junit"
    ]
    assert problems(app, ["eval", "execute"]) == ["not a pilotgate command: eval execute"]
    assert problems(app, ["eval"]) == ["not a pilotgate command: eval"]


def test_the_command_finder_reads_pipes_and_expressions() -> None:
    script = (
        'pilotgate release create --by "${{ github.actor }}" | tee r.txt\necho x && pilotgate gate -r "$R"'
    )
    assert pilotgate_commands(script) == [["release", "create", "--by", "X"], ["gate", "-r", "$R"]]
