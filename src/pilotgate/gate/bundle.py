"""A release's evidence bundle: one signed JSON file an auditor checks offline, with no database.

What it holds (``docs/releases.md`` describes the format):

- the release: its manifest and content hash, and its snapshot (pilot.yaml and each eval pack, with hashes);
- the release's latest ``gate.verdict`` receipt and every receipt it rests on (its ``refs``: the
  ``release.created`` and ``eval.run`` receipts, the production promotion), each with an RFC 9162
  inclusion proof against one checkpoint signed when the bundle was written;
- the eval runs the verdict names, with every case result;
- a signed note over the SHA-256 of the bundle's canonical JSON (everything but the note itself).

``verify_bundle`` checks the specific things first, so a mismatch is named where it is (a proof, a
verdict ref missing, a snapshot file that does not hash to the manifest, run results that do not add up
to their ``eval.run`` receipt's summary), and the signature over the whole bundle last.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import select

from pilotgate.clock import Clock, rfc3339, utc_now
from pilotgate.errors import PilotgateError, UsageError, VerificationError
from pilotgate.evals.assertions import AssertionResult
from pilotgate.evals.metrics import run_metrics
from pilotgate.evals.runs import CaseInfo, CaseResult, StoredRun, load_run
from pilotgate.gate.releases import get_release, release_hash, spec_hash
from pilotgate.gate.snapshot import PILOT_PART, SnapshotMissing, load_snapshot, sha256_of, snapshot_spec
from pilotgate.gate.verdict import latest_verdict
from pilotgate.receipts import (
    InclusionProof,
    PublicKey,
    canonical_bytes,
    get_receipt,
    origin,
    prove_inclusion,
)
from pilotgate.receipts.checkpoint import checkpoint_problem, parse_checkpoint
from pilotgate.receipts.hashes import receipt_hash
from pilotgate.receipts.keys import parse_public_key
from pilotgate.receipts.note import verify_note
from pilotgate.store.tables import eval_runs, receipts

BUNDLE_MAGIC = "pilotgate-release-bundle"
BUNDLE_FORMAT = 1


@dataclass(frozen=True)
class BundleSummary:
    """What a written or verified bundle holds."""

    release: str
    verdict: str
    """``pass`` or ``blocked``: a bundle records the latest verdict whatever it says."""
    receipts: int
    runs: int
    checkpoint_size: int
    key_trusted: bool = True
    """False when the bundle was checked against the key it carries, not one given out of band."""


# --- writing ------------------------------------------------------------------------------------------


def _file_json(data: bytes) -> dict[str, str]:
    try:
        return {"sha256": sha256_of(data), "text": data.decode("utf-8")}
    except UnicodeDecodeError:
        return {"sha256": sha256_of(data), "base64": base64.b64encode(data).decode("ascii")}


def _run_json(run: StoredRun) -> dict[str, Any]:
    return {
        "id": run.id,
        "release": run.release,
        "state": run.state,
        "created_at": run.created_at,
        "receipt": run.receipt,
        "cases": {cid: dict(info.__dict__) for cid, info in sorted(run.cases.items())},
        "results": [
            {
                "case": r.case_id,
                "repeat": r.repeat,
                "category": r.category,
                "outcome": r.outcome,
                "passed": r.passed,
                "assertions": [a.as_dict() for a in r.assertions],
                "answer": r.answer,
                "cost": None if r.cost is None else str(r.cost),
                "latency_ms": r.latency_ms,
                "task": r.task,
                "receipts": list(r.receipts),
            }
            for r in run.results
        ],
    }


def _run_from_json(doc: dict[str, Any], pilot: str) -> StoredRun:
    results = tuple(
        CaseResult(
            case_id=str(r["case"]),
            repeat=int(r["repeat"]),
            category=str(r["category"]),
            outcome=str(r["outcome"]),
            passed=bool(r["passed"]),
            assertions=tuple(AssertionResult.from_dict(a) for a in r["assertions"]),
            answer=str(r["answer"]),
            cost=None if r["cost"] is None else Decimal(r["cost"]),
            latency_ms=float(r["latency_ms"]),
            task=r.get("task"),
            receipts=tuple(r.get("receipts") or ()),
        )
        for r in doc["results"]
    )
    return StoredRun(
        id=str(doc["id"]),
        pilot=pilot,
        release=doc.get("release"),
        state=str(doc["state"]),
        created_at=str(doc["created_at"]),
        cases={cid: CaseInfo(**info) for cid, info in doc["cases"].items()},
        results=results,
        receipt=doc.get("receipt"),
    )


def _named_runs(conn: Any, verdict: dict[str, Any]) -> list[str]:
    """The eval runs the verdict names: its run and any run id in a rule's evidence (regressions)."""
    named = {verdict.get("run")} | {
        ref for rule in verdict.get("rules", []) for ref in rule.get("evidence", [])
    }
    candidates = sorted(str(ref) for ref in named if ref and not str(ref).startswith("sha256:"))
    if not candidates:
        return []
    found = conn.execute(select(eval_runs.c.id).where(eval_runs.c.id.in_(candidates))).scalars().all()
    return sorted(str(run) for run in found)


def build_bundle(workspace: Any, release_id: str, *, clock: Clock = utc_now) -> dict[str, Any]:
    """The bundle of *release_id* as a JSON object (signed); signs a checkpoint of the log as it is now."""
    release = get_release(workspace, release_id)
    verdict = latest_verdict(workspace, release_id)
    if verdict is None:
        raise UsageError(
            f"release {release_id} has no gate verdict to bundle",
            hint=f"run `pilotgate gate --release {release_id}` first",
        )
    try:
        snapshot = {
            name: _file_json(data) for name, data in sorted(load_snapshot(workspace, release_id).items())
        }
    except SnapshotMissing:
        snapshot = {}
    signer = workspace.signer()
    log = workspace.receipt_log(clock=clock)
    with log.transaction(workspace.store) as conn:
        checkpoint = log.checkpoint(conn)
        wanted = {verdict["hash"], release.receipt, *_verdict_refs(conn, workspace.name, verdict["seq"])}
        run_ids = _named_runs(conn, verdict)
        runs = [load_run(workspace.store, run_id) for run_id in run_ids] if run_ids else []
        wanted |= {run.receipt for run in runs if run.receipt}
        seqs = conn.execute(
            select(receipts.c.seq).where(
                receipts.c.pilot == workspace.name, receipts.c.hash.in_(sorted(wanted))
            )
        ).scalars()
        proofs = [
            prove_inclusion(conn, workspace.name, int(seq), size=checkpoint.size).to_json()
            for seq in sorted(seqs)
        ]
    bundle: dict[str, Any] = {
        "bundle": BUNDLE_MAGIC,
        "format": BUNDLE_FORMAT,
        "pilot": workspace.name,
        "created_at": rfc3339(clock()),
        "release": {
            "id": release.id,
            "content_hash": release.content_hash,
            "manifest": dict(release.manifest),
            "created_at": release.created_at,
            "created_by": release.created_by,
            "receipt": release.receipt,
        },
        "snapshot": snapshot,
        "verdict": verdict["hash"],
        "receipts": proofs,
        "runs": [_run_json(run) for run in runs],
        "checkpoint": checkpoint.note,
        "public_key": signer.public_key.text(),
    }
    bundle["signature"] = signer.sign(_signed_text(bundle))
    return bundle


def _verdict_refs(conn: Any, pilot: str, seq: int) -> list[str]:
    return [str(ref) for ref in get_receipt(conn, pilot, seq).record["refs"]]


def _signed_text(bundle: dict[str, Any]) -> str:
    """The text the bundle's signature covers: the origin line, the release and the bundle's digest."""
    unsigned = {key: value for key, value in bundle.items() if key != "signature"}
    digest = sha256_of(canonical_bytes(unsigned))
    return f"{BUNDLE_MAGIC}\n{origin(str(bundle.get('pilot')))}\n{bundle['release']['id']}\n{digest}\n"


def write_bundle(workspace: Any, release_id: str, out: Path, *, clock: Clock = utc_now) -> BundleSummary:
    """Write the bundle of *release_id* to *out*."""
    bundle = build_bundle(workspace, release_id, clock=clock)
    out.write_text(json.dumps(bundle, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return _summary(bundle, key_trusted=True)


def _summary(bundle: dict[str, Any], *, key_trusted: bool) -> BundleSummary:
    verdict = next(
        json.loads(doc["receipt"])["body"].get("result", "?")
        for doc in bundle["receipts"]
        if doc["receipt_hash"] == bundle["verdict"]
    )
    return BundleSummary(
        release=bundle["release"]["id"],
        verdict=str(verdict),
        receipts=len(bundle["receipts"]),
        runs=len(bundle["runs"]),
        checkpoint_size=parse_checkpoint(bundle["checkpoint"]).size,
        key_trusted=key_trusted,
    )


# --- checking -----------------------------------------------------------------------------------------


def _fail(code: str, message: str) -> VerificationError:
    return VerificationError(f"the bundle does not verify: {message}", failures=[(code, message)])


def read_bundle(path: Path) -> dict[str, Any]:
    """The bundle at *path*; UsageError when it is not one."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except ValueError as exc:
        raise UsageError(f"{path} is not JSON: {exc}") from exc
    if not isinstance(doc, dict) or doc.get("bundle") != BUNDLE_MAGIC:
        raise UsageError(f"{path} is not a pilotgate release bundle")
    if doc.get("format") != BUNDLE_FORMAT:
        raise UsageError(
            f"{path} is bundle format {doc.get('format')!r}; this pilotgate reads {BUNDLE_FORMAT}"
        )
    return doc


def verify_bundle(path: Path, public_key: PublicKey | None = None) -> BundleSummary:
    """Check the bundle offline; VerificationError naming the first thing that does not match.

    Without *public_key* the key inside the bundle is used, which proves integrity but not origin: give the
    pilot's key (``--public-key``) to know who signed it.
    """
    bundle = read_bundle(path)
    try:
        return _verify(bundle, public_key)
    except VerificationError:
        raise
    except (KeyError, TypeError, ValueError, StopIteration) as exc:
        raise _fail("malformed", f"a part is missing or malformed ({type(exc).__name__}: {exc})") from exc


def _verify(bundle: dict[str, Any], given: PublicKey | None) -> BundleSummary:
    pilot = str(bundle["pilot"])
    key = given if given is not None else parse_public_key(str(bundle["public_key"]), name=origin(pilot))
    if key.name != origin(pilot):
        raise _fail("unknown_key", f"the key is {key.name}'s; the bundle is of {origin(pilot)}")
    problem = checkpoint_problem(str(bundle["checkpoint"]), key)
    if problem is not None:
        raise _fail(problem[0], f"checkpoint: {problem[1]}")
    signed = parse_checkpoint(str(bundle["checkpoint"]))
    records = _check_receipts(bundle, key, signed.size, signed.root)
    release = bundle["release"]
    _check_release(release, records)
    _check_snapshot(release, bundle["snapshot"], records)
    verdict = _check_verdict(bundle, release["id"], records)
    _check_runs(bundle, verdict, records, pilot)
    try:
        text = verify_note(str(bundle["signature"]), key.name, key.raw)
    except (LookupError, ValueError) as exc:
        raise _fail("signature", f"the bundle's signature: {exc}") from exc
    if text != _signed_text(bundle):
        raise _fail("signature", "the bundle's content is not what was signed (a part was changed)")
    return _summary(bundle, key_trusted=given is not None)


def _check_receipts(
    bundle: dict[str, Any], key: PublicKey, size: int, root: bytes
) -> dict[str, dict[str, Any]]:
    """Every receipt's inclusion proof against the bundle's checkpoint; hash -> parsed receipt."""
    records: dict[str, dict[str, Any]] = {}
    for doc in bundle["receipts"]:
        proof = InclusionProof.from_json(doc)
        if proof.tree_size != size or proof.root != root:
            raise _fail(
                "checkpoint_root_mismatch", f"receipt {proof.seq}'s proof is not against the checkpoint"
            )
        try:
            proof.check(key)
        except PilotgateError as exc:
            raise _fail("inclusion_failed", f"receipt {proof.seq}: {exc.message}") from exc
        digest = receipt_hash(proof.receipt)
        if digest != doc.get("receipt_hash"):
            raise _fail("receipt_hash", f"receipt {proof.seq} does not hash to {doc.get('receipt_hash')}")
        records[digest] = json.loads(proof.receipt)
    return records


def _receipt(records: dict[str, dict[str, Any]], digest: str, what: str, kind: str) -> dict[str, Any]:
    record = records.get(digest)
    if record is None:
        raise _fail("missing_receipt", f"{what} {digest} is not in the bundle")
    if record["kind"] != kind:
        raise _fail("wrong_kind", f"{what} {digest} is a {record['kind']} receipt, not {kind}")
    return record


def _check_release(release: dict[str, Any], records: dict[str, dict[str, Any]]) -> None:
    created = _receipt(records, release["receipt"], "the release.created receipt", "release.created")
    body = created["body"]
    if body.get("release") != release["id"]:
        raise _fail(
            "release", f"the release.created receipt is of {body.get('release')}, not {release['id']}"
        )
    if body.get("manifest") != release["manifest"] or body.get("content_hash") != release["content_hash"]:
        raise _fail("release", "the release's manifest is not the one its release.created receipt records")
    digest = release_hash(release["manifest"])
    if digest != release["content_hash"] or release["id"] != "rel-" + digest.removeprefix("sha256:")[:16]:
        raise _fail("release", f"the manifest does not hash to release {release['id']}")


def _check_snapshot(
    release: dict[str, Any], snapshot: dict[str, Any], records: dict[str, dict[str, Any]]
) -> None:
    if not snapshot:
        return  # a release made before snapshots: the manifest and receipts still verify
    recorded = records[release["receipt"]]["body"].get("snapshot")
    files: dict[str, bytes] = {}
    for name, entry in sorted(snapshot.items()):
        data = entry["text"].encode("utf-8") if "text" in entry else base64.b64decode(entry["base64"])
        digest = sha256_of(data)
        if digest != entry["sha256"] or (recorded is not None and recorded.get(name) != digest):
            raise _fail("snapshot", f"snapshot file {name} does not match its recorded hash")
        if name != PILOT_PART and release["manifest"].get(name) != digest:
            raise _fail("snapshot", f"snapshot file {name} is not the one the manifest names")
        files[name] = data
    if PILOT_PART not in files:
        raise _fail("snapshot", "the snapshot has no pilot.yaml")
    try:
        spec = snapshot_spec(files, "the bundle's pilot.yaml")
    except UsageError as exc:
        raise _fail("snapshot", exc.message) from exc
    if spec_hash(spec) != release["manifest"].get(PILOT_PART):
        raise _fail("snapshot", "the snapshot's pilot.yaml is not the one the manifest names")


def _check_verdict(
    bundle: dict[str, Any], release_id: str, records: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    record = _receipt(records, bundle["verdict"], "the verdict", "gate.verdict")
    if record["body"].get("release") != release_id:
        raise _fail("verdict", f"the verdict is of {record['body'].get('release')}, not {release_id}")
    for ref in record["refs"]:
        if ref not in records:
            raise _fail("missing_receipt", f"the verdict rests on receipt {ref}, which is not in the bundle")
    body: dict[str, Any] = record["body"]
    return body


def _check_runs(
    bundle: dict[str, Any], verdict: dict[str, Any], records: dict[str, dict[str, Any]], pilot: str
) -> None:
    runs = {doc["id"]: doc for doc in bundle["runs"]}
    if verdict.get("run") is not None and verdict["run"] not in runs:
        raise _fail("missing_run", f"the verdict's run {verdict['run']} is not in the bundle")
    for run_id, doc in sorted(runs.items()):
        if not doc.get("receipt"):
            raise _fail("run", f"run {run_id} has no eval.run receipt")
        sealed = _receipt(records, doc["receipt"], f"run {run_id}'s eval.run receipt", "eval.run")
        if sealed["body"].get("run") != run_id:
            raise _fail("run", f"the eval.run receipt {doc['receipt']} is of run {sealed['body'].get('run')}")
        summary = json.loads(canonical_bytes(run_metrics(_run_from_json(doc, pilot)).summary()))
        if summary != sealed["body"].get("summary"):
            raise _fail("run", f"run {run_id}'s results do not add up to its eval.run receipt's summary")
