"""The debtor stream: ``kravsak.debtors``, compacted, key = debtor id, value = the current contact data
sealed under the debtor's stream key; a tombstone (null value) when the debtor is erased.

Delivery protocol
-----------------
- **Source.** The register writes each new value (or tombstone) to ``stream_outbox`` in the same
  transaction as the change, so the stream never misses a change and never shows one that was rolled
  back.
- **Publishing.** ``publish_pending`` sends the outbox rows in order with an idempotent producer
  (acks=all), waits for the acknowledgements, then deletes exactly the rows it sent. A crash between
  the two re-sends them: at-least-once; a consumer keeps the highest ``version`` per key, and a
  tombstone after a value is the end either way.
- **Values are sealed.** A consumer that may write to people (print shop, digital mailbox) asks the
  office's key release for the debtor's stream key (``KeyRelease.release``); the release checks the
  consumer's grant and logs every release. Anyone else reading the topic sees opaque ids and
  ciphertext. The stream key is a sub-key of the debtor's data key: erasure destroys it, so records
  still in the log before compaction removes them are noise to everyone.
- **Tombstones** tell consumers to forget the person (and any key they cached); compaction then
  drops the older values (``consumers.topics.debtors_spec``: segments roll hourly, a dirty log is
  compacted within a day, tombstones are kept 7 days for consumers that were down).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import psycopg
import structlog

from consumers.wire.codec import AvroSchema, decode, encode
from personal.model import Person
from personal.sealing import open_sealed, purpose_key, seal

log = structlog.get_logger("kravsak.personal.stream")

SCHEMAS = Path(__file__).resolve().parent / "schemas"
RECORD_TYPE_HEADER = "record-type"


@cache
def contact_schema() -> AvroSchema:
    return AvroSchema.load(SCHEMAS / "DebtorContact.avsc")


@cache
def sealed_schema() -> AvroSchema:
    return AvroSchema.load(SCHEMAS / "DebtorContactSealed.avsc")


def _lookup(fp: bytes) -> AvroSchema | None:
    for schema in (contact_schema(), sealed_schema()):
        if schema.fingerprint == fp:
            return schema
    return None


def contact_record(debtor_id: str, version: int, person: Person) -> dict[str, Any]:
    address = person.address
    return {
        "debtor_id": debtor_id,
        "national_id": person.national_id,
        "kind": person.kind,
        "jurisdiction": person.jurisdiction,
        "name": person.name,
        "address_lines": list(address.lines) if address else [],
        "postcode": address.postcode if address else None,
        "city": address.city if address else None,
        "country": address.country if address else None,
        "mailbox": person.mailbox.value,
        "language": person.language.value,
        "email": person.email,
        "phone": person.phone,
        "version": version,
    }


def sealed_record(data_key: bytes, debtor_id: str, version: int, person: Person) -> bytes:
    """The stream value for one register version: DebtorContact sealed inside DebtorContactSealed."""
    inner = encode(contact_record(debtor_id, version, person), contact_schema())
    sealed = seal(purpose_key(data_key, "stream"), inner, aad=f"stream:{debtor_id}")
    return encode(
        {"debtor_id": debtor_id, "version": version, "algorithm": "AES-256-GCM", "sealed": sealed}, sealed_schema()
    )


def open_record(value: bytes, stream_key: bytes) -> dict[str, Any]:
    """What an authorised consumer does with a record value and the key it was released."""
    outer = decode(value, writer_lookup=_lookup)
    debtor_id = str(outer["debtor_id"])
    inner = open_sealed(stream_key, bytes(outer["sealed"]), aad=f"stream:{debtor_id}")
    return decode(inner, writer_lookup=_lookup)


def publish_pending(
    conn: psycopg.Connection[Any], producer: Any, topic: str, *, schema: str = "kravsak_personal", limit: int = 5000
) -> int:
    """Send the outbox to ``topic``; returns how many records went out."""
    sent = 0
    while True:
        with conn.cursor() as cur:
            cur.execute(f'SELECT seq, debtor_id, value FROM "{schema}".stream_outbox ORDER BY seq LIMIT %s', (limit,))
            rows = cur.fetchall()
        conn.commit()
        if not rows:
            return sent
        futures = []
        for _, debtor_id, value in rows:
            headers = [(RECORD_TYPE_HEADER, b"DebtorErased" if value is None else b"DebtorContactSealed")]
            futures.append(
                producer.send(
                    topic, key=str(debtor_id).encode(), value=None if value is None else bytes(value), headers=headers
                )
            )
        producer.flush()
        for future in futures:
            metadata = future.get(timeout=30)
        with conn.transaction():
            conn.execute(f'DELETE FROM "{schema}".stream_outbox WHERE seq = ANY(%s)', ([int(r[0]) for r in rows],))
        sent += len(rows)
        log.info(
            "debtor stream published",
            topic=topic,
            records=len(rows),
            partition=metadata.partition,
            offset=metadata.offset,
        )


class AccessDenied(PermissionError):
    """The consumer has no grant to read the debtor stream."""


class KeyRelease:
    """Hands a debtor's stream key to consumers that may write to people; logs every release."""

    def __init__(self, register: Any) -> None:
        self.register = register

    def grant(self, consumer: str, purpose: str) -> None:
        with self.register.conn.transaction():
            self.register.conn.execute(
                f"INSERT INTO {self.register.t('stream_consumers')} (consumer, purpose) VALUES (%s, %s) "
                "ON CONFLICT (consumer) DO UPDATE SET purpose = EXCLUDED.purpose, revoked_at = NULL",
                (consumer, purpose),
            )

    def revoke(self, consumer: str) -> None:
        with self.register.conn.transaction():
            self.register.conn.execute(
                f"UPDATE {self.register.t('stream_consumers')} SET revoked_at = now() WHERE consumer = %s", (consumer,)
            )

    def release(self, consumer: str, debtor_id: str) -> bytes:
        with self.register.conn.cursor() as cur:
            cur.execute(
                f"SELECT purpose FROM {self.register.t('stream_consumers')} WHERE consumer = %s AND revoked_at IS NULL",
                (consumer,),
            )
            granted = cur.fetchone() is not None
        outcome = "released" if granted else "denied"
        try:
            if not granted:
                raise AccessDenied(f"consumer {consumer!r} has no grant to read the debtor stream")
            key: bytes = self.register.purpose_key(debtor_id, "stream")
        except LookupError:
            outcome = "erased_or_unknown"
            raise
        finally:
            with self.register.conn.transaction():
                self.register.conn.execute(
                    f"INSERT INTO {self.register.t('key_releases')} (consumer, debtor_id, outcome) VALUES (%s,%s,%s)",
                    (consumer, debtor_id, outcome),
                )
            log.info("stream key release", consumer=consumer, debtor_id=debtor_id, outcome=outcome)
        return key
