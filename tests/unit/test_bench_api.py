"""The API stage's figures are judged against the issue's targets, and a short run is never a pass."""

from __future__ import annotations

from typing import Any

from kravsak.bench.api import figures


def raw(invoices_per_s: float, p99: float, achieved: float = 100.0, failures: int = 0) -> dict[str, Any]:
    latency = {"p50_ms": 5.0, "p99_ms": p99, "offered_per_s": 100.0, "achieved_per_s": achieved, "failures": failures,
               "server_cpu_ms_per_request": 2.5}  # fmt: skip
    return {
        "bulk": {
            "invoices_per_s": invoices_per_s,
            "invoices": 20_000,
            "claims_in_event_store": 20_000,
            "server_cpu_ms_per_invoice": 0.42,
        },
        "bulk_baseline": {"invoices_per_s": 2_500.0},
        "latency": {"command": latency, "health": {**latency, "p99_ms": 3.0}},
    }


def test_bulk_intake_and_latency_are_judged_against_their_targets() -> None:
    bulk, latency = figures(raw(2_100.0, 42.0))
    assert (bulk.met, latency.met) == (True, True)
    assert bulk.ratio == 2_100.0 / 2_500.0
    assert "server CPU 0.42 ms per invoice" in bulk.shown and "server CPU 2.50 ms per command" in latency.shown

    slow_bulk, slow_latency = figures(raw(1_900.0, 50.0))
    assert (slow_bulk.met, slow_latency.met) == (False, False)


def test_latency_at_less_than_the_offered_rate_or_with_failures_misses() -> None:
    assert figures(raw(2_100.0, 10.0, achieved=80.0))[1].met is False
    assert figures(raw(2_100.0, 10.0, failures=3))[1].met is False
