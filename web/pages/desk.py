"""The caseworker's desk (``/desk``): worklists, search, the case page with its trail and every
command the API offers on a case as a form, the debtor's page with the message thread.

Worklists: objections to decide, plan and deferral applications referred by the policy, messages
waiting for an answer, suspense money, refunds (surplus owed back), the limitation worklist and — for
office leads — events the projections parked. Each is sortable and paged; every case number links to
the case page. Forms post to the API's own command code (``web.pages.forms``) and answer with a
redirect (PRG), so reloading or going back never sends a command twice; a refused form comes back
with the input kept and the error beside its field.
"""

from __future__ import annotations

import re
import types
import typing
from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal, get_args, get_origin

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from domain.errors import CommandRefused
from domain.rules import rules_for
from projections import casework
from projections import dossier as dossier_data
from web.access import CASEWORK, Case
from web.api.commands import COMMAND_BY_NAME
from web.api.queries import PROJECTIONS as API_PROJECTIONS
from web.api.queries import log_reads
from web.auth import Role
from web.pages import data
from web.pages.core import User, check_csrf, flash, gettext, redirect, render, signed_in
from web.pages.debtor import letter_pdf, table
from web.pages.forms import N_, Outcome, new_key, run
from web.problems import Problem, from_refusal
from web.store import CaseRead

UserDep = Annotated[User, Depends(signed_in)]

CASE_COMMANDS = (
    "resolve_objection",
    "grant_deferral",
    "agree_payment_plan",
    "register_payment",
    "allocate_suspense",
    "send_notice",
    "send_combined_notice",
    "write_down",
    "write_off",
    "credit_invoice",
    "register_objection",
    "postpone_due",
    "request_enforcement",
    "request_combined_enforcement",
    "register_judgment",
    "suspend_service",
    "report_to_estate",
    "apply_reinstatement",
    "file_complaint",
)
"""The commands the case page offers (every claim command of ``COMMANDS`` a caseworker may give)."""

TITLES = {
    "resolve_objection": N_("Decide the objection"),
    "grant_deferral": N_("Grant a deferral"),
    "agree_payment_plan": N_("Agree a payment plan"),
    "register_payment": N_("Register a payment"),
    "allocate_suspense": N_("Place unmatched money on this claim"),
    "send_notice": N_("Send a notice"),
    "send_combined_notice": N_("Send one notice for several claims"),
    "write_down": N_("Write down in the accounts"),
    "write_off": N_("Write off"),
    "credit_invoice": N_("Credit note"),
    "register_objection": N_("Register an objection"),
    "postpone_due": N_("Postpone the due date (uppskov)"),
    "request_enforcement": N_("Request enforcement or go to court"),
    "request_combined_enforcement": N_("One enforcement request for several claims"),
    "register_judgment": N_("Register a judgment"),
    "suspend_service": N_("Stop the service (SE)"),
    "report_to_estate": N_("Report to the estate"),
    "apply_reinstatement": N_("Återvinning applied for (SE)"),
    "file_complaint": N_("Register a complaint"),
    "decide_complaint": N_("Decide the complaint"),
}
LABELS = {
    "outcome": N_("Outcome"),
    "amount": N_("Amount"),
    "until": N_("Until"),
    "requested_by_debtor": N_("Asked for by the debtor"),
    "installments": N_("Instalments"),
    "ordered": N_("Ordered at the bank on"),
    "designation": N_("The debtor's own allocation"),
    "reference": N_("Unmatched payment"),
    "notice": N_("Notice"),
    "deadline": N_("Deadline"),
    "channel": N_("Channel"),
    "invoices": N_("Other claims in the same letter"),
    "reason": N_("Reason"),
    "received": N_("Received on"),
    "text": N_("The debtor's words"),
    "route": N_("Route"),
    "decided": N_("Decided on"),
    "served": N_("Served on"),
    "service": N_("Service"),
}
HINTS = {
    "installments": N_("One line per instalment: the date and the amount, e.g. 2025-04-15 500.00"),
    "amount": N_("Kroner and øre, e.g. 1200.00"),
    "deadline": N_("Empty: the earliest lawful deadline"),
    "channel": N_("Empty: chosen by the system"),
    "received": N_("Empty: today"),
    "ordered": N_("Empty: today"),
}
OPTIONS = {
    "upheld": N_("upheld – the debtor is right; the amount is credited"),
    "maintained": N_("maintained – the claim stays disputed; only the court route remains"),
    "unfounded": N_("unfounded – collection may resume"),
    "time_barred": N_("time-barred"),
    "deceased": N_("the debtor died"),
    "bankruptcy": N_("bankruptcy"),
    "uneconomic": N_("uneconomic"),
    "other": N_("other"),
    "water": N_("water"),
    "childcare": N_("childcare"),
    "breach": N_("breach of good collection practice – the costs fall away"),
    "no_breach": N_("no breach"),
}
OPEN_BY_DEFAULT = {"resolve_objection"}  # open while the claim is disputed (an objection to decide)


# --- forms from the commands' bodies -------------------------------------------------------------


def _kind(annotation: Any) -> tuple[str, tuple[str, ...]]:
    """(widget, options) for a body field's type."""
    origin = get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in get_args(annotation) if a is not type(None)]
        return _kind(inner[0]) if inner else ("text", ())
    if origin is Annotated:
        return _kind(get_args(annotation)[0])
    if origin is Literal:
        return "select", tuple(str(a) for a in get_args(annotation))
    if origin is list:
        return "list", ()
    if annotation is bool:
        return "checkbox", ()
    if annotation is int:
        return "number", ()
    if annotation is date:
        return "date", ()
    if annotation is Decimal:
        return "money", ()
    return "text", ()


def form_spec(
    name: str, lang: str, claim: dict[str, Any], extra: dict[str, Any], values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
) -> dict[str, Any]:  # fmt: skip
    """A command's form: its fields (from the body model) with labels, widgets, options and values."""
    t = gettext(lang)
    command = COMMAND_BY_NAME[name]
    values, errors = values or {}, errors or {}
    fields = []
    for fname, info in command.body.model_fields.items():
        if fname in ("creditor", "invoice"):
            continue
        widget, options = _kind(info.annotation)
        choices: list[tuple[str, str]] = [(o, t(OPTIONS.get(o, o))) for o in options]
        if fname == "notice":
            widget, choices = "select", [(n, n) for n in sorted(rules_for(claim["jurisdiction"]).notices)]
        elif fname == "route":
            widget, choices = "select", [(r, r) for r in sorted(rules_for(claim["jurisdiction"]).routes)]
        elif fname == "reference":
            widget = "select"
            choices = [(s["reference"], f"{s['reference']} – {s['amount']} {s['currency']} ({s['received_on']})")
                       for s in extra.get("suspense", [])]  # fmt: skip
        elif fname == "invoices":
            widget = "checkboxes"
            choices = [(c["invoice"], f"{c['invoice']} ({c['due']})") for c in extra.get("siblings", [])]
        elif fname == "installments":
            widget = "textarea"
        elif fname == "text":
            widget = "textarea"
        if widget == "money":
            widget = "text"
        default = info.default if info.default is not None and not callable(info.default) else ""
        if str(type(default)) == "<class 'pydantic_core._pydantic_core.PydanticUndefinedType'>":
            default = ""
        value = values.get(fname, default if widget != "checkbox" else bool(default))
        fields.append(
            {
                "name": fname,
                "label": t(LABELS.get(fname, fname.replace("_", " "))),
                "hint": t(HINTS[fname]) if fname in HINTS else "",
                "widget": widget,
                "choices": choices,
                "value": value,
                "required": info.is_required(),
                "error": errors.get(fname, ""),
            }
        )
    return {"name": name, "title": t(TITLES.get(name, name)), "fields": fields, "errors": errors,
            "open": (name in OPEN_BY_DEFAULT and bool(claim.get("disputed"))) or bool(errors),
            "key": new_key()}  # fmt: skip


INSTALMENT_LINE = re.compile(r"^\s*(\d{4}-\d{2}-\d{2})\s+([0-9][0-9 ]*(?:[.,][0-9]{1,2})?)\s*$")


def fields_from_form(
    name: str, form: dict[str, Any], multi: dict[str, list[str]], lang: str
) -> tuple[dict[str, Any], dict[str, str]]:
    """The body's fields from the posted form (money with a decimal comma or spaces accepted)."""
    t = gettext(lang)
    command = COMMAND_BY_NAME[name]
    out: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for fname, info in command.body.model_fields.items():
        if fname in ("creditor", "invoice"):
            continue
        widget, _ = _kind(info.annotation)
        raw = form.get(fname)
        if fname == "invoices":
            out[fname] = multi.get("invoices", [])
            continue
        if fname == "installments":
            items = []
            for n, line in enumerate(str(raw or "").strip().splitlines(), 1):
                if not line.strip():
                    continue
                match = INSTALMENT_LINE.match(line)
                if not match:
                    errors[fname] = t("Line %(n)s is not a date and an amount.") % {"n": n}
                    break
                items.append({"due": match[1], "amount": match[2].replace(" ", "").replace(",", ".")})
            out[fname] = items
            continue
        if widget == "checkbox":
            out[fname] = raw in ("on", "true", "1")
            continue
        text = str(raw or "").strip()
        if not text:
            continue  # optional: the command's default
        if widget == "money":
            text = text.replace(" ", "").replace("\u00a0", "").replace(",", ".")
        if widget == "number":
            try:
                out[fname] = int(text)
            except ValueError:
                out[fname] = text
            continue
        out[fname] = text
    return out, errors


# --- pages ---------------------------------------------------------------------------------------


def _desk(user: User) -> None:
    user.require("desk", "the caseworker's desk")


def office_creditors(user: User) -> list[str] | None:
    return user.access.office_creditors()


def readable(request: Request, user: User, creditor: str, invoice: str) -> Case:
    with user.access.services.app() as app:
        try:
            case = user.access.case(app, creditor, invoice)
        except CommandRefused as e:
            raise from_refusal(e) from None
    user.access.check_read(case)
    request.state.case_id = case.case_id
    log_reads(request, user.access, [CaseRead(case.case_id, creditor, invoice)])
    return case


def clear_references(services: Any, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The payers' references of suspense rows, from the event store: the stream and the ledger hold only their
    keyed digests (ADR 0028), and a caseworker reads and places money by the reference itself."""
    if not rows:
        return rows
    with services.app() as app:
        accounts = {c: app.suspense(c) for c in {str(r["creditor_id"]) for r in rows}}
    for row in rows:
        account = accounts.get(str(row["creditor_id"]))
        item = account.items.get(str(row["item"])) if account is not None else None
        if item is not None:
            row["reference"] = item.reference
    return rows


def case_context(request: Request, user: User, creditor: str, invoice: str) -> dict[str, Any]:
    """Everything the case page shows: the figures now (from the event store), the trail and findings
    (the read models), letters, applications, messages of the debtor."""
    from letters.queries import letters_for_case

    case = readable(request, user, creditor, invoice)
    services = user.access.services
    today = services.config.today()
    with services.app() as app:
        claim = app.claim(creditor, invoice)
        figures = app.claim_report(claim, today)
        version = claim.version
        lost = claim.audit().non_recoverable
        notes = app.reason_notes(claim.id)  # a caseworker reads the reasons people wrote (ADR 0023)
    with services.cursor() as cur:
        rows = data.claims(cur, case_id=case.case_id)
        row = rows[0] if rows else {"jurisdiction": claim.jurisdiction.value, "creditor_name": creditor}
        built = dossier_data.build(cur, case.case_id, today, notes=notes)
        if built is not None:
            built["letters"] = letters_for_case(cur, case.case_id)
            for x in built["letters"]:
                if x.get("status") == "sent":
                    x["href"] = f"/letters/{x['letter_id']}"
        projected = 0
        if built is not None:
            cur.execute(f'SELECT coalesce(max(version), 0) FROM "{data.AUDIT}".steps WHERE case_id = %s',
                        (case.case_id,))  # fmt: skip
            found = cur.fetchone()
            projected = int(found[0]) if found else 0
        records = data.debtor_records(cur, [case.debtor_id])
        siblings = [
            c for c in data.claims(cur, debtor_ids=[case.debtor_id], creditors=[creditor])
            if c["invoice"] != invoice and data.is_open(c)
        ]  # fmt: skip
        suspense = data.suspense(cur, [creditor])
    clear_references(services, suspense)
    return {
        "case": case,
        "creditor": creditor,
        "invoice": invoice,
        "claim": {**row, "disputed": claim.disputed, "jurisdiction": claim.jurisdiction.value, "kid": claim.kid,
                  "due": claim.due, "claim_type": claim.facts.claim_type},
        "figures": figures,
        "dossier": built,
        "behind": max(version - projected, 0),
        "debtor": records[0] if records else None,
        "applications": services.applications.of_case(case.case_id),
        "siblings": siblings,
        "suspense": suspense,
        "lost": lost,
    }  # fmt: skip


def render_case(request: Request, user: User, creditor: str, invoice: str, *, failed: dict[str, Any] | None = None,
                status: int = 200) -> Response:  # fmt: skip
    ctx = case_context(request, user, creditor, invoice)
    extra = {"suspense": ctx["suspense"], "siblings": ctx["siblings"]}
    forms = []
    for name in CASE_COMMANDS:
        if failed and failed["name"] == name:
            forms.append(form_spec(name, user.lang, ctx["claim"], extra, failed["values"], failed["errors"]))
        else:
            forms.append(form_spec(name, user.lang, ctx["claim"], extra))
    return render(request, "desk/case.html", user, status=status, forms=forms, **ctx)


def router() -> APIRouter:
    r = APIRouter(include_in_schema=False)

    @r.get("/desk")
    def overview(request: Request, user: UserDep) -> Response:
        _desk(user)
        lists = worklists(user)
        counts = {name: len(rows_of(user, name)) for name in lists}
        return render(request, "desk/overview.html", user, lists=lists, counts=counts)

    @r.get("/desk/search")
    def search(request: Request, user: UserDep, q: str = "") -> Response:
        _desk(user)
        found: list[dict[str, Any]] = []
        if q.strip():
            with user.access.services.cursor() as cur:
                found = data.search(cur, q[:100], office_creditors(user), [user.principal.office or ""])
            log_reads(request, user.access, [CaseRead(c["case_id"], c["creditor_id"], c["invoice"]) for c in found])
            if len(found) == 1:
                return redirect(f"/desk/cases/{found[0]['creditor_id']}/{found[0]['invoice']}")
        return render(request, "desk/search.html", user, q=q, found=found)

    @r.get("/desk/cases/{creditor}/{invoice}")
    def case_page(request: Request, user: UserDep, creditor: str, invoice: str) -> Response:
        _desk(user)
        return render_case(request, user, creditor, invoice)

    @r.post("/desk/cases/{creditor}/{invoice}/do/{name}")
    async def command(request: Request, user: UserDep, creditor: str, invoice: str, name: str) -> Response:
        form = await request.form()
        check_csrf(request, form, user.access.services.config.public_url)
        multi = {k: [str(v) for v in form.getlist(k)] for k in form.keys()}
        return await run_in_threadpool(_command, request, user, creditor, invoice, name, dict(form), multi)

    def _command(request: Request, user: User, creditor: str, invoice: str, name: str, form: dict[str, Any],
                 multi: dict[str, list[str]]) -> Response:  # fmt: skip
        _desk(user)
        if name not in CASE_COMMANDS:
            raise Problem("not_found", f"no command {name!r} on the case page")
        fields, errors = fields_from_form(name, form, multi, user.lang)
        values = {k: (form.get(k) if k != "requested_by_debtor" else fields.get(k)) for k in fields} | {
            k: form.get(k, "") for k in ("installments",) if k in form
        }
        if name in ("send_combined_notice", "request_combined_enforcement"):
            fields["invoices"] = [invoice, *[i for i in fields.get("invoices", []) if i != invoice]]
        outcome = Outcome(False, errors=errors) if errors else run(
            request, user, name, {"creditor": creditor, "invoice": invoice, **fields}, str(form.get("key") or new_key())
        )  # fmt: skip
        if not outcome.ok:
            if name in ("send_combined_notice", "request_combined_enforcement"):
                values["invoices"] = [i for i in fields.get("invoices", []) if i != invoice]
            return render_case(request, user, creditor, invoice, status=422,
                               failed={"name": name, "values": values, "errors": outcome.errors})  # fmt: skip
        t = gettext(user.lang)
        flash(request, t("Done: %(what)s.") % {"what": t(TITLES.get(name, name))})
        return redirect(f"/desk/cases/{creditor}/{invoice}#trail")

    @r.get("/letters/{letter_id}")
    def letter(request: Request, user: UserDep, letter_id: str) -> Response:
        if not (user.may("desk") or user.may("board") or user.may("audit")):
            user.require("desk", "a case's letters")
        with user.access.services.cursor() as cur:
            cur.execute(
                'SELECT l.creditor_id, l.invoice FROM "kravsak_letters".letters l WHERE l.letter_id = %s',
                (letter_id,),
            )
            row = cur.fetchone()
        if row is None:
            raise Problem("not_found", "no such letter")
        readable(request, user, str(row[0]), str(row[1]))
        return letter_pdf(request, user, letter_id, None)

    @r.post("/desk/applications/{application_id}")
    async def decide_application(request: Request, user: UserDep, application_id: int) -> Response:
        form = await request.form()
        check_csrf(request, form, user.access.services.config.public_url)
        return await run_in_threadpool(_decide_application, request, user, application_id, dict(form))

    def _decide_application(request: Request, user: User, application_id: int, form: dict[str, Any]) -> Response:
        _desk(user)
        services = user.access.services
        t = gettext(user.lang)
        a = services.applications.get(application_id)
        if a is None:
            raise Problem("not_found", "no such application")
        readable(request, user, a["creditor_id"], a["invoice"])
        back = f"/desk/cases/{a['creditor_id']}/{a['invoice']}"
        if a["status"] != "referred":
            flash(request, t("The application was already decided."), "warning")
            return redirect(back + "#applications")
        action = form.get("action")
        note = str(form.get("note", "")).strip()
        case = (a["case_id"], a["creditor_id"], a["invoice"])
        if action == "approve":
            request_ = a["request"]
            if a["kind"] == "payment_plan":
                name, fields = "agree_payment_plan", {"installments": request_.get("installments", [])}
            else:
                name, fields = "grant_deferral", {"until": request_["until"], "requested_by_debtor": True}
            outcome = run(request, user, name, {"creditor": a["creditor_id"], "invoice": a["invoice"], **fields},
                          f"application-{application_id}")  # fmt: skip
            if not outcome.ok:
                flash(request, " ".join(outcome.errors.values()), "error")
                return redirect(back + "#applications")
            services.applications.decide(application_id, status="approved_by_caseworker", on=services.config.today(),
                                         by=user.principal.id, note=None)  # fmt: skip
            if note:
                services.messages.send(debtor_id=a["debtor_id"], office=a["office"], author=user.principal.id,
                                       author_kind="staff", text=note, case=case)  # fmt: skip
            flash(request, t("The application is approved."))
        elif action == "refuse":
            if not note:
                flash(request, t("Write the reason to the debtor before you refuse."), "error")
                return redirect(back + "#applications")
            services.messages.send(debtor_id=a["debtor_id"], office=a["office"], author=user.principal.id,
                                   author_kind="staff", text=note, case=case)  # fmt: skip
            services.applications.decide(application_id, status="refused_by_caseworker", on=services.config.today(),
                                         by=user.principal.id, note=None)  # fmt: skip
            flash(request, t("The application is refused; the debtor has your reason as a message."))
        else:
            raise Problem("invalid_input", "choose approve or refuse", field="action")
        return redirect(back + "#applications")

    @r.get("/desk/debtors/{debtor_id}")
    def debtor_page(request: Request, user: UserDep, debtor_id: str) -> Response:
        _desk(user)
        return _debtor_page(request, user, debtor_id, {}, "")

    def _debtor_page(request: Request, user: User, debtor_id: str, errors: dict[str, str], text: str,
                     status: int = 200) -> Response:  # fmt: skip
        record = own_debtor(user, debtor_id)
        services = user.access.services
        with services.cursor() as cur:
            claims = data.with_balance(cur, data.claims(cur, debtor_ids=[debtor_id], creditors=office_creditors(user)),
                                       services.config.today())  # fmt: skip
        log_reads(request, user.access, [CaseRead(c["case_id"], c["creditor_id"], c["invoice"]) for c in claims])
        thread = services.messages.thread(debtor_id)
        return render(request, "desk/debtor.html", user, status=status, record=record, claims=claims, thread=thread,
                      errors=errors, values={"text": text}, key=new_key())  # fmt: skip

    @r.post("/desk/debtors/{debtor_id}/messages")
    async def reply(request: Request, user: UserDep, debtor_id: str) -> Response:
        form = await request.form()
        check_csrf(request, form, user.access.services.config.public_url)
        return await run_in_threadpool(_reply, request, user, debtor_id, dict(form))

    def _reply(request: Request, user: User, debtor_id: str, form: dict[str, Any]) -> Response:
        _desk(user)
        record = own_debtor(user, debtor_id)
        t = gettext(user.lang)
        text = str(form.get("text", "")).strip()
        if not text or len(text) > 4000:
            return _debtor_page(request, user, debtor_id, {"text": t("Write the answer (at most 4000 characters).")},
                                text, status=422)  # fmt: skip
        user.access.services.messages.send(debtor_id=debtor_id, office=record["office"], author=user.principal.id,
                                           author_kind="staff", text=text)  # fmt: skip
        flash(request, t("Your answer is sent."))
        return redirect(f"/desk/debtors/{debtor_id}#latest")

    @r.get("/desk/{name}")
    def worklist(
        request: Request, user: UserDep, name: str, sort: str = "", dir: str = "asc", page: int = 1
    ) -> Response:
        _desk(user)
        lists = worklists(user)
        if name not in lists:
            if name == "parked":
                user.require("parked", "the parked events")
            raise Problem("not_found", f"no worklist {name!r}")
        found = rows_of(user, name)
        columns = COLUMNS[name]
        sorts = {key: _sorter(key) for key, _label, _num in columns}
        t = table(found, sort, dir, page, sorts, default=columns[0][0])
        cases = [CaseRead(x["case_id"], x.get("creditor_id"), x.get("invoice")) for x in t["rows"] if x.get("case_id")]
        log_reads(request, user.access, cases)
        return render(request, "desk/worklist.html", user, name=name, lists=lists, table=t, columns=columns)

    return r


def own_debtor(user: User, debtor_id: str) -> dict[str, Any]:
    with user.access.services.cursor() as cur:
        records = data.debtor_records(cur, [debtor_id])
    if not records or records[0]["office"] != user.principal.office:
        raise Problem("forbidden", "this debtor is not your office's")
    return records[0]


WORKLISTS = ("objections", "applications", "messages", "suspense", "refunds", "limitation", "parked")
COLUMNS: dict[str, list[tuple[str, str, bool]]] = {
    "objections": [("objection_received", N_("Objection received"), False), ("invoice", N_("Invoice"), False),
                   ("creditor_id", N_("Municipality"), False), ("principal_outstanding", N_("Principal owed"), True),
                   ("stage", N_("Stage"), False)],
    "applications": [("applied_on", N_("Applied on"), False), ("invoice", N_("Invoice"), False),
                     ("kind", N_("Application"), False), ("reason", N_("Why it needs you"), False)],
    "messages": [("first_at", N_("Waiting since"), False), ("debtor_id", N_("Debtor"), False),
                 ("waiting", N_("Unanswered"), True), ("invoice", N_("About invoice"), False)],
    "suspense": [("received_on", N_("Received"), False), ("reference", N_("Payer's reference"), False),
                 ("creditor_id", N_("Municipality"), False), ("amount", N_("Amount"), True)],
    "refunds": [("closed_on", N_("Closed"), False), ("invoice", N_("Invoice"), False),
                ("creditor_id", N_("Municipality"), False), ("surplus", N_("To pay back"), True)],
    "limitation": [("limitation_date", N_("Time-barred after"), False), ("invoice", N_("Invoice"), False),
                   ("creditor_id", N_("Municipality"), False), ("days_left", N_("Days left"), True)],
    "parked": [("parked_at", N_("Parked at"), False), ("projection", N_("Read model"), False),
               ("case_id", N_("Case"), False), ("error", N_("Error"), False)],
}  # fmt: skip
LIST_TITLES = {
    "objections": N_("Objections to decide"),
    "applications": N_("Plan and deferral applications"),
    "messages": N_("Messages to answer"),
    "suspense": N_("Unmatched payments"),
    "refunds": N_("Refunds owed"),
    "limitation": N_("Soon time-barred"),
    "parked": N_("Parked events"),
}


def _sorter(key: str) -> Any:
    def sort_key(row: dict[str, Any]) -> tuple[Any, ...]:
        value = row.get(key)
        return (
            value is None,
            str(value) if not isinstance(value, (int, Decimal, date)) else value,
            str(row.get("invoice", "")),
        )

    return sort_key


def worklists(user: User) -> list[str]:
    return [w for w in WORKLISTS if w != "parked" or user.may("parked")]


def rows_of(user: User, name: str) -> list[dict[str, Any]]:
    services = user.access.services
    creditors = office_creditors(user)
    offices = None if Role.AUDITOR in user.roles else [user.principal.office or ""]
    cap = data.ROW_CAP
    with services.cursor() as cur:
        try:
            if name == "objections":
                return casework.objections(cur, creditors, cap, None).rows
            if name == "limitation":
                return casework.limitation(cur, creditors, services.config.today(), 90, cap, None).rows
            if name == "parked":
                return casework.parked(cur, API_PROJECTIONS, cap, None).rows
        except Exception:  # a projection not made yet: an empty list
            cur.connection.rollback()
            return []
        if name == "suspense":
            return clear_references(services, data.suspense(cur, creditors))
        if name == "refunds":
            return data.refunds(cur, creditors)
    if name == "applications":
        return services.applications.referred(offices, limit=cap, offset=0, order="id")
    if name == "messages":
        return services.messages.waiting(offices, limit=cap, offset=0, order="first_at")
    return []


__all__ = ["CASEWORK", "router"]
