"""A child process for the crash and concurrency tests: appends receipts, printing each seq once committed.

usage: append_worker.py URL PILOT COUNT PER_TX WORKER_ID [KEY_FILE]   (COUNT 0: forever)
"""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

from pilotgate.receipts import Entry, ReceiptLog, load_signing_key, signer_for
from pilotgate.store import open_store


def main() -> None:
    url, pilot, count, per_tx, worker = (
        sys.argv[1],
        sys.argv[2],
        int(sys.argv[3]),
        int(sys.argv[4]),
        sys.argv[5],
    )
    signer = signer_for(pilot, load_signing_key(Path(sys.argv[6]))) if len(sys.argv) > 6 else None
    log = ReceiptLog(pilot, signer=signer, checkpoint_every=7)
    store = open_store(url)
    done = 0
    for batch in itertools.count():
        if count and done >= count:
            break
        entries = [
            Entry(
                kind="model.call", body={"worker": worker, "batch": batch, "i": i}, actor=("worker", worker)
            )
            for i in range(per_tx)
        ]
        with store.write() as conn:
            made = log.append_many(conn, entries)
        # The commit has returned: from here on these receipts must survive anything.
        print(" ".join(str(item.seq) for item in made), flush=True)
        done += per_tx
    store.close()


if __name__ == "__main__":
    main()
