"""The one Kafka → PostgreSQL consumer runner: a consumer-group member whose offsets live in PostgreSQL.

The projector (``consumers.projector``) and the process manager (``consumers.automate``) both run on
it. A service gives the runner its offset tables and a *handler* that applies a batch; everything
about offsets, partitions and the consumer group is here, once.

Delivery protocol (shared)
--------------------------
- **Offsets live with the rows.** A service keeps its stored next offsets in PostgreSQL
  (``OffsetTable``: ``<schema>.offsets``, one row per topic and partition, or per group, topic and
  partition). ``apply_in_transaction`` applies a batch in ONE PostgreSQL transaction that first
  locks the batch's partitions' offset rows (``FOR UPDATE``, in partition order; a missing row is
  made at 0 first, so two members cannot both apply a partition's first records), lets the handler
  apply every record at or after the stored offset, then moves the offsets. A crash anywhere rolls
  back rows and offsets together: a record takes effect exactly once however often it is delivered.
  Kafka's committed offsets are never read back.
- **Assignment.** On (re)assignment every partition is sought to its stored next offset (the
  smallest over the service's tables). A partition without one starts at 0, or at its end with
  ``new_partitions_at_end`` (the rows are written at once, so a later restart resumes there).
  On revocation the handler forgets what it holds in memory (``revoked``).
- **Gaps.** A batch whose first record of a partition lies *beyond* a stored offset (another member
  moved the partition meanwhile) is rolled back whole, and every partition of the batch is sought
  back (the gapped ones to their stored offset): nothing in between is skipped.
- **A batch that fails** (the handler raises, the database refuses a row; not a lost connection) is
  rolled back and applied again with ``careful=True``; the handler then isolates what failed and
  *parks* it (``ParkedTable``: the record with its error, in the service's schema) and the offsets
  move on. What a service parks, and what waits behind a parked record, is the service's own.
- **The next batch, polled while the last one is written.** A handler may call ``Runner.prefetch`` while
  PostgreSQL finishes its batch (the projector does, after its last writes are sent and before it waits for
  them); it polls only when the batch in hand is a full one (the runner is behind: under a light load the
  poll would only delay the batch's commit). That poll never waits for the broker and never touches
  PostgreSQL: a rebalance it brings is held (``revoked`` and the seeks to the stored offsets run once the
  batch's transaction has ended), and the records it brought are the next batch. Every seek drops
  prefetched records of the partitions it moves (the others are sought back to their first prefetched
  record), so nothing is skipped; the stored offsets decide what is applied, as for any poll (ADR 0045).
- **Kafka progress.** After the transaction commits, the batch's offsets are committed to Kafka
  asynchronously: a progress signal for tools (consumer-group lag) only; a failed commit is logged
  and ignored.
- **Stop.** ``run`` returns after the batch in hand once its stop event is set (SIGTERM/SIGINT in
  ``kravsak.services``), or with ``until_caught_up`` when every assigned partition's stored offset
  reached the end. A process killed at any instant (SIGKILL included) loses nothing and applies
  nothing twice: the next member resumes from the stored offsets.
- **Outages** (``consumers.outages``: PostgreSQL restarting or unreachable, Kafka unreachable) never
  end ``run``: the batch in hand rolled back with its connection, the service forgets what it holds
  in memory, waits (bounded exponential back-off with jitter), gets a new PostgreSQL connection
  from the service (``reconnect``), seeks its partitions back to the stored offsets and goes on.
  The Kafka client itself reconnects to a restarted broker (back-off at most 5 s); the group
  member leaves the group when closed, so a restarted service gets the partitions at once.
- **Heartbeat.** With a ``consumers.heartbeat.Heartbeat`` the loop beats every few seconds with
  the lag (records of the assigned partitions not yet applied) and the position (the sum of the
  stored next offsets); ``reconnecting`` while an outage lasts.
- **Logs** carry the topic, partition and offset: ``partition assigned``, ``gap before stored offset;
  seeking back``, ``batch applied`` (debug), ``batch failed; applying it again record by record``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, NamedTuple, Protocol

import psycopg
import structlog
from kafka import KafkaConsumer, TopicPartition
from kafka.consumer.subscription_state import ConsumerRebalanceListener
from kafka.structs import MemberState, OffsetAndMetadata
from psycopg import sql

from consumers.heartbeat import Heartbeat
from consumers.kafka_access import client_args
from consumers.outages import OUTAGES, Backoff, describe
from domain.collector import LOOP_THRESHOLDS, fewer_collections
from domain.errors import ServiceError

Cursor = psycopg.Cursor[Any]


class Message(NamedTuple):
    """One Kafka record, as the services see it (a tuple: one made per record polled, in one C call)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: tuple[tuple[str, bytes], ...] = ()

    @property
    def case_key(self) -> str:
        """The record's key: the case id, as the publisher keys every case event."""
        return (self.key or b"").decode("ascii", "replace")

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key == name:
                return bytes(value).decode("utf-8", "replace")
        return None


@dataclass
class BatchResult:
    applied: int = 0
    skipped: int = 0
    parked: int = 0
    gaps: dict[int, int] = field(default_factory=dict)  # partition -> offset to seek back to
    prefetched: bool = False  # the batch's records came from ``Runner.prefetch`` (set by the runner)


@dataclass
class RunReport:
    applied: int = 0
    skipped: int = 0
    parked: int = 0
    batches: int = 0
    prefetched: int = 0
    """Batches whose records a prefetch had polled while the batch before was written."""
    seconds: float = 0.0

    def add(self, result: BatchResult) -> None:
        self.applied += result.applied
        self.skipped += result.skipped
        self.parked += result.parked
        self.batches += 1
        self.prefetched += result.prefetched


def _table(schema: str, table: str) -> sql.Composed:
    return sql.SQL("{}.{}").format(sql.Identifier(schema), sql.Identifier(table))


# --- offsets and parked records in PostgreSQL ----------------------------------------------------


def create_offsets_table(cur: Cursor, schema: str, *, by_group: bool = False) -> None:
    """``<schema>.offsets`` (idempotent); ``by_group``: with a ``"group"`` column in its key."""
    group = '"group" text NOT NULL, ' if by_group else ""
    key = '"group", topic, partition' if by_group else "topic, partition"
    cur.execute(
        sql.SQL(
            "CREATE SCHEMA IF NOT EXISTS {s}; CREATE TABLE IF NOT EXISTS {t} ("
            + group
            + "topic text NOT NULL, partition int NOT NULL, next_offset bigint NOT NULL, PRIMARY KEY ("
            + key
            + "))"
        ).format(s=sql.Identifier(schema), t=_table(schema, "offsets"))
    )


@dataclass(frozen=True)
class OffsetTable:
    """``<schema>.offsets``: the next offset to apply per topic and partition; with ``group`` set,
    per consumer group too (a ``"group"`` column; the process manager's table)."""

    schema: str
    group: str | None = None

    def create(self, cur: Cursor) -> None:
        create_offsets_table(cur, self.schema, by_group=self.group is not None)

    def _where(self) -> tuple[sql.Composable, tuple[Any, ...]]:
        if self.group is None:
            return sql.SQL("topic = %s"), ()
        return sql.SQL('"group" = %s AND topic = %s'), (self.group,)

    def read(self, cur: Cursor, topic: str, *, lock: bool = False) -> dict[int, int]:
        where, args = self._where()
        cur.execute(
            sql.SQL("SELECT partition, next_offset FROM {} WHERE {}" + (" FOR UPDATE" if lock else "")).format(
                _table(self.schema, "offsets"), where
            ),
            (*args, topic),
        )
        return {int(p): int(o) for p, o in cur.fetchall()}

    def start_at(self, cur: Cursor, topic: str, offsets: dict[int, int]) -> None:
        """Rows for partitions that have none yet, at ``offsets`` (an existing row is kept)."""
        group = [self.group] if self.group is not None else []
        cur.executemany(
            sql.SQL(
                "INSERT INTO {} VALUES (" + ", ".join(["%s"] * (len(group) + 3)) + ") ON CONFLICT DO NOTHING"
            ).format(_table(self.schema, "offsets")),
            [(*group, topic, p, o) for p, o in sorted(offsets.items())],
        )

    def lock(self, cur: Cursor, topic: str, partitions: list[int]) -> dict[int, int]:
        """Lock the offset rows of ``partitions``, in order, making the missing ones (at 0) first: a
        partition without a row is locked all the same, so two members cannot both apply its first records."""
        self.start_at(cur, topic, {p: 0 for p in partitions})
        where, args = self._where()
        cur.execute(
            sql.SQL(
                "SELECT partition, next_offset FROM {} WHERE {} AND partition = ANY(%s) ORDER BY partition FOR UPDATE"
            ).format(_table(self.schema, "offsets"), where),
            (*args, topic, partitions),
        )
        return {int(p): int(o) for p, o in cur.fetchall()}


@dataclass(frozen=True)
class ParkedTable:
    """``<schema>.parked``: records a service could not apply, with the case and the error."""

    schema: str

    def create(self, cur: Cursor) -> None:
        t = _table(self.schema, "parked")
        cur.execute(
            sql.SQL("""
                CREATE SCHEMA IF NOT EXISTS {s};
                CREATE TABLE IF NOT EXISTS {t} (
                    case_id text NOT NULL, version bigint NOT NULL, event_id text, topic text NOT NULL,
                    partition int NOT NULL, "offset" bigint NOT NULL, payload bytea NOT NULL, error text NOT NULL,
                    parked_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (case_id, "offset", topic, partition));
            """).format(s=sql.Identifier(self.schema), t=t)
        )

    def park(
        self,
        cur: Cursor,
        m: Message,
        error: str,
        *,
        case_id: str | None = None,
        version: int = -1,
        event_id: str | None = None,
    ) -> None:
        cur.execute(
            sql.SQL(
                'INSERT INTO {} (case_id, version, event_id, topic, partition, "offset", payload, error) '
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING"
            ).format(_table(self.schema, "parked")),
            (
                case_id if case_id is not None else m.case_key,
                version,
                event_id,
                m.topic,
                m.partition,
                m.offset,
                m.value,
                error,
            ),
        )

    def cases(self, cur: Cursor) -> list[str]:
        cur.execute(sql.SQL("SELECT DISTINCT case_id FROM {} ORDER BY case_id").format(_table(self.schema, "parked")))
        return [str(c) for (c,) in cur.fetchall()]

    def case_count(self, cur: Cursor) -> int | None:
        """Cases with a parked record; None when the table does not exist (the service never ran)."""
        cur.execute("SELECT to_regclass(%s)", (f'"{self.schema}".parked',))
        row = cur.fetchone()
        if row is None or row[0] is None:
            return None
        cur.execute(sql.SQL("SELECT count(DISTINCT case_id) FROM {}").format(_table(self.schema, "parked")))
        count = cur.fetchone()
        return int(count[0]) if count else 0

    def take(self, cur: Cursor, case_id: str) -> list[Message]:
        """Remove a case's parked records and give them back in stream order (to apply them again)."""
        t = _table(self.schema, "parked")
        cur.execute(
            sql.SQL('DELETE FROM {} WHERE case_id = %s RETURNING topic, partition, "offset", payload').format(t),
            (case_id,),
        )
        rows = sorted(cur.fetchall(), key=lambda r: (r[0], r[1], r[2]))
        return [Message(str(t), int(p), int(o), case_id.encode(), bytes(v)) for t, p, o, v in rows]

    def partitions(self, cur: Cursor, case_id: str) -> list[tuple[str, int]]:
        cur.execute(
            sql.SQL("SELECT DISTINCT topic, partition FROM {} WHERE case_id = %s ORDER BY 1, 2").format(
                _table(self.schema, "parked")
            ),
            (case_id,),
        )
        return [(str(t), int(p)) for t, p in cur.fetchall()]


# --- one batch, one transaction ------------------------------------------------------------------


class ApplyRecords(Protocol):
    """What a service does with a batch inside the runner's transaction: apply every record at or
    after its stored offset (``stored``: per offset table, partition → next offset) and say what it
    did. With ``careful`` (the second try of a batch that failed) it parks what fails instead."""

    def __call__(
        self, cur: Cursor, messages: Sequence[Message], stored: list[dict[int, int]], *, careful: bool
    ) -> BatchResult: ...


class _Gap(Exception):
    """The batch starts beyond a stored offset: roll back and seek back."""


def apply_in_transaction(
    conn: psycopg.Connection[Any],
    tables: Sequence[OffsetTable],
    messages: Sequence[Message],
    apply: ApplyRecords,
    *,
    discard: Callable[[], None] = lambda: None,
    log: Any = None,
) -> BatchResult:
    """Apply ``messages`` (one topic, sorted by partition and offset) and move ``tables``' offsets in
    ONE transaction. A gap rolls back and comes back as ``BatchResult.gaps``; a failure rolls back
    and the batch runs again with ``careful=True``. ``discard`` is called after every roll-back (the
    service's in-memory state may hold what was rolled back)."""
    if not messages:
        return BatchResult()
    try:
        return _attempt(conn, tables, messages, apply, discard, careful=False)
    except psycopg.OperationalError:
        raise  # the connection or the server: going on record by record would not help
    except Exception as exc:  # noqa: BLE001 - find and park the record that failed
        (log or structlog.get_logger("kravsak.runner")).info(
            "batch failed; applying it again record by record",
            topic=messages[0].topic,
            partition=messages[0].partition,
            offset=messages[0].offset,
            error=repr(exc)[:500],
        )
        return _attempt(conn, tables, messages, apply, discard, careful=True)


def lock_offsets(cur: Cursor, tables: Sequence[OffsetTable], topic: str, partitions: list[int]) -> list[dict[int, int]]:
    """Every table's ``OffsetTable.lock`` of ``partitions``: the rows that exist locked in ONE statement, in
    the order the tables one after the other would lock them (table, then partition); only when a row is
    missing, the tables' own ``lock`` (which makes it first) one after the other, as they always did."""
    statement, per_table = _lock_statement(tuple(tables))
    cur.execute(statement, [a for t in per_table for a in (*t, topic, partitions)])
    stored: list[dict[int, int]] = [{} for _ in tables]
    for i, p, o in cur.fetchall():
        stored[i][int(p)] = int(o)
    if all(len(s) == len(partitions) for s in stored):
        return stored
    return [t.lock(cur, topic, partitions) for t in tables]


def move_offsets(cur: Cursor, tables: Sequence[OffsetTable], topic: str, moved: dict[int, int]) -> None:
    """Every table's next offsets of the partitions in ``moved`` forward to them (never back), in ONE statement."""
    statement, per_table = _move_statement(tuple(tables))
    partitions, offsets = list(moved), list(moved.values())
    cur.execute(statement, [a for t in per_table for a in (partitions, offsets, *t, topic)])


@lru_cache(maxsize=64)
def _lock_statement(tables: tuple[OffsetTable, ...]) -> tuple[sql.Composed, list[tuple[Any, ...]]]:
    # MATERIALIZED and UNION ALL: each table's rows locked in full before the next table's (an Append in order)
    ctes, args = _per_table(
        tables,
        "l{i} AS MATERIALIZED (SELECT partition, next_offset FROM {t} WHERE {w} AND partition = ANY(%s) "
        "ORDER BY partition FOR UPDATE)",
    )
    selects = [
        sql.SQL("SELECT {i}, partition, next_offset FROM l{i}").format(i=sql.SQL(str(i))) for i in range(len(tables))
    ]
    return sql.SQL("WITH {} {}").format(sql.SQL(", ").join(ctes), sql.SQL(" UNION ALL ").join(selects)), args


@lru_cache(maxsize=64)
def _move_statement(tables: tuple[OffsetTable, ...]) -> tuple[sql.Composed, list[tuple[Any, ...]]]:
    ctes, args = _per_table(
        tables,
        "m{i} AS (UPDATE {t} AS o SET next_offset = GREATEST(o.next_offset, v.upto) "
        "FROM unnest(%s::int[], %s::bigint[]) AS v(part, upto) WHERE {w} AND o.partition = v.part)",
    )
    return sql.SQL("WITH {} SELECT 1").format(sql.SQL(", ").join(ctes)), args


def _per_table(tables: tuple[OffsetTable, ...], cte: str) -> tuple[list[sql.Composed], list[tuple[Any, ...]]]:
    """``cte`` ({i}: the table's index, {t}: its offsets table, {w}: its where clause) for each table, and the
    where clauses' arguments."""
    ctes, args = [], []
    for i, t in enumerate(tables):
        where, a = t._where()
        ctes.append(sql.SQL(cte).format(i=sql.SQL(str(i)), t=_table(t.schema, "offsets"), w=where))
        args.append(a)
    return ctes, args


def _attempt(
    conn: psycopg.Connection[Any],
    tables: Sequence[OffsetTable],
    messages: Sequence[Message],
    apply: ApplyRecords,
    discard: Callable[[], None],
    *,
    careful: bool,
) -> BatchResult:
    topic = messages[0].topic
    first: dict[int, int] = {}
    moved: dict[int, int] = {}
    for m in messages:
        first[m.partition] = min(first.get(m.partition, m.offset), m.offset)
        moved[m.partition] = max(moved.get(m.partition, 0), m.offset + 1)
    gaps: dict[int, int] = {}
    try:
        with conn.transaction(), conn.cursor() as cur:
            stored = lock_offsets(cur, tables, topic, sorted(first))
            for offsets in stored:
                for partition, offset in first.items():
                    at = offsets.get(partition, 0)
                    if offset > at:
                        gaps[partition] = min(gaps.get(partition, at), at)
            if gaps:
                raise _Gap()
            result = apply(cur, messages, stored, careful=careful)
            move_offsets(cur, tables, topic, moved)
    except _Gap:
        discard()
        return BatchResult(gaps=gaps)
    except BaseException:
        discard()
        raise
    return result


# --- the consumer-group member -------------------------------------------------------------------


class BatchHandler(Protocol):
    """A service on the runner: ``apply_batch`` applies a batch with ``apply_in_transaction``;
    ``revoked`` forgets in-memory state when partitions go to another member."""

    def apply_batch(self, messages: Sequence[Message]) -> BatchResult: ...

    def revoked(self) -> None: ...

    def reconnect(self) -> psycopg.Connection[Any]:
        """After an outage: a new PostgreSQL connection, which the service uses from now on too."""
        ...


@dataclass(frozen=True)
class ConsumerOptions:
    """The Kafka side of a runner. ``None``: the client's default."""

    topic: str
    group: str
    client_id: str
    batch_size: int = 2000
    poll_timeout_ms: int = 500
    session_timeout_ms: int | None = None
    heartbeat_interval_ms: int | None = None
    fetch_max_wait_ms: int | None = None
    fetch_max_bytes: int | None = None
    new_partitions_at_end: bool = False
    """A partition with no stored offset starts at its end instead of its beginning."""
    top_up_after_ms: int | None = 50
    """Adaptive batching: after a batch that took at least this long to apply, a poll that brings less than a
    full batch polls once more, for at most ``top_up_wait_ms``. The records it brought mostly came with a fetch
    that completed early in that batch; what reached the broker after it would otherwise wait for the next poll
    and the whole next batch. A light load (short batches) never waits for it; None: never."""
    top_up_wait_ms: int = 20


def keep_join_going(consumer: Any) -> bool:
    """Keeps a group join of kafka-python 3.0.12 (pinned) from being forgotten; True when it had to.

    A rejoin that a metadata change started (not the coordinator's rejoin flag) and that a poll's
    timeout cut short is never awaited again: the member stays "rebalancing" for good, with no
    partitions and no heartbeats, while the broker completed the join long ago and then expels the
    silent member. Setting the flag makes the next poll await the join in flight, or start a fresh
    one; during a join that is still being awaited it changes nothing (ADR 0026)."""
    coordinator = getattr(consumer, "_coordinator", None)
    if coordinator is None:
        return False
    with coordinator._lock:  # the IO thread sets the state and the flag together under it
        if coordinator.state != MemberState.REBALANCING or coordinator.rejoin_needed:
            return False
        coordinator.request_rejoin()
        return True


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]  # kafka-python is untyped
    def __init__(self, runner: Runner) -> None:
        self.runner = runner

    def on_partitions_revoked(self, revoked: Any) -> None:
        self.runner.rebalances += 1
        if self.runner.holding:  # inside a batch's transaction (``Runner.prefetch``): once it has ended
            self.runner.held.append(("revoked", []))
        else:
            self.runner.handler.revoked()

    def on_partitions_assigned(self, assigned: Any) -> None:
        self.runner.rebalances += 1
        if self.runner.holding:
            self.runner.held.append(("assigned", list(assigned)))
        else:
            self.runner.seek_to_stored(list(assigned))


class Runner:
    """One consumer-group member applying batches through a service's handler (see the module's docstring)."""

    def __init__(
        self,
        conn: psycopg.Connection[Any],
        bootstrap: str,
        options: ConsumerOptions,
        tables: Sequence[OffsetTable],
        handler: BatchHandler,
        *,
        log: Any = None,
    ) -> None:
        self.conn, self.bootstrap, self.options = conn, bootstrap, options
        self.tables = list(tables)
        self.handler = handler
        self.log = log or structlog.get_logger("kravsak.runner")
        self.consumer: Any = None
        self._offsets_reader: Any = None
        self.heartbeat: Heartbeat | None = None
        self.backoff = Backoff()
        self.last_apply_s = 0.0
        """How long the last batch took to apply (``top_up``)."""
        self.topped_up = 0
        """Polls that took the top-up (``ConsumerOptions.top_up_after_ms``)."""
        self.rebalances = 0
        """Revocations and assignments this member went through (an assignment seeks to the stored offsets)."""
        self.prefetched: list[Any] | None = None
        """Records ``prefetch`` polled while the last batch was written: the next batch (None: poll for it)."""
        self.holding = False
        """True while ``prefetch`` polls inside a batch's transaction: the rebalance callbacks go to ``held``."""
        self.held: list[tuple[str, list[Any]]] = []
        """("revoked", []) and ("assigned", partitions) from a prefetch's rebalance, run after the batch."""
        self.behind = False
        """The batch in hand is a full one: more is waiting, and ``prefetch`` polls for it (under a light load it
        does not: its poll and decoding would only hold back the batch's commit, and its records' latency)."""

    def close(self) -> None:
        self.prefetched = None
        if self.consumer is not None:
            self.consumer.close(autocommit=False, timeout_ms=5_000)
            self.consumer = None
        self._close_offsets_reader()

    def _close_offsets_reader(self) -> None:
        if self._offsets_reader is not None:
            try:
                self._offsets_reader.close()
            except Exception as exc:  # noqa: BLE001 - it is being replaced because it failed
                self.log.debug("offsets_reader.close_failed", error=describe(exc))
            self._offsets_reader = None

    def connect(self) -> None:
        """Join the group (the assignment comes with the first polls)."""
        if self.consumer is not None:
            return
        o = self.options
        optional = {
            "session_timeout_ms": o.session_timeout_ms,
            "heartbeat_interval_ms": o.heartbeat_interval_ms,
            "fetch_max_wait_ms": o.fetch_max_wait_ms,
            "fetch_max_bytes": o.fetch_max_bytes,
        }
        self.consumer = KafkaConsumer(
            **client_args(self.bootstrap),
            group_id=o.group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=o.batch_size,
            client_id=o.client_id,
            max_partition_fetch_bytes=8 * 1024 * 1024,
            reconnect_backoff_max_ms=5_000,  # a restarted broker is found within seconds
            **{key: value for key, value in optional.items() if value is not None},
        )
        self.consumer.subscribe([o.topic], listener=_Listener(self))

    def stored(self) -> list[dict[int, int]]:
        """Each table's stored next offsets of the topic."""
        with self.conn.transaction(), self.conn.cursor() as cur:
            return [t.read(cur, self.options.topic) for t in self.tables]

    def end_offsets(self, partitions: list[Any]) -> dict[int, int]:
        """The topic's end offsets, asked by a client of their own (the group member's request would
        queue behind its long-polling fetch)."""
        if self._offsets_reader is None:
            self._offsets_reader = KafkaConsumer(
                **client_args(self.bootstrap),
                group_id=None,
                enable_auto_commit=False,
                client_id=f"{self.options.client_id}-offsets",
                request_timeout_ms=5_000,  # a broker outage must not hold the loop (and its heartbeat) long
                reconnect_backoff_max_ms=5_000,
            )
        return {tp.partition: int(o) for tp, o in self._offsets_reader.end_offsets(partitions).items()}

    def seek_to_stored(self, partitions: list[Any]) -> None:
        if not partitions:
            return
        self._drop_prefetched({tp.partition for tp in partitions})
        topic = self.options.topic
        with self.conn.transaction(), self.conn.cursor() as cur:
            stored = [t.read(cur, topic) for t in self.tables]
            if self.options.new_partitions_at_end:
                missing = [tp for tp in partitions if any(tp.partition not in s for s in stored)]
                ends = self.end_offsets(missing) if missing else {}
                for table, offsets in zip(self.tables, stored, strict=True):
                    new = {p: o for p, o in ends.items() if p not in offsets}
                    table.start_at(cur, topic, new)
                    offsets.update(new)
        for tp in partitions:
            offset = min(s.get(tp.partition, 0) for s in stored)
            self.consumer.seek(tp, offset)
            self.log.info("partition assigned", topic=tp.topic, partition=tp.partition, offset=offset)

    def poll_once(self, timeout_ms: int | None = None) -> BatchResult | None:
        """One poll; the batch it brought applied (None: nothing came).

        The poll runs with the collector's batch thresholds as the apply does (``domain.collector``): kafka-python
        makes a handful of objects per record and header, and at the default thresholds their collections came
        while the handler's long-lived state (a projector's folded cases) was large, so each full one walked all
        of it (a projector on a topic whose records carry the publisher's three headers: 8 533-9 027 events/s,
        with the thresholds raised for the poll too 9 616-10 166; ADR 0039)."""
        with fewer_collections():
            return self._poll_and_apply(timeout_ms)

    def _poll_and_apply(self, timeout_ms: int | None) -> BatchResult | None:
        self.connect()
        records, self.prefetched = self.prefetched, None
        came_prefetched = bool(records)
        if not records:
            polled = self.consumer.poll(
                timeout_ms=self.options.poll_timeout_ms if timeout_ms is None else timeout_ms,
                max_records=self.options.batch_size,
            )
            records = [r for batch in polled.values() for r in batch]
        if self.top_up_due(len(records)):
            records = self._top_up(records)
        if keep_join_going(self.consumer):
            self.log.info("runner.join_resumed", topic=self.options.topic, group=self.options.group)
        messages = sorted(
            (Message(r.topic, r.partition, r.offset, r.key, r.value, tuple(r.headers or ())) for r in records),
            key=lambda m: (m.partition, m.offset),
        )
        if not messages:
            return None
        self.behind = len(messages) >= self.options.batch_size
        began = time.monotonic()
        began_wall_ms = time.time() * 1000
        # the broker's (or the producer's) time of the batch's oldest record: how long it waited to be applied
        oldest_ms = min((t for r in records if isinstance(t := getattr(r, "timestamp", None), int)), default=None)
        try:
            result = self.handler.apply_batch(messages)
        finally:
            self._release_held()
        self.last_apply_s = time.monotonic() - began
        result.prefetched = came_prefetched
        if result.gaps:
            # the whole batch rolled back: every partition in it goes back, not only the gapped ones
            back = {m.partition: m.offset for m in reversed(messages)} | result.gaps
            self._drop_prefetched(set(back))
            for partition, offset in back.items():
                if partition in result.gaps:
                    self.log.warning(
                        "gap before stored offset; seeking back",
                        topic=self.options.topic,
                        partition=partition,
                        offset=offset,
                    )
                self.consumer.seek(TopicPartition(self.options.topic, partition), offset)
            return result
        self._commit_to_kafka(messages)
        last = messages[-1]
        self.log.debug(
            "batch applied",
            topic=last.topic,
            partition=last.partition,
            offset=last.offset,
            applied=result.applied,
            parked=result.parked,
            messages=len(messages),
            prefetched=came_prefetched,
            apply_ms=round(self.last_apply_s * 1000, 1),
            waited_ms=None if oldest_ms is None else round(began_wall_ms - oldest_ms, 1),
        )
        return result

    def prefetch(self) -> list[Any]:
        """Poll the next batch now, for a handler whose batch PostgreSQL is still writing (the projector calls it
        after sending its last writes): the poll takes what the consumer has fetched and never waits for the
        broker, and a rebalance it brings is held until the batch's transaction has ended (``_release_held``).
        Returns the records (kafka-python's), which the next ``poll_once`` applies; [] when nothing came, when
        a batch is already prefetched, when the batch in hand is not a full one (``behind``: under a light load
        the poll would only hold back the batch's commit), or when the poll failed (logged; the next batch polls
        as usual)."""
        if self.prefetched is not None or self.consumer is None or not self.behind:
            return []
        self.holding = True
        try:
            polled = self.consumer.poll(timeout_ms=0, max_records=self.options.batch_size)
        except Exception as exc:  # noqa: BLE001 - the next poll meets it again, outside the batch's transaction
            self.log.debug("runner.prefetch_failed", topic=self.options.topic, error=describe(exc))
            return []
        finally:
            self.holding = False
        self.prefetched = [r for batch in polled.values() for r in batch]
        return self.prefetched

    def _release_held(self) -> None:
        """The rebalance callbacks a prefetch held, in their order, now that the batch's transaction has ended."""
        held, self.held = self.held, []
        for what, partitions in held:
            if what == "revoked":
                self.handler.revoked()
            else:
                self.seek_to_stored(partitions)

    def _drop_prefetched(self, partitions: set[int]) -> None:
        """Forget prefetched records of ``partitions`` (about to be sought); the others' partitions still assigned
        are sought back to their first prefetched record, so the next poll brings them again."""
        if not self.prefetched:
            self.prefetched = None
            return
        first: dict[Any, int] = {}
        for r in self.prefetched:
            if r.partition not in partitions:
                tp = TopicPartition(r.topic, r.partition)
                first[tp] = min(first.get(tp, r.offset), r.offset)
        self.prefetched = None
        assigned = self.consumer.assignment()
        for tp, offset in first.items():
            if tp in assigned:  # one no longer assigned starts at its stored offset wherever it goes next
                self.consumer.seek(tp, offset)

    def _top_up(self, records: list[Any]) -> list[Any]:
        """``records`` and what one more short poll brings. A rebalance inside that poll (the partitions
        revoked and assigned again, each sought back to its stored offset) may hand out some of ``records``
        again, or leave some of their partitions to another member: those are dropped, as the first poll of
        a batch would never have brought them."""
        self.topped_up += 1
        rebalances = self.rebalances
        more = self.consumer.poll(
            timeout_ms=self.options.top_up_wait_ms, max_records=self.options.batch_size - len(records)
        )
        records = records + [r for batch in more.values() for r in batch]
        if self.rebalances == rebalances:
            return records
        kept = {tp.partition for tp in self.consumer.assignment()}
        once = {(r.partition, r.offset): r for r in records if r.partition in kept}
        return list(once.values())

    def top_up_due(self, polled: int) -> bool:
        """Whether a poll that brought ``polled`` records polls once more before the batch is applied: it
        brought some but not a full batch, and the last batch took ``top_up_after_ms`` or longer, so records
        reached the broker while the fetch that brought these was already done. A light load (short batches)
        never waits for it."""
        after = self.options.top_up_after_ms
        return after is not None and 0 < polled < self.options.batch_size and self.last_apply_s * 1000 >= after

    def run(
        self, stop: threading.Event | None = None, *, until_caught_up: bool = False, idle_timeout_s: float | None = None
    ) -> RunReport:
        """Apply batches until ``stop`` is set (or, with ``until_caught_up``, until every assigned
        partition is applied to its end; with ``idle_timeout_s``, until nothing came for that long)."""
        stop = stop or threading.Event()
        report = RunReport()
        started = idle_since = time.monotonic()
        with fewer_collections(LOOP_THRESHOLDS):  # over the whole loop, not batch by batch (domain.collector)
            while not stop.is_set():
                try:
                    result = self.poll_once()
                    self.backoff.reset()
                    self.beat()
                except OUTAGES as exc:
                    self.ride_out(exc, stop)
                    continue
                if result is not None:
                    idle_since = time.monotonic()
                    report.add(result)
                    continue
                if until_caught_up and self.caught_up():
                    break
                if idle_timeout_s is not None and time.monotonic() - idle_since > idle_timeout_s:
                    break
        report.seconds = time.monotonic() - started
        return report

    def ride_out(self, exc: BaseException, stop: threading.Event) -> None:
        """An outage: forget, wait, reconnect, seek back to the stored offsets; until it works or ``stop``."""
        self.handler.revoked()
        # a fresh end-offsets client after an outage: one that asked a cluster node that died kept timing out
        # after the node came back (a three-node cluster, ADR 0031), so the process manager never ticked again
        self._close_offsets_reader()
        while not stop.is_set():
            delay = self.backoff.next()
            self.log.warning(
                "outage; reconnecting", topic=self.options.topic, error=describe(exc), in_seconds=round(delay, 2)
            )
            self.beat("reconnecting", force=True)
            stop.wait(delay)
            try:
                self.conn = self.handler.reconnect()
                if self.consumer is not None:
                    self.seek_to_stored(list(self.consumer.assignment()))
            except OUTAGES as again:
                exc = again
                continue
            self.log.info("reconnected", topic=self.options.topic, after_failures=self.backoff.failures)
            return

    def beat(self, state: str = "running", *, force: bool = False) -> None:
        """The heartbeat, with lag and position, when one is due (or ``force``)."""
        if self.heartbeat is None or not (force or self.heartbeat.due()):
            return
        lag: int | None = None
        position: int | None = None
        if state == "running":
            try:
                lag, position = self.progress()
            except OUTAGES:
                state = "degraded"
        self.heartbeat.beat(state=state, lag=lag, position=position)

    def progress(self) -> tuple[int | None, int | None]:
        """(lag, position) over the assigned partitions: records not yet applied (against the high
        watermarks the member's own fetches brought, so a beat asks Kafka nothing), stored next
        offsets summed; (None, None) while nothing is assigned or fetched yet."""
        assigned = list(self.consumer.assignment()) if self.consumer is not None else []
        ends = {tp.partition: hw for tp in assigned if (hw := self.consumer.highwater(tp)) is not None}
        if not ends:
            return None, None
        stored = self.stored()
        at = {p: min(s.get(p, 0) for s in stored) for p in ends}
        return sum(max(end - at[p], 0) for p, end in ends.items()), sum(at.values())

    def caught_up(self) -> bool:
        """Whether every assigned partition's stored offsets reached the end of the topic."""
        assigned = list(self.consumer.assignment()) if self.consumer is not None else []
        if not assigned:
            return False
        ends = self.end_offsets(assigned)
        return all(s.get(p, 0) >= end for s in self.stored() for p, end in ends.items())

    def catch_up(self, timeout_s: float = 60.0, *, who: str = "the runner") -> RunReport:
        """Poll until the stored offsets hold every record the topic had when called (the group's
        assignment included); ``ServiceError`` (naming ``who``) after ``timeout_s``."""
        self.connect()
        report = RunReport()
        deadline = time.monotonic() + timeout_s
        assigned = list(self.consumer.assignment())
        ends = self.end_offsets(assigned) if assigned else None
        while True:
            if ends is not None and all(s.get(p, 0) >= o for s in self.stored() for p, o in ends.items()):
                return report
            result = self.poll_once(timeout_ms=100)  # shorter ones can cut a group join short and start it over
            if result is not None:
                report.add(result)
            if ends is None and (assigned := list(self.consumer.assignment())):
                ends = self.end_offsets(assigned)
            if time.monotonic() > deadline:
                raise ServiceError(
                    f"{who} did not catch up with {self.options.topic} within {timeout_s:.0f} s",
                    "check that Kafka runs (`kravsak status`)",
                )

    def _commit_to_kafka(self, messages: Sequence[Message]) -> None:
        """Progress for tools (consumer-group lag); PostgreSQL stays the source of truth."""
        last: dict[int, int] = {}
        for m in messages:
            last[m.partition] = max(last.get(m.partition, -1), m.offset)
        try:
            self.consumer.commit_async(
                {TopicPartition(self.options.topic, p): OffsetAndMetadata(o + 1, "", -1) for p, o in last.items()}
            )
        except Exception as exc:  # noqa: BLE001 - only a progress signal
            self.log.debug("kafka commit skipped", error=str(exc))
