"""A rebuild whose first pass runs in several processes, each over its own partitions, builds the read
models row for row as a live runner does from the same events, and `verify` (one process, the reference)
finds no difference (ADR 0034)."""

from __future__ import annotations

from collections.abc import Callable

import psycopg
import pytest

from consumers.projector import (
    PARALLEL_FROM,
    RunnerOptions,
    _compare,
    default_processes,
    project_once,
    rebuild_together,
    verify,
)
from consumers.topics import case_events_spec, ensure_topics_at
from kravsak.bench.scratch import PROJECTIONS, delete_topics, drop_schemas, produce
from projections.base import schema_name
from tests.support.stack import encoded_workload

pytestmark = pytest.mark.integration

EVENTS = 1500


def test_a_rebuild_in_three_processes_equals_the_live_projection_row_for_row(
    pg_dsn: str, kafka_bootstrap: str, unique: Callable[[str], str]
) -> None:
    topic = unique("case-events")
    live, rebuilt = "_" + unique("live").replace("-", "_"), "_" + unique("par").replace("-", "_")
    ensure_topics_at(kafka_bootstrap, [case_events_spec(topic, partitions=4)])
    records = encoded_workload(EVENTS).records
    try:
        produce(kafka_bootstrap, topic, records)
        report = project_once(
            pg_dsn,
            kafka_bootstrap,
            RunnerOptions(topic=topic, group=unique("projector"), schema_suffix=live, projections=PROJECTIONS),
        )
        progressed: list[int] = []
        count = rebuild_together(
            pg_dsn, kafka_bootstrap, PROJECTIONS, topic=topic, schema_suffix=rebuilt, processes=3,
            progress=progressed.append,
        )  # fmt: skip
        with psycopg.connect(pg_dsn) as conn:
            differences = [
                d
                for name in PROJECTIONS
                for d in _compare(conn, name, schema_name(name, suffix=live), schema_name(name, suffix=rebuilt))
            ]
            postings = conn.execute(
                f'SELECT count(*) FROM "{schema_name("ledger", suffix=rebuilt)}".postings'
            ).fetchone()
            offsets = conn.execute(
                f'SELECT sum(next_offset) FROM "{schema_name("audit", suffix=rebuilt)}".offsets WHERE topic = %s',
                (topic,),
            ).fetchone()
        by_default = default_processes(kafka_bootstrap, topic)
        checked = verify(pg_dsn, kafka_bootstrap, PROJECTIONS, topic=topic, schema_suffix=rebuilt)
    finally:
        delete_topics(kafka_bootstrap, [topic])
        drop_schemas(pg_dsn, live)
        drop_schemas(pg_dsn, rebuilt)  # and their cases stores

    assert report.applied > 0 and report.parked == 0
    assert count == len(records)  # the first pass read every record once, over the three processes
    assert sum(progressed) == len(records)
    assert postings is not None and postings[0] > 0
    assert offsets is not None and offsets[0] == len(records)  # every partition's offset row at its end
    assert differences == []
    assert checked == []
    assert EVENTS < PARALLEL_FROM and by_default == 1  # a small topic: a worker's start would cost more
