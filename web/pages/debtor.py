"""The debtor's own page (``/my``), after Bergen's: every claim the person owes across the office's
municipalities with today's balance, the KID and the account to pay to; the letters they were sent;
their applications; the message thread with the office; and, per claim, applying for a payment plan
or a deferral (decided at once by the creditor's policy), disputing the claim and complaining about
the conduct. A debtor sees only their own debtor records' claims (``web.access``).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from letters.letterheads import NoLetterhead
from web.api.queries import log_reads
from web.pages import data
from web.pages.core import User, check_csrf, flash, gettext, redirect, render, signed_in
from web.pages.forms import Outcome, new_key, run
from web.problems import Problem
from web.store import CaseRead

UserDep = Annotated[User, Depends(signed_in)]


def _debtor(user: User) -> None:
    user.require("my", "the debtor's own page")


def _payment(request: Request, creditor: str) -> dict[str, Any]:
    config = request.app.state.services.config
    if config.letterheads is None:
        return {}
    try:
        head = config.letterheads.for_creditor(creditor, config.today())
    except (NoLetterhead, KeyError, ValueError):
        return {}
    return {"account": head.account, "bankgiro": head.bankgiro, "office_name": head.office_name,
            "phone": head.phone, "email": head.email}  # fmt: skip


def my_claims(request: Request, user: User) -> list[dict[str, Any]]:
    services = user.access.services
    ids = user.access.debtor_ids()
    if not ids:
        return []
    with services.cursor() as cur:
        found = data.with_balance(cur, data.claims(cur, debtor_ids=ids), services.config.today())
    for c in found:
        c.update(_payment(request, c["creditor_id"]))
    log_reads(request, user.access, [CaseRead(c["case_id"], c["creditor_id"], c["invoice"]) for c in found])
    return found


def my_claim(request: Request, user: User, creditor: str, invoice: str) -> dict[str, Any]:
    """One of the debtor's claims (403 when it is not theirs; the same answer whether or not it exists)."""
    services = user.access.services
    ids = user.access.debtor_ids()
    with services.cursor() as cur:
        found = data.claims(cur, debtor_ids=ids, invoice=invoice, creditors=[creditor]) if ids else []
        found = data.with_balance(cur, found, services.config.today())
    if not found:
        raise Problem("forbidden", f"invoice {invoice} of creditor {creditor} is not yours to read")
    claim = found[0]
    claim.update(_payment(request, creditor))
    log_reads(request, user.access, [CaseRead(claim["case_id"], creditor, invoice)])
    return claim


def _letters(user: User, case_id: str | None = None) -> list[dict[str, Any]]:
    from letters.queries import letters_for_case, letters_for_debtor

    services = user.access.services
    out: list[dict[str, Any]] = []
    with services.cursor() as cur:
        if case_id is not None:
            out = letters_for_case(cur, case_id)
        else:
            for debtor_id in user.access.debtor_ids():
                out += letters_for_debtor(cur, debtor_id)
    return sorted(out, key=lambda x: (str(x.get("sent_on")), str(x["letter_id"])), reverse=True)


def router() -> APIRouter:
    r = APIRouter(include_in_schema=False)

    @r.get("/my")
    def overview(request: Request, user: UserDep, sort: str = "due", dir: str = "desc", page: int = 1) -> Response:
        _debtor(user)
        claims = my_claims(request, user)
        open_claims = [c for c in claims if data.is_open(c)]
        closed = [c for c in claims if not data.is_open(c)]
        services = user.access.services
        totals: dict[str, Any] = {}
        for c in open_claims:
            totals[c["currency"]] = totals.get(c["currency"], 0) + c["balance"]
        applications = services.applications.of_debtors(user.access.debtor_ids(), limit=10)
        return render(
            request,
            "my/overview.html",
            user,
            table=table(open_claims, sort, dir, page, MY_SORTS, default="due"),
            closed=closed,
            totals=totals,
            municipalities=sorted({c["creditor_name"] for c in open_claims}),
            letters=_letters(user)[:10],
            applications=applications,
        )

    @r.get("/my/cases/{creditor}/{invoice}")
    def claim_page(request: Request, user: UserDep, creditor: str, invoice: str) -> Response:
        _debtor(user)
        claim = my_claim(request, user, creditor, invoice)
        services = user.access.services
        return render(
            request,
            "my/claim.html",
            user,
            c=claim,
            letters=_letters(user, claim["case_id"]),
            applications=services.applications.of_case(claim["case_id"]),
        )

    # --- applying, disputing, complaining -----------------------------------------------------

    FORMS = {
        "plan": ("apply_payment_plan", "my/plan.html"),
        "deferral": ("apply_deferral", "my/deferral.html"),
        "dispute": ("register_objection", "my/dispute.html"),
        "complaint": ("file_complaint", "my/complaint.html"),
    }

    @r.get("/my/cases/{creditor}/{invoice}/{what}")
    def form_page(request: Request, user: UserDep, creditor: str, invoice: str, what: str) -> Response:
        _debtor(user)
        if what not in FORMS:
            raise Problem("not_found", f"no page {what!r}")
        claim = my_claim(request, user, creditor, invoice)
        today = user.access.services.config.today()
        values = {"instalments": "6", "first_due": (today + timedelta(days=14)).isoformat(),
                  "until": (today + timedelta(days=14)).isoformat(), "text": ""}  # fmt: skip
        return render(request, FORMS[what][1], user, c=claim, values=values, errors={}, key=new_key(),
                      limits=_limits(user, creditor))  # fmt: skip

    @r.post("/my/cases/{creditor}/{invoice}/{what}")
    async def form_post(request: Request, user: UserDep, creditor: str, invoice: str, what: str) -> Response:
        form = await request.form()
        check_csrf(request, form, user.access.services.config.public_url)
        return await run_in_threadpool(_submit, request, user, creditor, invoice, what, dict(form))

    def _submit(request: Request, user: User, creditor: str, invoice: str, what: str, form: dict[str, Any]) -> Response:
        _debtor(user)
        if what not in FORMS:
            raise Problem("not_found", f"no page {what!r}")
        claim = my_claim(request, user, creditor, invoice)
        name, template = FORMS[what]
        t = gettext(user.lang)
        key = str(form.get("key") or new_key())
        text = str(form.get("text", "")).strip()
        fields: dict[str, Any] = {"creditor": creditor, "invoice": invoice}
        errors: dict[str, str] = {}
        if what == "plan":
            fields["instalments"] = _int(form.get("instalments"))
            fields["first_due"] = str(form.get("first_due", ""))
        elif what == "deferral":
            fields["until"] = str(form.get("until", ""))
        elif what == "dispute":
            if not text:
                errors["text"] = t("Tell us why you think the claim is wrong.")
        if len(text) > 4000:
            errors["text"] = t("Write at most 4000 characters.")
        outcome = Outcome(False, errors=errors) if errors else None
        message_id = None
        if outcome is None and what in ("dispute", "complaint") and text:
            # the debtor's own words are personal data: a sealed message, never a case event
            message_id = _send_message(user, claim, text, key)
            if what == "dispute":
                fields["text"] = f"self-service; the debtor's reasons are message {message_id}"
        if outcome is None:
            outcome = run(request, user, name, fields, key)
        if not outcome.ok:
            values = {k: form.get(k, "") for k in ("instalments", "first_due", "until", "text")}
            return render(request, template, user, status=422, c=claim, values=values, errors=outcome.errors,
                          key=new_key(), limits=_limits(user, creditor))  # fmt: skip
        if what in ("plan", "deferral"):
            application = user.access.services.applications.by_command(outcome.data["command_id"])
            assert application is not None
            return redirect(f"/my/applications/{application['id']}")
        flash(
            request,
            t("We have received your objection. Collection pauses until it is decided.")
            if what == "dispute"
            else t("We have received your complaint. The complaints board will decide it."),
        )
        return redirect(f"/my/cases/{creditor}/{invoice}")

    @r.get("/my/applications/{application_id}")
    def application_page(request: Request, user: UserDep, application_id: int) -> Response:
        _debtor(user)
        a = user.access.services.applications.get(application_id)
        if a is None or a["debtor_id"] not in user.access.debtor_ids():
            raise Problem("forbidden", "not your application")
        claim = my_claim(request, user, a["creditor_id"], a["invoice"])
        return render(request, "my/application.html", user, a=a, c=claim)

    # --- letters ------------------------------------------------------------------------------

    @r.get("/my/letters/{letter_id}")
    def letter(request: Request, user: UserDep, letter_id: str) -> Response:
        _debtor(user)
        return letter_pdf(request, user, letter_id, user.access.debtor_ids())

    # --- messages -----------------------------------------------------------------------------

    @r.get("/my/messages")
    def messages(request: Request, user: UserDep) -> Response:
        _debtor(user)
        return _messages_page(request, user, {}, "", new_key())

    @r.post("/my/messages")
    async def send(request: Request, user: UserDep) -> Response:
        form = await request.form()
        check_csrf(request, form, user.access.services.config.public_url)
        return await run_in_threadpool(_send, request, user, dict(form))

    def _send(request: Request, user: User, form: dict[str, Any]) -> Response:
        _debtor(user)
        t = gettext(user.lang)
        text = str(form.get("text", "")).strip()
        case = str(form.get("case", ""))
        errors = {}
        if not text:
            errors["text"] = t("Write your message.")
        elif len(text) > 4000:
            errors["text"] = t("Write at most 4000 characters.")
        claims = {c["case_id"]: c for c in my_claims(request, user)}
        if case and case not in claims:
            errors["case"] = t("Choose one of your claims, or none.")
        records = _records(user)
        if not records:
            errors[""] = t("We have no case for you, so there is no one to write to yet.")
        if errors:
            return _messages_page(request, user, errors, text, new_key(), status=422, case=case)
        chosen = claims.get(case)
        debtor_id = chosen["debtor_id"] if chosen else records[0]["debtor_id"]
        office = next((r["office"] for r in records if r["debtor_id"] == debtor_id), records[0]["office"])
        user.access.services.messages.send(
            debtor_id=debtor_id, office=office, author=user.principal.id, author_kind="debtor", text=text,
            case=(chosen["case_id"], chosen["creditor_id"], chosen["invoice"]) if chosen else None,
        )  # fmt: skip
        flash(request, t("Your message is sent. We answer here, usually within three working days."))
        return redirect("/my/messages#latest")

    def _messages_page(request: Request, user: User, errors: dict[str, str], text: str, key: str,
                       status: int = 200, case: str = "") -> Response:  # fmt: skip
        services = user.access.services
        thread = []
        for record in _records(user):
            thread += services.messages.thread(record["debtor_id"])
        thread.sort(key=lambda m: m.id)
        claims = [c for c in my_claims(request, user) if data.is_open(c)]
        return render(request, "my/messages.html", user, status=status, thread=thread, claims=claims,
                      errors=errors, values={"text": text, "case": case}, key=key)  # fmt: skip

    return r


def _records(user: User) -> list[dict[str, Any]]:
    with user.access.services.cursor() as cur:
        return data.debtor_records(cur, user.access.debtor_ids())


def _send_message(user: User, claim: dict[str, Any], text: str, key: str) -> int:
    services = user.access.services
    with services.cursor() as cur:
        records = data.debtor_records(cur, [claim["debtor_id"]])
    office = records[0]["office"] if records else services.office_of(claim["creditor_id"])
    return services.messages.send(
        debtor_id=claim["debtor_id"], office=office, author=user.principal.id, author_kind="debtor", text=text,
        case=(claim["case_id"], claim["creditor_id"], claim["invoice"]),
    )  # fmt: skip


def _limits(user: User, creditor: str) -> Any:
    from domain.policy import CollectionPolicy

    with user.access.services.app() as app:
        try:
            return CollectionPolicy.from_dict(app.creditor(creditor).policy).limits
        except Exception:  # an unknown creditor has no limits to show; the command says why
            return None


def _int(value: Any) -> Any:
    try:
        return int(str(value).strip())
    except ValueError:
        return value


def letter_pdf(request: Request, user: User, letter_id: str, debtor_ids: list[str] | None) -> Response:
    """A sent letter's PDF from the archive: for ``debtor_ids`` only their own (None: staff, already
    checked to read the case)."""
    from letters.outbox import DISPATCH_SCHEMA, archived_pdf
    from personal.register import DebtorErased, DebtorRegister

    services = user.access.services
    with services.cursor() as cur:
        cur.execute(f'SELECT debtor_id, case_id FROM "{DISPATCH_SCHEMA}".dispatched WHERE letter_id = %s', (letter_id,))
        row = cur.fetchone()
    if row is None or (debtor_ids is not None and row[0] not in debtor_ids):
        raise Problem("forbidden", "not a letter of yours")
    config = services.config
    if config.keys is None or config.office_secret is None:
        raise Problem("not_found", "letters are not archived here")
    try:
        with services.pool.connection() as conn:
            pdf = archived_pdf(conn, DebtorRegister(conn, config.keys, config.office_secret), letter_id)
    except (LookupError, DebtorErased):
        raise Problem("not_found", "the letter is no longer in the archive") from None
    log_reads(request, user.access, [CaseRead(str(row[1]), None, None)])
    return Response(pdf, media_type="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="letter-{letter_id}.pdf"',
                             "Cache-Control": "no-store"})  # fmt: skip


# --- tables: sorting and paging ------------------------------------------------------------------

MY_SORTS = {
    "due": lambda c: (c["due"], c["invoice"]),
    "creditor": lambda c: (c["creditor_name"], c["invoice"]),
    "invoice": lambda c: (c["invoice"],),
    "balance": lambda c: (c["balance"], c["invoice"]),
}
PAGE_SIZE = 25


def table(items: list[dict[str, Any]], sort: str, direction: str, page: int, sorts: dict[str, Any], *,
          default: str, size: int = PAGE_SIZE) -> dict[str, Any]:  # fmt: skip
    """One page of ``items`` sorted by a known column (an unknown one falls back to ``default``)."""
    if sort not in sorts:
        sort = default
    reverse = direction == "desc"
    ordered = sorted(items, key=sorts[sort], reverse=reverse)
    pages = max(1, -(-len(ordered) // size))
    page = min(max(page, 1), pages)
    return {"rows": ordered[(page - 1) * size : page * size], "sort": sort, "dir": "desc" if reverse else "asc",
            "page": page, "pages": pages, "total": len(ordered)}  # fmt: skip
