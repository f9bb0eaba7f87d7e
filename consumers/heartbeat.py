"""Heartbeats: each running service says every few seconds that it lives, and how far behind it is.

``kravsak_ops.heartbeats`` holds one row per service process (service, host, pid): when it started,
its last beat, its state (``running``; ``reconnecting`` while it rides out an outage; ``standby``
while another publisher holds the lock), its lag and its position (the publisher: the last
notification published or held; a consumer: the sum of its stored next offsets over the partitions
it holds). A beat is written from the service's own loop, never from a side thread, so a service
that hangs stops beating. A beat that cannot be written (PostgreSQL down) is skipped; the row then
grows stale, which is exactly what `kravsak health SERVICE` reports (exit 1). A service that stops
cleanly deletes its row; a killed one leaves a stale row that the next beat of a process with the
same host and pid would overwrite, and that `kravsak status` shows as stale.
"""

from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
import structlog
from psycopg import sql

from consumers.outages import OUTAGES, describe

SCHEMA = "kravsak_ops"
TABLE = "heartbeats"
DEFAULT_INTERVAL_S = 5.0
DEFAULT_STALE_S = 30.0
"""A beat older than this is stale (six missed beats at the default interval)."""

log = structlog.get_logger("kravsak.heartbeat")


def _t() -> sql.Composed:
    return sql.SQL("{}.{}").format(sql.Identifier(SCHEMA), sql.Identifier(TABLE))


def ensure_table(conn: psycopg.Connection[Any]) -> None:
    """The table, made once (`kravsak up` makes it as the owner and lets the services write it: a service role
    may not create in the schema, so an existing table is left alone without asking)."""
    found = conn.execute("SELECT to_regclass(%s)", (f"{SCHEMA}.{TABLE}",)).fetchone()
    if found is not None and found[0] is not None:
        return
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(hashtext('kravsak-ddl'))")  # services start together
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(SCHEMA)))
        conn.execute(
            sql.SQL(
                "CREATE TABLE IF NOT EXISTS {} (service text NOT NULL, host text NOT NULL, pid int NOT NULL, "
                "name text NOT NULL, started_at timestamptz NOT NULL, beat_at timestamptz NOT NULL, "
                "state text NOT NULL, lag bigint, position bigint, PRIMARY KEY (service, host, pid))"
            ).format(_t())
        )


@dataclass(frozen=True, slots=True)
class Beat:
    """One service process as its last beat left it."""

    service: str
    host: str
    pid: int
    name: str
    started_at: datetime
    beat_at: datetime
    state: str
    lag: int | None
    position: int | None
    age_s: float
    """Seconds since the beat, by the database's clock."""

    def stale(self, max_age_s: float = DEFAULT_STALE_S) -> bool:
        return self.age_s > max_age_s


def beats(conn: psycopg.Connection[Any], service: str | None = None) -> list[Beat]:
    """Every service's last beat (or one service's), freshest first; none before any service beat."""
    row = conn.execute("SELECT to_regclass(%s)", (f"{SCHEMA}.{TABLE}",)).fetchone()
    if row is None or row[0] is None:
        return []
    where, args = (sql.SQL("WHERE service = %s"), (service,)) if service else (sql.SQL(""), ())
    rows = conn.execute(
        sql.SQL(
            "SELECT service, host, pid, name, started_at, beat_at, state, lag, position, "
            "extract(epoch FROM now() - beat_at)::float FROM {} {} ORDER BY service, beat_at DESC"
        ).format(_t(), where),
        args,
    ).fetchall()
    return [
        Beat(str(s), str(h), int(p), str(n), st, b, str(state), lag, pos, float(age))
        for s, h, p, n, st, b, state, lag, pos, age in rows
    ]


class Heartbeat:
    """The beating side, one per service process. ``beat`` is cheap to call often: it writes at most
    every ``interval_s`` (``due`` tells whether a beat would be written, so a caller computes its
    lag only then). Its own autocommit connection, made again after an outage."""

    def __init__(self, dsn: str, service: str, *, name: str = "", interval_s: float = DEFAULT_INTERVAL_S) -> None:
        self.dsn, self.service, self.name, self.interval_s = dsn, service, name or service, interval_s
        self.host, self.pid = socket.gethostname(), os.getpid()
        self.started_at = datetime.now().astimezone()
        self._conn: psycopg.Connection[Any] | None = None
        self._last = 0.0

    def due(self) -> bool:
        return time.monotonic() - self._last >= self.interval_s

    def beat(self, *, state: str = "running", lag: int | None = None, position: int | None = None) -> bool:
        """Write the beat now (whether due or not); False when PostgreSQL could not take it."""
        self._last = time.monotonic()
        try:
            conn = self._connection()
            conn.execute(
                sql.SQL(
                    "INSERT INTO {} VALUES (%s, %s, %s, %s, %s, now(), %s, %s, %s) ON CONFLICT (service, host, pid) "
                    "DO UPDATE SET name = EXCLUDED.name, started_at = EXCLUDED.started_at, beat_at = now(), "
                    "state = EXCLUDED.state, lag = EXCLUDED.lag, position = EXCLUDED.position"
                ).format(_t()),
                (self.service, self.host, self.pid, self.name, self.started_at, state, lag, position),
            )
            return True
        except OUTAGES as exc:
            log.debug("heartbeat skipped", service=self.service, error=describe(exc))
            self._drop()
            return False

    def close(self) -> None:
        """The service stopped cleanly: its row goes."""
        try:
            self._connection().execute(
                sql.SQL("DELETE FROM {} WHERE service = %s AND host = %s AND pid = %s").format(_t()),
                (self.service, self.host, self.pid),
            )
        except OUTAGES as exc:
            log.debug("heartbeat row left behind", service=self.service, error=describe(exc))
        self._drop()

    def _connection(self) -> psycopg.Connection[Any]:
        if self._conn is None or self._conn.closed:
            self._conn = psycopg.connect(self.dsn, autocommit=True, connect_timeout=5)
            ensure_table(self._conn)
        return self._conn

    def _drop(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
