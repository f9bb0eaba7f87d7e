"""The process manager against the real PostgreSQL and Kafka: the business clock moves day by day,
the publisher puts every stored event on a topic of the test's own, and `kravsak automate` issues
what the creditor's policy calls for — once, however often a day is ticked or the process restarted.

Each test has its own event store (a PostgreSQL schema), topic, consumer group, worklist schema
and id namespace.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import uuid4

import psycopg
import pytest
from psycopg import sql

from consumers.automate import AutomateOptions, ProcessManager, SimulatedClock, ensure_tables
from consumers.kafka_access import client_args
from consumers.publisher import PublisherOptions, publisher_lag, run_publisher
from consumers.topics import case_events_spec, ensure_topics_at
from domain import caseflow
from domain.application import CollectionApp
from domain.errors import CommandRefused
from domain.records import Installment
from kravsak.settings import Settings, note_keeper

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
ALTA, SVENLJUNGA = "5601", "1465"


@dataclass
class World:
    settings: Settings
    app: CollectionApp
    options: AutomateOptions
    event_store: str
    publisher_failures: list[BaseException]

    def published(self, timeout_s: float = 120.0) -> None:
        deadline = time.monotonic() + timeout_s
        while publisher_lag(self.settings.pg_dsn, name=self.options.topic, schema=self.event_store) > 0:
            if self.publisher_failures:
                raise self.publisher_failures[0]
            assert time.monotonic() < deadline, "the publisher did not publish every stored event"
            time.sleep(0.02)

    def manager(self) -> ProcessManager:
        return ProcessManager(self.settings, self.options, app=self.app)

    def day_by_day(
        self, pm: ProcessManager, start: date, end: date, world_does: Callable[[date], None] = lambda day: None
    ) -> None:
        """Each day: what debtors and caseworkers do, then the events reach the worklist, then the tick."""
        day = start
        while day <= end:
            world_does(day)
            self.published()
            pm.catch_up()
            pm.tick(day)
            day += timedelta(days=1)

    def events(self, creditor: str, invoice: str, kind: str) -> list[Any]:
        claim = self.app.claim(creditor, invoice)
        return [e for e in self.app.events.get(claim.id) if type(e).__name__ == kind]

    def notices(self, creditor: str, invoice: str) -> list[tuple[str, date]]:
        return [(e.notice, e.effective) for e in self.events(creditor, invoice, "NoticeSent")]

    def enforcements(self, creditor: str, invoice: str) -> list[tuple[str, date]]:
        return [(e.route, e.effective) for e in self.events(creditor, invoice, "EnforcementRequested")]

    def sql(self, query: str, *args: Any) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.settings.pg_dsn, autocommit=True) as conn:
            q = sql.SQL(query).format(s=sql.Identifier(self.options.schema))
            cur = conn.execute(q, args)
            return cur.fetchall() if cur.description else []


@pytest.fixture
def world(settings: Settings, pg_dsn: str, kafka_bootstrap: str, unique: Callable[[str], str]) -> Iterator[World]:
    event_store = unique("automate_es").replace("-", "_")
    topic = unique("automate-case-events")
    schema = "kravsak_automate_" + uuid4().hex[:10]
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(event_store)))
    ensure_topics_at(kafka_bootstrap, [case_events_spec(topic, partitions=3)])
    namespace = uuid4()
    app = CollectionApp(
        settings.eventsourcing_env(POSTGRES_SCHEMA=event_store),
        namespace=namespace,
        office_secret=os.urandom(32),
        notes=note_keeper(settings),  # written reasons go to the stack's personal store, as in production
    )
    app.register_creditor(
        creditor=ALTA,
        name="Alta kommune",
        jurisdiction="NO",
        on=date(2025, 1, 1),
        command_id="setup-alta",
        office="vest-finnmark",
    )
    app.register_creditor(
        creditor=SVENLJUNGA,
        name="Svenljunga kommun",
        jurisdiction="SE",
        on=date(2025, 1, 1),
        command_id="setup-svenljunga",
    )
    app.register_debtor(
        office="vest-finnmark",
        ref="P1",
        kind="person",
        jurisdiction="NO",
        on=date(2025, 1, 1),
        command_id="setup-p1",
        contact={"digital_mailbox": True},
    )
    app.register_debtor(
        office=SVENLJUNGA, ref="S1", kind="person", jurisdiction="SE", on=date(2025, 1, 1), command_id="setup-s1"
    )
    stop = threading.Event()
    failures: list[BaseException] = []

    def publish() -> None:
        try:
            run_publisher(
                settings,
                stop_event=stop,
                options=PublisherOptions(
                    topic=topic,
                    schemas_topic=f"{topic}-schemas",
                    pg_schema=event_store,
                    partitions=3,
                    lag_log_interval_s=3600,
                    idle_wait_s=1.0,
                ),
            )
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            failures.append(exc)

    publisher = threading.Thread(target=publish, daemon=True)
    publisher.start()
    options = AutomateOptions(
        topic=topic,
        group=unique("automate"),
        schema=schema,
        namespace=namespace,
        event_store_schema=event_store,
        poll_timeout_ms=50,
    )
    yield World(settings, app, options, event_store, failures)
    stop.set()
    publisher.join(30)
    app.close()
    assert not failures, failures
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        for s in (event_store, schema):
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(s)))
    from kafka import KafkaAdminClient

    admin = KafkaAdminClient(**client_args(kafka_bootstrap), client_id="kravsak-tests")
    try:
        admin.delete_topics([topic, f"{topic}-schemas"])
    finally:
        admin.close()


def invoice(
    world: World,
    number: str,
    amount: str,
    due: date,
    *,
    on: date = date(2025, 1, 2),
    creditor: str = ALTA,
    claim_type: str = "barnehage",
    debtor: str = "P1",
) -> None:
    world.app.issue_invoice(
        creditor=creditor,
        invoice=number,
        amount=Decimal(amount),
        due=due,
        claim_type=claim_type,
        debtor_ref=debtor,
        on=on,
        command_id=f"invoice-{number}",
    )


# The default Norwegian policy for an invoice due Monday 2025-01-20, left unpaid:
#   purring             14 days after the due date                        → Mon 2025-02-03, deadline 02-17
#   inkassovarsel        1 day after the purring deadline                  → Tue 2025-02-18, deadline 03-04
#   betalingsoppfordring 1 day after the inkassovarsel deadline            → Wed 2025-03-05, deadline 03-19
#   utleggsbegjæring     1 day after the betalingsoppfordring deadline     → Thu 2025-03-20
ESCALATION = [
    ("purring", date(2025, 2, 3)),
    ("inkassovarsel", date(2025, 2, 18)),
    ("betalingsoppfordring", date(2025, 3, 5)),
]
ENFORCEMENT = [("utleggsbegjaering", date(2025, 3, 20))]


def test_an_unpaid_norwegian_claim_escalates_on_the_days_the_default_policy_says(world: World) -> None:
    invoice(world, "1001", "1800.00", date(2025, 1, 20))
    pm = world.manager()
    try:
        world.day_by_day(pm, date(2025, 1, 2), date(2025, 3, 31))

        assert world.notices(ALTA, "1001") == ESCALATION
        assert world.enforcements(ALTA, "1001") == ENFORCEMENT
        actions = world.sql("SELECT command_id, outcome FROM {s}.actions ORDER BY day")
        case = str(world.app.claim(ALTA, "1001").id)
        assert actions == [(f"auto/{case}/{name}/{day}", "accepted") for name, day in ESCALATION + ENFORCEMENT]

        # Every day again, as if each tick had crashed before it moved the worklist: nothing is sent twice.
        world.sql("UPDATE {s}.worklist SET next_check = %s, checked_version = 0", date(2025, 1, 2))
        world.day_by_day(pm, date(2025, 1, 2), date(2025, 3, 31))
        pm.tick(date(2025, 3, 31))

        assert world.notices(ALTA, "1001") == ESCALATION
        assert world.enforcements(ALTA, "1001") == ENFORCEMENT
    finally:
        pm.close()

    # The guarantee the process manager leans on: a command sent again under its id changes nothing (and
    # the same id with other content is refused, ADR 0024).
    repeat = {"creditor": ALTA, "invoice": "1001", "notice": "purring", "command_id": f"auto/{case}/purring/2025-02-03"}
    world.app.send_notice(**repeat, on=date(2025, 2, 3), deadline=date(2025, 2, 17))
    assert len(world.notices(ALTA, "1001")) == 3
    with pytest.raises(CommandRefused, match="command_id"):
        world.app.send_notice(**repeat, on=date(2025, 2, 3), deadline=date(2025, 2, 24))
    assert len(world.notices(ALTA, "1001")) == 3


def test_a_restarted_automate_process_sends_nothing_twice(world: World, tmp_path: Path) -> None:
    invoice(world, "2001", "2400.00", date(2025, 1, 20))
    clock = SimulatedClock(world.settings.pg_dsn, "test", schema=world.options.schema)
    clock.set(date(2025, 1, 19))
    process = AutomateProcess(world, tmp_path)
    process.start()
    try:
        day = date(2025, 1, 19)
        process.wait_for_tick(day)
        while day < date(2025, 3, 25):
            day += timedelta(days=1)
            world.published()  # what the process did yesterday is on the stream before today starts
            clock.set(day)
            process.wait_for_tick(day)
            if day == date(2025, 2, 3):  # killed right after the purring; the worklist update "lost"
                process.stop(signal.SIGKILL)
                world.sql("UPDATE {s}.worklist SET next_check = %s, checked_version = 0", day)
                process.start()
                process.wait_for_tick(day, fresh=True)
            if day == date(2025, 3, 5):  # stopped politely on the betalingsoppfordring day
                process.stop(signal.SIGTERM)
                process.start()
                process.wait_for_tick(day, fresh=True)
    finally:
        process.stop(signal.SIGTERM)
        clock.close()

    assert world.notices(ALTA, "2001") == ESCALATION
    assert world.enforcements(ALTA, "2001") == ENFORCEMENT
    assert process.starts == 3


def test_a_claim_paid_in_time_gets_nothing(world: World) -> None:
    invoice(world, "3001", "950.00", date(2025, 1, 20))
    pm = world.manager()
    try:

        def pay(day: date) -> None:
            if day == date(2025, 1, 17):
                world.app.register_payment(
                    creditor=ALTA, invoice="3001", amount=Decimal("950.00"), on=day, command_id="pay-3001"
                )

        world.day_by_day(pm, date(2025, 1, 2), date(2025, 3, 31), pay)
    finally:
        pm.close()

    assert world.notices(ALTA, "3001") == []
    assert world.enforcements(ALTA, "3001") == []
    assert world.sql("SELECT closed_on, next_check FROM {s}.worklist") == [(date(2025, 1, 17), None)]


def test_a_swedish_claim_under_50_sek_gets_no_notice(world: World) -> None:
    invoice(world, "S-1", "45.00", date(2025, 1, 20), creditor=SVENLJUNGA, claim_type="va", debtor="S1")
    invoice(world, "S-2", "520.00", date(2025, 1, 20), creditor=SVENLJUNGA, claim_type="va", debtor="S1")
    pm = world.manager()
    try:
        world.day_by_day(pm, date(2025, 1, 2), date(2025, 3, 15))
    finally:
        pm.close()

    assert world.notices(SVENLJUNGA, "S-1") == []
    # the same debtor's larger claim shows the policy at work: påminnelse 7 days after the due date
    # (Mon 01-27, deadline 02-06), inkassokrav the day after that deadline
    assert world.notices(SVENLJUNGA, "S-2") == [("paminnelse", date(2025, 1, 27)), ("inkassokrav", date(2025, 2, 7))]


def test_a_limitation_date_within_the_alert_days_is_alerted_once(world: World) -> None:
    # an old claim taken over in 2025: due 2022-03-15, so limitation runs to 2025-03-17 (the 15th is a Saturday)
    invoice(world, "4001", "3100.00", date(2022, 3, 15), claim_type="helse_omsorg")
    pm = world.manager()
    try:
        world.day_by_day(pm, date(2025, 1, 2), date(2025, 1, 10))
    finally:
        pm.close()

    case = str(world.app.claim(ALTA, "4001").id)
    assert world.sql("SELECT case_id, limitation_date, alerted_on, days_left FROM {s}.alerts") == [
        (case, date(2025, 3, 17), date(2025, 1, 3), 73)
    ]
    # collection starts at the first run after the take-over: the purring was due long ago
    assert world.notices(ALTA, "4001") == [("purring", date(2025, 1, 3))]


def test_a_broken_payment_plan_is_recorded_and_escalation_resumes(world: World) -> None:
    invoice(world, "5001", "3000.00", date(2025, 1, 20))
    pm = world.manager()
    plan = [
        Installment(date(2025, 2, 20), Decimal("1000.00")),
        Installment(date(2025, 3, 20), Decimal("1000.00")),
        Installment(date(2025, 4, 22), Decimal("1035.00")),
    ]
    try:

        def debtor(day: date) -> None:
            if day == date(2025, 2, 10):  # after the purring: a plan instead of a warning
                world.app.agree_payment_plan(
                    creditor=ALTA, invoice="5001", installments=plan, on=day, command_id="plan-5001"
                )
            if day == date(2025, 2, 19):  # the first instalment, then nothing more
                world.app.register_payment(
                    creditor=ALTA, invoice="5001", amount=Decimal("1000.00"), on=day, command_id="pay-5001-1"
                )

        world.day_by_day(pm, date(2025, 1, 2), date(2025, 4, 1), debtor)
    finally:
        pm.close()

    breaches = world.events(ALTA, "5001", "PaymentPlanBreached")
    # the second instalment (due Thu 03-20) is checked after the grace days, on Fri 03-28; the
    # inkassovarsel, due since the purring deadline passed, goes the same day
    assert [(b.effective, b.missed_due) for b in breaches] == [(date(2025, 3, 28), date(2025, 3, 20))]
    assert world.notices(ALTA, "5001") == [("purring", date(2025, 2, 3)), ("inkassovarsel", date(2025, 3, 28))]


def test_two_claims_of_one_debtor_due_the_same_day_get_one_letter_and_a_crash_mid_tick_sends_nothing_twice(
    world: World,
) -> None:
    """Samlesak: a barnehage and an SFO invoice of one debtor, both due 2025-01-20, escalate together —
    one letter per step with one fee, one utleggsbegjæring with one court fee. On the purring day the
    process dies after the letter is stored and before its worklist is written; the restarted process
    ticks the day again and sends nothing twice."""
    invoice(world, "6001", "1800.00", date(2025, 1, 20))
    invoice(world, "6002", "2400.00", date(2025, 1, 20), claim_type="sfo")
    pm = world.manager()
    try:
        world.day_by_day(pm, date(2025, 1, 2), date(2025, 2, 2))
        # rows from before the worklist kept the debtor: the tick finds it in the claims
        world.sql("UPDATE {s}.worklist SET debtor_id = NULL")

        def crash(*args: Any, **kwargs: Any) -> None:
            raise KeyboardInterrupt("the process dies after storing the day's commands")

        pm._write = crash  # type: ignore[method-assign]
        world.published()
        pm.catch_up()
        with pytest.raises(KeyboardInterrupt):
            pm.tick(date(2025, 2, 3))
    finally:
        pm.close()

    bh, sfo = world.app.claim(ALTA, "6001"), world.app.claim(ALTA, "6002")
    assert len(world.notices(ALTA, "6001")) == len(world.notices(ALTA, "6002")) == 1
    assert world.sql("SELECT count(*) FROM {s}.actions") == [(0,)]  # the crash came before the write

    pm = world.manager()
    try:
        world.day_by_day(pm, date(2025, 2, 3), date(2025, 3, 31))
    finally:
        pm.close()

    assert world.notices(ALTA, "6001") == world.notices(ALTA, "6002") == ESCALATION
    assert world.enforcements(ALTA, "6001") == world.enforcements(ALTA, "6002") == ENFORCEMENT
    letters = [
        (e.notice, e.fee, e.letter_invoices, e.command_id)
        for number in ("6001", "6002")
        for e in world.events(ALTA, number, "NoticeSent")
    ]
    assert [(n, fee) for n, fee, _, _ in letters] == [
        ("purring", Decimal("35.00")),
        ("inkassovarsel", Decimal("35.00")),
        ("betalingsoppfordring", Decimal("105.00")),
        ("purring", Decimal("0.00")),
        ("inkassovarsel", Decimal("0.00")),
        ("betalingsoppfordring", Decimal("0.00")),
    ]
    assert {tuple(letter) for _, _, letter, _ in letters} == {("6001", "6002")}
    purring_id = caseflow.combined_command_id("auto", [bh.id, sfo.id], "purring", date(2025, 2, 3))
    assert letters[0][3] == letters[3][3] == purring_id
    requests = [e.cost for number in ("6001", "6002") for e in world.events(ALTA, number, "EnforcementRequested")]
    assert requests == [Decimal("1589.00"), Decimal("0.00")]
    # one row per claim, the letter beside it; the purring's rows died with the crashed tick (the restarted
    # one found the letter in the trails, the truth, and had nothing to send)
    rows = world.sql("SELECT command_id, case_id, outcome, letter FROM {s}.actions ORDER BY day, case_id")
    assert len(rows) == 6 and len({r[0] for r in rows}) == 3 and purring_id not in {r[0] for r in rows}
    assert all(r[2] == "accepted" and r[3] == ["6001", "6002"] for r in rows)
    assert world.sql("SELECT DISTINCT debtor_id FROM {s}.worklist") == [(bh.debtor_id,)]


def test_a_written_down_claim_gets_its_monitoring_letter_sixty_days_before_limitation(world: World) -> None:
    """Långtidsbevakning: a Swedish water claim due 2022-09-30, written down when it is taken over on
    2025-07-25, is time-barred after 2025-09-30; the process manager sends the påminnelse that interrupts
    limitation (preskriptionslagen 5 § 2) on 2025-08-01, sixty days before, and nothing else."""
    invoice(
        world, "S-9", "1200.00", date(2022, 9, 30), on=date(2025, 7, 25), creditor=SVENLJUNGA, claim_type="va",
        debtor="S1",
    )  # fmt: skip
    world.app.write_down(
        creditor=SVENLJUNGA, invoice="S-9", reason="no means", on=date(2025, 7, 25), command_id="wd-S-9"
    )
    pm = world.manager()
    try:
        world.day_by_day(pm, date(2025, 7, 25), date(2025, 8, 5))
    finally:
        pm.close()

    assert world.notices(SVENLJUNGA, "S-9") == [("paminnelse", date(2025, 8, 1))]
    (interrupted,) = world.events(SVENLJUNGA, "S-9", "LimitationInterrupted")
    assert interrupted.ground == "long_term_monitoring:paminnelse"
    assert "preskriptionslagen 5 § 2" in interrupted.legal_basis
    assert interrupted.limitation_date == date(2028, 8, 1)
    case = str(world.app.claim(SVENLJUNGA, "S-9").id)
    assert world.sql("SELECT command_id, kind, name, outcome FROM {s}.actions") == [
        (f"auto/{case}/paminnelse/2025-08-01", "monitoring", "paminnelse", "accepted")
    ]
    # looked at next for the alert, 90 days before the new limitation date
    assert world.sql("SELECT next_check, limitation_date FROM {s}.worklist") == [(date(2028, 5, 3), date(2028, 8, 1))]


def test_an_actions_table_keyed_by_command_id_alone_is_migrated_to_one_row_per_claim(pg_dsn: str) -> None:
    schema = "kravsak_automate_" + uuid4().hex[:10]
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
        try:
            conn.execute(
                sql.SQL(
                    "CREATE TABLE {}.actions (command_id text PRIMARY KEY, namespace text NOT NULL, "
                    "case_id text NOT NULL, day date NOT NULL, kind text NOT NULL, name text NOT NULL, "
                    "outcome text NOT NULL, code text, message text, recorded_at timestamptz NOT NULL DEFAULT now())"
                ).format(sql.Identifier(schema))
            )
            ensure_tables(conn, schema)
            ensure_tables(conn, schema)  # idempotent
            row = conn.execute(
                "SELECT array_agg(a.attname::text ORDER BY a.attname) FROM pg_index i JOIN pg_class c ON "
                "c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_attribute a ON "
                "a.attrelid = c.oid AND a.attnum = ANY(i.indkey) WHERE n.nspname = %s AND c.relname = 'actions' "
                "AND i.indisprimary",
                (schema,),
            ).fetchone()
            assert row is not None and row[0] == ["case_id", "command_id"]
        finally:
            conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))


# --- the process as a process ------------------------------------------------------------------


class AutomateProcess:
    """`kravsak automate --clock simulated` in a process of its own."""

    def __init__(self, world: World, folder: Path) -> None:
        self.world, self.folder = world, folder
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.started_at = 0.0

    @property
    def log(self) -> Path:
        return self.folder / f"automate-{self.starts}.log"

    def start(self) -> None:
        o = self.world.options
        self.starts += 1
        env = {**os.environ, "KRAVSAK_LOG_FORMAT": "json", "KRAVSAK_CASE_EVENTS_PARTITIONS": "3"}
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "kravsak.cli",
                    "automate",
                    "--clock",
                    "simulated",
                    "--clock-name",
                    "test",
                    "--namespace",
                    str(o.namespace),
                    "--group",
                    o.group,
                    "--topic",
                    o.topic,
                    "--schema",
                    o.schema,
                    "--event-store-schema",
                    self.world.event_store,
                ],
                cwd=REPO,
                env=env,
                stdout=out,
                stderr=out,
            )
        self.started_at = time.time()

    def wait_for_tick(self, day: date, *, fresh: bool = False, timeout_s: float = 60.0) -> None:
        """Until the process has ticked ``day`` (with ``fresh``: ticked it since it started)."""
        deadline = time.monotonic() + timeout_s
        namespace = str(self.world.options.namespace)
        while True:
            assert self.process is not None and self.process.poll() is None, self.tail()
            rows = self.world.sql(
                "SELECT last_tick, extract(epoch FROM updated_at) FROM {s}.ticks WHERE namespace = %s", namespace
            )
            if rows and rows[0][0] == day and (not fresh or float(rows[0][1]) >= self.started_at):
                return
            assert time.monotonic() < deadline, f"no tick of {day}: {self.tail()}"
            time.sleep(0.02)

    def stop(self, sig: int) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(sig)
            self.process.wait(30)

    def tail(self) -> str:
        lines = self.log.read_text(errors="replace").splitlines()[-10:] if self.log.exists() else []
        return "\n".join(json.loads(line).get("event", line) if line.startswith("{") else line for line in lines)
