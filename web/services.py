"""What the routes share in one process: the domain applications, a PostgreSQL pool for the read
models and the edge's tables, the token verifier and a few small caches.

Request handlers run on a thread pool. A ``CollectionApp`` keeps a unit of work's state on itself,
so each request borrows one application for its whole duration (``with services.app() as app``)
and returns it; ``WebConfig.apps`` of them share the database (each with its own few connections).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from psycopg import Cursor
from psycopg.errors import UndefinedTable
from psycopg_pool import ConnectionPool

from domain.application import DEFAULT_NAMESPACE, CollectionApp
from domain.identity import InvalidIdentity, opaque_debtor_id, validate_identity
from domain.parties import debtor_id_for
from domain.rules import load_all_rules
from personal.notes import SealedNotes
from personal.register import debtors_with_lookup, lookup_key
from projections import parties
from projections.base import schema_name
from web.auth import TokenVerifier
from web.config import WebConfig
from web.inbox import Applications, Messages, ensure_inbox_tables
from web.problems import Problem
from web.store import AccessLog, IdempotencyStore, ensure_tables


class Services:
    def __init__(self, config: WebConfig) -> None:
        self.config = config
        self.pool: ConnectionPool[Any] = ConnectionPool(
            config.pg_dsn, min_size=1, max_size=max(4, config.apps * 2), open=False, name="kravsak-web"
        )
        self.verifier = TokenVerifier(
            config.issuers, config.audience, config.role_map, config.claims, config.jwks_cache_seconds
        )
        self.idempotency = IdempotencyStore(self.pool, config.web_schema)
        self.access_log = AccessLog(self.pool, config.web_schema)
        self.applications = Applications(self.pool, config.web_schema)
        self.messages = Messages(self.pool, config.keys, config.office_secret, config.web_schema)
        # the reasons people write, sealed in the personal-data store (ADR 0028); no keys: none can be kept
        self.notes = (
            SealedNotes(self.pool.connection, config.keys, config.office_secret)
            if config.keys is not None and config.office_secret
            else None
        )
        self._apps: queue.LifoQueue[CollectionApp] = queue.LifoQueue()
        self._offices: dict[str, str] = {}
        self._lock = threading.Lock()
        self.started = False

    def start(self) -> None:
        self.pool.open(wait=True, timeout=30)
        with self.pool.connection() as conn:
            ensure_tables(conn, self.config.web_schema)
            ensure_inbox_tables(conn, self.config.web_schema)
        load_all_rules()  # the rules and holiday calendars load now, not in a first request
        env = {**self.config.eventsourcing_env, "POSTGRES_POOL_SIZE": "2", "POSTGRES_MAX_OVERFLOW": "4"}
        for _ in range(self.config.apps):
            self._apps.put(
                CollectionApp(
                    env,
                    namespace=self.config.namespace or DEFAULT_NAMESPACE,
                    office_secret=self.config.office_secret,
                    notes=self.notes,
                )
            )
        self.started = True

    def close(self) -> None:
        while not self._apps.empty():
            self._apps.get_nowait().close()
        self.pool.close()

    @contextmanager
    def app(self) -> Iterator[CollectionApp]:
        try:
            app = self._apps.get(timeout=30)
        except queue.Empty:
            raise Problem("busy", "every domain application is busy; try again") from None
        try:
            yield app
        finally:
            self._apps.put(app)

    @contextmanager
    def cursor(self) -> Iterator[Cursor[Any]]:
        with self.pool.connection() as conn, conn.cursor() as cur:
            yield cur

    def office_of(self, creditor: str) -> str:
        """The collection office of a registered creditor (from the event store; an office never changes)."""
        office = self._offices.get(creditor)
        if office is None:
            with self.app() as app:
                office = app.creditor(creditor).office  # CommandRefused (invalid creditor) when unknown
            with self._lock:
                self._offices[creditor] = office
        return office

    def creditors_of(self, office: str) -> list[str]:
        """The municipalities an office collects for (from the parties read model)."""
        with self.cursor() as cur:
            try:
                return parties.creditors_of_office(cur, schema_name("parties"), office)
            except UndefinedTable:  # the projection does not exist yet: no creditors known
                return []

    def debtor_ids_of_person(self, pid: str) -> list[str]:
        """A resident's debtor records: by the domain's opaque id of their identity number (a debtor
        registered with it), and by the register's look-up index (a debtor whose identity is only in the
        debtor register, as the demo's people are)."""
        opaque = self.opaque_of_person(pid)
        lookup = self.register_lookup_of_person(pid)
        return self.debtor_ids_of(opaque, lookup)

    def debtor_ids_of(self, opaque: str | None, lookup: str | None) -> list[str]:
        """The debtor records of an opaque id and a register look-up index (hex), either may be None."""
        ids = self.debtor_ids_of_opaque(opaque) if opaque else []
        if lookup:
            with self.pool.connection() as conn:
                found = debtors_with_lookup(conn, bytes.fromhex(lookup))
            ids += [i for i in self._ours(found) if i not in ids]
        return ids

    def _ours(self, records: list[tuple[str, str, str]]) -> list[str]:
        """The debtor ids of (id, office, ref) records that belong to this application's namespace: the read
        models and the register are shared by every namespace (tests, demos) and opaque ids are not
        namespaced, so a person's records elsewhere are left out."""
        with self.app() as app:
            return [i for i, office, ref in records if str(debtor_id_for(app.namespace, office, ref, app.salt)) == i]

    def register_lookup_of_person(self, pid: str) -> str | None:
        """The debtor register's look-up index (hex) of a resident's identity number, or None."""
        if self.config.office_secret is None:
            return None
        for jurisdiction in ("NO", "SE"):
            try:
                compact = validate_identity(
                    pid, jurisdiction=jurisdiction, kind="person", allow_synthetic=self.config.allow_synthetic_ids
                )
            except InvalidIdentity:
                continue
            return lookup_key(self.config.office_secret, jurisdiction, compact).hex()
        return None

    def opaque_of_person(self, pid: str) -> str | None:
        """The domain's opaque id of a resident's identity number (keyed: not the number), or None."""
        compact = self.compact_pid(pid)
        if compact is None:
            return None
        with self.app() as app:
            return opaque_debtor_id(compact, salt=app.opaque_key)

    def debtor_ids_of_opaque(self, opaque: str) -> list[str]:
        """The debtor records (one per office) whose identity number has this opaque id."""
        with self.cursor() as cur:
            try:
                found = parties.debtors_with_opaque_id(cur, schema_name("parties"), opaque)
            except UndefinedTable:
                return []
        return self._ours([(str(d["debtor_id"]), str(d["office"]), str(d["ref"])) for d in found])

    def compact_pid(self, pid: str) -> str | None:
        """The identity number in the form debtors are registered under (Norwegian, else Swedish), or None."""
        for jurisdiction in ("NO", "SE"):
            try:
                return validate_identity(
                    pid, jurisdiction=jurisdiction, kind="person", allow_synthetic=self.config.allow_synthetic_ids
                )
            except InvalidIdentity:
                continue
        return None
