"""`kravsak refunds …`: the refund worklist (ADR 0019): list, request (suspense that belongs to no claim),
approve (four eyes: not the person who requested it), reject, export (pain.001 for the approved ones, recorded
as paid out; exporting twice pays nobody twice).

Who may run these commands: whoever can reach the event store (the service account's DSN) acts as the office
lead; the domain still refuses an approval by the requester. The HTTP API checks the role itself.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Protocol

import psycopg
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from kravsak.errors import KravsakError
from kravsak.payments_cli import _app, _by, _day
from kravsak.settings import Settings

if TYPE_CHECKING:
    from domain.application import CollectionApp
    from domain.refunds import Refund
    from intake.pain001 import Payer
    from intake.payers import Payee

refunds_app = typer.Typer(help="Refunds: the worklist, four-eyes approval, pain.001 export.", no_args_is_help=True)
out = Console(highlight=False)
err = Console(stderr=True, highlight=False)
UNKNOWN_PAYER = {"NOK": "Ukjent innbetaler", "SEK": "Okänd betalare"}


@contextmanager
def _errors() -> Iterator[None]:
    from domain.errors import CommandRefused
    from intake.pain001 import InvalidRefundFile

    try:
        yield
    except KravsakError as exc:
        err.print(f"[bold red]error:[/] {escape(exc.problem)} — [bold]fix:[/] {escape(exc.fix)}", soft_wrap=True)
        raise typer.Exit(exc.exit_code) from None
    except CommandRefused as exc:
        err.print(f"[bold red]{exc.code.value}:[/] {escape(exc.message)}", soft_wrap=True)
        raise typer.Exit(2) from None
    except InvalidRefundFile as exc:
        err.print(f"[bold red]invalid_input:[/] {escape(str(exc))} — no file written, nothing paid", soft_wrap=True)
        raise typer.Exit(2) from None


def refund_row(r: Refund, reason: str) -> dict[str, Any]:
    """One refund of the worklist; ``reason``: its code, or the note a person wrote (``refund_reason``)."""
    from domain.money import fmt

    return {
        "number": r.number,
        "creditor": r.creditor_id,
        "state": r.state.value,
        "source": r.source.value,
        "invoice": r.invoice,
        "reference": r.reference,
        "amount": fmt(r.amount),
        "currency": r.currency,
        "requested_by": r.requested_by,
        "requested_on": r.requested_on.isoformat(),
        "approved_by": r.approved_by,
        "message_id": r.message_id,
        "paid_out_on": r.paid_out_on.isoformat() if r.paid_out_on else None,
        "reason": reason,
    }


@refunds_app.command("list")
def list_cmd(
    ctx: typer.Context,
    creditor: Annotated[str | None, typer.Option(help="the creditor (default: all)")] = None,
    state: Annotated[str | None, typer.Option(help="requested, approved, rejected or paid_out")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="as JSON on stdout")] = False,
) -> None:
    """The refund worklist: surplus owed back and suspense that belongs to no claim."""
    settings: Settings = ctx.obj
    with _errors():
        app = _app(settings)
        rows = [
            refund_row(r, app.refund_reason(r))
            for r in app.refunds(creditor)
            if state is None or r.state.value == state
        ]
    if as_json:
        print(json.dumps({"refunds": rows}, indent=2, ensure_ascii=False))
        return
    table = Table(title=f"{len(rows)} refund(s)", title_justify="left")
    for column in ("number", "creditor", "state", "source", "invoice/reference", "amount", "requested", "approved"):
        table.add_column(column)
    for r in rows:
        table.add_row(
            r["number"], r["creditor"], r["state"], r["source"], r["invoice"] or r["reference"],
            f"{r['amount']} {r['currency']}", f"{r['requested_on']} {r['requested_by']}", r["approved_by"] or "",
        )  # fmt: skip
    out.print(table)


@refunds_app.command("request")
def request_cmd(
    ctx: typer.Context,
    reference: Annotated[str, typer.Argument(help="the payer's reference of the payment in suspense")],
    creditor: Annotated[str, typer.Option(help="the creditor (municipality) number")],
    reason: Annotated[str, typer.Option(help="why it belongs to no claim")] = "belongs to no claim",
    on: Annotated[str | None, typer.Option(help="business date (default today)")] = None,
    by: Annotated[str | None, typer.Option(help="who requests (default $USER)")] = None,
) -> None:
    """Pay a payment in suspense back to its payer (the oldest one with REFERENCE)."""
    from domain.errors import invalid
    from intake.payers import transaction_key

    settings: Settings = ctx.obj
    with _errors():
        app = _app(settings)
        account = app.suspense(creditor)
        item = account.oldest_open(reference) if account is not None else None
        if item is None:
            raise invalid("reference", f"no unallocated payment with the reference {reference!r} is in suspense")
        ident = app.request_refund(
            creditor=creditor, on=_day(on), command_id=f"refund:{item.item}", by=_by(by),
            payee_key=transaction_key(item.item), reference=reference, reason=reason,
        )  # fmt: skip
        number = app.refund(ident).number
    out.print(f"refund {number} requested: {item.amount} (reference {reference}) back to its payer")


@refunds_app.command("approve")
def approve_cmd(
    ctx: typer.Context,
    number: Annotated[str, typer.Argument(help="the refund number (RF-…)")],
    on: Annotated[str | None, typer.Option(help="business date (default today)")] = None,
    by: Annotated[str | None, typer.Option(help="the office lead approving (default $USER)")] = None,
) -> None:
    """Approve a refund (four eyes: not the person who requested it)."""
    from domain.refunds import refund_id_of

    settings: Settings = ctx.obj
    with _errors():
        app = _app(settings)
        ident = refund_id_of(number)
        who = _by(by)
        app.approve_refund(refund=ident, by=who, on=_day(on), command_id=f"approve:{ident}")
    out.print(f"refund {number} approved by {who}")


@refunds_app.command("reject")
def reject_cmd(
    ctx: typer.Context,
    number: Annotated[str, typer.Argument(help="the refund number (RF-…)")],
    reason: Annotated[str, typer.Option(help="why it is not paid")],
    on: Annotated[str | None, typer.Option(help="business date (default today)")] = None,
    by: Annotated[str | None, typer.Option(help="who rejects (default $USER)")] = None,
) -> None:
    """Reject a refund: the money stays where it was (the claim's surplus, or suspense)."""
    from domain.refunds import refund_id_of

    settings: Settings = ctx.obj
    with _errors():
        app = _app(settings)
        ident = refund_id_of(number)
        app.reject_refund(refund=ident, by=_by(by), reason=reason, on=_day(on), command_id=f"reject:{ident}")
    out.print(f"refund {number} rejected")


def office_payer(creditor: str, day: date) -> Payer:
    """Who pays the refunds: the creditor's account in the letterheads (the office's name)."""
    from intake.accounts import norwegian_iban
    from intake.pain001 import Payer
    from letters.letterheads import Letterheads, NoLetterhead

    try:
        head = Letterheads.load().for_creditor(creditor, day)
    except NoLetterhead as e:
        raise KravsakError(str(e), "add the creditor's account to KRAVSAK_LETTERHEADS") from None
    if head.account:
        return Payer(head.office_name[:140], norwegian_iban(head.account.replace(".", "").replace(" ", "")), "IBAN")
    if head.bankgiro:
        return Payer(head.office_name[:140], head.bankgiro.replace("-", ""), "BGNR")
    raise KravsakError(f"creditor {creditor} has no account in the letterheads", "add it to KRAVSAK_LETTERHEADS")


@refunds_app.command("export")
def export_cmd(
    ctx: typer.Context,
    creditor: Annotated[str, typer.Option(help="the creditor whose approved refunds to pay")],
    folder: Annotated[Path, typer.Option("--out", help="folder for the pain.001 file", file_okay=False)] = Path("."),
    execution_date: Annotated[str | None, typer.Option(help="the day the bank pays (default: the export day)")] = None,
    version: Annotated[str, typer.Option(help="pain.001.001.03 or .09")] = "03",
    on: Annotated[str | None, typer.Option(help="business date (default today)")] = None,
    by: Annotated[str | None, typer.Option(help="who exports (default $USER)")] = None,
) -> None:
    """Write a pain.001 credit-transfer file for the approved refunds (XSD-valid) and record them paid out.

    The message id is derived from the refunds in the file: an export interrupted after writing and run
    again writes the same file and records the same message id; a refund is never paid in two files."""
    from intake.payers import PgPayers

    settings: Settings = ctx.obj
    with _errors():
        app = _app(settings)
        day = _day(on)
        executes = _day(execution_date) if execution_date else day
        with psycopg.connect(settings.pg_dsn, autocommit=True) as conn:
            exported = export_approved(
                app, PgPayers(conn), creditor, day=day, executes=executes, folder=folder, by=_by(by), version=version
            )
    if exported is None:
        out.print(f"no approved refund of creditor {creditor} to export")
        return
    for held in exported["held"]:
        err.print(f"[yellow]held:[/] refund {held['refund']}: no payee account known ({held['payee_key']})")
    out.print(
        f"{exported['file']}: pain.001.001.{version}, {exported['transfers']} credit transfer(s), "
        f"{exported['control_sum']}; {exported['paid_out']} refund(s) recorded paid out in {exported['message_id']}"
    )


class PayeeLookup(Protocol):
    def find(self, keys: Iterable[str]) -> dict[str, Payee]: ...


def export_approved(
    app: CollectionApp,
    payers: PayeeLookup,
    creditor: str,
    *,
    day: date,
    executes: date,
    folder: Path,
    by: str,
    version: str = "03",
) -> dict[str, Any] | None:
    """The one export of ``kravsak refunds export`` and the demo's month end: the creditor's approved refunds
    with a known payee account into one pain.001 file in ``folder``, recorded paid out. None when nothing is
    approved; refused (``KravsakError``) when no approved refund has a payee account."""
    from intake import pain001

    approved = [r for r in app.refunds(creditor) if r.state.value == "approved"]
    if not approved:
        return None
    payees = payers.find(r.payee_key for r in approved)
    ready = [r for r in approved if r.payee_key in payees and payees[r.payee_key].account]
    held = [{"refund": r.number, "payee_key": r.payee_key} for r in approved if r not in ready]
    if not ready:
        raise KravsakError("no approved refund has a payee account", "reject them or record the payee")
    ids = sorted(r.number for r in ready)
    message_id = "KRAVSAK-" + hashlib.sha256("\n".join(ids).encode()).hexdigest()[:24].upper()
    transfers = []
    for r in ready:
        payee = payees[r.payee_key]
        assert payee.account is not None
        transfers.append(
            pain001.Refund(
                refund_id=r.number[:35],
                amount=r.amount,
                currency=r.currency,
                name=(payee.name or UNKNOWN_PAYER.get(r.currency, "Payer"))[:140],
                account=payee.account,
                remittance=f"Tilbakebetaling {r.reference} {r.invoice or ''}".strip()[:140],
                account_scheme=payee.scheme or "BBAN",  # type: ignore[arg-type]
            )  # fmt: skip
        )
    folder.mkdir(parents=True, exist_ok=True)
    written = pain001.write_pain001(
        folder / f"{message_id}.xml", transfers, payer=office_payer(creditor, day), message_id=message_id,
        created=datetime.combine(day, datetime.min.time()), execution_date=executes, version=version,
    )  # fmt: skip
    paid = app.pay_out_refunds(
        refunds=[r.id for r in ready], message_id=message_id, execution_date=executes, by=by, on=day
    )
    return {
        "creditor": creditor,
        "file": str(written.path),
        "message_id": message_id,
        "transfers": written.count,
        "control_sum": str(written.control_sum),
        "paid_out": len(paid),
        "amount": sum((r.amount for r in ready), Decimal(0)),
        "held": held,
    }
