"""In-memory throughput of the domain: commands/s and events/s through ``CollectionApp``.

Run: ``python -m kravsak.bench_domain [N]``.
"""

from __future__ import annotations

import sys
import time
from datetime import date

from rich.progress import Progress

from domain.application import CollectionApp
from kravsak.workload import execute, norwegian_claims, setup


def measure(n: int, app: CollectionApp | None = None) -> dict[str, float]:
    app = app or CollectionApp()
    setup(app, "4601", max(n // 4, 1), date(2025, 1, 1))
    commands = list(norwegian_claims("4601", n, max(n // 4, 1)))
    before = app.recorder.max_notification_id() or 0
    started = time.perf_counter()
    with Progress(transient=True) as progress:
        task = progress.add_task("commands", total=len(commands))
        for i, command in enumerate(commands):
            execute(app, command)
            if i % 1000 == 0:
                progress.update(task, completed=i)
    elapsed = time.perf_counter() - started
    events = (app.recorder.max_notification_id() or 0) - before
    return {"claims": n, "commands": len(commands), "events": events, "seconds": elapsed,
            "commands_per_s": len(commands) / elapsed, "events_per_s": events / elapsed}


if __name__ == "__main__":
    result = measure(int(sys.argv[1]) if len(sys.argv) > 1 else 20_000)
    print(" ".join(f"{k}={v:.0f}" if isinstance(v, float) else f"{k}={v}" for k, v in result.items()))
