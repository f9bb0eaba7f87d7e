"""The publisher's held cases: events it could not publish, and the later events of their cases.

``kravsak_publisher_held`` lives in the event store's schema beside the publisher's position, one
row per held notification, keyed by the publisher's name and the notification id. A case (the
aggregate id, which is also the Kafka key) is *held* while it has a row here: the publisher writes
every later event of that case here too instead of to Kafka, so the topic never holds a case's event
after one that is missing. The rows are written in the same transaction that moves the position.

An operator releases a held case after a fix (``kravsak publisher release CASE``): that marks the
case's rows ``release_requested`` and wakes the publisher, which on its next round prepares the rows
again in notification order, sends what now encodes, deletes those rows and keeps the rest held with
the new error. Only the active publisher (the one holding the position lock) ever publishes or
deletes a held row, so a release never races a round.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql

HELD_TABLE = "kravsak_publisher_held"
WAITING = "waiting behind held notification {}"


@dataclass(frozen=True, slots=True)
class HeldEvent:
    """One held notification: which, of which case, and why."""

    notification_id: int
    case_id: str
    version: int
    event_type: str
    event_id: str
    error: str
    held_at: datetime | None = None
    release_requested: bool = False


@dataclass(frozen=True, slots=True)
class HeldCase:
    """A held case as `kravsak publisher held` lists it: its first held event gives the reason."""

    case_id: str
    events: int
    first: HeldEvent
    release_requested: bool


@dataclass(frozen=True)
class HeldTable:
    """``<schema>.kravsak_publisher_held`` for the publisher named ``name``."""

    name: str
    schema: str = "public"

    @property
    def _t(self) -> sql.Composed:
        return sql.SQL("{}.{}").format(sql.Identifier(self.schema), sql.Identifier(HELD_TABLE))

    def create(self, conn: psycopg.Connection[Any]) -> None:
        conn.execute(
            sql.SQL(
                "CREATE TABLE IF NOT EXISTS {} (name text NOT NULL, notification_id bigint NOT NULL, "
                "case_id text NOT NULL, version bigint NOT NULL, event_type text NOT NULL, event_id text NOT NULL, "
                "error text NOT NULL, held_at timestamptz NOT NULL DEFAULT now(), "
                "release_requested boolean NOT NULL DEFAULT false, PRIMARY KEY (name, notification_id))"
            ).format(self._t)
        )

    def exists(self, conn: psycopg.Connection[Any]) -> bool:
        row = conn.execute("SELECT to_regclass(%s)", (f'"{self.schema}".{HELD_TABLE}',)).fetchone()
        return row is not None and row[0] is not None

    def add(self, conn: psycopg.Connection[Any], events: list[HeldEvent]) -> None:
        """Hold ``events`` (a row already there, from a round sent again after a crash, is kept)."""
        if not events:
            return
        with conn.cursor() as cur:
            cur.executemany(
                sql.SQL(
                    "INSERT INTO {} (name, notification_id, case_id, version, event_type, event_id, error) "
                    "VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING"
                ).format(self._t),
                [
                    (self.name, e.notification_id, e.case_id, e.version, e.event_type, e.event_id, e.error)
                    for e in events
                ],
            )

    def first_held(self, conn: psycopg.Connection[Any]) -> dict[str, int]:
        """Each held case and its first held notification."""
        rows = conn.execute(
            sql.SQL("SELECT case_id, min(notification_id) FROM {} WHERE name = %s GROUP BY case_id").format(self._t),
            (self.name,),
        )
        return {str(c): int(n) for c, n in rows.fetchall()}

    def events(self, conn: psycopg.Connection[Any], case_id: str | None = None) -> list[HeldEvent]:
        """The held events (of one case, or all), in notification order."""
        where, args = (sql.SQL(" AND case_id = %s"), (case_id,)) if case_id is not None else (sql.SQL(""), ())
        rows = conn.execute(
            sql.SQL(
                "SELECT notification_id, case_id, version, event_type, event_id, error, held_at, release_requested "
                "FROM {} WHERE name = %s{} ORDER BY notification_id"
            ).format(self._t, where),
            (self.name, *args),
        ).fetchall()
        return [
            HeldEvent(int(n), str(c), int(v), str(t), str(i), str(e), h, bool(r)) for n, c, v, t, i, e, h, r in rows
        ]

    def cases(self, conn: psycopg.Connection[Any]) -> list[HeldCase]:
        """Every held case, the longest held first; none when the publisher never made the table."""
        if not self.exists(conn):
            return []
        by_case: dict[str, list[HeldEvent]] = {}
        for event in self.events(conn):
            by_case.setdefault(event.case_id, []).append(event)
        held = [HeldCase(c, len(es), es[0], any(e.release_requested for e in es)) for c, es in by_case.items()]
        return sorted(held, key=lambda h: h.first.notification_id)

    def request_release(self, conn: psycopg.Connection[Any], case_id: str) -> int:
        """Mark a case's rows for release; how many rows it has (0: the case is not held)."""
        cur = conn.execute(
            sql.SQL("UPDATE {} SET release_requested = true WHERE name = %s AND case_id = %s").format(self._t),
            (self.name, case_id),
        )
        return cur.rowcount

    def requested(self, conn: psycopg.Connection[Any]) -> list[str]:
        """Cases an operator asked to release, the longest held first."""
        rows = conn.execute(
            sql.SQL(
                "SELECT case_id FROM {} WHERE name = %s AND release_requested GROUP BY case_id "
                "ORDER BY min(notification_id)"
            ).format(self._t),
            (self.name,),
        ).fetchall()
        return [str(c) for (c,) in rows]

    def released(self, conn: psycopg.Connection[Any], notification_ids: list[int]) -> None:
        """Rows whose events are now on the topic: gone."""
        conn.execute(
            sql.SQL("DELETE FROM {} WHERE name = %s AND notification_id = ANY(%s)").format(self._t),
            (self.name, notification_ids),
        )

    def still_held(self, conn: psycopg.Connection[Any], case_id: str, notification_id: int, error: str) -> None:
        """A release that failed again: the case stays held, its first row names the new error."""
        conn.execute(
            sql.SQL("UPDATE {} SET release_requested = false WHERE name = %s AND case_id = %s").format(self._t),
            (self.name, case_id),
        )
        conn.execute(
            sql.SQL("UPDATE {} SET error = %s, held_at = now() WHERE name = %s AND notification_id = %s").format(
                self._t
            ),
            (error, self.name, notification_id),
        )
