"""`kravsak debtors …` (the debtor register, erasure, the debtor stream) and `kravsak letters …`.

The composition of the edges: settings → key provider, office secret, register, dispatcher. Who may
run these commands: whoever can read the master key (the file is 0600, the service account's). Every
read of a person's fields is logged with the debtor id and the purpose, never the fields.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Annotated, Any
from uuid import UUID

import psycopg
import typer
import yaml
from rich.console import Console
from rich.table import Table

from consumers.kafka_access import client_args
from kravsak import wiring  # noqa: F401 - the letters projection runs with the others
from kravsak.errors import KravsakError, option_day
from kravsak.settings import Settings, key_provider, note_keeper, office_secret

debtors_app = typer.Typer(help="The debtor register: register, show, erase; the debtor stream.", no_args_is_help=True)
letters_app = typer.Typer(help="Letters: dispatch to the outboxes, status, acknowledge, samples.", no_args_is_help=True)
out = Console(highlight=False)
err = Console(stderr=True, highlight=False)


@contextmanager
def _errors() -> Iterator[None]:
    from personal.erasure import ErasureRefused
    from personal.model import InvalidPersonalData
    from personal.register import DebtorErased, NotRegistered, RegistrationConflict

    try:
        yield
    except KravsakError as exc:
        err.print(f"[bold red]error:[/] {exc.problem} — [bold]fix:[/] {exc.fix}", soft_wrap=True)
        raise typer.Exit(exc.exit_code) from None
    except (InvalidPersonalData, RegistrationConflict) as exc:
        err.print(f"[bold red]invalid_input:[/] {exc.field}: {exc.rule}", soft_wrap=True)
        raise typer.Exit(2) from None
    except (DebtorErased, NotRegistered) as exc:
        err.print(f"[bold red]error:[/] {exc}", soft_wrap=True)
        raise typer.Exit(1) from None
    except ErasureRefused as exc:
        err.print("[bold red]erasure refused:[/]")
        for reason in exc.assessment.reasons:
            err.print(f"  · {reason}", soft_wrap=True)
        raise typer.Exit(1) from None


def _day(raw: str | None) -> date:
    return option_day("--on", raw)


@contextmanager
def _register(settings: Settings) -> Iterator[Any]:
    from personal.register import DebtorRegister

    keys = key_provider(settings)
    with psycopg.connect(settings.pg_dsn) as conn:
        yield DebtorRegister(conn, keys, office_secret(settings))


def _app(settings: Settings, namespace: str | None) -> Any:
    from domain.application import DEFAULT_NAMESPACE, CollectionApp

    try:
        ns = UUID(namespace) if namespace else DEFAULT_NAMESPACE
    except ValueError:
        raise KravsakError(f"--namespace {namespace!r} is not a UUID", "give the namespace as a UUID") from None
    return CollectionApp(
        settings.eventsourcing_env(), namespace=ns, office_secret=office_secret(settings), notes=note_keeper(settings)
    )


NamespaceOpt = Annotated[str | None, typer.Option(help="id namespace of the cases (default: kravsak's)")]


@debtors_app.command("register")
def register_cmd(
    ctx: typer.Context,
    office: Annotated[str, typer.Option(help="the collection office's number")],
    ref: Annotated[str, typer.Option(help="the office's reference for the debtor (customer number)")],
    file: Annotated[Path, typer.Option(help="JSON or YAML with the person's fields ('-' reads stdin)")],
    on: Annotated[str | None, typer.Option(help="business date (default today)")] = None,
    namespace: NamespaceOpt = None,
) -> None:
    """Register a debtor: the case side gets an opaque id, the register the person (sealed)."""
    from personal.enrolment import register_person
    from personal.model import parse_person

    settings: Settings = ctx.obj
    with _errors():
        text = sys.stdin.read() if str(file) == "-" else file.read_text(encoding="utf-8")
        try:
            raw = yaml.safe_load(text)
        except yaml.YAMLError:
            raise KravsakError("the person file is not JSON or YAML", "give a mapping of the fields") from None
        if not isinstance(raw, dict):
            raise KravsakError("the person file holds no mapping", "give national_id, kind, jurisdiction, name, …")
        person = parse_person(raw)
        app = _app(settings, namespace)
        with _register(settings) as register:
            debtor = register_person(
                app, register, office=office, ref=ref, person=person, on=_day(on), command_id=f"register/{office}/{ref}"
            )
    out.print(f"debtor {debtor} registered (office {office}, reference {ref})")


@debtors_app.command("show")
def show_cmd(
    ctx: typer.Context,
    debtor: Annotated[str, typer.Argument(help="debtor id (as in case events)")],
    purpose: Annotated[str, typer.Option(help="why you read it (logged)")] = "caseworker",
) -> None:
    """Show a debtor's register entry (the read is logged with the purpose)."""
    settings: Settings = ctx.obj
    with _errors(), _register(settings) as register:
        entry = register.read(debtor, purpose=purpose)
    p = entry.person
    out.print_json(
        json.dumps(
            {"debtor_id": entry.debtor_id, "office": entry.office, "ref": entry.ref, "version": entry.version,
             **json.loads(p.to_json())}, ensure_ascii=False
        )
    )  # fmt: skip


@debtors_app.command("erasable")
def erasable_cmd(
    ctx: typer.Context,
    on: Annotated[str | None, typer.Option(help="as of this date (default today)")] = None,
    namespace: NamespaceOpt = None,
) -> None:
    """List the debtors whose accounting retention has run out: they may be erased."""
    from personal.erasure import erasable

    settings: Settings = ctx.obj
    with _errors(), _register(settings) as register:
        found = erasable(_app(settings, namespace), register, today=_day(on))
    for a in found:
        out.print(f"{a.debtor_id}  retained until {a.retained_until}")
    out.print(f"{len(found)} debtor(s) may be erased (`kravsak debtors erase DEBTOR --ground retention_expired`)")


@debtors_app.command("erase")
def erase_cmd(
    ctx: typer.Context,
    debtor: Annotated[str, typer.Argument(help="debtor id")],
    ground: Annotated[str, typer.Option(help="retention_expired or request (GDPR art. 17)")],
    reference: Annotated[str, typer.Option(help="case/journal number of the request or decision")] = "",
    on: Annotated[str | None, typer.Option(help="business date (default today)")] = None,
    namespace: NamespaceOpt = None,
) -> None:
    """Erase a debtor by destroying the key, if the law allows it; the reasons if it does not."""
    from letters.outbox import forget_debtor
    from personal.erasure import GROUNDS, erase

    settings: Settings = ctx.obj
    if ground not in GROUNDS:
        raise typer.BadParameter(f"--ground must be one of {', '.join(GROUNDS)}")
    with _errors(), _register(settings) as register:
        erase(
            _app(settings, namespace),
            register,
            debtor,
            ground=ground,
            today=_day(on),
            reference=reference,
            hooks=[forget_debtor],
        )
        register.vacuum()
    out.print(f"debtor {debtor} erased: key destroyed; the stream's tombstone goes out with `kravsak debtors publish`")


@debtors_app.command("publish")
def publish_cmd(
    ctx: typer.Context,
    follow: Annotated[bool, typer.Option("--follow", help="keep publishing every second until stopped")] = False,
) -> None:
    """Send the debtor stream's pending records (sealed values, tombstones) to kravsak.debtors."""
    from kafka import KafkaProducer

    from consumers.topics import DEBTORS_TOPIC, debtors_spec, ensure_topics_at
    from personal.stream import publish_pending

    settings: Settings = ctx.obj
    with _errors():
        ensure_topics_at(settings.kafka_bootstrap, [debtors_spec(replication=settings.topic_replication)])
        producer = KafkaProducer(**client_args(settings.kafka_bootstrap), acks="all", enable_idempotence=True)
        try:
            with psycopg.connect(settings.pg_dsn) as conn:
                from personal.register import ensure_schema

                ensure_schema(conn)
                while True:
                    sent = publish_pending(conn, producer, DEBTORS_TOPIC)
                    if sent or not follow:
                        out.print(f"{sent} record(s) sent to {DEBTORS_TOPIC}")
                    if not follow:
                        return
                    time.sleep(1)
        finally:
            producer.close()


@debtors_app.command("grant")
def grant_cmd(
    ctx: typer.Context,
    consumer: Annotated[str, typer.Argument(help="the downstream service's id")],
    purpose: Annotated[str, typer.Option(help="why it may write to people, e.g. print, digital_mailbox")],
    revoke: Annotated[bool, typer.Option("--revoke", help="take the grant back")] = False,
) -> None:
    """Let a downstream service obtain debtors' stream keys (or take that back)."""
    from personal.stream import KeyRelease

    settings: Settings = ctx.obj
    with _errors(), _register(settings) as register:
        release = KeyRelease(register)
        release.revoke(consumer) if revoke else release.grant(consumer, purpose)
    out.print(f"{consumer}: {'revoked' if revoke else 'granted for ' + purpose}")


# --- letters ---------------------------------------------------------------------------------------


def outbox_folder(settings: Settings) -> Path:
    import os

    raw = os.environ.get("KRAVSAK_OUTBOX")
    return Path(raw).expanduser() if raw else settings.home / "outbox"


@letters_app.command("dispatch")
def dispatch_cmd(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option(help="at most this many letters")] = 500,
    outbox: Annotated[Path | None, typer.Option(help="outbox folder (default KRAVSAK_OUTBOX or <home>/outbox)")] = None,
) -> None:
    """Render pending letters into the outbox of their channel (PDFs + manifest per batch)."""
    from letters.outbox import Dispatcher

    settings: Settings = ctx.obj
    folder = outbox or outbox_folder(settings)
    with _errors(), _register(settings) as register:
        dispatcher = Dispatcher(register.conn, register, folder)
        report = dispatcher.dispatch(limit=limit)
    for channel, batch, count in report.batches:
        out.print(f"{channel}: {count} letter(s) in {batch}")
    for reason, count in report.held.items():
        out.print(f"held ({reason}): {count}")
    out.print(f"{report.dispatched} letter(s) dispatched, {report.per_letter_ms:.0f} ms each to render and check")


@letters_app.command("status")
def status_cmd(ctx: typer.Context) -> None:
    """Letters pending, held and sent; batches not yet acknowledged."""
    from letters.outbox import DISPATCH_SCHEMA, LETTERS_SCHEMA, ensure_dispatch_tables

    settings: Settings = ctx.obj
    with _errors(), psycopg.connect(settings.pg_dsn) as conn, conn.cursor() as cur:
        ensure_dispatch_tables(conn)
        try:
            cur.execute(
                f"SELECT l.kind, count(*), count(d.letter_id), count(h.letter_id) FROM {LETTERS_SCHEMA}.letters l "
                f"LEFT JOIN {DISPATCH_SCHEMA}.dispatched d USING (letter_id) "
                f"LEFT JOIN {DISPATCH_SCHEMA}.held h USING (letter_id) GROUP BY 1 ORDER BY 1"
            )
        except psycopg.errors.UndefinedTable:
            raise KravsakError("the letters projection does not exist yet", "run `kravsak project` first") from None
        table = Table(title="letters", title_justify="left")
        for column in ("kind", "due to be sent", "sent", "held"):
            table.add_column(column)
        for kind, total, sent, held in cur.fetchall():
            table.add_row(str(kind), str(total), str(sent), str(held))
        out.print(table)
        cur.execute(
            f"SELECT batch_id, channel, letters, folder FROM {DISPATCH_SCHEMA}.batches WHERE acknowledged_at IS NULL "
            "ORDER BY created_at"
        )
        for batch, channel, count, folder in cur.fetchall():
            out.print(f"not acknowledged: {channel} batch {batch} ({count} letters) in {folder}")


@letters_app.command("ack")
def ack_cmd(ctx: typer.Context, batch: Annotated[str, typer.Argument(help="batch id")]) -> None:
    """The print shop / mailbox provider has the batch: delete its folder."""
    from letters.outbox import Dispatcher

    settings: Settings = ctx.obj
    with _errors(), _register(settings) as register:
        try:
            folder = Dispatcher(register.conn, register, outbox_folder(settings)).acknowledge(batch)
        except LookupError as exc:
            raise KravsakError(str(exc), "see `kravsak letters status` for the open batches") from None
    out.print(f"batch {batch} acknowledged; {folder} deleted")


@letters_app.command("show")
def show_letter_cmd(
    ctx: typer.Context,
    letter: Annotated[str, typer.Argument(help="letter id")],
    output: Annotated[Path, typer.Option("--out", help="write the PDF here")],
) -> None:
    """Write a sent letter from the archive (decrypted with the debtor's key) to a file."""
    from letters.outbox import archived_pdf

    settings: Settings = ctx.obj
    with _errors(), _register(settings) as register:
        try:
            pdf = archived_pdf(register.conn, register, letter)
        except LookupError as exc:
            raise KravsakError(str(exc), "check the letter id (`kravsak trail` lists a case's letters)") from None
    output.write_bytes(pdf)
    out.print(f"{output}: {len(pdf)} bytes")


@letters_app.command("samples")
def samples_cmd(
    output: Annotated[Path, typer.Option("--out", help="folder for the PDFs (and PNGs with --png)")] = Path(
        "docs/letters"
    ),
    png: Annotated[bool, typer.Option("--png", help="also a PNG of page 1 (needs pdftoppm, poppler-utils)")] = False,
) -> None:
    """One sample letter of each type, rendered from a synthetic case (for the docs and for review)."""
    import shutil
    import subprocess

    from letters.letterheads import Letterheads
    from letters.render import render_html, render_pdf
    from letters.samples import samples

    output.mkdir(parents=True, exist_ok=True)
    heads = Letterheads.load()
    for s in samples():
        sender = heads.for_creditor(s.facts["creditor_id"], date.fromisoformat(s.facts["sent_on"]))
        started = time.monotonic()
        pdf = render_pdf(render_html(s.facts, recipient=s.recipient, sender=sender, creditor_name=s.creditor_name))
        name = f"{s.jurisdiction.lower()}-{s.kind}"
        (output / f"{name}.pdf").write_bytes(pdf)
        if png:
            if shutil.which("pdftoppm") is None:
                raise KravsakError("pdftoppm is missing", "apt-get install poppler-utils (or `make system-deps`)")
            subprocess.run(
                ["pdftoppm", "-png", "-r", "70", "-f", "1", "-l", "1", "-singlefile", str(output / f"{name}.pdf"),
                 str(output / name)], check=True,
            )  # fmt: skip
        out.print(f"{name}: {len(pdf)} bytes, {1000 * (time.monotonic() - started):.0f} ms")


__all__ = ["debtors_app", "letters_app", "outbox_folder"]
