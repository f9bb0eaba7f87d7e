"""Measure reading bank files: transactions per second and peak memory, by format and file size.

    python -m intake.bench                       # OCR and camt.054, 10 000 and 100 000 transactions
    python -m intake.bench --sizes 1000 --formats ocr camt054 bgmax --json

Files are written by intake's own writers into a temporary folder. Each file is then read in a
fresh Python process (so one measurement's memory cannot hide another's): pass 1 is `check()`
(parse, validate, spool), pass 2 reads every transaction back from the spool. Pass 1 is timed in
wall and in CPU time (process_time: what a loaded machine moves least). Peak memory is the
process's VmHWM (peak resident set) from /proc, next to its resident set before the file was
opened; "flat in the file's size" means the peak does not grow with the number of transactions.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from intake.model import FileFormat
from intake.write import BankPayment
from intake.write.bgmax import write_bgmax
from intake.write.camt054 import write_camt054
from intake.write.ocr import write_ocr

_SUFFIX = {FileFormat.OCR: ".ocr", FileFormat.CAMT054: ".xml", FileFormat.BGMAX: ".bgmax"}


def payments(count: int) -> Iterator[BankPayment]:
    """A deterministic stream of payments over a month, amounts 100.00–2099.99."""
    first = date(2025, 3, 1)
    for i in range(count):
        ordered = first + timedelta(days=i * 28 // max(count, 1))
        yield BankPayment(
            reference=f"{1_000_000 + i:09d}",
            amount=Decimal(10_000 + (i * 7919) % 200_000).scaleb(-2),
            ordered=ordered,
            booked=ordered + timedelta(days=1),
            payer_name="Kari Nordmann",
            payer_account="12345678903" if i % 2 else None,
        )


def write(file_format: FileFormat, path: Path, count: int) -> None:
    if file_format is FileFormat.OCR:
        write_ocr(path, payments(count))
    elif file_format is FileFormat.CAMT054:
        write_camt054(path, payments(count), batch_size=50)
    else:
        swedish = (replace(p, payer_account=p.payer_account and "0003783511") for p in payments(count))
        write_bgmax(path, swedish, account="58410000010098")


def _status(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    return 0


def measure(path: Path, file_format: FileFormat) -> dict[str, Any]:
    """Both passes over one file, in this process (run it in a fresh one)."""
    import intake

    baseline = _status("VmRSS")
    started, cpu_started = time.perf_counter(), time.process_time()
    with intake.check(path, file_format) as checked:
        checked_at, check_cpu = time.perf_counter(), time.process_time() - cpu_started
        count = sum(1 for _ in checked.transactions())
        done = time.perf_counter()
        summary = checked.summary
    assert count == summary.credit_count
    return {
        "format": file_format.value,
        "transactions": count,
        "file_bytes": summary.size,
        "check_seconds": round(checked_at - started, 3),
        "check_cpu_seconds": round(check_cpu, 3),
        "read_seconds": round(done - checked_at, 3),
        "check_per_second": round(count / (checked_at - started)),
        "check_per_cpu_second": round(count / check_cpu),
        "read_per_second": round(count / (done - checked_at)),
        "both_per_second": round(count / (done - started)),
        "rss_before_bytes": baseline,
        "peak_rss_bytes": _status("VmHWM"),
    }


def _in_child(path: Path, file_format: FileFormat) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-m", "intake.bench", "--measure", str(path), "--format", file_format.value],
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, Any] = json.loads(out.stdout)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m intake.bench", description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--formats", nargs="+", default=["ocr", "camt054"], choices=[f.value for f in FileFormat])
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--format", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.measure:
        print(json.dumps(measure(args.measure, FileFormat(args.format))))
        return 0
    console = Console(stderr=True)
    results = []
    with tempfile.TemporaryDirectory(prefix="intake-bench-") as folder, Progress(
        TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(), console=console,
    ) as progress:  # fmt: skip
        jobs = [(FileFormat(f), n) for f in args.formats for n in args.sizes]
        task = progress.add_task("bank files", total=len(jobs) * 2)
        for file_format, count in jobs:
            path = Path(folder) / f"{file_format.value}-{count}{_SUFFIX[file_format]}"
            progress.update(task, description=f"writing {path.name}")
            write(file_format, path, count)
            progress.advance(task)
            progress.update(task, description=f"reading {path.name}")
            results.append(_in_child(path, file_format))
            progress.advance(task)
            path.unlink()
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    table = Table(title="intake: reading bank files (pass 1 check+spool, pass 2 read back)")
    for column in ("format", "transactions", "file MB", "check tx/s", "check CPU s", "check tx/CPU-s", "read tx/s",
                   "both tx/s", "RSS before MB", "peak RSS MB"):  # fmt: skip
        table.add_column(column, justify="right")
    for r in results:
        table.add_row(
            r["format"],
            f"{r['transactions']:,}",
            f"{r['file_bytes'] / 1e6:.1f}",
            f"{r['check_per_second']:,}",
            f"{r['check_cpu_seconds']:.2f}",
            f"{r['check_per_cpu_second']:,}",
            f"{r['read_per_second']:,}",
            f"{r['both_per_second']:,}",
            f"{r['rss_before_bytes'] / 2**20:.1f}",
            f"{r['peak_rss_bytes'] / 2**20:.1f}",
        )
    Console().print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
