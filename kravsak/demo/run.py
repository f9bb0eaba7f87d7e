"""`kravsak demo`: one simulated year of an inter-municipal collection office, end to end.

In a fresh id namespace (so demos never collide) four Norwegian municipalities served by one
office and a Swedish municipality collecting its own claims invoice a few thousand debtors over a
year. The world (``kravsak.demo.world``) pays, objects, asks for deferrals and plans, dies; the
process manager (``consumers.automate``) escalates on every simulated day; the publisher and the
projector run as separate processes, exactly as in production. At the end the read models are
summarised on the terminal and in an HTML report with charts and case dossiers.

Two speed settings are the demo's own: its application caches aggregates (it is the only writer of
its namespace), and its connections and services commit with ``synchronous_commit=off`` (via
``PGOPTIONS``) — a crash of the local PostgreSQL could lose the last moments of a demo, which is
throw-away data; the services keep their full guarantees everywhere else.
"""

from __future__ import annotations

import logging
import os
import resource
import signal
import subprocess
import sys
import time
from collections import Counter, defaultdict
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import psycopg
from kafka import KafkaConsumer, TopicPartition
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from consumers.automate import AutomateOptions, ProcessManager, SimulatedClock
from consumers.kafka_access import client_args
from consumers.projector import stored_offsets
from consumers.publisher import max_notification_id, read_position
from consumers.topics import CASE_EVENTS_TOPIC, default_specs, ensure_topics_at
from domain.application import CollectionApp
from domain.merging import priced_alone
from domain.money import ZERO
from domain.policy import CollectionPolicy
from intake.payers import PgPayers
from kravsak.demo.bank import Bank, BankStats
from kravsak.demo.world import MUNICIPALITIES, World, is_month_end, month_end_sweep
from kravsak.errors import KravsakError
from kravsak.settings import Settings, note_keeper, office_secret
from projections import reports
from projections.base import schema_name

DEMO_GROUP = "kravsak-automate-demo"
PROJECTIONS = ("ledger", "limitation", "audit", "parties", "letters")
REPO = Path(__file__).resolve().parents[2]


@dataclass
class DemoRun:
    """What the demo measured and where it wrote its report."""

    tag: str
    namespace: UUID
    debtors: int
    seed: int
    start: date
    end: date
    folder: Path
    weekly: list[tuple[date, dict[str, int]]] = field(default_factory=list)
    pm_commands: Counter[str] = field(default_factory=Counter)
    pm_refused: Counter[str] = field(default_factory=Counter)
    plan_breaches: int = 0
    alerts: int = 0
    events: int = 0
    seconds: dict[str, float] = field(default_factory=dict)
    world_commands: Counter[str] = field(default_factory=Counter)
    world_refused: Counter[str] = field(default_factory=Counter)
    people: int = 0
    letters: dict[str, Any] = field(default_factory=dict)
    charges: list[dict[str, Any]] = field(default_factory=list)
    bank: BankStats = field(default_factory=BankStats)
    """Per creditor: notice fees and court/enforcement fees charged with samlesak, and per claim alone."""

    @property
    def scope(self) -> reports.Scope:
        return reports.Scope(f"{self.tag}-")


# --- the services ------------------------------------------------------------------------------


class Services:
    """The publisher (`python -m kravsak.services publisher`) and the projector (`kravsak project`) as processes."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    def start(self) -> None:
        env = {**os.environ, "KRAVSAK_LOG_FORMAT": "json"}
        commands = {
            "publisher": [sys.executable, "-m", "kravsak.services", "publisher"],
            "projector": [sys.executable, "-m", "kravsak.cli", "project"],
        }
        for name, command in commands.items():
            with (self.folder / f"{name}.log").open("wb") as log:
                self.processes[name] = subprocess.Popen(
                    command, cwd=REPO, env=env, stdout=log, stderr=log, start_new_session=True
                )

    def check(self) -> None:
        for name, process in self.processes.items():
            if process.poll() is not None:
                tail = (self.folder / f"{name}.log").read_text(errors="replace").splitlines()[-5:]
                raise KravsakError(
                    f"the {name} stopped with exit code {process.returncode}: {' | '.join(tail)}",
                    f"see {self.folder / (name + '.log')}",
                )

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)


class Pipeline:
    """How far behind the services are: events not yet on Kafka, records not yet in every read model."""

    def __init__(self, settings: Settings) -> None:
        self.conn = psycopg.connect(settings.pg_dsn, autocommit=True)
        self.kafka = KafkaConsumer(
            **client_args(settings.kafka_bootstrap),
            group_id=None,
            enable_auto_commit=False,
            client_id="kravsak-demo-lag",
        )
        partitions = self.kafka.partitions_for_topic(CASE_EVENTS_TOPIC) or set()
        self.partitions = [TopicPartition(CASE_EVENTS_TOPIC, p) for p in sorted(partitions)]

    def close(self) -> None:
        self.kafka.close()
        self.conn.close()

    def head(self) -> int:
        return max_notification_id(self.conn)

    def publisher_lag(self) -> int:
        try:
            return max(self.head() - read_position(self.conn, CASE_EVENTS_TOPIC), 0)
        except psycopg.errors.UndefinedTable:
            return self.head()

    def projector_lag(self) -> int:
        ends = {tp.partition: int(o) for tp, o in self.kafka.end_offsets(self.partitions).items()}
        behind = 0
        with self.conn.cursor() as cur:
            for name in PROJECTIONS:
                try:
                    got = stored_offsets(cur, schema_name(name), CASE_EVENTS_TOPIC)
                except psycopg.errors.UndefinedTable:
                    return sum(ends.values())
                behind = max(behind, sum(max(o - got.get(p, 0), 0) for p, o in ends.items()))
        return behind

    def published(self) -> int:
        try:
            return read_position(self.conn, CASE_EVENTS_TOPIC)
        except psycopg.errors.UndefinedTable:
            return 0

    def wait_for_publisher(self, services: Services, upto: int, timeout_s: float = 60.0) -> None:
        """Until the publisher has put every event up to notification ``upto`` on Kafka."""
        deadline = time.monotonic() + timeout_s
        while self.published() < upto:
            services.check()
            if time.monotonic() > deadline:
                raise KravsakError("the publisher did not catch up", "see publisher.log in the report folder")
            time.sleep(0.005)

    def wait_until_caught_up(self, timeout_s: float, services: Services) -> None:
        deadline = time.monotonic() + timeout_s
        while self.publisher_lag() > 0:
            services.check()
            if time.monotonic() > deadline:
                raise KravsakError("the publisher did not catch up", "see publisher.log in the report folder")
            time.sleep(0.05)
        while self.projector_lag() > 0:
            services.check()
            if time.monotonic() > deadline:
                raise KravsakError("the projector did not catch up", "see projector.log in the report folder")
            time.sleep(0.05)


# --- the run -----------------------------------------------------------------------------------


def check_stack(settings: Settings) -> None:
    try:
        with psycopg.connect(settings.pg_dsn, connect_timeout=5):
            pass
    except psycopg.OperationalError as exc:
        raise KravsakError(
            f"PostgreSQL does not answer at {settings.pg_dsn.split('@')[-1]}: {str(exc).splitlines()[0]}",
            "start the stack first: `kravsak up` (or `make demo`)",
        ) from None
    kafka_log = logging.getLogger("kafka")
    level = kafka_log.level
    kafka_log.setLevel(logging.CRITICAL)  # one line saying what to do, not the client's retries
    try:
        ensure_topics_at(
            settings.kafka_bootstrap,
            default_specs(partitions=settings.case_events_partitions, replication=settings.topic_replication),
            timeout_s=20,
        )
    except Exception as exc:  # noqa: BLE001 - any failure here means the broker is not usable
        raise KravsakError(
            f"Kafka does not answer at {settings.kafka_servers}: {exc}",
            "start the stack first: `kravsak up` (or `make demo`)",
        ) from None
    finally:
        kafka_log.setLevel(level)


def demo_app(settings: Settings, namespace: UUID) -> CollectionApp:
    """The office's application. It is the only writer of this namespace during the demo (the
    process manager shares it), so aggregates stay cached after each save: no fast-forwarding, and
    no defensive copy (a command checks everything before it records an event, so a refused
    command leaves the cached aggregate as it was)."""
    env = settings.eventsourcing_env(
        AGGREGATE_CACHE_MAXSIZE="500000", AGGREGATE_CACHE_FASTFORWARD="n", DEEPCOPY_FROM_AGGREGATE_CACHE="n"
    )
    return CollectionApp(env, namespace=namespace, office_secret=office_secret(settings), notes=note_keeper(settings))


def new_report_folder(out_root: Path) -> Path:
    folder = out_root / f"demo-{datetime.now().strftime('%Y%m%d-%H%M%S')}"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def run_demo(settings: Settings, *, debtors: int, seed: int, year: int, console: Console, folder: Path) -> DemoRun:
    started = time.monotonic()
    os.environ.setdefault("PGOPTIONS", "-c synchronous_commit=off")  # the demo's and its services' sessions
    check_stack(settings)
    namespace = uuid4()
    tag = namespace.hex[:6].upper()
    run = DemoRun(tag, namespace, debtors, seed, date(year, 1, 1), date(year, 12, 31), folder)
    console.print(
        f"[bold]kravsak demo[/] · namespace {namespace} · invoices {tag}-… · {debtors} debtors · "
        f"seed {seed} · {run.start} → {run.end}"
    )
    with ExitStack() as stack:
        app = demo_app(settings, namespace)  # creates the event store's tables on a fresh database first
        stack.callback(app.close)
        services = Services(folder)
        stack.callback(services.stop)
        services.start()
        pipeline = Pipeline(settings)
        stack.callback(pipeline.close)
        clock = SimulatedClock(settings.pg_dsn, f"demo-{tag}")
        stack.callback(clock.close)
        options = AutomateOptions(group=DEMO_GROUP, namespace=namespace, new_partitions_at_end=True)
        manager = ProcessManager(settings, options, app=app)
        stack.callback(manager.close)
        manager.catch_up(timeout_s=60)  # joined, and at the end of the topic before the first event
        head_before = pipeline.head()
        run.seconds["setup"] = time.monotonic() - started
        _simulate(run, app, manager, clock, pipeline, services, console, settings)
        run.seconds["simulation"] = time.monotonic() - started - run.seconds["setup"]
        with console.status("waiting for the publisher and the projector to catch up"):
            t0 = time.monotonic()
            pipeline.wait_until_caught_up(300, services)
            run.seconds["catch_up"] = time.monotonic() - t0
        run.events = pipeline.head() - head_before
    run.seconds["total"] = time.monotonic() - started
    own, services_cpu = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    run.seconds["cpu_demo"] = round(own.ru_utime + own.ru_stime, 1)
    run.seconds["cpu_services"] = round(services_cpu.ru_utime + services_cpu.ru_stime, 1)
    return run


def _simulate(
    run: DemoRun,
    app: CollectionApp,
    manager: ProcessManager,
    clock: SimulatedClock,
    pipeline: Pipeline,
    services: Services,
    console: Console,
    settings: Settings,
) -> None:
    payers_conn = psycopg.connect(settings.pg_dsn, autocommit=True)  # the payers' accounts, outside the event log
    bank = Bank(app, seed=run.seed, folder=run.folder / "bank-files", payers=PgPayers(payers_conn))
    world = World(app, debtors=run.debtors, seed=run.seed, tag=run.tag, year=run.start.year, bank=bank)
    world.plan_year()
    days = (run.end - run.start).days + 1
    head0 = pipeline.head()
    columns = (
        TextColumn("[bold]{task.fields[day]}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} days"),
        TextColumn("· commands {task.fields[commands]:,} (process manager {task.fields[pm]:,})"),
        TextColumn("· events {task.fields[events]:,}"),
        TextColumn("· lag publisher {task.fields[pub]:,} / projector {task.fields[proj]:,}"),
        TimeElapsedColumn(),
    )
    started = time.monotonic()
    with Progress(
        *columns,
        console=console,
        transient=False,
        refresh_per_second=4,
        disable=not console.is_terminal,
        redirect_stderr=False,  # log lines go to demo.log, not above the bar
        redirect_stdout=False,
    ) as progress:
        task = progress.add_task("year", total=days, day="", commands=0, pm=0, events=0, pub=0, proj=0)
        day = run.start
        end_of_yesterday = pipeline.head()
        spent: defaultdict[str, float] = defaultdict(float)
        while day <= run.end:
            t0 = time.monotonic()
            clock.set(day)
            with app.unit_of_work():  # the day's debtors, banks and caseworkers: one transaction
                for action in world.actions_on(day):
                    action.run(world, day)
                if is_month_end(day):
                    month_end_sweep(world, day)
            if day == run.start:  # the debtors exist on the case side now: their identities go to the register
                from kravsak.demo.people import enrol_people

                run.people = enrol_people(settings, world, seed=run.seed)
            t1 = time.monotonic()
            # the tick acts on what was recorded by the end of yesterday (a nightly run): wait until
            # that is on Kafka and in the worklist, so the same seed gives the same year however fast
            # the services happen to be (by now it nearly always is)
            pipeline.wait_for_publisher(services, upto=end_of_yesterday)
            manager.catch_up()
            t2 = time.monotonic()
            tick = manager.tick(clock.today())
            end_of_yesterday = pipeline.head()
            t3 = time.monotonic()
            spent["world"] += t1 - t0
            spent["pm_poll"] += t2 - t1
            spent["pm_tick"] += t3 - t2
            run.pm_commands.update(tick.commands)
            run.pm_refused.update(tick.refused)
            run.plan_breaches += tick.plan_breaches
            run.alerts += tick.alerts
            if day.weekday() == 6 or day == run.end:
                services.check()
                t4 = time.monotonic()
                pipeline.wait_until_caught_up(60, services)
                spent["weekly_wait"] += time.monotonic() - t4
                with pipeline.conn.cursor() as cur:
                    run.weekly.append((day, reports.stage_counts(cur, run.scope, day)))
            t5 = time.monotonic()
            pm = sum(run.pm_commands.values())
            fields: dict[str, Any] = {
                "day": day.isoformat(),
                "pm": pm,
                "commands": sum(world.stats.commands.values()) + pm + run.plan_breaches,
                "events": pipeline.head() - head0,
                "pub": pipeline.publisher_lag(),
                "proj": pipeline.projector_lag() if day.day % 3 == 0 else progress.tasks[0].fields["proj"],
            }
            progress.update(task, advance=1, **fields)
            if not console.is_terminal and (day.month != (day + timedelta(days=1)).month):
                console.print(  # a line a month where no live bar can be drawn (CI, a pipe)
                    f"{fields['day']} · day {(day - run.start).days + 1}/{days} · {fields['commands']:,} commands "
                    f"({fields['pm']:,} by the process manager) · {fields['events']:,} events · lag publisher "
                    f"{fields['pub']:,} / projector {fields['proj']:,} · {time.monotonic() - started:.0f} s"
                )
            spent["progress"] += time.monotonic() - t5
            day += timedelta(days=1)
    run.seconds.update({f"sim_{k}": round(v, 1) for k, v in spent.items()})
    run.world_commands, run.world_refused = world.stats.commands, world.stats.refused
    run.charges = samlesak_charges(app, world)
    run.bank = bank.stats
    payers_conn.close()


def samlesak_charges(app: CollectionApp, world: World) -> list[dict[str, Any]]:
    """Per creditor: the notice fees and the court/enforcement fees the year's claims were charged, merged into
    combined letters and requests where the policy says so (samlesak), against what the same steps would have
    charged had each gone for its claim alone. The counterfactual is computed from the rules on each claim's
    own trail (``domain.merging.priced_alone``), not by running the year twice: the same letters on the same
    days, each priced by the claim's rules and fee cap."""
    by_creditor: dict[str, dict[str, Any]] = {}
    policies: dict[str, CollectionPolicy] = {}
    for debtor in world.debtors:
        for creditor, invoice in debtor.invoices:
            if creditor not in policies:
                policies[creditor] = CollectionPolicy.from_dict(app.creditor(creditor).policy)
            policy = policies[creditor]
            charges = priced_alone(
                app.claim(creditor, invoice),
                fees_enabled=policy.fees_enabled,
                reminder_fee_agreed=policy.reminder_fee_agreed,
            )
            row = by_creditor.setdefault(
                creditor,
                {
                    "creditor_id": creditor,
                    "merge_claims": policy.merge_claims,
                    "claims": 0,
                    "claims_combined": 0,
                    "fees": ZERO,
                    "fees_alone": ZERO,
                    "costs": ZERO,
                    "costs_alone": ZERO,
                },
            )
            row["claims"] += 1
            row["claims_combined"] += 1 if charges.combined else 0
            row["fees"] += charges.fees
            row["fees_alone"] += charges.fees_alone
            row["costs"] += charges.costs
            row["costs_alone"] += charges.costs_alone
    currency = {m.number: m.currency for m in MUNICIPALITIES}
    return [{**row, "currency": currency.get(c, "")} for c, row in sorted(by_creditor.items())]
