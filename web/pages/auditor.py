"""The auditor (``/audit``): any case as it was known on a chosen past date beside today and what
changed (from the event store: the events *recorded* by that date, folded by the domain's own code —
``web.api.history.known_on``); the event history with both dates; the event export; the replay and
verify state of each read model; the access log. Auditors read everything and change nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response, StreamingResponse

from domain.claim import claim_id
from web.api.history import event_record, known_on
from web.api.queries import log_reads
from web.pages import data
from web.pages.core import User, redirect, render, signed_in
from web.pages.debtor import table
from web.pages.desk import _sorter, readable
from web.problems import Problem
from web.store import CaseRead

UserDep = Annotated[User, Depends(signed_in)]
FIGURES = ("principal", "interest", "fees", "costs", "paid", "balance", "status", "stage", "disputed",
           "limitation_date", "written_down", "surplus")  # fmt: skip


def _audit(user: User) -> None:
    user.require("audit", "the auditor's pages")


def _day(value: str | None, default: date) -> date:
    try:
        return date.fromisoformat(value) if value else default
    except ValueError:
        raise Problem("invalid_input", "a date is YYYY-MM-DD", field="on") from None


def _known(user: User, creditor: str, invoice: str, day: date) -> dict[str, Any] | None:
    with user.access.services.app() as app:
        claim, events = known_on(app, creditor, invoice, day)
        if claim is None:
            return None
        figures = app.claim_report(claim, day)
        findings = [
            {"code": f.code, "severity": f.severity.value, "message": f.message} for f in claim.audit().findings
        ]
    steps = [
        {"type": type(e).__qualname__.split(".")[-1], "version": e.originator_version,
         "effective": getattr(e, "effective", None), "recorded": getattr(e, "recorded", None)}
        for e in events
    ]  # fmt: skip
    return {"figures": figures, "findings": findings, "steps": steps, "events": len(events)}


def router() -> APIRouter:
    r = APIRouter(include_in_schema=False)

    @r.get("/audit")
    def start(request: Request, user: UserDep, creditor: str = "", invoice: str = "", on: str = "") -> Response:
        _audit(user)
        if creditor and invoice:
            return redirect(f"/audit/cases/{creditor}/{invoice}" + (f"?on={on}" if on else ""))
        return render(request, "audit/start.html", user, values={"creditor": creditor, "invoice": invoice, "on": on})

    @r.get("/audit/cases/{creditor}/{invoice}")
    def as_of(request: Request, user: UserDep, creditor: str, invoice: str, on: str = "") -> Response:
        _audit(user)
        services = user.access.services
        today = services.config.today()
        day = _day(on, today - timedelta(days=30))
        case = readable(request, user, creditor, invoice)
        then = _known(user, creditor, invoice, day)
        now = _known(user, creditor, invoice, today)
        assert now is not None
        changed = [k for k in FIGURES if then is None or str(then["figures"].get(k)) != str(now["figures"].get(k))]
        new_steps = [s for s in now["steps"] if then is None or s["version"] > then["steps"][-1]["version"]]
        later_but_earlier = [s for s in new_steps if s["effective"] is not None and s["effective"] <= day]
        return render(request, "audit/case.html", user, case=case, creditor=creditor, invoice=invoice, day=day,
                      then=then, now=now, figures=FIGURES, changed=changed, new_steps=new_steps,
                      backdated=later_but_earlier)  # fmt: skip

    @r.get("/audit/cases/{creditor}/{invoice}/events")
    def events(request: Request, user: UserDep, creditor: str, invoice: str) -> Response:
        _audit(user)
        case = readable(request, user, creditor, invoice)
        with user.access.services.app() as app:
            stored = [event_record(e) for e in app.events.get(claim_id(app.namespace, creditor, invoice))]
        return render(request, "audit/events.html", user, case=case, creditor=creditor, invoice=invoice,
                      events=stored)  # fmt: skip

    @r.get("/audit/cases/{creditor}/{invoice}/events.json")
    def events_json(request: Request, user: UserDep, creditor: str, invoice: str) -> Response:
        _audit(user)
        readable(request, user, creditor, invoice)
        with user.access.services.app() as app:
            stored = [event_record(e) for e in app.events.get(claim_id(app.namespace, creditor, invoice))]
        return Response(
            json.dumps({"creditor": creditor, "invoice": invoice, "events": stored}, indent=2),
            media_type="application/json",
            headers={"Content-Disposition": f'attachment; filename="events-{creditor}-{invoice}.json"'},
        )

    @r.get("/audit/export")
    def export(request: Request, user: UserDep, after: int = 0) -> Response:
        """The whole notification log as NDJSON, streamed in pages of 500 (``after``: the last position read)."""
        _audit(user)
        services = user.access.services

        def lines() -> Iterator[bytes]:
            position = after
            while True:
                with services.app() as app:
                    batch = list(app.notification_log.select(start=position + 1, limit=500))
                    items = [event_record(app.mapper.to_domain_event(n), n.id) for n in batch]
                for item in items:
                    yield (json.dumps(item, ensure_ascii=False) + "\n").encode()
                if len(batch) < 500:
                    return
                position = batch[-1].id

        return StreamingResponse(
            lines(),
            media_type="application/x-ndjson",
            headers={"Content-Disposition": 'attachment; filename="kravsak-events.ndjson"'},
        )

    @r.get("/audit/projections")
    def projections(request: Request, user: UserDep) -> Response:
        _audit(user)
        with user.access.services.cursor() as cur:
            state = data.pipeline(cur)
        return render(request, "audit/projections.html", user, state=state)

    @r.get("/audit/access-log")
    def access_log(request: Request, user: UserDep, case_id: str = "", principal: str = "", page: int = 1,
                   sort: str = "at", dir: str = "desc") -> Response:  # fmt: skip
        _audit(user)
        rows, _next = user.access.services.access_log.query(
            case_id=case_id or None, principal=principal or None, since=None, until=None, limit=data.ROW_CAP,
            after=None,
        )  # fmt: skip
        columns = [("at", "Time", False), ("principal", "Who", False), ("roles", "Roles", False),
                   ("invoice", "Invoice", False), ("route", "Route", False)]  # fmt: skip
        t = table(rows, sort, dir, page, {k: _sorter(k) for k, _l, _n in columns}, default="at", size=50)
        return render(request, "audit/access_log.html", user, table=t, columns=columns,
                      filters={"case_id": case_id, "principal": principal})  # fmt: skip

    return r


__all__ = ["CaseRead", "datetime", "log_reads", "router"]
