"""The debtor register in PostgreSQL (schema ``kravsak_personal``), apart from the case events.

Tables (nothing in them is readable without the master key):

- ``debtors``: per debtor id the office, reference, kind and jurisdiction (all also in case events),
  the look-up index ``lookup`` = HMAC(office secret, national id), and ``sealed``: every personal
  field, AES-256-GCM under the debtor's register key;
- ``data_keys``: per debtor id the data key wrapped by the master key (``master_key_id`` says which);
- ``erasures``: per erased debtor id when, on what ground and legal basis (no personal data);
- ``requests``: erasure requests (GDPR art. 17) with the outcome and the reasons for a refusal;
- ``stream_outbox``: the debtor stream's records not yet on Kafka (sealed values, tombstones);
- ``stream_consumers``, ``key_releases``: who may get a debtor's stream key, and every release;
- ``notes``: the reasons people wrote (``personal.notes``), sealed under their subject's key.

Erasure deletes the wrapped data key, the sealed fields and the look-up index of the debtor in one
transaction and queues the stream's tombstone. Every copy of a value sealed with that key — a dump,
a backup, the Kafka log, an archived letter — is then noise, even to whoever holds the master key.

Every read of a debtor's fields is logged with the debtor id and the purpose, never the fields.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Any

import psycopg
import structlog

from personal.keys import KeyProvider, WrappedKey, new_data_key
from personal.model import Person
from personal.sealing import open_sealed, purpose_key, seal

log = structlog.get_logger("kravsak.personal")

SCHEMA = "kravsak_personal"


class NotRegistered(LookupError):
    """No register entry for this debtor id."""


class DebtorErased(LookupError):
    """The debtor was erased: the key is gone, and with it every field."""


class RegistrationConflict(ValueError):
    """The national id is registered with the office under another reference."""

    def __init__(self, field: str, rule: str) -> None:
        super().__init__(f"{field}: {rule}")
        self.field = field
        self.rule = rule


@dataclass(frozen=True, slots=True)
class Entry:
    debtor_id: str
    office: str
    ref: str
    version: int
    person: Person


def ensure_schema(conn: psycopg.Connection[Any], schema: str = SCHEMA) -> None:
    with conn.transaction(), conn.cursor() as cur:
        cur.execute("SELECT to_regclass(%s)", (f'"{schema}".notes',))  # its newest table: all are there
        row = cur.fetchone()
        if row is not None and row[0] is not None:
            return  # nothing to make: a role that may not make tables (the API's, the reader) passes
        cur.execute("SELECT pg_advisory_xact_lock(hashtext('kravsak-personal-ddl'))")
        cur.execute(f"""
            CREATE SCHEMA IF NOT EXISTS "{schema}";
            CREATE TABLE IF NOT EXISTS "{schema}".debtors (
                debtor_id text PRIMARY KEY, office text NOT NULL, ref text NOT NULL, kind text NOT NULL,
                jurisdiction text NOT NULL, lookup bytea NOT NULL, sealed bytea NOT NULL, version int NOT NULL,
                registered_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now(),
                UNIQUE (office, lookup));
            CREATE TABLE IF NOT EXISTS "{schema}".data_keys (
                debtor_id text PRIMARY KEY, master_key_id text NOT NULL, wrapped bytea NOT NULL,
                created_at timestamptz NOT NULL DEFAULT now());
            CREATE TABLE IF NOT EXISTS "{schema}".erasures (
                debtor_id text PRIMARY KEY, office text NOT NULL, ground text NOT NULL, basis text NOT NULL,
                reference text NOT NULL DEFAULT '', decided_on date NOT NULL,
                erased_at timestamptz NOT NULL DEFAULT now());
            CREATE TABLE IF NOT EXISTS "{schema}".requests (
                id bigserial PRIMARY KEY, debtor_id text NOT NULL, ground text NOT NULL, received_on date NOT NULL,
                reference text NOT NULL DEFAULT '', outcome text NOT NULL, reasons text NOT NULL,
                decided_at timestamptz NOT NULL DEFAULT now());
            CREATE TABLE IF NOT EXISTS "{schema}".stream_outbox (
                seq bigserial PRIMARY KEY, debtor_id text NOT NULL, value bytea,
                created_at timestamptz NOT NULL DEFAULT now());
            CREATE TABLE IF NOT EXISTS "{schema}".stream_consumers (
                consumer text PRIMARY KEY, purpose text NOT NULL, granted_at timestamptz NOT NULL DEFAULT now(),
                revoked_at timestamptz);
            CREATE TABLE IF NOT EXISTS "{schema}".notes (
                subject text NOT NULL, ref text NOT NULL, sealed bytea NOT NULL,
                created_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (subject, ref));
            CREATE TABLE IF NOT EXISTS "{schema}".key_releases (
                id bigserial PRIMARY KEY, consumer text NOT NULL, debtor_id text NOT NULL, outcome text NOT NULL,
                released_at timestamptz NOT NULL DEFAULT now());
        """)


def lookup_key(office_secret: bytes, jurisdiction: str, national_id: str) -> bytes:
    """The register's look-up index of a national id (``DebtorRegister.lookup``), for those who hold the
    office secret but no register: a keyed hash, never the number."""
    return hmac.new(office_secret, f"national-id:{jurisdiction}:{national_id}".encode(), hashlib.sha256).digest()


def debtors_with_lookup(
    conn: psycopg.Connection[Any], lookup: bytes, schema: str = SCHEMA
) -> list[tuple[str, str, str]]:
    """(debtor id, office, reference) of every office's record of the person with this look-up index
    (none if the table is not there)."""
    try:
        with conn.cursor() as cur:
            cur.execute(
                f'SELECT debtor_id, office, ref FROM "{schema}".debtors WHERE lookup = %s ORDER BY debtor_id', (lookup,)
            )
            return [(str(r[0]), str(r[1]), str(r[2])) for r in cur.fetchall()]
    except psycopg.errors.UndefinedTable:
        return []


class DebtorRegister:
    """Register, read and erase debtors' personal data; ``conn`` is the caller's connection."""

    def __init__(
        self,
        conn: psycopg.Connection[Any],
        keys: KeyProvider,
        office_secret: bytes,
        *,
        schema: str = SCHEMA,
        ensure: bool = True,
    ) -> None:
        """``ensure=False``: the caller knows the tables exist (it made them once for many registers)."""
        if len(office_secret) < 16:
            raise ValueError("office_secret: at least 16 bytes")
        self.conn, self.keys, self.schema = conn, keys, schema
        self._secret = office_secret
        if ensure:
            ensure_schema(conn, schema)

    def t(self, table: str) -> str:
        return f'"{self.schema}".{table}'

    def lookup(self, jurisdiction: str, national_id: str) -> bytes:
        """The look-up index of a national id: a keyed hash, so a dump cannot be searched by number."""
        return lookup_key(self._secret, jurisdiction, national_id)

    # --- writing -----------------------------------------------------------------------------

    def find(self, office: str, person: Person) -> tuple[str, str] | None:
        """(debtor id, reference) of the office's entry for this national id, if any."""
        with self.conn.cursor() as cur:
            cur.execute(
                f"SELECT debtor_id, ref FROM {self.t('debtors')} WHERE office = %s AND lookup = %s",
                (office, self.lookup(person.jurisdiction, person.national_id)),
            )
            row = cur.fetchone()
        return (str(row[0]), str(row[1])) if row else None

    def check_enrolment(self, *, office: str, ref: str, person: Person) -> None:
        """Refuse, before anything is written, a national id the office holds under another reference."""
        found = self.find(office, person)
        if found is not None and found[1] != ref:
            raise RegistrationConflict(
                "national_id", f"already registered with office {office} under another reference (debtor {found[0]})"
            )

    def enrol(self, *, debtor_id: str, office: str, ref: str, person: Person) -> int:
        """Store (or replace) the debtor's fields under the debtor's own data key; returns the version.

        Idempotent: the same fields again change nothing. The stream gets the new value in the same
        transaction (transactional outbox)."""
        with self.conn.transaction(), self.conn.cursor() as cur:
            cur.execute(f"SELECT 1 FROM {self.t('erasures')} WHERE debtor_id = %s", (debtor_id,))
            if cur.fetchone():
                raise DebtorErased(f"debtor {debtor_id} was erased; register the person under a new reference")
            data_key = self._data_key(cur, debtor_id, create=True)
            assert data_key is not None
            cur.execute(
                f"SELECT version, sealed FROM {self.t('debtors')} WHERE debtor_id = %s FOR UPDATE", (debtor_id,)
            )
            row = cur.fetchone()
            aad = f"register:{debtor_id}"
            key = purpose_key(data_key, "register")
            if row is not None and open_sealed(key, bytes(row[1]), aad=aad) == person.to_json():
                return int(row[0])
            version = 1 if row is None else int(row[0]) + 1
            sealed = seal(key, person.to_json(), aad=aad)
            cur.execute(
                f"INSERT INTO {self.t('debtors')} (debtor_id, office, ref, kind, jurisdiction, lookup, sealed, "
                "version) VALUES (%s,%s,%s,%s,%s,%s,%s,%s) ON CONFLICT (debtor_id) DO UPDATE SET "
                "lookup = EXCLUDED.lookup, sealed = EXCLUDED.sealed, version = EXCLUDED.version, updated_at = now()",
                (
                    debtor_id,
                    office,
                    ref,
                    person.kind,
                    person.jurisdiction,
                    self.lookup(person.jurisdiction, person.national_id),
                    sealed,
                    version,
                ),
            )
            from personal.stream import sealed_record

            cur.execute(
                f"INSERT INTO {self.t('stream_outbox')} (debtor_id, value) VALUES (%s, %s)",
                (debtor_id, sealed_record(data_key, debtor_id, version, person)),
            )
        log.info("debtor.registered", debtor_id=debtor_id, office=office, version=version)
        return version

    # --- reading -----------------------------------------------------------------------------

    def read(self, debtor_id: str, *, purpose: str) -> Entry:
        """The debtor's fields; ``purpose`` (e.g. ``letter``, ``caseworker``) goes into the log line."""
        with self.conn.cursor() as cur:
            data_key = self._data_key(cur, debtor_id, create=False)
            cur.execute(
                f"SELECT office, ref, version, sealed FROM {self.t('debtors')} WHERE debtor_id = %s", (debtor_id,)
            )
            row = cur.fetchone()
        if row is None or data_key is None:
            self._raise_missing(debtor_id)
        assert row is not None and data_key is not None
        plain = open_sealed(purpose_key(data_key, "register"), bytes(row[3]), aad=f"register:{debtor_id}")
        log.info("debtor.read", debtor_id=debtor_id, purpose=purpose)
        return Entry(debtor_id, str(row[0]), str(row[1]), int(row[2]), Person.from_json(plain))

    def purpose_key(self, debtor_id: str, purpose: str) -> bytes:
        """The debtor's sub-key for ``purpose`` (``letters``, ``stream``); raises when erased."""
        with self.conn.cursor() as cur:
            data_key = self._data_key(cur, debtor_id, create=False)
        if data_key is None:
            self._raise_missing(debtor_id)
        assert data_key is not None
        return purpose_key(data_key, purpose)

    def messages_key(self, debtor_id: str) -> bytes:
        """The debtor's sub-key for the messages between the debtor and the office; a debtor not yet in
        the register gets a data key now (a message is personal data even before an address is known).
        Raises ``DebtorErased`` once the debtor is erased: their messages went with the key."""
        return self.subject_key(debtor_id, "messages")

    def subject_key(self, subject: str, purpose: str) -> bytes:
        """The sub-key for ``purpose`` of ``subject``'s data key (a debtor id, or the id of what concerns a person
        the office does not know, such as a refund to an unknown payer), made now if there is none yet.
        Raises ``DebtorErased`` once the subject is erased."""
        with self.conn.transaction(), self.conn.cursor() as cur:
            cur.execute(f"SELECT 1 FROM {self.t('erasures')} WHERE debtor_id = %s", (subject,))
            if cur.fetchone():
                raise DebtorErased(f"debtor {subject} was erased")
            data_key = self._data_key(cur, subject, create=True)
        assert data_key is not None
        return purpose_key(data_key, purpose)

    def is_erased(self, debtor_id: str) -> bool:
        with self.conn.cursor() as cur:
            cur.execute(f"SELECT 1 FROM {self.t('erasures')} WHERE debtor_id = %s", (debtor_id,))
            return cur.fetchone() is not None

    def _raise_missing(self, debtor_id: str) -> None:
        if self.is_erased(debtor_id):
            raise DebtorErased(f"debtor {debtor_id} was erased")
        raise NotRegistered(f"debtor {debtor_id} is not in the register")

    def _data_key(self, cur: psycopg.Cursor[Any], debtor_id: str, *, create: bool) -> bytes | None:
        cur.execute(f"SELECT master_key_id, wrapped FROM {self.t('data_keys')} WHERE debtor_id = %s", (debtor_id,))
        row = cur.fetchone()
        if row is not None:
            return self.keys.unwrap(WrappedKey(str(row[0]), bytes(row[1])), context=debtor_id)
        if not create:
            return None
        data_key = new_data_key()
        wrapped = self.keys.wrap(data_key, context=debtor_id)
        cur.execute(
            f"INSERT INTO {self.t('data_keys')} (debtor_id, master_key_id, wrapped) VALUES (%s, %s, %s)",
            (debtor_id, wrapped.key_id, wrapped.blob),
        )
        return data_key

    # --- erasing -----------------------------------------------------------------------------

    def destroy(self, cur: psycopg.Cursor[Any], *, debtor_id: str, ground: str, basis: str, reference: str,
                decided_on: Any) -> bool:  # fmt: skip
        """Destroy the debtor's key and fields inside the caller's transaction; False if already erased.

        The stream's pending values for the debtor are dropped (they could not be read anyway) and a
        tombstone is queued, so downstream services forget the person too."""
        cur.execute(f"SELECT 1 FROM {self.t('erasures')} WHERE debtor_id = %s", (debtor_id,))
        if cur.fetchone():
            return False
        cur.execute(f"DELETE FROM {self.t('debtors')} WHERE debtor_id = %s RETURNING office", (debtor_id,))
        row = cur.fetchone()
        cur.execute(f"DELETE FROM {self.t('data_keys')} WHERE debtor_id = %s", (debtor_id,))
        cur.execute(f"DELETE FROM {self.t('notes')} WHERE subject = %s", (debtor_id,))
        cur.execute(
            f"INSERT INTO {self.t('erasures')} (debtor_id, office, ground, basis, reference, decided_on) "
            "VALUES (%s,%s,%s,%s,%s,%s)",
            (debtor_id, str(row[0]) if row else "", ground, basis, reference, decided_on),
        )
        cur.execute(f"DELETE FROM {self.t('stream_outbox')} WHERE debtor_id = %s", (debtor_id,))
        cur.execute(f"INSERT INTO {self.t('stream_outbox')} (debtor_id, value) VALUES (%s, NULL)", (debtor_id,))
        return True

    def record_request(
        self, *, debtor_id: str, ground: str, received_on: Any, reference: str, outcome: str, reasons: str
    ) -> None:
        with self.conn.transaction():
            self.conn.execute(
                f"INSERT INTO {self.t('requests')} (debtor_id, ground, received_on, reference, outcome, reasons) "
                "VALUES (%s,%s,%s,%s,%s,%s)",
                (debtor_id, ground, received_on, reference, outcome, reasons),
            )

    def vacuum(self) -> None:
        """Rewrite the register's tables so deleted rows leave the live data files (``VACUUM FULL``).

        Deleted keys stay in WAL and backups until those age out (see ADR 0014)."""
        autocommit = self.conn.autocommit
        self.conn.commit()
        self.conn.autocommit = True
        try:
            for table in ("data_keys", "debtors", "stream_outbox", "notes"):
                self.conn.execute(f"VACUUM FULL {self.t(table)}")
        finally:
            self.conn.autocommit = autocommit
