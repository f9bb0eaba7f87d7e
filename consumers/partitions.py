"""The partition of a keyed record, as kafka-python's ``DefaultPartitioner`` picks it, with each key's answer kept.

kafka-python hashes the key bytes with its pure-Python murmur2 on every ``send`` (and sorts the topic's
partition ids and lists the available ones each time): about a third of the publisher's CPU per record in
``send``. A case sends every event under one key, so the publisher asks ``KeyPartitioner`` once per case and
passes the partition to ``send`` itself (ADR 0033). The answer is the default partitioner's own formula,
``murmur2(key) & 0x7fffffff`` modulo the partition count, with a ``murmur2`` that gives kafka-python's values
(a test compares them): a case's records land on the partition they always did, whichever publisher sends them.

``PartitionRange`` is the share of a topic's partitions one publisher process owns (``kravsak publish
--partitions 0-5``): it publishes the events whose key falls in its range and skips the others, which another
publisher owns.
"""

from __future__ import annotations

import re
import struct
from collections import OrderedDict
from dataclasses import dataclass
from functools import cache

_M = 0x5BD1E995
_MASK = 0xFFFFFFFF


@cache
def _words(count: int) -> struct.Struct:
    return struct.Struct(f"<{count}I")


def murmur2(data: bytes) -> int:
    """Kafka's murmur2 (``org.apache.kafka.common.utils.Utils.murmur2``), as kafka-python's
    ``kafka.partitioner.default.murmur2`` computes it, over whole 32-bit words at once (a third of its time)."""
    length = len(data)
    h = 0x9747B28C ^ length
    for k in _words(length // 4).unpack_from(data):
        k = (k * _M) & _MASK
        k ^= k >> 24
        h = ((h * _M) & _MASK) ^ ((k * _M) & _MASK)
    tail = length & 3
    if tail:
        base = length & ~3
        if tail == 3:
            h ^= data[base + 2] << 16
        if tail >= 2:
            h ^= data[base + 1] << 8
        h = ((h ^ data[base]) * _M) & _MASK
    h ^= h >> 13
    h = (h * _M) & _MASK
    return h ^ (h >> 15)


class KeyPartitioner:
    """``key → partition`` over ``partitions`` partitions (ids 0 … n−1), the last ``capacity`` keys kept."""

    def __init__(self, partitions: int, *, capacity: int = 200_000) -> None:
        if partitions < 1:
            raise ValueError(f"a topic has at least one partition, not {partitions}")
        self.partitions = partitions
        self._capacity = capacity
        self._known: OrderedDict[bytes, int] = OrderedDict()

    def __call__(self, key: bytes) -> int:
        known = self._known.get(key)
        if known is not None:
            return known
        partition: int = (murmur2(key) & 0x7FFFFFFF) % self.partitions
        self._known[key] = partition
        if len(self._known) > self._capacity:  # oldest first out: cheap, and a case's events come close together
            self._known.popitem(last=False)
        return partition


_RANGE = re.compile(r"^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$")


@dataclass(frozen=True)
class PartitionRange:
    """Partitions ``first`` … ``last`` (inclusive) of the case-events topic."""

    first: int
    last: int

    def __post_init__(self) -> None:
        if self.first < 0 or self.last < self.first:
            raise ValueError(f"not a partition range: {self.first}-{self.last}")

    @classmethod
    def parse(cls, text: str) -> PartitionRange:
        """``"0-5"`` or ``"7"``."""
        match = _RANGE.match(text)
        if match is None:
            raise ValueError(f"not a partition range: {text!r} (write FIRST-LAST, e.g. 0-5)")
        first = int(match.group(1))
        return cls(first, int(match.group(2)) if match.group(2) is not None else first)

    @classmethod
    def split(cls, partitions: int, parts: int) -> list[PartitionRange]:
        """``partitions`` cut into ``parts`` contiguous ranges as even as they go (a publisher per range)."""
        if not 1 <= parts <= partitions:
            raise ValueError(f"cannot cut {partitions} partitions into {parts} ranges")
        bounds = [partitions * i // parts for i in range(parts + 1)]
        return [cls(bounds[i], bounds[i + 1] - 1) for i in range(parts)]

    def __contains__(self, partition: object) -> bool:
        return isinstance(partition, int) and self.first <= partition <= self.last

    def check(self, partitions: int) -> None:
        """A range must lie within the topic: a publisher for partitions the topic lacks would publish nothing."""
        if self.last >= partitions:
            raise ValueError(f"partition range {self} lies beyond the topic's partitions 0-{partitions - 1}")

    def __str__(self) -> str:
        return f"{self.first}-{self.last}"
