"""Who paid (name, account) per bank-file transaction: what a refund's credit transfer needs, kept outside the
event log (personal data; ADR 0019).

The importer hands every batch's payers to ``remember`` before it stores the batch's events, so a refund's
``payee_key`` (``transaction:<id>``) always finds its row. ``forget`` erases a payer's rows once the refunds
that need them are paid out or the retention ends; the events keep only the key.

PostgreSQL: schema ``kravsak_intake``, table ``payers`` (created at first use).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from psycopg import Connection, sql

SCHEMA = "kravsak_intake"
Row = tuple[str, str | None, str | None, str | None]


@dataclass(frozen=True, slots=True)
class Payee:
    name: str | None
    account: str | None
    scheme: str | None  # IBAN, BBAN (a Norwegian account number) or BGNR (a Swedish bankgiro)


def transaction_key(transaction_id: str) -> str:
    return f"transaction:{transaction_id}"


class MemoryPayers:
    """In memory (tests, scenarios)."""

    def __init__(self) -> None:
        self.rows: dict[str, Payee] = {}

    def remember(self, rows: list[Row]) -> None:
        for tx, name, account, scheme in rows:
            self.rows.setdefault(transaction_key(tx), Payee(name, account, scheme))

    def find(self, keys: Iterable[str]) -> dict[str, Payee]:
        return {k: self.rows[k] for k in keys if k in self.rows}


class PgPayers:
    """In PostgreSQL, beside the event store."""

    def __init__(self, conn: Connection[Any], schema: str = SCHEMA) -> None:
        self.conn = conn
        self.table = sql.SQL("{}.payers").format(sql.Identifier(schema))
        with conn.transaction(), conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(hashtext('kravsak-intake-ddl'))")
            cur.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
            cur.execute(
                sql.SQL(
                    "CREATE TABLE IF NOT EXISTS {} (key text PRIMARY KEY, name text, account text, scheme text, "
                    "stored_at timestamptz NOT NULL DEFAULT now())"
                ).format(self.table)
            )

    def remember(self, rows: list[Row]) -> None:
        with self.conn.transaction(), self.conn.cursor() as cur:
            cur.executemany(
                sql.SQL(
                    "INSERT INTO {} (key, name, account, scheme) VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING"
                ).format(self.table),
                [(transaction_key(tx), name, account, scheme) for tx, name, account, scheme in rows],
            )

    def find(self, keys: Iterable[str]) -> dict[str, Payee]:
        wanted = list(keys)
        if not wanted:
            return {}
        rows = self.conn.execute(
            sql.SQL("SELECT key, name, account, scheme FROM {} WHERE key = ANY(%s)").format(self.table), [wanted]
        ).fetchall()
        return {key: Payee(name, account, scheme) for key, name, account, scheme in rows}

    def forget(self, keys: Iterable[str]) -> int:
        with self.conn.transaction():
            cur = self.conn.execute(sql.SQL("DELETE FROM {} WHERE key = ANY(%s)").format(self.table), [list(keys)])
            return cur.rowcount
