"""``consumers.partitions``: the publisher's own partition of a key is kafka-python's, and partition ranges."""

from __future__ import annotations

import uuid
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from kafka.partitioner.default import DefaultPartitioner
from kafka.partitioner.default import murmur2 as kafka_murmur2

from consumers.partitions import KeyPartitioner, PartitionRange, murmur2


@given(st.binary(max_size=100))
def test_our_murmur2_is_kafka_pythons(data: bytes) -> None:
    assert murmur2(data) == kafka_murmur2(data)


def _cluster(partitions: int) -> Any:
    ids = set(range(partitions))
    return SimpleNamespace(
        topics=lambda: {"t"},
        partitions_for_topic=lambda topic: ids,
        available_partitions_for_topic=lambda topic: ids,
    )


@pytest.mark.parametrize("partitions", [1, 6, 12, 31])
def test_the_partition_of_a_key_is_the_default_partitioners(partitions: int) -> None:
    ours, theirs, cluster = KeyPartitioner(partitions), DefaultPartitioner(), _cluster(partitions)
    keys = [str(uuid.UUID(int=i * 7919 + 13)).encode("ascii") for i in range(2000)] + [b"", b"a", b"\xff" * 9]
    for key in keys:
        expected = theirs.partition("t", key, key, b"v", b"v", cluster)
        assert ours(key) == expected
        assert ours(key) == expected  # the kept answer too
    assert len({ours(k) for k in keys}) == partitions  # and the keys spread over every partition


def test_only_the_last_keys_are_kept() -> None:
    partitioner = KeyPartitioner(12, capacity=3)
    for key in (b"a", b"b", b"c", b"d"):
        partitioner(key)
    assert list(partitioner._known) == [b"b", b"c", b"d"]
    assert partitioner(b"a") == KeyPartitioner(12)(b"a")


def test_a_topic_has_a_partition() -> None:
    with pytest.raises(ValueError):
        KeyPartitioner(0)


def test_ranges_parse_and_cover_a_topic_without_overlap() -> None:
    assert PartitionRange.parse("0-5") == PartitionRange(0, 5)
    assert PartitionRange.parse(" 7 ") == PartitionRange(7, 7)
    assert str(PartitionRange(6, 11)) == "6-11"
    for bad in ("", "a-b", "5-2", "-1", "1-2-3"):
        with pytest.raises(ValueError):
            PartitionRange.parse(bad)
    for partitions, parts in ((12, 2), (12, 5), (6, 6), (7, 3)):
        ranges = PartitionRange.split(partitions, parts)
        covered = [p for r in ranges for p in range(partitions) if p in r]
        assert sorted(covered) == list(range(partitions)), (partitions, parts, ranges)
        assert len(ranges) == parts
    assert PartitionRange.split(12, 2) == [PartitionRange(0, 5), PartitionRange(6, 11)]
    with pytest.raises(ValueError):
        PartitionRange.split(2, 3)


def test_a_range_must_lie_within_the_topic() -> None:
    PartitionRange(0, 5).check(6)
    with pytest.raises(ValueError, match="0-5"):
        PartitionRange(3, 6).check(6)
    assert 5 in PartitionRange(3, 6) and 2 not in PartitionRange(3, 6) and "3" not in PartitionRange(3, 6)
