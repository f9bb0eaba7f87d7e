"""Low latency under a light load, big batches when behind (ADR 0035).

The projector's runner tops a batch up with one short poll more only after a batch that took long; the
publisher prepares a small fresh batch in its own process and hands only big ones to its child."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import uuid4

from kafka import TopicPartition

from consumers.preparer import Prepared
from consumers.publisher import Publisher, PublisherOptions
from consumers.runner import BatchResult, ConsumerOptions, Message, Runner, _Listener
from kravsak.settings import load_settings, projector_options, publisher_options
from tests.support.fake_consumer import TOPIC, FakeConsumer, record


class Handler:
    def __init__(self) -> None:
        self.batches: list[list[tuple[int, int]]] = []
        self.revocations = 0

    def apply_batch(self, messages: Sequence[Message]) -> BatchResult:
        self.batches.append([(m.partition, m.offset) for m in messages])
        return BatchResult(applied=len(messages))

    def revoked(self) -> None:
        self.revocations += 1

    def reconnect(self) -> Any:
        raise AssertionError("no outage here")


def runner(consumer: FakeConsumer, **options: Any) -> tuple[Runner, Handler]:
    handler = Handler()
    r = Runner(
        conn=None,  # type: ignore[arg-type]  # the fakes never reach PostgreSQL
        bootstrap="unused:9092",
        options=ConsumerOptions(topic=TOPIC, group="g", client_id="c", batch_size=100, **options),
        tables=[],
        handler=handler,
    )
    r.consumer = consumer
    return r, handler


def test_under_a_light_load_a_batch_is_applied_as_the_first_poll_brought_it() -> None:
    consumer = FakeConsumer({TopicPartition(TOPIC, 0): [record(0, 0), record(0, 1)]}, {})
    r, handler = runner(consumer)
    r.last_apply_s = 0.010  # the last batch was short: nothing piled up at the broker meanwhile

    r.poll_once()

    assert handler.batches == [[(0, 0), (0, 1)]]
    assert len(consumer.asked) == 1 and r.topped_up == 0


def test_after_a_long_batch_what_reached_the_broker_meanwhile_rides_in_this_batch() -> None:
    consumer = FakeConsumer(
        {TopicPartition(TOPIC, 0): [record(0, 5)]},
        {TopicPartition(TOPIC, 0): [record(0, 6)], TopicPartition(TOPIC, 1): [record(1, 2)]},
    )
    r, handler = runner(consumer)
    r.last_apply_s = 0.300

    r.poll_once()

    assert handler.batches == [[(0, 5), (0, 6), (1, 2)]]  # one batch, in partition and offset order
    assert consumer.asked[1] == (r.options.top_up_wait_ms, 99)  # a short poll for what still fits
    assert r.topped_up == 1


def test_a_full_batch_is_never_topped_up() -> None:
    full = {TopicPartition(TOPIC, 0): [record(0, i) for i in range(100)]}
    r, handler = runner(FakeConsumer(full, {TopicPartition(TOPIC, 0): [record(0, 100)]}))
    r.last_apply_s = 5.0

    r.poll_once()

    assert len(handler.batches[0]) == 100 and r.topped_up == 0


def test_a_poll_that_brought_nothing_is_not_topped_up_and_nothing_is_applied() -> None:
    r, handler = runner(FakeConsumer({}, {TopicPartition(TOPIC, 0): [record(0, 0)]}))
    r.last_apply_s = 5.0

    assert r.poll_once() is None
    assert handler.batches == [] and r.topped_up == 0


def test_the_top_up_can_be_switched_off() -> None:
    r, _ = runner(FakeConsumer(), top_up_after_ms=None)
    r.last_apply_s = 60.0

    assert r.top_up_due(1) is False


def test_the_runner_learns_how_long_each_batch_took() -> None:
    r, _ = runner(FakeConsumer({TopicPartition(TOPIC, 0): [record(0, 0)]}))

    r.poll_once()

    assert 0 < r.last_apply_s < 1


def test_a_rebalance_during_the_top_up_leaves_each_record_once_and_only_of_partitions_still_held() -> None:
    """Inside the top-up's poll the group takes partition 1 away and gives partition 0 back, sought to its
    stored offset: the top-up hands out 0:5 again. The batch holds it once, and nothing of partition 1."""
    consumer = FakeConsumer(
        {TopicPartition(TOPIC, 0): [record(0, 5)], TopicPartition(TOPIC, 1): [record(1, 9)]},
        {TopicPartition(TOPIC, 0): [record(0, 5), record(0, 6)]},
    )
    r, handler = runner(consumer)
    r.last_apply_s = 0.300
    listener = _Listener(r)

    def rebalance() -> None:
        listener.on_partitions_revoked(consumer.assigned)
        consumer.assigned = {TopicPartition(TOPIC, 0), TopicPartition(TOPIC, 2)}
        r.rebalances += 1  # on_partitions_assigned would also seek; the fake's second poll stands for that

    consumer.during[2] = rebalance

    r.poll_once()

    assert handler.batches == [[(0, 5), (0, 6)]]
    assert handler.revocations == 1


# --- the publisher -------------------------------------------------------------------------------


def notification(n: int) -> Any:
    """A stored event as the publisher reads it (``consumers.preparer.Row``)."""
    return (n, str(uuid4()), 1, "ClaimInvoiceIssued", b"{}")


class FakeWorker:
    def __init__(self, *, reads: bool = False) -> None:
        self.submitted: list[list[int]] = []
        self.reads = reads
        self.heads: list[bool] = []
        """Per submitted batch: whether it came as heads (without the states: the child reads them)."""

    def submit_rows(self, rows: Sequence[Any], partitions: int | None) -> None:
        self.submitted.append([row[0] for row in rows])
        self.heads.append(all(len(row) == 4 for row in rows))

    def collect(self, expected: int, *, on_last_chunk: Any = None) -> Any:
        batch = self.submitted.pop(0)
        if on_last_chunk is not None:
            on_last_chunk()
        for n in batch:
            yield Prepared(n, b"k", b"v", [])


def publisher(log: list[Any], *, ahead_from: int, reads: bool = False) -> tuple[Publisher, FakeWorker]:
    p = Publisher(load_settings({}), PublisherOptions(batch_size=1000, prepare_ahead_from=ahead_from))

    def read(start: int, *, states: bool = True) -> list[Any]:
        return [row if states else row[:4] for row in log if row[0] >= start][: p.options.batch_size]

    p._read = read  # type: ignore[method-assign]
    worker = FakeWorker(reads=reads)
    p.worker = worker  # type: ignore[assignment]
    return p, worker


def test_a_small_fresh_batch_is_prepared_by_the_publisher_itself_at_once() -> None:
    p, worker = publisher([notification(i) for i in range(1, 21)], ahead_from=500)

    notifications, outcomes = p._next_batch()

    assert [row[0] for row in notifications] == list(range(1, 21))
    assert outcomes is None  # prepared in this process: no hand-over, nothing read ahead
    assert worker.submitted == [] and not p._ahead


def test_a_big_batch_goes_to_the_child_and_the_next_one_is_read_ahead() -> None:
    p, worker = publisher([notification(i) for i in range(1, 1501)], ahead_from=500)

    notifications, outcomes = p._next_batch()

    assert len(notifications) == 1000 and outcomes is not None
    assert [o.position for o in outcomes][-1] == 1000
    assert worker.submitted == [list(range(1001, 1501))]  # the batch ahead, submitted after this one's last chunk


def test_children_that_read_the_store_are_given_the_batch_ahead_without_its_states() -> None:
    p, worker = publisher([notification(i) for i in range(1, 2501)], ahead_from=500, reads=True)

    notifications, outcomes = p._next_batch()
    assert outcomes is not None and len(list(outcomes)) == 1000

    assert all(len(row) == 5 for row in notifications)  # read fresh, with the states: it could have been small
    assert worker.submitted == [list(range(1001, 2001))]
    assert worker.heads == [False, True]  # this batch went with its states, the one ahead as heads


def test_the_adaptive_thresholds_come_from_the_environment() -> None:
    env = {"KRAVSAK_PUBLISHER_PREPARE_AHEAD_FROM": "50", "KRAVSAK_PROJECTOR_TOP_UP_AFTER_MS": "80"}

    assert publisher_options(load_settings({}), env).prepare_ahead_from == 50
    assert projector_options(env).top_up_after_ms == 80
    assert publisher_options(load_settings({}), {}).prepare_ahead_from == PublisherOptions().prepare_ahead_from
    assert projector_options({}).top_up_after_ms == ConsumerOptions.top_up_after_ms


def test_after_a_round_that_read_the_log_to_its_head_the_publisher_waits_for_a_notify() -> None:
    p, _ = publisher([], ahead_from=500)

    assert p._read_to_the_head(20) is True  # what is inserted from now on sends a NOTIFY: no empty read first
    assert p._read_to_the_head(1000) is False  # a full batch: more may be there at once
    p._ahead = [notification(1)]
    assert p._read_to_the_head(20) is False  # a batch read ahead is waiting
