"""`kravsak settlement --creditor 5601 --period 2025-03 [--format csv|json|html]` (ADR 0019).

What was collected for one municipality in one month, read from the ledger (the projector must have caught
up: `kravsak project`), with the three-way reconciliation: money in = allocated + surplus held + suspense
held + refunds out; ledger debits = credits; each claim's ledger balance = the domain's. Exit 1 when the
reconciliation does not hold.
"""

from __future__ import annotations

import calendar
import csv
import html
import io
import json
import sys
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import psycopg
import typer
from rich.console import Console
from rich.table import Table

from kravsak.errors import KravsakError
from kravsak.settings import Settings

if TYPE_CHECKING:
    from projections.settlement import Settlement

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)
LABELS = {
    "principal": "Principal collected",
    "interest": "Interest collected",
    "fees": "Fees collected",
    "costs": "Costs collected",
    "collected": "Collected in total",
    "surplus_received": "Surplus received (owed back)",
    "refunds_out": "Refunds paid out",
    "suspense_in": "Into suspense",
    "suspense_placed": "Placed from suspense on claims",
    "written_down": "Written down in the accounts",
    "written_off": "Written off",
    "forgiven": "Principal forgiven",
    "money_in": "Money in (bank)",
    "allocated": "Allocated to claims",
    "surplus_held": "Surplus held",
    "suspense_held": "Suspense held",
    "debits": "Ledger debits",
    "credits": "Ledger credits",
}


def period_bounds(period: str) -> tuple[date, date]:
    try:
        year, month = (int(x) for x in period.split("-"))
        start = date(year, month, 1)
    except ValueError:
        raise KravsakError(f"--period {period!r} is not a month", "give it as YYYY-MM, e.g. 2025-03") from None
    return start, date(year, month, calendar.monthrange(year, month)[1])


def compute(settings: Settings, creditor: str, start: date, end: date) -> list[Settlement]:
    from domain.application import CollectionApp
    from kravsak.settings import office_secret
    from projections.base import schema_name
    from projections.settlement import claim_balances, currencies, settle

    schema = schema_name("ledger")
    app = CollectionApp(settings.eventsourcing_env(), office_secret=office_secret(settings))
    try:
        with psycopg.connect(settings.pg_dsn) as conn, conn.cursor() as cur:
            found = [settle(cur, schema, creditor, c, start, end) for c in currencies(cur, schema, creditor)]
            posted = claim_balances(cur, schema, creditor, date.max)
        differences = []
        for case_id, (invoice, balance) in sorted(posted.items()):
            domain = app.claim(creditor, invoice).account.balance()
            if domain != balance:
                differences.append({"case": case_id, "invoice": invoice, "ledger": str(balance), "domain": str(domain)})
        for s in found:
            s.claim_differences, s.claims_checked = differences, len(posted)
    finally:
        app.close()
    return found


def render_html(found: list[Settlement], creditor: str, period: str) -> str:
    from domain.money import fmt

    sections = []
    for s in found:
        collected = "".join(
            f"<tr><td>{html.escape(LABELS.get(k, k))}</td><td class=n>{fmt(v)}</td></tr>" for k, v in s.figures.items()
        )
        r = s.reconciliation
        rec = "".join(
            f"<tr><td>{html.escape(LABELS.get(k, k))}</td><td class=n>{fmt(v)}</td></tr>" for k, v in r.items()
        )
        checks = [
            ("Money in = allocated + surplus held + suspense held + refunds out", s.money_holds),
            ("Ledger debits = credits", s.balanced),
            (f"Each claim's ledger balance = the domain's ({s.claims_checked} claims)", not s.claim_differences),
        ]
        check_rows = "".join(
            f"<tr><td>{html.escape(text)}</td><td class='{'ok' if ok else 'bad'}'>{'holds' if ok else 'DOES NOT HOLD'}"
            "</td></tr>"
            for text, ok in checks
        )
        sections.append(
            f"<section><h2>{html.escape(s.currency)} · {s.start} – {s.end}</h2>"
            f"<div class=cols><div><h3>Collected in the period</h3><table>{collected}</table></div>"
            f"<div><h3>Reconciliation to {s.end}</h3><table>{rec}</table>"
            f"<h3>Checks</h3><table>{check_rows}</table></div></div></section>"
        )
    body = "".join(sections) or "<p>No postings for this creditor.</p>"
    return f"""<!doctype html><html lang=en><head><meta charset=utf-8>
<title>Settlement {html.escape(creditor)} {html.escape(period)}</title>
<style>
body{{font-family:system-ui,sans-serif;margin:2rem;color:#1d2733;background:#fafbfc}}
h1{{font-size:1.5rem;margin-bottom:.2rem}} .sub{{color:#5b6775;margin-top:0}}
section{{background:#fff;border:1px solid #dde3ea;border-radius:8px;padding:1rem 1.5rem;margin:1rem 0}}
.cols{{display:flex;gap:2.5rem;flex-wrap:wrap}} .cols>div{{flex:1 1 22rem}}
table{{border-collapse:collapse;min-width:22rem}}
td{{padding:.3rem .6rem;border-bottom:1px solid #eef1f4}} td.n{{text-align:right;font-variant-numeric:tabular-nums}}
.ok{{color:#17723b;font-weight:600}} .bad{{color:#b3261e;font-weight:700}}
</style></head><body>
<h1>Settlement for municipality {html.escape(creditor)}</h1>
<p class=sub>Period {html.escape(period)} · read from the ledger · kravsak</p>
{body}</body></html>
"""


def settlement_cmd(
    ctx: typer.Context,
    creditor: Annotated[str, typer.Option(help="the municipality (creditor) number")],
    period: Annotated[str, typer.Option(help="the month, YYYY-MM")],
    output_format: Annotated[str, typer.Option("--format", help="table, csv, json or html")] = "table",
    output: Annotated[Path | None, typer.Option("--out", help="write to this file instead of stdout")] = None,
) -> None:
    """Settlement per municipality: collected by part, refunds, write-downs and write-offs; the reconciliation."""
    from domain.money import fmt
    from projections.settlement import csv_rows

    settings: Settings = ctx.obj.for_command("settlement")  # reads only: the reader's role (ADR 0028)
    try:
        if output_format not in ("table", "csv", "json", "html"):
            raise KravsakError(f"--format {output_format!r} is not table, csv, json or html", "name one of them")
        start, end = period_bounds(period)
        found = compute(settings, creditor, start, end)
    except KravsakError as exc:
        err.print(f"[bold red]error:[/] {exc.problem} — [bold]fix:[/] {exc.fix}", soft_wrap=True)
        raise typer.Exit(exc.exit_code) from None
    text: str | None = None
    if output_format == "json":
        text = json.dumps({"settlements": [s.as_json() for s in found]}, indent=2, ensure_ascii=False) + "\n"
    elif output_format == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        for s in found:
            writer.writerows([[s.currency, *row] for row in csv_rows(s)])
        text = buffer.getvalue()
    elif output_format == "html":
        text = render_html(found, creditor, period)
    if text is not None:
        if output is not None:
            output.write_text(text, encoding="utf-8")
        else:
            sys.stdout.write(text)
    else:
        for s in found:
            table = Table(title=f"settlement {creditor} {period} ({s.currency})", title_justify="left")
            table.add_column("figure")
            table.add_column("amount", justify="right")
            for k, v in {**s.figures, **s.reconciliation}.items():
                table.add_row(LABELS.get(k, k), fmt(v))
            out.print(table)
            out.print(f"reconciliation: {'[bold green]holds[/]' if s.holds else '[bold red]does NOT hold[/]'}")
        if not found:
            out.print(f"no postings for creditor {creditor}")
    if not all(s.holds for s in found):
        raise typer.Exit(1)
