"""What the integration tests set up on the running stack: the standard workload, event stores,
topics and projection schemas of their own, each removed again afterwards.

The pieces the benchmarks use as well come from ``kravsak.bench.workload`` (the workload, made in
memory) and ``kravsak.bench.scratch`` (throw-away stores, topics and schemas); the tests reach them
only through this module.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from eventsourcing.persistence import Notification

from domain.application import CollectionApp
from kravsak.bench.scratch import (
    app_for,
    copy_events,
    create_event_store,
    delete_topics,
    drop_event_store,
    drop_schemas,
    encoded_events,
    produce,
)
from kravsak.bench.workload import EVENTS_PER_CLAIM, workload_app, workload_notifications
from kravsak.settings import Settings, ensure_local_master_key
from kravsak.stack.base import quiet
from kravsak.stack.kafka import LocalKafka
from kravsak.stack.postgres import LocalPostgres
from kravsak.stack.procs import port_is_free

__all__ = [
    "Workload",
    "app_for",
    "copy_events",
    "delete_topics",
    "drop_schemas",
    "encoded_workload",
    "private_cluster",
    "private_kafka",
    "private_postgres",
    "produce",
    "scratch_event_store",
    "scratch_topics",
    "workload_log",
    "workload_notifications",
]


@dataclass
class Workload:
    app: CollectionApp
    records: list[tuple[bytes, bytes]]
    """(key, value) as the publisher sends them, in log order."""


def encoded_workload(events: int, *, seed: int = 7) -> Workload:
    """At least ``events`` events of the standard workload in memory, and encoded as on the topic."""
    app = workload_app(events, seed=seed)
    return Workload(app, encoded_events(app))


def workload_log(events: int) -> list[Notification]:
    """``events`` notifications of the standard workload (at least 10 claims' worth made), in memory."""
    return workload_notifications(max(int(events / EVENTS_PER_CLAIM), 10))[:events]


@contextmanager
def scratch_event_store(settings: Settings, schema: str, events: Sequence[Notification] = ()) -> Iterator[str]:
    """A PostgreSQL schema of its own (own events table, notification ids and position table),
    holding ``events``; dropped afterwards."""
    create_event_store(settings.pg_dsn, schema)
    try:
        if events:
            app = app_for(settings, schema)
            try:
                copy_events(app, events)
            finally:
                app.close()
        yield schema
    finally:
        drop_event_store(settings.pg_dsn, schema)


@contextmanager
def scratch_topics(settings: Settings, *names: str) -> Iterator[tuple[str, ...]]:
    """Topic names that are deleted afterwards (created by whoever uses them)."""
    try:
        yield names
    finally:
        delete_topics(settings.kafka_bootstrap, names)


# --- servers of a test's own, to stop and start under the services ---------------------------------


def free_port() -> int:
    """A free port outside the kernel's ephemeral range (``free_ports``)."""
    return free_ports(1)


def ephemeral_ports(table: Path = Path("/proc/sys/net/ipv4/ip_local_port_range")) -> range:
    """The ports the kernel gives outgoing connections (Linux's default where the table cannot be read)."""
    try:
        low, high = (int(part) for part in table.read_text().split())
    except (OSError, ValueError):
        low, high = 32768, 60999
    return range(low, high + 1)


def free_ports(count: int) -> int:
    """The first of ``count`` consecutive free ports for a test's own servers, outside the ephemeral range.

    A port the kernel chose (``bind(0)``) is an ephemeral one: while a test has a cluster node down, any outgoing
    connection (a client reconnecting to that very node, which then connects to itself) may take the node's port
    as its own, and the node cannot start again (a cluster test failed so: "port … in use by another process").
    Ports below and above the ephemeral range are never handed out that way."""
    ephemeral = ephemeral_ports()
    spans = [range(10_000, max(ephemeral.start - count, 10_000)), range(ephemeral.stop, 65_536 - count)]
    choices = [span for span in spans if len(span)]
    rng = random.Random()
    for _ in range(200):
        first = rng.choice(rng.choice(choices))
        if all(port_is_free(first + n) for n in range(count)):
            return first
    raise RuntimeError(f"found no {count} consecutive free ports outside the ephemeral range {ephemeral}")


def _linked_jars(settings: Settings, home: Path) -> None:
    jars = settings.home / "kafka" / "lib" / settings.kafka_version
    if jars.is_dir():
        (home / "kafka" / "lib").mkdir(parents=True)
        (home / "kafka" / "lib" / settings.kafka_version).symlink_to(jars)


@contextmanager
def private_cluster(
    settings: Settings, home: Path, *, brokers: int = 3, first_port: int | None = None
) -> Iterator[LocalKafka]:
    """A KRaft cluster of the test's own (ADR 0031; the same jars, its own data): its nodes can be killed
    without disturbing anyone. ``first_port``: nodes take ``3 * brokers`` ports from there (node 1 the
    first three); None: free ones."""
    _linked_jars(settings, home)
    base = first_port if first_port is not None else free_ports(3 * brokers)
    own = replace(
        settings,
        home=home,
        kafka_port=base,
        kafka_controller_port=base + 1,
        kafka_tls_port=base + 2,
        kafka_brokers=brokers,
        kafka_node_ports=base + 3,
        kafka_heap="384m",
        start_timeout=120,
        external_kafka_bootstrap=None,
    )
    kafka = LocalKafka(own)
    kafka.ensure_running(quiet)
    try:
        yield kafka
    finally:
        kafka.stop(quiet)


@contextmanager
def private_kafka(settings: Settings, home: Path) -> Iterator[LocalKafka]:
    """A broker of the test's own (the same jars, its own data and ports): stopping it disturbs no one."""
    with private_cluster(settings, home, brokers=1) as kafka:
        yield kafka


@contextmanager
def private_postgres(settings: Settings, home: Path) -> Iterator[LocalPostgres]:
    """A PostgreSQL cluster of the test's own (its own data and port): stopping it disturbs no one."""
    own = replace(settings, home=home, pg_port=free_port(), start_timeout=90, external_pg_dsn=None)
    ensure_local_master_key(own)  # as `kravsak up` does: the office's key of this home
    postgres = LocalPostgres(own)
    postgres.ensure_running(quiet)
    try:
        yield postgres
    finally:
        postgres.stop(quiet)
        postgres.purge()
