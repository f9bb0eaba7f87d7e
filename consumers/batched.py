"""A batch's writes to the read models, gathered per statement and sent as one statement per table.

``BatchedWrites`` stands in for the cursor the projections' ``apply`` gets on the projector's fast path
(``consumers.projector.Applier``). Projections keep writing one event at a time, with the plain statements
they always used; this cursor collects what it can and writes each table once per batch:

* ``INSERT INTO t [(cols)] VALUES (…)`` with no conflict clause, with ``ON CONFLICT … DO NOTHING``, or with
  ``ON CONFLICT (keys) DO UPDATE SET c = EXCLUDED.c, …`` (only such assignments). Rows of one upsert with the
  same key become ONE row: the first row's values, with the assigned columns from the last row — what the
  statements one after the other leave, whether the row was stored before or not;
* ``DELETE FROM t WHERE c = %s``: rows still held for ``t`` with that value are dropped, and the delete runs
  before ``t``'s inserts when the batch is written.

The rows go out as ``INSERT … SELECT … FROM unnest(…) WITH ORDINALITY ORDER BY …``: one short statement text
per form (psycopg prepares it once), each column ONE text — its values' texts joined by the ASCII unit
separator, NULL as the record separator, split again by ``string_to_array`` in the server (a column whose
values hold a separator goes as a text array instead) — and each value cast to its column's type as the
single-row statement would have it. Rows are held with their values as they are and written as text a
column at a time, at ``flush``. A value of a type this module does not write as text makes its statement
run as it is.

Anything else (a read, an update, an unknown form) first writes everything held, then runs as it is, so
every statement sees the writes before it. Tables are written in the order they were first written, each
table's deletes first; a second statement form into a table already held writes what is held first, so
the rows of one table keep their order (serial ids, upserts). Projection tables have no foreign keys or
triggers, so the order between tables does not matter.

Delivery protocol: none here — the caller's transaction holds everything; ``flush`` must run before it
commits (the ``Applier`` flushes before its own rows and offsets). A database error surfaces at ``flush``,
inside that transaction, which then rolls back as a whole (the ``Applier`` retries event by event).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from operator import itemgetter
from typing import Any
from uuid import UUID

import psycopg

_INSERT = re.compile(
    r"\s*INSERT\s+INTO\s+(?P<table>(?:\"[^\"]+\"|\w+)(?:\.(?:\"[^\"]+\"|\w+))?)\s*"
    r"(?:\((?P<cols>[^()]*)\))?\s*VALUES\s*\((?P<values>[^()]*)\)\s*(?P<conflict>ON\s+CONFLICT\b.*)?",
    re.S | re.I,
)
_CONFLICT = re.compile(
    r"ON\s+CONFLICT\s*(?:\((?P<keys>[^()]*)\))?\s*DO\s+(?:(?P<nothing>NOTHING)|UPDATE\s+SET\s+(?P<sets>.*))",
    re.S | re.I,
)
_SET = re.compile(r"\s*(\w+)\s*=\s*EXCLUDED\.(\w+)\s*", re.I)
_VALUE = re.compile(r"\s*(%s|'(?:[^']|'')*'|[\w.:]+)\s*(?:,|$)")
_DELETE = re.compile(
    r"\s*DELETE\s+FROM\s+(?P<table>(?:\"[^\"]+\"|\w+)(?:\.(?:\"[^\"]+\"|\w+))?)\s+WHERE\s+(?P<col>\w+)\s*=\s*%s\s*",
    re.S | re.I,
)


@dataclass(frozen=True)
class _Form:
    """One batchable INSERT statement text."""

    table: str
    columns: tuple[str, ...]  # the insert's columns
    items: tuple[str, ...]  # per column its value: %s or a literal
    tail: str  # the conflict clause or ""
    params_of: dict[str, int]  # column -> index of its value among the parameters
    width: int  # parameters per row
    keys: tuple[int, ...] | None  # parameter indexes of the conflict key (merge rows), None: keep every row
    assigned: tuple[int, ...] = ()  # parameter indexes of the columns DO UPDATE sets (the last row's count)
    upsert: bool = False


Row = tuple[Any, ...]


@dataclass
class _Held:
    form: _Form
    rows: dict[int, Row] = field(default_factory=dict)  # in arrival order
    merged: dict[Any, Row] = field(default_factory=dict)  # conflict key -> its first row
    last: dict[Any, Row] = field(default_factory=dict)  # DO UPDATE: key -> its last row (see ``all_rows``)
    index: dict[int, dict[Any, list[int]]] = field(default_factory=dict)  # parameter -> value -> rows
    count: int = 0  # rows ever held: numbers are never reused

    def add(self, row: Row) -> None:
        form = self.form
        keys = form.keys
        if keys is None:
            number = self.count
            self.count += 1
            self.rows[number] = row
            for i, by_value in self.index.items():
                by_value.setdefault(_text(row[i]), []).append(number)
            return
        # the row's conflict key as the database compares it: by its text (one column: the text itself)
        key: Any
        if len(keys) == 1:
            value = row[keys[0]]
            key = value if type(value) is str else _text(value)
        else:
            key = tuple(_text(row[i]) for i in keys)
        self.merged.setdefault(key, row)  # DO NOTHING: the first row stays
        if form.upsert:
            self.last[key] = row  # its assigned columns are copied once, in ``all_rows``, not once per row

    def _merged(self, key: Any, first: Row, index: int) -> Any:
        """Parameter ``index`` of the row ``key`` merges into: the last row's where DO UPDATE assigns it."""
        return self.last[key][index] if index in self.form.assigned else first[index]

    def drop(self, index: int, value: str | None) -> None:
        """Forget the rows whose parameter ``index`` has the text ``value`` (a delete came after them)."""
        if self.rows:
            if index not in self.index:
                by_value: dict[Any, list[int]] = {}
                for number, row in self.rows.items():
                    by_value.setdefault(_text(row[index]), []).append(number)
                self.index[index] = by_value
            for number in self.index[index].pop(value, ()):
                self.rows.pop(number, None)
        if self.merged:
            self.merged = {k: r for k, r in self.merged.items() if _text(self._merged(k, r, index)) != value}
            self.last = {k: r for k, r in self.last.items() if k in self.merged}

    def all_rows(self) -> list[Row]:
        """The rows to write: every row held, or per conflict key ONE row — the first row's values with the
        assigned columns from the last row (what the statements one after the other leave)."""
        if self.form.keys is None:
            return list(self.rows.values())
        rows = list(self.merged.values())
        if self.last:
            # the merged row picked from ``first + last`` in one C call: the assigned columns from ``last``
            width, assigned = self.form.width, set(self.form.assigned)
            picks = [width + i if i in assigned else i for i in range(width)]
            pick: Callable[[Row], Row] = (  # itemgetter of one index gives the value, not a tuple
                itemgetter(*picks) if len(picks) > 1 else lambda both: tuple(both[i] for i in picks)
            )
            for n, (key, first) in enumerate(self.merged.items()):
                last = self.last[key]
                if last is not first:
                    rows[n] = pick(first + last)
        return rows


@dataclass
class _Table:
    deletes: dict[str, set[Any]] = field(default_factory=dict)  # column -> values
    held: dict[str, _Held] = field(default_factory=dict)  # statement text -> rows


class BatchedWrites:
    """A cursor for projections' ``apply`` that holds their writes until ``flush`` (see the module)."""

    def __init__(self, cur: psycopg.Cursor[Any], columns: dict[str, dict[str, str]] | None = None) -> None:
        self.cur = cur
        self._columns = columns if columns is not None else {}  # table -> its columns' types (catalogue, cached)
        self._statements: dict[tuple[Any, ...], str] = {}
        self._forms: dict[str, _Form | None] = {}
        self._tables: dict[str, _Table] = {}
        self._held: dict[str, _Held] = {}  # statement text -> the rows it holds now (its table's, until ``flush``)
        self._later: dict[Hashable, Callable[[BatchedWrites], None]] = {}  # ``write_later``: key -> the last write
        self.statements = 0  # statements sent to the database (for the bench and the tests)

    # -- the cursor's interface ------------------------------------------------------------------

    def execute(self, query: Any, params: Sequence[Any] | None = None, **kwargs: Any) -> BatchedWrites:
        if isinstance(query, str) and not kwargs and params is not None and self._hold(query, params):
            return self
        self.flush()
        self.cur.execute(query, params, **kwargs)
        self.statements += 1
        return self

    def executemany(self, query: Any, params_seq: Iterable[Sequence[Any]], **kwargs: Any) -> None:
        rows = list(params_seq)
        if isinstance(query, str) and not kwargs and self._form(query) is not None:
            for params in rows:
                if not self._hold(query, params):  # a value not written as text: this row runs as it is, in turn
                    self.flush()
                    self.cur.execute(query, params)
                    self.statements += 1
            return
        self.flush()
        self.cur.executemany(query, rows, **kwargs)
        self.statements += 1

    def write_later(self, key: Hashable, write: Callable[[BatchedWrites], None]) -> None:
        """Hold ``write`` (called with this cursor) until the next ``flush``, in place of the one held under ``key``:
        of a case's rows that every event writes anew from the case's state (``projections.base.write_latest``) only
        the last event's write runs, once per part instead of once per event."""
        self._later.pop(key, None)  # to the end: the writes run in the order of their last events
        self._later[key] = write

    def fetchone(self) -> Any:
        return self.cur.fetchone()

    def fetchall(self) -> list[Any]:
        return self.cur.fetchall()

    def fetchmany(self, size: int = 0) -> list[Any]:
        return self.cur.fetchmany(size)

    def __getattr__(self, name: str) -> Any:
        self.flush()  # anything else of the cursor sees every write before it
        return getattr(self.cur, name)

    # -- holding -----------------------------------------------------------------------------------

    def _hold(self, query: str, params: Sequence[Any]) -> bool:
        held = self._held.get(query)
        if held is not None:  # the statement already holds rows: no parsing, no table look-up (most calls)
            if len(params) != held.form.width or not _WRITTEN.issuperset(map(type, params)):
                return False
            held.add(tuple(params))
            return True
        form = self._form(query)
        if form is None:
            deleted = _delete_of(query)
            return deleted is not None and self._hold_delete(*deleted, params)
        if len(params) != form.width or not _WRITTEN.issuperset(map(type, params)):
            return False  # a value this module does not write as text: the statement runs as it is
        table = self._tables.get(form.table)
        if table is None:
            table = self._tables[form.table] = _Table()
        held = table.held.get(query)
        if held is None:
            if table.held:
                self.flush()  # a second statement form into one table: keep the rows' order (serial ids, upserts)
                table = self._tables[form.table] = _Table()
            held = table.held[query] = self._held[query] = _Held(form)
        # values as they are (immutable, see _WRITTEN): written as text a column at a time at ``flush``; a tuple
        # of them, which the garbage collector stops tracking, where a list would be traversed until the flush
        held.add(tuple(params))
        return True

    def _hold_delete(self, table_name: str, column: str, params: Sequence[Any]) -> bool:
        if len(params) != 1:
            return False
        try:
            value = _text(params[0])
        except _NotText:
            return False
        table = self._tables.get(table_name)
        if table is not None and any(column not in h.form.params_of for h in table.held.values()):
            self.flush()
            table = None
        table = table or self._tables.setdefault(table_name, _Table())
        for held in table.held.values():
            held.drop(held.form.params_of[column], value)
        table.deletes.setdefault(column, set()).add(value)
        return True

    def _form(self, query: str) -> _Form | None:
        """The statement's batchable INSERT form, or None; parsed once per statement text."""
        try:
            return self._forms[query]
        except KeyError:
            form = self._forms[query] = self._parse(query)
            return form

    def _parse(self, query: str) -> _Form | None:
        m = _INSERT.fullmatch(query)
        if m is None:
            return None
        values = _items(m["values"])
        if values is None:
            return None
        columns = (
            tuple(c.strip().strip('"') for c in m["cols"].split(","))
            if m["cols"] is not None
            else self._table_columns(m["table"])
        )
        if len(columns) != len(values):
            return None
        params_of: dict[str, int] = {}
        for column, value in zip(columns, values, strict=True):
            if value == "%s":
                params_of[column] = len(params_of)
        keys: tuple[int, ...] | None = None
        assigned: tuple[int, ...] = ()
        upsert = False
        conflict = m["conflict"] or ""
        if conflict:
            c = _CONFLICT.fullmatch(conflict.strip())
            if c is None:
                return None
            key_columns = [k.strip().strip('"') for k in c["keys"].split(",")] if c["keys"] else []
            if c["nothing"] is None:  # DO UPDATE: only `col = EXCLUDED.col`, on a known key
                sets = c["sets"].split(",")
                pairs = [_SET.fullmatch(s) for s in sets]
                if not key_columns or any(p is None or p[1] != p[2] for p in pairs):
                    return None
                assigned = tuple(params_of[p[1]] for p in pairs if p is not None and p[1] in params_of)
                if any(p is not None and p[1] not in columns for p in pairs):
                    return None
                upsert = True
            if key_columns:
                if any(k not in columns for k in key_columns):
                    return None
                keys = tuple(params_of[k] for k in key_columns if k in params_of)
        return _Form(
            table=m["table"],
            columns=columns,
            items=tuple(values),
            tail=(" " + conflict.strip()) if conflict else "",
            params_of=params_of,
            width=len(params_of),
            keys=keys,
            assigned=assigned,
            upsert=upsert,
        )

    def _table_columns(self, table: str) -> tuple[str, ...]:
        return tuple(self._column_types(table))

    def _column_types(self, table: str) -> dict[str, str]:
        """The table's columns and their types, from the catalogue (once per table and applier)."""
        if table not in self._columns:
            self.cur.execute(
                "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = %s::regclass "
                "AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
                (table,),
            )
            self._columns[table] = {str(name): str(kind) for name, kind in self.cur.fetchall()}
        return self._columns[table]

    # -- writing -----------------------------------------------------------------------------------

    def flush(self) -> None:
        """Write everything held: the writes held for later first (their statements are held in turn), then per
        table its deletes and its rows, one statement each."""
        while self._later:  # a write that runs a statement of its own flushes again: it finds none left to run
            later, self._later = self._later, {}
            for write in later.values():
                write(self)
        tables, self._tables = self._tables, {}
        self._held = {}
        for name, table in tables.items():
            for column, values in table.deletes.items():
                # one text, not an array built value by value (as the rows)
                array, texts = array_parameter(list(values), self._column_types(name)[column])
                self.cur.execute(f"DELETE FROM {name} WHERE {column} = ANY({array})", (texts,))
                self.statements += 1
            for held in table.held.values():
                rows = held.all_rows()
                if rows:
                    columns = [_joined(column) for column in zip(*rows, strict=True)]
                    split = tuple(isinstance(c, str) for c in columns)
                    self.cur.execute(self._statement(held.form, split), columns)
                    self.statements += 1

    def _statement(self, form: _Form, split: tuple[bool, ...]) -> str:
        """The form's batch statement; ``split`` per parameter column: sent as one joined text (else as a
        text array, for a column whose values hold a separator)."""
        key = (form.table, form.columns, form.items, form.tail, split)
        if key not in self._statements:
            types = self._column_types(form.table)
            params = [c for c, v in zip(form.columns, form.items, strict=True) if v == "%s"]
            chosen = [
                f"u.p{params.index(c)}::{types[c]}" if v == "%s" else f"{v}::{types[c]}"
                for c, v in zip(form.columns, form.items, strict=True)
            ]
            arrays = ", ".join(_SPLIT if joined else "%b::text[]" for joined in split)
            names = ", ".join(f"p{i}" for i in range(len(params)))
            self._statements[key] = (
                f"INSERT INTO {form.table} ({', '.join(form.columns)}) SELECT {', '.join(chosen)} "
                f"FROM unnest({arrays}) WITH ORDINALITY AS u({names}, n) ORDER BY u.n{form.tail}"
            )
        return self._statements[key]


@lru_cache(maxsize=1024)
def _delete_of(query: str) -> tuple[str, str] | None:
    """(table, column) of a ``DELETE … WHERE column = %s``; parsed once per statement text, not per row."""
    m = _DELETE.fullmatch(query)
    return None if m is None else (m["table"], m["col"])


class _NotText(Exception):
    """A value ``_text`` does not write: its statement runs as it is."""


def _text(value: Any) -> str | None:
    """A parameter as PostgreSQL's text input of the column's type reads it (the cast to the column's type
    follows in the statement): what psycopg would send for the same value."""
    kind = type(value)
    if value is None or kind is str:
        return value  # type: ignore[no-any-return]
    write = _TEXT.get(kind)
    if write is None:
        raise _NotText(kind.__name__)
    return write(value)


_TEXT: dict[type, Callable[[Any], str]] = {
    bool: {True: "true", False: "false"}.__getitem__,  # a dict's look-up: no Python call per value
    int: str,
    Decimal: str,
    UUID: str,
    date: date.isoformat,
    datetime: datetime.isoformat,
}
"""``_text`` per exact type (a subclass is not text: its statement runs as it is)."""


_WRITTEN = frozenset((type(None), str, *_TEXT))
"""The exact types of the values a held row may carry."""

_SEPARATOR, _NULL = "\x1f", "\x1e"  # ASCII unit and record separators
_SPLIT = "string_to_array(%b::text, chr(31), chr(30))"  # the joined column back into its values, NULLs as NULL


def _joined(values: Sequence[Any]) -> str | list[str | None]:
    """A column's values as PostgreSQL's text input reads them, joined into ONE text by the unit separator,
    NULL written as the record separator: a column goes out as one string instead of an array built value
    by value. A column that holds a separator in a value (or that is one empty string, which
    ``string_to_array`` reads as no value) goes out as the list of texts instead."""
    kinds = set(map(type, values))
    nulls = 0
    if type(None) in kinds:
        nulls = values.count(None)  # no value of a written type equals None
        kinds.discard(type(None))
    texts: Sequence[str]
    kind = kinds.pop() if len(kinds) == 1 else None
    if kind is str:
        texts = [_NULL if v is None else v for v in values] if nulls else values
    elif kind in _TEXT:
        write = _TEXT[kind]  # looked up once per column, not once per value
        texts = [_NULL if v is None else write(v) for v in values] if nulls else list(map(write, values))
    else:  # several types, or only NULLs
        texts = [_NULL if v is None else _text(v) for v in values]  # type: ignore[misc]
    joined = _SEPARATOR.join(texts)
    if joined and joined.count(_SEPARATOR) == len(values) - 1 and joined.count(_NULL) == nulls:
        return joined
    return [_text(v) for v in values]


def array_parameter(values: Sequence[Any], kind: str, placeholder: str = "%b") -> tuple[str, str | list[str | None]]:
    """A column of values as ONE statement parameter, and the SQL that reads it back as an array of ``kind``: the
    values' texts joined into one text and split again in the server (``_joined``: psycopg dumps one string, not an
    array element by element), or, when a value holds a separator, the list of texts."""
    joined = _joined(values)
    if isinstance(joined, str):
        return f"{_SPLIT.replace('%b', placeholder)}::{kind}[]", joined
    return f"{placeholder}::text[]::{kind}[]", joined


def _items(values: str) -> list[str] | None:
    """The items of a VALUES row (placeholders and plain literals), or None when it is anything else."""
    items: list[str] = []
    at = 0
    text = values.strip()
    while at < len(text):
        m = _VALUE.match(text, at)
        if m is None:
            return None
        items.append(m[1])
        at = m.end()
    return items or None
