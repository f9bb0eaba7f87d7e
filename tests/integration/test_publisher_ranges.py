"""Two publisher processes over partition ranges (ADR 0033), against the real PostgreSQL and Kafka.

Each owns half of the topic's partitions, has its own position and lock, and one of them is killed -9
halfway and restarted. Afterwards the topic holds every stored event, each case in order on the partition
kafka-python's default partitioner gives its key, and the only extras are copies of events already there.
A whole-topic publisher waits while range publishers run.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from typing import Any

import pytest

from consumers.partitions import KeyPartitioner, PartitionRange
from consumers.publisher import Publisher, PublisherOptions, publisher_lag
from kravsak.settings import Settings
from tests.integration.test_publisher_faults import (  # the fault tests' fixtures and checks
    check_stream,
    event_store,
    read_topic,
    start_publisher,
    stored_position,
    topic,
    topic_size,
    wait_until,
)
from tests.support.stack import app_for, copy_events, workload_log

pytestmark = pytest.mark.integration

__all__ = ["event_store", "start_publisher", "topic"]  # fixtures used by name

EVENTS = 6000
PARTITIONS = 6  # the fault tests' publisher processes make the topic with 6


def test_two_partition_ranges_publish_every_event_once_in_order_after_a_kill(
    settings: Settings, event_store: str, topic: str, kafka_bootstrap: str, start_publisher: Callable[..., Any]
) -> None:
    notifications = workload_log(EVENTS)
    app = app_for(settings, event_store)
    copy_events(app, notifications)
    app.close()
    ranges = PartitionRange.split(PARTITIONS, 2)
    names = [PublisherOptions(topic=topic, partition_range=r).position_name for r in ranges]

    first = start_publisher(event_store, topic, KRAVSAK_PUBLISHER_PARTITIONS=str(ranges[0]))
    second = start_publisher(event_store, topic, KRAVSAK_PUBLISHER_PARTITIONS=str(ranges[1]))
    wait_until(lambda: topic_size(kafka_bootstrap, topic) >= EVENTS // 5, 90, "a fifth of the events", log=first)
    first.process.send_signal(signal.SIGKILL)
    first.process.wait(10)
    assert publisher_lag(settings.pg_dsn, name=names[0], schema=event_store) > 0, "killed too late: raise EVENTS"
    # while the second range's publisher runs, a whole-topic publisher may not start (no double publication)
    whole = Publisher(settings, PublisherOptions(topic=topic, pg_schema=event_store, prepare_processes=0))
    try:
        assert whole._connect(threading.Event(), wait=False) is False
    finally:
        whole.close()
    restarted = start_publisher(event_store, topic, KRAVSAK_PUBLISHER_PARTITIONS=str(ranges[0]))
    for name, process in zip(names, (restarted, second), strict=True):
        wait_until(
            lambda name=name: publisher_lag(settings.pg_dsn, name=name, schema=event_store) == 0,
            120,
            f"{name} at the head",
            log=process,
        )
    assert restarted.stop() == 0 and second.stop() == 0
    for process in (first, second, restarted):  # each sent through its RecordAppender, not send() per record
        made = [line for line in process.lines() if line.get("event") == "publisher.appender"]
        assert made and all(line["lean"] is True for line in made), process.tail()

    messages = read_topic(kafka_bootstrap, topic)
    check_stream(messages, notifications)  # every event, each case in order, duplicates equal to their first
    partition = KeyPartitioner(PARTITIONS)
    assert all(m.partition == partition(m.key) for m in messages), "a case off the default partitioner's partition"
    assert {m.partition for m in messages} == set(range(PARTITIONS))
    assert stored_position(settings, event_store, topic) == 0, "the whole-topic position never moved"
    assert publisher_lag(settings.pg_dsn, name=topic, schema=event_store) == 0  # the topic's lag reads the ranges
