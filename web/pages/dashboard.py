"""The dashboard (``/dashboard``, Oslo's "dashboards til drift og virksomhetsstyring"): live from the
read models — open cases per stage week by week, collection rate and ageing per municipality, the
audit's findings by code, suspense money and refunds, and how far the publisher and the read models
are behind — for the office or one of its municipalities (auditors: any office, or all).
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from web.auth import Role
from web.pages import charts, data
from web.pages.core import User, gettext, render, signed_in
from web.pages.forms import N_
from web.problems import Problem

UserDep = Annotated[User, Depends(signed_in)]
STAGE_LABELS = {
    "invoiced": N_("invoiced"),
    "reminded": N_("reminder sent"),
    "warned": N_("collection warning sent"),
    "demanded": N_("demand sent"),
    "enforcement": N_("with enforcement"),
    "judgment": N_("judgment"),
}
BUCKET_LABELS = (N_("not due"), N_("1–30 days"), N_("31–90 days"), N_("91–180 days"), N_("181–365 days"),
                 N_("over a year"))  # fmt: skip


def router() -> APIRouter:
    r = APIRouter(include_in_schema=False)

    @r.get("/dashboard")
    def dashboard(
        request: Request, user: UserDep, office: str = "", municipality: str = "", weeks: int = 26
    ) -> Response:
        user.require("dashboard", "the dashboard")
        t = gettext(user.lang)
        services = user.access.services
        weeks = min(max(weeks, 4), 104)
        is_auditor = Role.AUDITOR in user.roles
        with services.cursor() as cur:
            all_offices = data.offices(cur) if is_auditor else [user.principal.office or ""]
        chosen_office = office if (is_auditor and office) else ("" if is_auditor else (user.principal.office or ""))
        creditors = user.access.office_creditors(chosen_office or None)
        with services.cursor() as cur:
            names = data.creditor_names(cur, creditors)
        if municipality:
            if creditors is not None and municipality not in creditors:
                raise Problem("forbidden", f"municipality {municipality} is not in your office")
            creditors = [municipality]
        today = services.config.today()
        with services.cursor() as cur:
            over_time = data.stages_over_time(cur, creditors, today, weeks)
            money = data.collection(cur, creditors, date(today.year, 1, 1), today)
            ageing = data.ageing(cur, creditors, today)
            findings = data.findings_by_code(cur, creditors)
            suspense = data.suspense(cur, creditors)
            refunds = data.refunds(cur, creditors)
            pipeline = data.pipeline(cur)
        stage_series = [(t(STAGE_LABELS[s]), [float(c.get(s, 0)) for _d, c in over_time]) for s in data.STAGE_ORDER]
        week_labels = [d.strftime("%d.%m") for d, _c in over_time]
        stage_chart = charts.stacked_bars(
            "chart-stages", t("Open cases per stage, week by week"),
            t("Stacked bars: for each week the open cases at each stage; the table below has the figures."),
            week_labels, stage_series,
        )  # fmt: skip
        rate_items = [
            (names.get(m["creditor_id"], m["creditor_id"]), float(m["rate"] * 100), f"{m['rate'] * 100:.1f} %")
            for m in money
        ]
        rate_chart = charts.hbars(
            "chart-rate", t("Collection rate this year per municipality"),
            t("Principal collected as a share of principal invoiced, per municipality."), rate_items, maximum=100.0,
        )  # fmt: skip
        creditor_ids = sorted({a["creditor_id"] for a in ageing})
        ageing_series = [
            (t(label), [float(sum(a["claims"] for a in ageing if a["creditor_id"] == c and a["bucket"] == i))
                        for c in creditor_ids])
            for i, label in enumerate(BUCKET_LABELS)
        ]  # fmt: skip
        ageing_chart = charts.stacked_bars(
            "chart-ageing", t("Open claims by days past due, per municipality"),
            t("Stacked bars: for each municipality the open claims by how long they are overdue."),
            [names.get(c, c) for c in creditor_ids], ageing_series,
        )  # fmt: skip
        findings_chart = charts.hbars(
            "chart-findings", t("Findings by code"), t("How many findings of each code the audit has raised."),
            [(f["code"], float(f["findings"]), str(f["findings"])) for f in findings[:12]],
        )  # fmt: skip
        return render(
            request, "dashboard.html", user,
            offices=all_offices, office=chosen_office, municipality=municipality, names=names, weeks=weeks,
            stage_chart=stage_chart, over_time=over_time, stage_order=data.STAGE_ORDER, stage_labels=STAGE_LABELS,
            rate_chart=rate_chart, money=money, ageing_chart=ageing_chart, ageing=ageing, creditor_ids=creditor_ids,
            bucket_labels=BUCKET_LABELS, findings_chart=findings_chart, findings=findings,
            suspense_total=_totals(suspense, "amount"), suspense_count=len(suspense),
            refund_total=_totals(refunds, "surplus"), refund_count=len(refunds), pipeline=pipeline,
            is_auditor=is_auditor, start=today - timedelta(days=7 * (weeks - 1)),
        )  # fmt: skip

    return r


def _totals(rows: list[dict[str, Any]], column: str) -> dict[str, Decimal]:
    out: dict[str, Decimal] = {}
    for r in rows:
        out[r["currency"]] = out.get(r["currency"], Decimal(0)) + Decimal(r[column])
    return out
