"""The publisher's preparing children read the stored events themselves (ADR 0041): given a batch without its
states they read their shares from PostgreSQL and answer what the publisher would prepare from the full rows; the
parties of a case whose creation event came before they started are read from the store too; a child that cannot
read the store says why and the publisher prepares in its own process."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest

from consumers.preparer import IN_PARENT, PreparePool, Preparer, PrepareWorker, StoreAccess, WorkerGone
from consumers.publisher import EVENTS_TABLE, SCHEMAS_DIR
from consumers.wire import envelope
from consumers.wire.codec import SchemaStore
from kravsak.settings import Settings
from tests.support.stack import app_for, scratch_event_store, workload_log

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not PrepareWorker.available(), reason="no fork on this platform"),
]

KEY = b"a digest key"


@pytest.fixture(scope="module")
def stored(settings: Settings, stack: Any) -> Iterator[tuple[Settings, str]]:
    with scratch_event_store(settings, f"prepread_{uuid.uuid4().hex[:12]}", workload_log(1500)) as schema:
        yield settings, schema


def _pool(settings: Settings, schema: str, table: str = EVENTS_TABLE) -> PreparePool:
    app = app_for(settings, schema)
    try:
        return PreparePool(
            app.mapper, SchemaStore.from_directory(SCHEMAS_DIR), KEY, store=StoreAccess(settings.pg_dsn, schema, table)
        )
    finally:
        app.close()


def _prepared_here(settings: Settings, schema: str, rows: list[Any], parties: envelope.PartyIndex) -> list[Any]:
    app = app_for(settings, schema)
    try:
        here = Preparer(app.mapper, SchemaStore.from_directory(SCHEMAS_DIR), parties, KEY)
        return [here.outcome_row(row) for row in rows]
    finally:
        app.close()


def _rows(settings: Settings, schema: str, start: int, *, states: bool) -> list[Any]:
    store = StoreAccess(settings.pg_dsn, schema, EVENTS_TABLE)
    with store.connect() as conn:
        return store.rows(conn, start, 10**6, states=states)


def _collect(pool: PreparePool, batches: list[list[Any]]) -> list[Any]:
    got: list[Any] = []
    for batch in batches:
        pool.submit_rows(batch)
        got += list(pool.collect(len(batch)))
    return got


def test_children_given_heads_read_their_shares_and_answer_what_full_rows_give(stored: tuple[Settings, str]) -> None:
    settings, schema = stored
    rows, heads = _rows(settings, schema, 1, states=True), _rows(settings, schema, 1, states=False)
    assert len(heads) > 1000 and all(len(h) == 4 for h in heads) and [r[:4] for r in rows] == heads
    pool = _pool(settings, schema)
    try:
        got = _collect(pool, [heads[i : i + 400] for i in range(0, len(heads), 400)])
    finally:
        pool.close()

    assert got == _prepared_here(settings, schema, rows, envelope.PartyIndex())


def test_children_started_mid_log_read_the_parties_of_older_cases_from_the_store(
    stored: tuple[Settings, str],
) -> None:
    settings, schema = stored
    later = _rows(settings, schema, 700, states=False)
    pool = _pool(settings, schema)
    try:
        got = _collect(pool, [later])
    finally:
        pool.close()

    assert IN_PARENT not in got  # every claim's Invoiced lies before 700 for many of them: read, not asked for
    app = app_for(settings, schema)
    try:
        expected = _prepared_here(
            settings,
            schema,
            _rows(settings, schema, 700, states=True),
            envelope.PartyIndex(envelope.stored_parties(app)),
        )
    finally:
        app.close()
    assert got == expected


def test_a_child_that_cannot_read_the_store_says_why(stored: tuple[Settings, str]) -> None:
    settings, schema = stored
    heads = _rows(settings, schema, 1, states=False)[:50]
    pool = _pool(settings, schema, table="no_such_table")
    try:
        pool.submit_rows(heads)
        with pytest.raises(WorkerGone, match="could not read the store: UndefinedTable"):
            list(pool.collect(len(heads)))
    finally:
        pool.close()


def test_the_children_only_read(stored: tuple[Settings, str], unique: Callable[[str], str]) -> None:
    """Their sessions run every statement read-only: the position, the held events and the lock stay the
    publisher's."""
    settings, schema = stored
    store = StoreAccess(settings.pg_dsn, schema, EVENTS_TABLE)
    with store.connect() as conn:
        assert conn.execute("SHOW default_transaction_read_only").fetchone() == ("on",)
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            conn.execute(f"CREATE TABLE {schema}.{unique('t').replace('-', '_')} (x int)")
