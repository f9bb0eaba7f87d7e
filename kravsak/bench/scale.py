"""Scale-out: the projection of one topic by 1 and by 2 projector processes in one consumer group.

Each run starts ``python -m kravsak.services projector`` N times (one group, schemas of its own) on the same
topic and times from the first stored offset to every partition projected; the process start and the first
group join are not in it. ``speedup`` is the 2-process rate ÷ the 1-process rate: what a second core (or a
second machine) buys. The publisher is not scaled this way: one publisher holds the position lock (ADR 0005).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import psycopg

from consumers.projector import stored_offsets
from kravsak.bench.end_to_end import _projected_to, projector_env, start_service, stop_services
from kravsak.bench.report import progress_bar
from kravsak.bench.stages import Resources
from kravsak.pipeline import end_offsets
from kravsak.settings import Settings
from projections.base import schema_name


def _ledger_done(dsn: str, suffix: str, topic: str) -> int:
    """Records of ``topic`` the ledger of ``suffix`` has taken (the sum of its stored offsets)."""
    try:
        with psycopg.connect(dsn) as conn, conn.cursor() as cur:
            return sum(stored_offsets(cur, schema_name("ledger", suffix=suffix), topic).values())
    except psycopg.errors.UndefinedTable:
        return 0


def measure_scale_out(
    settings: Settings, resources: Resources, topic: str, *, processes: tuple[int, ...] = (1, 2), timeout_s: float = 600
) -> dict[str, Any]:
    ends = end_offsets(settings.kafka_bootstrap, topic)
    total = sum(ends.values())
    out: dict[str, Any] = {"topic": topic, "records": total, "partitions": len(ends)}
    for n in processes:
        suffix = resources.suffix(f"scale{n}")
        group = f"bench-{resources.tag}-scale{n}"
        resources.groups.append(group)
        env = projector_env(topic, group, suffix)
        procs = [
            start_service(
                "projector", env, Path(tempfile.gettempdir()) / f"kravsak-bench-{resources.tag}-{n}-{i}.log", resources
            )
            for i in range(n)
        ]
        try:
            with progress_bar() as bar:
                task = bar.add_task(f"{n} projector process{'es' if n > 1 else ''} on {topic}", total=total)
                started = time.monotonic()
                first: tuple[float, int] | None = None
                while True:
                    done = _ledger_done(settings.pg_dsn, suffix, topic)
                    bar.update(task, completed=done)
                    now = time.monotonic()
                    if first is None and done > 0:
                        first = (now, done)
                    if done >= total and _projected_to(settings.pg_dsn, suffix, topic, ends):
                        break
                    dead = [p for p in procs if p.poll() is not None]
                    if dead:
                        raise RuntimeError(f"a projector process exited with {dead[0].returncode}")
                    if now - started > timeout_s:
                        raise TimeoutError(f"{n} projector processes did not catch up within {timeout_s:.0f} s")
                    time.sleep(0.1)
                ended = time.monotonic()
        finally:
            stop_services(procs)
        at, already = first or (started, 0)
        seconds = max(ended - at, 1e-9)
        out[str(n)] = {
            "processes": n,
            "seconds": round(seconds, 2),
            "records_timed": total - already,
            "events_per_s": (total - already) / seconds,
            "wall_seconds": round(ended - started, 2),
        }
    if "1" in out and "2" in out:
        out["speedup"] = out["2"]["events_per_s"] / out["1"]["events_per_s"]
    return out
