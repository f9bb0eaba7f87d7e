"""Throw-away resources on the running stack, for one benchmark run or one integration test.

An event store in a PostgreSQL schema of its own (``create_event_store``, ``app_for``,
``copy_events``, ``drop_event_store``); topics (``create_topic``, ``delete_topics``); the projection
schemas of one schema suffix (``drop_schemas``); the events of an app as the publisher encodes them
(``encoded_events``), sent to a topic in order (``produce``). Callers name everything uniquely, so
runs and tests share one database and one broker without meeting.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import psycopg
from eventsourcing.persistence import Notification, StoredEvent
from psycopg import sql

from consumers.kafka_access import client_args
from consumers.projector import SCHEMAS_DIR, cases_schema_for
from consumers.topics import case_events_spec, ensure_topics_at
from consumers.wire.codec import SchemaStore, encode
from consumers.wire.envelope import PartyIndex, case_key, event_record
from domain.application import CollectionApp
from kravsak.settings import Settings, note_keeper, office_secret
from projections.base import schema_name

PROJECTIONS = ("ledger", "limitation", "audit")


# --- event stores of their own -----------------------------------------------------------------


def create_event_store(dsn: str, schema: str) -> None:
    """The event store's tables in ``schema`` and the services' rights on them, as `kravsak up` makes them."""
    from kravsak.stack.roles import prepare_event_store

    prepare_event_store(dsn, schema)


def drop_event_store(dsn: str, schema: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


def app_for(settings: Settings, schema: str) -> CollectionApp:
    """A `CollectionApp` whose event store lives in PostgreSQL schema `schema` (with the office's
    secret: registering a debtor in a stored application needs it)."""
    return CollectionApp(
        settings.eventsourcing_env(POSTGRES_SCHEMA=schema), office_secret=office_secret(settings),
        notes=note_keeper(settings),
    )  # fmt: skip


def copy_events(
    app: CollectionApp,
    notifications: Sequence[Notification],
    *,
    chunk: int = 2000,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Appends stored events to `app`'s store in log order, `chunk` per transaction (each NOTIFYs)."""
    for start in range(0, len(notifications), chunk):
        part = notifications[start : start + chunk]
        app.recorder.insert_events([StoredEvent(n.originator_id, n.originator_version, n.topic, n.state) for n in part])
        if progress is not None:
            progress(len(part))
    return len(notifications)


# --- topics and projection schemas --------------------------------------------------------------


def create_topic(bootstrap: str, topic: str, partitions: int) -> None:
    ensure_topics_at(bootstrap, [case_events_spec(topic, partitions=partitions)])


def delete_topics(bootstrap: str, topics: Iterable[str]) -> None:
    from kafka import KafkaAdminClient

    admin = KafkaAdminClient(**client_args(bootstrap), client_id="kravsak-bench")
    try:
        admin.delete_topics(list(topics), raise_errors=False)
    finally:
        admin.close()


def drop_schemas(dsn: str, suffix: str, names: Sequence[str] = PROJECTIONS) -> None:
    """The projection schemas with ``suffix``, their cases store, and whatever a rebuild or verify left aside."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        for name in names:
            for extra in ("", "__next", "__verify", "__old"):
                conn.execute(f'DROP SCHEMA IF EXISTS "{schema_name(name, suffix=suffix + extra)}" CASCADE')
        conn.execute(f'DROP SCHEMA IF EXISTS "{cases_schema_for(suffix)}" CASCADE')


# --- events on a topic without the publisher ----------------------------------------------------


def encoded_events(app: CollectionApp, *, limit: int | None = None) -> list[tuple[bytes, bytes]]:
    """The app's events as the publisher puts them on the topic: (case key, Avro single-object
    bytes), in notification order, at most ``limit``."""
    schemas = SchemaStore.from_directory(SCHEMAS_DIR)
    parties = PartyIndex()  # a claim's parties come from its creation: every earlier event is learned
    out: list[tuple[bytes, bytes]] = []
    for n in app.recorder.select_notifications(start=1, limit=10**9):
        if limit is not None and len(out) >= limit:
            break
        event = app.mapper.to_domain_event(n)
        parties.learn(event)
        name, record = event_record(event, position=n.id, parties=parties)
        out.append((case_key(event), encode(record, schemas.latest(name))))
    return out


def produce(
    bootstrap: str, topic: str, records: Sequence[tuple[bytes, bytes]], *, progress: Callable[[int], None] | None = None
) -> int:
    """Send ``records`` (key, value) to ``topic`` in order, idempotent and acknowledged by all replicas."""
    from kafka import KafkaProducer

    producer = KafkaProducer(
        **client_args(bootstrap), acks="all", enable_idempotence=True, linger_ms=20, batch_size=256 * 1024
    )
    try:
        for i, (key, value) in enumerate(records, 1):
            producer.send(topic, key=key, value=value)
            if progress is not None and i % 1000 == 0:
                progress(1000)
        producer.flush(timeout=120)
    finally:
        producer.close(timeout=10)
    return len(records)
