"""``domain.collector``: the collector runs less often while a batch is worked, and as before after it."""

from __future__ import annotations

import gc

import pytest

from domain.application import CollectionApp
from domain.collector import BATCH_THRESHOLDS, LOOP_THRESHOLDS, fewer_collections


def test_a_unit_of_work_raises_the_thresholds_and_puts_back_what_was_there() -> None:
    app = CollectionApp()
    before = gc.get_threshold()
    assert before != BATCH_THRESHOLDS
    with app.unit_of_work():
        assert gc.get_threshold() == BATCH_THRESHOLDS
        with app.unit_of_work():  # nested: one unit of work
            assert gc.get_threshold() == BATCH_THRESHOLDS
        assert gc.get_threshold() == BATCH_THRESHOLDS
    assert gc.get_threshold() == before


def test_the_thresholds_come_back_after_a_failed_batch_and_only_when_the_last_user_ends() -> None:
    before = gc.get_threshold()
    with fewer_collections():
        with pytest.raises(RuntimeError):
            with CollectionApp().unit_of_work():
                raise RuntimeError("a command failed half-way")
        assert gc.get_threshold() == BATCH_THRESHOLDS  # the outer batch still runs
    assert gc.get_threshold() == before


def test_a_runner_polls_with_the_thresholds_raised_as_it_applies() -> None:
    """kafka-python's objects per record and header made the collector run during the poll, walking all a
    projector had folded; the poll now runs as the apply does, and the thresholds come back after it."""
    from kafka import TopicPartition

    from tests.support.fake_consumer import TOPIC, FakeConsumer, record
    from tests.unit.test_adaptive_latency import runner

    seen: list[tuple[int, int, int]] = []
    consumer = FakeConsumer({TopicPartition(TOPIC, 0): [record(0, 0)]}, {})
    consumer.during[1] = consumer.during[2] = lambda: seen.append(gc.get_threshold())
    r, handler = runner(consumer)
    before = gc.get_threshold()
    assert r.poll_once() is not None and r.poll_once() is None
    assert seen == [BATCH_THRESHOLDS, BATCH_THRESHOLDS]  # the poll that brought a batch and the one that did not
    assert handler.batches == [[(0, 0)]]
    assert gc.get_threshold() == before


def test_a_batch_process_keeps_the_batch_thresholds_after_a_batch() -> None:
    """The publisher's preparing process and the bank-file check process: batch work for their whole life."""
    from domain.collector import batch_process

    before = gc.get_threshold()
    try:
        batch_process()
        assert gc.get_threshold() == BATCH_THRESHOLDS
        with fewer_collections():
            pass
        assert gc.get_threshold() == BATCH_THRESHOLDS  # a batch inside puts back what was there: these
    finally:
        gc.set_threshold(*before)


def test_a_runner_keeps_its_loop_s_thresholds_between_batches_and_puts_back_what_was_there() -> None:
    """Between two batches the thresholds dropped to the default, and the next allocation set off a collection of
    every young object (the next batch's, prefetched and decoded): over the run's loop they now stay raised."""
    from kafka import TopicPartition

    from tests.support.fake_consumer import TOPIC, FakeConsumer, record
    from tests.unit.test_adaptive_latency import runner

    polled: list[tuple[int, int, int]] = []
    between: list[tuple[int, int, int]] = []
    consumer = FakeConsumer({TopicPartition(TOPIC, 0): [record(0, 0)]}, {TopicPartition(TOPIC, 0): [record(0, 1)]})
    consumer.during[1] = consumer.during[2] = lambda: polled.append(gc.get_threshold())
    r, handler = runner(consumer)
    r.beat = lambda: between.append(gc.get_threshold())  # type: ignore[method-assign]  # after each poll_once
    r.caught_up = lambda: len(handler.batches) == 2  # type: ignore[method-assign]
    before = gc.get_threshold()
    report = r.run(until_caught_up=True)
    assert handler.batches == [[(0, 0)], [(0, 1)]] and report.applied == 2
    assert polled == [LOOP_THRESHOLDS] * 2 and between and set(between) == {LOOP_THRESHOLDS}
    assert gc.get_threshold() == before


def test_the_outermost_user_s_thresholds_hold_until_the_last_one_ends() -> None:
    before = gc.get_threshold()
    with fewer_collections(LOOP_THRESHOLDS):
        with fewer_collections():  # a batch inside the loop: the loop's thresholds stay
            assert gc.get_threshold() == LOOP_THRESHOLDS
        assert gc.get_threshold() == LOOP_THRESHOLDS
    assert gc.get_threshold() == before
