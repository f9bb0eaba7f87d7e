"""The process manager (`kravsak automate`): the steps the case flow calls for, issued on the business clock.

It keeps a worklist of the claims it follows and, once per business day (a *tick*), runs that
day of the case flow for each claim whose next check has come: ``domain.caseflow.run_day``, the
same code as ``CollectionApp.run_policies`` — the payment-plan check after its grace days, the
limitation alert, the creditor's policy step issued as an ordinary ``CollectionApp`` command, and
the next check date with its back-off (``domain.policy``). It holds no rule of its own: it keeps
the worklist, records the steps and alerts, and decides when to tick.

Delivery protocol
-----------------
The shared protocol is the runner's (``consumers.runner``): consumer group ``kravsak-automate`` on
``kravsak.case-events``, each batch in ONE PostgreSQL transaction with the group's offset rows
(``kravsak_automate.offsets``, keyed by group), seek to the stored offset on assignment, a gap rolled
back and sought back, Kafka's committed offsets only a progress signal, a stop after the batch in
hand. What the process manager adds:

- **A fresh namespace starts at the end.** With ``new_partitions_at_end`` (a run in a fresh id
  namespace) a partition without a stored offset starts at its end instead of its beginning.
- **What a record does.** ``ClaimInvoiced`` of this process's id namespace adds a worklist row
  (first check: the day after the due date). The few event types that can move a check date
  (``WORKLIST_EVENTS``: payments, notices, deferrals, plans, resolutions ...) are decoded and give a
  *hint*; every other record (party events, other namespaces' claims, objections, interruptions
  ...) only moves the offset, undecoded by its ``event-type`` header. A hint is never the day the
  event was recorded: the tick of day D acts on what was recorded by the end of D−1, as a nightly
  run would, so its decisions do not depend on how quickly the stream delivered the day's own events.
- **Redelivery.** A hint can only bring a claim's next check *earlier* (``LEAST``), and an event the
  last tick already saw (``version <= checked_version``) changes no date. Applying a record twice
  therefore changes nothing that matters.
- **A record that cannot be decoded** is parked in ``kravsak_automate.parked`` with its error, logged
  with topic, partition and offset, and the offsets move on: the worklist is a helper, the event
  store stays the truth, and a parked claim is still checked on the dates it already had.
- **Commands.** A tick loads each due claim from the event store, never from the stream, and issues
  what the case flow answers with the deterministic command id ``auto/<case>/<step>/<day>``
  (``domain.caseflow.command_id``); a claim ignores a command id it has seen. One debtor's claims of
  one creditor (a *household*, ``debtor_id`` in the worklist) are checked together, so claims due for
  the same step share ONE letter or request (samlesak, when the creditor's policy merges) under ONE
  id derived from their sorted case ids, ``auto/samlesak-<digest>/<step>/<day>``. The commands of a
  chunk of whole households are stored in one transaction (``CollectionApp.unit_of_work``); only then
  are the chunk's actions (one row per claim, the letter's invoices beside it) and worklist rows
  written. A crash in between leaves the rows due, so the next tick (a restart ticks *today* first)
  reloads the claims, finds the steps in their trails and schedules the next ones: nothing is sent
  twice, a combined letter no more than a single one.
- **Refusals.** ``CommandRefused`` is logged with its code, recorded in ``kravsak_automate.actions``
  and the claim is checked again after the domain's back-off (``domain.policy.backoff_days``). A
  concurrent write to one of a chunk's claims (``IntegrityError``) makes the chunk run again
  household by household; a household that conflicts again is left for the next tick. Any other
  error in one household is logged and leaves its claims for the next tick; the tick goes on.
- **A new day waits for the stream.** Before the tick of a new day the process catches up with
  the end offsets the topic had at that moment; if it cannot within a minute it logs
  ``automate.tick_postponed`` and tries again.
- **One ticker per namespace:** a PostgreSQL advisory lock; a second process only consumes.
- **Outages** (PostgreSQL restarting, Kafka unreachable) are ridden out as the runner does
  (``Runner.ride_out``: back-off with jitter, a new connection, seek to the stored offsets); a tick
  an outage cut short runs again after it, which changes nothing already done (the command ids).
  The app is made again with its pool (a pool would wait for its broken connections).

The business clock is injected (``Clock``): ``SystemClock`` in production, ``SimulatedClock`` (a
date in ``kravsak_automate.clock``, shared by every process that names it) in demos and tests.
"""

from __future__ import annotations

import dataclasses
import itertools
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol
from uuid import UUID
from zoneinfo import ZoneInfo

import psycopg
import structlog
from eventsourcing.persistence import IntegrityError
from psycopg import sql

from consumers.endpoints import Endpoints
from consumers.outages import OUTAGES
from consumers.runner import (
    BatchResult,
    ConsumerOptions,
    Message,
    OffsetTable,
    ParkedTable,
    Runner,
    RunReport,
    apply_in_transaction,
    create_offsets_table,
)
from consumers.topics import CASE_EVENTS_TOPIC
from consumers.wire.codec import SchemaStore
from consumers.wire.envelope import domain_values
from domain import caseflow
from domain.application import DEFAULT_NAMESPACE, CollectionApp
from domain.claim import Claim, claim_id
from domain.errors import CommandRefused, ServiceError
from domain.policy import CollectionPolicy

log = structlog.get_logger("kravsak.automate")
bound = structlog.contextvars.bound_contextvars

SCHEMA = "kravsak_automate"
DEFAULT_GROUP = "kravsak-automate"
SCHEMAS_DIR = Path(__file__).resolve().parents[1] / "schemas"
# Events after which the claim is looked at on the day they were recorded: it may be closed,
# collection may resume, a breach may need the next step.
RECHECK_ON_RECORDED = frozenset(
    {
        "ClaimPaymentRegistered",
        "ClaimCreditNoteIssued",
        "ClaimCostsWaived",
        "ClaimWrittenOff",
        "ClaimWrittenDown",
        "ClaimObjectionResolved",
        "ClaimPaymentPlanBreached",
        "ClaimJudgmentRegistered",
        "ClaimReinstatementApplied",
    }
)
# The events that can move a claim's check date (``_hint``). The worklist skips every other record
# without decoding it: a tick that issued a command already scheduled the claim from its fresh
# state, and the rest (objections, deaths, interruptions, ...) ask for no earlier look.
# ``seen_version`` is the newest of these events applied to a row.
WORKLIST_EVENTS = RECHECK_ON_RECORDED | {
    "ClaimInvoiced",
    "ClaimNoticeSent",
    "ClaimDeferralGranted",
    "ClaimPaymentPlanAgreed",
}


class ClockNotSet(ServiceError):
    """A simulated clock was read before anyone set it."""


# --- the business clock --------------------------------------------------------------------------


class Clock(Protocol):
    """The business date: the day commands are recorded on."""

    def today(self) -> date: ...


class SystemClock:
    """The calendar date in the office's time zone."""

    def __init__(self, zone: str = "Europe/Oslo") -> None:
        self.zone = ZoneInfo(zone)

    def today(self) -> date:
        return datetime.now(self.zone).date()


class SimulatedClock:
    """A business date kept in PostgreSQL (``<schema>.clock``), so several processes share it.

    Whoever drives the simulation calls ``set`` or ``advance``; every process reading the clock of
    the same name sees the new day at its next ``today()``."""

    def __init__(self, dsn: str, name: str = "default", *, schema: str = SCHEMA) -> None:
        self.dsn, self.name, self.schema = dsn, name, schema
        self._conn: psycopg.Connection[Any] | None = None

    def _connection(self) -> psycopg.Connection[Any]:
        if self._conn is None or self._conn.closed:
            self._conn = psycopg.connect(self.dsn, autocommit=True)
            ensure_tables(self._conn, self.schema)
        return self._conn

    def today(self) -> date:
        row = (
            self._connection()
            .execute(sql.SQL("SELECT today FROM {} WHERE name = %s").format(_table(self.schema, "clock")), (self.name,))
            .fetchone()
        )
        if row is None:
            raise ClockNotSet(
                f"the simulated clock {self.name!r} has no date yet",
                f"set it first: `kravsak clock --name {self.name} --set 2025-01-01`",
            )
        day: date = row[0]
        return day

    def set(self, day: date) -> None:
        self._connection().execute(
            sql.SQL(
                "INSERT INTO {} (name, today, updated_at) VALUES (%s, %s, now()) ON CONFLICT (name) "
                "DO UPDATE SET today = EXCLUDED.today, updated_at = EXCLUDED.updated_at"
            ).format(_table(self.schema, "clock")),
            (self.name, day),
        )

    def advance(self, days: int = 1) -> date:
        day = self.today() + timedelta(days=days)
        self.set(day)
        return day

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


# --- tables --------------------------------------------------------------------------------------


def _table(schema: str, table: str) -> sql.Composed:
    return sql.SQL("{}.{}").format(sql.Identifier(schema), sql.Identifier(table))


def ensure_tables(conn: psycopg.Connection[Any], schema: str = SCHEMA) -> None:
    """The process manager's tables (idempotent; migrations of this module's own schema)."""
    s = sql.Identifier(schema)
    ddl = sql.SQL("""
        CREATE SCHEMA IF NOT EXISTS {s};
        CREATE TABLE IF NOT EXISTS {s}.worklist (
            case_id text PRIMARY KEY, namespace text NOT NULL, creditor_id text NOT NULL, invoice text NOT NULL,
            jurisdiction text NOT NULL, due date NOT NULL, limitation_date date NOT NULL, next_check date,
            seen_version bigint NOT NULL, checked_version bigint NOT NULL DEFAULT 0, closed_on date,
            refusals int NOT NULL DEFAULT 0, last_checked date, last_action text,
            topic text, partition int, "offset" bigint, updated_at timestamptz NOT NULL DEFAULT now());
        CREATE INDEX IF NOT EXISTS worklist_next_check ON {s}.worklist (namespace, next_check)
            WHERE next_check IS NOT NULL;
        CREATE TABLE IF NOT EXISTS {s}.alerts (
            case_id text NOT NULL, limitation_date date NOT NULL, namespace text NOT NULL,
            creditor_id text NOT NULL, invoice text NOT NULL, alerted_on date NOT NULL, days_left int NOT NULL,
            PRIMARY KEY (case_id, limitation_date));
        ALTER TABLE {s}.worklist ADD COLUMN IF NOT EXISTS debtor_id text;
        CREATE TABLE IF NOT EXISTS {s}.actions (
            command_id text NOT NULL, namespace text NOT NULL, case_id text NOT NULL, day date NOT NULL,
            kind text NOT NULL, name text NOT NULL, outcome text NOT NULL, code text, message text,
            recorded_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (command_id, case_id));
        ALTER TABLE {s}.actions ADD COLUMN IF NOT EXISTS letter text[];
        CREATE INDEX IF NOT EXISTS actions_day ON {s}.actions (namespace, day);
        CREATE TABLE IF NOT EXISTS {s}.ticks (
            namespace text PRIMARY KEY, last_tick date NOT NULL, checked int NOT NULL, commands int NOT NULL,
            updated_at timestamptz NOT NULL DEFAULT now());
        CREATE TABLE IF NOT EXISTS {s}.clock (name text PRIMARY KEY, today date NOT NULL, updated_at timestamptz);
    """).format(s=s)
    with conn.transaction(), conn.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"kravsak-ddl-{schema}",))
        cur.execute(ddl)
        create_offsets_table(cur, schema, by_group=True)  # the rows of every group share the table
        cur.execute(
            "SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = "
            "c.relnamespace WHERE n.nspname = %s AND c.relname = 'actions' AND i.indisprimary AND i.indnatts = 1",
            (schema,),
        )
        if cur.fetchone():  # keyed by command id alone by an earlier kravsak: a combined letter has one row per claim
            cur.execute(
                sql.SQL("ALTER TABLE {t} DROP CONSTRAINT actions_pkey, ADD PRIMARY KEY (command_id, case_id)").format(
                    t=_table(schema, "actions")
                )
            )
        cur.execute(
            "SELECT 1 FROM information_schema.tables t WHERE t.table_schema = %s AND t.table_name = 'parked' "
            "AND NOT EXISTS (SELECT 1 FROM information_schema.columns c WHERE c.table_schema = t.table_schema "
            "AND c.table_name = 'parked' AND c.column_name = 'version')",
            (schema,),
        )
        if cur.fetchone():  # parked by an earlier kravsak: the runner's columns added
            cur.execute(
                sql.SQL(
                    "ALTER TABLE {} ADD COLUMN version bigint NOT NULL DEFAULT -1, ADD COLUMN event_id text"
                ).format(_table(schema, "parked"))
            )
        ParkedTable(schema).create(cur)


def last_tick(conn: psycopg.Connection[Any], namespace: UUID, schema: str = SCHEMA) -> date | None:
    row = conn.execute(
        sql.SQL("SELECT last_tick FROM {} WHERE namespace = %s").format(_table(schema, "ticks")), (str(namespace),)
    ).fetchone()
    return row[0] if row else None


def actions_by_week(
    conn: psycopg.Connection[Any], namespace: UUID, schema: str = SCHEMA
) -> list[tuple[date, str, str, int]]:
    """The steps the process manager took, per ISO week (its Monday), name and outcome: a combined letter or
    request counts once."""
    rows = conn.execute(
        sql.SQL(
            "SELECT date_trunc('week', day)::date, name, outcome, count(DISTINCT command_id) FROM {} "
            "WHERE namespace = %s "
            "GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"
        ).format(_table(schema, "actions")),
        (str(namespace),),
    ).fetchall()
    return [(r[0], str(r[1]), str(r[2]), int(r[3])) for r in rows]


def alert_count(conn: psycopg.Connection[Any], namespace: UUID, schema: str = SCHEMA) -> int:
    row = conn.execute(
        sql.SQL("SELECT count(*) FROM {} WHERE namespace = %s").format(_table(schema, "alerts")), (str(namespace),)
    ).fetchone()
    return int(row[0]) if row else 0


# --- reports -------------------------------------------------------------------------------------


@dataclass
class TickReport:
    day: date
    checked: int = 0
    commands: Counter[str] = field(default_factory=Counter)
    refused: Counter[str] = field(default_factory=Counter)
    plan_breaches: int = 0
    alerts: int = 0
    errors: int = 0
    seconds: float = 0.0
    combined: int = 0
    """Letters and requests that covered several claims of one debtor (samlesak)."""
    combined_claims: int = 0
    """The claims those combined letters and requests covered."""

    @property
    def issued(self) -> int:
        """Commands issued: a combined letter or request counts once."""
        return sum(self.commands.values())


@dataclass(frozen=True)
class Action:
    """A step taken for one claim: a payment-plan check that found a breach, or a notice or enforcement
    request (accepted or refused), with the invoices of the combined letter or request it went in."""

    command_id: str
    kind: str
    name: str
    outcome: str
    code: str | None = None
    message: str | None = None
    deadline: str | None = None
    letter: tuple[str, ...] = ()


@dataclass
class Check:
    """What checking one claim came to: its worklist row, the steps taken, whether an alert was recorded."""

    item: WorkItem
    update: dict[str, Any] | None = None
    actions: list[Action] = field(default_factory=list)
    alert: bool = False
    failed: bool = False


@dataclass(frozen=True)
class WorkItem:
    case_id: str
    creditor_id: str
    invoice: str
    seen_version: int
    refusals: int
    topic: str | None
    partition: int | None
    offset: int | None
    debtor_id: str | None = None

    @property
    def household(self) -> tuple[str, str]:
        """The claims whose steps may share a letter: one creditor's claims on one debtor."""
        return self.creditor_id, self.debtor_id or self.case_id


@dataclass(frozen=True)
class AutomateOptions:
    topic: str = CASE_EVENTS_TOPIC
    group: str = DEFAULT_GROUP
    schema: str = SCHEMA
    """PostgreSQL schema of the worklist, alerts, actions, offsets and the simulated clocks."""
    namespace: UUID = DEFAULT_NAMESPACE
    """The id namespace of the claims this process follows (``CollectionApp(namespace=...)``)."""
    event_store_schema: str = "public"
    batch_size: int = 2000
    poll_timeout_ms: int = 200
    unit_size: int = 200
    """Claims whose commands are stored in one transaction (``CollectionApp.unit_of_work``), never splitting
    one debtor's claims of one creditor; 1: each such household alone."""
    new_partitions_at_end: bool = False
    """A partition with no stored offset starts at its end instead of its beginning."""
    schemas_dir: Path = SCHEMAS_DIR


# --- the process manager -------------------------------------------------------------------------


class ProcessManager:
    """Worklist from the stream, commands on the clock."""

    def __init__(
        self, settings: Endpoints, options: AutomateOptions | None = None, *, app: CollectionApp | None = None
    ) -> None:
        self.settings = settings
        self.options = options or AutomateOptions()
        if app is not None and app.namespace != self.options.namespace:
            raise ValueError(f"the app's namespace {app.namespace} is not the options' {self.options.namespace}")
        self._own_app = app is None
        self.app = app or self._new_app()
        self.conn: psycopg.Connection[Any] = psycopg.connect(settings.pg_dsn, autocommit=True)
        ensure_tables(self.conn, self.options.schema)
        self.schemas = SchemaStore.from_directory(self.options.schemas_dir)
        self.namespace = str(self.options.namespace)
        self.offsets = OffsetTable(self.options.schema, group=self.options.group)
        self.parked = ParkedTable(self.options.schema)
        consumer = ConsumerOptions(
            topic=self.options.topic,
            group=self.options.group,
            client_id="kravsak-automate",
            batch_size=self.options.batch_size,
            poll_timeout_ms=self.options.poll_timeout_ms,
            fetch_max_wait_ms=100,
            # a member that crashed hands its partitions over within 10 s, not the default 45 s
            session_timeout_ms=10_000,
            heartbeat_interval_ms=3_000,
            new_partitions_at_end=self.options.new_partitions_at_end,
        )
        self.runner = Runner(self.conn, settings.kafka_bootstrap, consumer, [self.offsets], self, log=log)

    def _new_app(self) -> CollectionApp:
        schema = self.options.event_store_schema
        overrides = {} if schema == "public" else {"POSTGRES_SCHEMA": schema}
        return CollectionApp(self.settings.eventsourcing_env(**overrides), namespace=self.options.namespace)

    def close(self) -> None:
        self.runner.close()
        self.conn.close()
        if self._own_app:
            self.app.close()

    def _t(self, table: str) -> sql.Composed:
        return _table(self.options.schema, table)

    # -- consuming (the runner's handler) -----------------------------------------------------------

    def poll(self, timeout_ms: int | None = None) -> RunReport:
        """One poll of the stream, applied to the worklist in one transaction."""
        report = RunReport()
        result = self.runner.poll_once(timeout_ms)
        if result is not None and not result.gaps:
            report.add(result)
        return report

    def catch_up(self, timeout_s: float = 60.0) -> RunReport:
        """Poll until the worklist holds every record the topic had when called (assignment included)."""
        return self.runner.catch_up(timeout_s, who="the process manager")

    def apply_batch(self, messages: Sequence[Message]) -> BatchResult:
        return apply_in_transaction(self.conn, [self.offsets], messages, self._apply, log=log)

    def revoked(self) -> None:
        pass  # the worklist keeps nothing in memory

    def reconnect(self) -> psycopg.Connection[Any]:
        """A new connection, and (when it is this process's own) a new app: its pool would wait for
        the connections a restart broke to be replaced."""
        self.conn.close()
        self.conn = psycopg.connect(self.settings.pg_dsn, autocommit=True, connect_timeout=10)
        if self._own_app:
            self.app.close()
            self.app = self._new_app()
        return self.conn

    def _apply(
        self, cur: psycopg.Cursor[Any], messages: Sequence[Message], stored: list[dict[int, int]], *, careful: bool
    ) -> BatchResult:
        """The batch's records → worklist inserts and hints, written with one statement each."""
        result = BatchResult()
        inserts: list[dict[str, Any]] = []
        hints: list[dict[str, Any]] = []
        for m in messages:
            if m.offset < stored[0].get(m.partition, 0):
                result.skipped += 1  # below the stored offset: already in
                continue
            self._record(cur, m, inserts, hints, result)
        if inserts:
            cur.executemany(
                sql.SQL(
                    "INSERT INTO {t} (case_id, namespace, creditor_id, debtor_id, invoice, jurisdiction, due, "
                    'limitation_date, next_check, seen_version, topic, partition, "offset") VALUES '
                    "(%(case_id)s, %(namespace)s, %(creditor_id)s, %(debtor_id)s, %(invoice)s, %(jurisdiction)s, "
                    "%(due)s, %(limitation_date)s, %(hint)s, %(version)s, %(topic)s, %(partition)s, "
                    "%(offset)s) ON CONFLICT (case_id) DO UPDATE SET "
                    "seen_version = GREATEST({t}.seen_version, EXCLUDED.seen_version), "
                    "debtor_id = coalesce({t}.debtor_id, EXCLUDED.debtor_id)"
                ).format(t=self._t("worklist")),
                inserts,
            )
        if hints:
            cur.executemany(
                sql.SQL(
                    "UPDATE {t} SET seen_version = GREATEST(seen_version, %(version)s), "
                    "next_check = CASE WHEN %(version)s > checked_version AND closed_on IS NULL "
                    "THEN LEAST(coalesce(next_check, %(hint)s::date), %(hint)s::date) ELSE next_check END, "
                    'topic = %(topic)s, partition = %(partition)s, "offset" = %(offset)s, '
                    "updated_at = now() WHERE case_id = %(case_id)s"
                ).format(t=self._t("worklist")),
                hints,
            )
        return result

    def _record(
        self,
        cur: psycopg.Cursor[Any],
        r: Message,
        inserts: list[dict[str, Any]],
        hints: list[dict[str, Any]],
        report: BatchResult,
    ) -> None:
        """One record → a worklist insert (a claim of our namespace invoiced) or a hint."""
        event_type = r.header("event-type")
        if event_type is not None and event_type not in WORKLIST_EVENTS:
            report.skipped += 1  # no check date to move (party events: their claims carry what matters)
            return
        try:
            record = self.schemas.decode_current(r.value)
            values = domain_values(record)
        except Exception as exc:  # noqa: BLE001 - park it, never stop the stream for one record
            with bound(case_id=r.case_key, topic=r.topic, partition=r.partition, offset=r.offset):
                log.error("automate.parked", error=f"{type(exc).__name__}: {exc}")
            self.parked.park(cur, r, f"{type(exc).__name__}: {exc}")
            report.parked += 1
            return
        kind = str(record["event_type"])
        case_id = str(record["case_id"])
        where = {
            "case_id": case_id,
            "version": int(record["aggregate_version"]),
            "topic": r.topic,
            "partition": r.partition,
            "offset": r.offset,
        }
        if kind == "ClaimInvoiced":
            if claim_id(self.options.namespace, str(values["creditor_id"]), str(values["invoice"])) != UUID(case_id):
                report.skipped += 1  # a claim of another id namespace
                return
            inserts.append(
                {
                    **where,
                    "namespace": self.namespace,
                    "creditor_id": values["creditor_id"],
                    "debtor_id": values["debtor_id"],
                    "invoice": values["invoice"],
                    "jurisdiction": values["jurisdiction"],
                    "due": values["due"],
                    "limitation_date": values["limitation_date"],
                    "hint": max(values["effective_due"], record["recorded_date"]) + timedelta(days=1),
                }
            )
            report.applied += 1
            return
        hint = _hint(kind, values, record["recorded_date"])
        if hint is None:
            report.skipped += 1
            return
        hints.append({**where, "hint": hint})
        report.applied += 1

    # -- ticking -------------------------------------------------------------------------------

    def due_items(self, day: date) -> list[WorkItem]:
        """The claims whose next check has come, one debtor's claims of one creditor next to each other. A
        row from before the worklist kept the debtor gets it from the claim (once: it is written back)."""
        rows = self.conn.execute(
            sql.SQL(
                'SELECT case_id, creditor_id, invoice, seen_version, refusals, topic, partition, "offset", debtor_id '
                "FROM {} WHERE namespace = %s AND next_check <= %s"
            ).format(self._t("worklist")),
            (self.namespace, day),
        ).fetchall()
        items = [WorkItem(*row) for row in rows]
        missing = [i for i in items if i.debtor_id is None]
        if missing:
            known = {i.case_id: self._debtor_of(i) for i in missing}
            with self.conn.transaction():
                self.conn.cursor().executemany(
                    sql.SQL("UPDATE {} SET debtor_id = %s WHERE case_id = %s").format(self._t("worklist")),
                    [(debtor, case) for case, debtor in known.items()],
                )
            items = [dataclasses.replace(i, debtor_id=known.get(i.case_id, i.debtor_id)) for i in items]
        return sorted(items, key=lambda i: (*i.household, i.invoice))

    def _debtor_of(self, item: WorkItem) -> str | None:
        try:
            return self.app.claim(item.creditor_id, item.invoice).debtor_id
        except CommandRefused:
            return None  # not in this event store: checked alone, as before

    def households(self, items: Sequence[WorkItem]) -> list[list[list[WorkItem]]]:
        """``items`` in chunks of about ``unit_size`` claims, one debtor's claims of one creditor (a household,
        whose steps may share a letter) never split."""
        chunks: list[list[list[WorkItem]]] = []
        size = 0
        for _, group in itertools.groupby(items, key=lambda i: i.household):
            household = list(group)
            if not chunks or size + len(household) > self.options.unit_size:
                chunks.append([])
                size = 0
            chunks[-1].append(household)
            size += len(household)
        return chunks

    @contextmanager
    def _ticker_lock(self) -> Iterator[bool]:
        key = f"kravsak-automate:{self.options.schema}:{self.namespace}"
        row = self.conn.execute("SELECT pg_try_advisory_lock(hashtext(%s))", (key,)).fetchone()
        got = bool(row and row[0])
        try:
            yield got
        finally:
            if got:
                self.conn.execute("SELECT pg_advisory_unlock(hashtext(%s))", (key,))

    def tick(self, day: date) -> TickReport:
        """Check every claim whose next check is ``day`` or earlier and issue what is due on ``day``.

        Claims are checked in chunks of whole households (one debtor's claims of one creditor, whose
        steps may share one letter); each chunk's commands are stored in one transaction
        (``CollectionApp.unit_of_work``), then the chunk's worklist rows and actions are written. If
        another writer changed one of the chunk's claims meanwhile, the chunk is checked again
        household by household."""
        report = TickReport(day)
        started = time.monotonic()
        with self._ticker_lock() as mine:
            if not mine:
                log.warning("automate.tick_skipped", day=day.isoformat(), reason="another process ticks")
                return report
            policies: dict[str, CollectionPolicy] = {}
            for chunk in self.households(self.due_items(day)):
                self.runner.beat()  # a long tick still beats
                outcomes = self._check_chunk(chunk, day, policies)
                self._write(outcomes, day, report)
            with self.conn.transaction():
                self.conn.execute(
                    sql.SQL(
                        "INSERT INTO {} AS t VALUES (%s, %s, %s, %s, now()) ON CONFLICT (namespace) DO UPDATE SET "
                        "last_tick = EXCLUDED.last_tick, checked = EXCLUDED.checked, commands = EXCLUDED.commands, "
                        # a second process that read the clock before the other ticked a later day does not put the
                        # row back to its older day (two process managers on one deployment, issue 17)
                        "updated_at = EXCLUDED.updated_at WHERE t.last_tick <= EXCLUDED.last_tick"
                    ).format(self._t("ticks")),
                    (self.namespace, day, report.checked, report.issued),
                )
        report.seconds = time.monotonic() - started
        if report.checked:
            log.info(
                "automate.tick",
                day=day.isoformat(),
                checked=report.checked,
                commands=dict(report.commands),
                combined=report.combined,
                combined_claims=report.combined_claims,
                refused=dict(report.refused),
                plan_breaches=report.plan_breaches,
                alerts=report.alerts,
                errors=report.errors,
                seconds=round(report.seconds, 2),
            )
        return report

    def _check_chunk(
        self, chunk: Sequence[list[WorkItem]], day: date, policies: dict[str, CollectionPolicy]
    ) -> list[Check]:
        if sum(len(h) for h in chunk) > 1:
            try:
                with self.app.unit_of_work():
                    return [check for household in chunk for check in self._check(household, day, policies)]
            except IntegrityError as exc:
                log.warning(
                    "automate.unit_conflict",
                    day=day.isoformat(),
                    claims=sum(len(h) for h in chunk),
                    error=str(exc),
                    outcome="checked again household by household",
                )
        return [check for household in chunk for check in self._check(household, day, policies)]

    def _check(self, household: list[WorkItem], day: date, policies: dict[str, CollectionPolicy]) -> list[Check]:
        """One day of the case flow for one debtor's claims of one creditor; a failure fails them all."""
        first = household[0]
        with bound(
            case_id=first.case_id,
            claims=len(household),
            topic=first.topic,
            partition=first.partition,
            offset=first.offset,
            day=day.isoformat(),
        ):
            for attempt in (1, 2):
                checks = [Check(item) for item in household]
                try:
                    self._check_once(checks, day, policies)
                    return checks
                except IntegrityError as exc:
                    if attempt == 2:
                        log.warning("automate.concurrent_write", error=str(exc), outcome="left for the next tick")
                except OUTAGES:  # not this household's fault: the whole tick waits for the server
                    raise
                except Exception as exc:  # noqa: BLE001 - one household's failure must not stop the tick
                    log.exception("automate.check_failed", error=f"{type(exc).__name__}: {exc}")
                    break
        return [Check(item, failed=True) for item in household]

    def _check_once(self, checks: list[Check], day: date, policies: dict[str, CollectionPolicy]) -> None:
        """One day of the case flow for a household's claims (``domain.caseflow.run_days``), kept for the write."""
        creditor = checks[0].item.creditor_id
        if creditor not in policies:
            policies[creditor] = CollectionPolicy.from_dict(self.app.creditor(creditor).policy)
        days = caseflow.run_days(
            self.app,
            creditor=creditor,
            claims=[(c.item.invoice, c.item.refusals) for c in checks],
            day=day,
            policy=policies[creditor],
            prefix=caseflow.AUTOMATE_PREFIX,
        )
        for check, done in zip(checks, days, strict=True):
            item = check.item
            action: str | None = None
            if done.plan_breach is not None:
                action = "plan_breached"
                check.actions.append(Action(done.plan_breach, "check", "plan", "breached"))
            if done.alert_days_left is not None:
                check.alert = self._record_alert(done.claim, item, day, done.alert_days_left)
            if done.step is not None:
                step, planned = done.step, done.step.action
                action = planned.name
                kind = "monitoring" if planned.monitoring else planned.kind
                if step.refused is None:
                    deadline = planned.deadline.isoformat() if planned.deadline else None
                    check.actions.append(
                        Action(step.command_id, kind, planned.name, "accepted", deadline=deadline, letter=step.letter)
                    )
                else:
                    code, message = step.refused.code.value, step.refused.message
                    check.actions.append(
                        Action(step.command_id, kind, planned.name, "refused", code, message, letter=step.letter)
                    )
            claim = done.claim
            check.update = {
                "case_id": item.case_id,
                "day": day,
                "action": action,
                "refusals": done.refusals,
                "next": done.next_check,
                "version": claim.version,
                "limitation_date": claim.limitation_date,
                "closed_on": (claim.closed_on or day) if done.closed else None,
            }

    def _write(self, checks: Sequence[Check], day: date, report: TickReport) -> None:
        """After the chunk's events are stored: its actions, worklist rows and log lines."""
        actions = [
            (
                a.command_id,
                self.namespace,
                c.item.case_id,
                day,
                a.kind,
                a.name,
                a.outcome,
                a.code,
                a.message,
                list(a.letter) or None,
            )
            for c in checks
            for a in c.actions
        ]
        updates = [c.update for c in checks if c.update is not None and not c.failed]
        with self.conn.transaction(), self.conn.cursor() as cur:
            if actions:
                cur.executemany(
                    sql.SQL(
                        "INSERT INTO {} (command_id, namespace, case_id, day, kind, name, outcome, code, message, "
                        "letter) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING"
                    ).format(self._t("actions")),
                    actions,
                )
            if updates:
                cur.executemany(
                    sql.SQL(
                        "UPDATE {t} SET next_check = CASE WHEN seen_version <= %(version)s THEN %(next)s::date "
                        "ELSE LEAST(next_check, %(next)s::date) END, "
                        "checked_version = GREATEST(checked_version, %(version)s), closed_on = %(closed_on)s, "
                        "refusals = %(refusals)s, last_checked = %(day)s, "
                        "last_action = coalesce(%(action)s, last_action), "
                        "limitation_date = %(limitation_date)s, updated_at = now() WHERE case_id = %(case_id)s"
                    ).format(t=self._t("worklist")),
                    updates,
                )
        counted: set[str] = set()  # a combined letter or request is one command, whatever it covered
        for c in checks:
            report.checked += 1
            report.errors += c.failed
            report.alerts += c.alert
            item = c.item
            with bound(
                case_id=item.case_id,
                topic=item.topic,
                partition=item.partition,
                offset=item.offset,
                day=day.isoformat(),
            ):
                for a in c.actions:
                    letter = list(a.letter) or None
                    if a.outcome == "breached":
                        report.plan_breaches += 1
                        log.info("automate.plan_breached", command_id=a.command_id)
                    elif a.outcome == "accepted":
                        if a.command_id not in counted:
                            counted.add(a.command_id)
                            report.commands[a.name] += 1
                            report.combined += bool(a.letter)
                            report.combined_claims += len(a.letter)
                        log.info(
                            "automate.command",
                            command_id=a.command_id,
                            action=a.name,
                            kind=a.kind,
                            deadline=a.deadline,
                            letter=letter,
                        )
                    else:
                        report.refused[str(a.code)] += 1
                        log.warning(
                            "automate.refused",
                            command_id=a.command_id,
                            action=a.name,
                            kind=a.kind,
                            code=a.code,
                            reason=a.message,
                            letter=letter,
                        )

    def _record_alert(self, claim: Claim, item: WorkItem, day: date, days_left: int) -> bool:
        """Record (once per claim and limitation date) and log a limitation date within the alert days."""
        limitation = claim.limitation_date
        cur = self.conn.execute(
            sql.SQL("INSERT INTO {} VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING").format(
                self._t("alerts")
            ),
            (item.case_id, limitation, self.namespace, item.creditor_id, item.invoice, day, days_left),
        )
        if not cur.rowcount:
            return False
        log.warning(
            "automate.limitation_alert",
            invoice=item.invoice,
            creditor=item.creditor_id,
            limitation_date=limitation.isoformat(),
            days_left=days_left,
        )
        return True

    # -- the service loop ----------------------------------------------------------------------

    def run(self, clock: Clock, stop: threading.Event | None = None) -> None:
        """Consume and tick until ``stop``: ticks *today* at start (a restart repeats it harmlessly),
        then once each time the clock shows a new day."""
        stop = stop or threading.Event()
        ticked: date | None = None
        while not stop.is_set():
            try:
                self.poll()
                self.runner.backoff.reset()
                self.runner.beat()
                today = clock.today()
                if ticked is None or today > ticked:
                    try:
                        self.catch_up()  # a new day acts on everything the stream holds by now, as a nightly run
                    except ServiceError as exc:
                        log.warning("automate.tick_postponed", day=str(today), reason=exc.problem)
                        continue
                    self.tick(today)
                    ticked = today
            except OUTAGES as exc:  # the tick of a day the outage cut short runs again: it is idempotent
                self.runner.ride_out(exc, stop)


def _hint(kind: str, values: dict[str, Any], recorded: date) -> date | None:
    """The day an event asks the claim to be looked at, or None when it asks for no earlier look.
    Never the day it was recorded: the tick of a day acts on what was recorded by the end of the
    day before, as a nightly run does, so what a tick decides does not hang on how fast the stream
    brought the day's own events."""
    one = timedelta(days=1)
    if kind == "ClaimNoticeSent":
        deadline: date = values["deadline"]
        return max(deadline, recorded) + one
    if kind == "ClaimDeferralGranted":
        until: date = values["until"]
        return max(until, recorded) + one
    if kind == "ClaimPaymentPlanAgreed":
        dues = [date.fromisoformat(str(i["due"])) for i in values["installments"]]
        return max(min(dues, default=recorded), recorded) + one
    if kind in RECHECK_ON_RECORDED:
        return recorded + one
    return None
