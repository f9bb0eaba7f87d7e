"""The publisher's records: a stored event decoded, mapped to its envelope and Avro-encoded, with its key and headers.

``Preparer.prepare(notification)`` does it for one event in the calling process (the publisher's own, for a
release and for an event whose parties only the store knows). ``PrepareWorker`` does it for whole batches in a
child process, so that the publisher sends one batch while the next one is prepared: on two cores the decoding,
mapping and encoding (more Python per event than kafka-python's ``send``) no longer share the one
interpreter lock with the producer (ADR 0022, "Publish").

The child is forked from the publisher once its app exists, closes every descriptor it inherited but its end
of the pipe (the publisher's PostgreSQL session, whose advisory lock must end with the publisher, and its Kafka
sockets), and runs only pure functions over the bytes it is sent: no connection, no thread, no logging, no I/O
but its pipe; it ends when the publisher's end of the pipe closes (a kill -9 of the publisher too).
It learns creditors and debtors from the creation events it sees (a ``PartyIndex`` in log order, like the
publisher's); for an event whose aggregate it has not seen (its first events were published before a restart)
it answers ``IN_PARENT`` and the publisher prepares that one itself, with the store as its fallback. An event
that cannot be prepared comes back as ``Failed`` with the same ``"Type: message"`` the publisher would have
logged: the publisher holds its case. A child that dies or answers nonsense is closed and the publisher
prepares in its own process from then on.
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
from typing import Any, Final
from uuid import UUID

from eventsourcing.persistence import Mapper, Notification

from consumers.partitions import KeyPartitioner, PartitionRange
from consumers.wire import envelope
from consumers.wire.codec import AvroSchema, SchemaStore, encode
from domain.collector import batch_process


@dataclass(frozen=True, slots=True)
class Prepared:
    """One Kafka record of the case-events topic, ready to send."""

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

    def prepare(self, notification: Notification) -> Prepared:
        event = self.mapper.to_domain_event(notification)
        self.parties.learn(event)
        full_name, record = envelope.event_record(
            event, position=notification.id, parties=self.parties, digest_key=self.digest_key
        )
        schema, event_type, fingerprint = self._schema(full_name, record)
        key = envelope.case_key(event)
        return Prepared(
            notification.id,
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
        try:
            return self.prepare(notification)
        except PartiesUnknown:
            return IN_PARENT
        except Exception as exc:  # the publisher holds the case with this text
            return Failed(notification.id, f"{type(exc).__name__}: {exc}")


def _unknown_parties(aggregate_id: UUID) -> envelope.Parties | None:
    raise PartiesUnknown(str(aggregate_id))


Row = tuple[int, str, int, str, bytes]
"""A stored event as the publisher reads it: notification id, aggregate id (text), version, topic, state."""


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
        self, mapper: Mapper[Any], schemas: SchemaStore, digest_key: bytes, *, owned: PartitionRange | None = None
    ) -> None:
        context = multiprocessing.get_context("fork")
        self._conn, child = context.Pipe()
        self.buffer = min(_grow_send_buffer(self._conn), _grow_send_buffer(child))
        """The bytes of outcomes the child may have under way without waiting for the publisher to read them."""
        self._process = context.Process(
            target=_serve,
            args=(child, mapper, schemas, digest_key, owned),
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

    def submit_rows(self, rows: Sequence[Row], partitions: int | None = None) -> None:
        """A batch as the event store's rows (``Row``: the aggregate id as text, which pickles far faster than a
        ``UUID``; the child makes the ``UUID``), and the topic's partition count (None: the records carry no
        partition; a worker with a partition range needs it). Rows outside the range come back ``SKIPPED``."""
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
                for row in rows:
                    yield _outcome(row)

    def _receive(self, got: int, expected: int) -> list[tuple[Any, ...]]:
        try:
            rows = self._conn.recv()
        except (EOFError, OSError) as exc:
            raise WorkerGone(f"the prepare process ended (exit code {self._process.exitcode}): {exc!r}") from exc
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
    ) -> None:
        if processes < 1:
            raise ValueError(f"a prepare pool has at least one process, not {processes}")
        self.workers: list[PrepareWorker] = []
        try:
            for _ in range(processes):
                self.workers.append(PrepareWorker(mapper, schemas, digest_key, owned=owned))
        except BaseException:
            self.close()
            raise
        self.buffer = min(w.buffer for w in self.workers)
        self._shares: deque[list[int]] = deque()
        """Per submitted batch, not yet collected: the child of each row."""

    @property
    def pending(self) -> int:
        return len(self._shares)

    def share(self, aggregate_id: str) -> int:
        """The child that prepares the aggregate's events (its id as text; a UUID's last digits are random)."""
        return int(aggregate_id[-2:], 16) % len(self.workers)

    def submit_rows(self, rows: Sequence[Row], partitions: int | None = None) -> None:
        """A batch split between the children (``PrepareWorker.submit_rows``); a child with no share gets nothing."""
        shares = [self.share(row[1]) for row in rows]
        parts: list[list[Row]] = [[] for _ in self.workers]
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

        streams = [
            worker.collect(count, on_last_chunk=one_done) if count else iter(())
            for worker, count in zip(self.workers, counts, strict=True)
        ]
        for child in shares:
            yield next(streams[child])

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
    if row[0] == "ok":
        return Prepared(row[1], row[2], row[3], list(row[4]), row[5])
    if row[0] == "failed":
        return Failed(row[1], row[2])
    if row[0] == "skip":
        return SKIPPED
    return IN_PARENT


def _row(outcome: Outcome) -> tuple[Any, ...]:
    """Plain tuples over the pipe: they pickle faster than the dataclasses."""
    if isinstance(outcome, Prepared):
        return ("ok", outcome.position, outcome.key, outcome.value, tuple(outcome.headers), outcome.partition)
    if isinstance(outcome, Failed):
        return ("failed", outcome.position, outcome.error)
    if outcome is SKIPPED:
        return _SKIP
    return ("parent",)


_SKIP = ("skip",)


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
    conn: Connection, mapper: Mapper[Any], schemas: SchemaStore, digest_key: bytes, owned: PartitionRange | None
) -> None:
    """The child's loop: a batch in, its outcomes out, until ``None`` or the publisher's end of the pipe closes."""
    _close_inherited(keep=conn.fileno())
    batch_process()  # the process prepares batch after batch, almost nothing in cycles (domain.collector)
    preparer = Preparer(mapper, schemas, envelope.PartyIndex(fallback=_unknown_parties), digest_key, owned=owned)
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
        for start in range(0, len(batch), CHUNK):
            out = []
            for row in batch[start : start + CHUNK]:
                if preparer.owns(row[1]):
                    out.append(_row(preparer.outcome(notification_of(row))))
                else:  # another publisher's: not decoded, not learnt from
                    out.append(_SKIP)
            conn.send(out)
