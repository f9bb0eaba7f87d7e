"""Look-ups by key read one row per key on a table that grew before it had statistics (ADR 0037).

A table made moments ago has no statistics until autovacuum's next round (a minute), and a statement
prepared while it was small keeps its plan: the projector's case versions (``= ANY(ids)``, once a
sequential scan comparing every row with every id: 33 ms a batch at 15 000 cases) and the command log's
``find_commands`` (a plain join, taken for one namespace of many: every command of the office read for
every save). The plans are read with EXPLAIN ANALYZE, custom and generic, on 20 000 rows without
statistics; the rows a plan takes from the table must not exceed the keys asked for.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from psycopg import sql

from consumers.batched import array_parameter
from consumers.projector import cases_statement, ensure_runner_tables
from domain.application import CollectionApp
from domain.command_log import PostgresRecorder
from kravsak.bench.scratch import create_event_store, drop_event_store
from kravsak.settings import Settings

pytestmark = pytest.mark.integration

ROWS = 20_000


def rows_read(
    conn: psycopg.Connection[Any], query: str, types: list[str], args: list[Any], table: str, mode: str
) -> int:
    """Rows the plan of ``query`` ($1… of ``types``) takes from ``table`` (every scan of it, every loop), with
    ``plan_cache_mode`` set to ``mode``."""
    name = f"p_{uuid.uuid4().hex[:8]}"
    conn.execute(f"SET plan_cache_mode = {mode}")
    conn.execute(f"PREPARE {name}({', '.join(types)}) AS {query}")
    try:
        literal = sql.SQL(", ").join(sql.Literal(a) for a in args)
        plan = conn.execute(sql.SQL("EXPLAIN (ANALYZE, FORMAT JSON) EXECUTE {}({})").format(sql.SQL(name), literal))
        row = plan.fetchone()
        assert row is not None
        return _read_from(row[0][0]["Plan"], table)
    finally:
        conn.execute(f"DEALLOCATE {name}")
        conn.execute("RESET plan_cache_mode")


def _read_from(node: dict[str, Any], table: str) -> int:
    loops = node.get("Actual Loops", 1)
    own = 0
    if node.get("Relation Name") == table:
        removed = node.get("Rows Removed by Filter", 0) + node.get("Rows Removed by Index Recheck", 0)
        own = (node.get("Actual Rows", 0) + removed) * loops
    return own + sum(_read_from(child, table) for child in node.get("Plans", []))


def numbered(query: str) -> str:
    """psycopg's placeholders (``%s``, ``%(name)b``) as PostgreSQL's ``$1``…, a name always the same number."""
    names: dict[str, int] = {}

    def number(match: re.Match[str]) -> str:
        key = match.group(1) or f"#{len(names)}"
        return f"${names.setdefault(key, len(names) + 1)}"

    return re.sub(r"%(?:\((\w+)\))?[sb]", number, query)


@pytest.fixture
def schema(pg_dsn: str, unique: Callable[[str], str]) -> Iterator[str]:
    name = unique("plans").replace("-", "_")
    create_event_store(pg_dsn, name)
    yield name
    drop_event_store(pg_dsn, name)


def test_finding_commands_reads_one_row_per_key(settings: Settings, pg_dsn: str, schema: str) -> None:
    app = CollectionApp(settings.eventsourcing_env(POSTGRES_SCHEMA=schema), office_secret=b"k" * 32)
    try:
        recorder = app.recorder
        assert isinstance(recorder, PostgresRecorder)
        namespace = str(app.namespace)
        with psycopg.connect(pg_dsn, autocommit=True) as conn:
            conn.execute(
                sql.SQL(
                    "INSERT INTO {} SELECT %s, 'creditor:5601', 'c' || g, 'issue_invoice', 'd' "
                    "FROM generate_series(1, %s) AS g"
                ).format(recorder.commands_table),
                (namespace, ROWS),
            )
            keys = [("creditor:5601", "c7"), ("creditor:5601", f"c{ROWS}")] + [
                ("creditor:5601", f"n{i}") for i in range(30)
            ]
            assert set(recorder.find_commands(namespace, keys)) == set(keys[:2])
            query = numbered(recorder.find_commands_query().as_string(conn))
            args = [[k[0] for k in keys], [k[1] for k in keys], namespace]
            for mode in ("force_custom_plan", "force_generic_plan"):
                read = rows_read(conn, query, ["text[]", "text[]", "text"], args, "collectionapp_events_commands", mode)
                assert read <= len(keys), f"{mode}: {read} rows read for {len(keys)} keys"
    finally:
        app.close()


def test_reading_case_versions_reads_one_row_per_case(pg_dsn: str, schema: str) -> None:
    schemas = [f"{schema}_p{i}" for i in range(3)]
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        try:
            with conn.cursor() as cur:
                for s in schemas:
                    ensure_runner_tables(cur, s)
                    cur.execute(
                        f"INSERT INTO \"{s}\".case_versions SELECT 'case-' || g, 3 FROM generate_series(1, %s) AS g",
                        (ROWS,),
                    )
            # as many ids as a batch of 2 000 records has cases: with so many the planner chose a whole-table scan
            ids = ["case-7", f"case-{ROWS}", *(f"new-{i}" for i in range(2000))]
            # the ids as the projector sends them: one text, split in the server (``array_parameter``)
            ids_sql, joined = array_parameter(ids, "text", "%(ids)b")
            assert isinstance(joined, str)
            query = numbered(cases_statement(tuple(schemas), ids_sql))
            # the projector sends it unprepared (prepare=False): planned for each batch, with the ids in hand
            read = rows_read(conn, query, ["text"], [joined], "case_versions", "force_custom_plan")
            assert read <= 2 * len(schemas), f"{read} rows read for {len(ids)} ids in {len(schemas)} tables"
        finally:
            for s in schemas:
                conn.execute(f'DROP SCHEMA IF EXISTS "{s}" CASCADE')
