"""The next batch polled (and decoded) while PostgreSQL writes the last one (ADR 0045).

The runner's ``prefetch`` polls without waiting for the broker and holds a rebalance's callbacks until the
batch's transaction has ended; its records are the next batch. Every seek drops prefetched records, so
nothing is skipped and nothing is applied twice. The projector's applier decodes the prefetched records
while it waits, and uses what it decoded only for the very bytes it decoded."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from kafka import TopicPartition

from consumers.projector import Applier
from consumers.runner import BatchResult, ConsumerOptions, Message, Runner, _Listener
from tests.support.fake_consumer import TOPIC, FakeConsumer, record


class StoredOffsets:
    """An offsets table as ``seek_to_stored`` reads it."""

    def __init__(self, stored: dict[int, int]) -> None:
        self.stored = stored

    def read(self, cur: Any, topic: str) -> dict[int, int]:
        return dict(self.stored)


class FakeConnection:
    """Records whether a transaction is open: the runner must never read offsets inside the batch's."""

    def __init__(self) -> None:
        self.in_batch = False

    @contextmanager
    def transaction(self) -> Iterator[None]:
        assert not self.in_batch, "read the stored offsets inside the batch's transaction"
        yield

    @contextmanager
    def cursor(self) -> Iterator[None]:
        yield None


class Handler:
    """Applies a batch the way the projector does: inside it (its transaction open), calls ``meanwhile``."""

    def __init__(self, conn: FakeConnection) -> None:
        self.conn = conn
        self.batches: list[list[tuple[int, int]]] = []
        self.events: list[str] = []
        self.runner: Runner | None = None
        self.ahead: list[list[tuple[int, int]]] = []

    def apply_batch(self, messages: Sequence[Message]) -> BatchResult:
        self.conn.in_batch = True
        try:
            self.batches.append([(m.partition, m.offset) for m in messages])
            assert self.runner is not None
            self.ahead.append([(r.partition, r.offset) for r in self.runner.prefetch()])
            self.events.append("batch ended")
        finally:
            self.conn.in_batch = False
        return BatchResult(applied=len(messages))

    def revoked(self) -> None:
        assert not self.conn.in_batch, "revoked inside the batch's transaction"
        self.events.append("revoked")

    def reconnect(self) -> Any:
        raise AssertionError("no outage here")


def runner(consumer: FakeConsumer, stored: dict[int, int] | None = None, *, batch: int = 1) -> tuple[Runner, Handler]:
    """A runner on fakes; batches of ``batch`` records (a batch that brings as many is full: the runner is behind)."""
    conn = FakeConnection()
    handler = Handler(conn)
    r = Runner(
        conn=conn,  # type: ignore[arg-type]
        bootstrap="unused:9092",
        options=ConsumerOptions(topic=TOPIC, group="g", client_id="c", batch_size=batch, top_up_after_ms=None),
        tables=[StoredOffsets(stored or {})],  # type: ignore[list-item]
        handler=handler,
    )
    r.consumer = consumer
    handler.runner = r
    return r, handler


def test_what_the_prefetch_polled_is_the_next_batch_and_the_broker_is_not_waited_for() -> None:
    consumer = FakeConsumer(
        {TopicPartition(TOPIC, 0): [record(0, 0), record(0, 1)]},
        {TopicPartition(TOPIC, 0): [record(0, 2)], TopicPartition(TOPIC, 1): [record(1, 0)]},
        {},
    )
    r, handler = runner(consumer, batch=2)

    first = r.poll_once()
    second = r.poll_once()

    assert handler.batches == [[(0, 0), (0, 1)], [(0, 2), (1, 0)]]
    assert handler.ahead[0] == [(0, 2), (1, 0)]
    assert first is not None and second is not None and (first.prefetched, second.prefetched) == (False, True)
    # the first poll waits as configured; the prefetches (one per batch) never wait; the second batch was no poll
    assert consumer.asked == [(r.options.poll_timeout_ms, 2), (0, 2), (0, 2)]
    assert r.prefetched == []  # the second batch's prefetch brought nothing: the next batch polls as usual


def test_an_empty_prefetch_leaves_the_next_batch_to_the_usual_poll() -> None:
    consumer = FakeConsumer({TopicPartition(TOPIC, 0): [record(0, 0)]}, {}, {TopicPartition(TOPIC, 0): [record(0, 1)]})
    r, handler = runner(consumer)

    r.poll_once()
    r.poll_once()

    assert handler.batches == [[(0, 0)], [(0, 1)]]
    assert consumer.asked[2] == (r.options.poll_timeout_ms, 1)


def test_under_a_light_load_nothing_is_prefetched() -> None:
    """A batch that is not a full one: nothing more is waiting. A poll now would only hold back its commit."""
    consumer = FakeConsumer({TopicPartition(TOPIC, 0): [record(0, 0)]}, {TopicPartition(TOPIC, 0): [record(0, 1)]})
    r, handler = runner(consumer, batch=100)

    first = r.poll_once()
    second = r.poll_once()

    assert handler.ahead == [[], []] and first is not None and second is not None
    assert not first.prefetched and not second.prefetched
    assert consumer.asked == [(r.options.poll_timeout_ms, 100), (r.options.poll_timeout_ms, 100)]


def test_a_rebalance_in_the_prefetch_waits_for_the_batch_and_its_partitions_start_at_the_stored_offsets() -> None:
    """Inside the prefetch's poll the group takes every partition away and gives back 0 and 2. The callbacks
    run once the batch has ended (not inside its transaction): the handler forgets, the partitions are sought
    to their stored offsets, and prefetched records of them are dropped."""
    consumer = FakeConsumer(
        {TopicPartition(TOPIC, 0): [record(0, 4)], TopicPartition(TOPIC, 1): [record(1, 9)]},
        {TopicPartition(TOPIC, 0): [record(0, 5), record(0, 6)], TopicPartition(TOPIC, 2): [record(2, 3)]},
        {TopicPartition(TOPIC, 0): [record(0, 5)]},
    )
    r, handler = runner(consumer, stored={0: 5, 1: 10, 2: 1})
    listener = _Listener(r)

    def rebalance() -> None:
        listener.on_partitions_revoked(consumer.assigned)
        consumer.assigned = {TopicPartition(TOPIC, 0), TopicPartition(TOPIC, 2)}
        listener.on_partitions_assigned(consumer.assigned)

    consumer.during[2] = rebalance

    r.poll_once()

    assert handler.events == ["batch ended", "revoked"]  # held until the batch's transaction had ended
    assert sorted(consumer.seeks) == [(0, 5), (2, 1)]  # the stored offsets, read after the batch
    assert r.prefetched is None  # the prefetched records were of the sought partitions: dropped
    assert r.held == [] and r.holding is False

    r.poll_once()  # polled again, from the stored offsets

    assert handler.batches[1] == [(0, 5)]


def test_records_prefetched_of_partitions_not_sought_are_sought_back_to_be_polled_again() -> None:
    consumer = FakeConsumer(
        {TopicPartition(TOPIC, 0): [record(0, 0)]},
        {TopicPartition(TOPIC, 1): [record(1, 7), record(1, 8)], TopicPartition(TOPIC, 2): [record(2, 4)]},
    )
    r, _ = runner(consumer, stored={2: 2})
    r.poll_once()
    assert r.prefetched is not None and len(r.prefetched) == 3

    r.seek_to_stored([TopicPartition(TOPIC, 2)])

    assert r.prefetched is None
    assert sorted(consumer.seeks) == [(1, 7), (2, 2)]  # partition 1 back to its first prefetched record


def test_prefetched_records_of_a_partition_no_longer_assigned_are_only_dropped() -> None:
    consumer = FakeConsumer(
        {TopicPartition(TOPIC, 0): [record(0, 0)]},
        {TopicPartition(TOPIC, 1): [record(1, 7)], TopicPartition(TOPIC, 2): [record(2, 4)]},
    )
    r, _ = runner(consumer, stored={0: 1})
    r.poll_once()
    consumer.assigned = {TopicPartition(TOPIC, 0), TopicPartition(TOPIC, 2)}  # partition 1 went elsewhere

    r.seek_to_stored([TopicPartition(TOPIC, 0)])

    assert r.prefetched is None
    assert sorted(consumer.seeks) == [(0, 1), (2, 4)]  # kafka-python refuses a seek of a partition not assigned


def test_a_failed_prefetch_leaves_the_batch_alone_and_the_next_batch_polls_as_usual() -> None:
    consumer = FakeConsumer({TopicPartition(TOPIC, 0): [record(0, 0)]}, {TopicPartition(TOPIC, 0): [record(0, 1)]})
    consumer.fail_on = 2
    r, handler = runner(consumer)

    result = r.poll_once()

    assert result is not None and result.applied == 1
    assert handler.ahead == [[]] and r.prefetched is None and r.holding is False

    r.poll_once()

    assert handler.batches == [[(0, 0)], [(0, 1)]]


def test_a_batch_is_prefetched_once() -> None:
    consumer = FakeConsumer({TopicPartition(TOPIC, 0): [record(0, 0)]}, {TopicPartition(TOPIC, 0): [record(0, 1)]})
    r, _ = runner(consumer)
    r.poll_once()
    asked = len(consumer.asked)

    assert r.prefetch() == []  # already holds one

    assert len(consumer.asked) == asked


# --- the applier's decoding ahead -----------------------------------------------------------------


class CountingDecoder:
    def __init__(self) -> None:
        self.decoded: list[bytes] = []

    def __call__(self, payload: bytes, *, topic: str = "", partition: int = -1, offset: int = -1) -> Any:
        self.decoded.append(payload)
        if payload == b"bad":
            raise ValueError("not Avro")
        return ("event", payload, partition, offset)


def applier() -> tuple[Applier, CountingDecoder]:
    decoder = CountingDecoder()
    return Applier(None, [], decoder), decoder  # type: ignore[arg-type]  # never reaches PostgreSQL


def message(partition: int, offset: int, value: bytes) -> Message:
    return Message(TOPIC, partition, offset, b"case", value, ())


def test_records_decoded_ahead_are_not_decoded_again() -> None:
    a, decoder = applier()
    first, second = record(0, 1, b"one"), record(0, 2, b"two")
    a._decode_ahead([first, second])

    got = a._decoded_once(message(0, 1, first.value))

    assert got == ("event", b"one", 0, 1)
    assert decoder.decoded == [b"one", b"two"]  # once, ahead


def test_a_record_that_came_again_as_other_bytes_is_decoded_from_them() -> None:
    """Decoded ahead only counts for the very bytes object: a record polled again (a seek, a rebalance) is
    decoded from what came this time."""
    a, decoder = applier()
    a._decode_ahead([record(0, 1, b"old")])

    got = a._decoded_once(message(0, 1, b"new"))

    assert got == ("event", b"new", 0, 1)


def test_a_record_that_cannot_be_decoded_ahead_parks_as_it_would_have() -> None:
    a, _ = applier()
    bad = record(0, 3, b"bad")
    a._decode_ahead([bad])

    got = a._decoded_once(message(0, 3, bad.value))

    assert isinstance(got, ValueError)


def test_what_was_decoded_ahead_is_forgotten_with_the_fold() -> None:
    a, decoder = applier()
    one = record(0, 1, b"one")
    a._decode_ahead([one])

    a.discard()
    a._decoded_once(message(0, 1, one.value))

    assert decoder.decoded == [b"one", b"one"]
