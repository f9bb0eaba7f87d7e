"""Faults of a three-node Kafka cluster under load (issue 17 point 2, ADR 0031): `make test-cluster`.

A KRaft cluster of this module's own (three broker+controller nodes, `private_cluster`), a PostgreSQL of
its own, and the three services as their own processes (``python -m kravsak.services …``), the
publisher writing with ``acks=all`` into a topic of replication 3 and ``min.insync.replicas`` 2. Under
load — events being stored while the publisher publishes and the projector projects, and a new day for
the process manager, which issues its commands — a node is SIGKILLed: any broker, the active controller,
one that comes back and must catch up, and two at once (the publisher must wait, then go on without
loss when one returns). Each test ends in the independent checks: every stored event on the topic (the
distinct event ids equal the store's, duplicates being byte-equal copies), each case in order on one
partition, every service alive, beating and stopping with 0, and the projections equal to a clean
rebuild (`verify` == []). Waits are on what the cluster reports (leaders, the quorum's leader, in-sync
replicas), not on fixed sleeps — except the window in which the publisher must make no progress.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterator
from datetime import date
from typing import Any

import psycopg
import pytest
from kafka import KafkaAdminClient
from kafka.errors import KafkaError

from consumers.kafka_access import client_args
from consumers.publisher import publisher_lag, read_position
from kravsak.stack.base import quiet
from kravsak.stack.kafka import LocalKafka
from kravsak.stack.postgres import LocalPostgres
from tests.integration.test_service_outages import (
    SERVICES,
    Pipeline,
    _check_the_end,
    _start_and_settle,
    _two_parts,
)
from tests.support.stack import app_for, copy_events

pytestmark = [pytest.mark.integration, pytest.mark.cluster]

EVENTS = 2000
NEXT_DAY = date(2025, 12, 2)
FAULT_LINES: dict[str, tuple[str, ...]] = {
    s: ("publisher.retrying", "outage; reconnecting", "automate.tick_postponed") for s in SERVICES
}


class Cluster:
    """What the cluster itself says, through an admin client that knows every node."""

    def __init__(self, kafka: LocalKafka) -> None:
        self.kafka = kafka

    def _ask(self, question: Callable[[KafkaAdminClient], Any], timeout_s: float = 20) -> Any:
        """``question``'s answer; a request that went to a node just killed is asked again."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                admin = KafkaAdminClient(
                    **client_args(self.kafka.settings.kafka_bootstrap),
                    client_id="cluster-test",
                    request_timeout_ms=5000,
                    bootstrap_timeout_ms=5000,
                )
                try:
                    return question(admin)
                finally:
                    admin.close()
            except (KafkaError, OSError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)

    def partitions(self, topic: str | None = None) -> list[dict[str, Any]]:
        topics = self._ask(lambda admin: admin.describe_topics([topic] if topic else None))
        return [p for t in topics for p in t.get("partitions", [])]

    def controller(self) -> int:
        """The active controller: the leader of the KRaft metadata quorum."""
        quorum = self._ask(lambda admin: admin.describe_metadata_quorum())
        return int(quorum["topics"][0]["partitions"][0]["leader_id"])

    def under_replicated(self, topic: str | None = None) -> int:
        return sum(1 for p in self.partitions(topic) if len(p["isr_nodes"]) < len(p["replica_nodes"]))

    def leaders(self, topic: str) -> set[int]:
        return {p["leader_id"] for p in self.partitions(topic)}

    def kill(self, node_id: int) -> None:
        node = self.kafka.node(node_id)
        pid = node.signal(signal.SIGKILL)
        assert pid is not None, f"node {node_id} was not running"
        node.wait_stopped(pid)

    def whole(self) -> bool:
        """Every node runs and no partition of any topic lacks an in-sync replica."""
        return all(node.pid() for node in self.kafka.nodes) and self.under_replicated() == 0


class Load(threading.Thread):
    """Stores ``notifications`` in small transactions while the services run: the load under the fault."""

    def __init__(self, pipe: Pipeline, notifications: list[Any], chunk: int = 40, pause_s: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.pipe, self.notifications, self.chunk, self.pause_s = pipe, notifications, chunk, pause_s
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            app = app_for(self.pipe.settings, self.pipe.event_store)
            try:
                for start in range(0, len(self.notifications), self.chunk):
                    copy_events(app, self.notifications[start : start + self.chunk])
                    time.sleep(self.pause_s)
            finally:
                app.close()
        except BaseException as exc:  # reported by finish()
            self.error = exc

    def finish(self, timeout_s: float = 120) -> None:
        self.join(timeout_s)
        assert not self.is_alive(), "storing the load took too long"
        assert self.error is None, f"storing the load failed: {self.error!r}"


def position(pipe: Pipeline) -> int:
    with psycopg.connect(pipe.dsn, autocommit=True, connect_timeout=3) as conn:
        return read_position(conn, pipe.topic, pipe.event_store)


@pytest.fixture
def cluster(servers: tuple[LocalPostgres, LocalKafka]) -> Iterator[Cluster]:
    """The cluster, whole before the test; made whole again after it (nodes started, caught up)."""
    cluster = Cluster(servers[1])
    yield cluster
    servers[1].ensure_running(quiet)
    deadline = time.monotonic() + 120
    while not cluster.whole():
        assert time.monotonic() < deadline, "the cluster did not become whole again within 120 s"
        time.sleep(0.5)


def _under_load(pipe: Pipeline) -> tuple[Load, int]:
    """The first half stored, published, projected and ticked; then the second half being stored and
    published: returns the load and how many events the store held before it."""
    first, later = _two_parts(EVENTS)
    _start_and_settle(pipe, first)
    load = Load(pipe, later)
    load.start()
    pipe.wait("the load being published", lambda: position(pipe) > len(first) + 80, 60)
    return load, len(first)


def _finish(pipe: Pipeline, load: Load, since: dict[str, int]) -> None:
    load.finish()
    pipe.clock(NEXT_DAY)  # the process manager's next day: commands issued while the cluster recovers
    seen = _check_the_end(pipe, NEXT_DAY, since, FAULT_LINES, must_notice=False)
    print(f"fault lines logged per service: {seen}")


def test_one_broker_killed_while_publishing_and_projecting(pipeline: Pipeline, cluster: Cluster) -> None:
    """A broker that leads partitions of the topic (not the active controller) is SIGKILLed mid-load:
    its partitions get new leaders, nothing stops, nothing is lost."""
    load, _ = _under_load(pipeline)
    controller = cluster.controller()
    victim = min(cluster.leaders(pipeline.topic) - {controller})
    since = pipeline.marks()

    cluster.kill(victim)
    pipeline.wait(
        f"no partition led by the killed node {victim}", lambda: victim not in cluster.leaders(pipeline.topic), 60
    )
    _finish(pipeline, load, since)


def test_the_active_controller_killed(pipeline: Pipeline, cluster: Cluster) -> None:
    """The KRaft quorum's leader is SIGKILLed mid-load: the two others elect a new one, nothing stops."""
    load, _ = _under_load(pipeline)
    controller = cluster.controller()
    since = pipeline.marks()

    cluster.kill(controller)
    pipeline.wait("another active controller", lambda: cluster.controller() not in (controller, -1), 60)
    pipeline.wait(
        f"no partition led by node {controller}", lambda: controller not in cluster.leaders(pipeline.topic), 60
    )
    _finish(pipeline, load, since)


def test_a_broker_brought_back_catches_up(pipeline: Pipeline, cluster: Cluster) -> None:
    """A broker is killed, falls out of the in-sync replicas while events keep coming, is started again
    and catches up: it is back in every partition's ISR and no partition is under-replicated."""
    load, _ = _under_load(pipeline)
    victim = max({1, 2, 3} - {cluster.controller()})
    since = pipeline.marks()

    cluster.kill(victim)
    pipeline.wait(
        "the killed node out of the in-sync replicas", lambda: cluster.under_replicated(pipeline.topic) > 0, 60
    )
    load.finish()
    behind = position(pipeline)
    cluster.kafka.start([cluster.kafka.node(victim)], quiet)
    pipeline.wait("no under-replicated partition", lambda: cluster.under_replicated() == 0, 120)
    partitions = cluster.partitions(pipeline.topic)
    assert all(victim in p["isr_nodes"] for p in partitions), partitions
    assert position(pipeline) >= behind
    pipeline.clock(NEXT_DAY)
    seen = _check_the_end(pipeline, NEXT_DAY, since, FAULT_LINES, must_notice=False)
    print(f"node {victim} caught up; fault lines logged per service: {seen}")


def test_two_brokers_down_the_publisher_waits_and_resumes_without_loss(pipeline: Pipeline, cluster: Cluster) -> None:
    """Two of three nodes are SIGKILLed: no write can reach two in-sync replicas (and the quorum has no
    majority), so the publisher acknowledges nothing and its position stays — it waits, alive. One node
    comes back: the publisher goes on, and nothing is lost."""
    first, later = _two_parts(EVENTS)
    _start_and_settle(pipeline, first)
    since = pipeline.marks()
    survivor = cluster.controller()
    victims = sorted({1, 2, 3} - {survivor})

    for victim in victims:
        cluster.kill(victim)
    before = position(pipeline)
    load = Load(pipeline, later, chunk=200, pause_s=0)
    load.start()
    load.finish()
    assert publisher_lag(pipeline.dsn, name=pipeline.topic, schema=pipeline.event_store) >= len(later)
    watched = time.monotonic()
    while time.monotonic() - watched < 10:  # the window in which nothing may be acknowledged
        pipeline.all_alive()
        assert position(pipeline) == before, "the publisher acknowledged a write with two of three nodes down"
        time.sleep(0.5)

    cluster.kafka.start([cluster.kafka.node(victims[0])], quiet)
    pipeline.wait("the publisher caught up", pipeline.published, 180)
    assert position(pipeline) > before
    pipeline.clock(NEXT_DAY)
    seen = _check_the_end(pipeline, NEXT_DAY, since, FAULT_LINES, must_notice=False)
    print(f"publisher waited {len(later)} events through the outage; fault lines logged: {seen}")
