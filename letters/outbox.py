"""The dispatcher: pending letters → PDFs in the outbox of each channel, hashed and archived.

Delivery protocol
-----------------
- **Source.** Rows of the ``letters`` projection with no row in ``kravsak_letter_dispatch.dispatched``
  (nor a lasting hold), oldest first, locked ``FOR UPDATE SKIP LOCKED`` so several dispatchers share
  the work.
- **Per letter.** The recipient comes from the debtor register (decrypted for this purpose and
  logged), the letterhead from its dated file; the letter is rendered, its text checked against the
  content rules (a letter that misses a required statement is held, not sent), the PDF hashed
  (SHA-256) and archived sealed under the debtor's ``letters`` key.
- **Batches.** Each run writes one batch per channel: ``<outbox>/<channel>/<batch>.partial/`` with
  the PDFs and ``manifest.json``/``manifest.csv`` (who, where, the hash of every file). The
  ``dispatched`` rows and the batch row commit in ONE transaction after the files are written; then
  the folder is renamed to ``<batch>/``. A crash before the commit leaves a ``.partial`` folder that
  the next run deletes (its letters are still pending); a crash after it leaves a ``.partial`` folder
  whose batch is committed, which the next run renames. A letter is thus handed over exactly once.
- **Channels.** The channel the event recorded decides the outbox. A digital-mailbox letter to a
  debtor who has no mailbox any more (reserved since) goes by paper instead, and an e-mail letter
  without an address likewise; the dispatch row records the channel used and why.
- **Holds.** No letterhead or account for the creditor, a missing register entry, a content rule
  broken: the letter is held with the reason and tried again on the next run. An erased debtor's
  letter is held for good (``erased``): there is no one to write to.
- **Access.** Outbox folders are 0700 and files 0600: the manifests and PDFs name people; only the
  service account (and the transfer agent running as it) may read them. ``ack`` deletes a batch once
  the print shop or mailbox provider has it.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import shutil
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from uuid import uuid4

import psycopg
import structlog

from letters.content import missing
from letters.letterheads import Letterheads, NoLetterhead
from letters.render import CannotRender, Recipient, plain_text, render_document, render_html
from personal.model import Mailbox
from personal.register import DebtorErased, DebtorRegister, NotRegistered
from personal.sealing import open_sealed, seal

log = structlog.get_logger("kravsak.letters")

DISPATCH_SCHEMA = "kravsak_letter_dispatch"
LETTERS_SCHEMA = "kravsak_letters"


def ensure_dispatch_tables(conn: psycopg.Connection[Any], schema: str = DISPATCH_SCHEMA) -> None:
    with conn.transaction(), conn.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(hashtext('kravsak-letters-ddl'))")
        cur.execute(f"""
            CREATE SCHEMA IF NOT EXISTS "{schema}";
            CREATE TABLE IF NOT EXISTS "{schema}".batches (
                batch_id text PRIMARY KEY, channel text NOT NULL, letters int NOT NULL, folder text NOT NULL,
                manifest_sha256 text NOT NULL, created_at timestamptz NOT NULL DEFAULT now(),
                acknowledged_at timestamptz);
            CREATE TABLE IF NOT EXISTS "{schema}".dispatched (
                letter_id text PRIMARY KEY, case_id text NOT NULL, debtor_id text NOT NULL, kind text NOT NULL,
                channel text NOT NULL, delivered_by text NOT NULL, reason text NOT NULL, provider text,
                batch_id text NOT NULL REFERENCES "{schema}".batches, sha256 text NOT NULL, pages int NOT NULL,
                bytes int NOT NULL, render_ms int NOT NULL, pdf_sealed bytea,
                dispatched_at timestamptz NOT NULL DEFAULT now());
            CREATE INDEX IF NOT EXISTS dispatched_case ON "{schema}".dispatched (case_id);
            CREATE INDEX IF NOT EXISTS dispatched_debtor ON "{schema}".dispatched (debtor_id);
            CREATE TABLE IF NOT EXISTS "{schema}".held (
                letter_id text PRIMARY KEY, reason text NOT NULL, lasting boolean NOT NULL,
                held_at timestamptz NOT NULL DEFAULT now());
        """)


@dataclass
class DispatchReport:
    dispatched: int = 0
    held: dict[str, int] = field(default_factory=dict)
    batches: list[tuple[str, str, int]] = field(default_factory=list)  # (channel, batch folder, letters)
    render_seconds: float = 0.0

    @property
    def per_letter_ms(self) -> float:
        return 1000 * self.render_seconds / self.dispatched if self.dispatched else 0.0


@dataclass
class _Rendered:
    row: dict[str, Any]
    facts: dict[str, Any]
    recipient: dict[str, Any]
    delivered_by: str
    reason: str
    provider: str | None
    pdf: bytes
    sha256: str
    pages: int
    ms: int


class Dispatcher:
    def __init__(
        self,
        conn: psycopg.Connection[Any],
        register: DebtorRegister,
        outbox: Path,
        *,
        letterheads: Letterheads | None = None,
        letters_schema: str = LETTERS_SCHEMA,
        dispatch_schema: str = DISPATCH_SCHEMA,
    ) -> None:
        self.conn, self.register, self.outbox = conn, register, outbox
        self.letterheads = letterheads or Letterheads.load()
        self.letters, self.schema = letters_schema, dispatch_schema
        ensure_dispatch_tables(conn, dispatch_schema)

    def pending(self, *, where: str = "", params: tuple[Any, ...] = ()) -> int:
        with self.conn.cursor() as cur:
            cur.execute(
                f'SELECT count(*) FROM "{self.letters}".letters l WHERE NOT EXISTS (SELECT 1 FROM '
                f'"{self.schema}".dispatched d WHERE d.letter_id = l.letter_id) AND NOT EXISTS (SELECT 1 FROM '
                f'"{self.schema}".held h WHERE h.letter_id = l.letter_id AND h.lasting) {where}',
                params,
            )
            row = cur.fetchone()
        self.conn.commit()
        return int(row[0]) if row else 0

    def dispatch(
        self,
        *,
        limit: int = 500,
        where: str = "",
        params: tuple[Any, ...] = (),
        progress: Callable[[int], None] | None = None,
    ) -> DispatchReport:
        """Render up to ``limit`` pending letters (``where`` narrows them, e.g. a sample) into batches."""
        self._recover()
        report = DispatchReport()
        with self.conn.transaction(), self.conn.cursor() as cur:
            cur.execute(
                f"SELECT l.letter_id, l.case_id, l.debtor_id, l.creditor_id, l.kind, l.channel, l.facts, c.name FROM "
                f'"{self.letters}".letters l LEFT JOIN "{self.letters}".creditors c USING (creditor_id) '
                f'WHERE NOT EXISTS (SELECT 1 FROM "{self.schema}".dispatched d WHERE d.letter_id = l.letter_id) '
                f'AND NOT EXISTS (SELECT 1 FROM "{self.schema}".held h WHERE h.letter_id = l.letter_id AND h.lasting) '
                f"{where} ORDER BY l.sent_on, l.letter_id LIMIT %s FOR UPDATE OF l SKIP LOCKED",
                (*params, limit),
            )
            cols = [d.name for d in cur.description or ()]
            rows = [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]
            per_channel: dict[str, list[_Rendered]] = defaultdict(list)
            for row in rows:
                started = time.monotonic()
                outcome = self._render(row)
                report.render_seconds += time.monotonic() - started
                if isinstance(outcome, tuple):
                    reason, lasting = outcome
                    cur.execute(
                        f'INSERT INTO "{self.schema}".held VALUES (%s,%s,%s) ON CONFLICT (letter_id) DO UPDATE '
                        "SET reason = EXCLUDED.reason, lasting = EXCLUDED.lasting, held_at = now()",
                        (row["letter_id"], reason, lasting),
                    )
                    key = reason.split(":")[0]
                    report.held[key] = report.held.get(key, 0) + 1
                    log.warning("letter held", letter_id=row["letter_id"], case_id=row["case_id"], reason=reason)
                else:
                    per_channel[outcome.delivered_by].append(outcome)
                if progress:
                    progress(1)
            partials = []
            for channel, rendered in sorted(per_channel.items()):
                batch_id, partial = self._write_batch(cur, channel, rendered)
                partials.append(partial)
                report.batches.append((channel, str(partial.with_suffix("")), len(rendered)))
                report.dispatched += len(rendered)
        for partial in partials:  # committed: hand the batch over
            partial.rename(partial.with_suffix(""))
        for channel, folder, count in report.batches:
            log.info("letter batch written", channel=channel, batch=Path(folder).name, letters=count)
        return report

    # --- one letter ----------------------------------------------------------------------------

    def _render(self, row: dict[str, Any]) -> _Rendered | tuple[str, bool]:
        facts: dict[str, Any] = row["facts"]
        if row["name"] is None:
            return f"no_creditor: creditor {row['creditor_id']} not registered yet", False
        try:
            entry = self.register.read(str(row["debtor_id"]), purpose=f"letter {row['letter_id']}")
        except DebtorErased:
            return "erased: the debtor was erased; there is no one to write to", True
        except NotRegistered:
            return "no_recipient: the debtor is not in the register", False
        person = entry.person
        try:
            sender = self.letterheads.for_creditor(str(row["creditor_id"]), date.fromisoformat(facts["sent_on"]))
        except NoLetterhead as exc:
            return f"no_letterhead: {exc}", False
        delivered_by, reason = _channel_now(str(row["channel"]), person.mailbox, person.email, person.address)
        if delivered_by is None:
            return f"no_channel: {reason}", False
        recipient = Recipient(person.name, tuple(person.address.block()) if person.address else (), person.language)
        started = time.monotonic()
        try:
            html = render_html(facts, recipient=recipient, sender=sender, creditor_name=str(row["name"]))
        except CannotRender as exc:
            return f"cannot_render: {exc}", False
        broken = missing(
            facts, plain_text(html), creditor=str(row["name"]), account=sender.account or sender.bankgiro or ""
        )
        if broken:
            return "content: " + "; ".join(broken), False
        pdf, pages = render_document(html)
        ms = int(1000 * (time.monotonic() - started))
        provider = person.mailbox.value if delivered_by == "digital_mailbox" else None
        recipient_fields: dict[str, Any] = {"name": person.name}
        if delivered_by == "paper":
            recipient_fields["address"] = list(recipient.address)
        elif delivered_by in ("digital_mailbox", "efaktura", "vipps"):
            recipient_fields["national_id"] = person.national_id
        elif delivered_by == "email":
            recipient_fields["email"] = person.email
        return _Rendered(
            row,
            facts,
            recipient_fields,
            delivered_by,
            reason,
            provider,
            pdf,
            hashlib.sha256(pdf).hexdigest(),
            pages,
            ms,
        )

    # --- batches -------------------------------------------------------------------------------

    def _write_batch(self, cur: psycopg.Cursor[Any], channel: str, rendered: list[_Rendered]) -> tuple[str, Path]:
        batch_id = f"{datetime.now(UTC).strftime('%Y%m%dT%H%M%S')}-{uuid4().hex[:8]}"
        folder = self.outbox / channel / f"{batch_id}.partial"
        folder.mkdir(parents=True, mode=0o700)
        for parent in (self.outbox, self.outbox / channel):
            os.chmod(parent, 0o700)
        manifest: list[dict[str, Any]] = []
        for n, r in enumerate(rendered, start=1):
            name = f"{n:05d}-{r.row['kind']}-{r.row['letter_id'][:8]}.pdf"
            _write_private(folder / name, r.pdf)
            manifest.append(
                {
                    "file": name,
                    "sha256": r.sha256,
                    "letter_id": r.row["letter_id"],
                    "kind": r.row["kind"],
                    "creditor": r.row["creditor_id"],
                    "invoice": r.facts["invoice"],
                    "debtor_id": r.row["debtor_id"],
                    "provider": r.provider,
                    "recipient": r.recipient,
                    "pages": r.pages,
                }
            )
        body = json.dumps({"batch": batch_id, "channel": channel, "letters": manifest}, ensure_ascii=False, indent=1)
        _write_private(folder / "manifest.json", body.encode())
        _write_private(folder / "manifest.csv", _csv(manifest).encode())
        cur.execute(
            f'INSERT INTO "{self.schema}".batches (batch_id, channel, letters, folder, manifest_sha256) '
            "VALUES (%s,%s,%s,%s,%s)",
            (batch_id, channel, len(rendered), str(folder.with_suffix("")), hashlib.sha256(body.encode()).hexdigest()),
        )
        for r in rendered:
            letters_key = self.register.purpose_key(str(r.row["debtor_id"]), "letters")
            cur.execute(
                f'INSERT INTO "{self.schema}".dispatched (letter_id, case_id, debtor_id, kind, channel, delivered_by, '
                "reason, provider, batch_id, sha256, pages, bytes, render_ms, pdf_sealed) "
                "VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)",
                (
                    r.row["letter_id"],
                    r.row["case_id"],
                    r.row["debtor_id"],
                    r.row["kind"],
                    r.row["channel"],
                    r.delivered_by,
                    r.reason,
                    r.provider,
                    batch_id,
                    r.sha256,
                    r.pages,
                    len(r.pdf),
                    r.ms,
                    seal(letters_key, r.pdf, aad=f"letters:{r.row['letter_id']}"),
                ),
            )
            cur.execute(f'DELETE FROM "{self.schema}".held WHERE letter_id = %s', (r.row["letter_id"],))
        return batch_id, folder

    def _recover(self) -> None:
        """Finish what a crashed run left: rename committed ``.partial`` batches, delete the others."""
        if not self.outbox.is_dir():
            return
        with self.conn.cursor() as cur:
            cur.execute(f'SELECT batch_id FROM "{self.schema}".batches')
            committed = {str(r[0]) for r in cur.fetchall()}
        self.conn.commit()
        for partial in self.outbox.glob("*/*.partial"):
            if partial.stem in committed:
                partial.rename(partial.with_suffix(""))
            else:
                shutil.rmtree(partial)

    # --- after delivery ------------------------------------------------------------------------

    def acknowledge(self, batch_id: str) -> Path:
        """The receiver has the batch: delete its folder (the archive keeps each letter sealed)."""
        with self.conn.transaction(), self.conn.cursor() as cur:
            cur.execute(
                f'UPDATE "{self.schema}".batches SET acknowledged_at = now() WHERE batch_id = %s RETURNING folder',
                (batch_id,),
            )
            row = cur.fetchone()
        if row is None:
            raise LookupError(f"no batch {batch_id}")
        folder = Path(str(row[0]))
        shutil.rmtree(folder, ignore_errors=True)
        log.info("letter batch acknowledged", batch=batch_id)
        return folder


def archived_pdf(conn: psycopg.Connection[Any], register: DebtorRegister, letter_id: str) -> bytes:
    """A sent letter from the archive (caseworker, the debtor's own page); raises once the debtor is erased."""
    with conn.cursor() as cur:
        cur.execute(
            f'SELECT debtor_id, pdf_sealed FROM "{DISPATCH_SCHEMA}".dispatched WHERE letter_id = %s', (letter_id,)
        )
        row = cur.fetchone()
    if row is None:
        raise LookupError(f"letter {letter_id} has not been dispatched")
    if row[1] is None:
        raise DebtorErased(f"letter {letter_id}: the debtor was erased")
    key = register.purpose_key(str(row[0]), "letters")
    return open_sealed(key, bytes(row[1]), aad=f"letters:{letter_id}")


def forget_debtor(cur: psycopg.Cursor[Any], debtor_id: str) -> None:
    """Erasure hook: drop the debtor's archived PDFs (noise without the key anyway) and any files of the
    debtor in batches not yet acknowledged; the hashes stay for the trail."""
    cur.execute(f"SELECT to_regclass('\"{DISPATCH_SCHEMA}\".dispatched')")
    found = cur.fetchone()
    if not found or found[0] is None:
        return
    cur.execute(
        f'UPDATE "{DISPATCH_SCHEMA}".dispatched d SET pdf_sealed = NULL FROM "{DISPATCH_SCHEMA}".batches b '
        "WHERE d.batch_id = b.batch_id AND d.debtor_id = %s RETURNING b.folder, b.acknowledged_at, d.letter_id",
        (debtor_id,),
    )
    for folder, acknowledged, letter_id in cur.fetchall():
        if acknowledged is None:
            _withdraw(Path(str(folder)), str(letter_id))


def _withdraw(folder: Path, letter_id: str) -> None:
    manifest_file = folder / "manifest.json"
    if not manifest_file.is_file():
        return
    doc = json.loads(manifest_file.read_text(encoding="utf-8"))
    kept = []
    for entry in doc["letters"]:
        if entry["letter_id"] == letter_id:
            (folder / entry["file"]).unlink(missing_ok=True)
        else:
            kept.append(entry)
    doc["letters"] = kept
    _write_private(manifest_file, json.dumps(doc, ensure_ascii=False, indent=1).encode())
    _write_private(folder / "manifest.csv", _csv(kept).encode())


def _channel_now(recorded: str, mailbox: Mailbox, email: str | None, address: Any) -> tuple[str | None, str]:
    if recorded == "digital_mailbox" and not mailbox.digital:
        if address is None:
            return None, "no digital mailbox any more and no postal address"
        return "paper", f"recorded digital_mailbox, but the debtor's mailbox is now {mailbox.value}: sent by paper"
    if recorded == "email" and not email:
        if address is None:
            return None, "no e-mail address any more and no postal address"
        return "paper", "recorded email, but the debtor has no e-mail address now: sent by paper"
    if recorded == "paper" and address is None:
        if mailbox.digital:
            return "digital_mailbox", "recorded paper, but the debtor has no postal address now: digital mailbox"
        return None, "no postal address"
    return recorded, "as recorded in the event"


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def _csv(manifest: list[dict[str, Any]]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(
        ["file", "sha256", "letter_id", "kind", "creditor", "invoice", "debtor_id", "provider", "recipient"]
    )
    for m in manifest:
        writer.writerow(
            [m["file"], m["sha256"], m["letter_id"], m["kind"], m["creditor"], m["invoice"], m["debtor_id"],
             m["provider"] or "", json.dumps(m["recipient"], ensure_ascii=False)]
        )  # fmt: skip
    return buf.getvalue()
