"""One event store per office (ADR 0032, issue 17 point 4): two offices, each with its own event store
(``KRAVSAK_OFFICE`` → schema ``office_<name>``) behind its own publisher, both into the same topic on the
cluster, keyed by case; ONE projector builds the deployment's read models from it. Ends in the
independent checks over the union of the two stores, and shows that the per-office store is shut to a
service that must not write it."""

from __future__ import annotations

import subprocess
import sys
from typing import Any
from uuid import uuid4, uuid5

import psycopg
import pytest

from consumers.projector import projection_names, verify
from consumers.publisher import EVENTS_TABLE, publisher_lag
from kravsak.bench.scratch import create_event_store
from kravsak.bench.workload import workload_notifications
from kravsak.settings import event_store_schema
from tests.integration.test_publisher_faults import check_stream, read_topic
from tests.integration.test_service_outages import ROOT, Pipeline
from tests.support.stack import app_for, copy_events

pytestmark = [pytest.mark.integration, pytest.mark.cluster]

CLAIMS = 120


def _publisher(pipe: Pipeline, office: str) -> None:
    env = {key: value for key, value in pipe.env().items() if key != "KRAVSAK_PG_SCHEMA"}
    env["KRAVSAK_OFFICE"] = office
    with (pipe.logs / f"publisher-{office}.log").open("ab") as out:
        pipe.processes[f"publisher-{office}"] = subprocess.Popen(
            [sys.executable, "-m", "kravsak.services", "publisher"], cwd=ROOT, env=env, stdout=out, stderr=out
        )


def test_two_offices_two_stores_two_publishers_one_topic_one_set_of_read_models(pipeline: Pipeline) -> None:
    offices = {f"a{pipeline.tag}": uuid5(uuid4(), "a"), f"b{pipeline.tag}": uuid5(uuid4(), "b")}
    stored: dict[str, list[Any]] = {}
    for office, namespace in offices.items():
        schema = event_store_schema({"KRAVSAK_OFFICE": office})
        assert schema == f"office_{office}"
        create_event_store(pipeline.dsn, schema)
        app = app_for(pipeline.settings, schema)
        try:
            copy_events(app, workload_notifications(CLAIMS, namespace=namespace), chunk=400)
            stored[office] = list(app.recorder.select_notifications(start=1, limit=10**6))
        finally:
            app.close()
    a, b = (set(n.originator_id for n in events) for events in stored.values())
    assert a and b and not (a & b), "the two offices' stores must share no aggregate"

    for office in offices:
        _publisher(pipeline, office)
    pipeline.start(("projector",))

    def published() -> bool:
        return all(
            publisher_lag(pipeline.dsn, name=pipeline.topic, schema=f"office_{office}") == 0 for office in offices
        )

    pipeline.wait("both offices published", published, 180)
    pipeline.wait("the one projector projected both", pipeline.projected, 180)
    codes = pipeline.stop()
    assert codes == {name: 0 for name in pipeline.processes}, pipeline.tails()

    union = [n for events in stored.values() for n in events]
    messages = read_topic(pipeline.bootstrap, pipeline.topic)
    check_stream(messages, union)
    assert {m.key.decode() for m in messages} >= {str(i) for i in a | b} - {""}
    assert (
        verify(
            pipeline.dsn, pipeline.bootstrap, projection_names(), topic=pipeline.topic, schema_suffix=pipeline.suffix
        )
        == []
    )

    # the office's store is shut to a service that has no business writing events
    projector_dsn = pipeline.postgres.settings.for_service("projector").pg_dsn
    schema = f"office_{next(iter(offices))}"
    with psycopg.connect(projector_dsn, autocommit=True) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute(f'DELETE FROM "{schema}".{EVENTS_TABLE}')
    print(f"{len(stored)} offices, {len(union)} events on one topic, one set of read models")
