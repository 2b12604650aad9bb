"""Receipts in-process: CPU per answer of version 1 (a signature each) against version 2
(one signature per flush, a Merkle path each), by flush size.

Encodes real access-log entries once, then times, alternately and ``--rounds``
times, the receipts of one flush of n entries: ``receipt_for`` per entry (v1)
and ``batch_receipts`` for the whole flush (v2), each including its JSON-ready
fields. CPU time (``time.process_time``), best of the rounds, so the figures
hold on a shared machine. Prints figures; asserts nothing.

    .venv/bin/python bench/bench_receipts.py [--rounds 5] [--sizes 1,2,8,64,256,1000,2000]
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from refund_registry.domain.access import AccessRecord, EncodedEntry, encode
from refund_registry.storage.accesslog import batch_receipts, receipt_for


def entries(n: int) -> list[EncodedEntry]:
    now = datetime.now(UTC)
    return [
        encode(
            AccessRecord(
                at=now,
                actor="mbr_bench",
                role="member",
                action="risk.query",
                request_digest="x" * 43,
                subject_keys=[hashlib.sha256(str(i).encode()).digest()],
                purpose="refund_decision",
                outcome="none",
                query_id=f"q_{i:020x}",
            )
        )
        for i in range(n)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--sizes", default="1,2,8,64,256,1000,2000")
    args = parser.parse_args()
    key = Ed25519PrivateKey.generate()
    print(f"{'flush size':>10} {'v1 us/answer':>13} {'v2 us/answer':>13} {'v2/v1':>6}")
    for n in (int(x) for x in args.sizes.split(",")):
        flush = entries(n)
        repeat = max(1, 2000 // n)
        best = {1: float("inf"), 2: float("inf")}
        for _ in range(args.rounds):
            started = time.process_time()
            for _ in range(repeat):
                [receipt_for(e, key) for e in flush]
            best[1] = min(best[1], (time.process_time() - started) / repeat / n * 1e6)
            started = time.process_time()
            for _ in range(repeat):
                batch_receipts(flush, key)
            best[2] = min(best[2], (time.process_time() - started) / repeat / n * 1e6)
        print(f"{n:>10} {best[1]:13.1f} {best[2]:13.1f} {best[2] / best[1]:6.2f}")


if __name__ == "__main__":
    main()
