"""The projection runner reads case events from Kafka and builds read models equal to the domain's
view; duplicates change nothing; an unreadable record parks its case and the others go on."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any
from uuid import uuid4

import psycopg
import pytest
from kafka import KafkaProducer

from consumers.kafka_access import client_args
from consumers.projector import CASES_SCHEMA, RunnerOptions, project_once
from consumers.topics import case_events_spec, ensure_topics_at
from consumers.wire.codec import SchemaStore, encode
from consumers.wire.envelope import PartyIndex, case_key, event_record
from domain.application import CollectionApp
from domain.scenario import Scenario, run_scenario
from projections import ledger
from projections.base import schema_name
from tests.scenario_files import scenario_files

pytestmark = pytest.mark.integration
SCHEMAS = SchemaStore.from_directory(Path(__file__).resolve().parents[2] / "schemas")


def produce_events(app: CollectionApp, bootstrap: str, topic: str, *, twice: bool = False) -> int:
    parties = PartyIndex()
    producer = KafkaProducer(**client_args(bootstrap), acks="all", enable_idempotence=True)
    count = 0
    for _ in range(2 if twice else 1):
        for n in app.recorder.select_notifications(start=1, limit=1_000_000):
            event = app.mapper.to_domain_event(n)
            parties.learn(event)
            name, record = event_record(event, position=n.id, parties=parties)
            producer.send(topic, key=case_key(event), value=encode(record, SCHEMAS.latest(name)))
            count += 1
    producer.flush()
    producer.close()
    return count


@pytest.fixture
def pipeline(pg_dsn: str, kafka_bootstrap: str, unique: Callable[[str], str]) -> Iterator[RunnerOptions]:
    suffix = "_" + uuid4().hex[:10]
    topic = unique("case-events")
    ensure_topics_at(kafka_bootstrap, [case_events_spec(topic, partitions=3)])
    options = RunnerOptions(topic=topic, group=unique("projector"), schema_suffix=suffix)
    yield options
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        for name in options.projections:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema_name(name, suffix=suffix)}" CASCADE')
        conn.execute(f'DROP SCHEMA IF EXISTS "{CASES_SCHEMA}{suffix}" CASCADE')


def every_scenario_in_one_log(app: CollectionApp) -> dict[str, tuple[Scenario, dict[str, Any]]]:
    """Every scenario run in ``app``, each with a creditor of its own (one event log)."""
    reports = {}
    for path in scenario_files():
        scenario = Scenario.load(path)
        scenario.creditor = f"{len(reports) + 1000:04d}"
        reports[path.stem] = (scenario, run_scenario(scenario, app))
    return reports


def run_all_scenarios(app: CollectionApp) -> dict[str, tuple[Scenario, dict[str, Any]]]:
    return {p.stem: (s, run_scenario(s, app)) for p in scenario_files() for s in [Scenario.load(p)]}


def test_read_models_built_from_kafka_equal_the_domain_even_with_every_event_sent_twice(
    pipeline: RunnerOptions, pg_dsn: str, kafka_bootstrap: str
) -> None:
    app = CollectionApp()
    reports = every_scenario_in_one_log(app)
    produce_events(app, kafka_bootstrap, pipeline.topic, twice=True)
    # small batches: most of them polled while the one before was written (ADR 0045)
    report = project_once(pg_dsn, kafka_bootstrap, replace(pipeline, batch_size=100))
    assert report.applied > 0 and report.parked == 0
    assert report.batches > 2 and report.prefetched > 0
    with psycopg.connect(pg_dsn) as conn, conn.cursor() as cur:
        schema = schema_name("ledger", suffix=pipeline.schema_suffix)
        debit, credit = ledger.trial_balance(cur, schema)
        assert debit == credit
        for scenario, expected in reports.values():
            day = date.fromisoformat(expected["report_on"])
            for invoice, figures in expected["invoices"].items():
                case = str(app.claim(scenario.creditor, invoice).id)
                view = ledger.claim_view(cur, schema, case, day)
                assert view == {k: figures[k] for k in view}, (scenario.name, invoice)


def test_an_unreadable_record_parks_its_case_and_the_rest_goes_on(
    pipeline: RunnerOptions, pg_dsn: str, kafka_bootstrap: str
) -> None:
    app = CollectionApp()
    run_scenario(Scenario.load(scenario_files()[0]), app)
    producer = KafkaProducer(**client_args(kafka_bootstrap), acks="all")
    producer.send(pipeline.topic, key=b"00000000-0000-0000-0000-00000000bad1", value=b"\xc3\x01garbage")
    producer.flush()
    producer.close()
    produce_events(app, kafka_bootstrap, pipeline.topic)
    report = project_once(pg_dsn, kafka_bootstrap, pipeline)
    assert report.parked == 1
    assert report.applied > 0
    with psycopg.connect(pg_dsn) as conn:
        for name in pipeline.projections:
            schema = schema_name(name, suffix=pipeline.schema_suffix)
            count = conn.execute(f'SELECT count(*), min(error) FROM "{schema}".parked').fetchone()
            assert count is not None and count[0] == 1 and "cannot decode" in count[1]
            applied = conn.execute(f'SELECT count(*) FROM "{schema}".case_versions').fetchone()
            assert applied is not None and applied[0] > 0


def test_a_second_run_after_catching_up_applies_nothing_again(
    pipeline: RunnerOptions, pg_dsn: str, kafka_bootstrap: str
) -> None:
    app = CollectionApp()
    run_scenario(Scenario.load(scenario_files()[0]), app)
    produce_events(app, kafka_bootstrap, pipeline.topic)
    first = project_once(pg_dsn, kafka_bootstrap, pipeline)
    second = project_once(pg_dsn, kafka_bootstrap, pipeline)
    assert first.applied > 0
    assert second.applied == 0


def test_a_restarted_runner_with_nothing_folded_applies_on_the_fast_path(
    pipeline: RunnerOptions, pg_dsn: str, kafka_bootstrap: str
) -> None:
    """Every scenario's events, the first half projected by one runner, the rest by a new one whose
    fold holds nothing (a restart): every batch of the new one goes through on the fast path, none
    is rolled back to be applied again event by event, and the read models equal the domain."""
    import threading

    from consumers.projector import ProjectionRunner, verify

    app = CollectionApp()
    every_scenario_in_one_log(app)
    notifications = list(app.recorder.select_notifications(start=1, limit=1_000_000))
    half = len(notifications) // 2
    produce_notifications(app, kafka_bootstrap, pipeline.topic, notifications[:half])
    project_once(pg_dsn, kafka_bootstrap, pipeline)
    produce_notifications(app, kafka_bootstrap, pipeline.topic, notifications[half:], learnt=notifications[:half])

    restarted = ProjectionRunner(pg_dsn, kafka_bootstrap, pipeline)
    paths: list[bool] = []
    apply_records = restarted.applier.apply_records

    def spy(*args: Any, careful: bool, **kwargs: Any) -> Any:
        paths.append(careful)
        return apply_records(*args, careful=careful, **kwargs)

    restarted.applier.apply_records = spy  # type: ignore[method-assign]
    try:
        report = restarted.run(threading.Event(), until_caught_up=True)
    finally:
        restarted.close()
    assert report.applied > 0 and report.parked == 0
    assert paths and not any(paths), f"{paths.count(True)} of {len(paths)} batches fell back to the careful path"
    assert verify(pg_dsn, kafka_bootstrap, topic=pipeline.topic, schema_suffix=pipeline.schema_suffix) == []


def produce_notifications(
    app: CollectionApp, bootstrap: str, topic: str, notifications: list[Any], *, learnt: list[Any] | None = None
) -> None:
    parties = PartyIndex()
    for n in learnt or []:
        parties.learn(app.mapper.to_domain_event(n))
    producer = KafkaProducer(**client_args(bootstrap), acks="all", enable_idempotence=True)
    for n in notifications:
        event = app.mapper.to_domain_event(n)
        parties.learn(event)
        name, record = event_record(event, position=n.id, parties=parties)
        producer.send(topic, key=case_key(event), value=encode(record, SCHEMAS.latest(name)))
    producer.flush()
    producer.close()
