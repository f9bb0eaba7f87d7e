"""The publisher's prepare process (``consumers.preparer``): the same records as in the publisher's own process,
failures as values, unknown parties left to the publisher, and a dead child noticed."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from eventsourcing.persistence import Notification

from consumers.partitions import KeyPartitioner, PartitionRange
from consumers.preparer import (
    IN_PARENT,
    PIPE_BUFFER,
    SKIPPED,
    Failed,
    Prepared,
    PreparePool,
    Preparer,
    PrepareWorker,
    WorkerGone,
)
from consumers.publisher import SCHEMAS_DIR
from consumers.wire import envelope
from consumers.wire.codec import SchemaStore
from kravsak.bench.workload import workload_app

pytestmark = pytest.mark.skipif(not PrepareWorker.available(), reason="no fork on this platform")


@pytest.fixture(scope="module")
def log() -> tuple[Any, list[Notification]]:
    app = workload_app(600)
    return app, list(app.recorder.select_notifications(start=1, limit=10**6))


def _here(app: Any) -> Preparer:
    return Preparer(app.mapper, SchemaStore.from_directory(SCHEMAS_DIR), envelope.PartyIndex(), b"key")


def test_the_child_prepares_exactly_what_the_publisher_would(log: tuple[Any, list[Notification]]) -> None:
    app, notifications = log
    here = _here(app)
    expected = [here.prepare(n) for n in notifications]
    worker = PrepareWorker(app.mapper, SchemaStore.from_directory(SCHEMAS_DIR), b"key")
    try:
        got: list[Any] = []
        batches = [notifications[i : i + 128] for i in range(0, len(notifications), 128)]
        worker.submit(batches[0])
        for i, batch in enumerate(batches):
            got += list(worker.collect(len(batch)))
            if i + 1 < len(batches):
                worker.submit(batches[i + 1])
    finally:
        worker.close()
    assert len(expected) > 500 and all(isinstance(p, Prepared) for p in got)
    assert got == expected


def test_failures_come_back_as_values_and_unknown_parties_go_to_the_publisher(
    log: tuple[Any, list[Notification]],
) -> None:
    app, notifications = log
    later = next(n for n in notifications if n.topic.endswith("Claim.PaymentRegistered"))
    vanished = replace(notifications[-1], topic="domain.claim:Claim.Vanished")
    worker = PrepareWorker(app.mapper, SchemaStore.from_directory(SCHEMAS_DIR), b"key")
    try:
        worker.submit([later, vanished])  # the claim's Invoiced was never sent to this child
        parties_unknown, failed = list(worker.collect(2))
    finally:
        worker.close()
    assert parties_unknown is IN_PARENT
    assert isinstance(failed, Failed) and failed.position == vanished.id and "Vanished" in failed.error
    # what the publisher then does with the first: prepare it itself, its party look-up reading the store
    here = Preparer(
        app.mapper, SchemaStore.from_directory(SCHEMAS_DIR), envelope.PartyIndex(envelope.stored_parties(app)), b"key"
    )
    assert isinstance(here.outcome(later), Prepared)


def test_a_dead_child_is_noticed_not_waited_for(log: tuple[Any, list[Notification]]) -> None:
    app, notifications = log
    worker = PrepareWorker(app.mapper, SchemaStore.from_directory(SCHEMAS_DIR), b"key")
    worker._process.kill()
    worker._process.join(5)
    with pytest.raises(WorkerGone):
        worker.submit(notifications[:10])
        list(worker.collect(10))
    worker.close()


def test_a_worker_with_a_partition_range_prepares_its_cases_and_skips_the_others(
    log: tuple[Any, list[Notification]],
) -> None:
    """The records carry the partition kafka-python would pick; the cases of other partitions come back SKIPPED
    (undecoded), and the range's own records are exactly those the publisher would make for them."""
    app, notifications = log
    owned = PartitionRange(0, 5)
    here = Preparer(app.mapper, SchemaStore.from_directory(SCHEMAS_DIR), envelope.PartyIndex(), b"key", owned=owned)
    here.partitions(12)
    expected = [here.prepare(n) if here.owns(str(n.originator_id)) else SKIPPED for n in notifications]
    worker = PrepareWorker(app.mapper, SchemaStore.from_directory(SCHEMAS_DIR), b"key", owned=owned)
    try:
        worker.submit_rows(
            [(n.id, str(n.originator_id), n.originator_version, n.topic, n.state) for n in notifications], 12
        )
        got = list(worker.collect(len(notifications)))
    finally:
        worker.close()
    assert got == expected
    sent = [p for p in got if isinstance(p, Prepared)]
    assert 0 < len(sent) < len(got), "the log's cases fall in both halves of the topic"
    assert all(p.partition is not None and p.partition in owned for p in sent)
    assert all(p.partition == KeyPartitioner(12)(p.key) for p in sent)


def test_without_a_partition_count_the_records_carry_no_partition(log: tuple[Any, list[Notification]]) -> None:
    app, notifications = log
    assert _here(app).prepare(notifications[0]).partition is None
    ranged = Preparer(
        app.mapper, SchemaStore.from_directory(SCHEMAS_DIR), envelope.PartyIndex(), b"k", owned=PartitionRange(0, 0)
    )
    with pytest.raises(RuntimeError, match="partition count"):
        ranged.owns(str(notifications[0].originator_id))


def test_the_pipe_holds_megabytes_of_outcomes_so_the_child_need_not_wait_for_the_publisher(
    log: tuple[Any, list[Notification]],
) -> None:
    """Each end asks for ``PIPE_BUFFER`` bytes of send buffer (the kernel gives twice what it allows, at most
    ``net.core.wmem_max``); the default (~200 KB) held less than one chunk of 250 outcomes."""
    app, _ = log
    allowed = int(Path("/proc/sys/net/core/wmem_max").read_text())
    worker = PrepareWorker(app.mapper, SchemaStore.from_directory(SCHEMAS_DIR), b"key")
    try:
        assert worker.buffer >= 2 * min(PIPE_BUFFER, allowed)
    finally:
        worker.close()


def _rows(notifications: list[Notification]) -> list[Any]:
    return [(n.id, str(n.originator_id), n.originator_version, n.topic, n.state) for n in notifications]


@pytest.mark.parametrize("processes", [1, 2, 3])
def test_a_pool_prepares_in_the_log_order_what_the_publisher_would(
    log: tuple[Any, list[Notification]], processes: int
) -> None:
    """The aggregates split between the children, each child knowing the parties of its own (no IN_PARENT), the
    outcomes in the batch's order; the next batch handed over when every child has sent its last chunk, as the
    publisher does."""
    app, notifications = log
    here = _here(app)
    expected = [here.prepare(n) for n in notifications]
    pool = PreparePool(app.mapper, SchemaStore.from_directory(SCHEMAS_DIR), b"key", processes=processes)
    try:
        batches = [_rows(notifications[i : i + 128]) for i in range(0, len(notifications), 128)]
        shares = {pool.share(row[1]) for row in _rows(notifications)}
        assert shares == set(range(processes)), "every child has aggregates of the log"
        got: list[Any] = []
        handed: list[int] = []

        def hand_over(i: int) -> None:
            if i + 1 < len(batches):
                pool.submit_rows(batches[i + 1])
                handed.append(i + 1)

        pool.submit_rows(batches[0])
        for i, batch in enumerate(batches):
            got += list(pool.collect(len(batch), on_last_chunk=lambda i=i: hand_over(i)))  # type: ignore[misc]
        assert pool.pending == 0
    finally:
        pool.close()
    assert len(batches) > 1 and handed == list(range(1, len(batches)))
    assert got == expected


def test_a_pool_whose_child_died_says_so(log: tuple[Any, list[Notification]]) -> None:
    app, notifications = log
    pool = PreparePool(app.mapper, SchemaStore.from_directory(SCHEMAS_DIR), b"key", processes=2)
    try:
        pool.workers[1]._process.kill()
        pool.workers[1]._process.join(5)
        with pytest.raises(WorkerGone):
            pool.submit_rows(_rows(notifications[:200]))
            list(pool.collect(200))
    finally:
        pool.close()


def test_a_pool_has_a_process_at_least(log: tuple[Any, list[Notification]]) -> None:
    with pytest.raises(ValueError, match="at least one process"):
        PreparePool(log[0].mapper, SchemaStore.from_directory(SCHEMAS_DIR), b"key", processes=0)
