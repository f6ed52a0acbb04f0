"""The receipt spine: how often the chain is checkpointed, with which key, and where a witness is kept."""

from __future__ import annotations

from pydantic import Field

from pilotgate.spec.base import SpecModel
from pilotgate.spec.types import Text, WitnessLocation

DEFAULT_SIGNING_KEY = ".pilotgate/signing.key"


class Receipts(SpecModel):
    """Checkpoint and signing settings of the pilot's hash-chained receipt log."""

    checkpoint_every: int = Field(default=1000, ge=1)
    """Sign a checkpoint after this many receipts."""
    checkpoint_at_task_end: bool = False
    """Also sign a checkpoint when each task finishes."""
    signing_key: Text = DEFAULT_SIGNING_KEY
    """The Ed25519 private key file, relative to pilot.yaml's folder."""
    witness: WitnessLocation | None = None
    """Where signed checkpoints are also written: a file path (relative to pilot.yaml's folder) or an
    http(s) URL. Unset: checkpoints stay in the log only."""
