"""The domain work of a bank-file import alone, in memory: CPU per transaction, and a digest of what it stores.

    .venv/bin/python tools/bank_payments_cpu.py --size 20000 --no-insert     # CPU µs per transaction
    .venv/bin/python tools/bank_payments_cpu.py --size 10000 --digest        # the stored events' digest

The importer's batches without the file and without PostgreSQL (ADR 0029, "Amended: the domain work of a
payment"): ``kravsak.bench.intake``'s creditor, claims and transactions (``--claims`` open invoices, each paid
about every ``--claims``-th transaction), ``receive_bank_payments`` per batch of 500 inside a unit of work that
keeps the aggregates warm, as ``intake.importer`` does. ``--no-insert``: the save maps the events
(``to_stored_event``: the transcoder) and stores nothing — the domain work alone, no recorder. ``--mixed``
adds what the bench's file lacks: unstructured references (suspense), the same transaction twice (duplicates),
and with ``--amount 1500.00`` claims that payments settle (surpluses, refund requests).

``--digest`` prints a SHA-256 over every stored event (id, version, topic, state but its timestamp), in id-version
order: equal digests before and after a change are equal stored events. For an A/B, run it with
``PYTHONPATH=<a checkout of the other code>`` from outside the worktree. Instructions, which a busy machine does
not disturb: ``valgrind --tool=cachegrind --cache-sim=no`` around two sizes, the difference over the difference.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import re
import time
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from domain.application import CollectionApp
from domain.bank_payments import IncomingPayment
from domain.collector import batch_process
from kravsak.bench.intake import CLAIMS, CREDITOR, ON, open_claims, payments

_TIMESTAMP = re.compile(rb'"timestamp":\{"_type_":"datetime_iso","_data_":"[^"]*"\}')


def desk(claims: int, amount: Decimal) -> CollectionApp:
    app = CollectionApp()
    open_claims(app, claims, amount)
    return app


def transactions(size: int, claims: int, mixed: bool) -> list[IncomingPayment]:
    out: list[IncomingPayment] = []
    for i, p in enumerate(payments(size, claims)):
        structured = not mixed or i % 97 != 5
        out.append(IncomingPayment(CREDITOR, p.reference, structured, p.amount, p.ordered, f"ocr:1:{i}"))
        if mixed and i % 113 == 7:
            out.append(out[-1])
    return out


def register(app: CollectionApp, txs: list[IncomingPayment], batch: int) -> dict[str, float]:
    """The batches, as the importer registers them; CPU seconds by part."""
    warm: dict[UUID, Aggregate] = {}
    gc.collect()
    batch_process()  # the thresholds the importer's batches run with (domain.collector)
    parts = {"preload": 0.0, "receive": 0.0, "save": 0.0}
    for start in range(0, len(txs), batch):
        chunk = txs[start : start + batch]
        t0 = time.process_time()
        with app.unit_of_work(warm):
            app.preload_references((p.creditor, p.reference) for p in chunk if p.structured)
            app.preload_commands("creditor", ((p.creditor, p.transaction_id) for p in chunk))
            t1 = time.process_time()
            app.receive_bank_payments(chunk, on=ON, file_digest="ab" * 32, file_format="ocr", refund_by="bench")
            t2 = time.process_time()
        t3 = time.process_time()
        parts["preload"] += t1 - t0
        parts["receive"] += t2 - t1
        parts["save"] += t3 - t2
    return parts


def digest(app: CollectionApp) -> str:
    rows = sorted(
        (str(n.originator_id), n.originator_version, n.topic, _TIMESTAMP.sub(b"", n.state))
        for n in app.recorder.select_notifications(start=1, limit=10**9)
    )
    h = hashlib.sha256()
    for ident, version, topic, state in rows:
        h.update(f"{ident} {version} {topic} ".encode() + state + b"\n")
    return f"{len(rows)} events, sha256 {h.hexdigest()}"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--size", type=int, default=20_000)
    parser.add_argument("--claims", type=int, default=CLAIMS)
    parser.add_argument("--amount", type=Decimal, default=Decimal("10000000.00"))
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--mixed", action="store_true")
    parser.add_argument("--no-insert", action="store_true")
    parser.add_argument("--digest", action="store_true")
    parser.add_argument("--profile", help="write a cProfile of the batches to this file")
    args = parser.parse_args()
    app = desk(args.claims, args.amount)
    txs = transactions(args.size, args.claims, args.mixed)
    if args.no_insert:
        to_stored = app.mapper.to_stored_event

        def mapped_only(processing: Any) -> list[Any]:
            for event in processing.events:
                to_stored(event)
            return []

        app._record = mapped_only  # type: ignore[method-assign,assignment]
    profiler = None
    if args.profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    parts = register(app, txs, args.batch)
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(args.profile)
    per = {k: v / len(txs) * 1e6 for k, v in parts.items()}
    print(
        f"{len(txs)} transactions: {sum(per.values()):.1f} µs CPU each (preload {per['preload']:.1f}, receive "
        f"{per['receive']:.1f}, save {per['save']:.1f}){' — save maps only' if args.no_insert else ''}"
    )
    if args.digest:
        print(digest(app))


if __name__ == "__main__":
    main()
