"""A pytest plugin: run a pilot's eval packs as tests in a team's own suite, one test item per case.

Enable it where you want it: ``pytest -p pilotgate.evals.pytest_plugin``, the same ``-p`` in the ini
file's ``addopts``, or ``pytest_plugins = ["pilotgate.evals.pytest_plugin"]`` in a conftest.py. It is
deliberately not a ``pytest11`` entry point: pytest imports every such plugin in every session and marks
the whole distribution for assertion rewriting, so installing pilotgate would import all of it (seconds)
and rewrite its modules in every suite on the machine, asked or not.

Once enabled it still does nothing until a pilot is named, with ``--pilotgate-pilot PATH`` or the
``pilotgate_pilot`` ini option. Then every case of the pilot's packs (or of ``--pilotgate-pack`` files)
becomes an item ``pilot.yaml::<case id>``; a case with repeats and a threshold is one item that passes
when enough repeats pass. ``-k`` selects cases as usual, by id, category or tag (each item carries its
category and tags as keywords).

The cases are run once, together, by the eval runner (``pilotgate.evals.runner.run_evals``: the real
runtime, tools in a dry run, concurrency) when the first selected item runs, as one stored eval run over
exactly the selected cases; each item then reports its own case. The run goes to ``--pilotgate-db`` (a
throwaway SQLite file by default, so a test run never writes into the pilot's own store) and is evidence
for ``--pilotgate-release`` when given. The module itself imports only pytest: the packs, the runtime and
the store load when a pilot is named.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from pilotgate.evals.runs import CaseResult, StoredRun

_KEY = pytest.StashKey["_Session"]()


def pytest_addoption(parser: pytest.Parser) -> None:
    """The plugin's options; none of them does anything until a pilot is named."""
    group = parser.getgroup("pilotgate", "pilotgate eval packs as tests")
    group.addoption(
        "--pilotgate-pilot",
        dest="pilotgate_pilot",
        metavar="PATH",
        help="Run this pilot's eval cases as tests (pilot.yaml or its folder).",
    )
    group.addoption(
        "--pilotgate-pack",
        dest="pilotgate_pack",
        action="append",
        metavar="PATH",
        help="Run this pack instead of the pilot's evals.packs (repeatable).",
    )
    group.addoption("--pilotgate-db", dest="pilotgate_db", metavar="URL", help="Store the run here.")
    group.addoption("--pilotgate-release", dest="pilotgate_release", metavar="R", help="The run is for R.")
    group.addoption(
        "--pilotgate-concurrency", dest="pilotgate_concurrency", type=int, metavar="N", help="Tasks at once."
    )
    parser.addini("pilotgate_pilot", "Run this pilot's eval cases as tests (path relative to the rootdir).")
    parser.addini("pilotgate_db", "Where eval runs are stored (default: a throwaway SQLite file).")


def _setting(config: pytest.Config, name: str) -> str | None:
    value = config.getoption(name)
    if value:
        return str(value)
    ini = config.getini(name) if name in ("pilotgate_pilot", "pilotgate_db") else None
    if not ini:
        return None
    if name == "pilotgate_pilot":
        return str(config.rootpath / str(ini))
    return str(ini)


class _Session:
    """The plugin's state for one pytest session: the pilot, its cases, and the one run, once made."""

    def __init__(self, config: pytest.Config, pilot: str) -> None:
        from pilotgate.evals.packs import EvalSuite, load_pack, load_packs
        from pilotgate.workspace import load_workspace_config

        self.loaded = load_workspace_config(Path(pilot))
        packs = config.getoption("pilotgate_pack")
        if packs:
            self.suite = EvalSuite(
                packs=tuple(load_pack(Path(p)) for p in packs), repeats=self.loaded.spec.evals.repeats
            )
        else:
            self.suite = load_packs(self.loaded)
        self.release: str | None = config.getoption("pilotgate_release")
        self.concurrency: int = config.getoption("pilotgate_concurrency") or 8
        self.db = _setting(config, "pilotgate_db")
        self._tmp: str | None = None
        self.run: StoredRun | None = None
        self.error: BaseException | None = None

    def url(self) -> str:
        if self.db:
            return self.db
        self._tmp = tempfile.mkdtemp(prefix="pilotgate-evals-")
        return f"sqlite:///{Path(self._tmp) / 'evals.db'}"

    def run_once(self, selected: list[str]) -> StoredRun:
        """Run the selected cases (the first time an item asks); re-raise the same error to every item."""
        if self.run is None and self.error is None:
            from pilotgate.evals.runner import run_evals
            from pilotgate.workspace import open_workspace

            try:
                workspace = open_workspace(self.loaded.path, self.url())
                try:
                    self.run = run_evals(
                        workspace,
                        self.suite,
                        release=self.release,
                        concurrency=self.concurrency,
                        only=selected,
                    )
                finally:
                    workspace.close()
            except BaseException as exc:
                self.error = exc
        if self.error is not None:
            raise self.error
        assert self.run is not None
        return self.run

    def close(self) -> None:
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)


class EvalCaseFailed(Exception):
    """A case's runs did not pass often enough; carries the failing results for the report."""

    def __init__(self, case_id: str, passed: int, needed: int, results: list[CaseResult]) -> None:
        super().__init__(f"{case_id}: {passed} of {len(results)} run(s) passed, {needed} needed")
        self.case_id = case_id
        self.passed = passed
        self.needed = needed
        self.results = results


class PilotFile(pytest.File):
    """pilot.yaml as a collector: one item per eval case of its packs."""

    def collect(self) -> Iterator[pytest.Item]:
        state = self.config.stash[_KEY]
        for case in state.suite.cases:
            yield EvalCaseItem.from_parent(self, name=case.id, case=case)


class EvalCaseItem(pytest.Item):
    """One eval case (all its repeats) as a test."""

    def __init__(self, *, case: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.case = case
        self.extra_keyword_matches.update((case.category, *case.tags))

    def runtest(self) -> None:
        """Run the selected cases (once per session), then judge this case's repeats."""
        state = self.config.stash[_KEY]
        selected = [item.name for item in self.session.items if isinstance(item, EvalCaseItem)]
        run = state.run_once(selected)
        results = sorted((r for r in run.results if r.case_id == self.case.id), key=lambda r: r.repeat)
        info = run.cases[self.case.id]
        passed = sum(1 for r in results if r.passed)
        self.user_properties.append(("pilotgate_run", run.id))
        self.user_properties.append(("category", self.case.category))
        if not results or passed < info.needed:
            raise EvalCaseFailed(self.case.id, passed, info.needed, results)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        """The failing assertions of each failing repeat, with the task and answer, not a traceback."""
        exc = excinfo.value
        if not isinstance(exc, EvalCaseFailed):
            from pilotgate.errors import PilotgateError

            if isinstance(exc, PilotgateError):
                return f"pilotgate: {exc.message}" + (f"\nhint: {exc.hint}" if exc.hint else "")
            return str(super().repr_failure(excinfo))
        if not exc.results:
            return f"{exc.case_id}: no result was recorded for this case"
        lines = [
            f"{exc.case_id} ({self.case.category}): {exc.passed} of {len(exc.results)} run(s) passed, "
            f"{exc.needed} needed"
        ]
        for result in exc.results:
            if result.passed:
                continue
            lines.append(f"  run {result.repeat + 1}: task {result.task or '-'} ended {result.outcome}")
            lines += [f"    {a.kind}: {a.message}" for a in result.assertions if not a.passed]
            answer = " ".join(result.answer.split())
            lines.append(f"    answer: {answer[:300]}{'…' if len(answer) > 300 else ''}")
        return "\n".join(lines)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        """Where the case is, for pytest's report header."""
        return self.path, None, f"eval case {self.case.id} ({self.case.category})"


def pytest_configure(config: pytest.Config) -> None:
    """Load the pilot and its packs when one is named (a bad pack stops the session with its message)."""
    pilot = _setting(config, "pilotgate_pilot")
    if not pilot:
        return
    from pilotgate.errors import PilotgateError

    try:
        config.stash[_KEY] = _Session(config, pilot)
    except PilotgateError as exc:
        raise pytest.UsageError(f"pilotgate: {exc}" + (f"\nhint: {exc.hint}" if exc.hint else "")) from None


def pytest_unconfigure(config: pytest.Config) -> None:
    """Remove the throwaway store."""
    state = config.stash.get(_KEY, None)
    if state is not None:
        state.close()


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    """Add the pilot's cases (before -k and -m deselect, so they select cases too)."""
    state = config.stash.get(_KEY, None)
    if state is None:
        return
    collector = PilotFile.from_parent(session, path=state.loaded.path)
    cases = list(collector.collect())
    items.extend(cases)
    # report them as collected, as pytest does for a file it collected itself (the header counts them)
    session.ihook.pytest_collectreport(report=pytest.CollectReport(collector.nodeid, "passed", None, cases))


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    """Name the stored run, so it can be reported, compared or gated."""
    state = config.stash.get(_KEY, None)
    if state is None or state.run is None:
        return
    where = f" --db {state.db}" if state.db else " (in a throwaway store: pass --pilotgate-db to keep it)"
    terminalreporter.write_line(
        f"pilotgate: eval run {state.run.id} of {state.loaded.spec.pilot.name}"
        f"{' for release ' + state.release if state.release else ''}{where}"
    )
