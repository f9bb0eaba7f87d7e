"""Kafka through kafka-python: produce, consume in a consumer group, commit, read the commit back."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.structs import OffsetAndMetadata

from consumers.kafka_access import client_args

pytestmark = pytest.mark.integration


def _create_topic(admin: Any, topic: str, partitions: int) -> None:
    admin.create_topics({topic: {"num_partitions": partitions, "replication_factor": 1}}, wait_for_metadata=True)


def _poll_until(consumer: KafkaConsumer, count: int, timeout_s: float = 30.0) -> list[Any]:
    records: list[Any] = []
    deadline = time.monotonic() + timeout_s
    while len(records) < count and time.monotonic() < deadline:
        for batch in consumer.poll(timeout_ms=500).values():
            records.extend(batch)
    return records


def test_consumed_record_has_its_offset_committed_in_the_group(
    kafka_bootstrap: str, kafka_admin: Any, unique: Callable[[str], str]
) -> None:
    topic, group = unique("it-events"), unique("it-group")
    _create_topic(kafka_admin, topic, partitions=3)
    producer = KafkaProducer(**client_args(kafka_bootstrap))
    sent = producer.send(
        topic, key=b"case-1", value=b"ClaimRegistered", headers=[("event-type", b"ClaimRegistered")]
    ).get(timeout=30)
    producer.close()

    consumer = KafkaConsumer(
        **client_args(kafka_bootstrap),
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    consumer.subscribe([topic])
    try:
        [record] = _poll_until(consumer, 1)
        tp = TopicPartition(topic, record.partition)
        consumer.commit({tp: OffsetAndMetadata(record.offset + 1, "", -1)})
        committed_by_consumer = consumer.committed(tp)
    finally:
        consumer.close()

    assert (record.key, record.value, record.headers) == (
        b"case-1",
        b"ClaimRegistered",
        [("event-type", b"ClaimRegistered")],
    )
    assert (record.partition, record.offset) == (sent.partition, sent.offset)
    assert committed_by_consumer == sent.offset + 1
    broker_view = kafka_admin.list_group_offsets(group)[group]
    assert broker_view[tp].offset == sent.offset + 1
    kafka_admin.delete_topics([topic])


def test_records_with_one_key_land_in_one_partition_in_order(
    kafka_bootstrap: str, kafka_admin: Any, unique: Callable[[str], str]
) -> None:
    topic = unique("it-order")
    _create_topic(kafka_admin, topic, partitions=3)
    producer = KafkaProducer(**client_args(kafka_bootstrap))
    sent = [producer.send(topic, key=b"case-42", value=str(n).encode()) for n in range(5)]
    partitions = {future.get(timeout=30).partition for future in sent}
    producer.close()

    consumer = KafkaConsumer(**client_args(kafka_bootstrap), auto_offset_reset="earliest")
    [partition] = partitions
    consumer.assign([TopicPartition(topic, partition)])
    try:
        records = _poll_until(consumer, 5)
    finally:
        consumer.close()

    assert [r.value for r in records] == [b"0", b"1", b"2", b"3", b"4"]
    kafka_admin.delete_topics([topic])
