"""Back-off after an outage: exponential, bounded, jittered, and back to the start after a success."""

from __future__ import annotations

import random

import psycopg
from kafka.errors import KafkaConnectionError

from consumers.outages import OUTAGES, Backoff, describe


def test_waits_double_up_to_the_bound_each_with_jitter_below_its_ceiling() -> None:
    backoff = Backoff(first_s=0.5, max_s=4.0, jitter=0.5, _random=random.Random(1))
    waits = [backoff.next() for _ in range(7)]
    ceilings = [0.5, 1.0, 2.0, 4.0, 4.0, 4.0, 4.0]
    assert all(c / 2 <= w <= c for w, c in zip(waits, ceilings, strict=True)), waits
    assert len(set(waits)) == len(waits), "jitter: no two waits alike"


def test_a_success_starts_the_waits_over() -> None:
    backoff = Backoff(first_s=1.0, max_s=60.0, jitter=0.0)
    assert [backoff.next() for _ in range(3)] == [1.0, 2.0, 4.0]
    backoff.reset()
    assert backoff.next() == 1.0


def test_two_services_restarted_together_do_not_wait_alike() -> None:
    first, second = Backoff(), Backoff()
    assert [first.next() for _ in range(4)] != [second.next() for _ in range(4)]


def test_server_errors_are_outages_and_data_errors_are_not() -> None:
    assert issubclass(psycopg.errors.AdminShutdown, OUTAGES)
    assert issubclass(KafkaConnectionError, OUTAGES)
    assert not issubclass(psycopg.errors.UniqueViolation, OUTAGES)
    assert not issubclass(ValueError, OUTAGES)
    assert describe(psycopg.errors.AdminShutdown("terminating connection\nDETAIL: x")) == (
        "AdminShutdown: terminating connection"
    )
