"""Scale-out: the projection of one topic by 1 and by 2 projector processes in one consumer group, and the
publication of one event store by 1 and by 2 publisher processes.

``measure_scale_out`` starts ``python -m kravsak.services projector`` N times (one group, schemas of its own) on
the same topic and times from the first stored offset to every partition projected; the process start and the
first group join are not in it. ``measure_publish_scale_out`` starts ``python -m kravsak.services publisher`` N
times on one event store, each owning an even share of the topic's partitions (ADR 0033), and times from the
first stored position to every position at the head. ``speedup`` is the 2-process rate ÷ the 1-process rate:
what a second core (or a second machine) buys.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import psycopg

from consumers.partitions import PartitionRange
from consumers.projector import stored_offsets
from consumers.publisher import PublisherOptions, max_notification_id, read_position
from consumers.topics import DEFAULT_CASE_EVENTS_PARTITIONS, case_events_spec, ensure_topics_at, schemas_spec
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


# --- publish -----------------------------------------------------------------------------------------------------


def _cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and of its live children (the publisher's prepare process), from /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    pids = [pid]
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            pids += [int(c) for c in (task / "children").read_text().split()]
    except OSError:
        pass
    for p in pids:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks  # utime, stime (fields 14 and 15 of stat)
    return total


def _positions(dsn: str, schema: str, names: Sequence[str]) -> list[int]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        try:
            return [read_position(conn, name, schema) for name in names]
        except psycopg.errors.UndefinedTable:
            return [0 for _ in names]


def measure_publish_scale_out(
    settings: Settings,
    resources: Resources,
    schema: str,
    *,
    processes: tuple[int, ...] = (1, 2),
    timeout_s: float = 600,
) -> dict[str, Any]:
    """The events of ``schema`` published by 1 and by 2 publisher processes (``python -m kravsak.services
    publisher``; with 2, each owns half of the topic's partitions, ``KRAVSAK_PUBLISHER_PARTITIONS``), each count to
    a topic of its own. Timed from the first position stored to every position at the head, as the projectors'
    scale-out: the process start, the connections and the schema records are not in it. ``cpu_us_per_event``: the
    publisher processes' and their prepare processes' CPU over that window (/proc), per event published."""
    with psycopg.connect(settings.pg_dsn, autocommit=True) as conn:
        head = max_notification_id(conn, schema)
    partitions = DEFAULT_CASE_EVENTS_PARTITIONS
    out: dict[str, Any] = {"schema": schema, "events": head, "partitions": partitions}
    for n in processes:
        topic = resources.topic(f"pubscale{n}")
        resources.topics.append(f"{topic}-schemas")
        ensure_topics_at(
            settings.kafka_bootstrap,
            [case_events_spec(topic, partitions=partitions), schemas_spec(f"{topic}-schemas")],
        )
        ranges: list[PartitionRange | None] = list(PartitionRange.split(partitions, n)) if n > 1 else [None]
        names = [replace(PublisherOptions(topic=topic), partition_range=r).position_name for r in ranges]
        env = {
            **os.environ,
            "KRAVSAK_PG_SCHEMA": schema,
            "KRAVSAK_PUBLISHER_TOPIC": topic,
            "KRAVSAK_PUBLISHER_SCHEMAS_TOPIC": f"{topic}-schemas",
            "KRAVSAK_LOG_FORMAT": "json",
            "KRAVSAK_LOG_LEVEL": "WARNING",
        }
        procs = [
            start_service(
                "publisher",
                {**env, "KRAVSAK_PUBLISHER_PARTITIONS": str(r) if r is not None else ""},
                Path(tempfile.gettempdir()) / f"kravsak-bench-{resources.tag}-publish{n}-{i}.log",
                resources,
            )
            for i, r in enumerate(ranges)
        ]
        try:
            with progress_bar() as bar:
                task = bar.add_task(f"{n} publisher process{'es' if n > 1 else ''} on {schema}", total=head)
                started = time.monotonic()
                first: tuple[float, float, float] | None = None
                while True:
                    positions = _positions(settings.pg_dsn, schema, names)
                    done = sum(positions) / len(positions)
                    bar.update(task, completed=done)
                    now = time.monotonic()
                    if first is None and done > 0:
                        first = (now, done, sum(_cpu_seconds(p.pid) for p in procs))
                    if min(positions) >= head:
                        cpu = sum(_cpu_seconds(p.pid) for p in procs)
                        break
                    dead = [p for p in procs if p.poll() is not None]
                    if dead:
                        raise RuntimeError(f"a publisher process exited with {dead[0].returncode}")
                    if now - started > timeout_s:
                        raise TimeoutError(f"{n} publisher processes did not catch up within {timeout_s:.0f} s")
                    time.sleep(0.1)
                ended = time.monotonic()
        finally:
            stop_services(procs)
        at, already, cpu_at = first or (started, 0.0, 0.0)
        seconds = max(ended - at, 1e-9)
        timed = head - already
        out[str(n)] = {
            "processes": n,
            "ranges": [str(r) if r is not None else "all" for r in ranges],
            "seconds": round(seconds, 2),
            "events_timed": round(timed),
            "events_per_s": timed / seconds,
            "cpu_us_per_event": round((cpu - cpu_at) / max(timed, 1) * 1e6, 1),
            "wall_seconds": round(ended - started, 2),
        }
    if "1" in out and "2" in out:
        out["speedup"] = out["2"]["events_per_s"] / out["1"]["events_per_s"]
    return out
