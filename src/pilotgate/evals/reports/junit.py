"""JUnit XML: one ``<testsuite>`` per category, one ``<testcase>`` per case, so any CI lists the cases.

The shape CI viewers (GitHub, GitLab, Jenkins) read: ``testsuites`` > ``testsuite`` (name, tests,
failures, errors, skipped, time) > ``testcase`` (classname, name, time) with a ``failure`` or ``error``
child carrying each failed assertion's message; times in seconds. A case with no recorded result is
``skipped`` in the XML but counts as failed in the run, as the metrics say.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import defaultdict

from pilotgate.evals.metrics import case_verdicts
from pilotgate.evals.runs import CaseResult, StoredRun


def _seconds(results: list[CaseResult]) -> float:
    return sum(r.latency_ms for r in results) / 1000


def _case(suite: ET.Element, classname: str, cid: str, passed: bool, results: list[CaseResult]) -> str:
    """Add one testcase; returns its status (passed, failure, error, skipped)."""
    case = ET.SubElement(suite, "testcase", classname=classname, name=cid, time=f"{_seconds(results):.3f}")
    if not results:
        ET.SubElement(case, "skipped", message="no result recorded")
        return "skipped"
    if passed:
        return "passed"
    failed = [(r.repeat, a) for r in results for a in r.assertions if not a.passed]
    errored = bool(failed) and all(a.error for _, a in failed)
    lines = [f"repeat {repeat}: {a.kind}: {a.message}" for repeat, a in failed]
    passes = sum(1 for r in results if r.passed)
    message = f"{passes} of {len(results)} repeat(s) passed"
    element = ET.SubElement(case, "error" if errored else "failure", message=message, type="assertion")
    element.text = "\n".join(lines) or message
    out = ET.SubElement(case, "system-out")
    out.text = results[-1].answer
    return "error" if errored else "failure"


def junit_report(run: StoredRun) -> str:
    """The run as JUnit XML text."""
    verdicts = case_verdicts(run)
    by_case: dict[str, list[CaseResult]] = defaultdict(list)
    for result in run.results:
        by_case[result.case_id].append(result)
    by_category: dict[str, list[str]] = defaultdict(list)
    for cid, info in sorted(run.cases.items()):
        by_category[info.category].append(cid)
    root = ET.Element("testsuites", name=f"pilotgate {run.pilot} {run.id}")
    totals: dict[str, int] = defaultdict(int)
    total_time = 0.0
    for category, ids in sorted(by_category.items()):
        suite = ET.SubElement(root, "testsuite", name=f"{run.pilot}.{category}")
        counts: dict[str, int] = defaultdict(int)
        time = sum(_seconds(by_case[cid]) for cid in ids)
        for cid in ids:
            counts[_case(suite, f"{run.pilot}.{category}", cid, verdicts.get(cid, False), by_case[cid])] += 1
        _counts(suite, len(ids), counts, time)
        totals["tests"] += len(ids)
        for key, value in counts.items():
            totals[key] += value
        total_time += time
    _counts(root, totals["tests"], totals, total_time)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _counts(element: ET.Element, tests: int, counts: dict[str, int], time: float) -> None:
    element.set("tests", str(tests))
    element.set("failures", str(counts.get("failure", 0)))
    element.set("errors", str(counts.get("error", 0)))
    element.set("skipped", str(counts.get("skipped", 0)))
    element.set("time", f"{time:.3f}")
