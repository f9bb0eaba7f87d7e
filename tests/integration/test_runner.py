"""The one runner's transaction against the real PostgreSQL: a batch and its offsets together or not at all.

A toy handler writes one row per record into a table of the test's own schema; the runner locks
the offset rows, lets it write and moves the offsets, all in one transaction. A batch that begins
beyond the stored offset, or whose handler fails twice, leaves neither rows nor offsets behind.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import psycopg
import pytest
from psycopg import sql

from consumers.automate import ensure_tables
from consumers.runner import BatchResult, Message, OffsetTable, ParkedTable, apply_in_transaction

pytestmark = pytest.mark.integration

TOPIC = "runner-test"


@pytest.fixture
def schema(pg_dsn: str, unique: Callable[[str], str]) -> Iterator[str]:
    name = unique("runner").replace("-", "_")
    with psycopg.connect(pg_dsn, autocommit=True) as conn, conn.cursor() as cur:
        OffsetTable(name).create(cur)
        ParkedTable(name).create(cur)
        cur.execute(sql.SQL('CREATE TABLE {}.rows (partition int, "offset" bigint)').format(sql.Identifier(name)))
    yield name
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(name)))


def messages(partition: int, offsets: range) -> list[Message]:
    return [Message(TOPIC, partition, o, b"case-1", f"value {o}".encode()) for o in offsets]


class Rows:
    """Writes one row per record at or after the stored offset; fails on the fast path if told to."""

    def __init__(self, schema: str, fail: str = "") -> None:
        self.schema, self.fail, self.attempts, self.discarded = schema, fail, [], 0

    def __call__(
        self, cur: psycopg.Cursor[Any], batch: Sequence[Message], stored: list[dict[int, int]], *, careful: bool
    ) -> BatchResult:
        self.attempts.append(careful)
        if self.fail == "always" or (self.fail == "fast" and not careful):
            cur.execute(sql.SQL("INSERT INTO {}.rows VALUES (-1, -1)").format(sql.Identifier(self.schema)))
            raise ValueError("the handler refused the batch")
        result = BatchResult()
        for m in batch:
            if m.offset < stored[0].get(m.partition, 0):
                result.skipped += 1
                continue
            cur.execute(
                sql.SQL("INSERT INTO {}.rows VALUES (%s, %s)").format(sql.Identifier(self.schema)),
                (m.partition, m.offset),
            )
            result.applied += 1
        return result

    def discard(self) -> None:
        self.discarded += 1


def state(pg_dsn: str, schema: str) -> tuple[dict[int, int], list[tuple[int, int]]]:
    with psycopg.connect(pg_dsn) as conn, conn.cursor() as cur:
        offsets = OffsetTable(schema).read(cur, TOPIC)
        cur.execute(sql.SQL('SELECT partition, "offset" FROM {}.rows ORDER BY 1, 2').format(sql.Identifier(schema)))
        return offsets, [(int(p), int(o)) for p, o in cur.fetchall()]


def test_a_batch_moves_its_offsets_with_its_rows_and_a_redelivery_is_skipped(pg_dsn: str, schema: str) -> None:
    rows = Rows(schema)
    with psycopg.connect(pg_dsn) as conn:
        first = apply_in_transaction(conn, [OffsetTable(schema)], messages(0, range(0, 3)), rows, discard=rows.discard)
        again = apply_in_transaction(conn, [OffsetTable(schema)], messages(0, range(1, 5)), rows, discard=rows.discard)

    assert (first.applied, again.applied, again.skipped) == (3, 2, 2)
    assert state(pg_dsn, schema) == ({0: 5}, [(0, o) for o in range(5)])


def test_a_batch_beyond_the_stored_offset_rolls_back_and_names_where_to_seek(pg_dsn: str, schema: str) -> None:
    rows = Rows(schema)
    with psycopg.connect(pg_dsn) as conn:
        apply_in_transaction(conn, [OffsetTable(schema)], messages(0, range(0, 2)), rows)
        gap = apply_in_transaction(
            conn, [OffsetTable(schema)], messages(0, range(4, 6)) + messages(1, range(0, 2)), rows, discard=rows.discard
        )

    assert gap.gaps == {0: 2} and gap.applied == 0 and rows.discarded == 1
    assert state(pg_dsn, schema) == ({0: 2}, [(0, 0), (0, 1)])  # nothing of partition 1 was kept either


def test_a_batch_that_fails_runs_again_carefully_and_one_that_fails_again_commits_nothing(
    pg_dsn: str, schema: str
) -> None:
    once = Rows(schema, fail="fast")
    with psycopg.connect(pg_dsn) as conn:
        result = apply_in_transaction(conn, [OffsetTable(schema)], messages(0, range(0, 2)), once, discard=once.discard)
    assert once.attempts == [False, True] and result.applied == 2
    assert state(pg_dsn, schema) == ({0: 2}, [(0, 0), (0, 1)])

    always = Rows(schema, fail="always")
    with psycopg.connect(pg_dsn) as conn, pytest.raises(ValueError, match="refused the batch"):
        apply_in_transaction(conn, [OffsetTable(schema)], messages(0, range(2, 4)), always, discard=always.discard)
    assert always.attempts == [False, True] and always.discarded == 2
    assert state(pg_dsn, schema) == ({0: 2}, [(0, 0), (0, 1)])


def test_parked_records_come_back_in_stream_order_and_leave_the_table(pg_dsn: str, schema: str) -> None:
    parked = ParkedTable(schema)
    with psycopg.connect(pg_dsn) as conn, conn.transaction(), conn.cursor() as cur:
        for m in reversed(messages(2, range(7, 10))):
            parked.park(cur, m, "cannot decode", version=m.offset - 6)
        assert parked.case_count(cur) == 1 and parked.partitions(cur, "case-1") == [(TOPIC, 2)]
        taken = parked.take(cur, "case-1")
        assert [m.offset for m in taken] == [7, 8, 9] and taken[0].value == b"value 7"
        assert parked.cases(cur) == []


def test_an_automate_schema_from_before_the_runner_gets_the_runners_parked_columns(
    pg_dsn: str, unique: Callable[[str], str]
) -> None:
    name = unique("automate_old").replace("-", "_")
    old = sql.Identifier(name)
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(old))
        conn.execute(
            sql.SQL(
                'CREATE TABLE {}.parked (topic text NOT NULL, partition int NOT NULL, "offset" bigint NOT NULL, '
                "case_id text NOT NULL, payload bytea NOT NULL, error text NOT NULL, "
                'parked_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (topic, partition, "offset"))'
            ).format(old)
        )
        conn.execute(sql.SQL("INSERT INTO {}.parked VALUES ('t', 0, 5, 'case-0', 'x', 'old error')").format(old))
        try:
            ensure_tables(conn, name)
            ensure_tables(conn, name)  # idempotent
            with conn.transaction(), conn.cursor() as cur:
                ParkedTable(name).park(cur, messages(1, range(3, 4))[0], "new error")
                rows = cur.execute(
                    sql.SQL('SELECT case_id, version, "offset", error FROM {}.parked ORDER BY 3').format(old)
                ).fetchall()
        finally:
            conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(old))

    assert rows == [("case-1", -1, 3, "new error"), ("case-0", -1, 5, "old error")]
