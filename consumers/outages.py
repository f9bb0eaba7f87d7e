"""What the services do when a server goes away: which errors are an outage, and how long to wait.

An *outage* is an error of the connection or the server, not of the data: PostgreSQL restarting
(``AdminShutdown``), refusing connections, a closed connection; Kafka unreachable; a socket error.
Every service rides one out the same way — drop what it holds in memory, wait, reconnect, resume
from what PostgreSQL stored — and never exits for one. The waits grow exponentially up to a bound,
each with random jitter, so that services restarted together do not all knock at the same instant.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import psycopg
from eventsourcing.persistence import InterfaceError as ESInterfaceError
from eventsourcing.persistence import OperationalError as ESOperationalError
from kafka.errors import KafkaError

OUTAGES: tuple[type[BaseException], ...] = (
    psycopg.OperationalError,
    psycopg.InterfaceError,
    ESOperationalError,
    ESInterfaceError,
    KafkaError,
    OSError,
)
"""Errors that mean a server (or the way to it) is gone for now; anything else is a bug or bad data."""


@dataclass
class Backoff:
    """Bounded exponential back-off with jitter: the n-th wait is drawn from
    ``[(1 - jitter) * d, d]`` with ``d = min(first_s * 2**n, max_s)``; ``reset`` after a success."""

    first_s: float = 0.5
    max_s: float = 15.0
    jitter: float = 0.5
    failures: int = 0
    _random: random.Random = field(default_factory=random.Random, repr=False)

    def next(self) -> float:
        ceiling = min(self.first_s * 2**self.failures, self.max_s)
        self.failures += 1
        return self._random.uniform((1 - self.jitter) * ceiling, ceiling)

    def reset(self) -> None:
        self.failures = 0


def describe(exc: BaseException) -> str:
    """One line for a log: the error's class and its first line."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"[:300]
