"""Two writer processes over disjoint cases store, case by case, exactly the events the standard workload
stores in one process in memory: same events, same order per aggregate, nothing lost or doubled."""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import date
from typing import Any

import pytest

from domain.application import DEVELOPMENT_OFFICE_SECRET, CollectionApp
from kravsak.bench.domain import measure_writers
from kravsak.bench.workload import CREDITOR, setup, workload_notifications

pytestmark = pytest.mark.integration
CLAIMS = 300


def by_aggregate(app: CollectionApp, notifications: Any) -> dict[Any, list[tuple[int, str, list[Any]]]]:
    streams: dict[Any, list[tuple[int, str, list[Any]]]] = defaultdict(list)
    for n in notifications:
        state = dict(vars(app.mapper.to_domain_event(n)))
        state.pop("timestamp")
        streams[n.originator_id].append((n.originator_version, n.topic, sorted(state.items())))
    return dict(streams)


def test_two_writers_store_each_case_as_one_process_does(pg_env: dict[str, str]) -> None:
    namespace = uuid.uuid4()

    def make_app() -> CollectionApp:  # the in-memory run's key, so opaque debtor ids are the same
        return CollectionApp(pg_env, namespace=namespace, office_secret=DEVELOPMENT_OFFICE_SECRET)

    result = measure_writers(CLAIMS, make_app, processes=2, batch=100)
    expected_notifications = workload_notifications(CLAIMS, namespace=namespace)
    app = make_app()
    try:
        expected = by_aggregate(app, expected_notifications)
        stored = by_aggregate(
            app,
            [n for n in app.recorder.select_notifications(start=1, limit=10**9) if n.originator_id in expected],
        )
    finally:
        app.close()
    assert stored == expected
    registered = CollectionApp(namespace=namespace)
    setup(registered, CREDITOR, CLAIMS // 4, date(2025, 1, 1))
    assert result["events"] == len(expected_notifications) - (registered.recorder.max_notification_id() or 0)
    assert result["processes"] == 2 and result["events_per_s"] > 0


def test_the_store_floor_saves_every_tally_event_in_batches(settings: Any) -> None:
    """The ingest's floor (``measure_store_floor``) stores through ``CollectionApp`` exactly the events it counts:
    tallies of ~EVENTS_PER_CLAIM events each, each aggregate's versions 1..n without a gap."""
    from kravsak.bench.baselines import Tally, measure_store_floor
    from kravsak.bench.scratch import app_for
    from kravsak.bench.stages import Resources
    from kravsak.bench.workload import EVENTS_PER_CLAIM

    resources = Resources(settings)
    try:
        result = measure_store_floor(settings, resources, 1_003, 100)
        app = app_for(settings, result["schema"])
        try:
            notifications = app.recorder.select_notifications(start=1, limit=10**6)
            assert all(isinstance(app.mapper.to_domain_event(n), Tally.Event) for n in notifications)
        finally:
            app.close()
    finally:
        resources.cleanup()
    assert result["events"] == 1_003 and len(notifications) == 1_004  # and the one warming the store path
    versions: dict[Any, list[int]] = defaultdict(list)
    for n in notifications[1:]:
        versions[n.originator_id].append(n.originator_version)
    assert all(v == list(range(1, len(v) + 1)) for v in versions.values())
    assert max(len(v) for v in versions.values()) == round(EVENTS_PER_CLAIM)
    assert result["events_per_s"] > 0 and result["cpu_us_per_event"] > 0
