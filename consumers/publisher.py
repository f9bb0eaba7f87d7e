"""The publisher: the event store's notification log, in order, onto Kafka (`kravsak.case-events`).

Delivery protocol
-----------------
- **Source.** The `CollectionApp` notification log in PostgreSQL (`collectionapp_events`; the
  recorder's table lock makes ids increase in commit order, so no event committed later can get
  an id below the stored position). Each round reads up to
  `batch_size` notifications after the stored position, decodes each through the app's mapper,
  maps it with `consumers.wire.envelope` and encodes it with `consumers.wire.codec` (Avro single-object).
- **Sink.** One Kafka record per event: key = `case_key(event)` (so one partition holds a case in
  order), value = the single-object bytes, headers `event-type`, `event-id`,
  `schema-fingerprint`. Idempotent producer, `acks=all`, at most 5 requests in flight: within
  one producer session a partition never holds a gap or a reordering.
- **Position.** `kravsak_publisher_position(name, position)` in the event store's schema holds
  the last notification id published. It moves only after `flush()` and after *every* future of
  the batch reported success, in one statement. A crash anywhere before that re-sends the batch
  on restart: at-least-once on the wire, never a loss.
- **Duplicates.** A re-sent event carries the same `event-id` header and envelope field; a
  consumer keeps the first copy per event id. A delivery failure replaces the producer and
  re-reads from the stored position, so the first copy of every event of a case still comes in
  the case's order.
- **An event that cannot be published** (unknown event class, `UnmappableEvent`, a record the
  schema refuses): the events before it in the batch are published and the position stored up
  to the one before it; then the publisher stops with `PublisherHalted`, naming the position,
  event type, aggregate and event id (exit code 3 from `main`). It never skips: fix the
  envelope or schema and start again; it resumes at that event.
- **Outages.** Kafka down: the producer retries for `delivery_timeout_ms`; after that the batch
  counts as failed and is re-sent from the stored position with back-off. PostgreSQL down: the
  connections are rebuilt with back-off and the position re-read. Neither advances the position.
- **Waiting.** LISTEN on the recorder's NOTIFY channel; a round starts when an insert commits
  (safety net: a round every `idle_wait_s` anyway). No polling of the table while idle.
- **One active publisher per name**: a PostgreSQL advisory lock; a second one waits on standby.
- **Stop.** The `stop_event` (set by SIGTERM/SIGINT in `kravsak.services`): the current batch is
  finished, flushed and its position stored, then `run_publisher` returns. A second signal exits
  at once (the unfinished batch is simply sent again later).
- **Lag** = `max(notification_id) - position`, logged every `lag_log_interval_s` with the topic,
  partition and offset of the last acknowledged record; `publisher_lag(dsn)` reads it.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import psycopg
import structlog
from eventsourcing.persistence import InterfaceError as ESInterfaceError
from eventsourcing.persistence import Notification
from eventsourcing.persistence import OperationalError as ESOperationalError
from kafka import KafkaProducer
from kafka.codec import has_lz4, has_zstd
from kafka.errors import KafkaError
from psycopg import sql

from consumers.endpoints import Endpoints
from consumers.kafka_access import client_args
from consumers.topics import CASE_EVENTS_TOPIC, SCHEMAS_TOPIC, case_events_spec, ensure_topics_at, schemas_spec
from consumers.wire import envelope
from consumers.wire.codec import AvroSchema, SchemaStore, encode
from domain.application import CollectionApp
from domain.errors import ServiceError

log = structlog.get_logger(__name__)
bound = structlog.contextvars.bound_contextvars

POSITION_TABLE = "kravsak_publisher_position"
EVENTS_TABLE = f"{CollectionApp.name.lower()}_events"
SCHEMAS_DIR = Path(__file__).resolve().parents[1] / "schemas"
HALTED_EXIT_CODE = 3

_TRANSIENT: tuple[type[BaseException], ...] = (
    psycopg.OperationalError,
    psycopg.InterfaceError,
    ESOperationalError,
    ESInterfaceError,
    KafkaError,
    OSError,
)


class PublisherHalted(ServiceError):
    """An event that cannot be published: the publisher stopped in front of it."""

    exit_code = HALTED_EXIT_CODE

    def __init__(self, problem: str, fix: str, *, position: int, event_type: str, event_id: str) -> None:
        super().__init__(problem, fix)
        self.position = position
        self.event_type = event_type
        self.event_id = event_id


class DeliveryFailed(KafkaError):  # type: ignore[misc]  # kafka-python is untyped
    """The broker did not acknowledge every record of a batch."""


@dataclass(frozen=True)
class PublisherOptions:
    topic: str = CASE_EVENTS_TOPIC
    schemas_topic: str = SCHEMAS_TOPIC
    name: str | None = None
    """Row of the position table; None: the topic's name."""
    pg_schema: str = "public"
    batch_size: int = 2000
    idle_wait_s: float = 5.0
    """Longest wait for a NOTIFY before looking at the log anyway."""
    lag_log_interval_s: float = 10.0
    schemas_dir: Path = SCHEMAS_DIR
    create_topics: bool = True
    partitions: int | None = None
    """Partitions of the topic if this publisher creates it; None: ``DEFAULT_CASE_EVENTS_PARTITIONS``."""
    replication: int | None = None
    """Replication factor of the topics if this publisher creates them; None: min(3, brokers)."""
    linger_ms: int = 100
    """Within a round the records wait this long to fill a batch; the round's flush() sends the rest at once."""
    producer_batch_bytes: int = 512 * 1024
    delivery_timeout_ms: int = 120_000
    compression: str | None = field(default_factory=lambda: best_compression())

    @property
    def position_name(self) -> str:
        return self.name or self.topic


@dataclass
class PublishReport:
    position: int = 0
    published: int = 0
    seconds: float = 0.0
    last_partition: int | None = None
    last_offset: int | None = None


def best_compression() -> str | None:
    """zstd, else lz4, when their Python codecs are installed; else no compression."""
    if has_zstd():
        return "zstd"
    if has_lz4():
        return "lz4"
    return None


# --- position and lag --------------------------------------------------------------------------


def _position_table(schema: str) -> sql.Composed:
    return sql.SQL("{}.{}").format(sql.Identifier(schema), sql.Identifier(POSITION_TABLE))


def ensure_position_table(conn: psycopg.Connection[Any], schema: str = "public") -> None:
    conn.execute(
        sql.SQL(
            "CREATE TABLE IF NOT EXISTS {} (name text PRIMARY KEY, position bigint NOT NULL, updated_at timestamptz)"
        ).format(_position_table(schema))
    )


def read_position(conn: psycopg.Connection[Any], name: str, schema: str = "public") -> int:
    row = conn.execute(
        sql.SQL("SELECT position FROM {} WHERE name = %s").format(_position_table(schema)), (name,)
    ).fetchone()
    return int(row[0]) if row else 0


def store_position(conn: psycopg.Connection[Any], name: str, position: int, schema: str = "public") -> None:
    conn.execute(
        sql.SQL(
            "INSERT INTO {} (name, position, updated_at) VALUES (%s, %s, now()) "
            "ON CONFLICT (name) DO UPDATE SET position = EXCLUDED.position, updated_at = EXCLUDED.updated_at"
        ).format(_position_table(schema)),
        (name, position),
    )


def max_notification_id(conn: psycopg.Connection[Any], schema: str = "public") -> int:
    try:
        row = conn.execute(
            sql.SQL("SELECT max(notification_id) FROM {}.{}").format(
                sql.Identifier(schema), sql.Identifier(EVENTS_TABLE)
            )
        ).fetchone()
    except psycopg.errors.UndefinedTable:
        return 0
    return int(row[0]) if row and row[0] is not None else 0


def publisher_lag(dsn: str, *, name: str = CASE_EVENTS_TOPIC, schema: str = "public") -> int:
    """Events stored but not yet acknowledged by Kafka: max notification id − stored position."""
    with psycopg.connect(dsn, autocommit=True, connect_timeout=10) as conn:
        head = max_notification_id(conn, schema)
        try:
            position = read_position(conn, name, schema)
        except psycopg.errors.UndefinedTable:
            position = 0
    return max(head - position, 0)


# --- the publisher -----------------------------------------------------------------------------


@dataclass
class _Prepared:
    position: int
    key: bytes
    value: bytes
    headers: list[tuple[str, bytes]]


class Publisher:
    """One publisher process's state: the app (mapper and recorder), the connections, the producer."""

    def __init__(self, settings: Endpoints, options: PublisherOptions) -> None:
        self.settings = settings
        self.options = options
        self.schemas = SchemaStore.from_directory(options.schemas_dir)
        self.app: CollectionApp | None = None
        self.parties = envelope.PartyIndex()
        self.conn: psycopg.Connection[Any] | None = None
        self.producer: Any = None
        self.position = 0
        self.report = PublishReport()
        self._schemas_published = False
        self._last_lag_log = 0.0
        self._started = time.monotonic()

    # -- lifecycle -----------------------------------------------------------------------------

    def close(self) -> None:
        if self.producer is not None:
            try:
                self.producer.close(timeout=5)
            except Exception as exc:  # closing must not hide the reason we stop
                log.warning("publisher.producer_close_failed", error=str(exc))
            self.producer = None
        if self.conn is not None:
            self.conn.close()
            self.conn = None
        if self.app is not None:
            self.app.close()
            self.app = None

    def _connect(self, stop: threading.Event) -> bool:
        """(Re)build what is missing: PostgreSQL connection + lock + position, the app, producer, schemas."""
        if self.conn is None or self.conn.closed:
            conn = psycopg.connect(self.settings.pg_dsn, autocommit=True, connect_timeout=10)
            try:
                if not self._lock(conn, stop):
                    conn.close()
                    return False
                conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(self.options.pg_schema)))
                ensure_position_table(conn, self.options.pg_schema)
                if self.app is None:
                    overrides = (
                        {"POSTGRES_SCHEMA": self.options.pg_schema} if self.options.pg_schema != "public" else {}
                    )
                    self.app = CollectionApp(self.settings.eventsourcing_env(**overrides))
                    # claim events after the first name their creditor and debtor only through it
                    self.parties = envelope.PartyIndex(fallback=envelope.stored_parties(self.app))
                conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self._channel)))
                self.position = read_position(conn, self.options.position_name, self.options.pg_schema)
            except BaseException:
                conn.close()
                raise
            self.conn = conn
            log.info(
                "publisher.resumed",
                position=self.position,
                topic=self.options.topic,
                name=self.options.position_name,
                schema=self.options.pg_schema,
            )
        if self.producer is None:
            if self.options.create_topics:
                ensure_topics_at(
                    self.settings.kafka_bootstrap,
                    [
                        case_events_spec(
                            self.options.topic, partitions=self.options.partitions, replication=self.options.replication
                        ),
                        schemas_spec(self.options.schemas_topic, replication=self.options.replication),
                    ],
                )
            self.producer = self._new_producer()
        if not self._schemas_published:
            self._publish_schemas()
        return True

    @property
    def _channel(self) -> str:
        return str(getattr(self.app.recorder, "channel_name", EVENTS_TABLE)) if self.app else EVENTS_TABLE

    def _lock(self, conn: psycopg.Connection[Any], stop: threading.Event) -> bool:
        key = f"kravsak-publisher:{self.options.pg_schema}:{self.options.position_name}"
        waiting_logged = False
        while not stop.is_set():
            row = conn.execute("SELECT pg_try_advisory_lock(hashtext(%s))", (key,)).fetchone()
            if row and row[0]:
                return True
            if not waiting_logged:
                log.warning("publisher.standby", reason="another publisher holds the position lock", lock=key)
                waiting_logged = True
            stop.wait(2.0)
        return False

    def _new_producer(self) -> Any:
        return KafkaProducer(
            **client_args(self.settings.kafka_bootstrap),
            client_id=f"kravsak-publisher-{self.options.position_name}",
            enable_idempotence=True,
            acks="all",
            max_in_flight_requests_per_connection=5,
            compression_type=self.options.compression,
            linger_ms=self.options.linger_ms,
            batch_size=self.options.producer_batch_bytes,
            delivery_timeout_ms=self.options.delivery_timeout_ms,
            request_timeout_ms=30_000,
            max_block_ms=60_000,
            # a restarted broker is found within seconds, not after the default 30 s back-off
            reconnect_backoff_max_ms=5_000,
            allow_auto_create_topics=False,
        )

    def _drop_connections(self) -> None:
        if self.producer is not None:
            try:
                self.producer.close(timeout=0)
            except Exception:  # the producer is being replaced because it failed
                pass
            self.producer = None
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def _publish_schemas(self) -> None:
        futures = []
        for schema in self.schemas:
            futures.append(
                self.producer.send(
                    self.options.schemas_topic,
                    key=schema.fingerprint_hex.encode(),
                    value=_schema_json(schema).encode(),
                    headers=[("schema-name", schema.name.encode())],
                )
            )
        self.producer.flush(timeout=self.options.delivery_timeout_ms / 1000 + 5)
        _check(futures)
        self._schemas_published = True
        log.info("publisher.schemas_published", topic=self.options.schemas_topic, schemas=len(futures))

    # -- the loop ------------------------------------------------------------------------------

    def run(self, stop: threading.Event, *, once: bool = False) -> PublishReport:
        delay = 0.5
        while not stop.is_set():
            try:
                if not self._connect(stop):
                    break
                published = self._round()
                delay = 0.5
                self._maybe_log_lag()
                if published == 0:
                    if once:
                        break
                    self._wait(stop)
            except PublisherHalted:
                raise
            except _TRANSIENT as exc:
                log.warning(
                    "publisher.retrying", error=f"{type(exc).__name__}: {exc}", position=self.position, in_seconds=delay
                )
                self._drop_connections()
                stop.wait(delay)
                delay = min(delay * 2, 15.0)
        self.report.position = self.position
        self.report.seconds = time.monotonic() - self._started
        self._maybe_log_lag(force=True)
        return self.report

    def _round(self) -> int:
        assert self.conn is not None and self.app is not None
        notifications = self.app.recorder.select_notifications(start=self.position + 1, limit=self.options.batch_size)
        if not notifications:
            return 0
        prepared: list[_Prepared] = []
        halted: PublisherHalted | None = None
        for notification in notifications:
            try:
                prepared.append(self._prepare(notification))
            except _TRANSIENT:  # the party look-up reads the store: an outage is retried, not a halt
                raise
            except Exception as exc:  # any other failure to turn it into a record stops us in front of it
                halted = _halted(notification, exc)
                break
        if prepared:
            self._send(prepared)
            self.position = prepared[-1].position
            store_position(self.conn, self.options.position_name, self.position, self.options.pg_schema)
            self.report.published += len(prepared)
        if halted is not None:
            log.error(
                "publisher.halted",
                position=halted.position,
                event_type=halted.event_type,
                event_id=halted.event_id,
                stored_position=self.position,
                error=halted.problem,
            )
            raise halted
        return len(prepared)

    def _prepare(self, notification: Notification) -> _Prepared:
        assert self.app is not None
        event = self.app.mapper.to_domain_event(notification)
        self.parties.learn(event)
        full_name, record = envelope.event_record(event, position=notification.id, parties=self.parties)
        schema = self.schemas.latest(full_name)
        value = encode(record, schema)
        return _Prepared(
            notification.id,
            envelope.case_key(event),
            value,
            [
                ("event-type", str(record["event_type"]).encode()),
                ("event-id", str(record["event_id"]).encode()),
                ("schema-fingerprint", schema.fingerprint_hex.encode()),
            ],
        )

    def _send(self, batch: Sequence[_Prepared]) -> None:
        futures = []
        for item in batch:
            futures.append(self.producer.send(self.options.topic, key=item.key, value=item.value, headers=item.headers))
        self.producer.flush(timeout=self.options.delivery_timeout_ms / 1000 + 5)
        last = _check(futures)
        self.report.last_partition, self.report.last_offset = last.partition, last.offset

    def _wait(self, stop: threading.Event) -> None:
        """Until a NOTIFY arrives, `idle_wait_s` passes, or we are told to stop."""
        assert self.conn is not None
        deadline = time.monotonic() + self.options.idle_wait_s
        while not stop.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            # short slices so that a signal's stop is seen promptly; each slice blocks on the socket
            if any(True for _ in self.conn.notifies(timeout=min(remaining, 0.5), stop_after=1)):
                for _ in self.conn.notifies(timeout=0):  # drain the rest: one round serves them all
                    pass
                return

    def _maybe_log_lag(self, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last_lag_log < self.options.lag_log_interval_s:
            return
        self._last_lag_log = now
        head = max_notification_id(self.conn, self.options.pg_schema) if self.conn is not None else self.position
        with bound(
            topic=self.options.topic,
            partition=self.report.last_partition,
            offset=self.report.last_offset,
            position=self.position,
        ):
            log.info(
                "publisher.lag",
                lag=max(head - self.position, 0),
                head=head,
                published=self.report.published,
                events_per_s=round(self.report.published / max(now - self._started, 1e-9), 1),
            )


def _check(futures: Sequence[Any]) -> Any:
    """The metadata of the last record, if the broker acknowledged all of them; else DeliveryFailed."""
    failed = [f for f in futures if not f.is_done or f.failed()]
    if failed:
        first = failed[0]
        reason = first.exception if first.is_done else "not completed by flush()"
        raise DeliveryFailed(f"{len(failed)} of {len(futures)} records not acknowledged: {reason}")
    return futures[-1].value


def _schema_json(schema: AvroSchema) -> str:
    return json.dumps(schema.source, ensure_ascii=False, separators=(",", ":"))


def _halted(notification: Notification, exc: Exception) -> PublisherHalted:
    event_type = notification.topic.rsplit(":", 1)[-1]
    event_id = _event_id(notification)
    cause = f"{type(exc).__name__}: {exc}"
    return PublisherHalted(
        f"cannot publish notification {notification.id} ({event_type}, event id {event_id}, aggregate "
        f"{notification.originator_id} version {notification.originator_version}): {cause}",
        "fix the envelope mapping or the schema for this event type (schemas/, consumers/wire/envelope.py) and start "
        f"the publisher again; it resumes at notification {notification.id} and never skips an event",
        position=notification.id,
        event_type=event_type,
        event_id=event_id,
    )


def _event_id(notification: Notification) -> str:
    """The envelope's event id, from the aggregate id and version alone (no event object needed)."""
    ident = SimpleNamespace(
        originator_id=notification.originator_id, originator_version=notification.originator_version
    )
    return str(envelope.event_id(cast(envelope.Event, ident)))


# --- entry point -------------------------------------------------------------------------------


def run_publisher(
    settings: Endpoints,
    *,
    stop_event: threading.Event | None = None,
    once: bool = False,
    options: PublisherOptions | None = None,
) -> PublishReport:
    """Publish until ``stop_event`` is set, or with ``once`` until the lag is 0.

    Raises `PublisherHalted` for an event it cannot publish (after storing the position before it).
    As a process: `kravsak publish` or `python -m kravsak.services publisher` (SIGTERM/SIGINT set
    the stop event there)."""
    publisher = Publisher(settings, options or PublisherOptions())
    try:
        return publisher.run(stop_event or threading.Event(), once=once)
    finally:
        publisher.close()
