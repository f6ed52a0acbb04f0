"""Load the eval packs pilot.yaml names: YAML files (with ``cases:``) or JSONL files (one case a line).

Problems are reported the way pilot.yaml's are, every one at once: ``evals/golden.yaml:14:7:
cases[2].assert[0].kind: expected one of contains, ...; got "contians" (did you mean "contains"?)``. A
JSONL problem names its line. The YAML machinery is the spec package's (positions kept by ruamel.yaml,
pydantic locations walked back to nodes), not a second one.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from ruamel.yaml.comments import CommentedMap

from pilotgate.errors import ConfigError, ConfigIssue
from pilotgate.evals.cases import (
    Cites,
    EvalCase,
    EvalPackFile,
    JudgeAssertion,
    NoRestrictedLeak,
    ToolCalled,
    ToolNotCalled,
)
from pilotgate.spec import LoadedPilot, PilotSpec
from pilotgate.spec.checks import format_loc, suggest
from pilotgate.spec.issues import in_file_order, validation_issues
from pilotgate.spec.locate import locate
from pilotgate.spec.types import describe
from pilotgate.spec.yamldoc import parse_yaml, to_plain

PACK_SUFFIXES = (".yaml", ".yml", ".jsonl")


@dataclass(frozen=True)
class CasePlace:
    """Where a case was declared, to report later problems (a duplicate id, an unknown user) there."""

    file: str
    line: int | None
    column: int | None
    field: str
    """``cases[3]`` in a YAML pack; empty in a JSONL pack (the line says it)."""
    document: Any = field(default=None, repr=False, compare=False)
    path: tuple[str | int, ...] = ()

    def issue(self, sub: tuple[str | int, ...], message: str, hint: str | None = None) -> ConfigIssue:
        """An issue at *sub* below the case (e.g. ``("user",)``)."""
        line, column = self.line, self.column
        if self.document is not None:
            place = locate(self.document, (*self.path, *sub))
            line, column = place.line, place.column
        name = format_loc((*self.path, *sub)) if self.path else format_loc(sub)
        return ConfigIssue(self.file, line, column, name, message, hint)


@dataclass(frozen=True)
class EvalPack:
    """One pack file: its cases in order, where each was declared, and the file's content hash."""

    path: Path
    name: str
    """The path as pilot.yaml names it (used in messages and reports)."""
    sha256: str
    """``sha256:<hex>`` of the file's bytes: part of a release's content hash."""
    cases: tuple[EvalCase, ...]
    places: tuple[CasePlace, ...]
    description: str | None = None


@dataclass(frozen=True)
class EvalSuite:
    """Every case of a pilot's packs, checked against pilot.yaml."""

    packs: tuple[EvalPack, ...]
    repeats: int = 1
    """pilot.yaml's ``evals.repeats``: the default for cases that do not set their own."""

    @property
    def cases(self) -> tuple[EvalCase, ...]:
        """All cases, pack by pack, in file order."""
        return tuple(case for pack in self.packs for case in pack.cases)

    def case(self, case_id: str) -> EvalCase:
        """The case with this id; KeyError when there is none."""
        for case in self.cases:
            if case.id == case_id:
                return case
        raise KeyError(case_id)


def load_pack(path: str | Path, name: str | None = None) -> EvalPack:
    """Read and validate one pack file; raise ConfigError listing every problem at its line."""
    path = Path(path)
    label = name or str(path)
    data = _read(path, label)
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ConfigError(
            [ConfigIssue(label, line, None, "", "is not UTF-8 text", "save it as UTF-8")]
        ) from None
    if path.suffix.lower() == ".jsonl":
        cases, places = _load_jsonl(text, label)
        description = None
    else:
        cases, places, description = _load_yaml(text, label)
    issues = _duplicate_ids(cases, places)
    if issues:
        raise ConfigError(in_file_order(issues))
    return EvalPack(path=path, name=label, sha256=digest, cases=cases, places=places, description=description)


def _read(path: Path, label: str) -> bytes:
    def fail(message: str, hint: str | None = None) -> ConfigError:
        return ConfigError([ConfigIssue(label, None, None, "", message, hint)])

    if path.suffix.lower() not in PACK_SUFFIXES:
        raise fail(f"an eval pack must be .yaml, .yml or .jsonl; got {path.suffix or 'no suffix'!r}")
    try:
        return path.expanduser().read_bytes()
    except FileNotFoundError:
        raise fail("eval pack not found", "fix the path under evals.packs (relative to pilot.yaml)") from None
    except IsADirectoryError:
        raise fail("is a folder, not an eval pack file") from None
    except OSError as exc:
        raise fail(f"cannot be read: {exc.strerror or exc}") from None


def _load_yaml(text: str, label: str) -> tuple[tuple[EvalCase, ...], tuple[CasePlace, ...], str | None]:
    document = parse_yaml(text, label)
    if document is None:
        raise ConfigError([ConfigIssue(label, None, None, "", "file is empty", "a pack needs `cases:`")])
    if not isinstance(document, CommentedMap):
        found = describe(to_plain(document))
        raise ConfigError(
            [
                ConfigIssue(
                    label,
                    1,
                    1,
                    "",
                    f"expected a mapping with `cases:` at the top level; got {found}",
                    "write `cases:` and indent the list under it",
                )
            ]
        )
    tagged: list[tuple[Any, Any]] = []
    plain = to_plain(document, tagged)
    if tagged:
        raise ConfigError(
            [
                ConfigIssue(
                    label, None, None, "", "YAML tags are not supported in eval packs", "write plain values"
                )
            ]
        )
    try:
        pack = EvalPackFile.model_validate(plain)
    except ValidationError as exc:
        raise ConfigError(validation_issues(EvalPackFile, exc, document, label)) from None
    places = []
    for index in range(len(pack.cases)):
        place = locate(document, ("cases", index))
        places.append(
            CasePlace(label, place.line, place.column, f"cases[{index}]", document, ("cases", index))
        )
    return tuple(pack.cases), tuple(places), pack.description


def _load_jsonl(text: str, label: str) -> tuple[tuple[EvalCase, ...], tuple[CasePlace, ...]]:
    cases: list[EvalCase] = []
    places: list[CasePlace] = []
    issues: list[ConfigIssue] = []
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError as exc:
            issues.append(ConfigIssue(label, number, exc.colno, "", f"not JSON: {exc.msg}"))
            continue
        if not isinstance(data, dict):
            issues.append(
                ConfigIssue(label, number, 1, "", f"expected a JSON object (one case); got {describe(data)}")
            )
            continue
        try:
            cases.append(EvalCase.model_validate(data))
        except ValidationError as exc:
            for issue in validation_issues(EvalCase, exc, None, label):
                issues.append(ConfigIssue(label, number, None, issue.field, issue.message, issue.hint))
            continue
        places.append(CasePlace(label, number, None, ""))
    if issues:
        raise ConfigError(issues)
    if not cases:
        raise ConfigError([ConfigIssue(label, None, None, "", "no cases", "write one JSON object per line")])
    return tuple(cases), tuple(places)


def _duplicate_ids(cases: Sequence[EvalCase], places: Sequence[CasePlace]) -> list[ConfigIssue]:
    seen: dict[str, CasePlace] = {}
    issues = []
    for case, place in zip(cases, places, strict=True):
        first = seen.get(case.id)
        if first is not None:
            where = f"{first.file}:{first.line}" if first.line else first.file
            issues.append(
                place.issue(("id",), f"duplicate case id {case.id!r}", f"first declared at {where}")
            )
        else:
            seen[case.id] = place
    return issues


def load_packs(pilot: LoadedPilot) -> EvalSuite:
    """Load every pack pilot.yaml names, then check each case against pilot.yaml (users, sources, tools,
    the judge); raise ConfigError with every problem of every pack."""
    packs: list[EvalPack] = []
    issues: list[ConfigIssue] = []
    for index, name in enumerate(pilot.spec.evals.packs):
        path = pilot.resolve(name)
        try:
            packs.append(load_pack(path, name))
        except ConfigError as exc:
            if len(exc.issues) == 1 and exc.issues[0].line is None and "not found" in exc.issues[0].message:
                issues.append(
                    pilot.issue(("evals", "packs", index), f"eval pack {name} not found", exc.issues[0].hint)
                )
            else:
                issues.extend(exc.issues)
    if issues:
        raise ConfigError(issues)
    suite = EvalSuite(packs=tuple(packs), repeats=pilot.spec.evals.repeats)
    problems = suite_issues(suite, pilot.spec)
    if problems:
        raise ConfigError(problems)
    return suite


def suite_issues(suite: EvalSuite, spec: PilotSpec) -> list[ConfigIssue]:
    """What the packs get wrong against pilot.yaml: duplicate ids across packs, unknown users, sources and
    tools, judged cases without a judge, thresholds above the repeats."""
    users = [user.name for user in spec.users]
    sources = [source.name for source in spec.sources]
    tools = [tool.name for tool in spec.tools]
    issues: list[ConfigIssue] = []
    pairs = [
        (case, place) for pack in suite.packs for case, place in zip(pack.cases, pack.places, strict=True)
    ]
    issues += _duplicate_ids([c for c, _ in pairs], [p for _, p in pairs])
    for case, place in pairs:
        if case.user not in users:
            issues.append(
                place.issue(("user",), f"unknown user {case.user!r}", _hint(case.user, users, "users"))
            )
        if case.threshold is not None and case.threshold > case.runs(suite.repeats):
            issues.append(
                place.issue(
                    ("threshold",),
                    f"threshold {case.threshold} is more than the {case.runs(suite.repeats)} repeat(s)",
                    "set repeats on the case, or raise evals.repeats",
                )
            )
        for index, item in enumerate(case.assertions):
            at = ("assert", index)
            if isinstance(item, Cites) and item.source is not None and item.source not in sources:
                issues.append(
                    place.issue(
                        (*at, "source"),
                        f"unknown source {item.source!r}",
                        _hint(item.source, sources, "sources"),
                    )
                )
            if isinstance(item, NoRestrictedLeak):
                for name in item.sources:
                    if name not in sources:
                        issues.append(
                            place.issue(
                                (*at, "sources"), f"unknown source {name!r}", _hint(name, sources, "sources")
                            )
                        )
            if isinstance(item, ToolCalled | ToolNotCalled) and item.tool not in tools:
                issues.append(
                    place.issue(
                        (*at, "tool"), f"unknown tool {item.tool!r}", _hint(item.tool, tools, "tools")
                    )
                )
            if isinstance(item, JudgeAssertion) and spec.evals.judge is None:
                issues.append(
                    place.issue(
                        at,
                        "a judge assertion needs a judge model",
                        "set evals.judge in pilot.yaml to a declared model",
                    )
                )
    files = {pack.name: index for index, pack in enumerate(suite.packs)}
    return sorted(in_file_order(issues), key=lambda issue: files.get(issue.file, len(files)))


def _hint(word: str, declared: Iterable[str], kind: str) -> str:
    names = list(declared)
    return suggest(word, names) or (
        f"declared {kind}: {', '.join(names)}" if names else f"no {kind} are declared"
    )
