"""The publisher's records: a stored event decoded, mapped to its envelope and Avro-encoded, with its key and headers.

``Preparer.prepare_row(row)`` does it for one stored event in the calling process: straight from the stored JSON
(``envelope.StoredForm``), or through the domain event (``prepare``) wherever that way might say otherwise (ADR
0041). ``PrepareWorker`` does it for whole batches in a child process, so that the publisher sends one batch while
the next one is prepared: on two cores the decoding, mapping and encoding (more Python per event than
kafka-python's ``send``) no longer share the one interpreter lock with the producer (ADR 0022, "Publish").

The child is forked from the publisher once its app exists and closes every descriptor it inherited but its end
of the pipe (the publisher's PostgreSQL session, whose advisory lock must end with the publisher, and its Kafka
sockets): no thread, no logging, no Kafka. Given a batch as ``Head``s (without the states) it reads its share's
states itself, on a PostgreSQL session of its own that can only read (``StoreAccess``, opened after the fork), and
there too the first event of a case whose creation it has not seen (its parties); given ``Row``s it reads
nothing. It ends when the publisher's end of the pipe closes (a kill -9 of the publisher too). It learns creditors
and debtors from the creation events it sees (a ``PartyIndex`` in log order, like the publisher's); where it cannot
learn them (no store to read, or a failure to read it) it answers ``IN_PARENT`` and the publisher prepares that
event itself. An event that cannot be prepared comes back as ``Failed`` with the same ``"Type: message"`` the
publisher would have logged: the publisher holds its case. A child that dies, cannot read its batch or answers
nonsense is closed and the publisher prepares in its own process until it reconnects.
"""

from __future__ import annotations

import io
import multiprocessing
import os
import socket
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any, Final, NamedTuple
from uuid import UUID

import psycopg
from eventsourcing.persistence import Mapper, Notification
from psycopg import sql

from consumers.partitions import KeyPartitioner, PartitionRange
from consumers.wire import envelope
from consumers.wire.codec import AvroSchema, SchemaStore, encode
from domain.collector import batch_process


class Prepared(NamedTuple):
    """One Kafka record of the case-events topic, ready to send (a named tuple: the publisher makes one per event
    from the child's plain tuple, ~0.2 µs against a frozen dataclass's ~0.7; ADR 0041)."""

    position: int
    key: bytes
    value: bytes
    headers: list[tuple[str, bytes]]
    partition: int | None = None
    """The key's partition (``KeyPartitioner``), when the preparer knew the topic's partition count."""


@dataclass(frozen=True, slots=True)
class Failed:
    """An event that cannot be turned into a record: its case is held with ``error``."""

    position: int
    error: str


class _Skipped:
    """The event's case lies in another publisher's partition range: not this publisher's to send."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "SKIPPED"


SKIPPED: Final = _Skipped()


class _InParent:
    """The child does not know the aggregate's parties: the publisher prepares the event itself."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "IN_PARENT"


IN_PARENT: Final = _InParent()
Outcome = Prepared | Failed | _InParent | _Skipped


class PartiesUnknown(Exception):
    """Raised by the child's party look-up for an aggregate it has not seen (never a ValueError: the envelope
    must not wrap it into an ``UnmappableEvent``)."""


class Preparer:
    """Turns notifications into records: the app's mapper, the schemas, a party look-up and the digest key.

    The encoding writes into one reused buffer, and the headers' constant parts are made once per schema."""

    def __init__(
        self,
        mapper: Mapper[Any],
        schemas: SchemaStore,
        parties: envelope.PartyIndex,
        digest_key: bytes,
        *,
        owned: PartitionRange | None = None,
    ) -> None:
        self.mapper = mapper
        self.schemas = schemas
        self.parties = parties
        self.digest_key = digest_key
        self.owned = owned
        """The partition range of the publisher (None: every partition)."""
        self.partitioner: KeyPartitioner | None = None
        """Set once the topic's partition count is known: the records then carry their partition."""
        self.stored = envelope.StoredForm(mapper, digest_key)
        self._buffer = io.BytesIO()
        self._schemas: dict[str, tuple[AvroSchema, bytes, bytes]] = {}

    def partitions(self, count: int) -> None:
        """The topic has ``count`` partitions (a new partitioner only when the count changed)."""
        if self.partitioner is None or self.partitioner.partitions != count:
            self.partitioner = KeyPartitioner(count)

    def owns(self, case_id: str) -> bool:
        """Whether the case's partition lies in this publisher's range (always, without a range)."""
        if self.owned is None:
            return True
        if self.partitioner is None:
            raise RuntimeError("a partition range needs the topic's partition count first")
        return self.partitioner(case_id.encode("ascii")) in self.owned

    def prepare_row(self, row: Row) -> Prepared:
        """``prepare`` of a row as read from the store: its record straight from the stored JSON
        (``envelope.StoredForm``), or, where that way cannot say, through the domain event (``prepare``)."""
        position, case_id, version, topic, state = row
        found = self.stored.record(topic, state, case_id, version, position, self.parties)
        if found is None:
            return self.prepare(notification_of(row))
        return self._prepared(position, case_id.encode("ascii"), found[0].full_name, found[1])

    def prepare(self, notification: Notification) -> Prepared:
        event = self.mapper.to_domain_event(notification)
        self.parties.learn(event)
        full_name, record = envelope.event_record(
            event, position=notification.id, parties=self.parties, digest_key=self.digest_key
        )
        return self._prepared(notification.id, envelope.case_key(event), full_name, record)

    def _prepared(self, position: int, key: bytes, full_name: str, record: envelope.Record) -> Prepared:
        schema, event_type, fingerprint = self._schema(full_name, record)
        return Prepared(
            position,
            key,
            encode(record, schema, self._buffer),
            [
                ("event-type", event_type),
                ("event-id", str(record["event_id"]).encode()),
                ("schema-fingerprint", fingerprint),
            ],
            self.partitioner(key) if self.partitioner is not None else None,
        )

    def _schema(self, full_name: str, record: envelope.Record) -> tuple[AvroSchema, bytes, bytes]:
        known = self._schemas.get(full_name)
        if known is None:
            schema = self.schemas.latest(full_name)
            known = self._schemas[full_name] = (
                schema,
                str(record["event_type"]).encode(),
                schema.fingerprint_hex.encode(),
            )
        return known

    def outcome(self, notification: Notification) -> Outcome:
        """``prepare`` with its failure as a value (in the child: no outage can happen there)."""
        return self._outcome(notification.id, self.prepare, notification)

    def outcome_row(self, row: Row) -> Outcome:
        """``prepare_row`` with its failure as a value."""
        return self._outcome(row[0], self.prepare_row, row)

    @staticmethod
    def _outcome(position: int, prepare: Callable[[Any], Prepared], what: Any) -> Outcome:
        try:
            return prepare(what)
        except PartiesUnknown:
            return IN_PARENT
        except Exception as exc:  # the publisher holds the case with this text
            return Failed(position, f"{type(exc).__name__}: {exc}")


def _unknown_parties(aggregate_id: UUID) -> envelope.Parties | None:
    raise PartiesUnknown(str(aggregate_id))


Row = tuple[int, str, int, str, bytes]
"""A stored event as the publisher reads it: notification id, aggregate id (text), version, topic, state."""
Head = tuple[int, str, int, str]
"""A stored event without its state (``Row`` but the last): what the publisher reads of a batch its children prepare;
each child reads the states of its share itself (``StoreAccess``)."""


@dataclass(frozen=True, slots=True)
class StoreAccess:
    """Where the stored events are, for reading them (the publisher, and its children with connections of their own).
    Only reads: the position, the held events and the lock stay with the publisher's own session."""

    dsn: str
    schema: str
    table: str

    def connect(self) -> psycopg.Connection[Any]:
        """A session of its own that can only read (the children's: what they do not need, they cannot do)."""
        conn = psycopg.connect(self.dsn, autocommit=True, connect_timeout=10)
        try:
            conn.execute("SET default_transaction_read_only = on")
        except BaseException:
            conn.close()
            raise
        return conn

    def rows(self, conn: psycopg.Connection[Any], start: int, limit: int, *, states: bool = True) -> list[Any]:
        """Up to ``limit`` stored events from notification id ``start`` on, in id order: ``Row``s, or without
        ``states`` ``Head``s (the aggregate id as text: no ``UUID`` made of each here). In binary: the states come as
        their bytes, not as hex text to decode (a row 4.1-4.7 -> 1.8-2.2 µs of CPU, ~1.1 KB of state each)."""
        where = "notification_id >= %s ORDER BY notification_id LIMIT %s"
        return self._select(conn, where, (start, limit), states=states).fetchall()

    def states(self, conn: psycopg.Connection[Any], heads: Sequence[Head]) -> list[Row]:
        """The ``Row``s of ``heads`` (their notification ids), in their order; LookupError if one is not there."""
        ids = [head[0] for head in heads]
        found: list[Row] = self._select(conn, "notification_id = ANY(%s) ORDER BY notification_id", (ids,)).fetchall()
        if [row[0] for row in found] != ids:
            missing = sorted(set(ids) - {row[0] for row in found})
            raise LookupError(f"stored events {missing[:5]} are not in {self.schema}.{self.table}")
        return found

    def first_event(self, conn: psycopg.Connection[Any], case_id: str) -> Notification | None:
        """The aggregate's first stored event (for its parties), None if it has none."""
        row = self._select(conn, "originator_id = %s AND originator_version = 1", (case_id,)).fetchone()
        return None if row is None else notification_of(row)

    def _select(
        self, conn: psycopg.Connection[Any], where: str, params: tuple[Any, ...], *, states: bool = True
    ) -> psycopg.Cursor[Any]:
        query = sql.SQL(
            "SELECT notification_id, originator_id::text, originator_version, topic{} FROM {}.{} WHERE " + where
        ).format(sql.SQL(", state" if states else ""), sql.Identifier(self.schema), sql.Identifier(self.table))
        return conn.cursor(binary=True).execute(query, params, prepare=True)


def notification_of(row: Row) -> Notification:
    position, originator_id, version, topic, state = row
    return Notification(
        id=position, originator_id=UUID(originator_id), originator_version=version, topic=topic, state=state
    )


CHUNK = 250
"""The child answers a batch in chunks of this many outcomes: the publisher starts sending after the first."""

PIPE_BUFFER = 4 << 20
"""Bytes each end of the pipe may have on its way (``SO_SNDBUF``; the kernel caps it at ``net.core.wmem_max`` and
doubles it). With the default ~200 KB the child blocked on its second chunk whenever the publisher was flushing or
reading the next batch: a fifth of its time at 100 000 events (bench README, "Publish")."""


class WorkerGone(RuntimeError):
    """The child process died or its pipe broke: the publisher prepares in its own process from now on."""


class PrepareWorker:
    """A forked child that prepares batches in the order they are submitted (``submit``, then ``collect``)."""

    def __init__(
        self,
        mapper: Mapper[Any],
        schemas: SchemaStore,
        digest_key: bytes,
        *,
        owned: PartitionRange | None = None,
        store: StoreAccess | None = None,
    ) -> None:
        context = multiprocessing.get_context("fork")
        self._conn, child = context.Pipe()
        self.buffer = min(_grow_send_buffer(self._conn), _grow_send_buffer(child))
        """The bytes of outcomes the child may have under way without waiting for the publisher to read them."""
        self._process = context.Process(
            target=_serve,
            args=(child, mapper, schemas, digest_key, owned, store),
            name="kravsak-publisher-prepare",
            daemon=True,
        )
        self._process.start()
        child.close()
        self.pending = 0

    @staticmethod
    def available() -> bool:
        return "fork" in multiprocessing.get_all_start_methods()

    def submit(self, notifications: Sequence[Notification]) -> None:
        self.submit_rows([(n.id, str(n.originator_id), n.originator_version, n.topic, n.state) for n in notifications])

    def submit_rows(self, rows: Sequence[Row | Head], partitions: int | None = None) -> None:
        """A batch as the event store's rows (``Row``: the aggregate id as text, which pickles far faster than a
        ``UUID``; the child makes the ``UUID``), or as ``Head``s whose states the child reads (given a
        ``StoreAccess``), and the topic's partition count (None: the records carry no partition; a worker with a
        partition range needs it). Rows outside the range come back ``SKIPPED``."""
        try:
            self._conn.send((partitions, rows))
        except (OSError, ValueError) as exc:
            raise WorkerGone(f"cannot send to the prepare process: {exc}") from exc
        self.pending += 1

    def collect(self, expected: int, *, on_last_chunk: Callable[[], None] | None = None) -> Iterator[Outcome]:
        """The outcomes of the oldest submitted batch, one per notification, as the child's chunks arrive (the
        publisher sends the first records while the child still prepares the rest). ``on_last_chunk`` runs when
        the batch's last chunk has been read: from then on the child waits for the next batch. Each time a chunk
        is needed, every chunk already in the pipe is read with it, so that the last one is read (and the next
        batch handed over) as soon as it is there, not when the publisher has sent all before it."""
        for chunk in self.chunks(expected, on_last_chunk=on_last_chunk):
            yield from chunk

    def chunks(self, expected: int, *, on_last_chunk: Callable[[], None] | None = None) -> Iterator[list[Outcome]]:
        """``collect``'s outcomes a chunk at a time (a list each: the publisher takes them one by one from a list's
        iterator, not through a generator per outcome)."""
        got = 0
        while got < expected:
            chunks = [self._receive(got, expected)]
            got += len(chunks[-1])
            while got < expected and self._ready():
                chunks.append(self._receive(got, expected))
                got += len(chunks[-1])
            if got == expected:
                self.pending -= 1
                if on_last_chunk is not None:
                    on_last_chunk()
            for rows in chunks:
                yield [_as_prepared(Prepared, row) if len(row) == _PREPARED_FIELDS else _outcome(row) for row in rows]

    def _receive(self, got: int, expected: int) -> list[tuple[Any, ...]]:
        try:
            rows = self._conn.recv()
        except (EOFError, OSError) as exc:
            raise WorkerGone(f"the prepare process ended (exit code {self._process.exitcode}): {exc!r}") from exc
        if isinstance(rows, tuple) and rows[:1] == (_GONE,):
            raise WorkerGone(f"the prepare process could not read the store: {rows[1]}")
        if not isinstance(rows, list) or not rows or got + len(rows) > expected:
            raise WorkerGone(f"the prepare process answered {type(rows).__name__} after {got} of {expected}")
        return rows

    def _ready(self) -> bool:
        try:
            return self._conn.poll()
        except (EOFError, OSError) as exc:
            raise WorkerGone(f"the prepare process's pipe broke: {exc!r}") from exc

    def close(self) -> None:
        try:
            self._conn.send(None)
        except (OSError, ValueError):
            pass
        self._conn.close()
        self._process.join(2)
        if self._process.is_alive():
            self._process.kill()
            self._process.join(2)


class PreparePool:
    """``processes`` forked children (``PrepareWorker``), each preparing the events of its share of the aggregates,
    with one child's interface: batches in (``submit_rows``), outcomes out in the batch's order (``collect``).

    An aggregate's events always go to the same child (``share``: the last two hex digits of its id), so each child
    sees the creation event of every aggregate it prepares and learns its parties as a single child would. On two
    cores one child was the publisher's bound (its ~35 µs per event against the parent's ~20): two share it.
    A batch's next batch is submitted only when every child has sent its last chunk of this one (each then waits
    in ``recv``): the publisher never blocks on a child that is itself blocked sending to the publisher."""

    def __init__(
        self,
        mapper: Mapper[Any],
        schemas: SchemaStore,
        digest_key: bytes,
        *,
        owned: PartitionRange | None = None,
        processes: int = 2,
        store: StoreAccess | None = None,
    ) -> None:
        if processes < 1:
            raise ValueError(f"a prepare pool has at least one process, not {processes}")
        self.workers: list[PrepareWorker] = []
        try:
            for _ in range(processes):
                self.workers.append(PrepareWorker(mapper, schemas, digest_key, owned=owned, store=store))
        except BaseException:
            self.close()
            raise
        self.buffer = min(w.buffer for w in self.workers)
        self.reads = store is not None
        """Whether the children read the states of ``Head``s themselves (with a ``StoreAccess``), and the parties of
        a case whose creation event they have not seen."""
        self._shares: deque[list[int]] = deque()
        """Per submitted batch, not yet collected: the child of each row."""

    @property
    def pending(self) -> int:
        return len(self._shares)

    def share(self, aggregate_id: str) -> int:
        """The child that prepares the aggregate's events (its id as text; a UUID's last digits are random)."""
        return int(aggregate_id[-2:], 16) % len(self.workers)

    def submit_rows(self, rows: Sequence[Row | Head], partitions: int | None = None) -> None:
        """A batch split between the children (``PrepareWorker.submit_rows``); a child with no share gets nothing."""
        shares = [self.share(row[1]) for row in rows]
        parts: list[list[Row | Head]] = [[] for _ in self.workers]
        for child, row in zip(shares, rows, strict=True):
            parts[child].append(row)
        for worker, part in zip(self.workers, parts, strict=True):
            if part:
                worker.submit_rows(part, partitions)
        self._shares.append(shares)

    def collect(self, expected: int, *, on_last_chunk: Callable[[], None] | None = None) -> Iterator[Outcome]:
        """The outcomes of the oldest submitted batch in its order, taken from each row's child as its chunks come.
        ``on_last_chunk`` runs once every child has sent its last chunk of the batch."""
        shares = self._shares.popleft()
        if len(shares) != expected:
            raise WorkerGone(f"collecting {expected} outcomes of a batch of {len(shares)}")
        counts = [0] * len(self.workers)
        for child in shares:
            counts[child] += 1
        busy = sum(1 for count in counts if count)

        def one_done() -> None:
            nonlocal busy
            busy -= 1
            if busy == 0 and on_last_chunk is not None:
                on_last_chunk()

        sources = [
            worker.chunks(count, on_last_chunk=one_done) if count else iter(())
            for worker, count in zip(self.workers, counts, strict=True)
        ]
        taking: list[Iterator[Outcome]] = [iter(()) for _ in self.workers]
        for child in shares:
            for outcome in taking[child]:  # the next outcome of the child's current chunk, if it has one left
                yield outcome
                break
            else:
                taking[child] = iter(next(sources[child]))
                yield next(taking[child])

    def close(self) -> None:
        for worker in self.workers:
            worker.close()


def _grow_send_buffer(conn: Connection) -> int:
    """Asks for ``PIPE_BUFFER`` bytes of send buffer on one end of the pipe (a socket pair); what the kernel gave."""
    end = socket.socket(fileno=os.dup(conn.fileno()))
    try:
        end.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, PIPE_BUFFER)
        return int(end.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF))
    finally:
        end.close()


def _outcome(row: tuple[Any, ...]) -> Outcome:
    if len(row) == _PREPARED_FIELDS:
        return _as_prepared(Prepared, row)
    if row[0] == "failed":
        return Failed(row[1], row[2])
    if row[0] == "skip":
        return SKIPPED
    return IN_PARENT


def _row(outcome: Outcome) -> tuple[Any, ...]:
    """Plain tuples over the pipe (they pickle faster than the classes): a record as its five fields, the other
    outcomes as a shorter tuple with a tag first."""
    if isinstance(outcome, Prepared):
        return tuple(outcome)
    if isinstance(outcome, Failed):
        return ("failed", outcome.position, outcome.error)
    if outcome is SKIPPED:
        return _SKIP
    return ("parent",)


_SKIP = ("skip",)
_PREPARED_FIELDS = len(Prepared._fields)
_as_prepared = tuple.__new__
"""``Prepared`` made from the pipe's tuple as it is (a named tuple's own ``__new__`` takes the fields one by one)."""


def _close_inherited(keep: int) -> None:
    """Closes every descriptor the fork copied but the pipe and the standard streams, without a word on them:
    the publisher's PostgreSQL session (whose advisory lock must end with the publisher, even after a kill -9),
    its Kafka sockets, and its own end of this pipe (so that the child sees the publisher's end as closed)."""
    os.closerange(3, keep)
    os.closerange(keep + 1, _max_fd())


def _max_fd() -> int:
    try:
        return int(os.sysconf("SC_OPEN_MAX"))
    except (ValueError, OSError):
        return 65536


def _serve(
    conn: Connection,
    mapper: Mapper[Any],
    schemas: SchemaStore,
    digest_key: bytes,
    owned: PartitionRange | None,
    store: StoreAccess | None,
) -> None:
    """The child's loop: a batch in, its outcomes out, until ``None`` or the publisher's end of the pipe closes. With
    ``store`` it reads the states of a batch's ``Head``s and the parties of a case it has not seen with a connection
    of its own, opened here after the fork; a batch it cannot read is answered ``(_GONE, why)`` and the child ends."""
    _close_inherited(keep=conn.fileno())
    batch_process()  # the process prepares batch after batch, almost nothing in cycles (domain.collector)
    reader = _Reader(store, mapper) if store is not None else None
    parties = envelope.PartyIndex(fallback=reader.parties if reader is not None else _unknown_parties)
    preparer = Preparer(mapper, schemas, parties, digest_key, owned=owned)
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message is None:
            return
        partitions, batch = message
        if partitions is not None:
            preparer.partitions(partitions)
        if reader is not None and batch and is_head(batch[0]):
            try:
                batch = reader.rows([row for row in batch if preparer.owns(row[1])], batch)
            except Exception as exc:  # noqa: BLE001 - the publisher prepares in its own process from here
                conn.send((_GONE, f"{type(exc).__name__}: {exc}"))
                return
        for start in range(0, len(batch), CHUNK):
            out = []
            for row in batch[start : start + CHUNK]:
                if preparer.owns(row[1]):
                    out.append(_row(preparer.outcome_row(row)))
                else:  # another publisher's: not decoded, not learnt from
                    out.append(_SKIP)
            conn.send(out)


_GONE = "gone"
"""The first item of the child's answer when it cannot read the store."""
_HEAD_FIELDS = 4
"""A ``Head``'s length (a ``Row`` has the state besides)."""


def is_head(row: Row | Head) -> bool:
    """Whether ``row`` is a ``Head`` (read without its state)."""
    return len(row) == _HEAD_FIELDS


class _Reader:
    """The child's reading of the store: the states of its share of a batch, and a case's first event (its parties)."""

    def __init__(self, store: StoreAccess, mapper: Mapper[Any]) -> None:
        self.store = store
        self.mapper = mapper
        self._conn: psycopg.Connection[Any] | None = None

    def rows(self, owned: list[Head], batch: list[Head]) -> list[Any]:
        """The batch with the owned heads' rows in their place (the others stay heads: they are skipped)."""
        found = {row[0]: row for row in self.store.states(self._connection(), owned)} if owned else {}
        return [found.get(head[0], head) for head in batch]

    def parties(self, aggregate_id: UUID) -> envelope.Parties | None:
        """The parties its creation event names; a failure to read is ``PartiesUnknown`` (the publisher prepares the
        event, with the outage handling it has), never an error that would hold the case."""
        try:
            first = self.store.first_event(self._connection(), str(aggregate_id))
        except Exception as exc:  # noqa: BLE001 - see the docstring
            self._drop_connection()  # the next read opens a new one
            raise PartiesUnknown(str(aggregate_id)) from exc
        return None if first is None else envelope.parties_of(self.mapper.to_domain_event(first))

    def _connection(self) -> psycopg.Connection[Any]:
        if self._conn is None or self._conn.closed:
            self._conn = self.store.connect()
        return self._conn

    def _drop_connection(self) -> None:
        """Close the session a read failed on (it was left open before: a socket held until collected)."""
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()
