"""The fast path sends a batch's held writes in parts (``SEND_EVERY`` records each, so PostgreSQL writes one part
while the next is folded): the read models it leaves are those of one send at the batch's end, row for row."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from uuid import uuid4

import psycopg
import pytest

from consumers import projector
from consumers.projector import Applier, Decoder, Target, ensure_projection, projection_named
from consumers.runner import Message
from kravsak.bench.scratch import PROJECTIONS, drop_schemas, encoded_events
from kravsak.bench.workload import workload_app
from projections.base import schema_name

pytestmark = pytest.mark.integration

SKIPPED_COLUMNS = ("id",)
"""Serial ids: numbers, not content (both runs number their rows in the same order anyway)."""


@pytest.fixture(scope="module")
def messages() -> list[Message]:
    """About 3 000 records of the standard workload on one partition: claims invoiced, reminded, paid, and
    the same claim's events on both sides of many part boundaries."""
    records = encoded_events(workload_app(3000))
    return [Message("t", 0, offset, key, value) for offset, (key, value) in enumerate(records)]


@pytest.fixture
def suffixes(pg_dsn: str) -> Iterator[list[str]]:
    made: list[str] = []
    yield made
    for suffix in made:
        drop_schemas(pg_dsn, suffix)


def applied(pg_dsn: str, messages: list[Message], suffix: str, send_every: int, monkeypatch: Any) -> dict[str, Any]:
    """Every table of the three projections after ``messages`` in batches of 1 000 on the fast path, sending every
    ``send_every`` records: table → its rows as sorted texts."""
    monkeypatch.setattr(projector, "SEND_EVERY", send_every)
    cases = projector.cases_schema_for(suffix)
    targets = [Target(projection_named(name), schema_name(name, suffix=suffix)) for name in PROJECTIONS]
    tables: dict[str, Any] = {}
    with psycopg.connect(pg_dsn) as conn:
        for t in targets:
            ensure_projection(conn, t.projection, t.schema, cases)
        applier = Applier(conn, targets, Decoder(projector.SchemaStore.from_directory(projector.SCHEMAS_DIR)),
                          cases_schema=cases)  # fmt: skip
        careful: list[bool] = []
        apply_records = applier.apply_records

        def spy(*args: Any, careful_path: list[bool] = careful, **kwargs: Any) -> Any:
            careful_path.append(kwargs["careful"])
            return apply_records(*args, **kwargs)

        applier.apply_records = spy  # type: ignore[method-assign]
        for start in range(0, len(messages), 1000):
            result = applier.apply_batch(messages[start : start + 1000])
            assert not result.gaps and result.parked == 0
        assert careful and not any(careful), "a batch fell back to the careful path"
        # the projections' tables, and the cases store's (the folded payloads, written with each part too)
        for name, schema in [*((t.projection.name, t.schema) for t in targets), ("cases", cases)]:
            names = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = %s ORDER BY 1", (schema,))
            for (table,) in names.fetchall():
                columns = [
                    c
                    for (c,) in conn.execute(
                        "SELECT column_name FROM information_schema.columns WHERE table_schema = %s AND "
                        "table_name = %s ORDER BY ordinal_position",
                        (schema, table),
                    ).fetchall()
                    if c not in SKIPPED_COLUMNS
                ]
                listed = ", ".join(f'"{c}"' for c in columns)
                rows = conn.execute(f'SELECT ROW({listed})::text FROM "{schema}"."{table}" ORDER BY 1').fetchall()
                tables[f"{name}.{table}"] = [r[0] for r in rows]
    return tables


def test_writes_sent_in_parts_leave_what_one_send_leaves(
    pg_dsn: str, messages: list[Message], suffixes: list[str], monkeypatch: Any
) -> None:
    one, parts = f"_t{uuid4().hex[:8]}", f"_t{uuid4().hex[:8]}"
    suffixes += [one, parts]
    at_the_end = applied(pg_dsn, messages, one, 10**9, monkeypatch)
    in_parts = applied(pg_dsn, messages, parts, 7, monkeypatch)
    assert sum(len(rows) for rows in at_the_end.values()) > len(messages)  # postings, claims, steps, ... were written
    assert at_the_end["ledger.claims"] and at_the_end["ledger.postings"] and at_the_end["audit.steps"]
    assert len(at_the_end["cases.events"]) == len(messages)  # every folded payload kept, each once
    assert in_parts == at_the_end
    with psycopg.connect(pg_dsn) as conn:  # each payload cut out of the part's one bytes parameter whole
        stored = conn.execute(f'SELECT payload FROM "{projector.cases_schema_for(parts)}".events').fetchall()
    assert sorted(bytes(payload) for (payload,) in stored) == sorted(m.value for m in messages)


def test_a_rebuild_reads_its_records_with_the_collector_s_batch_thresholds(
    pg_dsn: str, messages: list[Message], suffixes: list[str], monkeypatch: Any
) -> None:
    """A rebuild's worker folds up to the cache's 50 000 cases: kafka-python's objects per record must not set off
    full collections over them while it reads (ADR 0039). Every batch read and applied, thresholds as a batch's."""
    import gc

    from domain.collector import BATCH_THRESHOLDS

    suffix = f"_t{uuid4().hex[:8]}"
    suffixes.append(suffix)
    cases = projector.cases_schema_for(suffix)
    targets = [Target(projection_named(name), schema_name(name, suffix=suffix)) for name in PROJECTIONS]
    seen: list[tuple[int, int, int]] = []

    def read(*args: Any, **kwargs: Any) -> Iterator[list[Message]]:
        for start in range(0, 2000, 1000):
            seen.append(gc.get_threshold())  # as the reading of the next batch runs
            yield messages[start : start + 1000]
        seen.append(gc.get_threshold())

    monkeypatch.setattr(projector, "read_partition_range", read)
    before = gc.get_threshold()
    with psycopg.connect(pg_dsn) as conn:
        for t in targets:
            ensure_projection(conn, t.projection, t.schema, cases)
        decoder = Decoder(projector.SchemaStore.from_directory(projector.SCHEMAS_DIR))
        count = projector._build_aside(conn, "unused:9092", targets, "t", decoder, cases_schema=cases)
        applied = conn.execute(f'SELECT count(*) FROM "{cases}".events').fetchone()
    assert count == 2000 and applied == (2000,)
    assert seen == [BATCH_THRESHOLDS] * 3
    assert gc.get_threshold() == before
