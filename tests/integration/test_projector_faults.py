"""Projection runners survive faults: killed mid-batch, killed while sharing a group, a rebuild
while live, a projection that refuses a case. Every test ends with the projections equal to a
clean rebuild (``verify``) and the ledger equal to the domain.

Runners run as their own processes (``python -m kravsak.services projector``) so a SIGKILL hits
them at an arbitrary instant; each test has its own topic (6 partitions), group and schemas.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import psycopg
import pytest
from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition

from consumers.kafka_access import client_args
from consumers.projector import (
    RunnerOptions,
    cases_schema_for,
    ensure_projection,
    project_once,
    rebuild,
    retry_parked,
    secondary_indexes,
    verify,
)
from consumers.topics import case_events_spec, ensure_topics_at
from domain.application import CollectionApp
from domain.claim import Claim
from projections import ledger
from projections.base import schema_name
from tests.support.stack import Workload, drop_schemas, encoded_workload, produce

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
PARTITIONS = 6
EVENTS = 20_000
SHORTER = 10_000  # the group and rebuild tests take the first half of the workload
REPORT_DAY = date(2026, 3, 2)
SESSION_TIMEOUT_MS = 6000  # the broker's minimum: a killed member leaves the group after 6 s, not 45


@pytest.fixture(scope="module")
def workload() -> Workload:
    """About 20 000 events of the standard workload, made and encoded once for the module."""
    return encoded_workload(EVENTS)


@dataclass
class Pipe:
    """One test's topic, group and schema suffix."""

    dsn: str
    bootstrap: str
    topic: str
    group: str
    suffix: str
    logs: Path
    runners: list[Runner] = field(default_factory=list)

    def options(self, **changes: Any) -> RunnerOptions:
        return RunnerOptions(topic=self.topic, group=self.group, schema_suffix=self.suffix, **changes)

    def runner(self, name: str, *, batch: int = 500) -> Runner:
        runner = Runner(self, name, batch)
        self.runners.append(runner)
        return runner

    def end_offsets(self) -> dict[int, int]:
        consumer = KafkaConsumer(**client_args(self.bootstrap), group_id=None)
        try:
            partitions = [TopicPartition(self.topic, p) for p in range(PARTITIONS)]
            return {tp.partition: o for tp, o in consumer.end_offsets(partitions).items()}
        finally:
            consumer.close()

    def stored(self, name: str) -> int:
        """How far projection ``name`` is: the sum of its stored next offsets."""
        schema = schema_name(name, suffix=self.suffix)
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            exists = conn.execute("SELECT to_regclass(%s)", (f'"{schema}".offsets',)).fetchone()
            if exists is None or exists[0] is None:
                return 0
            row = conn.execute(
                f'SELECT coalesce(sum(next_offset), 0) FROM "{schema}".offsets WHERE topic = %s', (self.topic,)
            ).fetchone()
            return int(row[0]) if row else 0

    def progress(self) -> int:
        """The slowest projection's stored offsets, summed over partitions."""
        return min(self.stored(name) for name in ("ledger", "limitation", "audit"))

    def wait(self, what: str, condition: Callable[[], bool], timeout_s: float, *, poll_s: float = 0.05) -> None:
        deadline = time.monotonic() + timeout_s
        while not condition():
            for runner in self.runners:
                runner.check_alive()
            if time.monotonic() > deadline:
                tails = "\n".join(f"--- {r.name}\n{r.log_tail()}" for r in self.runners)
                raise AssertionError(f"timed out after {timeout_s} s waiting until {what}\n{tails}")
            time.sleep(poll_s)

    def wait_caught_up(self, timeout_s: float) -> None:
        total = sum(self.end_offsets().values())
        self.wait(f"all projections stored {total} offsets", lambda: self.progress() >= total, timeout_s, poll_s=0.2)
        assert self.progress() == total


class Runner:
    """A projection runner process; the test's ``finally`` kills whatever is left."""

    def __init__(self, pipe: Pipe, name: str, batch: int) -> None:
        self.pipe, self.name, self.batch = pipe, name, batch
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = pipe.logs / f"{name}.log"
        self.expected_exit = False

    def start(self) -> Runner:
        env = {
            **os.environ,
            "KRAVSAK_PROJECTOR_TOPIC": self.pipe.topic,
            "KRAVSAK_PROJECTOR_GROUP": self.pipe.group,
            "KRAVSAK_PROJECTOR_SCHEMA_SUFFIX": self.pipe.suffix,
            "KRAVSAK_PROJECTOR_BATCH": str(self.batch),
            "KRAVSAK_PROJECTOR_SESSION_TIMEOUT_MS": str(SESSION_TIMEOUT_MS),
            "KRAVSAK_CASE_EVENTS_PARTITIONS": str(PARTITIONS),
            "PYTHONUNBUFFERED": "1",
        }
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "kravsak.services", "projector"],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.expected_exit = False
        return self

    def kill(self) -> None:
        """SIGKILL: no handler runs, the open transaction dies with the connection."""
        assert self.proc is not None
        self.expected_exit = True
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.expected_exit = True
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def check_alive(self) -> None:
        if self.proc is not None and not self.expected_exit and self.proc.poll() is not None:
            raise AssertionError(f"runner {self.name} exited with {self.proc.returncode}\n{self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def log_events(self, event: str) -> list[dict[str, Any]]:
        out = []
        for line in self.log_path.read_text(errors="replace").splitlines():
            if line.startswith("{"):
                record = json.loads(line)
                if record.get("event") == event:
                    out.append(record)
        return out


@pytest.fixture
def pipe(pg_dsn: str, kafka_bootstrap: str, unique: Callable[[str], str], tmp_path: Path) -> Iterator[Pipe]:
    pipe = Pipe(
        pg_dsn,
        kafka_bootstrap,
        unique("case-events-faults"),
        unique("projector-faults"),
        "_" + uuid4().hex[:10],
        tmp_path,
    )
    ensure_topics_at(kafka_bootstrap, [case_events_spec(pipe.topic, partitions=PARTITIONS)])
    try:
        yield pipe
    finally:
        for runner in pipe.runners:
            if runner.proc is not None and runner.proc.poll() is None:
                runner.proc.kill()
                runner.proc.wait(timeout=10)
        drop_schemas(pg_dsn, pipe.suffix)
        admin = KafkaAdminClient(**client_args(kafka_bootstrap), client_id="kravsak-tests")
        try:
            admin.delete_topics([pipe.topic], raise_errors=False)
        finally:
            admin.close()


@contextmanager
def timeout_thread(target: Callable[[], Any], name: str, timeout_s: float = 60) -> Iterator[dict[str, Any]]:
    """Run ``target`` in a thread, waited for (at most ``timeout_s``) when the block ends; its
    result or error lands in the yielded dict."""
    out: dict[str, Any] = {}

    def run() -> None:
        try:
            out["result"] = target()
        except BaseException as exc:  # re-raised by the test
            out["error"] = exc

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    try:
        yield out
    finally:
        thread.join(timeout=timeout_s)
        assert not thread.is_alive(), f"{name} did not finish"
        if "error" in out:
            raise out["error"]


def claims_of(app: CollectionApp, events: int | None = None) -> list[UUID]:
    """The claims whose every event is among the first ``events`` (default: all)."""
    inside, outside = set(), set()
    for n in app.recorder.select_notifications(start=1, limit=10**9):
        if n.topic.startswith("domain.claim:Claim."):
            (inside if events is None or n.id <= events else outside).add(n.originator_id)
    return sorted(inside - outside, key=str)


def assert_ledger_equals_domain(
    pipe: Pipe, app: CollectionApp, *, sample: int = 60, cases: list[UUID] | None = None, events: int | None = None
) -> None:
    schema = schema_name("ledger", suffix=pipe.suffix)
    chosen = cases if cases is not None else random.Random(5).sample(claims_of(app, events), sample)
    with psycopg.connect(pipe.dsn) as conn, conn.cursor() as cur:
        debit, credit = ledger.trial_balance(cur, schema)
        assert debit == credit and debit > 0
        for case in chosen:
            claim = app.repository.get(case)
            assert isinstance(claim, Claim)
            view = ledger.claim_view(cur, schema, str(case), REPORT_DAY)
            assert view is not None, case
            expected = app.claim_report(claim, REPORT_DAY)
            assert view == {k: expected[k] for k in view}, case


def assigned_partitions(member: dict[str, Any]) -> list[int]:
    """The partitions of one member in ``describe_groups``."""
    assignment = member.get("member_assignment")
    if not assignment:
        return []
    if isinstance(assignment, dict):
        return [p for t in assignment.get("assigned_partitions") or [] for p in t["partitions"]]
    return [tp.partition for tp in assignment.partitions()]


def verify_pipe(pipe: Pipe, names: tuple[str, ...] = ("ledger", "limitation", "audit")) -> None:
    with timeout_thread(
        lambda: verify(pipe.dsn, pipe.bootstrap, names, topic=pipe.topic, schema_suffix=pipe.suffix), "verify", 120
    ) as verified:
        pass
    assert verified["result"] == []


# --- the tests ---------------------------------------------------------------------------------


def test_a_runner_killed_mid_stream_resumes_and_the_projections_equal_a_clean_rebuild(
    pipe: Pipe, workload: Workload
) -> None:
    produced = produce(pipe.bootstrap, pipe.topic, workload.records)
    assert produced >= EVENTS
    first = pipe.runner("first").start()
    pipe.wait("the first runner stored some offsets", lambda: pipe.stored("ledger") >= 1000, 45)
    first.kill()
    at_kill = {name: pipe.stored(name) for name in ("ledger", "limitation", "audit")}
    assert all(0 < n < produced for n in at_kill.values()), f"not killed mid-way: {at_kill} of {produced}"

    pipe.runner("second").start()
    pipe.wait_caught_up(80)
    for runner in pipe.runners:
        runner.stop()

    verify_pipe(pipe)
    assert_ledger_equals_domain(pipe, workload.app)


def test_a_runner_killed_in_a_shared_group_hands_its_partitions_to_the_other(
    pipe: Pipe, workload: Workload, kafka_admin: Any
) -> None:
    produced = produce(pipe.bootstrap, pipe.topic, workload.records[:SHORTER])
    doomed, survivor = pipe.runner("doomed", batch=200).start(), pipe.runner("survivor", batch=200).start()

    def both_own_partitions() -> bool:
        group = kafka_admin.describe_groups([pipe.group]).get(pipe.group, {})
        members = group.get("members") or []
        owned = [assigned_partitions(m) for m in members]
        return group.get("group_state") == "Stable" and len(members) == 2 and all(owned)

    pipe.wait("both runners own partitions", both_own_partitions, 45, poll_s=0.1)
    assert pipe.progress() < produced, "the pair finished before the test could kill one"
    assigned_before = len(survivor.log_events("partition assigned"))
    doomed.kill()

    pipe.wait_caught_up(80)
    group = kafka_admin.describe_groups([pipe.group])[pipe.group]
    assert len(group["members"]) == 1
    assert len(assigned_partitions(group["members"][0])) == PARTITIONS
    taken = survivor.log_events("partition assigned")[assigned_before:]
    assert taken, "the survivor never took the partitions over"
    survivor.stop()

    verify_pipe(pipe)
    assert_ledger_equals_domain(pipe, workload.app, sample=30, events=SHORTER)


def test_a_rebuild_while_a_runner_is_live_switches_over_without_readers_seeing_a_half(
    pipe: Pipe, workload: Workload
) -> None:
    half = SHORTER // 2
    produce(pipe.bootstrap, pipe.topic, workload.records[:half])
    pipe.runner("live", batch=300).start()
    pipe.wait_caught_up(45)

    schema = schema_name("ledger", suffix=pipe.suffix)
    seen: list[int] = []
    errors: list[BaseException] = []
    stop = threading.Event()

    def read() -> None:
        with psycopg.connect(pipe.dsn, autocommit=True) as conn:
            while not stop.is_set():
                try:
                    row = conn.execute(f'SELECT count(*) FROM "{schema}".claims').fetchone()
                    assert row is not None
                    seen.append(int(row[0]))
                except BaseException as exc:  # noqa: BLE001 - a reader must never fail
                    errors.append(exc)
                time.sleep(0.005)

    def oid() -> int:
        with psycopg.connect(pipe.dsn, autocommit=True) as conn:
            row = conn.execute("SELECT oid FROM pg_namespace WHERE nspname = %s", (schema,)).fetchone()
            assert row is not None
            return int(row[0])

    before = oid()
    reader = threading.Thread(target=read, name="reader", daemon=True)
    reader.start()
    try:
        with (
            timeout_thread(lambda: produce(pipe.bootstrap, pipe.topic, workload.records[half:SHORTER]), "producer"),
            timeout_thread(
                lambda: rebuild(pipe.dsn, pipe.bootstrap, "ledger", topic=pipe.topic, schema_suffix=pipe.suffix),
                "rebuild",
                80,
            ) as rebuilding,
        ):
            pass
        rebuilt = rebuilding["result"]
        pipe.wait_caught_up(80)
    finally:
        stop.set()
        reader.join(timeout=10)
    assert rebuilt >= half
    assert oid() != before, "the rebuild did not switch the schema"
    assert not errors, errors[:3]
    assert len(seen) > 10
    drops = [(a, b) for a, b in zip(seen, seen[1:], strict=False) if b < a]
    assert not drops, f"readers saw the claim count fall: {drops[:5]}"
    with psycopg.connect(pipe.dsn) as conn:
        row = conn.execute(f'SELECT count(*) FROM "{schema}".claims').fetchone()
    assert row is not None and seen[-1] <= row[0]

    verify_pipe(pipe)
    assert_ledger_equals_domain(pipe, workload.app, sample=30, events=SHORTER)
    # the rebuild loaded without the secondary indexes and built them after: the same ones as fresh tables have
    fresh = f"{schema}_fresh_indexes"
    with psycopg.connect(pipe.dsn, autocommit=True) as conn:
        ensure_projection(conn, ledger.Ledger(), fresh, cases_schema_for(pipe.suffix))
        try:
            expected = {d.replace(fresh, "S") for d in secondary_indexes(conn, fresh).values()}
            got = {d.replace(schema, "S") for d in secondary_indexes(conn, schema).values()}
        finally:
            conn.execute(f'DROP SCHEMA "{fresh}" CASCADE')
    assert len(expected) >= 4 and got == expected


@pytest.mark.parametrize("refusal", ["raises", "database refuses"])
def test_a_case_refused_by_a_projection_parks_and_a_retry_after_the_fix_brings_it_in(
    pipe: Pipe, monkeypatch: pytest.MonkeyPatch, refusal: str
) -> None:
    small = encoded_workload(600, seed=11)
    app = small.app
    produce(pipe.bootstrap, pipe.topic, small.records)
    escalated = [c for c in claims_of(app) if app.repository.get(c).version >= 5]
    case = str(escalated[0])
    refused = 2
    original = ledger.Ledger.apply

    def refusing(self: ledger.Ledger, cur: Any, event: Any, schema: str, before: Any, after: Any) -> None:
        original(self, cur, event, schema, before, after)
        if event.case_id == case and event.aggregate_version == refused:
            if refusal == "raises":
                raise RuntimeError("ledger refuses this event")
            cur.execute("SELECT 1 / 0")  # in the runner's pipeline the error surfaces later

    monkeypatch.setattr(ledger.Ledger, "apply", refusing)
    report = project_once(pipe.dsn, pipe.bootstrap, pipe.options(), timeout_s=60)
    assert report.parked >= 1

    last = app.repository.get(UUID(case)).version
    schema = schema_name("ledger", suffix=pipe.suffix)
    with psycopg.connect(pipe.dsn) as conn:
        parked = conn.execute(
            f'SELECT version, error FROM "{schema}".parked WHERE case_id = %s ORDER BY version', (case,)
        ).fetchall()
        assert [v for v, _ in parked] == list(range(refused, last + 1))
        assert ("ledger refuses" if refusal == "raises" else "division by zero") in parked[0][1]
        assert all("waiting behind" in error for _, error in parked[1:])
        applied = conn.execute(f'SELECT version FROM "{schema}".case_versions WHERE case_id = %s', (case,)).fetchone()
        assert applied is not None and applied[0] == refused - 1
        others = conn.execute(f'SELECT count(DISTINCT case_id) FROM "{schema}".parked').fetchone()
        assert others is not None and others[0] == 1, "only the refused case waits"
        for name in ("limitation", "audit"):
            other = schema_name(name, suffix=pipe.suffix)
            row = conn.execute(f'SELECT version FROM "{other}".case_versions WHERE case_id = %s', (case,)).fetchone()
            assert row is not None and row[0] == last, f"{name} must not wait for the ledger"

    monkeypatch.undo()
    assert retry_parked(pipe.dsn, names=("ledger",), schema_suffix=pipe.suffix) == {"ledger": last - refused + 1}

    with psycopg.connect(pipe.dsn) as conn:
        left = conn.execute(f'SELECT count(*) FROM "{schema}".parked').fetchone()
        assert left is not None and left[0] == 0
        applied = conn.execute(f'SELECT version FROM "{schema}".case_versions WHERE case_id = %s', (case,)).fetchone()
        assert applied is not None and applied[0] == last
    assert_ledger_equals_domain(pipe, app, cases=[UUID(case)])
    assert_ledger_equals_domain(pipe, app, sample=20)
    verify_pipe(pipe)
