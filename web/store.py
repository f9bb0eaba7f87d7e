"""The edge's own tables in PostgreSQL (schema ``kravsak_web``), created at start-up:

- ``idempotency``: the first response to every command, keyed by (principal, Idempotency-Key),
  with a hash of the request it answered, so a repeat — after a restart too — gets the same body
  and changes nothing, and a reused key with another request is refused.
- ``access_log``: every read of a case by a person: who (principal id, roles), when, which case,
  through which route, under which request id. Auditors query it through the API.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg import Connection, sql
from psycopg_pool import ConnectionPool

SCHEMA = "kravsak_web"


def ensure_tables(conn: Connection[Any], schema: str = SCHEMA) -> None:
    s = sql.Identifier(schema)
    with conn.transaction(), conn.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(hashtext('kravsak-web-ddl'))")
        cur.execute(
            sql.SQL("""
            CREATE SCHEMA IF NOT EXISTS {s};
            CREATE TABLE IF NOT EXISTS {s}.idempotency (
                principal text NOT NULL, key text NOT NULL, route text NOT NULL, request_hash text NOT NULL,
                status int NOT NULL, media_type text NOT NULL, body bytea NOT NULL,
                created_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (principal, key));
            CREATE TABLE IF NOT EXISTS {s}.access_log (
                id bigserial PRIMARY KEY, at timestamptz NOT NULL DEFAULT now(), principal text NOT NULL,
                roles text NOT NULL, case_id text NOT NULL, creditor_id text, invoice text, route text NOT NULL,
                request_id text NOT NULL);
            CREATE INDEX IF NOT EXISTS access_log_case ON {s}.access_log (case_id, id);
            CREATE INDEX IF NOT EXISTS access_log_principal ON {s}.access_log (principal, id);
            """).format(s=s)
        )


@dataclass(frozen=True)
class StoredResponse:
    route: str
    request_hash: str
    status: int
    media_type: str
    body: bytes


class IdempotencyStore:
    def __init__(self, pool: ConnectionPool[Any], schema: str = SCHEMA) -> None:
        self.pool = pool
        self.table = sql.SQL("{}.idempotency").format(sql.Identifier(schema))

    def get(self, principal: str, key: str) -> StoredResponse | None:
        with self.pool.connection() as conn:
            row = conn.execute(
                sql.SQL(
                    "SELECT route, request_hash, status, media_type, body FROM {} WHERE principal = %s AND key = %s"
                ).format(self.table),
                (principal, key),
            ).fetchone()
        return None if row is None else StoredResponse(row[0], row[1], row[2], row[3], bytes(row[4]))

    def put(self, principal: str, key: str, response: StoredResponse) -> StoredResponse:
        """Store the first response; when another request stored one first, that one is returned.

        Committed without waiting for the disk (``synchronous_commit = off``): the command's events
        are already durable, and should a crash lose this row, the repeat runs the command again under
        the same command id, which the domain recognises — it changes nothing and answers the same."""
        with self.pool.connection() as conn, conn.transaction():
            conn.execute("SET LOCAL synchronous_commit = off")
            row = conn.execute(
                sql.SQL(
                    "INSERT INTO {} (principal, key, route, request_hash, status, media_type, body) "
                    "VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (principal, key) DO NOTHING RETURNING key"
                ).format(self.table),
                (
                    principal,
                    key,
                    response.route,
                    response.request_hash,
                    response.status,
                    response.media_type,
                    response.body,
                ),
            ).fetchone()
        if row is not None:
            return response
        first = self.get(principal, key)
        assert first is not None
        return first


@dataclass(frozen=True)
class CaseRead:
    case_id: str
    creditor_id: str | None
    invoice: str | None


class AccessLog:
    def __init__(self, pool: ConnectionPool[Any], schema: str = SCHEMA) -> None:
        self.pool = pool
        self.table = sql.SQL("{}.access_log").format(sql.Identifier(schema))

    def record(self, principal: str, roles: str, route: str, request_id: str, cases: Sequence[CaseRead]) -> None:
        if not cases:
            return
        with self.pool.connection() as conn, conn.cursor() as cur:
            cur.executemany(
                sql.SQL(
                    "INSERT INTO {} (principal, roles, case_id, creditor_id, invoice, route, request_id) "
                    "VALUES (%s, %s, %s, %s, %s, %s, %s)"
                ).format(self.table),
                [(principal, roles, c.case_id, c.creditor_id, c.invoice, route, request_id) for c in cases],
            )

    def query(
        self,
        *,
        case_id: str | None,
        principal: str | None,
        since: datetime | None,
        until: datetime | None,
        limit: int,
        after: int | None,
    ) -> tuple[list[dict[str, Any]], int | None]:
        where, args = [sql.SQL("true")], []
        for clause, value in (
            ("case_id = %s", case_id),
            ("principal = %s", principal),
            ("at >= %s", since),
            ("at < %s", until),
            ("id > %s", after),
        ):
            if value is not None:
                where.append(sql.SQL(clause))  # fixed text above; the values go as parameters
                args.append(value)
        with self.pool.connection() as conn, conn.cursor() as cur:
            cur.execute(
                sql.SQL(
                    "SELECT id, at, principal, roles, case_id, creditor_id, invoice, route, request_id FROM {} "
                    "WHERE {} ORDER BY id LIMIT %s"
                ).format(self.table, sql.SQL(" AND ").join(where)),
                [*args, limit + 1],
            )
            names = [d.name for d in cur.description or ()]
            rows = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
        more = len(rows) > limit
        rows = rows[:limit]
        return rows, (rows[-1]["id"] if more else None)


__all__ = ["SCHEMA", "AccessLog", "CaseRead", "IdempotencyStore", "StoredResponse", "ensure_tables"]
