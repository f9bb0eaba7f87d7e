"""The publisher under faults, against the real PostgreSQL and Kafka.

Each test has an event store of its own (a PostgreSQL schema: its own notification log and
position table) and topics of its own. The publisher runs as a separate process, as in
production, and is killed, has its broker restarted under it, or meets an event it cannot
publish. Afterwards the whole topic is read back and checked: every stored event is there, each
case's events come in version order once duplicates are dropped by event id, and a duplicate is
the same record as its first copy.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path
from typing import Any, cast
from uuid import UUID

import pytest
from eventsourcing.persistence import StoredEvent
from kafka import KafkaConsumer, TopicPartition

from consumers.kafka_access import client_args
from consumers.publisher import (
    EVENTS_TABLE,
    PublisherOptions,
    held_cases,
    publisher_lag,
    read_position,
    release_case,
    run_publisher,
)
from consumers.wire import envelope
from consumers.wire.codec import SchemaStore, decode
from domain.claim import Claim
from domain.errors import ServiceError
from kravsak.settings import Settings
from kravsak.stack.base import quiet
from kravsak.stack.kafka import LocalKafka
from tests.support.stack import app_for, copy_events, delete_topics, scratch_event_store, workload_log
from tests.support.stack import private_kafka as own_kafka

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
EVENTS = int(os.environ.get("KRAVSAK_FAULT_TEST_EVENTS", "20000"))
SCHEMAS = SchemaStore.from_directory(REPO / "schemas")


# --- fixtures and helpers ----------------------------------------------------------------------


@pytest.fixture
def event_store(settings: Settings, pg_dsn: str, unique: Callable[[str], str]) -> Iterator[str]:
    """A PostgreSQL schema of its own: own events table, own notification ids, own position table."""
    with scratch_event_store(settings, unique("pubtest").replace("-", "_")) as schema:
        yield schema


@pytest.fixture
def topic(unique: Callable[[str], str], kafka_bootstrap: str) -> Iterator[str]:
    name = unique("test-case-events")
    yield name
    delete_topics(kafka_bootstrap, [name, f"{name}-schemas"])


def expected_ids(notifications: list[Any]) -> set[str]:
    return {_event_id(n.originator_id, n.originator_version) for n in notifications}


def _event_id(originator_id: Any, version: int) -> str:
    from types import SimpleNamespace

    ident = SimpleNamespace(originator_id=originator_id, originator_version=version)
    return str(envelope.event_id(cast(envelope.Event, ident)))


@dataclass
class PublisherProcess:
    process: subprocess.Popen[bytes]
    log_file: Path

    def lines(self) -> list[dict[str, Any]]:
        out = []
        for line in self.log_file.read_text(errors="replace").splitlines():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                continue
        return out

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)
            raise AssertionError(f"the publisher did not stop within {timeout} s; log: {self.tail()}") from None

    def tail(self, n: int = 15) -> str:
        return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-n:])


@pytest.fixture
def start_publisher(tmp_path: Path) -> Iterator[Callable[..., PublisherProcess]]:
    started: list[PublisherProcess] = []

    def start(schema: str, topic: str, bootstrap: str | None = None, **extra: str) -> PublisherProcess:
        env = {
            **os.environ,
            "KRAVSAK_PG_SCHEMA": schema,
            "KRAVSAK_PUBLISHER_TOPIC": topic,
            "KRAVSAK_PUBLISHER_SCHEMAS_TOPIC": f"{topic}-schemas",
            "KRAVSAK_CASE_EVENTS_PARTITIONS": "6",
            "KRAVSAK_PUBLISHER_BATCH": "500",
            "KRAVSAK_PUBLISHER_LAG_LOG_S": "1",
            "KRAVSAK_LOG_FORMAT": "json",
            **extra,
        }
        if bootstrap is not None:
            env["KRAVSAK_KAFKA_BOOTSTRAP"] = bootstrap
        log_file = tmp_path / f"publisher-{len(started)}.log"
        with log_file.open("wb") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "kravsak.services", "publisher"], cwd=REPO, env=env, stdout=out, stderr=out
            )
        started.append(PublisherProcess(process, log_file))
        return started[-1]

    yield start
    for p in started:
        if p.process.poll() is None:
            p.process.kill()
            p.process.wait(10)


def wait_until(
    condition: Callable[[], bool], timeout: float, what: str, interval: float = 0.05, log: Any = None
) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(
                f"timed out after {timeout:g} s waiting for {what}" + (f"; log:\n{log.tail(40)}" if log else "")
            )
        time.sleep(interval)


def topic_size(bootstrap: str, topic: str) -> int:
    consumer = KafkaConsumer(**client_args(bootstrap), group_id=None, request_timeout_ms=5000)
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        return sum(consumer.end_offsets(partitions).values()) if partitions else 0
    finally:
        consumer.close()


@dataclass
class Message:
    partition: int
    offset: int
    key: bytes
    value: bytes
    headers: dict[str, str]
    record: dict[str, Any]


def read_topic(bootstrap: str, topic: str, timeout: float = 30) -> list[Message]:
    """Every record on the topic, in partition order."""
    consumer = KafkaConsumer(**client_args(bootstrap), group_id=None, enable_auto_commit=False)
    try:
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        consumer.assign(partitions)
        consumer.seek_to_beginning()
        ends = consumer.end_offsets(partitions)
        messages: list[Message] = []
        deadline = time.monotonic() + timeout
        while any(consumer.position(tp) < ends[tp] for tp in partitions):
            assert time.monotonic() < deadline, f"reading {topic} took longer than {timeout} s"
            for records in consumer.poll(timeout_ms=500, max_records=5000).values():
                for r in records:
                    headers = {k: v.decode() for k, v in r.headers}
                    record = decode(r.value, writer_lookup=SCHEMAS.by_fingerprint)
                    messages.append(Message(r.partition, r.offset, r.key, r.value, headers, record))
        return messages
    finally:
        consumer.close()


def check_stream(messages: list[Message], stored: list[Any]) -> int:
    """Asserts the delivery guarantees over a topic's content; returns the number of duplicates."""
    first: dict[str, Message] = {}
    by_case: dict[bytes, list[int]] = defaultdict(list)
    partition_of_case: dict[bytes, int] = {}
    duplicates = 0
    for m in sorted(messages, key=lambda m: (m.partition, m.offset)):
        event_id = m.headers["event-id"]
        assert event_id == str(m.record["event_id"])
        assert m.headers["event-type"] == m.record["event_type"]
        assert m.headers["schema-fingerprint"] == m.value[2:10].hex()
        assert m.key == m.record["case_id"].encode()
        assert partition_of_case.setdefault(m.key, m.partition) == m.partition, "a case spans partitions"
        if event_id in first:
            duplicates += 1
            assert m.value == first[event_id].value, f"duplicate {event_id} differs from its first copy"
            continue
        first[event_id] = m
        by_case[m.key].append(m.record["aggregate_version"])
    missing = expected_ids(stored) - set(first)
    assert not missing, f"{len(missing)} stored events are not on the topic, e.g. {sorted(missing)[:3]}"
    assert len(first) == len(stored), "the topic holds events that were never stored"
    for key, versions in by_case.items():
        assert versions == list(range(1, len(versions) + 1)), f"case {key.decode()} out of order: {versions[:20]}"
    return duplicates


def lag(settings: Settings, schema: str, topic: str) -> int:
    return publisher_lag(settings.pg_dsn, name=topic, schema=schema)


def stored_position(settings: Settings, schema: str, topic: str) -> int:
    import psycopg

    with psycopg.connect(settings.pg_dsn, autocommit=True) as conn:
        try:
            return read_position(conn, topic, schema)
        except psycopg.errors.UndefinedTable:  # the publisher has not created it yet
            return 0


# --- (a) the publisher process is killed in the middle -----------------------------------------


def test_killed_publisher_resumes_and_loses_nothing(
    settings: Settings, event_store: str, topic: str, kafka_bootstrap: str, start_publisher: Callable[..., Any]
) -> None:
    """Store 20 000 events. Kill -9 the publisher halfway. Restart it. Every event is on the topic,
    each case in order; the only extras are copies of events already there."""
    notifications = workload_log(EVENTS)
    app = app_for(settings, event_store)
    copy_events(app, notifications)
    app.close()

    first = start_publisher(event_store, topic)
    wait_until(lambda: topic_size(kafka_bootstrap, topic) >= EVENTS // 4, 90, "a quarter of the events on the topic")
    first.process.send_signal(signal.SIGKILL)
    first.process.wait(10)
    on_topic, position = topic_size(kafka_bootstrap, topic), stored_position(settings, event_store, topic)
    assert on_topic < EVENTS, "the publisher finished before it could be killed: raise KRAVSAK_FAULT_TEST_EVENTS"
    assert position <= on_topic

    second = start_publisher(event_store, topic)
    wait_until(lambda: lag(settings, event_store, topic) == 0, 90, "lag 0 after the restart", 0.2, second)
    assert second.stop(signal.SIGTERM) == 0, second.tail()
    resumed = [line for line in second.lines() if line.get("event") == "publisher.resumed"]
    assert resumed and resumed[0]["position"] == position

    duplicates = check_stream(read_topic(kafka_bootstrap, topic), notifications)
    assert duplicates <= on_topic - position
    print(f"killed with {on_topic} records on the topic and position {position}; {duplicates} duplicates")


# --- (b) the broker stops and starts while the publisher runs ----------------------------------


@pytest.fixture
def private_kafka(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalKafka]:
    """A broker of this test's own (same jars, own data and ports), so stopping it disturbs no one."""
    with own_kafka(settings, tmp_path_factory.mktemp("kafka-home")) as kafka:
        yield kafka


def test_broker_restart_under_the_publisher_loses_nothing(
    settings: Settings, event_store: str, private_kafka: LocalKafka, start_publisher: Callable[..., Any]
) -> None:
    """Publish half the events. Stop the broker, store the other half, start the broker again.
    The publisher catches up by itself; every event is on the topic once (or more), in order."""
    bootstrap = private_kafka.settings.kafka_bootstrap
    topic = "case-events-restart"
    notifications = workload_log(EVENTS // 2)
    half = len(notifications) // 2
    app = app_for(settings, event_store)
    copy_events(app, notifications[:half])

    publisher = start_publisher(event_store, topic, bootstrap)
    wait_until(lambda: lag(settings, event_store, topic) == 0, 90, "the first half published", 0.2, publisher)
    private_kafka.stop(quiet)
    copy_events(app, notifications[half:], chunk=500)
    app.close()
    time.sleep(1.0)  # the publisher has read the new events and is retrying against the stopped broker
    assert lag(settings, event_store, topic) == len(notifications) - half, "position moved without a broker"
    assert publisher.process.poll() is None, publisher.tail()
    private_kafka.ensure_running(quiet)
    wait_until(lambda: lag(settings, event_store, topic) == 0, 90, "lag 0 after the broker restart", 0.2, publisher)
    assert publisher.stop(signal.SIGTERM) == 0, publisher.tail()

    check_stream(read_topic(bootstrap, topic), notifications)


# --- (c) an event that cannot be published holds back its case only ---------------------------


def _split_around_a_claim(notifications: list[Any], topic_suffix: str) -> tuple[list[Any], list[Any], Any, int]:
    """(head, tail, a claim notification in head whose aggregate has no events in tail, its last version)."""
    head, tail = notifications[: len(notifications) * 2 // 3], notifications[len(notifications) * 2 // 3 :]
    later = {n.originator_id for n in tail}
    chosen = next(n for n in reversed(head) if n.topic.endswith(topic_suffix) and n.originator_id not in later)
    last_version = max(n.originator_version for n in head if n.originator_id == chosen.originator_id)
    return head, tail, chosen, last_version


def _raw_insert(settings: Settings, schema: str, stored: StoredEvent) -> None:
    """Straight into the stored events table, past every check of the application, then NOTIFY."""
    import psycopg
    from psycopg import sql

    table = sql.SQL("{}.{}").format(sql.Identifier(schema), sql.Identifier(EVENTS_TABLE))
    with psycopg.connect(settings.pg_dsn, autocommit=True) as conn:
        conn.execute(
            sql.SQL("INSERT INTO {} (originator_id, originator_version, topic, state) VALUES (%s, %s, %s, %s)").format(
                table
            ),
            (stored.originator_id, stored.originator_version, stored.topic, stored.state),
        )
        conn.execute(sql.SQL("NOTIFY {}").format(sql.Identifier(EVENTS_TABLE)))


def _cli(schema: str, topic: str, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KRAVSAK_PG_SCHEMA": schema, "KRAVSAK_PUBLISHER_TOPIC": topic, "COLUMNS": "250", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "kravsak.cli", *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=60
    )


def test_an_unencodable_event_holds_only_its_case_until_released_after_the_fix(
    settings: Settings,
    event_store: str,
    topic: str,
    kafka_bootstrap: str,
    start_publisher: Callable[..., Any],
    unique: Callable[[str], str],
) -> None:
    """A payment of 99999999999999999999999999.99 kr (more øre than an Avro long holds) forced into
    the stored events table, and one more event of its case later: the running publisher holds
    both, every other case flows on in order, `kravsak status` and `kravsak publisher held` show the
    case. A release before the fix keeps it held; after the stored event is repaired, `kravsak
    publisher release` puts both on the topic in the case's order: nothing lost, nothing twice, and
    the projections built from the topic equal a clean rebuild (`verify` == [])."""
    from consumers.projector import RunnerOptions, project_once, verify
    from tests.support.stack import drop_schemas

    head, tail, payment, last_version = _split_around_a_claim(workload_log(1500), "Claim.PaymentRegistered")
    app = app_for(settings, event_store)
    copy_events(app, head)
    event = app.mapper.to_domain_event(payment)
    assert isinstance(event, Claim.PaymentRegistered)
    case = str(payment.originator_id)

    def forced(version: int, amount: str) -> StoredEvent:
        return app.mapper.to_stored_event(replace(event, originator_version=version, amount=Decimal(amount)))  # type: ignore[call-arg]

    _raw_insert(settings, event_store, forced(last_version + 1, "99999999999999999999999999.99"))
    publisher = start_publisher(event_store, topic)
    copy_events(app, tail[: len(tail) // 2], chunk=200)
    _raw_insert(settings, event_store, forced(last_version + 2, "1.00"))
    copy_events(app, tail[len(tail) // 2 :], chunk=200)
    stored = list(app.recorder.select_notifications(start=1, limit=10**6))
    bad_position = len(head) + 1

    wait_until(lambda: lag(settings, event_store, topic) == 0, 60, "every event published or held", 0.2, publisher)
    assert publisher.process.poll() is None, publisher.tail()
    held = [line for line in publisher.lines() if line.get("event") == "publisher.held"]
    assert len(held) == 1 and held[0]["position"] == bad_position and held[0]["case_id"] == case, publisher.tail()
    assert held[0]["event_type"] == "Claim.PaymentRegistered" and "too large" in held[0]["error"]
    held_ids = {n.id for n in stored if str(n.originator_id) == case and n.originator_version > last_version}
    assert len(held_ids) == 2
    wait_until(lambda: topic_size(kafka_bootstrap, topic) >= len(stored) - 2, 30, "the other cases on the topic")
    assert check_stream(read_topic(kafka_bootstrap, topic), [n for n in stored if n.id not in held_ids]) == 0

    listed = _cli(event_store, topic, "publisher", "held")
    assert listed.returncode == 0 and case in listed.stdout and "2" in listed.stdout, listed
    status = _cli(event_store, topic, "status")
    assert "1 held case(s)" in status.stdout and case in status.stdout, status

    too_soon = _cli(event_store, topic, "publisher", "release", case)
    assert too_soon.returncode == 1 and "still held" in too_soon.stderr, too_soon
    assert "0 of 2" in too_soon.stdout, too_soon

    import psycopg
    from psycopg import sql

    repaired = forced(last_version + 1, "10.00")
    table = sql.SQL("{}.{}").format(sql.Identifier(event_store), sql.Identifier(EVENTS_TABLE))
    # the operator's repair of the stored event: a deliberate act of the owner, who lifts the immutability guard
    # (ADR 0027) for this one statement, in one transaction
    with psycopg.connect(settings.pg_dsn) as conn, conn.transaction():
        conn.execute(sql.SQL("ALTER TABLE {} DISABLE TRIGGER kravsak_immutable").format(table))
        conn.execute(
            sql.SQL("UPDATE {} SET state = %s WHERE originator_id = %s AND originator_version = %s").format(table),
            (repaired.state, repaired.originator_id, repaired.originator_version),
        )
        conn.execute(sql.SQL("ALTER TABLE {} ENABLE TRIGGER kravsak_immutable").format(table))
    released = _cli(event_store, topic, "publisher", "release", case)
    assert released.returncode == 0, released
    assert "2 of 2 held event(s) published by the running publisher" in released.stdout, released
    assert held_cases(settings.pg_dsn, PublisherOptions(topic=topic, pg_schema=event_store)) == []
    assert publisher.stop(signal.SIGTERM) == 0, publisher.tail()
    app.close()

    messages = read_topic(kafka_bootstrap, topic)
    assert check_stream(messages, stored) == 0, "a released event came twice"
    case_messages = [m for m in messages if m.key == case.encode()]
    assert [m.record["aggregate_version"] for m in case_messages][-2:] == [last_version + 1, last_version + 2]

    suffix = "_" + unique("held").replace("-", "_")[-10:]
    options = RunnerOptions(topic=topic, group=unique("held-projector"), schema_suffix=suffix)
    try:
        project_once(settings.pg_dsn, kafka_bootstrap, options, timeout_s=60)
        names = ("ledger", "limitation", "audit")
        assert verify(settings.pg_dsn, kafka_bootstrap, names, topic=topic, schema_suffix=suffix) == []
    finally:
        drop_schemas(settings.pg_dsn, suffix)


def test_an_event_of_an_unknown_class_is_held_and_later_events_of_other_cases_go_out(
    settings: Settings, event_store: str, topic: str, kafka_bootstrap: str
) -> None:
    """A stored event whose class no longer exists: its case is held (a release without a fix keeps
    it so, naming the error again); the position reaches the end of the log and every other event
    is on the topic."""
    head, tail, claim, last_version = _split_around_a_claim(workload_log(400), "Claim.Invoiced")
    app = app_for(settings, event_store)
    copy_events(app, head)
    app.recorder.insert_events(
        [StoredEvent(claim.originator_id, last_version + 1, "domain.claim:Claim.Vanished", b"{}")]
    )
    copy_events(app, tail)
    stored = list(app.recorder.select_notifications(start=1, limit=10**6))
    app.close()
    options = PublisherOptions(topic=topic, schemas_topic=f"{topic}-schemas", pg_schema=event_store, partitions=3)

    report = run_publisher(settings, once=True, options=options)

    assert (report.held, report.published) == (1, len(stored) - 1)
    assert stored_position(settings, event_store, topic) == len(stored)
    [case] = held_cases(settings.pg_dsn, options)
    assert case.case_id == str(claim.originator_id) and case.events == 1
    assert case.first.event_type == "Claim.Vanished" and case.first.notification_id == len(head) + 1
    assert case.first.event_id == _event_id(UUID(str(claim.originator_id)), last_version + 1)
    check_stream(read_topic(kafka_bootstrap, topic), [n for n in stored if n.id != len(head) + 1])

    # Only the owner asks for a release (ADR 0028): every service role is refused, the publisher's own included,
    # in the database, and `kravsak publisher release` says so and what to do; nothing is marked.
    import psycopg

    for role in ("publisher", "projector", "automate", "writer", "reader", "api"):
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="only the owner|permission denied"):
            release_case(settings.for_service(role), case.case_id, options, timeout_s=1)
    refused = _cli(
        event_store, topic, "publisher", "release", case.case_id,
        env={"KRAVSAK_PG_DSN": settings.for_service("publisher").pg_dsn},
    )  # fmt: skip
    assert refused.returncode != 0 and "releasing a held case is the owner's" in refused.stderr, refused
    assert "only the owner (kravsak) may" in refused.stderr and "fix:" in refused.stderr, refused
    assert [c.release_requested for c in held_cases(settings.pg_dsn, options)] == [False]

    outcome = release_case(settings, case.case_id, options, timeout_s=10)
    assert outcome.released_by == "this command" and len(outcome.still_held) == 1
    assert "Vanished" in outcome.still_held[0].error
    with pytest.raises(ServiceError, match="is not held"):
        release_case(settings, str(head[0].originator_id), options, timeout_s=1)


# --- waiting: LISTEN/NOTIFY, not polling -------------------------------------------------------


def test_idle_publisher_is_woken_by_notify_not_by_its_safety_timeout(
    settings: Settings, event_store: str, topic: str
) -> None:
    """Events stored while the publisher idles (safety timeout 30 s) reach Kafka within moments:
    the recorder's NOTIFY wakes it. Setting the stop event ends it cleanly."""
    import threading

    notifications = workload_log(600)
    options = PublisherOptions(
        topic=topic, schemas_topic=f"{topic}-schemas", pg_schema=event_store, partitions=3, idle_wait_s=30
    )
    stop = threading.Event()
    outcome: dict[str, Any] = {}

    def publish() -> None:
        try:
            outcome["report"] = run_publisher(settings, stop_event=stop, options=options)
        except BaseException as exc:
            outcome["error"] = exc

    worker = threading.Thread(target=publish)
    worker.start()
    try:
        app = app_for(settings, event_store)
        copy_events(app, notifications[:100])
        wait_until(lambda: stored_position(settings, event_store, topic) == 100, 20, "the first events published")
        time.sleep(1.0)  # idle now, inside its 30 s wait
        began = time.monotonic()
        copy_events(app, notifications[100:])
        app.close()
        wait_until(lambda: lag(settings, event_store, topic) == 0, 20, "the new events published", 0.02)
        assert time.monotonic() - began < 10.0, "woken by the 30 s safety timeout, not by NOTIFY"
    finally:
        stop.set()
        worker.join(30)
    assert not worker.is_alive() and "error" not in outcome, outcome
    assert outcome["report"].position == len(notifications)


# --- topics ------------------------------------------------------------------------------------


def test_topic_with_another_partition_count_is_refused_and_drifted_configs_are_restored(
    settings: Settings, kafka_admin: Any, event_store: str, topic: str
) -> None:
    from kafka.admin import ConfigResource, ConfigResourceType

    from consumers.topics import TopicMismatch, case_events_spec, ensure_topics, schemas_spec

    created = ensure_topics(kafka_admin, [case_events_spec(topic, partitions=3), schemas_spec(f"{topic}-schemas")])
    assert [o.action for o in created] == ["created", "created"]
    kafka_admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, topic, {"retention.ms": "1000"})])

    again = ensure_topics(kafka_admin, [case_events_spec(topic, partitions=3)])
    assert again[0].action == "updated" and again[0].changed == {"retention.ms": ("1000", "-1")}
    assert ensure_topics(kafka_admin, [case_events_spec(topic, partitions=3)])[0].action == "exists"

    with pytest.raises(TopicMismatch, match=f"topic {topic} exists with 3 partitions.*configured for 12"):
        ensure_topics(kafka_admin, [case_events_spec(topic, partitions=12)])
    options = PublisherOptions(topic=topic, schemas_topic=f"{topic}-schemas", pg_schema=event_store, partitions=12)
    with pytest.raises(TopicMismatch):
        run_publisher(settings, once=True, options=options)
