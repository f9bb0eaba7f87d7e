"""`kravsak smoke`: one event through the whole pipe, to prove the stack works end to end.

It saves a throwaway aggregate through an eventsourcing Application into the PostgreSQL event
store, reads it back, produces its last event to the `kravsak.smoke` topic keyed by the aggregate
id, consumes it in the `kravsak.smoke` consumer group, commits the offset after the record was
handled, and reads the committed offset back from the broker. Each run adds one aggregate and one
record; both are tiny.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import psycopg
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import KafkaError
from kafka.structs import OffsetAndMetadata

from consumers.kafka_access import client_args
from kravsak.errors import ServerUnreachable
from kravsak.logs import bound, get_logger
from kravsak.settings import Settings, redact_dsn
from kravsak.stack.kafka import broker_answers
from kravsak.stack.postgres import server_version

log = get_logger(__name__)

SMOKE_TOPIC = "kravsak.smoke"
SMOKE_GROUP = "kravsak.smoke"


class SmokeProbe(Aggregate):
    """A throwaway aggregate; its events prove that the event store stores and returns events."""

    @event("Created")
    def __init__(self, label: str) -> None:
        self.label = label
        self.notes: list[str] = []

    @event("Pinged")
    def ping(self, note: str) -> None:
        self.notes.append(note)


class SmokeApplication(Application[UUID]):
    name = "KravsakSmoke"  # tables kravsaksmoke_events, ...


@dataclass
class SmokeReport:
    steps: list[tuple[str, str]] = field(default_factory=list)

    def add(self, step: str, detail: str) -> None:
        self.steps.append((step, detail))
        log.debug("smoke.step", step=step, detail=detail)


def run_smoke(settings: Settings, timeout_s: float = 30.0) -> SmokeReport:
    report = SmokeReport()
    _require_servers(settings)

    with SmokeApplication(env=settings.eventsourcing_env()) as app:
        probe = SmokeProbe(label="smoke")
        probe.ping(note=f"ping at {time.strftime('%Y-%m-%dT%H:%M:%S%z')}")
        recordings = app.save(probe)
        last = recordings[-1]
        report.add(
            "saved to event store",
            f"aggregate {probe.id}: {len(recordings)} events, notification ids "
            f"{', '.join(str(r.notification.id) for r in recordings)} "
            f"(table {app.name.lower()}_events in {redact_dsn(settings.pg_dsn)})",
        )
        copy: SmokeProbe = app.repository.get(probe.id)
        _check(copy.notes == probe.notes and copy.version == probe.version, "read-back differs from saved")
        report.add("read back", f"version {copy.version}, notes {copy.notes}")
        notification = app.notification_log.select(start=last.notification.id, limit=1)[0]

    event_type = type(last.domain_event).__qualname__
    event_id = f"{notification.originator_id}:{notification.originator_version}"
    value = json.dumps(
        {
            "event_type": event_type,
            "originator_id": str(notification.originator_id),
            "originator_version": notification.originator_version,
            "notification_id": notification.id,
            "topic": notification.topic,
        }
    ).encode()

    admin = KafkaAdminClient(**client_args(settings.kafka_bootstrap), client_id="kravsak-smoke")
    try:
        if SMOKE_TOPIC not in admin.list_topics():
            admin.create_topics({SMOKE_TOPIC: {"num_partitions": 1, "replication_factor": 1}}, wait_for_metadata=True)
            report.add("created topic", f"{SMOKE_TOPIC} (1 partition)")

        producer = KafkaProducer(**client_args(settings.kafka_bootstrap), client_id="kravsak-smoke")
        try:
            sent = producer.send(
                SMOKE_TOPIC,
                key=str(probe.id).encode(),
                value=value,
                headers=[("event-type", event_type.encode()), ("event-id", event_id.encode())],
            ).get(timeout=timeout_s)
        finally:
            producer.close()
        report.add(
            "produced",
            f"{event_type} to {SMOKE_TOPIC}[{sent.partition}] at offset {sent.offset}, key {probe.id}",
        )

        tp = TopicPartition(SMOKE_TOPIC, sent.partition)
        consumer = KafkaConsumer(
            **client_args(settings.kafka_bootstrap),
            group_id=SMOKE_GROUP,
            client_id="kravsak-smoke",
            auto_offset_reset="earliest",
            enable_auto_commit=False,
        )
        try:
            consumer.subscribe([SMOKE_TOPIC])
            record = _poll_for(consumer, tp, sent.offset, timeout_s)
            with bound(topic=record.topic, partition=record.partition, offset=record.offset):
                decoded = json.loads(record.value)
                _check(decoded["notification_id"] == notification.id, "consumed a different event")
                consumer.commit({tp: OffsetAndMetadata(record.offset + 1, "", -1)})
                report.add(
                    "consumed",
                    f"offset {record.offset} in group {SMOKE_GROUP}, headers "
                    f"{', '.join(f'{k}={v.decode()}' for k, v in record.headers)}",
                )
                committed = consumer.committed(tp)
        finally:
            consumer.close()
        group_offsets = admin.list_group_offsets(SMOKE_GROUP).get(SMOKE_GROUP, {})
        broker_view = group_offsets.get(tp)
        _check(committed == record.offset + 1, f"committed {committed}, expected {record.offset + 1}")
        report.add(
            "committed",
            f"group {SMOKE_GROUP} at {SMOKE_TOPIC}[{tp.partition}] offset {committed} "
            f"(broker says {broker_view.offset if broker_view else '?'})",
        )
    finally:
        admin.close()
    return report


def _require_servers(settings: Settings) -> None:
    try:
        server_version(settings.pg_dsn, timeout=5)
    except psycopg.Error as exc:
        raise ServerUnreachable(
            f"PostgreSQL at {redact_dsn(settings.pg_dsn)} does not answer",
            "`kravsak up` (or check KRAVSAK_PG_DSN)",
        ) from exc
    if broker_answers(settings.kafka_bootstrap, timeout_s=5) is None:
        raise ServerUnreachable(
            f"Kafka at {settings.kafka_servers} does not answer",
            "`kravsak up` (or check KRAVSAK_KAFKA_BOOTSTRAP)",
        )


def _poll_for(consumer: KafkaConsumer, tp: TopicPartition, offset: int, timeout_s: float) -> Any:
    """Poll until the record at tp/offset arrives; earlier smoke records are skipped."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for records in consumer.poll(timeout_ms=500).values():
            for record in records:
                if record.partition == tp.partition and record.offset == offset:
                    return record
    raise KafkaError(f"did not receive {tp.topic}[{tp.partition}]@{offset} within {timeout_s:g} s")


def _check(condition: bool, failure: str) -> None:
    if not condition:
        raise RuntimeError(f"smoke test failed: {failure}")
