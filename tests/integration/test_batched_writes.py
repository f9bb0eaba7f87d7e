"""The projector's fast path holds the projections' writes and sends each table's at the end of the batch
(``consumers.batched.BatchedWrites``): on every scenario, in batches of any size, the read models hold
exactly what the same events applied one statement at a time leave."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import uuid4

import psycopg
import pytest

from consumers.batched import BatchedWrites, array_parameter
from domain.application import CollectionApp
from domain.scenario import Scenario, run_scenario
from kravsak.bench.workload import workload_app
from projections import audit_trail, ledger, limitation, parties
from projections.base import schema_name
from projections.casefold import CaseFolder
from tests.scenario_files import scenario_params
from tests.unit.test_casefold import all_projected

pytestmark = pytest.mark.integration
PROJECTIONS = (ledger.Ledger(), limitation.LimitationWatch(), audit_trail.AuditTrail(), parties.Parties())


@pytest.fixture
def two_sets(pg_dsn: str) -> Iterator[tuple[psycopg.Connection[Any], dict[str, str], dict[str, str]]]:
    """The read models twice: one applied statement by statement, one through ``BatchedWrites``."""
    plain = {p.name: schema_name(p.name, suffix=f"_p{uuid4().hex[:10]}") for p in PROJECTIONS}
    held = {p.name: schema_name(p.name, suffix=f"_b{uuid4().hex[:10]}") for p in PROJECTIONS}
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        for names in (plain, held):
            for p in PROJECTIONS:
                conn.execute(f'CREATE SCHEMA "{names[p.name]}"')
                with conn.cursor() as cur:
                    p.create_tables(cur, names[p.name])
        yield conn, plain, held
        for name in (*plain.values(), *held.values()):
            conn.execute(f'DROP SCHEMA "{name}" CASCADE')


def contents(cur: psycopg.Cursor[Any], schema: str) -> dict[str, list[tuple[Any, ...]]]:
    cur.execute("SELECT tablename FROM pg_tables WHERE schemaname = %s ORDER BY 1", (schema,))
    tables = [r[0] for r in cur.fetchall()]
    out = {}
    for table in tables:
        cur.execute(f'SELECT * FROM "{schema}"."{table}"')
        out[table] = sorted(cur.fetchall(), key=repr)
    return out


@pytest.mark.parametrize("batch", [1, 7, 10_000])
@pytest.mark.parametrize("path", scenario_params())
def test_held_writes_leave_what_one_by_one_leaves(path: Path, batch: int, two_sets: Any) -> None:
    conn, plain, held = two_sets
    app = CollectionApp()
    run_scenario(Scenario.load(path), app)
    events = list(all_projected(app))
    one_by_one = apply_one_by_one(conn, plain, events)
    sent = apply_held(conn, held, events, batch)
    assert_same_tables(conn, plain, held)
    if batch == 10_000 and one_by_one > 200:
        assert sent < one_by_one / 2, "held writes go out in far fewer statements"


def apply_one_by_one(conn: psycopg.Connection[Any], names: dict[str, str], events: list[Any]) -> int:
    """Apply the events with the plain cursor; the statements it ran."""
    folder = CaseFolder()
    with conn.transaction(), conn.cursor() as cur:
        counted = Counting(cur)
        for event in events:
            before, after = folder.advance(event)
            for p in PROJECTIONS:
                p.apply(counted, event, names[p.name], before, after)  # type: ignore[arg-type]
    return counted.statements


def apply_held(conn: psycopg.Connection[Any], names: dict[str, str], events: list[Any], batch: int) -> int:
    """Apply the events through ``BatchedWrites``, flushed every ``batch`` events; the statements it sent."""
    folder = CaseFolder()
    sent = 0
    with conn.transaction(), conn.cursor() as cur:
        for start in range(0, len(events), batch):
            writes = BatchedWrites(cur)
            for event in events[start : start + batch]:
                before, after = folder.advance(event)
                for p in PROJECTIONS:
                    p.apply(writes, event, names[p.name], before, after)  # type: ignore[arg-type]
            writes.flush()
            sent += writes.statements
    return sent


def assert_same_tables(conn: psycopg.Connection[Any], plain: dict[str, str], held: dict[str, str]) -> None:
    with conn.cursor() as cur:
        for p in PROJECTIONS:
            assert contents(cur, held[p.name]) == contents(cur, plain[p.name]), p.name


class Counting:
    """A cursor that counts the statements (each row of an executemany one) it runs."""

    def __init__(self, cur: psycopg.Cursor[Any]) -> None:
        self.cur, self.statements = cur, 0

    def execute(self, query: Any, params: Any = None) -> None:
        self.statements += 1
        self.cur.execute(query, params)

    def executemany(self, query: Any, rows: Any) -> None:
        rows = list(rows)
        self.statements += len(rows)
        self.cur.executemany(query, rows)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.cur, name)


def test_a_batch_of_the_standard_workload_goes_out_in_a_few_statements(two_sets: Any) -> None:
    conn, plain, held = two_sets
    events = list(all_projected(workload_app(1000)))
    one_by_one = apply_one_by_one(conn, plain, events)
    sent = apply_held(conn, held, events, len(events))
    assert_same_tables(conn, plain, held)
    assert one_by_one > 3 * len(events) > 3000
    assert sent < 100


@pytest.mark.parametrize(
    ("values", "kind", "joined"),
    [
        (["case-1", "case-2", "case-3"], "text", True),
        ([1, 2, 3_000_000_000], "bigint", True),
        (["case-1", None, "case-3"], "text", True),
        (["a\x1fb", "c"], "text", False),  # a value holding the unit separator: sent as the list of texts
        (["a\x1eb"], "text", False),  # the record separator (NULL's mark) too
        ([""], "text", False),  # one empty text: ``string_to_array`` would read no value
        ([], "text", False),
    ],
)
def test_a_column_sent_as_one_parameter_comes_back_as_its_array(
    pg_dsn: str, values: list[Any], kind: str, joined: bool
) -> None:
    sql, param = array_parameter(values, kind)
    assert isinstance(param, str) is joined
    with psycopg.connect(pg_dsn) as conn:
        row = conn.execute(f"SELECT {sql}", (param,)).fetchone()
    assert row is not None and row[0] == values
