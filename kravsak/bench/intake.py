"""The bank-file stage of `make bench`, or on its own: `python -m kravsak.bench.intake [--quick]`.

Importing a 100 000-transaction Nets OCR giro file and a camt.054 file of the same size into the event store
through the one import path (``intake.importer.import_file``: check the whole file, then register its
transactions in batches, each one transaction of the event store with the file's checkpoint): transactions/s
from the first byte read to the last batch stored, and the peak resident memory of the importing process.
Target ≥ 5 000 transactions/s. Memory must be flat in the file's size: the same import of a file a tenth the
size is the baseline of the memory figure (peak at 100 000 over peak at 10 000; target < 1.5).

Each import runs in a fresh Python process (so one measurement's memory cannot hide another's) against an
event store of its own (PostgreSQL schema ``bench_<tag>_intake_<n>``, dropped at the end) holding one
Norwegian creditor with 2 000 open claims; 98 % of the transactions pay one of them by KID, 2 % name a KID
no claim carries (suspense).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from domain.application import CollectionApp
from domain.kid import KidAlgorithm, make_kid
from intake.accounts import norwegian_iban
from intake.write import BankPayment
from kravsak import logs
from kravsak.bench.figures import RESULTS_DIR, Figure, Target, fmt_number
from kravsak.bench.report import console, print_report
from kravsak.bench.scratch import create_event_store, drop_event_store
from kravsak.settings import Settings, load_settings, note_keeper, office_secret

TARGETS = {
    "intake_ocr": Target(">=", 5_000, "transactions/s"),
    "intake_camt054": Target(">=", 5_000, "transactions/s"),
    "intake_memory_growth": Target("<", 1.5, "× peak memory, 10× the file"),
}
CREDITOR, ACCOUNT = "5601", "15035976237"
CLAIMS = 2_000
ISSUED, DUE, ON = date(2025, 2, 1), date(2025, 3, 3), date(2025, 4, 1)


def _app(settings: Settings, schema: str) -> CollectionApp:
    return CollectionApp(
        settings.eventsourcing_env(POSTGRES_SCHEMA=schema), office_secret=office_secret(settings),
        notes=note_keeper(settings),
    )  # fmt: skip


def kids(claims: int) -> list[str]:
    return [make_kid(f"{10_000_000 + n:08d}", KidAlgorithm.MOD10) for n in range(claims)]


def open_claims(app: CollectionApp, claims: int, amount: Decimal = Decimal("10000000.00")) -> None:
    """One creditor, one debtor, ``claims`` open invoices of ``amount``, each with its KID (``kids``)."""
    app.register_creditor(creditor=CREDITOR, name="Alta", jurisdiction="NO", on=ISSUED, command_id="c")
    app.register_debtor(office=CREDITOR, ref="D1", kind="person", jurisdiction="NO", on=ISSUED, command_id="d")
    numbers = kids(claims)
    for start in range(0, claims, 500):
        with app.unit_of_work():
            for n in range(start, min(start + 500, claims)):
                app.issue_invoice(creditor=CREDITOR, invoice=f"B{n}", amount=amount, due=DUE, claim_type="other",
                                  debtor_ref="D1", on=ISSUED, command_id=f"i{n}", kid=numbers[n])  # fmt: skip


def setup(settings: Settings, schema: str, claims: int) -> None:
    """``open_claims`` (of 10 000 000.00: no payment settles one) in an event store of its own."""
    create_event_store(settings.pg_dsn, schema)
    app = _app(settings, schema)
    try:
        open_claims(app, claims)
    finally:
        app.close()


def payments(count: int, claims: int) -> Iterator[BankPayment]:
    """``count`` payments ordered over March: 98 % to a claim's KID, 2 % to a KID no claim carries."""
    numbers = kids(claims)
    for i in range(count):
        ordered = date(2025, 3, 1) + timedelta(days=i * 28 // max(count, 1))
        kid = numbers[i % claims] if i % 50 else make_kid(f"{90_000_000 + i:08d}", KidAlgorithm.MOD10)
        yield BankPayment(kid, Decimal(10_000 + (i * 7919) % 200_000).scaleb(-2), ordered,
                          booked=ordered + timedelta(days=1), payer_name="Kari Nordmann",
                          payer_account="12345678903" if i % 2 else None)  # fmt: skip


def write(file_format: str, path: Path, count: int, claims: int) -> None:
    from intake.write.camt054 import write_camt054
    from intake.write.ocr import write_ocr

    if file_format == "ocr":
        write_ocr(path, payments(count, claims), account=ACCOUNT)
    else:
        write_camt054(path, payments(count, claims), account=norwegian_iban(ACCOUNT), batch_size=50)


def _status(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    return 0


def measure_one(
    settings: Settings, schema: str, path: Path, batch: int, profile: bool = False, ahead: bool = True
) -> dict[str, Any]:
    """One import, in this process (run it in a fresh one). ``profile``: under cProfile, for the bound (its
    top functions and own time by area; its times are not the figure's). ``ahead``: the check in a second
    process while this one prepares the batches (the import's default for a file this size), else the one way
    (check the whole file, then land and store batch by batch)."""
    import resource

    from intake.accounts import OfficeAccounts
    from intake.importer import import_file
    from kravsak.bench.profile import profiled

    app = _app(settings, schema)
    before = _status("VmRSS")
    phases: dict[str, float] = {}
    bound: dict[str, Any] = {}

    def progress(phase: str, done: int, total: int) -> None:
        if f"{phase}_started" not in phases:
            phases[f"{phase}_started"], phases[f"{phase}_cpu"] = time.perf_counter(), time.process_time()

    started, cpu_started = time.perf_counter(), time.process_time()
    with profiled(bound, f"one import of {path.name}", FOLLOW) if profile else contextlib.nullcontext():
        report = import_file(app, path, on=ON, by="bench", accounts=OfficeAccounts.of({ACCOUNT: CREDITOR}),
                             batch_size=batch, progress=progress, payers=_NoPayers(), ahead=ahead)  # fmt: skip
    done, cpu = time.perf_counter(), time.process_time() - cpu_started
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    app.close()
    registered = done - phases.get("import_started", started)
    check_cpu = phases.get("import_cpu", cpu_started) - cpu_started
    return {
        "ahead": ahead,
        "transactions": report.transactions,
        "file_bytes": os.path.getsize(path),
        "matched": report.counts["matched"],
        "unmatched": report.counts["unmatched"],
        "reconciled": report.reconciled,
        "seconds": round(done - started, 3),
        "check_seconds": round(phases.get("import_started", started) - started, 3),
        "register_seconds": round(registered, 3),
        "transactions_per_s": round(report.transactions / (done - started)),
        "register_per_s": round(report.transactions / registered) if registered else None,
        "rss_before_bytes": before,
        "peak_rss_bytes": _status("VmHWM"),
        # the importer's own CPU time: what it would manage with a core to itself and a store that answered
        # at once (the rest of the wall time is waiting for PostgreSQL, or for a core on a busy machine)
        "cpu_seconds": round(cpu, 3),
        "check_cpu_seconds": round(check_cpu, 3),
        "per_cpu_s": round(report.transactions / cpu) if cpu else None,
        # ahead: the check process's CPU (it runs on the other core while this one prepares)
        "check_process_cpu_seconds": round(children.ru_utime + children.ru_stime, 3),
        "check_process_peak_rss_bytes": children.ru_maxrss * 1024,
        "bound": bound or None,
    }


FOLLOW = ("check", "receive_bank_payment", "pay", "_settle_after", "save", "insert_events", "preload_references")
"""The functions whose calls and cumulative time the bound's profile shows besides its top five."""


class _NoPayers:
    """The payers' table is beside the measurement (one INSERT per batch); the bench leaves it out."""

    def remember(self, rows: list[tuple[str, str | None, str | None, str | None]]) -> None:
        return None


def _run(
    settings: Settings,
    tag: str,
    n: int,
    file_format: str,
    count: int,
    batch: int,
    folder: Path,
    profile: bool = False,
    ahead: bool = True,
) -> dict[str, Any]:
    schema = f"bench_{tag}_intake_{n}"
    path = folder / f"{file_format}-{count}.{'ocr' if file_format == 'ocr' else 'xml'}"
    way = "ahead" if ahead else "the one way"
    console.print(f"intake: {count} {file_format} transactions: set-up ({CLAIMS} claims), file, import {way}")
    setup(settings, schema, CLAIMS)
    write(file_format, path, count, CLAIMS)
    try:
        out = subprocess.run(
            [sys.executable, "-m", "kravsak.bench.intake", "--measure", str(path), "--schema", schema,
             "--batch", str(batch), *(["--profile"] if profile else []), *([] if ahead else ["--one-way"])],
            capture_output=True, text=True,
        )  # fmt: skip
        if out.returncode:
            raise RuntimeError(f"the import of {path.name} failed: {out.stderr.strip()[-2000:]}")
        result: dict[str, Any] = json.loads(out.stdout)
    finally:
        drop_event_store(settings.pg_dsn, schema)
        path.unlink(missing_ok=True)
    result["format"] = file_format
    console.print(
        f"intake: {file_format} {count} {way}: {fmt_number(result['transactions_per_s'])} transactions/s, "
        f"peak {result['peak_rss_bytes'] / 2**20:.0f} MiB"
    )
    return result


def measure(settings: Settings, *, quick: bool = False, batch: int = 500, size: int | None = None) -> dict[str, Any]:
    size = size or (20_000 if quick else 100_000)
    tag = uuid.uuid4().hex[:8]
    with tempfile.TemporaryDirectory(prefix="kravsak-bench-intake-") as scratch:
        folder = Path(scratch)
        ocr = _run(settings, tag, 1, "ocr", size, batch, folder)
        camt = _run(settings, tag, 2, "camt054", size, batch, folder)
        small = _run(settings, tag, 3, "ocr", size // 10, batch, folder)
        ocr["one_way"] = _run(settings, tag, 6, "ocr", size, batch, folder, ahead=False)
        camt["one_way"] = _run(settings, tag, 7, "camt054", size, batch, folder, ahead=False)
        rates = {"ocr": ocr, "camt054": camt}
        missed = [f for f, r in rates.items() if not TARGETS[f"intake_{f}"].met(r["transactions_per_s"])]
        small_size = max(size // 10, min(size, 5_000))  # enough transactions that loading modules is not the profile
        bounds = {f: _run(settings, tag, 4 + i, f, small_size, batch, folder, True) for i, f in enumerate(missed)}
    sizes = {"transactions": size, "batch": batch}
    return {"ocr": ocr, "camt054": camt, "ocr_small": small, "bounds": bounds, "sizes": sizes}


def figures(raw: dict[str, Any]) -> list[Figure]:
    out = []
    for name in ("ocr", "camt054"):
        r = raw[name]
        out.append(
            Figure(
                f"intake_{name}",
                r["transactions_per_s"],
                "transactions/s",
                f"{fmt_number(r['transactions_per_s'])} transactions/s\n({r['transactions']} in {r['seconds']} s: "
                f"checked and prepared in {r['check_seconds']} s, recorded in {r['register_seconds']} s; peak "
                f"{r['peak_rss_bytes'] / 2**20:.0f} MiB; importer CPU {r.get('cpu_seconds', '—')} s, check process "
                f"{r.get('check_process_cpu_seconds', '—')} s)",
                baseline=r["one_way"]["transactions_per_s"],
                baseline_shown=f"the one way (check, then land and store): "
                f"{fmt_number(r['one_way']['transactions_per_s'])} transactions/s",
                target=TARGETS[f"intake_{name}"],
                missed_because=None if r["reconciled"] else "the file total did not reconcile",
                details=r,
                bound=_bound(raw.get("bounds", {}).get(name)),
            )
        )
    big, small = raw["ocr"], raw["ocr_small"]
    big_peak, small_peak = _peak(big), _peak(small)
    growth = big_peak / small_peak if small_peak else None
    out.append(
        Figure(
            "intake_memory_growth",
            growth,
            "× peak memory, 10× the file",
            f"peak {big_peak / 2**20:.0f} MiB at {big['transactions']} vs {small_peak / 2**20:.0f} MiB at "
            f"{small['transactions']} ({growth or 0:.2f}×; the importer's and its check process's peaks added)",
            target=TARGETS["intake_memory_growth"],
            details={"large": big, "small": small},
        )
    )
    return out


def _peak(run: dict[str, Any]) -> int:
    """The import's peak memory: the importer's, plus its check process's when it had one."""
    return int(run["peak_rss_bytes"]) + int(run.get("check_process_peak_rss_bytes") or 0)


def _bound(profiled: dict[str, Any] | None) -> dict[str, Any] | None:
    """A missed rate's bound: the profile of an import a tenth the size, and where the importer's CPU went."""
    if not profiled or not profiled.get("bound"):
        return None
    cpu, check = profiled["cpu_seconds"], profiled["check_cpu_seconds"]
    return {
        **profiled["bound"],
        "cpu": {
            "wall_seconds": profiled["seconds"], "cpu_seconds": cpu, "check_cpu_seconds": check,
            "register_cpu_seconds": round(cpu - check, 3), "note": "under cProfile: shares, not rates",
        },
    }  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kravsak.bench.intake", description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="20 000 transactions: a smoke run")
    parser.add_argument("--batch", type=int, default=500, help="transactions per stored batch")
    parser.add_argument("--size", type=int, help="transactions per file (default 100 000; --quick 20 000)")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR, help="folder of the result JSON")
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--schema", help=argparse.SUPPRESS)
    parser.add_argument("--profile", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--one-way", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    logs.configure("console", level=os.environ.get("KRAVSAK_LOG_LEVEL", "WARNING"))
    settings = load_settings()
    if args.measure:
        print(json.dumps(measure_one(settings, args.schema, args.measure, args.batch, args.profile, not args.one_way)))
        return 0
    from kravsak.bench.figures import result_document
    from kravsak.bench.main import machine_at_end, machine_info

    started = datetime.now(UTC)
    machine = machine_info(settings)
    raw = measure(settings, quick=args.quick, batch=args.batch, size=args.size)
    machine_at_end(machine)
    found = figures(raw)
    document = result_document(
        started=started, wall_seconds=(datetime.now(UTC) - started).total_seconds(), machine=machine,
        figures=found, sizes={**raw["sizes"], "quick": args.quick},
    )  # fmt: skip
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"{started.date().isoformat()}-intake.json"
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False, default=str) + "\n")
    print_report(document, found, path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
