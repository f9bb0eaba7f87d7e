"""In-memory throughput of the domain: commands/s and events/s through ``CollectionApp``.

Run: ``python -m kravsak.bench.domain [N]``.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date

from rich.progress import Progress

from domain.application import CollectionApp
from kravsak.bench.workload import execute, norwegian_claims, preload, setup


def measure(n: int, app: CollectionApp | None = None, *, batch: int = 0) -> dict[str, float]:
    """Run the generated workload; ``batch`` > 0 saves every ``batch`` commands in one unit of work."""
    app = app or CollectionApp()
    setup(app, "4601", max(n // 4, 1), date(2025, 1, 1))
    commands = list(norwegian_claims("4601", n, max(n // 4, 1)))
    before = app.recorder.max_notification_id() or 0
    started, cpu = time.perf_counter(), time.process_time()
    with Progress(transient=True) as progress:
        task = progress.add_task("commands", total=len(commands))
        step = batch or 1
        for start in range(0, len(commands), step):
            with app.unit_of_work() if batch else _nothing():
                preload(app, commands[start : start + step])
                for command in commands[start : start + step]:
                    execute(app, command)
            progress.update(task, completed=start + step)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    events = (app.recorder.max_notification_id() or 0) - before
    return {
        "claims": n,
        "commands": len(commands),
        "events": events,
        "seconds": elapsed,
        "commands_per_s": len(commands) / elapsed,
        "events_per_s": events / elapsed,
        "cpu_us_per_event": cpu * 1e6 / max(events, 1),  # this process's CPU (not PostgreSQL's): robust to load
    }


@contextmanager
def _nothing() -> Iterator[None]:
    yield


if __name__ == "__main__":
    result = measure(
        int(sys.argv[1]) if len(sys.argv) > 1 else 20_000, batch=int(sys.argv[2]) if len(sys.argv) > 2 else 0
    )
    print(" ".join(f"{k}={v:.0f}" if isinstance(v, float) else f"{k}={v}" for k, v in result.items()))
