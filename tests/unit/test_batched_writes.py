"""``BatchedWrites`` without a server: which statements it holds, how it merges upserts and deletes, and
that anything else first sends what is held."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from consumers.batched import BatchedWrites
from projections.base import write_latest

TYPES = {
    '"s".claims': [("case_id", "text"), ("creditor", "text"), ("stage", "text")],
    '"s".findings': [("case_id", "text"), ("seq", "integer"), ("code", "text")],
    '"s".steps': [("k", "text"), ("v", "bigint"), ("on_day", "date"), ("fee", "numeric(16,2)")],
}


class Recording:
    """A cursor that answers the catalogue's column types and records every other statement."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, Any]] = []
        self._answer: list[Any] = []

    def execute(self, query: str, params: Any = None) -> None:
        if "pg_attribute" in query:
            self._answer = TYPES[params[0]]
        else:
            self.sent.append((query, params))

    def fetchall(self) -> list[Any]:
        return self._answer


UPSERT = (
    'INSERT INTO "s".claims (case_id, creditor, stage) VALUES (%s,%s,%s) '
    "ON CONFLICT (case_id) DO UPDATE SET stage = EXCLUDED.stage"
)


def held(cur: Recording) -> BatchedWrites:
    return BatchedWrites(cur)  # type: ignore[arg-type]


SPLIT = "string_to_array(%b::text, chr(31), chr(30))"


def read(column: str | list[str | None]) -> list[str | None]:
    """A column parameter as the statement's ``string_to_array`` reads it back (a list goes as it is)."""
    if isinstance(column, list):
        return column
    return [None if v == "\x1e" else v for v in column.split("\x1f")]


def test_an_upsert_of_one_key_becomes_one_row_first_values_and_last_assignments() -> None:
    cur = Recording()
    writes = held(cur)
    writes.execute(UPSERT, ("c1", "4601", "invoiced"))
    writes.execute(UPSERT, ("c2", "4601", "invoiced"))
    writes.execute(UPSERT, ("c1", "9999", "reminded"))
    assert cur.sent == []
    writes.flush()
    assert cur.sent == [
        (
            'INSERT INTO "s".claims (case_id, creditor, stage) SELECT u.p0::text, u.p1::text, u.p2::text '
            f"FROM unnest({SPLIT}, {SPLIT}, {SPLIT}) WITH ORDINALITY AS u(p0, p1, p2, n) ORDER BY u.n "
            "ON CONFLICT (case_id) DO UPDATE SET stage = EXCLUDED.stage",
            ["c1\x1fc2", "4601\x1f4601", "reminded\x1finvoiced"],
        )
    ]


def test_a_delete_drops_the_rows_held_before_it_and_runs_before_the_inserts() -> None:
    cur = Recording()
    writes = held(cur)
    insert = 'INSERT INTO "s".findings (case_id, seq, code) VALUES (%s,%s,%s)'
    writes.executemany(insert, [("c1", 0, "A"), ("c2", 0, "B")])
    writes.execute('DELETE FROM "s".findings WHERE case_id = %s', ("c1",))
    writes.execute(insert, ("c1", 0, "C"))
    writes.flush()
    assert cur.sent[0] == (f'DELETE FROM "s".findings WHERE case_id = ANY({SPLIT}::text[])', ("c1",))
    assert [read(c) for c in cur.sent[1][1]] == [["c2", "c1"], ["0", "0"], ["B", "C"]]
    assert len(cur.sent) == 2


def test_deleted_values_go_as_one_text_or_as_a_text_array_when_one_holds_a_separator() -> None:
    cur = Recording()
    writes = held(cur)
    writes.execute('DELETE FROM "s".findings WHERE case_id = %s', ("c1",))
    writes.execute('DELETE FROM "s".findings WHERE case_id = %s', ("c2",))
    writes.execute('DELETE FROM "s".findings WHERE seq = %s', (7,))
    writes.flush()
    query, (texts,) = cur.sent[0]
    assert query == f'DELETE FROM "s".findings WHERE case_id = ANY({SPLIT}::text[])'
    assert sorted(read(texts)) == ["c1", "c2"]  # type: ignore[type-var]
    assert cur.sent[1] == (f'DELETE FROM "s".findings WHERE seq = ANY({SPLIT}::integer[])', ("7",))
    writes.execute('DELETE FROM "s".findings WHERE case_id = %s', ("c\x1f3",))
    writes.flush()
    assert cur.sent[2] == ('DELETE FROM "s".findings WHERE case_id = ANY(%b::text[]::text[])', (["c\x1f3"],))


def test_a_read_or_an_unknown_statement_first_sends_what_is_held() -> None:
    cur = Recording()
    writes = held(cur)
    writes.execute(UPSERT, ("c1", "4601", "invoiced"))
    writes.execute('SELECT stage FROM "s".claims WHERE case_id = %s', ("c1",))
    writes.execute('UPDATE "s".claims SET stage = %s', ("x",))
    assert [q.split()[0] for q, _ in cur.sent] == ["INSERT", "SELECT", "UPDATE"]


def test_an_upsert_that_assigns_anything_but_the_new_value_is_not_held() -> None:
    cur = Recording()
    writes = held(cur)
    adding = 'INSERT INTO "s".t (k, n) VALUES (%s,%s) ON CONFLICT (k) DO UPDATE SET n = t.n + EXCLUDED.n'
    writes.execute(adding, ("a", 1))
    assert cur.sent == [(adding, ("a", 1))]


def test_many_rows_go_out_in_one_statement_as_text_cast_to_the_columns_types() -> None:
    cur = Recording()
    writes = held(cur)
    for i in range(1234):
        writes.execute(
            'INSERT INTO "s".steps VALUES (%s,%s,%s,%s) ON CONFLICT DO NOTHING',
            (f"c{i}", i, date(2025, 1, 1), Decimal("35.00") if i % 2 else None),
        )
    writes.flush()
    [(query, columns)] = cur.sent
    assert "u.p2::date, u.p3::numeric(16,2)" in query
    values = [read(c) for c in columns]
    assert [len(c) for c in values] == [1234] * 4
    assert values[2][0] == "2025-01-01" and values[3][:2] == [None, "35.00"]
    assert values[0][1233] == "c1233" and values[1][1233] == "1233"


def test_a_column_whose_values_hold_a_separator_goes_out_as_an_array_of_texts() -> None:
    cur = Recording()
    writes = held(cur)
    for code in ("plain", "with\x1fseparator", "with\x1enull mark"):
        writes.execute('INSERT INTO "s".findings (case_id, seq, code) VALUES (%s,%s,%s)', ("c1", 0, code))
    writes.execute('INSERT INTO "s".claims (case_id, creditor, stage) VALUES (%s,%s,%s)', ("", "", None))
    writes.flush()
    (findings, columns), (claims, one) = cur.sent
    assert f"unnest({SPLIT}, {SPLIT}, %b::text[])" in findings
    assert columns[2] == ["plain", "with\x1fseparator", "with\x1enull mark"]
    assert read(columns[0]) == ["c1"] * 3
    assert f"unnest(%b::text[], %b::text[], {SPLIT})" in claims  # one empty string would read as no value
    assert one == [[""], [""], "\x1e"] and read(one[2]) == [None]


def test_a_row_of_many_with_a_value_not_written_as_text_runs_as_it_is_in_its_turn() -> None:
    cur = Recording()
    writes = held(cur)
    odd = ("c2", "4601", 2.5)  # a float: not among the types written as text
    writes.executemany(UPSERT, [("c1", "4601", "invoiced"), odd, ("c3", "4601", "paid")])
    assert cur.sent[-1] == (UPSERT, odd)  # sent at once, after what was held before it
    assert [read(p[0]) for _, p in cur.sent[:-1]] == [["c1"]]
    writes.flush()
    assert read(cur.sent[-1][1][0]) == ["c3"]
    assert len(cur.sent) == 3


def test_a_write_held_for_later_runs_once_per_key_the_last_one_at_the_flush() -> None:
    cur = Recording()
    writes = held(cur)
    ran: list[str] = []

    def claim_row(stage: str) -> Any:
        def write(c: Any) -> None:
            ran.append(stage)
            c.execute(UPSERT, ("c1", "4601", stage))

        return write

    writes.write_later(("ledger", "c1"), claim_row("invoiced"))
    writes.write_later(("ledger", "c1"), claim_row("reminded"))
    writes.write_later(("ledger", "c2"), lambda c: c.execute(UPSERT, ("c2", "4601", "invoiced")))
    assert cur.sent == [] and ran == []  # nothing before the flush
    writes.flush()
    assert ran == ["reminded"]  # the key's last write only
    ((query, columns),) = cur.sent  # the writes' rows held in turn and sent in the same flush: one statement
    assert query.startswith('INSERT INTO "s".claims') and [read(c) for c in columns] == [
        ["c1", "c2"],
        ["4601", "4601"],
        ["reminded", "invoiced"],
    ]
    writes.flush()
    assert ran == ["reminded"] and len(cur.sent) == 1  # run once: a flush forgets them


def test_a_write_held_for_later_that_runs_a_statement_of_its_own_keeps_the_order() -> None:
    cur = Recording()
    writes = held(cur)
    writes.write_later("a", lambda c: c.execute(UPSERT, ("c1", "4601", "invoiced")))
    writes.write_later("b", lambda c: c.execute('UPDATE "s".claims SET stage = %s', ("closed",)))
    writes.flush()
    assert [q.split()[0] for q, _ in cur.sent] == ["INSERT", "UPDATE"]  # the held row first, then the update


def test_write_latest_runs_at_once_on_a_cursor_that_holds_nothing() -> None:
    cur = Recording()
    write_latest(cur, "k", lambda c: c.execute("SELECT 1"))
    assert cur.sent == [("SELECT 1", None)]
    writes = held(cur)
    write_latest(writes, "k", lambda c: c.execute("SELECT 2"))
    assert len(cur.sent) == 1  # held until the flush
    writes.flush()
    assert cur.sent[-1] == ("SELECT 2", None)
