"""A stand-in for kafka-python's ``KafkaConsumer`` in the runner's unit tests: prepared polls, seeks recorded.

Only for unit tests of the runner's own logic (batching, top-ups, prefetch, rebalance handling); the integration
tests run the runner against the real broker."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

from kafka import TopicPartition

TOPIC = "kravsak.case-events"


def record(partition: int, offset: int, value: bytes = b"v") -> Any:
    """A polled record as kafka-python's ``ConsumerRecord`` carries it (what the runner reads of it)."""
    return SimpleNamespace(topic=TOPIC, partition=partition, offset=offset, key=b"case", value=value, headers=[])


class FakeConsumer:
    """Hands out the prepared polls in turn; ``during`` runs inside a poll (a rebalance's callbacks); the poll
    numbered ``fail_on`` raises as a lost broker would."""

    def __init__(self, *polls: dict[TopicPartition, list[Any]]) -> None:
        self.polls = list(polls)
        self.asked: list[tuple[int, int]] = []  # (timeout_ms, max_records) of each poll
        self.during: dict[int, Callable[[], None]] = {}
        self.assigned = {TopicPartition(TOPIC, p) for p in range(3)}
        self.seeks: list[tuple[int, int]] = []  # (partition, offset) of each seek
        self.fail_on: int | None = None

    def poll(self, timeout_ms: int, max_records: int) -> dict[TopicPartition, list[Any]]:
        self.asked.append((timeout_ms, max_records))
        if len(self.asked) == self.fail_on:
            raise OSError("broker gone")
        if len(self.asked) in self.during:
            self.during[len(self.asked)]()
        return self.polls.pop(0) if self.polls else {}

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.seeks.append((tp.partition, offset))

    def assignment(self) -> set[TopicPartition]:
        return self.assigned

    def commit_async(self, offsets: Any) -> None:
        pass
