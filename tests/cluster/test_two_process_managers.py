"""Two process managers (`kravsak automate`) on one deployment, on the cluster (issue 17 point 3): they
share the consumer group and the worklist, only one ticks a day (the advisory lock), and a ticker killed
in the middle of a day and started again repeats that day harmlessly — no claim gets a notice (or any
step) twice. Ends in the independent checks (stream, order, `verify` == [])."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import psycopg
import pytest

from consumers.automate import DEFAULT_NAMESPACE, last_tick
from consumers.projector import projection_names, verify
from domain.claim import Claim
from kravsak.bench.scratch import create_event_store
from tests.integration.test_publisher_faults import check_stream, read_topic
from tests.integration.test_service_outages import ROOT, Pipeline
from tests.support.stack import app_for, copy_events, workload_log

pytestmark = [pytest.mark.integration, pytest.mark.cluster]

DAYS = (date(2025, 12, 1), date(2025, 12, 20), date(2026, 1, 12))
STEP_EVENTS = (Claim.NoticeSent, Claim.EnforcementRequested)


@pytest.fixture
def pipeline(servers: Any, tmp_path: Path) -> Iterator[Pipeline]:
    postgres, kafka = servers
    pipe = Pipeline(postgres, kafka, tmp_path)
    create_event_store(pipe.dsn, pipe.event_store)
    yield pipe
    for p in pipe.processes.values():
        if p.poll() is None:
            p.kill()
            p.wait(10)


def _second_manager(pipe: Pipeline, name: str) -> None:
    with (pipe.logs / f"{name}.log").open("ab") as out:
        pipe.processes[name] = subprocess.Popen(
            [sys.executable, "-m", "kravsak.services", "automate"], cwd=ROOT, env=pipe.env(), stdout=out, stderr=out
        )


def _ticks(pipe: Pipeline, name: str, day: date) -> int:
    return sum(1 for line in pipe.lines(name) if line.get("event") == "automate.tick" and line.get("day") == str(day))


def _steps(pipe: Pipeline) -> list[Any]:
    app = app_for(pipe.settings, pipe.event_store)
    try:
        stored = list(app.recorder.select_notifications(start=1, limit=10**6))
        events = [app.mapper.to_domain_event(n) for n in stored]
    finally:
        app.close()
    return [e for e in events if isinstance(e, STEP_EVENTS)]


def test_two_process_managers_never_send_a_notice_twice(pipeline: Pipeline) -> None:
    app = app_for(pipeline.settings, pipeline.event_store)
    try:
        copy_events(app, workload_log(1500), chunk=400)
    finally:
        app.close()
    pipeline.clock(DAYS[0])
    pipeline.start(("publisher", "projector", "automate"))
    _second_manager(pipeline, "automate-b")
    managers = ("automate", "automate-b")

    for day in DAYS:
        pipeline.clock(day)
        pipeline.wait(f"{day} ticked, published and projected", lambda day=day: pipeline.settled(day), 180)
        ticks = {m: _ticks(pipeline, m, day) for m in managers}
        assert sum(ticks.values()) == 1, f"{day} ticked by {ticks}"
        if day == DAYS[1]:
            # the day's ticker dies and comes back: its restart ticks the same day again
            ticker = next(m for m in managers if ticks[m])
            pipeline.processes[ticker].send_signal(signal.SIGKILL)
            pipeline.processes[ticker].wait(10)
            since = len(pipeline.lines(ticker))
            if ticker == "automate-b":
                _second_manager(pipeline, ticker)
            else:
                pipeline.start(("automate",))
            pipeline.wait(
                "the restarted manager's tick of the same day",
                lambda ticker=ticker, since=since: any(
                    line.get("event") in ("automate.tick", "automate.tick_skipped")
                    for line in pipeline.lines(ticker)[since:]
                ),
                120,
            )
            pipeline.wait(
                "everything published and projected", lambda: pipeline.published() and pipeline.projected(), 120
            )

    steps = _steps(pipeline)
    assert steps, "the days issued no step: the test proves nothing"
    per_claim = Counter((e.originator_id, type(e).__name__, e.command_id) for e in steps)
    twice = {key: n for key, n in per_claim.items() if n > 1}
    assert twice == {}, f"steps sent twice: {list(twice)[:5]}"
    notices = Counter((e.originator_id, e.notice) for e in steps if isinstance(e, Claim.NoticeSent))
    assert max(notices.values()) == 1, f"a claim got the same notice twice: {notices.most_common(3)}"
    with psycopg.connect(pipeline.dsn, autocommit=True) as conn:
        assert last_tick(conn, DEFAULT_NAMESPACE, pipeline.automate_schema) == DAYS[-1]

    codes = pipeline.stop()
    assert codes == {name: 0 for name in pipeline.processes}, pipeline.tails()
    app = app_for(pipeline.settings, pipeline.event_store)
    try:
        stored = list(app.recorder.select_notifications(start=1, limit=10**6))
    finally:
        app.close()
    check_stream(read_topic(pipeline.bootstrap, pipeline.topic), stored)
    assert (
        verify(
            pipeline.dsn, pipeline.bootstrap, projection_names(), topic=pipeline.topic, schema_suffix=pipeline.suffix
        )
        == []
    )
    print(f"{len(steps)} steps over {len(DAYS)} days by two process managers, none twice")
