"""The publisher: the event store's notification log, in order, onto Kafka (`kravsak.case-events`).

Delivery protocol
-----------------
- **Source.** The `CollectionApp` notification log in PostgreSQL (`collectionapp_events`; the
  recorder's table lock makes ids increase in commit order, so no event committed later can get
  an id below the stored position). Each round reads up to
  `batch_size` notifications after the stored position, maps each with `consumers.wire.envelope` (straight
  from its stored JSON, or through the app's mapper and the domain event where that way might say otherwise:
  the same record, ADR 0041) and encodes it with `consumers.wire.codec` (Avro single-object).
- **Sink.** One Kafka record per event: key = `case_key(event)` (so one partition holds a case in
  order), value = the single-object bytes, headers `event-type`, `event-id`,
  `schema-fingerprint`. Idempotent producer, `acks=all`, at most 5 requests in flight: within
  one producer session a partition never holds a gap or a reordering.
- **Position.** `kravsak_publisher_position(name, position)` in the event store's schema holds
  the last notification id published or held. It moves only after `flush()` and after *every*
  future of the batch reported success, in one transaction with the batch's held rows. A crash
  anywhere before that re-sends the batch on restart: at-least-once on the wire, never a loss.
- **Duplicates.** A re-sent event carries the same `event-id` header and envelope field; a
  consumer keeps the first copy per event id. A delivery failure replaces the producer and
  re-reads from the stored position, so the first copy of every event of a case still comes in
  the case's order.
- **An event that cannot be published** (unknown event class, `UnmappableEvent`, a record the
  schema refuses) holds back *its case only* (``consumers.held``): it goes to
  `kravsak_publisher_held` with its error, and so does every later event of the same case (the
  aggregate id, which is the Kafka key), in the transaction that moves the position. Other cases
  flow on, each in its order; the topic never holds a case's event after one of its own that is
  missing. `kravsak status` counts held cases, `kravsak publisher held` lists them, and after a fix
  `kravsak publisher release CASE` asks the active publisher to prepare the case's held events
  again, in order, at the start of its next round: what now encodes is sent and its rows deleted
  (a crash in between sends them again: a duplicate, never a gap); what still fails stays held.
- **Outages** (``consumers.outages``). Kafka down: the producer retries for `delivery_timeout_ms`;
  after that the batch counts as failed and is re-sent from the stored position. PostgreSQL down
  or restarted: the connections are rebuilt (the app and its pool too) and the position re-read.
  Each retry waits longer (bounded exponential back-off with jitter); the publisher never exits
  for an outage, and neither outage advances the position.
- **Heartbeat** (``consumers.heartbeat``): every few seconds the lag and position; ``standby``
  while another publisher holds the lock, ``reconnecting`` during an outage.
- **Waiting.** LISTEN on the recorder's NOTIFY channel; a round starts when an insert commits
  (safety net: a round every `idle_wait_s` anyway). No polling of the table while idle, and no empty
  read after a round that read the log to its head (an insert since then has sent its NOTIFY).
- **Adaptive preparing.** A round that finds few events (under `prepare_ahead_from`) prepares them at
  once in this process; a publisher that is behind has its preparing children (``prepare_processes``, two; the
  cases split between them) prepare the next batch while it sends (ADR 0022, 0040); it reads that batch without
  the states, which each child reads for its share on a read-only session of its own (ADR 0041).
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
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from itertools import repeat
from pathlib import Path
from typing import Any, cast

import psycopg
import structlog
from kafka import KafkaProducer
from kafka.codec import has_lz4, has_zstd
from kafka.errors import KafkaError
from psycopg import sql

from consumers.endpoints import Endpoints
from consumers.heartbeat import Heartbeat
from consumers.held import WAITING, HeldCase, HeldEvent, HeldTable
from consumers.kafka_access import RecordAppender, client_args, shorten_metadata_backoff
from consumers.outages import OUTAGES, Backoff, describe
from consumers.partitions import KeyPartitioner, PartitionRange
from consumers.preparer import (
    IN_PARENT,
    SKIPPED,
    Failed,
    Head,
    Outcome,
    Prepared,
    PreparePool,
    Preparer,
    PrepareWorker,
    Row,
    StoreAccess,
    WorkerGone,
    is_head,
)
from consumers.topics import CASE_EVENTS_TOPIC, SCHEMAS_TOPIC, case_events_spec, ensure_topics_at, schemas_spec
from consumers.wire import envelope
from consumers.wire.codec import AvroSchema, SchemaStore
from domain.application import CollectionApp
from domain.collector import fewer_collections
from domain.errors import ServiceError

log = structlog.get_logger(__name__)
bound = structlog.contextvars.bound_contextvars

POSITION_TABLE = "kravsak_publisher_position"
EVENTS_TABLE = f"{CollectionApp.name.lower()}_events"
SCHEMAS_DIR = Path(__file__).resolve().parents[1] / "schemas"

_TRANSIENT = OUTAGES
RANGE_MARK = "@partitions-"
"""Between the topic's name and a partition range in a range publisher's position name."""


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
    digest_key: bytes = envelope.DEVELOPMENT_DIGEST_KEY
    """Keys the digests of free text on the wire (an objection's); a service's publisher is given one derived
    from the office secret (``kravsak.settings.publisher_options``), tests and benchmarks use the development key."""
    prepare_processes: int = 2
    """How many forked child processes prepare the next batch (decode, envelope, Avro) while this one is sent
    (``consumers.preparer.PreparePool``: the aggregates split between them); 0, or where fork is not available: in
    this process, batch after batch. Two: on two cores one child, at ~35 µs per event against the parent's ~20, was
    what bounded a publisher that is behind (ADR 0040)."""
    prepare_ahead_from: int = 500
    """Adaptive: a batch read fresh (none prepared ahead) of fewer notifications is prepared in this process at
    once — under a light load the hand-over to the child and the read ahead cost more latency than preparing a
    few events here; from this size on (a publisher that is behind) the child prepares while the parent sends."""
    partition_range: PartitionRange | None = None
    """Publish only the events whose case falls in these partitions of the topic (another publisher process
    owns the others); None: all of them. A range has its own position, held cases and lock (ADR 0033)."""

    @property
    def base_name(self) -> str:
        return self.name or self.topic

    @property
    def position_name(self) -> str:
        """The row of the position table (and of the held table) this publisher owns."""
        if self.partition_range is None:
            return self.base_name
        return f"{self.base_name}{RANGE_MARK}{self.partition_range}"


@dataclass
class PublishReport:
    position: int = 0
    published: int = 0
    seconds: float = 0.0
    held: int = 0
    """Events written to the held table instead of Kafka (a case's failed event and those behind it)."""
    released: int = 0
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
    """Events stored but not yet acknowledged by Kafka: max notification id − stored position. Where publishers of
    partition ranges run (ADR 0033), the topic is published up to the lowest of their positions (their ranges
    cover the topic), or up to the whole-topic publisher's position if that is further."""
    with psycopg.connect(dsn, autocommit=True, connect_timeout=10) as conn:
        head = max_notification_id(conn, schema)
        try:
            position = read_position(conn, name, schema)
            row = conn.execute(
                sql.SQL("SELECT min(position) FROM {} WHERE starts_with(name, %s)").format(_position_table(schema)),
                (f"{name}{RANGE_MARK}",),
            ).fetchone()
            if row and row[0] is not None:
                position = max(position, int(row[0]))
        except psycopg.errors.UndefinedTable:
            position = 0
    return max(head - position, 0)


# --- the publisher -----------------------------------------------------------------------------


class Publisher:
    """One publisher process's state: the app (mapper and recorder), the connections, the producer."""

    def __init__(self, settings: Endpoints, options: PublisherOptions, *, heartbeat: Heartbeat | None = None) -> None:
        self.settings = settings
        self.options = options
        self.heartbeat = heartbeat
        self.backoff = Backoff()
        self.schemas = SchemaStore.from_directory(options.schemas_dir)
        self.app: CollectionApp | None = None
        self.parties = envelope.PartyIndex()
        self.preparer: Preparer | None = None
        self.worker: PreparePool | None = None
        self._ahead: Sequence[Row | Head] = []
        """The next batch, read and submitted to the worker while the current one is sent."""
        self.conn: psycopg.Connection[Any] | None = None
        self.producer: Any = None
        self.partitioner: KeyPartitioner | None = None
        """The partition of each case's key (kafka-python's own formula, kept per key): set with the producer."""
        self.appender: RecordAppender | None = None
        """The producer's ``send`` without its per-record checks (ADR 0044): made with the partitioner."""
        self.position = 0
        self.held_table = HeldTable(options.position_name, options.pg_schema)
        self.store = StoreAccess(settings.pg_dsn, options.pg_schema, EVENTS_TABLE)
        self.held: dict[str, int] = {}
        """Held case → its first held notification (the table's content, read on connect)."""
        self.report = PublishReport()
        self._schemas_published = False
        self._last_lag_log = 0.0
        self._started = time.monotonic()

    # -- lifecycle -----------------------------------------------------------------------------

    def close(self) -> None:
        self._close_worker()
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

    def _connect(self, stop: threading.Event, *, wait: bool = True) -> bool:
        """(Re)build what is missing: PostgreSQL connection + lock + position, the app, producer, schemas.
        False: stopped while on standby (or, without ``wait``, another publisher is active)."""
        if self.conn is None or self.conn.closed:
            conn = psycopg.connect(self.settings.pg_dsn, autocommit=True, connect_timeout=10)
            try:
                if not self._lock(conn, stop, wait=wait):
                    conn.close()
                    return False
                with conn.transaction():  # the publishers of several partition ranges start together: one at a time
                    conn.execute("SELECT pg_advisory_xact_lock(hashtext('kravsak-publisher-tables'))")
                    conn.execute(
                        sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(self.options.pg_schema))
                    )
                    ensure_position_table(conn, self.options.pg_schema)
                    self.held_table.create(conn)
                if self.app is None:
                    overrides = (
                        {"POSTGRES_SCHEMA": self.options.pg_schema} if self.options.pg_schema != "public" else {}
                    )
                    self.app = CollectionApp(self.settings.eventsourcing_env(**overrides))
                    # claim events after the first name their creditor and debtor only through it
                    self.parties = envelope.PartyIndex(fallback=envelope.stored_parties(self.app))
                    self.preparer = Preparer(
                        self.app.mapper,
                        self.schemas,
                        self.parties,
                        self.options.digest_key,
                        owned=self.options.partition_range,
                    )
                if self.worker is None and self.options.prepare_processes > 0 and PrepareWorker.available():
                    self.worker = PreparePool(
                        self.app.mapper,
                        self.schemas,
                        self.options.digest_key,
                        owned=self.options.partition_range,
                        processes=self.options.prepare_processes,
                        store=self.store,
                    )
                conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self._channel)))
                self.position = read_position(conn, self.options.position_name, self.options.pg_schema)
                self.held = self.held_table.first_held(conn)
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
                held_cases=len(self.held),
                prepare_pipe_bytes=self.worker.buffer if self.worker is not None else None,
            )
            self._prepare_first_batch()
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
            self._check_partitions_and_schemas_topic()
        if not self._schemas_published:
            self._publish_schemas()
        return True

    @property
    def _channel(self) -> str:
        return str(getattr(self.app.recorder, "channel_name", EVENTS_TABLE)) if self.app else EVENTS_TABLE

    def _lock(self, conn: psycopg.Connection[Any], stop: threading.Event, *, wait: bool = True) -> bool:
        """The position's advisory lock. A whole-topic publisher takes the topic's lock alone; a partition-range
        publisher takes it shared (the other ranges' publishers share it, a whole-topic one waits) and its
        range's own lock alone: never a whole-topic publisher and a range publisher at once, never two of one
        range."""
        base = f"kravsak-publisher:{self.options.pg_schema}:{self.options.base_name}"
        key = f"kravsak-publisher:{self.options.pg_schema}:{self.options.position_name}"
        waiting_logged = False
        while True:
            if self._try_locks(conn, base, key):
                return True
            if not wait or stop.is_set():
                return False
            self._beat("standby")
            if not waiting_logged:
                log.warning("publisher.standby", reason="another publisher holds the position lock", lock=key)
                waiting_logged = True
            stop.wait(2.0)
        return False

    def _prepare_first_batch(self) -> None:
        """The child starts on the first batch while this process makes the producer, checks the topics and
        publishes the schemas (a few round trips to the brokers). Its records then carry no partition (the count
        is not known yet): ``_send_one`` asks the partitioner. A partition range waits for the count."""
        if self.worker is None or self._ahead or (self.options.partition_range is not None and not self.partitioner):
            return
        try:
            self._ahead = self._read(self.position + 1, states=not self.worker.reads)
            self._submit(self.worker, self._ahead)
        except WorkerGone as exc:
            self._worker_gone(exc)

    def _check_partitions_and_schemas_topic(self) -> None:
        """``_check_partitions`` while another thread asks for the schemas topic's metadata: kafka-python refreshes
        its metadata at most every ``retry_backoff_ms`` (100 ms), so asking for the two topics one after the other
        waits twice; asked together, one refresh answers both. (A failure there shows again in the schemas' send.)"""
        if self._schemas_published:
            self._check_partitions()
            return
        producer, topic = self.producer, self.options.schemas_topic

        def ask() -> None:
            try:
                producer.partitions_for(topic)
            except Exception:  # noqa: BLE001 - the schemas' own send meets the same failure and raises it
                pass

        other = threading.Thread(target=ask, name="publisher-metadata", daemon=True)
        other.start()
        try:
            self._check_partitions()
        finally:
            other.join()

    def _check_partitions(self) -> None:
        """The topic's partition count, read from the producer's metadata: a new ``KeyPartitioner`` when it is
        new or changed (a topic given more partitions maps keys anew, as kafka-python's partitioner would)."""
        found = self.producer.partitions_for(self.options.topic)
        count = len(found or ())
        if set(found or ()) != set(range(count)):
            raise RuntimeError(f"topic {self.options.topic} has partitions {sorted(found or ())}, not 0-{count - 1}")
        if self.options.partition_range is not None:
            self.options.partition_range.check(count)
        if self.partitioner is None or self.partitioner.partitions != count:
            self.partitioner = KeyPartitioner(count)
        if self.appender is None or self.appender.producer is not self.producer or len(self.appender) != count:
            self.appender = RecordAppender(self.producer, self.options.topic, range(count))
            if self.appender.lean:
                log.info("publisher.appender", topic=self.options.topic, partitions=count, lean=True)
            else:
                log.warning("publisher.appender", topic=self.options.topic, partitions=count, lean=False, why=NOT_LEAN)
        if self.preparer is not None:
            self.preparer.partitions(count)

    def _try_locks(self, conn: psycopg.Connection[Any], base: str, key: str) -> bool:
        if self.options.partition_range is None:
            row = conn.execute("SELECT pg_try_advisory_lock(hashtext(%s))", (base,)).fetchone()
            return bool(row and row[0])
        row = conn.execute("SELECT pg_try_advisory_lock_shared(hashtext(%s))", (base,)).fetchone()
        if not (row and row[0]):
            return False
        row = conn.execute("SELECT pg_try_advisory_lock(hashtext(%s))", (key,)).fetchone()
        if row and row[0]:
            return True
        conn.execute("SELECT pg_advisory_unlock_shared(hashtext(%s))", (base,))
        return False

    def _new_producer(self) -> Any:
        producer = KafkaProducer(
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
        shorten_metadata_backoff(producer)  # the topics' metadata 100 ms sooner at the start
        return producer

    def _close_worker(self) -> None:
        """Stops the prepare process; what it had prepared ahead is read and prepared again later."""
        self._ahead = []
        if self.worker is not None:
            self.worker.close()
            self.worker = None

    def _drop_connections(self) -> None:
        self._close_worker()  # its batches ahead were read before the outage: start again from the position
        if self.producer is not None:
            try:
                self.producer.close(timeout=0)
            except Exception:  # the producer is being replaced because it failed
                pass
            self.producer = None
        if self.conn is not None:
            self.conn.close()
            self.conn = None
        if self.app is not None:  # its pool would wait for its broken connections to be replaced
            self.app.close()
            self.app = None

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
        while not stop.is_set():
            try:
                if not self._connect(stop):
                    break
                with fewer_collections():  # a round allocates much, almost nothing in cycles (domain.collector)
                    published = self._round()
                self.backoff.reset()
                self._maybe_log_lag()
                self._beat()
                if published == 0:
                    if once:
                        break
                    self._wait(stop)
                elif not once and self._read_to_the_head(published):
                    self._wait(stop)  # every insert since that read has sent a NOTIFY: no empty read in between
            except _TRANSIENT as exc:  # an outage: back off (with jitter), rebuild the connections, go on
                delay = self.backoff.next()
                log.warning(
                    "publisher.retrying", error=describe(exc), position=self.position, in_seconds=round(delay, 2)
                )
                self._drop_connections()
                self._beat("reconnecting", force=True)
                stop.wait(delay)
        self.report.position = self.position
        self.report.seconds = time.monotonic() - self._started
        self._maybe_log_lag(force=True)
        return self.report

    def _read_to_the_head(self, handled: int) -> bool:
        """Whether the last round read the log to its head: a batch short of ``batch_size`` and none read ahead."""
        return handled < self.options.batch_size and not self._ahead

    def _round(self) -> int:
        """Release what an operator asked for, then publish (or hold) the next batch; how many events
        it handled (0: nothing to do)."""
        assert self.conn is not None and self.app is not None
        released = self._release_requested()
        self._check_partitions()
        rows, outcomes = self._next_batch()
        if not rows:
            return released
        assert self.preparer is not None
        futures: list[Any] = []
        held: list[HeldEvent] = []
        holding = dict(self.held)
        send = self._send_one
        # one outcome per row, every one taken (strict: a batch and its outcomes never differ in length)
        for row, outcome in zip(rows, outcomes if outcomes is not None else repeat(IN_PARENT, len(rows)), strict=True):
            case_id = row[1]
            if type(outcome) is Prepared and case_id not in holding:  # the usual: sent while the children prepare
                futures.append(send(outcome))
                continue
            if outcome is SKIPPED:  # another partition range's case: its own publisher sends it
                continue
            if case_id in holding:
                held.append(_held_event(row, WAITING.format(holding[case_id])))
                continue
            if outcome is IN_PARENT:
                if not self.preparer.owns(case_id):
                    continue
                outcome = self._outcome(self._full_row(row))
            if isinstance(outcome, Failed):  # any failure to turn it into a record holds its case
                held.append(_held_event(row, outcome.error))
                holding[case_id] = row[0]
                log.error("publisher.held", **_fields(held[-1]), fix=HOLD_FIX)
            else:
                assert isinstance(outcome, Prepared)
                futures.append(send(outcome))
        if futures:
            self._flush(futures)
        last = rows[-1][0]
        with self.conn.transaction():
            self.held_table.add(self.conn, held)
            store_position(self.conn, self.options.position_name, last, self.options.pg_schema)
        self.position, self.held = last, holding
        self.report.published += len(futures)
        self.report.held += len(held)
        return len(rows) + released

    def _read(self, start: int, *, states: bool = True) -> list[Any]:
        """Up to ``batch_size`` stored events from notification id ``start`` on: ``Row``s, or without ``states``
        ``Head``s (for the children, who read the states of their shares themselves)."""
        assert self.conn is not None
        return self.store.rows(self.conn, start, self.options.batch_size, states=states)

    def _next_batch(self) -> tuple[Sequence[Row | Head], Iterator[Outcome] | None]:
        """The rows after the position, with the worker's outcomes for them (None: prepare here).

        With a worker the batch after this one is read before this one's outcomes are collected and
        submitted right after, so the child prepares it while this batch is sent. A fresh batch smaller than
        ``prepare_ahead_from`` is prepared here (the child learns no parties from it: for a case it has not
        seen it answers ``IN_PARENT`` later, and this process, which has, prepares that event)."""
        if self.worker is None:
            return self._read(self.position + 1), None
        try:
            if not self._ahead:
                fresh = self._read(self.position + 1)
                if len(fresh) < self.options.prepare_ahead_from:
                    return fresh, None  # a light load (or nothing new): prepared here at once, nothing read ahead
                self._ahead = fresh
                self._submit(self.worker, self._ahead)
            rows = self._ahead
            if rows[0][0] <= self.position:  # never: the position moves only through these batches
                raise AssertionError(f"batch ahead starts at {rows[0][0]}, position is {self.position}")
            self._ahead = self._read(rows[-1][0] + 1, states=not self.worker.reads)
            return rows, self._collect(self.worker, len(rows))
        except WorkerGone as exc:
            self._worker_gone(exc)
            return self._read(self.position + 1), None

    def _submit(self, worker: PreparePool, rows: Sequence[Row | Head]) -> None:
        """Rows to the children, with the topic's partition count once it is known: their records carry their
        partition (with a partition range the children skip the other ranges' cases). This process, the busier one
        since the children read and prepare straight from the stored JSON (ADR 0041), finds the partition only of a
        record prepared before the count was known (``_send_one``)."""
        if not rows:
            return
        worker.submit_rows(rows, self.partitioner.partitions if self.partitioner is not None else None)

    def _collect(self, worker: PreparePool, expected: int) -> Iterator[Outcome]:
        """The worker's outcomes of the batch; the batch ahead goes to it once this one's last chunk is read (one
        batch in the pipe each way, so neither end blocks the other). If the worker goes, the rest is prepared
        here (``IN_PARENT``)."""

        def submit_ahead() -> None:
            self._submit(worker, self._ahead)

        given = 0
        try:
            for outcome in worker.collect(expected, on_last_chunk=submit_ahead):
                given += 1
                yield outcome
        except WorkerGone as exc:
            self._worker_gone(exc)
            for _ in range(expected - given):
                yield IN_PARENT

    def _full_row(self, row: Row | Head) -> Row:
        """``row`` with its state: a ``Head`` (a child was to read the state, and left this event here) read again."""
        return self._stored_row(row[0]) if is_head(row) else cast(Row, row)

    def _stored_row(self, notification_id: int) -> Row:
        """The stored event at ``notification_id``, read from the store now."""
        assert self.conn is not None
        found = self.store.rows(self.conn, notification_id, 1)
        if not found or found[0][0] != notification_id:
            raise LookupError(f"notification {notification_id} is no longer in the event store")
        row: Row = found[0]
        return row

    def _worker_gone(self, exc: WorkerGone) -> None:
        log.warning("publisher.prepare_process_gone", error=str(exc), fallback="preparing in this process")
        self._close_worker()

    def _outcome(self, row: Row) -> Outcome:
        assert self.preparer is not None
        try:
            return self.preparer.prepare_row(row)
        except _TRANSIENT:  # the party look-up reads the store: an outage is retried, not held
            raise
        except Exception as exc:  # any other failure to turn it into a record holds its case
            return Failed(row[0], f"{type(exc).__name__}: {exc}")

    def _release_requested(self) -> int:
        """Each case an operator asked to release: its held events prepared again in order; those
        that now encode are sent and their rows deleted, from the first that still fails on the case
        stays held. Returns how many events went out."""
        assert self.conn is not None and self.preparer is not None
        if not self.held:
            return 0
        sent = 0
        for case_id in self.held_table.requested(self.conn):
            rows = self.held_table.events(self.conn, case_id)
            prepared: list[Prepared] = []
            failed: tuple[HeldEvent, str] | None = None
            for row in rows:
                try:
                    prepared.append(self.preparer.prepare_row(self._stored_row(row.notification_id)))
                except _TRANSIENT:
                    raise
                except Exception as exc:  # still not publishable: the case stays held from here
                    failed = (row, f"{type(exc).__name__}: {exc}")
                    break
            if prepared:
                self._send(prepared)
            with self.conn.transaction():
                self.held_table.released(self.conn, [p.position for p in prepared])
                if failed is not None:
                    self.held_table.still_held(self.conn, case_id, failed[0].notification_id, failed[1])
            sent += len(prepared)
            self.report.published += len(prepared)
            self.report.released += len(prepared)
            if failed is None:
                self.held.pop(case_id, None)
                log.info("publisher.released", case_id=case_id, events=len(prepared))
            else:
                self.held[case_id] = failed[0].notification_id
                log.error("publisher.still_held", **{**_fields(failed[0]), "error": failed[1]}, released=len(prepared))
        return sent

    def release_if_idle(self) -> int | None:
        """Do the requested releases here when no publisher is active (this one takes the position
        lock for the moment); None when another publisher is active: it does them on its next round."""
        if not self._connect(threading.Event(), wait=False):
            return None
        return self._release_requested()

    def _send(self, batch: Sequence[Prepared]) -> None:
        self._flush([self._send_one(item) for item in batch])

    def _send_one(self, item: Prepared) -> Any:
        """The record sent with its partition given (``KeyPartitioner``: the default partitioner's answer, kept per
        case) by the producer's ``RecordAppender`` (``send`` without the checks made once per round, ADR 0044)."""
        assert self.partitioner is not None and self.appender is not None
        partition = item.partition if item.partition is not None else self.partitioner(item.key)
        return self.appender(item.key, item.value, item.headers, partition)

    def _flush(self, futures: list[Any]) -> None:
        """Sends what is buffered and waits: every record acknowledged, or ``DeliveryFailed``."""
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

    def _beat(self, state: str = "running", *, force: bool = False) -> None:
        if self.heartbeat is None or not (force or self.heartbeat.due()):
            return
        lag: int | None = None
        if state == "running" and self.conn is not None:
            try:
                lag = max(max_notification_id(self.conn, self.options.pg_schema) - self.position, 0)
            except OUTAGES:
                state = "degraded"
        self.heartbeat.beat(state=state, lag=lag, position=self.position)

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


NOT_LEAN = (
    "this kafka-python keeps its accumulator or sender elsewhere than 3.0.12: every record goes through send() "
    "and its checks (correct, slower; consumers.kafka_access.RecordAppender)"
)
HOLD_FIX = (
    "fix the envelope mapping or the schema for this event type (schemas/, consumers/wire/envelope.py), or "
    "repair the stored event, then `kravsak publisher release CASE`; the case's events wait until then"
)


def _held_event(row: Row | Head, error: str) -> HeldEvent:
    position, case_id, version, topic = row[:4]
    return HeldEvent(
        notification_id=position,
        case_id=case_id,
        version=version,
        event_type=topic.rsplit(":", 1)[-1],
        event_id=str(envelope.event_id_of(case_id, version)),
        error=error,
    )


def _fields(event: HeldEvent) -> dict[str, Any]:
    return {
        "position": event.notification_id,
        "case_id": event.case_id,
        "version": event.version,
        "event_type": event.event_type,
        "event_id": event.event_id,
        "error": event.error,
    }


# --- entry point -------------------------------------------------------------------------------


def run_publisher(
    settings: Endpoints,
    *,
    stop_event: threading.Event | None = None,
    once: bool = False,
    options: PublisherOptions | None = None,
    heartbeat: Heartbeat | None = None,
) -> PublishReport:
    """Publish until ``stop_event`` is set, or with ``once`` until the lag is 0.

    An event it cannot publish holds its case (``consumers.held``); the others go on.
    As a process: `kravsak publish` or `python -m kravsak.services publisher` (SIGTERM/SIGINT set
    the stop event there)."""
    publisher = Publisher(settings, options or PublisherOptions(), heartbeat=heartbeat)
    try:
        return publisher.run(stop_event or threading.Event(), once=once)
    finally:
        publisher.close()


# --- held cases: the operator's side ---------------------------------------------------------------


def held_cases(dsn: str, options: PublisherOptions | None = None) -> list[HeldCase]:
    """The cases the publisher holds back (`kravsak publisher held`, `kravsak status`)."""
    opts = options or PublisherOptions()
    with psycopg.connect(dsn, autocommit=True, connect_timeout=10) as conn:
        return HeldTable(opts.position_name, opts.pg_schema).cases(conn)


@dataclass(frozen=True)
class ReleaseOutcome:
    """What `kravsak publisher release` saw: by whom, and what is still held of the case."""

    case_id: str
    held_before: int
    released_by: str
    """``this command`` (no publisher was active) or ``the running publisher``."""
    still_held: list[HeldEvent]


def release_case(
    settings: Endpoints, case_id: str, options: PublisherOptions | None = None, *, timeout_s: float = 30.0
) -> ReleaseOutcome:
    """Ask for a held case's release and wait (at most ``timeout_s``) until the active publisher did
    it; with no publisher active, do it here. ``ServiceError`` when the case is not held, or when
    the running publisher did not get to it in time (the request stays: it releases it later)."""
    opts = options or PublisherOptions()
    table = HeldTable(opts.position_name, opts.pg_schema)
    with psycopg.connect(settings.pg_dsn, autocommit=True, connect_timeout=10) as conn:
        rows = table.request_release(conn, case_id) if table.exists(conn) else 0
        if rows == 0:
            raise ServiceError(
                f"case {case_id} is not held by publisher {opts.position_name}",
                "see `kravsak publisher held` for the held cases and their ids",
            )
        conn.execute(sql.SQL("NOTIFY {}").format(sql.Identifier(EVENTS_TABLE)))  # wake the active publisher
        publisher = Publisher(settings, replace(opts, prepare_processes=0))  # a few events: no child process
        try:
            by = "this command" if publisher.release_if_idle() is not None else "the running publisher"
        finally:
            publisher.close()
        deadline = time.monotonic() + timeout_s
        while any(e.release_requested for e in table.events(conn, case_id)):
            if time.monotonic() > deadline:
                raise ServiceError(
                    f"the running publisher did not release case {case_id} within {timeout_s:g} s",
                    "check that it runs (`kravsak status`); the request stays: it releases the case on its next round",
                )
            time.sleep(0.2)
        return ReleaseOutcome(case_id, rows, by, table.events(conn, case_id))
