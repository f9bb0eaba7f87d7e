"""`make bench-cluster`: the numbers the capacity plan (`docs/scaling.md`) is built from, measured on the
running stack — a three-node cluster after `kravsak up --brokers 3` (ADR 0031), or the single node.

One run, on throw-away stores and topics of its own (`Resources`, dropped at the end):

1. **ingest** ``--events`` events of the standard workload through `CollectionApp` (one process), then the
   **bytes per event in PostgreSQL**: every table and index of the store's schema, ÷ events;
2. **publish** them (`run_publisher(once=True)`, one process, ``acks=all``) and the **bytes per event on
   the topic**: the partitions' log size as the brokers report it (``DescribeLogDirs``), per replica and
   over all replicas;
3. **project** them with 1, 2 and 4 `python -m kravsak.services projector` processes in one consumer group
   (`kravsak.bench.scale`), events/s each, and the machine's cores and load beside them.

Results go to ``bench/results/<date>-cluster.json`` and a table.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import psycopg
from kafka import KafkaAdminClient
from rich.table import Table

from consumers.kafka_access import client_args
from kravsak.bench.figures import ROOT, fmt_count, fmt_number
from kravsak.bench.report import console
from kravsak.bench.scale import measure_scale_out
from kravsak.bench.stages import Resources, measure_ingest, measure_publish
from kravsak.settings import Settings, load_settings


def store_bytes(dsn: str, schema: str) -> int:
    """Bytes of every table of ``schema`` with its indexes and TOAST (``pg_total_relation_size``)."""
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relkind IN ('r', 'm')",
            (schema,),
        ).fetchone()
    return int(row[0]) if row else 0


def topic_bytes(bootstrap: str, topic: str) -> dict[str, Any]:
    """The log size of ``topic``'s partitions on each broker (``DescribeLogDirs``): per broker and in all."""
    admin = KafkaAdminClient(**client_args(bootstrap), client_id="kravsak-bench")
    try:
        answers = admin.describe_log_dirs([topic])
    finally:
        admin.close()
    per_broker: dict[str, int] = {}
    for answer in answers:
        size = 0
        for log_dir in answer.get("log_dirs", []):
            for entry in log_dir.get("topics", []):
                if entry.get("name") == topic:
                    size += sum(int(p.get("partition_size", 0)) for p in entry.get("partitions", []))
        per_broker[str(answer["broker"])] = size
    return {"per_broker": per_broker, "all_replicas": sum(per_broker.values())}


def measure(settings: Settings, resources: Resources, events: int, processes: tuple[int, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {"brokers": settings.kafka_brokers, "cores": os.cpu_count()}
    out["load_before"] = os.getloadavg()
    console.print(f"cluster bench: ingest {fmt_count(events)} events of the standard workload")
    ingest = measure_ingest(settings, resources, events, 500)
    schema = ingest["schema"]
    out["ingest"] = {"events": ingest["events"], "events_per_s": ingest["events_per_s"], "seconds": ingest["seconds"]}
    topic = resources.topic("cluster")
    resources.topics.append(f"{topic}-schemas")
    console.print(f"cluster bench: publish {schema} → {topic}")
    published = measure_publish(settings, schema, topic)
    out["publish"] = {k: published[k] for k in ("events", "seconds", "events_per_s")}
    stored = int(published["events"])  # every event of the store (the set-up's creditor and debtors too)
    pg = store_bytes(settings.pg_dsn, schema)
    out["postgres"] = {"bytes": pg, "events": stored, "bytes_per_event": pg / stored}
    on_topic = topic_bytes(settings.kafka_bootstrap, topic)
    replicas = max(1, sum(1 for size in on_topic["per_broker"].values() if size))
    out["topic"] = {
        **on_topic,
        "replicas": replicas,
        "bytes_per_event_per_replica": on_topic["all_replicas"] / replicas / stored,
        "bytes_per_event_all_replicas": on_topic["all_replicas"] / stored,
    }
    console.print(f"cluster bench: project with {', '.join(map(str, processes))} projector processes")
    out["scale_out"] = measure_scale_out(settings, resources, topic, processes=processes)
    out["load_after"] = os.getloadavg()
    return out


def render(result: dict[str, Any]) -> Table:
    table = Table(
        title=f"cluster bench · {result['brokers']} broker(s) · {result['cores']} cores", title_justify="left"
    )
    for column in ("what", "value"):
        table.add_column(column)
    table.add_row("ingest (1 process)", f"{fmt_number(result['ingest']['events_per_s'])} events/s")
    table.add_row("publish (1 process, acks=all)", f"{fmt_number(result['publish']['events_per_s'])} events/s")
    table.add_row("PostgreSQL", f"{fmt_number(result['postgres']['bytes_per_event'])} bytes/event")
    topic = result["topic"]
    table.add_row(
        "topic",
        f"{fmt_number(topic['bytes_per_event_per_replica'])} bytes/event per replica, "
        f"{fmt_number(topic['bytes_per_event_all_replicas'])} over {topic['replicas']} replicas",
    )
    scale = result["scale_out"]
    for key, run in scale.items():
        if isinstance(run, dict):
            table.add_row(f"project, {key} process(es)", f"{fmt_number(run['events_per_s'])} events/s")
    table.add_row("load average before / after", f"{result['load_before'][0]:.1f} / {result['load_after'][0]:.1f}")
    return table


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kravsak.bench.cluster", description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000, help="events of the standard workload (default 10000)")
    parser.add_argument(
        "--processes", type=int, nargs="+", default=[1, 2, 4], help="projector processes per run (default 1 2 4)"
    )
    args = parser.parse_args(argv)
    if args.events < 100 or any(n < 1 for n in args.processes):
        parser.error("--events must be at least 100 and every --processes at least 1")
    settings = load_settings()
    resources = Resources(settings)
    started = time.monotonic()
    try:
        result = measure(settings, resources, args.events, tuple(args.processes))
    finally:
        for problem in resources.cleanup():
            console.print(f"[yellow]{problem}[/]")
    result["wall_seconds"] = round(time.monotonic() - started, 1)
    result["date"] = datetime.now(UTC).date().isoformat()
    path = ROOT / "bench" / "results" / f"{result['date']}-cluster.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    console.print(render(result))
    console.print(f"written {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
