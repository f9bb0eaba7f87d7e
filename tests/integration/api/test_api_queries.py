"""Queries through the real server on the read models the projections built from Kafka; the access
log of every read; a case as it was known on a past date."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.integration.api.conftest import Api, World, ok

pytestmark = pytest.mark.integration


def test_a_case_shows_its_figures_as_of_a_date(api: Api, world: World) -> None:
    path = f"/cases/{world.creditor_a}/{world.invoices['A3']}"

    now = ok(api.get(path, world.tokens["caseworker_a"]))
    later = ok(api.get(f"{path}?on=2025-06-30", world.tokens["caseworker_a"]))

    assert now["principal"] == "1200.00"
    assert now["limitation_date"] == "2028-01-20"
    assert later["on"] == "2025-06-30"
    assert float(later["interest"]) > float(now["interest"]) > 0


def test_the_worklists_show_the_offices_cases_and_not_another_offices(api: Api, world: World) -> None:
    objections = ok(api.get("/worklists/objections", world.tokens["caseworker_a"]))["items"]
    complaints = ok(api.get("/worklists/complaints", world.tokens["board"]))["items"]
    other = ok(api.get("/worklists/objections", world.tokens["caseworker_b"]))["items"]
    limitation = ok(api.get("/worklists/limitation?within_days=1500", world.tokens["caseworker_a"]))["items"]

    assert world.invoices["A2"] in {o["invoice"] for o in objections}
    assert world.invoices["A1"] in {c["invoice"] for c in complaints}
    assert world.invoices["A2"] not in {o["invoice"] for o in other}
    assert {world.invoices[n] for n in ("A1", "A2", "A3")} <= {c["invoice"] for c in limitation}
    assert world.invoices["B1"] not in {c["invoice"] for c in limitation}


def test_lists_come_in_pages_that_neither_repeat_nor_skip(api: Api, world: World) -> None:
    path = "/worklists/limitation?within_days=1500&limit=1"
    seen, cursor = [], None
    for _ in range(3):
        page = ok(api.get(path + (f"&cursor={cursor}" if cursor else ""), world.tokens["caseworker_a"]))
        seen += [item["case_id"] for item in page["items"]]
        cursor = page["next_cursor"]
    everything = ok(api.get("/worklists/limitation?within_days=1500&limit=3", world.tokens["caseworker_a"]))

    assert seen == [item["case_id"] for item in everything["items"]]
    bad = api.get(path + "&cursor=bm9wZQ", world.tokens["caseworker_a"])
    assert (bad.status_code, bad.json()["field"]) == (422, "cursor")


def test_a_debtors_overview_spans_the_offices_municipalities(api: Api, world: World) -> None:
    second, debtor = f"{int(world.creditor_a) + 2}", world.unique("D")
    here, there = world.unique("S"), world.unique("S")
    lead, caseworker = world.tokens["office_lead_a"], world.tokens["caseworker_a"]
    ok(api.command("register_creditor", {"creditor": second, "name": "Nabokommune", "jurisdiction": "NO",
                                         "office": world.office_a}, lead))  # fmt: skip
    ok(api.command("register_debtor", {"office": world.office_a, "debtor": debtor, "kind": "person",
                                       "jurisdiction": "NO"}, caseworker))  # fmt: skip
    for creditor, invoice in ((world.creditor_a, here), (second, there)):
        ok(api.command("issue_invoice", {"creditor": creditor, "invoice": invoice, "amount": "300.00",
                                         "due": "2025-02-10", "debtor": debtor}, caseworker))  # fmt: skip
    api.catch_up()

    overview = ok(api.get(f"/offices/{world.office_a}/debtors/{debtor}", caseworker))

    assert {(c["creditor_id"], c["invoice"]) for c in overview["items"]} == {(world.creditor_a, here), (second, there)}
    assert api.get(f"/offices/{world.office_a}/debtors/{debtor}", world.tokens["caseworker_b"]).status_code == 403


def test_every_read_of_a_case_by_a_person_is_in_the_access_log(api: Api, world: World) -> None:
    invoice = world.invoices["A1"]
    read = api.get(f"/cases/{world.creditor_a}/{invoice}/trail", world.tokens["board"])
    case_id = read.json()["case_id"]
    api.get("/me/cases", world.tokens["debtor_1"])

    log = ok(api.get(f"/access-log?case_id={case_id}&limit=500", world.tokens["auditor"]))["items"]

    board = [e for e in log if e["route"] == "/cases/{creditor}/{invoice}/trail" and "complaints_board" in e["roles"]]
    assert board and board[-1]["request_id"] == read.headers["x-request-id"]
    assert any(e["route"] == "/me/cases" and e["principal"].startswith("residents:") for e in log)
    assert all(world.pid_1 not in e["principal"] for e in log)  # the identity number is never logged


def test_a_case_as_known_on_a_past_date_leaves_out_what_was_recorded_later(api: Api, world: World) -> None:
    invoice = world.unique("H")
    first_day = api.clock.today()
    ok(api.command("issue_invoice", {"creditor": world.creditor_a, "invoice": invoice, "amount": "800.00",
                                     "due": "2025-01-31", "debtor": "D2"}, world.tokens["caseworker_a"]))  # fmt: skip
    api.clock.set(first_day + timedelta(days=20))
    ok(api.command("send_notice", {"creditor": world.creditor_a, "invoice": invoice, "notice": "inkassovarsel"},
                   world.tokens["caseworker_a"]))  # fmt: skip
    objection = {"creditor": world.creditor_a, "invoice": invoice, "received": first_day.isoformat()}
    ok(api.command("register_objection", objection, world.tokens["caseworker_a"]))
    path = f"/cases/{world.creditor_a}/{invoice}/as-of"

    then = ok(api.get(f"{path}/{first_day}", world.tokens["auditor"]))
    now = ok(api.get(f"{path}/{first_day + timedelta(days=20)}", world.tokens["auditor"]))

    assert (then["events_known"], then["stage"], then["disputed"], then["findings"]) == (1, "invoiced", False, [])
    assert (now["stage"], now["disputed"]) == ("warned", True)
    assert "escalated_during_objection" in {f["code"] for f in now["findings"]}
    before = api.get(f"{path}/{first_day - timedelta(days=1)}", world.tokens["auditor"])
    assert before.status_code == 404


def test_the_event_export_pages_through_the_log_in_order(api: Api, world: World) -> None:
    first = ok(api.get("/events?limit=3", world.tokens["auditor"]))
    second = ok(api.get(f"/events?after={first['next_after']}&limit=3", world.tokens["auditor"]))

    positions = [e["position"] for e in first["items"] + second["items"]]
    assert positions == sorted(positions) and len(set(positions)) == 6
