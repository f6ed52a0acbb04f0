"""The release commands in-process: create, gate, promote, canary, status, rollback --drill, rollback, bundle
and verify-bundle, with each refusal's exit code; and bundles tampered with in several places, rejected
with the first thing that does not match named."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from deploy_helpers import DEPLOY_YAML, pack_line
from gate_helpers import record_run, write_pilot

from cli_runner import fresh_app, invoke
from pilotgate.errors import CheckFailed, GateBlocked, UsageError, VerificationError
from pilotgate.gate.bundle import verify_bundle
from pilotgate.receipts import generate_signing_key, signer_for
from pilotgate.workspace import open_workspace


@pytest.fixture
def pilot(tmp_path: Path, store_url: str) -> Iterator[list[str]]:
    path = write_pilot(tmp_path, pilot=DEPLOY_YAML)
    ws = open_workspace(path, store_url)
    generate_signing_key(ws.signing_key_path)
    ws.close()
    yield ["--pilot", str(path), "--db", store_url]


def _release(app: Any, where: list[str], variant: str, *, failing: tuple[str, ...] = ()) -> str:
    (Path(where[1]).parent / "evals" / "more.jsonl").write_text(pack_line(variant))
    created = invoke(app, "release", "create", "--by", "maria", *where)
    assert created.exit_code == 0, created.output
    release = created.output.strip().splitlines()[-1]
    ws = open_workspace(where[1], where[3])
    try:
        record_run(ws, release, failing=failing)
    finally:
        ws.close()
    return release


def test_the_worked_example_end_to_end(pilot: list[str], tmp_path: Path) -> None:
    app = fresh_app()
    first = _release(app, pilot, "100")
    refused = invoke(app, "release", "promote", first, "--to", "production", *pilot)
    assert isinstance(refused.exception, GateBlocked) and refused.exception.exit_code == 1
    assert "has no gate verdict" in str(refused.exception)
    assert invoke(app, "gate", "--release", first, *pilot).exit_code == 0
    promoted = invoke(app, "release", "promote", first, "--to", "production", "--by", "maria", *pilot)
    assert promoted.exit_code == 0, promoted.output
    assert f"production  {first}  100% of tasks" in promoted.output

    blocked = _release(app, pilot, "200", failing=("restricted-1",))
    assert invoke(app, "gate", "--release", blocked, *pilot).exit_code == 1
    refused = invoke(app, "release", "canary", blocked, "--share", "10", *pilot)
    assert isinstance(refused.exception, GateBlocked) and "is blocked by 1 rule" in str(refused.exception)

    second = _release(app, pilot, "300")
    assert invoke(app, "gate", "--release", second, *pilot).exit_code == 0
    canary = invoke(app, "release", "canary", second, "--share", "12.5", *pilot)
    assert canary.exit_code == 0, canary.output
    assert f"canary      {second}  12.5% of tasks" in canary.output and "87.5% of tasks" in canary.output
    bad_share = invoke(app, "release", "canary", second, "--share", "101", *pilot)
    assert isinstance(bad_share.exception, UsageError) and bad_share.exception.exit_code == 2
    listed = invoke(app, "release", "list", *pilot)
    assert "production 87.5%" in listed.output and "canary 12.5%" in listed.output
    assert invoke(app, "release", "canary", "--stop", *pilot).exit_code == 0
    assert invoke(app, "release", "promote", second, "--to", "production", *pilot).exit_code == 0
    status = invoke(app, "release", "status", *pilot)
    assert f"production  {second}" in status.output and f"rollback to {first}" in status.output

    drill = invoke(app, "release", "rollback", "--drill", "--by", "maria", *pilot)
    assert drill.exit_code == 0, drill.output
    assert "DRILL PASSED" in drill.output and "pass  runtime" in drill.output
    assert f"production  {second}" in invoke(app, "release", "status", *pilot).output

    back = invoke(app, "release", "rollback", "--by", "maria", *pilot)
    assert back.exit_code == 0 and f"rolled back to {first}" in back.output
    again = invoke(app, "release", "rollback", *pilot)
    assert isinstance(again.exception, UsageError) and "no previous release" in str(again.exception)
    failed_drill = invoke(app, "release", "rollback", "--drill", *pilot)
    assert isinstance(failed_drill.exception, CheckFailed) and failed_drill.exception.exit_code == 1
    assert "DRILL FAILED" in failed_drill.output

    out = tmp_path / "bundle.json"
    written = invoke(app, "release", "bundle", second, "-o", str(out), *pilot)
    assert written.exit_code == 0, written.output
    assert written.output.strip().splitlines()[-1] == str(out)
    key = tmp_path / "pilot.pub"
    key.write_text(written.output.split("public key: ")[1].split()[0] + "\n")
    checked = invoke(app, "release", "verify-bundle", str(out), "--public-key", str(key))
    assert checked.exit_code == 0, checked.output
    assert f"release {second}, verdict pass" in checked.output
    untrusted = invoke(app, "release", "verify-bundle", str(out))
    assert untrusted.exit_code == 0 and "the key inside the bundle" in untrusted.output


@pytest.fixture
def bundle(pilot: list[str], tmp_path: Path) -> Path:
    """A bundle of a promoted-then-regated release: two runs named (its own and production's)."""
    app = fresh_app()
    first = _release(app, pilot, "100")
    invoke(app, "gate", "--release", first, *pilot)
    invoke(app, "release", "promote", first, *pilot)
    second = _release(app, pilot, "200")
    assert invoke(app, "gate", "--release", second, *pilot).exit_code == 0
    out = tmp_path / "bundle.json"
    assert invoke(app, "release", "bundle", second, "-o", str(out), *pilot).exit_code == 0
    return out


def _tamper(path: Path, change: Any) -> Path:
    doc = json.loads(path.read_text())
    change(doc)
    tampered = path.with_name("tampered.json")
    tampered.write_text(json.dumps(doc))
    return tampered


def _receipt_of(doc: dict[str, Any], kind: str) -> dict[str, Any]:
    return next(r for r in doc["receipts"] if json.loads(r["receipt"])["kind"] == kind)


def _edit_verdict(doc: dict[str, Any]) -> None:
    entry = _receipt_of(doc, "gate.verdict")
    record = json.loads(entry["receipt"])
    record["body"]["result"] = "pass-ish"
    entry["receipt"] = json.dumps(record, separators=(",", ":"), sort_keys=True)


def _flip_result(doc: dict[str, Any]) -> None:
    doc["runs"][0]["results"][0]["passed"] = not doc["runs"][0]["results"][0]["passed"]


def _drop_ref(doc: dict[str, Any]) -> None:
    doc["receipts"].remove(_receipt_of(doc, "eval.run"))


def _edit_pack(doc: dict[str, Any]) -> None:
    entry = doc["snapshot"]["evals/evals/golden.yaml"]
    entry["text"] = entry["text"].replace("30 days", "300 days")


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (_edit_verdict, "is not in the checkpoint"),
        (_flip_result, "results do not add up to its eval.run receipt's summary"),
        (_drop_ref, "which is not in the bundle"),
        (_edit_pack, "snapshot file evals/evals/golden.yaml does not match its recorded hash"),
        (lambda doc: doc.__setitem__("created_at", "2020-01-01T00:00:00.000000Z"), "not what was signed"),
        (lambda doc: doc["release"]["manifest"].__setitem__("pilotgate", "9.9"), "manifest is not the one"),
        (lambda doc: doc.__setitem__("checkpoint", doc["checkpoint"].replace("\n\n", "\n\n ")), "checkpoint"),
    ],
)
def test_a_tampered_bundle_is_rejected_and_the_mismatch_named(bundle: Path, change: Any, named: str) -> None:
    assert verify_bundle(bundle).verdict == "pass"
    with pytest.raises(VerificationError, match="the bundle does not verify") as caught:
        verify_bundle(_tamper(bundle, change))
    assert named in str(caught.value) and caught.value.exit_code == 1


def test_a_bundle_signed_by_another_key_is_rejected(bundle: Path, tmp_path: Path) -> None:
    other = signer_for("refund-desk", generate_signing_key(tmp_path / "other.key")).public_key
    with pytest.raises(VerificationError, match="checkpoint"):
        verify_bundle(bundle, other)
    app = fresh_app()
    (tmp_path / "other.pub").write_text(other.text() + "\n")
    refused = invoke(
        app, "release", "verify-bundle", str(bundle), "--public-key", str(tmp_path / "other.pub")
    )
    assert isinstance(refused.exception, VerificationError)
