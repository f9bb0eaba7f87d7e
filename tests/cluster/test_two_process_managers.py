"""Two process managers (`kravsak automate`) on one deployment, on the cluster (issue 17 point 3): they
share the consumer group and the worklist, never tick at the same time (the advisory lock), and a ticker
killed in the middle of a day and started again repeats that day harmlessly — no claim gets a notice (or any
step) twice. Ends in the independent checks (stream, order, `verify` == [])."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections import Counter
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import psycopg
import pytest

from consumers.automate import DEFAULT_NAMESPACE, last_tick
from consumers.projector import projection_names, verify
from domain.application import CollectionApp
from domain.claim import Claim
from kravsak.bench.workload import CREDITOR, NO_TYPES, Command, execute, setup
from tests.integration.test_publisher_faults import check_stream, read_topic
from tests.integration.test_service_outages import ROOT, Pipeline
from tests.support.stack import app_for, copy_events

pytestmark = [pytest.mark.integration, pytest.mark.cluster]

DAYS = (date(2025, 12, 1), date(2025, 12, 20), date(2026, 1, 12))
CLAIMS = 300
STEP_EVENTS = (Claim.NoticeSent, Claim.EnforcementRequested)


def _second_manager(pipe: Pipeline, name: str) -> None:
    with (pipe.logs / f"{name}.log").open("ab") as out:
        pipe.processes[name] = subprocess.Popen(
            [sys.executable, "-m", "kravsak.services", "automate"], cwd=ROOT, env=pipe.env(), stdout=out, stderr=out
        )


def _steps(pipe: Pipeline) -> list[Any]:
    app = app_for(pipe.settings, pipe.event_store)
    try:
        stored = list(app.recorder.select_notifications(start=1, limit=10**6))
        events = [app.mapper.to_domain_event(n) for n in stored]
    finally:
        app.close()
    return [e for e in events if isinstance(e, STEP_EVENTS)]


def _unpaid_invoices(claims: int) -> list[Any]:
    """``claims`` invoices of one municipality, due in November 2025 and never paid: each day of the test
    has notices to send (three claims per debtor, so samlesak letters too)."""
    app = CollectionApp()
    debtors = max(claims // 3, 1)
    setup(app, CREDITOR, debtors, date(2025, 9, 1))
    for i in range(claims):
        issued = date(2025, 10, 1) + timedelta(days=i % 10)
        fields = {
            "creditor": CREDITOR,
            "invoice": f"u{i:06d}",
            "amount": Decimal("1500.00") + i,
            "due": issued + timedelta(days=30),
            "claim_type": NO_TYPES[i % len(NO_TYPES)],
            "debtor_ref": f"D{i % debtors}",
            "on": issued,
            "command_id": f"u{i}-0",
        }
        execute(app, Command("issue_invoice", fields))
    return list(app.recorder.select_notifications(start=1, limit=10**6))


def _commands(pipe: Pipeline, name: str, day: date) -> int:
    return sum(
        1 for line in pipe.lines(name) if line.get("event") == "automate.command" and line.get("day") == str(day)
    )


def test_two_process_managers_never_send_a_notice_twice(pipeline: Pipeline) -> None:
    app = app_for(pipeline.settings, pipeline.event_store)
    try:
        copy_events(app, _unpaid_invoices(CLAIMS), chunk=400)
    finally:
        app.close()
    # the day before: nothing due; the managers' worklist fills from the stream before the first day begins
    pipeline.clock(DAYS[0] - timedelta(days=1))
    pipeline.start(("publisher", "projector", "automate"))
    _second_manager(pipeline, "automate-b")
    managers = ("automate", "automate-b")
    pipeline.wait(
        "the day before ticked, published and projected", lambda: pipeline.settled(DAYS[0] - timedelta(days=1)), 180
    )

    for day in DAYS:
        pipeline.clock(day)
        if day == DAYS[0]:
            # the day's ticker is SIGKILLed as soon as it has issued its first command, and started again:
            # its restart ticks the same day once more, over claims it had already sent steps to
            pipeline.wait(
                f"the first command of {day}", lambda day=day: any(_commands(pipeline, m, day) for m in managers), 180
            )
            ticker = next(m for m in managers if _commands(pipeline, m, day))
            pipeline.processes[ticker].send_signal(signal.SIGKILL)
            pipeline.processes[ticker].wait(10)
            if ticker == "automate-b":
                _second_manager(pipeline, ticker)
            else:
                pipeline.start(("automate",))
        pipeline.wait(f"{day} ticked, published and projected", lambda day=day: pipeline.settled(day), 180)

    # the managers stop first (a manager that had not ticked the day yet may tick it after the other one,
    # over what is still due); then everything they stored is published and projected before the rest stop
    for manager in managers:
        process = pipeline.processes.pop(manager)
        process.send_signal(signal.SIGTERM)
        assert process.wait(60) == 0, f"{manager} did not stop cleanly\n{pipeline.tails()}"
    pipeline.wait("everything published and projected", lambda: pipeline.published() and pipeline.projected(), 120)
    codes = pipeline.stop()
    assert codes == {name: 0 for name in pipeline.processes}, pipeline.tails()
    steps = _steps(pipeline)
    assert steps, "the days issued no step: the test proves nothing"
    per_claim = Counter((e.originator_id, type(e).__name__, e.command_id) for e in steps)
    twice = {key: n for key, n in per_claim.items() if n > 1}
    assert twice == {}, f"steps sent twice: {list(twice)[:5]}"
    notices = Counter((e.originator_id, e.notice) for e in steps if isinstance(e, Claim.NoticeSent))
    assert max(notices.values()) == 1, f"a claim got the same notice twice: {notices.most_common(3)}"
    with psycopg.connect(pipeline.dsn, autocommit=True) as conn:
        assert last_tick(conn, DEFAULT_NAMESPACE, pipeline.automate_schema) == DAYS[-1]

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
