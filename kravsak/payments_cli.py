"""`kravsak payments …`: bank files in (ADR 0019), the suspense worklist, a caseworker's allocation.

The composition of the intake edge: settings → event store, the office's accounts from the letterheads
(``KRAVSAK_LETTERHEADS``, the one place the creditors' accounts are kept) → ``intake.importer.import_file``,
the same import the scenario step ``import_payments`` runs. Who may run these commands: whoever can reach
the event store (the service account's DSN); the HTTP API has its own role check.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import psycopg
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from kravsak.errors import KravsakError, option_day
from kravsak.settings import Settings, note_keeper, office_secret

if TYPE_CHECKING:
    from domain.application import CollectionApp
    from intake.accounts import OfficeAccounts
    from intake.importer import ImportReport

payments_app = typer.Typer(
    help="Bank files in (OCR giro, camt.054, BgMax), the suspense worklist, allocation.", no_args_is_help=True
)
out = Console(highlight=False)
err = Console(stderr=True, highlight=False)


@contextmanager
def _errors() -> Iterator[None]:
    from domain.errors import CommandRefused
    from intake.errors import BankFileError
    from intake.importer import ImportConflict

    try:
        yield
    except KravsakError as exc:
        err.print(f"[bold red]error:[/] {escape(exc.problem)} — [bold]fix:[/] {escape(exc.fix)}", soft_wrap=True)
        raise typer.Exit(exc.exit_code) from None
    except BankFileError as exc:
        err.print(f"[bold red]invalid_input:[/] {escape(str(exc))} — nothing of the file was stored", soft_wrap=True)
        raise typer.Exit(2) from None
    except CommandRefused as exc:
        err.print(f"[bold red]{exc.code.value}:[/] {escape(exc.message)}", soft_wrap=True)
        raise typer.Exit(2) from None
    except ImportConflict as exc:
        err.print(f"[bold red]conflict:[/] {escape(str(exc))} — run the import again", soft_wrap=True)
        raise typer.Exit(1) from None


def _day(raw: str | None) -> date:
    return option_day("--on", raw)


def _app(settings: Settings) -> CollectionApp:
    from domain.application import CollectionApp

    return CollectionApp(
        settings.eventsourcing_env(), office_secret=office_secret(settings), notes=note_keeper(settings)
    )


def office_accounts(day: date, path: Path | None = None) -> OfficeAccounts:
    """Every creditor's account (NO account number, SE bankgiro) in the letterheads on ``day``."""
    from intake.accounts import OfficeAccount, OfficeAccounts
    from letters.letterheads import Letterheads, NoLetterhead

    heads = Letterheads.load(path)
    accounts: list[OfficeAccount] = []
    for creditor in sorted(heads.creditors):
        try:
            head = heads.for_creditor(creditor, day)
        except NoLetterhead:
            continue
        for account in (head.account, head.bankgiro):
            if account:
                accounts.append(OfficeAccount(account, creditor))
    if not accounts:
        raise KravsakError("the letterheads name no creditor's account", "add the accounts to KRAVSAK_LETTERHEADS")
    return OfficeAccounts(accounts)


def _by(by: str | None) -> str:
    return by or os.environ.get("USER") or "kravsak"


@contextmanager
def _import_progress(name: str) -> Iterator[Callable[[str, int, int], None]]:
    """Rich bars for the check (bytes) and the registration (transactions); plain lines off a terminal."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    if not err.is_terminal:
        seen: set[str] = set()

        def plain(phase: str, done: int, total: int) -> None:
            if phase not in seen or done == total:
                err.print(f"… {name}: {phase} {done}/{total}")
                seen.add(phase)

        yield plain
        return
    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=err
    ) as bar:
        tasks: dict[str, Any] = {}

        def update(phase: str, done: int, total: int) -> None:
            if phase not in tasks:
                label = "checking (bytes)" if phase == "check" else "registering (transactions)"
                tasks[phase] = bar.add_task(f"{name}: {label}", total=total)
            bar.update(tasks[phase], completed=done, total=total)

        yield update


@payments_app.command("import")
def import_cmd(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="the bank file", exists=True, dir_okay=False, readable=True)],
    file_format: Annotated[
        str | None, typer.Option("--format", help="ocr, camt054 or bgmax (default: recognised from the file)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="the summary as JSON on stdout")] = False,
    on: Annotated[str | None, typer.Option(help="the import day (default today)")] = None,
    by: Annotated[str | None, typer.Option(help="who imports (default $USER)")] = None,
    batch: Annotated[int, typer.Option(help="transactions per stored batch")] = 500,
) -> None:
    """Import a bank file: each credit transaction matched by its reference, else into suspense; exactly once."""
    from intake.importer import import_file
    from intake.payers import PgPayers

    settings: Settings = ctx.obj
    with _errors():
        if file_format is not None and file_format not in ("ocr", "camt054", "bgmax"):
            raise KravsakError(f"--format {file_format!r} is not ocr, camt054 or bgmax", "name one or leave it out")
        day = _day(on)
        accounts = office_accounts(day)
        app = _app(settings)
        with psycopg.connect(settings.pg_dsn, autocommit=True) as conn, _import_progress(file.name) as progress:
            report = import_file(
                app, file, on=day, by=_by(by), accounts=accounts, file_format=file_format, batch_size=batch,
                progress=progress, payers=PgPayers(conn),
            )  # fmt: skip
    if as_json:
        print(json.dumps(report.as_json(), indent=2, ensure_ascii=False))
    else:
        _print_report(report)
    if not report.reconciled:
        raise typer.Exit(1)


def _print_report(report: ImportReport) -> None:
    data = report.as_json()
    head = f"{report.file_format} file {report.path} ({report.digest[:12]}…), accounts {', '.join(report.accounts)}"
    if report.already_imported:
        earlier = report.earlier or {}
        out.print(f"[yellow]already imported[/] {head} on {earlier.get('imported_on')} by {earlier.get('imported_by')}")
        out.print("nothing changed; its transactions count as duplicates")
    else:
        out.print(f"imported {head}" + (f" (resumed after {report.resumed_from})" if report.resumed_from else ""))
    table = Table(title=f"{report.transactions} credit transactions, {report.currency}", title_justify="left")
    for column in ("", "transactions", "amount"):
        table.add_column(column, justify="right" if column else "left")
    amounts = data["amounts"]
    table.add_row("matched", str(report.counts["matched"]), amounts["matched"])
    table.add_row("  of which surplus (owed back)", "", amounts["surplus"])
    table.add_row("unmatched → suspense", str(report.counts["unmatched"]), amounts["suspense"])
    table.add_row("duplicates", str(report.counts["duplicates"]), amounts["duplicates"])
    table.add_row("file total", str(report.transactions), amounts["file_total"])
    out.print(table)
    verdict = "[bold green]holds[/]" if report.reconciled else "[bold red]does NOT hold[/]"
    out.print(f"reconciliation: file total = matched + suspense + duplicates {verdict}")
    if report.refunds:
        out.print(f"{report.refunds} refund(s) of surplus requested (kravsak refunds list)")


@payments_app.command("suspense")
def suspense_cmd(
    ctx: typer.Context,
    creditor: Annotated[str, typer.Option(help="the creditor (municipality) number")],
    as_json: Annotated[bool, typer.Option("--json", help="the worklist as JSON on stdout")] = False,
) -> None:
    """The caseworker's worklist: money in suspense (no claim carries its reference), oldest first."""
    from domain.money import fmt

    settings: Settings = ctx.obj
    with _errors():
        app = _app(settings)
        app.creditor(creditor)
        account = app.suspense(creditor)
        items = account.open_items() if account is not None else []
    rows = [
        {
            "reference": i.reference,
            "amount": fmt(i.amount),
            "ordered": i.ordered.isoformat(),
            "received": i.received_on.isoformat(),
            "source": i.source,
            "refund_requested": i.refund is not None,
        }
        for i in items
    ]
    if as_json:
        print(json.dumps({"creditor": creditor, "items": rows}, indent=2, ensure_ascii=False))
        return
    table = Table(title=f"suspense of creditor {creditor}: {len(rows)} payment(s)", title_justify="left")
    for column in ("reference", "amount", "ordered", "received", "source", "refund requested"):
        table.add_column(column)
    for r in rows:
        table.add_row(*(str(v) if not isinstance(v, bool) else ("yes" if v else "") for v in r.values()))
    out.print(table)
    out.print("place one on a claim: kravsak payments allocate REFERENCE INVOICE --creditor " + creditor)


@payments_app.command("allocate")
def allocate_cmd(
    ctx: typer.Context,
    reference: Annotated[str, typer.Argument(help="the payer's reference of the payment in suspense")],
    invoice: Annotated[str, typer.Argument(help="the invoice to place it on")],
    creditor: Annotated[str, typer.Option(help="the creditor (municipality) number")],
    on: Annotated[str | None, typer.Option(help="business date (default today)")] = None,
) -> None:
    """Place the oldest payment in suspense with REFERENCE on INVOICE (paid on the day the payer ordered it)."""
    from domain.errors import invalid

    settings: Settings = ctx.obj
    with _errors():
        app = _app(settings)
        account = app.suspense(creditor)
        item = account.oldest_open(reference) if account is not None else None
        if item is None:
            raise invalid("reference", f"no unallocated payment with the reference {reference!r} is in suspense")
        app.allocate_suspense(
            creditor=creditor, reference=reference, invoice=invoice, on=_day(on), command_id=f"allocate:{item.item}"
        )
    out.print(f"{item.amount} (reference {reference}, ordered {item.ordered}) placed on invoice {invoice}")
