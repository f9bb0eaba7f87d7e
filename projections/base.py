"""The contract between projection runners (``consumers/projector.py``) and read models.

A projection owns one PostgreSQL schema (``kravsak_<name>``) holding its tables *and* the Kafka
offsets it has consumed, so a rebuild can be made aside (``kravsak_<name>__next``) and switched in
with one ``ALTER SCHEMA … RENAME`` transaction: readers never see a half-built projection, and the
offsets travel with the rows they describe.

A runner hands every decoded event to ``apply`` inside the same transaction that moves the offsets.
Duplicates (the publisher is at-least-once) are dropped before ``apply`` by the per-case version
check in ``claim_version``: an event whose aggregate version is not above the last applied version
of its case changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from datetime import date, datetime
from functools import lru_cache
from typing import Any, NamedTuple, Protocol

from psycopg import Cursor, sql


class ProjectedEvent(NamedTuple):
    """One case event as projections see it: the Avro envelope plus the domain values. A named tuple, not a frozen
    dataclass: as immutable, and made in a quarter of the time (one per record; ADR 0046)."""

    event_id: str
    event_type: str  # e.g. "ClaimNoticeSent"
    case_id: str
    creditor_id: str | None
    debtor_id: str | None
    aggregate_version: int
    position: int  # notification id in the event store
    effective_date: date
    recorded_date: date
    recorded_at: datetime
    rule_version: str
    currency: str | None
    values: dict[str, Any]  # the event's own fields, as domain values
    topic: str = ""
    partition: int = -1
    offset: int = -1


class Projection(Protocol):
    """A read model built from case events."""

    name: str  # short name: "ledger", "limitation", "audit"
    version: int  # bump when tables or apply logic change: a rebuild is then required

    def create_tables(self, cur: Cursor[Any], schema: str) -> None:
        """CREATE TABLE IF NOT EXISTS … in ``schema`` (idempotent)."""

    def apply(self, cur: Cursor[Any], event: ProjectedEvent, schema: str, before: Any | None, after: Any) -> None:
        """Apply one event. ``before``/``after`` are the case's aggregate (folded with the domain's
        own apply code, see ``casefold``) before and after the event. Raise to park the case: the
        runner rolls the event back and holds the case's later events behind it."""


class ReadsBefore(Protocol):
    """A projection that says what its ``apply`` reads of the case *before* the event.

    The runner folds each case in place (``casefold``), so ``before`` has to be taken before the event
    changes the aggregate. A projection with ``before_view`` gets, as ``before``, what that returns
    (``None`` when the case is new): the ledger keeps the account's amounts, others that never read
    ``before`` keep nothing. A projection without it gets a copy of the whole aggregate."""

    def before_view(self, aggregate: Any) -> Any:
        """What ``apply`` will read of ``aggregate``, copied so that the fold's next change does not reach it."""


class NeedsReady(Protocol):
    """A projection whose ``apply`` reads something from outside the events (the rules' parameter files): the
    runner calls ``ready`` when it starts, so a broken file stops the start instead of the first event needing it."""

    def ready(self) -> None:
        """Read (and check) it now."""


def write_latest(cur: Any, key: Hashable, write: Callable[[Any], None]) -> None:
    """Write a row (or rows) that each event of a case writes anew from the case's state after it — an upsert of all
    it changes, or a delete and insert — such that only the last event's write counts. On the projector's fast path
    (a cursor with ``write_later``: ``consumers.batched.BatchedWrites``) ``write`` is held under ``key`` and only the
    case's last one before the writes go out runs, with the case's state as it is then; on any other cursor it runs
    now. ``write`` must read the case's state from the aggregate the runner folds in place (so the state when it
    runs is the state after the case's last event so far), and write only what the next event's write replaces:
    columns an upsert keeps from the first row must be ones no later event changes."""
    later = getattr(cur, "write_later", None)
    if later is None:
        write(cur)
    else:
        later(key, write)


def schema_name(projection: str, *, suffix: str = "") -> str:
    return f"kravsak_{projection}{suffix}"


@lru_cache(maxsize=1024)
def in_schema(template: str, schema: str) -> str:
    """A projection's statement ``template`` (``"{schema}"`` where its tables' schema goes) for ``schema``: made
    once per schema, not per event."""
    return template.format(schema=schema)


def ident(schema: str, table: str) -> sql.Composed:
    return sql.SQL("{}.{}").format(sql.Identifier(schema), sql.Identifier(table))
