"""The gate's verdict on a release: evidence from the store, every rule evaluated, one ``gate.verdict``
receipt.

The receipt lists each rule, its result, its detail and the run, case and receipt ids it rests on; its
``refs`` are the hashes of every evidence receipt (the ``release.created`` and ``eval.run`` receipts, the
production promotion and its run). Blocked or passing, the verdict is recorded: a refusal is evidence too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pilotgate.clock import Clock, utc_now
from pilotgate.errors import GateBlocked
from pilotgate.gate.evidence import gather
from pilotgate.gate.rules import RuleResult, evaluate_rules
from pilotgate.receipts import list_receipts

SYSTEM = {"kind": "system", "id": "pilotgate-gate"}


@dataclass(frozen=True)
class Verdict:
    """The gate's decision on one release, as its receipt records it."""

    release: str
    passed: bool
    rules: tuple[RuleResult, ...]
    run: str | None
    receipt: str
    """Hash of the ``gate.verdict`` receipt."""
    seq: int
    refs: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    """Parts of the release that changed on disk since it was created."""
    budgets: dict[str, str] | None = None

    @property
    def failures(self) -> list[RuleResult]:
        """The rules that failed, in order."""
        return [rule for rule in self.rules if not rule.passed]

    def raise_if_blocked(self) -> None:
        """Raise ``GateBlocked`` (exit 1) naming each failing rule, unless the release passed."""
        if self.passed:
            return
        failed = self.failures
        raise GateBlocked(
            f"release {self.release} is blocked: {len(failed)} of {len(self.rules)} rule(s) failed",
            failures=list(failed),
            hint="fix what the failing rules name, record a new eval run, and run the gate again",
        )

    def body(self) -> dict[str, Any]:
        """The ``gate.verdict`` receipt's body."""
        return verdict_body(self.release, self.passed, self.rules, self.run, self.changed, self.budgets)


def rule_json(result: RuleResult) -> dict[str, Any]:
    """One rule as the receipt and ``--json`` show it."""
    return {
        "rule": result.rule,
        "passed": result.passed,
        "detail": result.detail,
        "evidence": list(result.evidence),
    }


def verdict_body(
    release: str,
    passed: bool,
    rules: tuple[RuleResult, ...],
    run: str | None,
    changed: tuple[str, ...],
    budgets: dict[str, str] | None,
) -> dict[str, Any]:
    """The receipt body: result, run, each rule, changed parts and budgets (decimal strings)."""
    return {
        "release": release,
        "result": "pass" if passed else "blocked",
        "run": run,
        "rules": [rule_json(rule) for rule in rules],
        "changed": list(changed),
        "budgets": dict(budgets or {}),
    }


def gate(
    workspace: Any,
    release_id: str,
    *,
    run: str | None = None,
    by: str | None = None,
    clock: Clock = utc_now,
) -> Verdict:
    """Decide *release_id* from the evidence in the store and record the verdict as a receipt.

    Fail-closed: a missing piece of evidence fails every rule that reads it. Returns the verdict whether
    it passed or not; ``Verdict.raise_if_blocked`` turns a refusal into ``GateBlocked``.
    """
    gathered = gather(workspace, release_id, run_id=run)
    rules = workspace.spec.gate
    results = tuple(
        evaluate_rules(list(rules.require), gathered.evidence, safety=tuple(rules.safety_categories))
    )
    passed = bool(results) and all(result.passed for result in results)
    refs = tuple(gathered.receipt_refs())
    changed = tuple(gathered.changed)
    body = verdict_body(release_id, passed, results, gathered.run, changed, gathered.budgets)
    log = workspace.receipt_log(signed=workspace.signing_key_path.is_file(), clock=clock)
    with log.transaction(workspace.store) as conn:
        appended = log.append(
            conn,
            kind="gate.verdict",
            body=body,
            actor={"kind": "user", "id": by} if by else SYSTEM,
            release=release_id,
            refs=refs,
        )
    return Verdict(
        release=release_id,
        passed=passed,
        rules=results,
        run=gathered.run,
        receipt=appended.hash,
        seq=appended.seq,
        refs=refs,
        changed=changed,
        budgets=gathered.budgets,
    )


def latest_verdict(workspace: Any, release_id: str) -> dict[str, Any] | None:
    """The newest ``gate.verdict`` receipt body of *release_id* plus its ``hash`` and ``seq``, or None."""
    with workspace.store.read() as conn:
        found = list_receipts(conn, workspace.name, kind="gate.verdict", limit=10_000)
    for receipt in found:
        if receipt.body.get("release") == release_id:
            return {**receipt.body, "hash": receipt.hash, "seq": receipt.seq}
    return None
