"""The three services outlive their servers: a PostgreSQL restart and a broker restart under them.

The publisher, the projector and the process manager run as their own processes (``python -m
kravsak.services …``, as in production) against a PostgreSQL cluster and a Kafka broker of this
module's own, so they can be stopped and started under them without disturbing other tests. Events
keep coming: the test stores more of the workload, and the simulated clock moves a day, so the
process manager ticks and issues commands while the services recover. Each test ends with no
service exited, each having logged the outage and its recovery, each beating again
(`kravsak health SERVICE` exits 0), every stored event on the topic in its case's order, the
process manager's tick done, and the projections equal to a clean rebuild (`verify` == []).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from pathlib import Path
from typing import Any
from uuid import uuid4

import psycopg
import pytest
from kafka import KafkaConsumer, TopicPartition

from consumers.automate import DEFAULT_NAMESPACE, SimulatedClock, last_tick
from consumers.heartbeat import beats
from consumers.kafka_access import client_args
from consumers.projector import projection_names, verify
from consumers.publisher import publisher_lag
from kravsak import wiring  # noqa: F401 - the letters read model runs with the core ones, as in the services
from kravsak.settings import Settings
from kravsak.stack.base import quiet
from kravsak.stack.kafka import LocalKafka
from kravsak.stack.postgres import LocalPostgres
from tests.integration.test_publisher_faults import check_stream, read_topic
from tests.support.stack import (
    app_for,
    copy_events,
    create_event_store,
    private_kafka,
    private_postgres,
    workload_log,
)

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("publisher", "projector", "automate")
FIRST_DAY = date(2025, 12, 1)  # after every event of the workload: the process manager has work to do
EVENTS = 1000
PARTITIONS = 4


@pytest.fixture(scope="module")
def servers(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalPostgres, LocalKafka]]:
    with (
        private_postgres(settings, tmp_path_factory.mktemp("pg-home")) as postgres,
        private_kafka(settings, tmp_path_factory.mktemp("kafka-home")) as kafka,
    ):
        yield postgres, kafka


@dataclass
class Pipeline:
    """One test's names on the private servers, and its three service processes."""

    postgres: LocalPostgres
    kafka: LocalKafka
    logs: Path
    tag: str = field(default_factory=lambda: uuid4().hex[:8])
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def settings(self) -> Settings:
        return replace(self.postgres.settings, kafka_port=self.kafka.settings.kafka_port)

    @property
    def dsn(self) -> str:
        return self.postgres.settings.pg_dsn

    @property
    def bootstrap(self) -> str:
        return self.kafka.settings.kafka_bootstrap

    @property
    def topic(self) -> str:
        return f"case-events-{self.tag}"

    @property
    def event_store(self) -> str:
        return f"es_{self.tag}"

    @property
    def automate_schema(self) -> str:
        return f"automate_{self.tag}"

    @property
    def suffix(self) -> str:
        return f"_{self.tag}"

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "KRAVSAK_PG_DSN": self.dsn,
            "KRAVSAK_KAFKA_BOOTSTRAP": self.bootstrap,
            "KRAVSAK_PG_SCHEMA": self.event_store,
            "KRAVSAK_PUBLISHER_TOPIC": self.topic,
            "KRAVSAK_PUBLISHER_SCHEMAS_TOPIC": f"{self.topic}-schemas",
            "KRAVSAK_PUBLISHER_BATCH": "300",
            "KRAVSAK_PROJECTOR_TOPIC": self.topic,
            "KRAVSAK_PROJECTOR_GROUP": f"projector-{self.tag}",
            "KRAVSAK_PROJECTOR_SCHEMA_SUFFIX": self.suffix,
            "KRAVSAK_PROJECTOR_BATCH": "300",
            "KRAVSAK_AUTOMATE_TOPIC": self.topic,
            "KRAVSAK_AUTOMATE_GROUP": f"automate-{self.tag}",
            "KRAVSAK_AUTOMATE_SCHEMA": self.automate_schema,
            "KRAVSAK_AUTOMATE_CLOCK": "simulated",
            "KRAVSAK_AUTOMATE_CLOCK_NAME": "outages",
            "KRAVSAK_CASE_EVENTS_PARTITIONS": str(PARTITIONS),
            "KRAVSAK_HEARTBEAT_S": "1",
            "KRAVSAK_LOG_FORMAT": "json",
            "PYTHONUNBUFFERED": "1",
        }

    def start(self, services: tuple[str, ...] = SERVICES) -> None:
        for service in services:
            with (self.logs / f"{service}.log").open("ab") as out:
                self.processes[service] = subprocess.Popen(
                    [sys.executable, "-m", "kravsak.services", service],
                    cwd=ROOT,
                    env=self.env(),
                    stdout=out,
                    stderr=out,
                )

    def lines(self, service: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        path = self.logs / f"{service}.log"
        if not path.exists():
            return out
        for line in path.read_text(errors="replace").splitlines():
            if line.startswith("{"):
                out.append(json.loads(line))
        return out

    def marks(self) -> dict[str, int]:
        return {s: len(self.lines(s)) for s in SERVICES}

    def tails(self) -> str:
        return "\n".join(
            f"--- {s}\n" + "\n".join((self.logs / f"{s}.log").read_text(errors="replace").splitlines()[-12:])
            for s in self.processes
        )

    def all_alive(self) -> None:
        exited = {s: p.returncode for s, p in self.processes.items() if p.poll() is not None}
        assert not exited, f"services exited: {exited}\n{self.tails()}"

    def wait(self, what: str, condition: Callable[[], bool], timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while True:
            self.all_alive()
            try:
                if condition():
                    return
            except psycopg.OperationalError:
                pass  # the test's own look is refused while the server restarts
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout_s:g} s waiting until {what}\n{self.tails()}")
            time.sleep(0.3)

    # -- how far each service is -------------------------------------------------------------------

    def published(self) -> bool:
        return publisher_lag(self.dsn, name=self.topic, schema=self.event_store) == 0

    def projected(self) -> bool:
        consumer = KafkaConsumer(**client_args(self.bootstrap), group_id=None, request_timeout_ms=5000)
        try:
            ends = consumer.end_offsets([TopicPartition(self.topic, p) for p in range(PARTITIONS)])
        finally:
            consumer.close()
        total = sum(ends.values())
        with psycopg.connect(self.dsn, autocommit=True, connect_timeout=3) as conn:
            for name in projection_names():
                row = conn.execute(
                    f'SELECT coalesce(sum(next_offset), 0) FROM "kravsak_{name}{self.suffix}".offsets WHERE topic = %s',
                    (self.topic,),
                ).fetchone()
                if row is None or int(row[0]) < total:
                    return False
        return total > 0

    def ticked(self, day: date) -> bool:
        with psycopg.connect(self.dsn, autocommit=True, connect_timeout=3) as conn:
            return last_tick(conn, DEFAULT_NAMESPACE, self.automate_schema) == day

    def settled(self, day: date) -> bool:
        """The process manager ticked ``day`` and everything stored since is published and projected."""
        return self.ticked(day) and self.published() and self.projected()

    def clock(self, day: date) -> None:
        clock = SimulatedClock(self.dsn, "outages", schema=self.automate_schema)
        try:
            clock.set(day)
        finally:
            clock.close()

    def beating(self) -> bool:
        """Each of the three processes beat within the last 5 s (the services beat every second)."""
        with psycopg.connect(self.dsn, autocommit=True, connect_timeout=3) as conn:
            fresh = {b.pid for b in beats(conn) if b.age_s < 5 and b.state == "running"}
        return all(p.pid in fresh for p in self.processes.values())

    def health(self) -> dict[str, int]:
        """`kravsak health SERVICE` for the three, side by side: their exit codes."""
        runs = {
            s: subprocess.Popen(
                [sys.executable, "-m", "kravsak.cli", "health", s, "--max-age", "10"],
                cwd=ROOT,
                env=self.env(),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for s in SERVICES
        }
        return {s: p.wait(60) for s, p in runs.items()}

    def stop(self) -> dict[str, int | None]:
        for p in self.processes.values():
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        codes: dict[str, int | None] = {}
        for service, p in self.processes.items():
            try:
                codes[service] = p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
                codes[service] = None
        return codes


@pytest.fixture
def pipeline(servers: tuple[LocalPostgres, LocalKafka], tmp_path: Path) -> Iterator[Pipeline]:
    postgres, kafka = servers
    pipe = Pipeline(postgres, kafka, tmp_path)
    create_event_store(pipe.dsn, pipe.event_store)
    yield pipe
    for p in pipe.processes.values():
        if p.poll() is None:
            p.kill()
            p.wait(10)


def _store(pipe: Pipeline, notifications: list[Any]) -> None:
    app = app_for(pipe.settings, pipe.event_store)
    try:
        copy_events(app, notifications, chunk=400)
    finally:
        app.close()


def _two_parts(events: int) -> tuple[list[Any], list[Any]]:
    """The workload's first half, and of the second half only the claims that start there: the
    process manager writes to the claims it follows, so the test must not append to those."""
    workload = workload_log(events)
    first, later = workload[: events // 2], workload[events // 2 :]
    followed = {n.originator_id for n in first if n.topic.startswith("domain.claim:Claim.")}
    return first, [n for n in later if n.originator_id not in followed]


def _start_and_settle(pipe: Pipeline, first: list[Any]) -> None:
    _store(pipe, first)
    pipe.clock(FIRST_DAY)
    pipe.start()
    pipe.wait("the first day ticked, published and projected", lambda: pipe.settled(FIRST_DAY), 120)
    pipe.wait("every service beating", pipe.beating, 10)


def _check_the_end(
    pipe: Pipeline, day: date, since: dict[str, int], outage_events: dict[str, tuple[str, ...]], *, must_notice: bool
) -> dict[str, int]:
    """Every service survived and beats again (with ``must_notice``: logged the outage and recovered);
    the stream and the read models are whole. Returns the outage lines per service since the fault."""
    pipe.wait("the next day ticked, published and projected", lambda: pipe.settled(day), 120)
    pipe.wait("every service beating again", pipe.beating, 30)
    assert pipe.health() == {s: 0 for s in SERVICES}
    with psycopg.connect(pipe.dsn, autocommit=True) as conn:
        pids = {b.service: b.pid for b in beats(conn) if b.pid in {p.pid for p in pipe.processes.values()}}
    assert pids == {s: p.pid for s, p in pipe.processes.items()}, pids
    seen: dict[str, int] = {}
    for service in SERVICES:
        names = [line.get("event") for line in pipe.lines(service)[since[service] :]]
        seen[service] = sum(1 for n in names if n in outage_events[service])
        assert not must_notice or seen[service] >= 1, f"{service} logged no outage\n{pipe.tails()}"
        assert not must_notice or "reconnected" in names or "publisher.resumed" in names, pipe.tails()
    assert pipe.stop() == {s: 0 for s in SERVICES}, pipe.tails()
    with psycopg.connect(pipe.dsn, autocommit=True) as conn:
        left = [b for b in beats(conn) if b.pid in {p.pid for p in pipe.processes.values()}]
    assert left == [], "a cleanly stopped service left its heartbeat row"

    app = app_for(pipe.settings, pipe.event_store)
    try:
        stored = list(app.recorder.select_notifications(start=1, limit=10**6))
    finally:
        app.close()
    check_stream(read_topic(pipe.bootstrap, pipe.topic), stored)
    differences = verify(pipe.dsn, pipe.bootstrap, projection_names(), topic=pipe.topic, schema_suffix=pipe.suffix)
    assert differences == []
    return seen


OUTAGE_LINES = {service: ("publisher.retrying", "outage; reconnecting") for service in SERVICES}


def test_a_postgresql_restart_under_the_three_services(pipeline: Pipeline) -> None:
    """PostgreSQL stops (fast: every session gets AdminShutdown) and starts again 3 s later while
    the services idle or work; then more events arrive and a new day begins. All three reconnect."""
    first, later = _two_parts(EVENTS)
    _start_and_settle(pipeline, first)
    since = pipeline.marks()

    pipeline.postgres.stop(quiet)
    time.sleep(3)
    pipeline.all_alive()
    pipeline.postgres.ensure_running(quiet)
    _store(pipeline, later)
    pipeline.clock(date(2025, 12, 2))

    seen = _check_the_end(pipeline, date(2025, 12, 2), since, OUTAGE_LINES, must_notice=True)
    print(f"PostgreSQL restart survived by every service; outage lines logged: {seen}")


def test_a_broker_restart_under_the_three_services(pipeline: Pipeline) -> None:
    """The broker stops and starts again while the services run; meanwhile events are stored and a
    new day begins, so the publisher and the process manager have work that waits for the broker."""
    first, later = _two_parts(EVENTS)
    _start_and_settle(pipeline, first)
    since = pipeline.marks()

    pipeline.kafka.stop(quiet)
    _store(pipeline, later)
    pipeline.clock(date(2025, 12, 2))
    time.sleep(3)
    pipeline.all_alive()
    assert publisher_lag(pipeline.dsn, name=pipeline.topic, schema=pipeline.event_store) > 0
    pipeline.kafka.ensure_running(quiet)

    lines = {s: ("publisher.retrying", "outage; reconnecting", "automate.tick_postponed") for s in SERVICES}
    seen = _check_the_end(pipeline, date(2025, 12, 2), since, lines, must_notice=False)
    print(f"broker restart survived by every service; outage or re-assignment lines logged: {seen}")


def _joined_in(pipe: Pipeline, since: int) -> float:
    """Seconds from the projector's `projector.started` line to its first `partition assigned`,
    both after line ``since`` of its log."""
    stamps: dict[str, float] = {}
    for line in pipe.lines("projector")[since:]:
        event = line.get("event")
        if event in ("projector.started", "partition assigned") and event not in stamps:
            stamps[event] = datetime.fromisoformat(line["timestamp"]).timestamp()
    return stamps["partition assigned"] - stamps["projector.started"]


def test_a_restarted_projector_gets_its_partitions_within_seconds(pipeline: Pipeline) -> None:
    """Stopped (SIGTERM: it closes its consumer, leaving the group) or killed (SIGKILL: the group
    waits out the 10 s session), a projector started again holds its partitions within seconds."""
    _store(pipeline, workload_log(300))

    def restart() -> float:
        since = len(pipeline.lines("projector"))
        pipeline.start(("projector",))
        pipeline.wait(
            "the projector assigned",
            lambda: any(x.get("event") == "partition assigned" for x in pipeline.lines("projector")[since:]),
            60,
        )
        return _joined_in(pipeline, since)

    first = restart()
    pipeline.processes["projector"].send_signal(signal.SIGTERM)
    assert pipeline.processes["projector"].wait(30) == 0
    after_stop = restart()
    pipeline.processes["projector"].kill()
    pipeline.processes["projector"].wait(10)
    after_kill = restart()
    pipeline.stop()
    print(
        f"partitions assigned {first:.1f} s after start,",
        f"{after_stop:.1f} s after a stop, {after_kill:.1f} s after a kill",
    )
    assert after_stop < 5.0, "a stopped projector did not leave the group"
    assert after_kill < 15.0, "the group waited longer than the 10 s session for a killed projector"
