"""Projection runners: `kravsak.case-events` into the read models, with an exactly-once effect.

Delivery protocol
-----------------
- **Source.** A consumer group (default `kravsak-projector`) on `kravsak.case-events`. Kafka's own
  committed offsets are only a progress signal for tools; the truth is in PostgreSQL.
- **Offsets live with the rows.** Every projection schema (`kravsak_<name>`) has an `offsets`
  table. A batch is applied in ONE PostgreSQL transaction that first locks the batch's partitions'
  offset rows (`FOR UPDATE`), applies every record whose offset is at or after the stored next
  offset, then moves the offsets. A crash anywhere rolls back rows and offsets together, so a
  record is applied exactly once however often it is delivered.
- **Assignment.** On (re)assignment the runner seeks every partition to the smallest stored next
  offset over its projections. A record below a projection's stored offset is skipped for that
  projection (it is already in); a record *beyond* it (a gap: another runner moved the partition
  meanwhile) aborts the batch, rolls back and seeks back to the stored offset.
- **Duplicates.** The publisher is at-least-once: a re-sent event has a new offset but its case
  version is not above the version already applied for its case (`case_versions`), so it changes
  nothing.
- **A record that cannot be applied** (undecodable, or a projection raises) is *parked* with its
  case in that projection's `parked` table, inside a savepoint; the case's later events park
  behind it, other cases go on, the offsets move. `kravsak status` shows parked cases;
  `kravsak project --retry-parked` applies them again after a fix.
- **Several runners** in one group share the partitions; the row locks keep two of them from
  applying one partition at once during a rebalance.
- **State for folding.** The runner folds each case with the domain's own event code
  (`projections.casefold`). The payload of every applied event is kept in `kravsak_cases.events`
  in the same transaction, so a restarted runner rebuilds a case's state from PostgreSQL.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import psycopg
import structlog
from kafka import KafkaConsumer, TopicPartition
from kafka.consumer.subscription_state import ConsumerRebalanceListener

from consumers.codec import SchemaStore, decode
from consumers.envelope import domain_values
from consumers.topics import CASE_EVENTS_TOPIC
from projections.audit_trail import AuditTrail
from projections.base import ProjectedEvent, Projection, schema_name
from projections.casefold import CaseFolder
from projections.ledger import Ledger
from projections.limitation import LimitationWatch

log = structlog.get_logger("kravsak.projector")

CASES_SCHEMA = "kravsak_cases"
DEFAULT_GROUP = "kravsak-projector"
SCHEMAS_DIR = Path(__file__).resolve().parents[1] / "schemas"


def all_projections() -> list[Projection]:
    return [Ledger(), LimitationWatch(), AuditTrail()]


def projection_named(name: str) -> Projection:
    for p in all_projections():
        if p.name == name:
            return p
    raise KeyError(f"no projection named {name!r} (ledger, limitation, audit)")


# --- tables ----------------------------------------------------------------------------------


def ensure_runner_tables(cur: psycopg.Cursor[Any], schema: str) -> None:
    """The runner's bookkeeping inside a projection schema: offsets, case versions, parked events."""
    cur.execute(f"""
        CREATE SCHEMA IF NOT EXISTS "{schema}";
        CREATE TABLE IF NOT EXISTS "{schema}".offsets (
            topic text NOT NULL, partition int NOT NULL, next_offset bigint NOT NULL,
            PRIMARY KEY (topic, partition));
        CREATE TABLE IF NOT EXISTS "{schema}".case_versions (case_id text PRIMARY KEY, version bigint NOT NULL);
        CREATE TABLE IF NOT EXISTS "{schema}".parked (
            case_id text NOT NULL, version bigint NOT NULL, event_id text, topic text NOT NULL, partition int NOT NULL,
            "offset" bigint NOT NULL, payload bytea NOT NULL, error text NOT NULL,
            parked_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (case_id, "offset", topic, partition));
        CREATE TABLE IF NOT EXISTS "{schema}".meta (key text PRIMARY KEY, value text NOT NULL);
    """)


def ensure_cases_table(cur: psycopg.Cursor[Any]) -> None:
    cur.execute(f"""
        CREATE SCHEMA IF NOT EXISTS {CASES_SCHEMA};
        CREATE TABLE IF NOT EXISTS {CASES_SCHEMA}.events (
            case_id text NOT NULL, version bigint NOT NULL, payload bytea NOT NULL, PRIMARY KEY (case_id, version));
    """)


def ensure_projection(conn: psycopg.Connection[Any], projection: Projection, schema: str) -> None:
    with conn.transaction(), conn.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"kravsak-ddl-{schema}",))
        ensure_runner_tables(cur, schema)
        ensure_cases_table(cur)
        projection.create_tables(cur, schema)
        cur.execute(f'INSERT INTO "{schema}".meta VALUES (%s, %s) ON CONFLICT (key) DO NOTHING',
                    ("version", str(projection.version)))


def stored_offsets(cur: psycopg.Cursor[Any], schema: str, topic: str, *, lock: bool = False) -> dict[int, int]:
    cur.execute(f'SELECT partition, next_offset FROM "{schema}".offsets WHERE topic = %s'
                + (" FOR UPDATE" if lock else ""), (topic,))
    return {int(p): int(o) for p, o in cur.fetchall()}


def parked_count(conn: psycopg.Connection[Any], projections: Iterable[Projection] | None = None, *,
                 schema_suffix: str = "") -> dict[str, int]:
    out: dict[str, int] = {}
    with conn.cursor() as cur:
        for p in projections or all_projections():
            schema = schema_name(p.name, suffix=schema_suffix)
            cur.execute("SELECT to_regclass(%s)", (f'"{schema}".parked',))
            row = cur.fetchone()
            if row is None or row[0] is None:
                continue
            cur.execute(f'SELECT count(DISTINCT case_id) FROM "{schema}".parked')
            count = cur.fetchone()
            out[p.name] = int(count[0]) if count else 0
    return out


# --- decoding --------------------------------------------------------------------------------


class Decoder:
    """Single-object bytes → ProjectedEvent, resolving writer schemas by fingerprint."""

    def __init__(self, schemas: SchemaStore) -> None:
        self.schemas = schemas

    def __call__(self, payload: bytes, *, topic: str = "", partition: int = -1, offset: int = -1) -> ProjectedEvent:
        record = decode(payload, writer_lookup=self.schemas.by_fingerprint)
        values = domain_values(record)
        return ProjectedEvent(
            event_id=str(record["event_id"]), event_type=str(record["event_type"]), case_id=str(record["case_id"]),
            creditor_id=record.get("creditor_id"), debtor_id=record.get("debtor_id"),
            aggregate_version=int(record["aggregate_version"]), position=int(record["notification_position"]),
            effective_date=record["effective_date"], recorded_date=record["recorded_date"],
            recorded_at=record["recorded_at"], rule_version=str(record.get("rule_version") or ""),
            currency=record.get("currency"), values=values, topic=topic, partition=partition, offset=offset)


@dataclass(frozen=True, slots=True)
class Message:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes


@dataclass
class Target:
    """One projection and the schema it is applied into (live or a rebuild aside)."""

    projection: Projection
    schema: str


@dataclass
class BatchResult:
    applied: int = 0
    skipped: int = 0
    parked: int = 0
    gaps: dict[int, int] = field(default_factory=dict)  # partition -> offset to seek back to


class Applier:
    """Applies batches of messages to a set of targets in one transaction each."""

    def __init__(self, conn: psycopg.Connection[Any], targets: Sequence[Target], decoder: Decoder,
                 *, folder: CaseFolder | None = None) -> None:
        self.conn, self.targets, self.decode = conn, list(targets), decoder
        self.folder = folder or CaseFolder()

    def apply_batch(self, messages: Sequence[Message]) -> BatchResult:
        result = BatchResult()
        if not messages:
            return result
        topic = messages[0].topic
        try:
            with self.conn.transaction(), self.conn.cursor() as cur:
                offsets = {t.schema: stored_offsets(cur, t.schema, topic, lock=True) for t in self.targets}
                for t in self.targets:
                    first = {m.partition: m.offset for m in reversed(messages)}
                    for partition, offset in first.items():
                        stored = offsets[t.schema].get(partition, 0)
                        if offset > stored:
                            result.gaps[partition] = min(result.gaps.get(partition, stored), stored)
                if result.gaps:
                    raise _Gap()
                for m in messages:
                    self._apply_one(cur, m, offsets, result)
                for t in self.targets:
                    moved: dict[int, int] = {}
                    for m in messages:
                        moved[m.partition] = max(moved.get(m.partition, 0), m.offset + 1)
                    cur.executemany(
                        f'INSERT INTO "{t.schema}".offsets VALUES (%s, %s, %s) ON CONFLICT (topic, partition) '
                        f'DO UPDATE SET next_offset = GREATEST("{t.schema}".offsets.next_offset, EXCLUDED.next_offset)',
                        [(topic, p, o) for p, o in moved.items()])
        except _Gap:
            self.folder.clear()
            return result
        except BaseException:
            self.folder.clear()  # the fold may hold rolled-back state
            raise
        return result

    def _apply_one(self, cur: psycopg.Cursor[Any], m: Message, offsets: dict[str, dict[int, int]],
                   result: BatchResult) -> None:
        wanted = [t for t in self.targets if m.offset >= offsets[t.schema].get(m.partition, 0)]
        if not wanted:
            result.skipped += 1
            return
        case_key = (m.key or b"").decode("ascii", "replace")
        try:
            event = self.decode(m.value, topic=m.topic, partition=m.partition, offset=m.offset)
        except Exception as exc:  # noqa: BLE001 - an undecodable record parks its case, never stops the others
            for t in wanted:
                self._park(cur, t, case_key, -1, None, m, f"cannot decode: {exc}")
            result.parked += 1
            return
        before_after = self._fold(cur, event)
        if before_after is None:
            result.skipped += 1  # duplicate for the fold: nothing new for any projection
            return
        before, after = before_after
        cur.execute(f"INSERT INTO {CASES_SCHEMA}.events VALUES (%s, %s, %s) ON CONFLICT DO NOTHING",
                    (event.case_id, event.aggregate_version, m.value))
        for t in wanted:
            if self._is_parked(cur, t, event.case_id):
                self._park(cur, t, event.case_id, event.aggregate_version, event.event_id, m, "waiting behind a "
                           "parked event of the same case")
                result.parked += 1
                continue
            cur.execute(f'SELECT version FROM "{t.schema}".case_versions WHERE case_id = %s', (event.case_id,))
            row = cur.fetchone()
            if row is not None and int(row[0]) >= event.aggregate_version:
                result.skipped += 1
                continue
            try:
                with self.conn.transaction():
                    t.projection.apply(cur, event, t.schema, before, after)
                    cur.execute(f'INSERT INTO "{t.schema}".case_versions VALUES (%s, %s) ON CONFLICT (case_id) '
                                "DO UPDATE SET version = EXCLUDED.version", (event.case_id, event.aggregate_version))
                result.applied += 1
            except Exception as exc:  # noqa: BLE001 - the projection refused the event: park the case
                log.warning("event parked", projection=t.projection.name, case_id=event.case_id,
                            topic=m.topic, partition=m.partition, offset=m.offset, error=str(exc))
                self._park(cur, t, event.case_id, event.aggregate_version, event.event_id, m, repr(exc))
                result.parked += 1

    def _fold(self, cur: psycopg.Cursor[Any], event: ProjectedEvent) -> tuple[Any, Any] | None:
        current = self.folder.get(event.case_id)
        if current is None and event.aggregate_version > 1:
            cur.execute(f"SELECT payload FROM {CASES_SCHEMA}.events WHERE case_id = %s AND version < %s "
                        "ORDER BY version", (event.case_id, event.aggregate_version))
            earlier = [self.decode(bytes(r[0])) for r in cur.fetchall()]
            current = self.folder.warm(event.case_id, earlier)
        if current is not None and current.version >= event.aggregate_version:
            return None
        expected = (current.version if current is not None else 0) + 1
        if event.aggregate_version != expected:
            raise RuntimeError(f"case {event.case_id}: event version {event.aggregate_version} arrived but "
                               f"version {expected} is next (offset {event.offset}); the stream lost order")
        return self.folder.advance(event)

    @staticmethod
    def _is_parked(cur: psycopg.Cursor[Any], t: Target, case_id: str) -> bool:
        cur.execute(f'SELECT 1 FROM "{t.schema}".parked WHERE case_id = %s LIMIT 1', (case_id,))
        return cur.fetchone() is not None

    @staticmethod
    def _park(cur: psycopg.Cursor[Any], t: Target, case_id: str, version: int, event_id: str | None, m: Message,
              error: str) -> None:
        cur.execute(f'INSERT INTO "{t.schema}".parked (case_id, version, event_id, topic, partition, "offset", '
                    "payload, error) VALUES (%s,%s,%s,%s,%s,%s,%s,%s) ON CONFLICT DO NOTHING",
                    (case_id, version, event_id, m.topic, m.partition, m.offset, m.value, error))


class _Gap(Exception):
    """The batch starts beyond a stored offset: roll back and seek back."""


# --- the live runner -------------------------------------------------------------------------


@dataclass(frozen=True)
class RunnerOptions:
    topic: str = CASE_EVENTS_TOPIC
    group: str = DEFAULT_GROUP
    projections: tuple[str, ...] = ("ledger", "limitation", "audit")
    schema_suffix: str = ""
    batch_size: int = 2000
    poll_timeout_ms: int = 500
    schemas_dir: Path = SCHEMAS_DIR


@dataclass
class RunReport:
    applied: int = 0
    skipped: int = 0
    parked: int = 0
    batches: int = 0
    seconds: float = 0.0


class _Seeker(ConsumerRebalanceListener):  # type: ignore[misc]  # kafka-python is untyped
    def __init__(self, runner: ProjectionRunner) -> None:
        self.runner = runner

    def on_partitions_revoked(self, revoked: Any) -> None:
        self.runner.folder.clear()

    def on_partitions_assigned(self, assigned: Any) -> None:
        self.runner.seek_to_stored(list(assigned))


class ProjectionRunner:
    """A consumer-group member applying case events to the read models."""

    def __init__(self, dsn: str, bootstrap: str, options: RunnerOptions | None = None) -> None:
        options = options or RunnerOptions()
        self.dsn, self.bootstrap, self.options = dsn, bootstrap, options
        self.conn: psycopg.Connection[Any] = psycopg.connect(dsn)
        self.targets = [Target(projection_named(n), schema_name(n, suffix=options.schema_suffix))
                        for n in options.projections]
        for t in self.targets:
            ensure_projection(self.conn, t.projection, t.schema)
        self.folder = CaseFolder()
        self.applier = Applier(self.conn, self.targets, Decoder(SchemaStore.from_directory(options.schemas_dir)),
                               folder=self.folder)
        self.consumer: Any = None

    def close(self) -> None:
        if self.consumer is not None:
            self.consumer.close(autocommit=False)
        self.conn.close()

    def seek_to_stored(self, partitions: list[Any]) -> None:
        if not partitions:
            return
        with self.conn.transaction(), self.conn.cursor() as cur:
            per_target = [stored_offsets(cur, t.schema, self.options.topic) for t in self.targets]
        for tp in partitions:
            offset = min(o.get(tp.partition, 0) for o in per_target)
            self.consumer.seek(tp, offset)
            log.info("partition assigned", topic=tp.topic, partition=tp.partition, offset=offset)

    def _connect(self) -> None:
        self.consumer = KafkaConsumer(
            bootstrap_servers=self.bootstrap.split(","), group_id=self.options.group, enable_auto_commit=False,
            auto_offset_reset="earliest", max_poll_records=self.options.batch_size, client_id="kravsak-projector",
            max_partition_fetch_bytes=8 * 1024 * 1024, fetch_max_bytes=32 * 1024 * 1024)
        self.consumer.subscribe([self.options.topic], listener=_Seeker(self))

    def run(self, stop: threading.Event | None = None, *, until_caught_up: bool = False,
            idle_timeout_s: float | None = None) -> RunReport:
        """Apply batches until ``stop`` is set (or, with ``until_caught_up``, until the group has
        reached the end of every assigned partition)."""
        stop = stop or threading.Event()
        if self.consumer is None:
            self._connect()
        report = RunReport()
        started = idle_since = time.monotonic()
        while not stop.is_set():
            polled = self.consumer.poll(timeout_ms=self.options.poll_timeout_ms,
                                        max_records=self.options.batch_size)
            messages = sorted((Message(r.topic, r.partition, r.offset, r.key, r.value)
                               for records in polled.values() for r in records),
                              key=lambda m: (m.partition, m.offset))
            if messages:
                idle_since = time.monotonic()
                result = self.applier.apply_batch(messages)
                for partition, offset in result.gaps.items():
                    log.warning("gap before stored offset; seeking back", topic=self.options.topic,
                                partition=partition, offset=offset)
                    self.consumer.seek(TopicPartition(self.options.topic, partition), offset)
                report.applied += result.applied
                report.skipped += result.skipped
                report.parked += result.parked
                report.batches += 1
                self._commit_to_kafka(messages)
                last = messages[-1]
                log.debug("batch applied", topic=last.topic, partition=last.partition, offset=last.offset,
                          applied=result.applied, parked=result.parked)
                continue
            if until_caught_up and self.caught_up():
                break
            if idle_timeout_s is not None and time.monotonic() - idle_since > idle_timeout_s:
                break
        report.seconds = time.monotonic() - started
        return report

    def caught_up(self) -> bool:
        assigned = self.consumer.assignment()
        if not assigned:
            return False
        ends = self.consumer.end_offsets(list(assigned))
        with self.conn.transaction(), self.conn.cursor() as cur:
            per_target = [stored_offsets(cur, t.schema, self.options.topic) for t in self.targets]
        return all(o.get(tp.partition, 0) >= ends[tp] for tp in assigned for o in per_target)

    def _commit_to_kafka(self, messages: Sequence[Message]) -> None:
        """Progress for tools (consumer-group lag); PostgreSQL stays the source of truth."""
        from kafka.structs import OffsetAndMetadata

        last: dict[int, int] = {}
        for m in messages:
            last[m.partition] = max(last.get(m.partition, -1), m.offset)
        try:
            self.consumer.commit_async({TopicPartition(self.options.topic, p): OffsetAndMetadata(o + 1, "", -1)
                                        for p, o in last.items()})
        except Exception as exc:  # noqa: BLE001 - only a progress signal
            log.debug("kafka commit skipped", error=str(exc))


# --- rebuild, verify, retry ------------------------------------------------------------------


def read_partition_range(bootstrap: str, topic: str, *, start: dict[int, int] | None = None,
                         stop_at: dict[int, int] | None = None, batch: int = 5000,
                         progress: Callable[[int], None] | None = None) -> Iterator[list[Message]]:
    """Every message of ``topic`` from ``start`` (default 0) up to ``stop_at`` (default: the end
    offsets when called), in batches, without a consumer group."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap.split(","), group_id=None, enable_auto_commit=False,
                             auto_offset_reset="earliest", max_poll_records=batch,
                             max_partition_fetch_bytes=8 * 1024 * 1024, fetch_max_bytes=32 * 1024 * 1024)
    try:
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        consumer.assign(partitions)
        ends = stop_at if stop_at is not None else {tp.partition: o for tp, o in
                                                    consumer.end_offsets(partitions).items()}
        for tp in partitions:
            consumer.seek(tp, (start or {}).get(tp.partition, 0))
        remaining = {tp.partition for tp in partitions if consumer.position(tp) < ends.get(tp.partition, 0)}
        while remaining:
            polled = consumer.poll(timeout_ms=1000, max_records=batch)
            out: list[Message] = []
            for tp, records in polled.items():
                for r in records:
                    if r.offset < ends.get(tp.partition, 0):
                        out.append(Message(r.topic, r.partition, r.offset, r.key, r.value))
            for p in list(remaining):
                if consumer.position(TopicPartition(topic, p)) >= ends.get(p, 0):
                    remaining.discard(p)
            if out:
                out.sort(key=lambda m: (m.partition, m.offset))
                if progress:
                    progress(len(out))
                yield out
    finally:
        consumer.close(autocommit=False)


def _fresh_schema(conn: psycopg.Connection[Any], projection: Projection, schema: str) -> None:
    with conn.transaction():
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    ensure_projection(conn, projection, schema)


def _build_aside(conn: psycopg.Connection[Any], bootstrap: str, projection: Projection, schema: str, topic: str,
                 decoder: Decoder, *, stop_at: dict[int, int] | None = None,
                 progress: Callable[[int], None] | None = None) -> int:
    target = Target(projection, schema)
    applier = Applier(conn, [target], decoder)
    count = 0
    with conn.cursor() as cur:
        start = stored_offsets(cur, schema, topic)
    conn.commit()
    for batch in read_partition_range(bootstrap, topic, start=start, stop_at=stop_at, progress=progress):
        result = applier.apply_batch(batch)
        if result.gaps:
            raise RuntimeError(f"rebuild of {projection.name}: unexpected gap {result.gaps}")
        count += len(batch)
    return count


@contextmanager
def _live_offsets_locked(conn: psycopg.Connection[Any], live: str, topic: str) -> Iterator[dict[int, int]]:
    """Hold the live projection's offset rows: the live runners wait until we are done."""
    with conn.transaction(), conn.cursor() as cur:
        cur.execute(f'LOCK TABLE "{live}".offsets IN EXCLUSIVE MODE')
        yield stored_offsets(cur, live, topic)


def rebuild(dsn: str, bootstrap: str, name: str, *, topic: str = CASE_EVENTS_TOPIC,
            schemas_dir: Path = SCHEMAS_DIR, progress: Callable[[int], None] | None = None,
            schema_suffix: str = "") -> int:
    """Rebuild ``name`` into fresh tables from offset 0 and switch over only when caught up.

    The rebuild runs aside in ``kravsak_<name>__next`` while the live runners go on. Then, holding
    the live offsets (runners wait), it catches up to exactly the live offsets and renames the
    schemas in the same transaction: readers see the old projection or the new one, never a half."""
    projection = projection_named(name)
    live, aside = schema_name(name, suffix=schema_suffix), schema_name(name, suffix=f"{schema_suffix}__next")
    decoder = Decoder(SchemaStore.from_directory(schemas_dir))
    with psycopg.connect(dsn) as conn, psycopg.connect(dsn) as lock_conn:
        ensure_projection(conn, projection, live)
        _fresh_schema(conn, projection, aside)
        count = _build_aside(conn, bootstrap, projection, aside, topic, decoder, progress=progress)
        with _live_offsets_locked(lock_conn, live, topic) as live_offsets:
            count += _build_aside(conn, bootstrap, projection, aside, topic, decoder, stop_at=live_offsets,
                                  progress=progress)
            with conn.cursor() as cur:
                got = stored_offsets(cur, aside, topic)
            conn.commit()
            behind = {p: o for p, o in live_offsets.items() if got.get(p, 0) < o}
            if behind:
                raise RuntimeError(f"rebuild of {name} could not reach the live offsets {behind}")
            lock_conn.execute(f'DROP SCHEMA IF EXISTS "{live}__old" CASCADE')
            lock_conn.execute(f'ALTER SCHEMA "{live}" RENAME TO "{live}__old"')
            lock_conn.execute(f'ALTER SCHEMA "{aside}" RENAME TO "{live}"')
        with conn.transaction():
            conn.execute(f'DROP SCHEMA IF EXISTS "{live}__old" CASCADE')
    log.info("projection rebuilt", projection=name, topic=topic, events=count)
    return count


@dataclass(frozen=True, slots=True)
class Difference:
    projection: str
    table: str
    only_live: int
    only_rebuilt: int
    sample: tuple[str, ...]


IGNORED_COLUMNS = {"postings": ("id",), "parked": ("parked_at",)}


def verify(dsn: str, bootstrap: str, names: Sequence[str] = ("ledger", "limitation", "audit"), *,
           topic: str = CASE_EVENTS_TOPIC, schemas_dir: Path = SCHEMAS_DIR,
           progress: Callable[[int], None] | None = None, schema_suffix: str = "") -> list[Difference]:
    """Rebuild each projection aside up to the live offsets and compare every table with the live one."""
    differences: list[Difference] = []
    decoder = Decoder(SchemaStore.from_directory(schemas_dir))
    for name in names:
        projection = projection_named(name)
        live, aside = schema_name(name, suffix=schema_suffix), schema_name(name, suffix=f"{schema_suffix}__verify")
        with psycopg.connect(dsn) as conn, psycopg.connect(dsn) as lock_conn:
            ensure_projection(conn, projection, live)
            _fresh_schema(conn, projection, aside)
            _build_aside(conn, bootstrap, projection, aside, topic, decoder, progress=progress)
            with _live_offsets_locked(lock_conn, live, topic) as live_offsets:
                _build_aside(conn, bootstrap, projection, aside, topic, decoder, stop_at=live_offsets,
                             progress=progress)
                differences += _compare(lock_conn, name, live, aside)
            with conn.transaction():
                conn.execute(f'DROP SCHEMA IF EXISTS "{aside}" CASCADE')
    return differences


def _compare(conn: psycopg.Connection[Any], name: str, live: str, aside: str) -> list[Difference]:
    out: list[Difference] = []
    with conn.cursor() as cur:
        cur.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = %s AND table_name <> "
                    "'meta' ORDER BY 1", (live,))
        for (table,) in cur.fetchall():
            cur.execute("SELECT column_name FROM information_schema.columns WHERE table_schema = %s AND "
                        "table_name = %s ORDER BY ordinal_position", (live, table))
            columns = [c for (c,) in cur.fetchall() if c not in IGNORED_COLUMNS.get(table, ())]
            cols = ", ".join(f'"{c}"' for c in columns)
            counts = []
            sample: list[str] = []
            for a, b in ((live, aside), (aside, live)):
                cur.execute(f'SELECT {cols} FROM "{a}"."{table}" EXCEPT ALL SELECT {cols} FROM "{b}"."{table}"')
                rows = cur.fetchall()
                counts.append(len(rows))
                sample += [f"{a}: {r}" for r in rows[:3]]
            if any(counts):
                out.append(Difference(name, table, counts[0], counts[1], tuple(sample)))
    return out


def retry_parked(dsn: str, *, names: Sequence[str] = ("ledger", "limitation", "audit"),
                 schemas_dir: Path = SCHEMAS_DIR, schema_suffix: str = "") -> dict[str, int]:
    """Apply parked events again (after a fix), oldest first per case; those that fail stay parked."""
    decoder = Decoder(SchemaStore.from_directory(schemas_dir))
    done: dict[str, int] = {}
    with psycopg.connect(dsn) as conn:
        for name in names:
            projection = projection_named(name)
            schema = schema_name(name, suffix=schema_suffix)
            ensure_projection(conn, projection, schema)
            with conn.cursor() as cur:
                cur.execute(f'SELECT topic, partition, "offset", case_id, payload FROM "{schema}".parked '
                            'ORDER BY case_id, version, "offset"')
                rows = cur.fetchall()
            conn.commit()
            target = Target(projection, schema)
            applied = 0
            for topic, partition, offset, case_id, payload in rows:
                with conn.transaction(), conn.cursor() as cur:
                    cur.execute(f'DELETE FROM "{schema}".parked WHERE case_id = %s AND topic = %s AND partition = %s '
                                'AND "offset" = %s', (case_id, topic, partition, offset))
                    cur.execute(f'SELECT 1 FROM "{schema}".parked WHERE case_id = %s LIMIT 1', (case_id,))
                    still_blocked = cur.fetchone() is not None
                    message = Message(topic, partition, offset, case_id.encode(), bytes(payload))
                    applier = Applier(conn, [target], decoder)
                    if still_blocked:
                        # an earlier event of this case is still parked: keep the order
                        applier._park(cur, target, case_id, -1, None, message, "waiting behind a parked event")
                        continue
                    result = BatchResult()
                    applier._apply_one(cur, message, {schema: {}}, result)
                    applied += result.applied
            done[name] = applied
    return done


def project_once(dsn: str, bootstrap: str, options: RunnerOptions | None = None, *,
                 timeout_s: float = 120.0) -> RunReport:
    """Run a runner until it has caught up with the topic (tests, scenario runs through Kafka)."""
    runner = ProjectionRunner(dsn, bootstrap, options or RunnerOptions())
    stop = threading.Event()
    timer = threading.Timer(timeout_s, stop.set)
    timer.start()
    try:
        return runner.run(stop, until_caught_up=True)
    finally:
        timer.cancel()
        runner.close()


def options_with(**changes: Any) -> RunnerOptions:
    return replace(RunnerOptions(), **changes)


def run(settings: Any, options: RunnerOptions | None = None) -> None:
    """`kravsak project`: run one runner until SIGTERM/SIGINT (JSON log lines for services)."""
    import signal

    stop = threading.Event()

    def handler(signum: int, _frame: Any) -> None:
        log.info("stopping", signal=signum)
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    from consumers.topics import case_events_spec, ensure_topics_at

    opts = options or RunnerOptions()
    ensure_topics_at(settings.kafka_bootstrap, [case_events_spec(opts.topic)])
    runner = ProjectionRunner(settings.pg_dsn, settings.kafka_bootstrap, opts)
    log.info("projector started", topic=opts.topic, group=opts.group, projections=list(opts.projections))
    try:
        report = runner.run(stop)
    finally:
        runner.close()
    log.info("projector stopped", applied=report.applied, skipped=report.skipped, parked=report.parked)
