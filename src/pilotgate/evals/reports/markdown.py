"""Markdown fit for a pull-request comment: a headline, a table per category, the failing cases, and a
comparison section when given one. Cell text is escaped so an answer cannot break the table."""

from __future__ import annotations

from pilotgate.evals.compare import Comparison
from pilotgate.evals.metrics import Metrics, run_metrics
from pilotgate.evals.runs import StoredRun

MAX_FAILURES = 50


def _cell(text: object) -> str:
    return str(text).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"


def _ms(value: float | None) -> str:
    return "–" if value is None else f"{value:.0f} ms"


def _row(name: str, m: Metrics) -> str:
    cost = "–" if m.cost_per_case is None else str(m.cost_per_case)
    cells = [name, f"{m.passed}/{m.cases}", _pct(m.pass_rate), _ms(m.latency_p50), _ms(m.latency_p95), cost]
    return "| " + " | ".join(_cell(c) for c in cells) + " |"


def markdown_report(run: StoredRun) -> str:
    """The run as a Markdown summary."""
    metrics = run_metrics(run)
    overall = metrics.overall
    icon = "✅" if overall.cases and overall.passed == overall.cases else "❌"
    lines = [
        f"### {icon} Evals for `{run.pilot}`: {overall.passed}/{overall.cases} cases pass "
        f"({_pct(overall.pass_rate)})",
        "",
        f"Run `{run.id}`, release `{run.release or '–'}`, {run.state}"
        + (f", receipt `{run.receipt}`" if run.receipt else ""),
        "",
        "| category | passed | pass rate | p50 | p95 | cost / case |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    lines += [_row(name, m) for name, m in sorted(metrics.categories.items())]
    lines.append(_row("**all**", overall))
    failing = list(overall.failing_cases)
    if failing:
        lines += ["", f"<details><summary>{len(failing)} failing case(s)</summary>", ""]
        messages = _failure_messages(run)
        for cid in failing[:MAX_FAILURES]:
            lines.append(
                f"- `{_cell(cid)}` ({run.cases[cid].category}): {_cell(messages.get(cid, 'no result'))}"
            )
        if len(failing) > MAX_FAILURES:
            lines.append(f"- … and {len(failing) - MAX_FAILURES} more")
        lines += ["", "</details>"]
    if metrics.judge_labelled:
        lines += [
            "",
            f"Judge agreement with human labels: {_pct(metrics.judge_accuracy)} "
            f"(kappa {metrics.judge_kappa if metrics.judge_kappa is not None else '–'}, "
            f"{metrics.judge_labelled} labelled)",
        ]
    return "\n".join(lines) + "\n"


def _failure_messages(run: StoredRun) -> dict[str, str]:
    out: dict[str, str] = {}
    for result in run.results:
        for item in result.assertions:
            if not item.passed and result.case_id not in out:
                out[result.case_id] = f"{item.kind}: {item.message}"
    return out


def comparison_markdown(result: Comparison) -> str:
    """A comparison of two runs as Markdown: counts, significance, then each changed or flaky case."""
    verdict = "likely a real change" if result.p_value < 0.05 else "within noise"
    lines = [
        f"### `{result.run_b}` against `{result.run_a}`",
        "",
        f"{result.better} better, {result.worse} worse, {result.unchanged} unchanged; "
        f"McNemar exact p = {result.p_value:.3g} ({verdict})",
        "",
        "| case | before | after | change | flaky | pass^k |",
        "|---|---|---|---|---|---:|",
    ]
    for case in result.cases:
        flaky = case.flaky_before or case.flaky_after
        if case.change == "unchanged" and not flaky:
            continue
        cells = [
            f"`{_cell(case.case_id)}`",
            _verdict(case.before),
            _verdict(case.after),
            case.change,
            "yes" if flaky else "",
            f"{case.pass_hat_k_after:.2f}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _verdict(value: bool | None) -> str:
    return "–" if value is None else ("pass" if value else "fail")
