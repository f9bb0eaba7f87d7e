"""A scenario through the whole pipeline: event store → publisher → Kafka → projections.

The commands run against the PostgreSQL event store (in a fresh id namespace); then the publisher
drains the notification log to Kafka and the projection runner catches up — or, when the
`kravsak publish` / `kravsak project` services already run, kravsak simply waits for them. The
report's figures, limitation dates and findings are then read from the read models, not from the
domain: the output must equal the in-memory run.
"""

from __future__ import annotations

import threading
import time
from datetime import date
from typing import Any
from uuid import uuid4

import psycopg
from kafka import KafkaConsumer, TopicPartition

from consumers.kafka_access import client_args
from consumers.projector import ProjectionRunner, RunnerOptions, stored_offsets
from consumers.publisher import PublisherOptions, publisher_lag, run_publisher
from consumers.topics import CASE_EVENTS_TOPIC
from domain.application import CollectionApp
from domain.scenario import Scenario, ScenarioRunner, step_index
from domain.suspense import suspense_id
from kravsak.errors import KravsakError
from kravsak.settings import Settings
from projections import audit_trail, ledger, limitation
from projections.base import schema_name


class PipelineTimeout(KravsakError):
    pass


def _wait(condition: Any, what: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise PipelineTimeout(
                f"{what} did not happen within {timeout_s:.0f} s",
                "check `kravsak status` (lag, parked cases) and the service logs",
            )
        time.sleep(0.2)


def drain_publisher(settings: Settings, timeout_s: float = 120.0) -> None:
    """Publish until the lag is 0 (or wait for a running publisher to get there)."""
    if publisher_lag(settings.pg_dsn) == 0:
        return
    stop = threading.Event()
    errors: list[BaseException] = []

    def publish() -> None:
        try:
            run_publisher(settings, stop_event=stop, options=PublisherOptions())
        except BaseException as exc:  # noqa: BLE001 - handed to the caller
            errors.append(exc)

    thread = threading.Thread(target=publish, daemon=True)
    thread.start()
    try:
        _wait(lambda: errors or publisher_lag(settings.pg_dsn) == 0, "publishing every stored event", timeout_s)
    finally:
        stop.set()
        thread.join(timeout=30)
    if errors:
        raise errors[0]


def end_offsets(bootstrap: str, topic: str) -> dict[int, int]:
    consumer = KafkaConsumer(**client_args(bootstrap), group_id=None, enable_auto_commit=False)
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        return {tp.partition: offset for tp, offset in consumer.end_offsets(partitions).items()}
    finally:
        consumer.close()


def catch_up_projections(settings: Settings, options: RunnerOptions | None = None, timeout_s: float = 120.0) -> None:
    """Run a projection runner in the group until every projection holds the topic's end offsets."""
    options = options or RunnerOptions()
    ends = end_offsets(settings.kafka_bootstrap, options.topic)
    runner = ProjectionRunner(settings.pg_dsn, settings.kafka_bootstrap, options)
    stop = threading.Event()
    thread = threading.Thread(target=runner.run, args=(stop,), daemon=True)
    thread.start()

    def caught_up() -> bool:
        with psycopg.connect(settings.pg_dsn) as conn, conn.cursor() as cur:
            for name in options.projections:
                got = stored_offsets(cur, schema_name(name, suffix=options.schema_suffix), options.topic)
                if any(got.get(p, 0) < o for p, o in ends.items()):
                    return False
        return True

    try:
        _wait(caught_up, "the projections catching up with Kafka", timeout_s)
    finally:
        stop.set()
        thread.join(timeout=30)
        runner.close()


class ProjectedScenarioRunner(ScenarioRunner):
    """A scenario runner whose report comes from the read models."""

    def __init__(self, app: CollectionApp, scenario: Scenario, settings: Settings) -> None:
        super().__init__(app, scenario)
        self.settings = settings

    def _report(self, report_on: date) -> dict[str, Any]:
        drain_publisher(self.settings)
        catch_up_projections(self.settings)
        invoices: dict[str, Any] = {}
        findings: list[dict[str, Any]] = []
        with psycopg.connect(self.settings.pg_dsn) as conn, conn.cursor() as cur:
            for invoice in self.invoices:
                case = str(self.app.claim(self.s.creditor, invoice).id)
                view = ledger.claim_view(cur, schema_name("ledger"), case, report_on, full=True)
                if view is None:
                    raise PipelineTimeout(f"invoice {invoice} is not in the ledger", "check `kravsak status`")
                view.update(limitation.estate_view(cur, schema_name("limitation"), case, report_on))
                invoices[invoice] = view
                for f in audit_trail.findings(cur, schema_name("audit"), case_id=case, day=report_on):
                    findings.append(
                        {
                            "invoice": invoice,
                            "step": step_index(f["command_id"]),
                            "code": f["code"],
                            "severity": f["severity"],
                            "message": f["message"],
                        }
                    )
            debtors = {}
            for ref in self.s.debtors:
                debtor = str(self.app.debtor(self.s.creditor, ref).id)
                debtors[ref] = limitation.debtor_view(cur, schema_name("limitation"), debtor)
            account = self.app.suspense(self.s.creditor)
            suspense = ledger.suspense_view(
                cur,
                schema_name("ledger"),
                str(suspense_id(self.app.namespace, self.s.creditor)),
                {i.item: i.reference for i in account.items.values()} if account is not None else None,
            )
        return {
            "scenario": self.s.name,
            "report_on": report_on.isoformat(),
            "steps": self.results,
            "invoices": invoices,
            "debtors": debtors,
            "findings": findings,
            "suspense": suspense,
        }


def run_through_kafka(scenario: Scenario, settings: Settings) -> dict[str, Any]:
    from kravsak.settings import note_keeper, office_secret

    app = CollectionApp(
        settings.eventsourcing_env(), namespace=uuid4(), office_secret=office_secret(settings),
        notes=note_keeper(settings),
    )  # fmt: skip
    try:
        return ProjectedScenarioRunner(app, scenario, settings).run()
    finally:
        app.close()


__all__ = ["CASE_EVENTS_TOPIC", "catch_up_projections", "drain_publisher", "run_through_kafka"]
