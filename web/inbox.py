"""What debtors send the office through the pages, kept by the web edge (schema ``kravsak_web``):

- ``applications``: every self-service application for a payment plan or a deferral with the instant
  decision (``domain.policy.decide_plan`` / ``decide_deferral``): approved at once (the plan or
  deferral is then a case event, recorded by the same command), or referred to a caseworker with the
  reason — the caseworkers' "plan and deferral applications" worklist. A caseworker then approves
  (the same command again, run by the caseworker) or refuses, with a note the debtor reads.
  No personal data: amounts, dates, codes, the opaque debtor id.
- ``messages``: the thread between a debtor and their collection office. A message is personal data:
  its text is sealed (AES-256-GCM) under the debtor's own ``messages`` key from the register
  (``personal``), so erasing the debtor turns every copy of it into noise, and it never enters a case
  event. Who wrote it, when and about which case are plain (for the worklist).

Both are written once and only their status columns change.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from psycopg import Connection, sql
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from personal.keys import KeyProvider
from personal.register import DebtorErased, DebtorRegister
from personal.sealing import SealBroken, open_sealed, seal

SCHEMA = "kravsak_web"
MAX_MESSAGE = 4000


def ensure_inbox_tables(conn: Connection[Any], schema: str = SCHEMA) -> None:
    s = sql.Identifier(schema)
    with conn.transaction(), conn.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(hashtext('kravsak-web-inbox-ddl'))")
        cur.execute(
            sql.SQL("""
            CREATE SCHEMA IF NOT EXISTS {s};
            CREATE TABLE IF NOT EXISTS {s}.applications (
                id bigserial PRIMARY KEY, command_id text NOT NULL UNIQUE, kind text NOT NULL,
                case_id text NOT NULL, creditor_id text NOT NULL, invoice text NOT NULL, debtor_id text NOT NULL,
                office text NOT NULL, applied_on date NOT NULL, principal text NOT NULL,
                decision text NOT NULL, reason text, limit_value text, request jsonb NOT NULL,
                status text NOT NULL, decided_on date, decided_by text, note text,
                created_at timestamptz NOT NULL DEFAULT now());
            CREATE INDEX IF NOT EXISTS applications_office ON {s}.applications (office, status, id);
            CREATE INDEX IF NOT EXISTS applications_debtor ON {s}.applications (debtor_id, id);
            CREATE TABLE IF NOT EXISTS {s}.messages (
                id bigserial PRIMARY KEY, debtor_id text NOT NULL, office text NOT NULL, case_id text,
                creditor_id text, invoice text, author text NOT NULL, author_kind text NOT NULL,
                body_sealed bytea NOT NULL, created_at timestamptz NOT NULL DEFAULT now(),
                handled_at timestamptz, handled_by text);
            CREATE INDEX IF NOT EXISTS messages_debtor ON {s}.messages (debtor_id, id);
            CREATE INDEX IF NOT EXISTS messages_office ON {s}.messages (office, handled_at, id);
            """).format(s=s)
        )


# --- applications --------------------------------------------------------------------------------


@dataclass(frozen=True)
class NewApplication:
    command_id: str
    kind: str  # payment_plan | deferral
    case_id: str
    creditor_id: str
    invoice: str
    debtor_id: str
    office: str
    applied_on: date
    principal: str
    decision: str  # approved | referred
    reason: str | None
    limit: str | None
    request: dict[str, Any]


class Applications:
    def __init__(self, pool: ConnectionPool[Any], schema: str = SCHEMA) -> None:
        self.pool = pool
        self.table = sql.SQL("{}.applications").format(sql.Identifier(schema))

    def record(self, a: NewApplication) -> int:
        """Store the application once (a repeat of the same command finds the first); returns its id."""
        with self.pool.connection() as conn:
            row = conn.execute(
                sql.SQL(
                    "INSERT INTO {} (command_id, kind, case_id, creditor_id, invoice, debtor_id, office, applied_on, "
                    "principal, decision, reason, limit_value, request, status, decided_on, decided_by) "
                    "VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s) "
                    "ON CONFLICT (command_id) DO UPDATE SET command_id = EXCLUDED.command_id RETURNING id"
                ).format(self.table),
                (
                    a.command_id,
                    a.kind,
                    a.case_id,
                    a.creditor_id,
                    a.invoice,
                    a.debtor_id,
                    a.office,
                    a.applied_on,
                    a.principal,
                    a.decision,
                    a.reason,
                    a.limit,
                    json.dumps(a.request, default=str),
                    a.decision,
                    a.applied_on if a.decision == "approved" else None,
                    "policy" if a.decision == "approved" else None,
                ),  # fmt: skip
            ).fetchone()
        assert row is not None
        return int(row[0])

    def get(self, application_id: int) -> dict[str, Any] | None:
        with self.pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            cur.execute(sql.SQL("SELECT * FROM {} WHERE id = %s").format(self.table), (application_id,))
            row: dict[str, Any] | None = cur.fetchone()
            return row

    def by_command(self, command_id: str) -> dict[str, Any] | None:
        with self.pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            cur.execute(sql.SQL("SELECT * FROM {} WHERE command_id = %s").format(self.table), (command_id,))
            row: dict[str, Any] | None = cur.fetchone()
            return row

    def of_debtors(self, debtor_ids: list[str], limit: int = 50) -> list[dict[str, Any]]:
        with self.pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            cur.execute(
                sql.SQL("SELECT * FROM {} WHERE debtor_id = ANY(%s) ORDER BY id DESC LIMIT %s").format(self.table),
                (debtor_ids, limit),
            )
            found: list[dict[str, Any]] = cur.fetchall()
            return found

    def of_case(self, case_id: str) -> list[dict[str, Any]]:
        with self.pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            cur.execute(sql.SQL("SELECT * FROM {} WHERE case_id = %s ORDER BY id").format(self.table), (case_id,))
            found: list[dict[str, Any]] = cur.fetchall()
            return found

    def referred(self, offices: list[str] | None, *, limit: int, offset: int, order: str) -> list[dict[str, Any]]:
        """Applications awaiting a caseworker (``offices`` None: every office), in ``order`` (a column
        chosen from a fixed list by the caller)."""
        where = sql.SQL("status = 'referred'") + (
            sql.SQL(" AND office = ANY(%(offices)s)") if offices is not None else sql.SQL("")
        )
        with self.pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            cur.execute(
                sql.SQL("SELECT * FROM {} WHERE {} ORDER BY {} LIMIT %(limit)s OFFSET %(offset)s").format(
                    self.table, where, sql.SQL(order)
                ),
                {"offices": offices, "limit": limit + 1, "offset": offset},
            )
            found: list[dict[str, Any]] = cur.fetchall()
            return found

    def decide(self, application_id: int, *, status: str, on: date, by: str, note: str | None) -> bool:
        """A caseworker's decision on a referred application; False when it was decided already."""
        with self.pool.connection() as conn:
            row = conn.execute(
                sql.SQL(
                    "UPDATE {} SET status = %s, decided_on = %s, decided_by = %s, note = %s "
                    "WHERE id = %s AND status = 'referred' RETURNING id"
                ).format(self.table),
                (status, on, by, note, application_id),
            ).fetchone()
        return row is not None


# --- messages ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Message:
    id: int
    debtor_id: str
    office: str
    case_id: str | None
    creditor_id: str | None
    invoice: str | None
    author: str
    author_kind: str  # debtor | staff
    text: str  # "" when the debtor was erased
    created_at: datetime
    handled_at: datetime | None


class Messages:
    """The message threads; texts sealed under each debtor's ``messages`` key."""

    def __init__(self, pool: ConnectionPool[Any], keys: KeyProvider | None, office_secret: bytes | None,
                 schema: str = SCHEMA) -> None:  # fmt: skip
        self.pool, self.keys, self.secret = pool, keys, office_secret
        self.table = sql.SQL("{}.messages").format(sql.Identifier(schema))

    @property
    def enabled(self) -> bool:
        return self.keys is not None and self.secret is not None

    def _key(self, conn: Connection[Any], debtor_id: str) -> bytes:
        if self.keys is None or self.secret is None:
            raise RuntimeError("messages need the office's master key (WebConfig.keys)")
        return DebtorRegister(conn, self.keys, self.secret).messages_key(debtor_id)

    def send(
        self,
        *,
        debtor_id: str,
        office: str,
        author: str,
        author_kind: str,
        text: str,
        case: tuple[str, str, str] | None = None,
    ) -> int:
        """Store one message (``case``: case id, creditor, invoice it is about). A staff reply marks the
        debtor's earlier messages handled."""
        with self.pool.connection() as conn:
            key = self._key(conn, debtor_id)
            with conn.transaction():
                row = conn.execute(
                    sql.SQL(
                        "INSERT INTO {} (debtor_id, office, case_id, creditor_id, invoice, author, author_kind, "
                        "body_sealed) VALUES (%s,%s,%s,%s,%s,%s,%s,%s) RETURNING id"
                    ).format(self.table),
                    (
                        debtor_id,
                        office,
                        *(case or (None, None, None)),
                        author,
                        author_kind,
                        b"",
                    ),  # fmt: skip
                ).fetchone()
                assert row is not None
                ident = int(row[0])
                sealed = seal(key, text.encode("utf-8"), aad=f"messages:{debtor_id}:{ident}")
                conn.execute(
                    sql.SQL("UPDATE {} SET body_sealed = %s WHERE id = %s").format(self.table), (sealed, ident)
                )
                if author_kind == "staff":
                    conn.execute(
                        sql.SQL(
                            "UPDATE {} SET handled_at = now(), handled_by = %s "
                            "WHERE debtor_id = %s AND author_kind = 'debtor' AND handled_at IS NULL"
                        ).format(self.table),
                        (author, debtor_id),
                    )
        return ident

    def thread(self, debtor_id: str, limit: int = 200) -> list[Message]:
        """The debtor's messages, oldest first (the last ``limit``)."""
        with self.pool.connection() as conn:
            try:
                key: bytes | None = self._key(conn, debtor_id)
            except DebtorErased:
                key = None
            with conn.cursor(row_factory=dict_row) as cur:
                cur.execute(
                    sql.SQL(
                        "SELECT * FROM (SELECT * FROM {} WHERE debtor_id = %s ORDER BY id DESC LIMIT %s) m ORDER BY id"
                    ).format(self.table),
                    (debtor_id, limit),
                )
                rows = cur.fetchall()
        out = []
        for r in rows:
            text = ""
            if key is not None:
                try:
                    text = open_sealed(key, bytes(r["body_sealed"]), aad=f"messages:{debtor_id}:{r['id']}").decode()
                except SealBroken:
                    text = ""
            out.append(
                Message(
                    r["id"],
                    r["debtor_id"],
                    r["office"],
                    r["case_id"],
                    r["creditor_id"],
                    r["invoice"],
                    r["author"],
                    r["author_kind"],
                    text,
                    r["created_at"],
                    r["handled_at"],
                )  # fmt: skip
            )
        return out

    def waiting(self, offices: list[str] | None, *, limit: int, offset: int, order: str) -> list[dict[str, Any]]:
        """Per debtor: the messages not yet answered (no text: the list shows who and when)."""
        where = sql.SQL("author_kind = 'debtor' AND handled_at IS NULL") + (
            sql.SQL(" AND office = ANY(%(offices)s)") if offices is not None else sql.SQL("")
        )
        with self.pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            cur.execute(
                sql.SQL(
                    "SELECT * FROM (SELECT debtor_id, office, count(*) AS waiting, min(created_at) AS first_at, "
                    "max(created_at) AS last_at, (array_agg(invoice ORDER BY id DESC))[1] AS invoice, "
                    "(array_agg(creditor_id ORDER BY id DESC))[1] AS creditor_id "
                    "FROM {} WHERE {} GROUP BY debtor_id, office) q ORDER BY {} LIMIT %(limit)s OFFSET %(offset)s"
                ).format(self.table, where, sql.SQL(order)),
                {"offices": offices, "limit": limit + 1, "offset": offset},
            )
            found: list[dict[str, Any]] = cur.fetchall()
            return found
