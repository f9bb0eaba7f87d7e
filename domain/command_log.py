"""The command log: what the event store keeps beside the events so that a command id means one command.

Written in the SAME transaction as the command's events (the recorder's ``insert_events``), never
published, and only ever appended:

- ``commands``: per (id namespace, scope, command id) the command's name and a digest of its content —
  an HMAC over the canonical JSON of its normalised arguments (``content_digest``), keyed by the
  office's secret, since arguments may hold a national id or free text. A repeat is recognised by it:
  the same content is the same command (the first result, nothing changes), other content under the
  same id is refused (``invalid_input`` naming the id). The primary key makes two writers of one id
  collide like two writers of one aggregate version (an ``IntegrityError``, retried by the application).
- ``debtor_claims``: which claims a debtor has (debtor id, claim id), written when the claim is
  invoiced, so issuing invoices on a debtor's claims never writes the debtor aggregate (two billing
  runs touching one debtor do not conflict). Older claims are in the debtor's ``ClaimAttached`` events.
- expectations (``Expect``): "this aggregate is still at version n" / "this debtor still has n claims",
  checked under the event table's lock before anything is written, so a claim invoiced while the debtor's
  death is being registered cannot miss the death — one of the two saves fails and is retried.

``MemoryRecorder`` (tests, what-if runs), ``PostgresRecorder`` (the event store) and ``SQLiteRecorder`` (a
file store some tests share between applications) implement it;
``CollectionApp`` builds them in place of eventsourcing's own application recorders.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, is_dataclass
from datetime import date
from decimal import Decimal
from enum import Enum
from typing import Any
from uuid import UUID

from eventsourcing.persistence import IntegrityError, StoredEvent
from eventsourcing.popo import POPOApplicationRecorder
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder
from psycopg import sql
from psycopg.pq import TransactionStatus


@dataclass(frozen=True, slots=True)
class CommandEntry:
    """One command id as recorded: in ``namespace`` (the application's id namespace), sent for ``scope``
    (the creditor, or the collection office for a debtor's commands)."""

    namespace: str
    scope: str
    command_id: str
    name: str
    digest: str


@dataclass(frozen=True, slots=True)
class Expect:
    """A read the save depends on: ``kind`` ``version`` (the aggregate ``ident`` is still at version
    ``value``; 0: not stored) or ``claims`` (the debtor ``ident`` still has ``value`` claims listed)."""

    kind: str
    ident: UUID
    value: int


class ExpectationFailed(IntegrityError):
    """What a save read has changed since: nothing was written; run the command again."""


_AS_IS = frozenset({str, int, bool, float})


def _plain(value: Any) -> Any:
    """A JSON value for ``value`` that is the same for the same meaning (``10.0`` and ``10.00`` alike)."""
    if value is None or type(value) in _AS_IS:  # the common case first (exact types: subclasses go below)
        return value
    if isinstance(value, Decimal):
        text = format(value.normalize(), "f") if value == value else "NaN"
        return {"decimal": text}
    if isinstance(value, (date, UUID)):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    if is_dataclass(value) and not isinstance(value, type):
        return _plain(asdict(value))
    if hasattr(value, "as_dict"):
        return _plain(value.as_dict())
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [_plain(v) for v in value]
        return sorted(items, key=json.dumps) if isinstance(value, (set, frozenset)) else items
    if isinstance(value, bytes):
        return value.hex()
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    raise TypeError(f"a command argument of type {type(value).__name__} has no canonical form")


def canonical(name: str, arguments: Mapping[str, Any]) -> bytes:
    """The command's content as canonical JSON: its name and its normalised arguments, keys sorted."""
    return json.dumps([name, _plain(arguments)], sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def content_digest(key: bytes, name: str, arguments: Mapping[str, Any]) -> str:
    """HMAC-SHA256 of ``canonical``: comparable, and no dictionary reverses a national id from it."""
    return digest_of(key, canonical(name, arguments))


def digest_of(key: bytes, canonical_content: bytes) -> str:
    """``content_digest`` of a command whose canonical form the caller wrote itself (a batch's fixed shape)."""
    keyed = _keyed.get(key)
    if keyed is None:
        if len(_keyed) >= 16:
            _keyed.clear()
        keyed = _keyed[key] = hmac.new(key, digestmod=hashlib.sha256)
    h = keyed.copy()  # the key's HMAC state, set up once (a third of the cost of a command's digest)
    h.update(canonical_content)
    return h.hexdigest()


_keyed: dict[bytes, hmac.HMAC] = {}
"""An HMAC-SHA256 keyed by each key ``digest_of`` was given and fed nothing: copied for each digest. An
application has one key or two (the office's secret, the id key)."""


class CommandLog:
    """What both recorders answer besides events."""

    def find_command(self, namespace: str, scope: str, command_id: str) -> CommandEntry | None:
        raise NotImplementedError

    def find_commands(self, namespace: str, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], CommandEntry]:
        """The recorded commands among ``keys`` (scope, command id), by key: one query for a batch."""
        found = ((key, self.find_command(namespace, *key)) for key in keys)
        return {key: entry for key, entry in found if entry is not None}

    def claims_of(self, debtor: UUID) -> list[UUID]:
        """The claims recorded for ``debtor`` in ``debtor_claims``, in the order they were invoiced."""
        raise NotImplementedError


class MemoryRecorder(POPOApplicationRecorder, CommandLog):
    """The in-memory recorder with the command log (one lock guards events and log alike)."""

    def __init__(self) -> None:
        super().__init__()
        self._commands: dict[tuple[str, str, str], CommandEntry] = {}
        self._claims: dict[UUID, list[UUID]] = {}

    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        commands: Sequence[CommandEntry] = kwargs.get("commands") or ()
        links: Sequence[tuple[UUID, UUID]] = kwargs.get("links") or ()
        expect: Sequence[Expect] = kwargs.get("expect") or ()
        with self._database_lock:
            for e in expect:
                self._check(e)
            keys = [(c.namespace, c.scope, c.command_id) for c in commands]
            if len(set(keys)) < len(keys) or any(k in self._commands for k in keys):
                raise IntegrityError(f"command id already recorded: {keys}")
            ids = super().insert_events(stored_events)
            self._commands.update(zip(keys, commands, strict=True))
            for debtor, claim in links:
                self._claims.setdefault(debtor, []).append(claim)
            return ids

    def _check(self, e: Expect) -> None:
        if e.kind == "claims":
            now = len(self._claims.get(e.ident, []))
        else:
            now = max(self._stored_events_index.get(str(e.ident), {}) or [0])
        if now != e.value:
            raise ExpectationFailed(f"{e.kind} of {e.ident} is {now}, not {e.value}")

    def find_command(self, namespace: str, scope: str, command_id: str) -> CommandEntry | None:
        with self._database_lock:
            return self._commands.get((namespace, scope, command_id))

    def claims_of(self, debtor: UUID) -> list[UUID]:
        with self._database_lock:
            return list(self._claims.get(debtor, []))


CREATE_TABLES_LOCK = 0x6B72_6176_7361_6B01
"""The advisory lock key ("kravsak" and 1) every process takes while it creates the event store's tables."""


class PostgresRecorder(PostgresApplicationRecorder, CommandLog):
    """The PostgreSQL recorder with the command log: ``<events table>_commands`` and
    ``<events table>_debtor_claims`` in the event store's schema, written in the events' transaction."""

    def __init__(self, datastore: Any, *, events_table_name: str = "stored_events") -> None:
        super().__init__(datastore, events_table_name=events_table_name)
        schema = sql.Identifier(self.datastore.schema)
        self.commands_table = sql.SQL("{}.{}").format(schema, sql.Identifier(f"{events_table_name}_commands"))
        self.claims_table = sql.SQL("{}.{}").format(schema, sql.Identifier(f"{events_table_name}_debtor_claims"))
        self.events_table = sql.SQL("{}.{}").format(schema, sql.Identifier(events_table_name))
        # A batch's rows go as one binary array per column: psycopg's text form of the composite-type array
        # eventsourcing sends quotes every field with a regular expression (ADR 0022); ORDINALITY keeps the
        # order, which is the order of the notification ids.
        self.insert_rows_statement = sql.SQL(
            "INSERT INTO {} (originator_id, originator_version, topic, state) "
            "SELECT i, v, t, s FROM unnest(%b::{}[], %b::int8[], %b::text[], %b::bytea[]) "
            "WITH ORDINALITY AS u(i, v, t, s, n) ORDER BY n RETURNING notification_id"
        ).format(self.events_table, sql.Identifier(self.datastore.originator_id_type))
        self.insert_commands_statement = sql.SQL(
            "INSERT INTO {} (namespace, scope, command_id, name, digest) "
            "SELECT * FROM unnest(%b::text[], %b::text[], %b::text[], %b::text[], %b::text[])"
        ).format(self.commands_table)
        self.insert_links_statement = sql.SQL(
            "INSERT INTO {} (debtor_id, claim_id) SELECT d, c FROM unnest(%b::uuid[], %b::uuid[]) WITH ORDINALITY "
            "AS u(d, c, n) ORDER BY n ON CONFLICT DO NOTHING"
        ).format(self.claims_table)
        self.sql_create_statements.append(
            sql.SQL(
                "CREATE TABLE IF NOT EXISTS {} (namespace text NOT NULL, scope text NOT NULL, "
                "command_id text NOT NULL, name text NOT NULL, digest text NOT NULL, "
                "recorded_at timestamptz NOT NULL DEFAULT now(), "
                "PRIMARY KEY (namespace, scope, command_id))"
            ).format(self.commands_table)
        )
        self.sql_create_statements.append(
            sql.SQL(
                "CREATE TABLE IF NOT EXISTS {} (debtor_id uuid NOT NULL, claim_id uuid NOT NULL, seq bigserial, "
                "PRIMARY KEY (debtor_id, claim_id))"
            ).format(self.claims_table)
        )

    @contextmanager
    def creating_tables(self) -> Iterator[None]:
        """One creator of tables at a time (a session advisory lock, on a connection held meanwhile): processes
        that start together — the API beside a projector, a test's two workers — otherwise race in PostgreSQL's
        catalogue on the same ``IF NOT EXISTS`` statements ("tuple concurrently updated", a type created twice)
        and one of them fails. ``CollectionApp`` creates its snapshot store's tables inside it too."""
        with self.datastore.get_connection() as conn:
            conn.execute("SELECT pg_advisory_lock(%s)", (CREATE_TABLES_LOCK,))
            try:
                yield
            finally:
                conn.execute("SELECT pg_advisory_unlock(%s)", (CREATE_TABLES_LOCK,))

    def create_table(self) -> None:
        """eventsourcing's, inside ``creating_tables``."""
        with self.creating_tables():
            super().create_table()

    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        commands: Sequence[CommandEntry] = kwargs.get("commands") or ()
        links: Sequence[tuple[UUID, UUID]] = kwargs.get("links") or ()
        expect: Sequence[Expect] = kwargs.get("expect") or ()
        if not (commands or links or expect):
            plain: Sequence[int] | None = super().insert_events(stored_events)
            return plain
        ids: Sequence[int] | None = None
        # One pipeline, the transaction's BEGIN and COMMIT sent as statements in it (psycopg's transaction()
        # inside a pipeline syncs at each of its edges): a round trip for the expectations, if any, and one for
        # the rest. A failed statement skips the rest up to the sync, which raises; the open transaction is then
        # rolled back, so nothing of the save stays.
        with self.datastore.get_connection() as conn:
            assert conn.autocommit
            try:
                with conn.pipeline() as pipeline, conn.cursor() as curs, conn.cursor() as control:
                    control.execute("BEGIN")
                    self._lock_table(curs)  # before the checks: no other writer commits between them and the inserts
                    self._check(curs, expect)
                    if commands:
                        rows = [(c.namespace, c.scope, c.command_id, c.name, c.digest) for c in commands]
                        columns = [list(column) for column in zip(*rows, strict=True)]
                        curs.execute(self.insert_commands_statement, columns)
                    if links:
                        curs.execute(self.insert_links_statement, ([d for d, _ in links], [c for _, c in links]))
                    if stored_events:
                        self._notify_channel(curs)
                        self._insert_rows(curs, stored_events)
                    control.execute("COMMIT")
                    pipeline.sync()  # a command id or a version another writer recorded first fails here
                    if stored_events:
                        ids = self._fetch_ids_after_insert_events(curs, stored_events)
            except BaseException:
                if conn.info.transaction_status != TransactionStatus.IDLE:
                    conn.rollback()
                raise
        return ids

    def _insert_stored_events(self, curs: Any, stored_events: Sequence[StoredEvent], **kwargs: Any) -> None:
        """eventsourcing's insert (the table's lock, the notification), the rows as four binary arrays."""
        self._lock_table(curs)
        self._notify_channel(curs)
        self._insert_rows(curs, stored_events)

    def _insert_rows(self, curs: Any, stored_events: Sequence[StoredEvent]) -> None:
        curs.execute(
            self.insert_rows_statement,
            (
                [e.originator_id for e in stored_events],
                [e.originator_version for e in stored_events],
                [e.topic for e in stored_events],
                [e.state for e in stored_events],
            ),
        )

    def _check(self, curs: Any, expect: Sequence[Expect]) -> None:
        """Every expectation in one query per kind (a batch may hold thousands, all under the table's lock)."""
        queries = {
            "claims": sql.SQL("SELECT debtor_id AS id, count(*) AS n FROM {} WHERE debtor_id = ANY(%s) GROUP BY 1"),
            "version": sql.SQL(
                "SELECT originator_id AS id, max(originator_version) AS n FROM {} WHERE originator_id = ANY(%s) "
                "GROUP BY 1"
            ),
        }
        tables = {"claims": self.claims_table, "version": self.events_table}
        for kind, query in queries.items():
            wanted = {e.ident: e.value for e in expect if e.kind == kind}
            if not wanted:
                continue
            curs.execute(query.format(tables[kind]), (list(wanted),))
            now = {row["id"]: row["n"] for row in curs.fetchall()}
            for ident, value in wanted.items():
                if now.get(ident, 0) != value:
                    raise ExpectationFailed(f"{kind} of {ident} is {now.get(ident, 0)}, not {value}")

    def find_command(self, namespace: str, scope: str, command_id: str) -> CommandEntry | None:
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(
                sql.SQL("SELECT name, digest FROM {} WHERE namespace = %s AND scope = %s AND command_id = %s").format(
                    self.commands_table
                ),
                (namespace, scope, command_id),
                prepare=True,
            )
            row = curs.fetchone()
        return None if row is None else CommandEntry(namespace, scope, command_id, row["name"], row["digest"])

    def find_commands(self, namespace: str, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], CommandEntry]:
        if not keys:
            return {}
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(self.find_commands_query(), ([k[0] for k in keys], [k[1] for k in keys], namespace))
            rows = curs.fetchall()
        return {(r["scope"], r["command_id"]): CommandEntry(namespace, r["scope"], r["command_id"], r["name"],
                r["digest"]) for r in rows}  # fmt: skip

    def find_commands_query(self) -> sql.Composed:
        """``find_commands``' statement (scopes, command ids, namespace): one look-up of the whole key per command
        (OFFSET 0 keeps it one), whatever the statistics say. Joined the plain way, a table still without them
        is taken for one of many namespaces and read whole for every save (ADR 0037)."""
        return sql.SQL(
            "SELECT k.scope, k.id AS command_id, c.name, c.digest FROM unnest(%s::text[], %s::text[]) AS k(scope, id) "
            "CROSS JOIN LATERAL (SELECT name, digest FROM {} WHERE namespace = %s AND scope = k.scope "
            "AND command_id = k.id OFFSET 0) AS c"
        ).format(self.commands_table)

    def claims_of(self, debtor: UUID) -> list[UUID]:
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(
                sql.SQL("SELECT claim_id FROM {} WHERE debtor_id = %s ORDER BY seq").format(self.claims_table),
                (debtor,),
            )
            return [row["claim_id"] for row in curs.fetchall()]


class SQLiteRecorder(SQLiteApplicationRecorder, CommandLog):
    """The SQLite recorder with the command log (SQLite runs one writing transaction at a time)."""

    def __init__(self, datastore: Any, events_table_name: str = "stored_events") -> None:
        self.commands_table = f"{events_table_name}_commands"  # before the base builds its create statements
        self.claims_table = f"{events_table_name}_debtor_claims"
        super().__init__(datastore, events_table_name)

    def construct_create_table_statements(self) -> list[str]:
        return [
            *super().construct_create_table_statements(),
            f"CREATE TABLE IF NOT EXISTS {self.commands_table} (namespace TEXT, scope TEXT, command_id TEXT, "
            "name TEXT, digest TEXT, PRIMARY KEY (namespace, scope, command_id))",
            f"CREATE TABLE IF NOT EXISTS {self.claims_table} (debtor_id TEXT, claim_id TEXT, "
            "PRIMARY KEY (debtor_id, claim_id))",
        ]

    def _insert_events(self, c: Any, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        commands: Sequence[CommandEntry] = kwargs.get("commands") or ()
        links: Sequence[tuple[UUID, UUID]] = kwargs.get("links") or ()
        for e in kwargs.get("expect") or ():
            if e.kind == "claims":
                c.execute(f"SELECT count(*) FROM {self.claims_table} WHERE debtor_id = ?", (e.ident.hex,))
            else:
                events = self.events_table_name
                c.execute(
                    f"SELECT coalesce(max(originator_version), 0) FROM {events} WHERE originator_id = ?", (e.ident.hex,)
                )
            now = c.fetchone()[0]
            if now != e.value:
                raise ExpectationFailed(f"{e.kind} of {e.ident} is {now}, not {e.value}")
        c.executemany(
            f"INSERT INTO {self.commands_table} VALUES (?, ?, ?, ?, ?)",
            [(x.namespace, x.scope, x.command_id, x.name, x.digest) for x in commands],
        )
        c.executemany(f"INSERT OR IGNORE INTO {self.claims_table} VALUES (?, ?)", [(d.hex, k.hex) for d, k in links])
        ids: Sequence[int] | None = super()._insert_events(c, stored_events)
        return ids

    def find_command(self, namespace: str, scope: str, command_id: str) -> CommandEntry | None:
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                f"SELECT name, digest FROM {self.commands_table} WHERE namespace = ? AND scope = ? AND command_id = ?",
                (namespace, scope, command_id),
            )
            row = c.fetchone()
        return None if row is None else CommandEntry(namespace, scope, command_id, row[0], row[1])

    def claims_of(self, debtor: UUID) -> list[UUID]:
        with self.datastore.transaction(commit=False) as c:
            c.execute(f"SELECT claim_id FROM {self.claims_table} WHERE debtor_id = ? ORDER BY rowid", (debtor.hex,))
            return [UUID(row[0]) for row in c.fetchall()]
