"""What `kravsak demo` shows: a terminal summary and a self-contained HTML report.

Every figure comes from the read models the projector built (``projections.reports``), the case
dossiers from ``projections.dossier`` (rendered by ``web.dossier``), the process manager's steps from
its own tables. Findings are counted by severity: breaches apart from warnings and infos. The charts
are inline SVG drawn here: no JavaScript, no CDN, the report opens offline.
"""

from __future__ import annotations

import html
import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
from rich.console import Console
from rich.table import Table

from consumers import automate
from consumers.projector import parked_count
from domain.suspense import suspense_id
from kravsak.demo.run import DemoRun
from kravsak.demo.world import MUNICIPALITIES, OFFICE_NAME
from kravsak.settings import Settings
from projections import dossier, reports
from projections.settlement import Settlement, settle
from web.dossier import render_html

NAMES = {m.number: m.name for m in MUNICIPALITIES}
SHORT = {m.number: m.name.split()[0] for m in MUNICIPALITIES}
MUNICIPALITY_COLOURS = {"5601": "#2f6db5", "5603": "#e8883a", "5618": "#3f9e5b", "5620": "#8a5cb8", "1465": "#c9a227"}
STAGE_COLOURS = {
    "not_due": "#dfe6ef",
    "invoiced": "#8fb0d8",
    "reminded": "#f4cd63",
    "warned": "#ef9a55",
    "demanded": "#d9534f",
    "enforcement": "#8e3b8f",
    "judgment": "#3c2342",
    "paid": "#4caf6e",
    "written_off": "#9a9a9a",
}
STEP_COLOURS = {
    "purring": "#f4cd63",
    "paminnelse": "#f7dc8f",
    "inkassovarsel": "#ef9a55",
    "inkassokrav": "#f3b27c",
    "betalingsoppfordring": "#d9534f",
    "utleggsbegjaering": "#8e3b8f",
    "utleggstrekk": "#b27bb3",
    "betalningsforelaggande": "#5d2a6e",
    "plan": "#3c2342",
}
WORKLIST_DAYS = 365


@dataclass
class Summary:
    money: list[dict[str, Any]]
    stages: dict[str, int]
    stages_by_creditor: list[dict[str, Any]]
    ageing: list[dict[str, Any]]
    worklist: list[dict[str, Any]]
    time_barred: int
    findings: list[dict[str, Any]]
    steps: dict[str, int]
    actions: list[tuple[date, str, str, int]]
    alerts: int
    parked: dict[str, int]
    examples: dict[str, dict[str, Any]]
    dossiers: dict[str, dict[str, Any]] = field(default_factory=dict)
    settlements: list[Settlement] = field(default_factory=list)


def summarise(settings: Settings, run: DemoRun) -> Summary:
    scope, end = run.scope, run.end
    with psycopg.connect(settings.pg_dsn, autocommit=True) as conn, conn.cursor() as cur:
        examples = reports.example_cases(cur, scope)
        summary = Summary(
            money=reports.money_by_creditor(cur, scope, run.start, end),
            stages=reports.stage_counts(cur, scope, end),
            stages_by_creditor=reports.stages_by_creditor(cur, scope, end),
            ageing=reports.ageing(cur, scope, end),
            worklist=reports.limitation_worklist(cur, scope, end, WORKLIST_DAYS, 15),
            time_barred=reports.time_barred(cur, scope, end),
            findings=reports.findings_by_code(cur, scope),
            steps=reports.step_counts(cur, scope),
            actions=automate.actions_by_week(conn, run.namespace),
            alerts=automate.alert_count(conn, run.namespace),
            parked=parked_count(conn),
            examples=examples,
        )
        summary.settlements = year_settlements(cur, run)
        from kravsak.demo.people import dispatch_sample
        from letters.queries import letters_for_case

        run.letters = dispatch_sample(settings, run.tag, run.folder, [str(c["case_id"]) for c in examples.values()])
        for key, case in examples.items():
            built = dossier.build(cur, case["case_id"], end)
            if built is not None:
                built["letters"] = [
                    {**x, "href": run.letters["files"].get(x["letter_id"])}
                    for x in letters_for_case(cur, case["case_id"])
                ]
                summary.dossiers[key] = built
    return summary


def year_settlements(cur: psycopg.Cursor[Any], run: DemoRun) -> list[Settlement]:
    """Each municipality's settlement for the year from the ledger (``kravsak settlement``'s figures and
    reconciliation), restricted to this run's claims and suspense account: the ledger holds earlier runs too."""
    schema = run.scope.schema("ledger")
    found = []
    for m in MUNICIPALITIES:
        cur.execute(
            f'SELECT case_id FROM "{schema}".claims WHERE creditor_id = %s AND invoice LIKE %s',
            (m.number, run.scope.like),
        )
        cases = [str(c) for (c,) in cur.fetchall()] + [str(suspense_id(run.namespace, m.number))]
        found.append(settle(cur, schema, m.number, m.currency, run.start, run.end, cases=cases))
    return found


def money_rows(run: DemoRun, s: Summary) -> list[dict[str, Any]]:
    """Per municipality: what the bank files brought (the imports' reports) beside the ledger's settlement."""
    files = run.bank.per_creditor()
    rows = []
    for st in s.settlements:
        f = files.get(st.creditor, {})
        fig, rec = st.figures, st.reconciliation
        rows.append({
            "creditor": st.creditor, "currency": st.currency,
            "formats": ", ".join(sorted(f.get("formats", ()))) or "—", "files": f.get("files", 0),
            "transactions": f.get("transactions", 0), "money_in_files": f.get("money_in", Decimal(0)),
            "money_in": rec["money_in"], "collected": fig["collected"],
            **{p: fig[p] for p in ("principal", "interest", "fees", "costs")},
            "suspense_in": fig["suspense_in"], "suspense_placed": fig["suspense_placed"],
            "suspense_held": rec["suspense_held"], "surplus_received": fig["surplus_received"],
            "refunds_out": fig["refunds_out"], "surplus_held": rec["surplus_held"],
            "reconciled": st.money_holds and st.balanced,
        })  # fmt: skip
    return rows


# --- the terminal ------------------------------------------------------------------------------


def _money(value: Decimal) -> str:
    return f"{value:,.0f}".replace(",", " ")


def print_summary(console: Console, run: DemoRun, s: Summary) -> None:
    secs = run.seconds
    console.print(
        f"\n[bold]{OFFICE_NAME}[/] and Svenljunga kommun, {run.start} → {run.end}: {run.debtors} debtors, "
        f"{sum(s.stages.values())} claims, {run.events:,} events through Kafka. Simulated in "
        f"{secs.get('simulation', 0):.0f} s ({secs.get('sim_weekly_wait', 0):.0f} s of it waiting for the projections "
        f"at the weekly snapshots), {secs.get('total', 0):.0f} s in all."
    )
    t = Table(
        title=f"Ledger per municipality, {run.start.year}: invoiced, collected in the year (by part), "
        "written off, still open",
        title_justify="left",
    )
    for col in (
        "municipality",
        "cur",
        "claims",
        "invoiced",
        "principal",
        "interest",
        "fees",
        "costs",
        "written off",
        "open",
        "rate",
    ):
        t.add_column(col, justify="left" if col in ("municipality", "cur") else "right", no_wrap=True)
    for m in s.money:
        t.add_row(
            SHORT.get(m["creditor_id"], m["creditor_id"]),
            m["currency"],
            str(m["claims"]),
            _money(m["invoiced"] - m["credited"]),
            _money(m["collected_principal"]),
            _money(m["collected_interest"]),
            _money(m["collected_fees"]),
            _money(m["collected_costs"]),
            _money(m["written_off"]),
            _money(m["open_balance"]),
            f"{m['collection_rate'] * 100:.1f} %",
        )
    console.print(t)

    t = Table(title="Cases per stage (open claims by stage; closed as paid or written off)", title_justify="left")
    t.add_column("municipality")
    columns = ["not_due", *reports.STAGES, "paid", "written_off"]
    for st in columns:
        t.add_column(st.replace("_", " "), justify="right")
    per: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(columns, 0))
    for row in s.stages_by_creditor:
        per[row["creditor_id"]][row["stage"]] = int(row["claims"])
    for creditor, counts in sorted(per.items()):
        t.add_row(SHORT.get(creditor, creditor), *(str(counts[c]) for c in columns))
    t.add_row("[bold]all[/]", *(f"[bold]{s.stages.get(c, 0)}[/]" for c in columns))
    console.print(t)

    t = Table(title="Process manager (kravsak automate)", title_justify="left")
    t.add_column("step")
    t.add_column("count", justify="right")
    for name, count in sorted(run.pm_commands.items(), key=lambda kv: -kv[1]):
        t.add_row(name, str(count))
    t.add_row("payment plans found broken", str(run.plan_breaches))
    t.add_row("limitation alerts", str(s.alerts))
    for code, count in sorted(run.pm_refused.items()):
        t.add_row(f"refused: {code}", str(count))
    console.print(t)

    console.print(samlesak_table(run))
    console.print(money_table(run, s))

    t = Table(
        title=f"Limitation worklist: open claims whose limitation date falls within {WORKLIST_DAYS} days of "
        f"{run.end} ({s.time_barred} claims already time-barred)",
        title_justify="left",
    )
    for col in ("limitation date", "days", "municipality", "invoice", "type", "stage", "principal", "why paused"):
        t.add_column(col, justify="right" if col in ("days", "principal") else "left")
    for w in s.worklist[:10]:
        t.add_row(
            str(w["limitation_date"]),
            str(w["days_left"]),
            SHORT.get(w["creditor_id"], w["creditor_id"]),
            w["invoice"],
            w["claim_type"],
            w["stage"],
            f"{_money(w['principal_outstanding'])} {w['currency']}",
            _why_paused(w),
        )
    if not s.worklist:
        t.add_row("—", "", "", "", "", "", "", "nothing falls due for limitation in the window")
    console.print(t)

    totals = severity_totals(s.findings)
    t = Table(
        title="Findings of the good-collection-practice audit",
        title_justify="left",
        caption=f"{totals['breach']} breaches · {totals['warning']} warnings · {totals['info']} infos",
        caption_justify="left",
    )
    for col in ("code", "severity", "findings", "cases"):
        t.add_column(col, justify="right" if col in ("findings", "cases") else "left")
    for f in s.findings:
        t.add_row(f["code"], f["severity"], str(f["findings"]), str(f["cases"]))
    if not s.findings:
        t.add_row("—", "", "0", "0")
    console.print(t)
    parked = sum(s.parked.values())
    if parked:
        console.print(f"[bold red]{parked} parked case(s) in the projections[/] (`kravsak status`)")


def samlesak_table(run: DemoRun) -> Table:
    """Fees and court/enforcement fees charged with samlesak against what the same steps would have charged per
    claim (``kravsak.demo.run.samlesak_charges``)."""
    t = Table(
        title="Samlesak: notice fees and court/enforcement fees charged with merging, and per claim alone "
        "(the same steps priced by each claim's own rules)",
        title_justify="left",
    )
    for col in (
        "municipality",
        "cur",
        "merge",
        "claims",
        "in combined",
        "fees",
        "per claim",
        "court fees",
        "per claim",
    ):
        t.add_column(col, justify="left" if col in ("municipality", "cur", "merge") else "right", no_wrap=True)
    for c in run.charges:
        t.add_row(
            SHORT.get(c["creditor_id"], c["creditor_id"]),
            c["currency"],
            "on" if c["merge_claims"] else "off",
            str(c["claims"]),
            str(c["claims_combined"]),
            _money(c["fees"]),
            _money(c["fees_alone"]),
            _money(c["costs"]),
            _money(c["costs_alone"]),
        )
    return t


def money_table(run: DemoRun, s: Summary) -> Table:
    b = run.bank
    t = Table(
        title="Money in and out: the banks' files, suspense, refunds and the settlement per municipality",
        title_justify="left",
        caption=f"{len(b.files)} bank files imported · {b.placed} suspense items placed by a caseworker · "
        f"{b.refunds_approved} refunds approved · {len(b.refund_files)} pain.001 files",
        caption_justify="left",
    )
    for col in ("municipality", "files", "payments", "money in", "suspense in", "placed", "refunds out", "reconciled"):
        t.add_column(col, justify="left" if col in ("municipality", "files") else "right", no_wrap=True)
    for r in money_rows(run, s):
        t.add_row(
            SHORT.get(r["creditor"], r["creditor"]), f"{r['files']} {r['formats']}", str(r["transactions"]),
            f"{_money(r['money_in'])} {r['currency']}", _money(r["suspense_in"]), _money(r["suspense_placed"]),
            _money(r["refunds_out"]), "✓" if r["reconciled"] else "[bold red]✗[/]",
        )  # fmt: skip
    return t


def _samlesak_saved(run: DemoRun, currency: str) -> tuple[Decimal, Decimal]:
    """Fees and court fees a debtor was spared by samlesak, in one currency."""
    rows = [c for c in run.charges if c["currency"] == currency]
    fees = sum((c["fees_alone"] - c["fees"] for c in rows), Decimal(0))
    costs = sum((c["costs_alone"] - c["costs"] for c in rows), Decimal(0))
    return fees, costs


def _why_paused(w: dict[str, Any]) -> str:
    if w["died"]:
        return f"debtor died {w['died']}"
    if w["disputed"]:
        return "disputed"
    if w["stage"] in ("enforcement", "judgment"):
        return "at enforcement"
    return "in collection"


# --- the HTML report -----------------------------------------------------------------------------


def write_report(run: DemoRun, s: Summary) -> Path:
    folder = run.folder
    links = []
    for key, built in s.dossiers.items():
        name = f"dossier-{key}-{built['claim']['invoice']}.html"
        (folder / name).write_text(render_html(built), encoding="utf-8")
        links.append((name, built, s.examples[key]["why"]))
    (folder / "summary.json").write_text(json.dumps(_json_summary(run, s), indent=2, default=str), encoding="utf-8")
    index = folder / "index.html"
    index.write_text(_page(run, s, links), encoding="utf-8")
    return index


def _json_summary(run: DemoRun, s: Summary) -> dict[str, Any]:
    return {
        "namespace": str(run.namespace),
        "invoice_prefix": run.scope.prefix,
        "debtors": run.debtors,
        "seed": run.seed,
        "period": [run.start, run.end],
        "events": run.events,
        "seconds": run.seconds,
        "letters": {k: v for k, v in run.letters.items() if k != "files"},
        "money": s.money,
        "stages": s.stages,
        "findings": s.findings,
        "worklist": s.worklist,
        "process_manager": dict(run.pm_commands),
        "samlesak": run.charges,
        "money_in_and_out": [
            {k: (str(v) if isinstance(v, Decimal) else v) for k, v in r.items()} for r in money_rows(run, s)
        ],
        "settlements": [st.as_json() for st in s.settlements],
        "refused": dict(run.pm_refused),
        "alerts": s.alerts,
        "weekly_stages": [[d, c] for d, c in run.weekly],
    }


CSS = """
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:0;background:#f4f5f8;color:#1d2330}
header{background:#1d2a44;color:#fff;padding:1.4rem 2rem}
header h1{margin:0;font-size:1.5rem} header p{margin:.3rem 0 0;color:#c8d0e0}
main{max-width:1320px;margin:0 auto;padding:1.2rem 2rem 3rem}
.kpis{display:grid;grid-template-columns:repeat(6,1fr);gap:.8rem;margin:1rem 0}
.kpi{background:#fff;border-radius:8px;padding:.8rem 1rem;box-shadow:0 1px 2px rgba(0,0,0,.08)}
.kpi b{display:block;font-size:1.45rem} .kpi span{color:#5a6478;font-size:.85rem}
.grid{display:grid;grid-template-columns:1fr 1fr;gap:1rem}
.card{background:#fff;border-radius:8px;padding:1rem 1.2rem;box-shadow:0 1px 2px rgba(0,0,0,.08);margin-top:1rem}
.card h2{font-size:1.05rem;margin:0 0 .6rem} .card p.note{color:#5a6478;font-size:.85rem;margin:.4rem 0 0}
table{border-collapse:collapse;width:100%;font-size:.88rem}
th,td{padding:.28rem .45rem;border-bottom:1px solid #e6e8ef;text-align:left}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums} td.n{white-space:nowrap} th{color:#5a6478;font-weight:600}
svg text{font-family:system-ui,sans-serif} a{color:#2f6db5}
"""


def severity_totals(findings: list[dict[str, Any]]) -> dict[str, int]:
    """Findings per severity (breach, warning, info): the headline counts breaches apart from infos."""
    totals = dict.fromkeys(("breach", "warning", "info"), 0)
    for f in findings:
        totals[f["severity"]] = totals.get(f["severity"], 0) + int(f["findings"])
    return totals


def _severity_counts(findings: list[dict[str, Any]]) -> str:
    t = severity_totals(findings)
    return f"{t['breach']} · {t['warning']} · {t['info']}"


def _page(run: DemoRun, s: Summary, links: list[tuple[str, dict[str, Any], str]]) -> str:
    e = html.escape
    claims = sum(s.stages.values())
    nok = [m for m in s.money if m["currency"] == "NOK"]
    invoiced_nok = sum((m["invoiced"] - m["credited"] for m in nok), Decimal(0))
    collected_nok = sum((m["collected_principal"] for m in nok), Decimal(0))
    pm_total = sum(run.pm_commands.values())
    totals = severity_totals(s.findings)
    kpis = [
        (f"{claims:,}".replace(",", " "), "claims invoiced"),
        (f"{run.events:,}".replace(",", " "), "events through Kafka"),
        (f"{invoiced_nok / 1_000_000:.1f} M NOK", "principal invoiced (NO)"),
        (f"{collected_nok / invoiced_nok * 100:.1f} %" if invoiced_nok else "–", "principal collected (NO)"),
        (f"{pm_total:,}".replace(",", " "), "steps by the process manager"),
        (
            f"{totals['breach']} breaches",
            f"found by the audit, besides {totals['warning']} warnings and {totals['info']} infos",
        ),
    ]
    kpi_html = "".join(f"<div class=kpi><b>{e(v)}</b><span>{e(t)}</span></div>" for v, t in kpis)
    money_rows = "".join(
        f"<tr><td>{e(m['creditor_id'])} {e(NAMES.get(m['creditor_id'], ''))}</td><td>{e(m['currency'])}</td>"
        f"<td class=n>{m['claims']}</td><td class=n>{_money(m['invoiced'])}</td>"
        f"<td class=n>{_money(m['credited'])}</td>"
        f"<td class=n>{_money(m['collected_principal'])}</td><td class=n>{_money(m['collected_interest'])}</td>"
        f"<td class=n>{_money(m['collected_fees'])}</td><td class=n>{_money(m['collected_costs'])}</td>"
        f"<td class=n>{_money(m['written_off'])}</td><td class=n>{_money(m['open_balance'])}</td>"
        f"<td class=n>{m['collection_rate'] * 100:.1f} %</td></tr>"
        for m in s.money
    )
    findings_rows = (
        "".join(
            f"<tr><td>{e(f['code'])}</td><td>{e(f['severity'])}</td><td class=n>{f['findings']}</td>"
            f"<td class=n>{f['cases']}</td></tr>"
            for f in s.findings
        )
        or "<tr><td colspan=4>No findings.</td></tr>"
    )
    worklist_rows = (
        "".join(
            f"<tr><td>{e(str(w['limitation_date']))}</td><td class=n>{w['days_left']}</td>"
            f"<td>{e(SHORT.get(w['creditor_id'], w['creditor_id']))}</td>"
            f"<td>{e(w['invoice'])}</td><td>{e(w['claim_type'])}</td><td>{e(w['stage'])}</td>"
            f"<td class=n>{_money(w['principal_outstanding'])} {e(w['currency'])}</td><td>{e(_why_paused(w))}</td></tr>"
            for w in s.worklist
        )
        or "<tr><td colspan=8>Nothing falls due for limitation in the window.</td></tr>"
    )
    dossier_rows = "".join(
        f"<tr><td><a href='{e(name)}'>{e(built['claim']['invoice'])}</a></td>"
        f"<td>{e(SHORT.get(str(built['creditor']), str(built['creditor'])))}</td>"
        f"<td>{e(str(built['claim']['claim_type']))}</td>"
        f"<td>{e(why)}</td><td class=n>{len(built['steps'])}</td><td class=n>{built['headline']['breach']}</td>"
        f"<td class=n>{built['headline']['warning'] + built['headline']['info']}</td></tr>"
        for name, built, why in links
    )
    letters = run.letters or {}
    files = letters.get("files", {})
    letter_rows = "".join(
        f"<tr><td>{e(k)}</td><td class=n>{v}</td></tr>" for k, v in sorted(letters.get("by_kind", {}).items())
    )
    letter_links = " · ".join(
        f"<a href='{e(path)}'>{e(Path(path).stem.split('-', 1)[1].rsplit('-', 1)[0])}</a>"
        for path in sorted(files.values())[:12]
    )
    channels = ", ".join(f"{k} {v}" for k, v in sorted(letters.get("by_channel", {}).items()))
    rendered = (
        f"{letters.get('rendered', 0)} letters in {letters.get('seconds', 0)} s "
        f"({letters.get('ms_per_letter', 0)} ms each)"
    )
    letters_card = (
        "<div class=card><h2>Letters</h2><table><tr><th>letter</th><th class=n>due to be sent</th></tr>"
        f"{letter_rows}</table><p class=note>By channel: {e(channels)}. {run.people} debtors in the register "
        f"(synthetic identities). Rendered for this report: {rendered} — the example dossiers' letters and two "
        "of each kind; the rest with <code>kravsak letters dispatch</code>.</p>"
        f"<p>{letter_links}</p></div>"
    )
    pm_rows = "".join(
        f"<tr><td>{e(k)}</td><td class=n>{v}</td></tr>"
        for k, v in sorted(run.pm_commands.items(), key=lambda kv: -kv[1])
    )
    pm_rows += f"<tr><td>payment plans found broken</td><td class=n>{run.plan_breaches}</td></tr>"
    pm_rows += f"<tr><td>limitation alerts</td><td class=n>{s.alerts}</td></tr>"
    pm_rows += "".join(
        f"<tr><td>refused: {e(k)}</td><td class=n>{v}</td></tr>" for k, v in sorted(run.pm_refused.items())
    )
    samlesak_rows = "".join(
        f"<tr><td>{e(c['creditor_id'])} {e(NAMES.get(c['creditor_id'], ''))}</td><td>{e(c['currency'])}</td>"
        f"<td>{'on' if c['merge_claims'] else 'off'}</td><td class=n>{c['claims']}</td>"
        f"<td class=n>{c['claims_combined']}</td><td class=n>{_money(c['fees'])}</td>"
        f"<td class=n>{_money(c['fees_alone'])}</td><td class=n>{_money(c['costs'])}</td>"
        f"<td class=n>{_money(c['costs_alone'])}</td></tr>"
        for c in run.charges
    )
    spared = "; ".join(
        f"{_money(fees)} {cur} in fees and {_money(costs)} {cur} in court and enforcement fees"
        for cur in ("NOK", "SEK")
        for fees, costs in [_samlesak_saved(run, cur)]
        if any(c["currency"] == cur for c in run.charges)
    )
    samlesak_card = (
        "<div class=card><h2>Samlesak: fees with merging and per claim</h2><table><tr><th>municipality</th>"
        "<th>cur</th><th>merging</th><th class=n>claims</th><th class=n>in a combined letter or request</th>"
        "<th class=n>fees charged</th><th class=n>fees per claim</th><th class=n>court/enforcement fees charged</th>"
        f"<th class=n>per claim</th></tr>{samlesak_rows}</table>"
        f"<p class=note>Debtors spared by merging: {e(spared or 'nothing')}. A debtor's claims of one creditor due "
        "for the same step on the same day went in one letter or request with one fee (on the oldest claim whose "
        "fee cap allows it) and one court fee. The per-claim figures price the same steps on the same days for "
        "each claim alone by its own rules and fee cap (computed from the trail, not by running the year "
        "twice; ADR 0021).</p></div>"
    )
    money_card = _money_card(run, s)
    secs = run.seconds
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>kravsak demo {e(run.tag)} — {run.start.year}</title>
<style>{CSS}</style></head><body>
<header><h1>{e(OFFICE_NAME)} + Svenljunga kommun — simulated year {run.start.year}</h1>
<p>{run.debtors:,} debtors · {len(MUNICIPALITIES)} municipalities · invoices {e(run.scope.prefix)}… · namespace
{run.namespace} · seed {run.seed} · simulated in {secs.get("simulation", 0):.0f} s, all in {secs.get("total", 0):.0f} s
· figures from the read models (ledger, limitation watch, audit trail) as the projector built them</p></header>
<main>
<div class=kpis>{kpi_html}</div>
{money_card}
<div class=card><h2>Open cases per stage, week by week</h2>{stage_area_chart(run.weekly)}
<p class=note>Counted every simulated Sunday from the ledger's claims table, after the publisher and the projector
had caught up. Reminders (purring/påminnelse), warnings (inkassovarsel/inkassokrav), demands (betalingsoppfordring)
and enforcement are sent by the process manager on the days the creditors' policies say.</p></div>
<div class=grid>
<div class=card><h2>Collection rate per municipality</h2>{collection_rate_chart(s.money)}
<p class=note>Principal collected in {run.start.year} ÷ principal invoiced (net of credit notes).</p></div>
<div class=card><h2>Ageing of open receivables on {run.end}</h2>{ageing_chart(s.ageing)}
<p class=note>Open claims by days past the effective due date, stacked by municipality.</p></div>
</div>
<div class=card><h2>Steps issued by the process manager per week</h2>{steps_chart(s.actions, run.start, run.end)}</div>
<div class=card><h2>Ledger per municipality</h2><table><tr><th>municipality</th><th>cur</th><th class=n>claims</th>
<th class=n>invoiced</th><th class=n>credited</th><th class=n>collected principal</th><th class=n>interest</th>
<th class=n>fees</th><th class=n>costs</th><th class=n>written off</th><th class=n>open</th>
<th class=n>collection rate</th></tr>{money_rows}</table></div>
<div class=grid>
<div class=card><h2>Case dossiers</h2><table><tr><th>invoice</th><th>municipality</th><th>type</th><th>why this one</th>
<th class=n>steps</th><th class=n>breaches</th><th class=n>other findings</th></tr>{dossier_rows}</table>
<p class=note>The dossier a complaints board reads: every step with its legal basis and rule version, the audit's
findings, the costs that fell away, and why the claim is (or is not) time-barred.</p></div>
<div class=card><h2>Process manager</h2><table><tr><th>step</th><th class=n>count</th></tr>{pm_rows}</table></div>
</div>
{samlesak_card}
{letters_card}
<div class=card><h2>Limitation worklist — limitation within {WORKLIST_DAYS} days of {run.end}</h2><table><tr>
<th>limitation date</th><th class=n>days</th><th>municipality</th><th>invoice</th><th>type</th><th>stage</th>
<th class=n>principal</th><th>why</th></tr>{worklist_rows}</table>
<p class=note>{s.time_barred} claims taken over from the old system were already time-barred by {run.end}.</p></div>
<div class=card><h2>Findings of the good-collection-practice audit — {_severity_counts(s.findings)}
(breaches · warnings · infos)</h2><table><tr><th>code</th><th>severity</th>
<th class=n>findings</th><th class=n>cases</th></tr>{findings_rows}</table></div>
</main></body></html>
"""


# --- charts (inline SVG) ---------------------------------------------------------------------------


def _money_card(run: DemoRun, s: Summary) -> str:
    e = html.escape
    rows = "".join(
        f"<tr><td>{e(r['creditor'])} {e(NAMES.get(r['creditor'], ''))}</td><td>{e(r['currency'])}</td>"
        f"<td>{r['files']} {e(r['formats'])}</td><td class=n>{r['transactions']:,}</td>"
        f"<td class=n>{_money(r['money_in'])}</td><td class=n>{_money(r['principal'])}</td>"
        f"<td class=n>{_money(r['interest'])}</td><td class=n>{_money(r['fees'] + r['costs'])}</td>"
        f"<td class=n>{_money(r['suspense_in'])}</td><td class=n>{_money(r['suspense_placed'])}</td>"
        f"<td class=n>{_money(r['suspense_held'])}</td><td class=n>{_money(r['surplus_received'])}</td>"
        f"<td class=n>{_money(r['refunds_out'])}</td><td>{'✓' if r['reconciled'] else '✗ does not hold'}</td></tr>"
        for r in money_rows(run, s)
    )
    b = run.bank
    return (
        "<div class=card><h2>Money in and out: bank files, suspense, refunds and the settlement per municipality"
        "</h2><table><tr><th>municipality</th><th>cur</th><th>bank files</th><th class=n>transactions</th>"
        "<th class=n>money in</th><th class=n>principal</th><th class=n>interest</th><th class=n>fees and costs</th>"
        "<th class=n>into suspense</th><th class=n>placed from suspense</th><th class=n>suspense held</th>"
        "<th class=n>surplus (owed back)</th><th class=n>refunds paid out</th><th>reconciled</th></tr>"
        f"{rows}</table><p class=note>Every payment of the year arrived in a bank file (Nets OCR giro, camt.054, "
        f"BgMax) and went through <code>kravsak payments import</code>'s code path: {len(b.files):,} files. A "
        f"mistyped KID or OCR reference landed in suspense; a caseworker placed {b.placed} items on their claims, "
        f"{b.suspense_refunded} nobody could place went back to the payer. Surpluses (a bill paid twice) were "
        f"requested as refunds by the import, {b.refunds_approved} refunds approved by a second caseworker and "
        f"paid in {len(b.refund_files)} pain.001 files. Collected and reconciliation from the ledger as "
        "<code>kravsak settlement</code> computes them: money in = allocated + surplus held + suspense held + "
        "refunds out, and ledger debits = credits.</p></div>"
    )


def _svg(width: int, height: int, body: str) -> str:
    return (
        f"<svg viewBox='0 0 {width} {height}' width='100%' role='img' xmlns='http://www.w3.org/2000/svg' "
        f"style='max-width:{width}px'>{body}</svg>"
    )


def _ticks(value: float, count: int = 4) -> tuple[float, float]:
    """A round top of the axis at or above ``value`` and its step (1, 2 or 5 × a power of ten)."""
    if value <= 0:
        return 1.0, 0.25
    raw = value / count
    magnitude = 10 ** (len(str(int(raw))) - 1) if raw >= 1 else 1
    step = next(m * magnitude for m in (1, 2, 5, 10) if raw <= m * magnitude)
    return float(step * -(-value // step)), float(step)


def _y_axis(left: int, width: float, top: int, height: float, ymax: float, step: float) -> str:
    out, v = [], 0.0
    while v <= ymax + 1e-9:
        gy = top + height - height * v / ymax
        out.append(
            f"<line x1='{left}' x2='{left + width:.1f}' y1='{gy:.1f}' y2='{gy:.1f}' stroke='#e3e6ee'/>"
            f"<text x='{left - 6}' y='{gy + 4:.1f}' font-size='11' text-anchor='end' fill='#667'>"
            f"{int(v):,}</text>".replace(",", " ")
        )
        v += step
    return "".join(out)


def _legend(items: list[tuple[str, str]], x: int, y: int, width: int) -> str:
    """Swatches and labels in a row, wrapping to the next line at ``width``."""
    out, lx, ly = [], x, y
    for label, colour in items:
        span = 34 + int(7.4 * len(label))
        if lx + span > x + width:
            lx, ly = x, ly + 18
        out.append(
            f"<rect x='{lx}' y='{ly - 10}' width='12' height='12' rx='2' fill='{colour}'/>"
            f"<text x='{lx + 17}' y='{ly}' font-size='12' fill='#334'>{html.escape(label)}</text>"
        )
        lx += span
    return "".join(out)


STAGE_LABELS = {"not_due": "not yet due", "invoiced": "overdue, no notice yet"}


def stage_area_chart(weekly: list[tuple[date, dict[str, int]]], width: int = 1240, height: int = 330) -> str:
    if not weekly:
        return "<p>No weekly counts.</p>"
    left, right, top, bottom = 56, 20, 34, 40
    w, h = width - left - right, height - top - bottom
    stages = list(reports.STAGES)
    totals = [sum(c.get(st, 0) for st in stages) for _, c in weekly]
    ymax, step = _ticks(max(totals) if totals else 1)
    n = len(weekly)

    def x(i: int) -> float:
        return left + (w * i / max(n - 1, 1))

    def y(v: float) -> float:
        return top + h - h * v / ymax

    parts = [_y_axis(left, w, top, h, ymax, step)]
    base = [0] * n
    for st in stages:
        upper = [base[i] + weekly[i][1].get(st, 0) for i in range(n)]
        pts = [f"{x(i):.1f},{y(upper[i]):.1f}" for i in range(n)] + [
            f"{x(i):.1f},{y(base[i]):.1f}" for i in reversed(range(n))
        ]
        parts.append(
            f"<polygon points='{' '.join(pts)}' fill='{STAGE_COLOURS[st]}' fill-opacity='.95'>"
            f"<title>{STAGE_LABELS.get(st, st)}</title></polygon>"
        )
        base = upper
    last_month = None
    for i, (d, _) in enumerate(weekly):
        if d.month != last_month:
            last_month = d.month
            parts.append(
                f"<text x='{x(i):.1f}' y='{top + h + 18}' font-size='11' fill='#667'>{d.strftime('%b')}</text>"
            )
    parts.append(f"<line x1='{left}' x2='{left + w}' y1='{top + h}' y2='{top + h}' stroke='#99a'/>")
    parts.append(_legend([(STAGE_LABELS.get(st, st), STAGE_COLOURS[st]) for st in stages], left, 18, w))
    return _svg(width, height, "".join(parts))


def collection_rate_chart(money: list[dict[str, Any]], width: int = 600, height: int = 250) -> str:
    rows = [
        (
            f"{SHORT.get(m['creditor_id'], m['creditor_id'])} ({m['currency']})",
            float(m["collection_rate"]) * 100,
            MUNICIPALITY_COLOURS.get(m["creditor_id"], "#777"),
        )
        for m in money
    ]
    if not rows:
        return "<p>No claims.</p>"
    left, top, bar, gap = 150, 20, 28, 12
    w = width - left - 70
    parts = []
    for k in range(0, 101, 25):
        gx = left + w * k / 100
        parts.append(
            f"<line x1='{gx:.1f}' x2='{gx:.1f}' y1='{top - 6}' y2='{top + len(rows) * (bar + gap)}' "
            f"stroke='#e3e6ee'/><text x='{gx:.1f}' y='{top + len(rows) * (bar + gap) + 14}' font-size='11' "
            f"text-anchor='middle' fill='#667'>{k} %</text>"
        )
    for i, (label, rate, colour) in enumerate(rows):
        by = top + i * (bar + gap)
        parts.append(
            f"<text x='{left - 8}' y='{by + bar * 0.68:.1f}' font-size='12.5' text-anchor='end' "
            f"fill='#223'>{html.escape(label)}</text>"
            f"<rect x='{left}' y='{by}' width='{w * min(rate, 100) / 100:.1f}' height='{bar}' rx='3' "
            f"fill='{colour}'/><text x='{left + w * min(rate, 100) / 100 + 6:.1f}' y='{by + bar * 0.68:.1f}' "
            f"font-size='12.5' font-weight='600' fill='#223'>{rate:.1f} %</text>"
        )
    return _svg(width, max(height, top + len(rows) * (bar + gap) + 24), "".join(parts))


def ageing_chart(ageing: list[dict[str, Any]], width: int = 600, height: int = 270) -> str:
    labels = reports.bucket_labels()
    creditors = sorted({a["creditor_id"] for a in ageing})
    counts = {(a["creditor_id"], a["bucket"]): int(a["claims"]) for a in ageing}
    totals = [sum(counts.get((c, b), 0) for c in creditors) for b in labels]
    if not any(totals):
        return "<p>No open receivables.</p>"
    left, right, top, bottom = 46, 10, 40, 36
    w, h = width - left - right, height - top - bottom
    ymax, step = _ticks(max(totals))
    slot = w / len(labels)
    parts = [_y_axis(left, w, top, h, ymax, step)]
    for i, b in enumerate(labels):
        bx, acc = left + i * slot + slot * 0.18, 0
        for c in creditors:
            v = counts.get((c, b), 0)
            if v:
                y0 = top + h - h * (acc + v) / ymax
                parts.append(
                    f"<rect x='{bx:.1f}' y='{y0:.1f}' width='{slot * 0.64:.1f}' height='{h * v / ymax:.1f}' "
                    f"fill='{MUNICIPALITY_COLOURS.get(c, '#777')}'><title>{NAMES.get(c, c)}: {v}</title>"
                    "</rect>"
                )
                acc += v
        parts.append(
            f"<text x='{left + i * slot + slot / 2:.1f}' y='{top + h + 16}' font-size='11' "
            f"text-anchor='middle' fill='#556'>{html.escape(b)}</text>"
        )
        if totals[i]:
            parts.append(
                f"<text x='{left + i * slot + slot / 2:.1f}' y='{top + h - h * totals[i] / ymax - 4:.1f}' "
                f"font-size='11' text-anchor='middle' fill='#223'>{totals[i]}</text>"
            )
    parts.append(_legend([(SHORT.get(c, c), MUNICIPALITY_COLOURS.get(c, "#777")) for c in creditors], left, 16, w))
    return _svg(width, height, "".join(parts))


def steps_chart(
    actions: list[tuple[date, str, str, int]], start: date, end: date, width: int = 1240, height: int = 280
) -> str:
    accepted = [(d, name, n) for d, name, outcome, n in actions if outcome in ("accepted", "breached")]
    if not accepted:
        return "<p>No steps.</p>"
    order = list(STEP_COLOURS)
    names = sorted({name for _, name, _ in accepted}, key=lambda nm: order.index(nm) if nm in order else 99)
    weeks: list[date] = []
    monday = start - timedelta(days=start.weekday())
    while monday <= end:
        weeks.append(monday)
        monday += timedelta(days=7)
    counts = {(d, name): n for d, name, n in accepted}
    totals = [sum(counts.get((wk, nm), 0) for nm in names) for wk in weeks]
    left, right, top, bottom = 50, 10, 58, 36
    w, h = width - left - right, height - top - bottom
    ymax, step = _ticks(max(totals))
    slot = w / len(weeks)
    parts = [_y_axis(left, w, top, h, ymax, step)]
    last_month = start.month - 1
    for i, wk in enumerate(weeks):
        acc = 0
        for nm in names:
            v = counts.get((wk, nm), 0)
            if v:
                y0 = top + h - h * (acc + v) / ymax
                parts.append(
                    f"<rect x='{left + i * slot + 1:.1f}' y='{y0:.1f}' width='{slot - 2:.1f}' "
                    f"height='{h * v / ymax:.1f}' fill='{STEP_COLOURS.get(nm, '#777')}'>"
                    f"<title>week of {wk}: {nm} {v}</title></rect>"
                )
                acc += v
        shown = max(wk, start)
        if shown.month != last_month and shown.year == start.year:
            last_month = shown.month
            parts.append(
                f"<text x='{left + i * slot:.1f}' y='{top + h + 16}' font-size='11' fill='#667'>"
                f"{shown.strftime('%b')}</text>"
            )
    parts.append(
        _legend(
            [(nm if nm != "plan" else "payment plan broken", STEP_COLOURS.get(nm, "#777")) for nm in names], left, 18, w
        )
    )
    return _svg(width, height, "".join(parts))
