"""The reasons people wrote, sealed in the personal-data store (``kravsak_personal.notes``; ADR 0028).

The application's ``NoteKeeper`` (``domain.notes``) for a persistent store: each note is sealed (AES-256-GCM)
under the ``notes`` sub-key of its subject's data key — the debtor's own key when the note concerns a
debtor — bound to its subject and reference, so it opens nowhere else. Erasing the debtor destroys the key
and deletes the rows (``DebtorRegister.destroy``); a reader then gets ``domain.notes.ERASED``.

Every read is logged with the subject and how many notes were read, never the text.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from typing import Any

import psycopg
import structlog

from domain.notes import ERASED
from personal.keys import KeyProvider
from personal.register import SCHEMA, DebtorRegister, ensure_schema
from personal.sealing import open_sealed, seal

log = structlog.get_logger("kravsak.personal.notes")

Connect = Callable[[], AbstractContextManager[psycopg.Connection[Any]]]


class SealedNotes:
    """Notes in PostgreSQL; ``connect`` gives a connection per call (a pool's, or a new one)."""

    def __init__(self, connect: Connect, keys: KeyProvider, office_secret: bytes, *, schema: str = SCHEMA) -> None:
        self._connect, self._keys, self._secret, self._schema = connect, keys, office_secret, schema
        self._ready = False

    def _register(self, conn: psycopg.Connection[Any]) -> DebtorRegister:
        if not self._ready:
            ensure_schema(conn, self._schema)
            self._ready = True
        return DebtorRegister(conn, self._keys, self._secret, schema=self._schema, ensure=False)

    def keep(self, subject: str, ref: str, text: str) -> None:
        with self._connect() as conn:
            register = self._register(conn)
            sealed = seal(register.subject_key(subject, "notes"), text.encode(), aad=_aad(subject, ref))
            with conn.transaction():
                conn.execute(
                    f"INSERT INTO {register.t('notes')} (subject, ref, sealed) VALUES (%s, %s, %s) "
                    "ON CONFLICT (subject, ref) DO UPDATE SET sealed = EXCLUDED.sealed",
                    (subject, ref, sealed),
                )
        log.info("note.kept", subject=subject)

    def read(self, subject: str, refs: Iterable[str]) -> dict[str, str]:
        wanted = list(refs)
        if not wanted:
            return {}
        with self._connect() as conn:
            register = self._register(conn)
            if register.is_erased(subject):
                return dict.fromkeys(wanted, ERASED)
            rows = conn.execute(
                f"SELECT ref, sealed FROM {register.t('notes')} WHERE subject = %s AND ref = ANY(%s)",
                (subject, wanted),
            ).fetchall()
            if not rows:
                return {}
            key = register.purpose_key(subject, "notes")
        log.info("notes.read", subject=subject, notes=len(rows))
        return {str(ref): open_sealed(key, bytes(blob), aad=_aad(subject, str(ref))).decode() for ref, blob in rows}


def _aad(subject: str, ref: str) -> str:
    return f"notes:{subject}:{ref}"
