"""Commands through the real server: idempotent replays (after a restart too), bad input named per
field, refusals with the contract's code, bulk intake with a result per line."""

from __future__ import annotations

import json
import uuid
from typing import Any

import psycopg
import pytest
from psycopg import sql as psql

from domain.application import CollectionApp
from domain.errors import ConcurrentChange
from tests.integration.api.conftest import Api, Server, World, ok
from web.app import create_app

pytestmark = pytest.mark.integration


def invoice_body(world: World, **changes: Any) -> dict[str, Any]:
    body = {"creditor": world.creditor_a, "invoice": world.unique("I"), "amount": "500.00", "due": "2025-02-01",
            "claim_type": "sfo", "debtor": "D1"}  # fmt: skip
    body.update(changes)
    return body


def events_of(api: Api, world: World, invoice: str) -> int:
    answer = api.get(f"/cases/{world.creditor_a}/{invoice}/events", world.tokens["auditor"])
    return len(answer.json()["events"])


def test_a_repeated_command_returns_the_first_answer_and_changes_nothing(api: Api, world: World) -> None:
    body = invoice_body(world)
    ok(api.command("issue_invoice", body, world.tokens["caseworker_a"]))
    payment = {"creditor": world.creditor_a, "invoice": body["invoice"], "amount": "100.00"}
    key = str(uuid.uuid4())

    first = api.command("register_payment", payment, world.tokens["caseworker_a"], key=key)
    stored = events_of(api, world, body["invoice"])
    again = api.command("register_payment", payment, world.tokens["caseworker_a"], key=key)

    assert first.status_code == again.status_code == 200
    assert again.content == first.content
    assert again.headers["idempotent-replayed"] == "true"
    assert events_of(api, world, body["invoice"]) == stored


def test_a_replay_after_a_restart_returns_the_same_body(api: Api, world: World) -> None:
    body = invoice_body(world)
    key = str(uuid.uuid4())
    first = api.command("issue_invoice", body, world.tokens["billing_a"], key=key)

    with Server(create_app(api.config)) as restarted:
        again = api.client.post(
            f"{restarted.url}/commands/issue_invoice",
            json=body,
            headers={"Authorization": f"Bearer {world.tokens['billing_a']}", "Idempotency-Key": key},
        )

    assert (again.status_code, again.content) == (first.status_code, first.content)


def test_the_same_key_with_another_body_is_refused_naming_the_key(api: Api, world: World) -> None:
    key = str(uuid.uuid4())
    ok(api.command("issue_invoice", invoice_body(world), world.tokens["caseworker_a"], key=key))

    reused = api.command("issue_invoice", invoice_body(world), world.tokens["caseworker_a"], key=key)

    assert reused.status_code == 422
    assert reused.json()["code"] == "idempotency_key_reused"
    assert reused.json()["field"] == "Idempotency-Key"
    assert key in reused.json()["detail"]


def test_the_domain_knows_a_key_whose_stored_answer_was_lost(api: Api, world: World) -> None:
    """The edge's answer row is committed without waiting for the disk; should it be lost, the command log
    (ADR 0024) still tells the same body (answered again, nothing new) from another (refused, naming the key)."""
    key, body = str(uuid.uuid4()), invoice_body(world)
    first = ok(api.command("issue_invoice", body, world.tokens["caseworker_a"], key=key))
    stored = events_of(api, world, body["invoice"])
    with psycopg.connect(api.config.pg_dsn) as conn:
        conn.execute(
            psql.SQL("DELETE FROM {}.idempotency WHERE key = %s").format(psql.Identifier(api.config.web_schema)), (key,)
        )

    other = api.command("issue_invoice", invoice_body(world), world.tokens["caseworker_a"], key=key)
    same = api.command("issue_invoice", body, world.tokens["caseworker_a"], key=key)

    assert other.status_code == 422
    assert other.json()["code"] == "idempotency_key_reused" and key in other.json()["detail"]
    assert same.status_code == 200 and same.json()["case_id"] == first["case_id"]
    assert events_of(api, world, body["invoice"]) == stored


def test_a_change_made_concurrently_every_try_is_a_409_the_same_key_may_send_again(
    api: Api, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = invoice_body(world)
    ok(api.command("issue_invoice", body, world.tokens["caseworker_a"]))
    payment = {"creditor": world.creditor_a, "invoice": body["invoice"], "amount": "100.00"}
    key = str(uuid.uuid4())

    def busy(*args: Any, **kwargs: Any) -> None:
        raise ConcurrentChange("register_payment: another writer changed the same case 5 times")

    monkeypatch.setattr(CollectionApp, "register_payment", busy)
    refused = api.command("register_payment", payment, world.tokens["caseworker_a"], key=key)
    monkeypatch.undo()
    again = api.command("register_payment", payment, world.tokens["caseworker_a"], key=key)

    assert refused.status_code == 409 and refused.json()["code"] == "concurrent_change"
    assert again.status_code == 200 and "idempotent-replayed" not in again.headers


def test_a_refusal_is_stored_like_an_answer_and_carries_the_contracts_code(api: Api, world: World) -> None:
    body = invoice_body(world, due="2025-12-31")
    ok(api.command("issue_invoice", body, world.tokens["caseworker_a"]))
    notice = {"creditor": world.creditor_a, "invoice": body["invoice"], "notice": "inkassovarsel"}
    key = str(uuid.uuid4())

    refused = api.command("send_notice", notice, world.tokens["caseworker_a"], key=key)
    again = api.command("send_notice", notice, world.tokens["caseworker_a"], key=key)

    assert refused.status_code == 409
    problem = refused.json()
    assert problem["code"] == "not_due"
    assert {"type", "title", "status", "detail", "code", "field", "rule"} <= set(problem)
    assert problem["type"] == "/problems/not_due"
    assert again.content == refused.content


def test_a_command_without_an_idempotency_key_is_refused(api: Api, world: World) -> None:
    answer = api.command("issue_invoice", invoice_body(world), world.tokens["caseworker_a"], key=None)

    assert answer.status_code == 428
    assert answer.json()["field"] == "Idempotency-Key"


@pytest.mark.parametrize(
    ("changes", "field", "rule"),
    [
        ({"amount": 500.0}, "amount", "decimal string"),
        ({"amount": "500.001"}, "amount", "more than two decimals"),
        ({"amount": "-5.00"}, "amount", "greater than zero"),
        ({"due": "2025-02-30"}, "due", "not an ISO date"),
        ({"due": 20250201}, "due", "ISO date string"),
        ({"invoice": ""}, "invoice", "at least 1 character"),
        ({"creditor": "56O1"}, "creditor", "pattern"),
        ({"debtor": None}, "debtor", "valid string"),
        ({"amout": "500.00"}, "amout", "not permitted"),
        ({"claim_type": "pizza"}, "claim_type", "is not a NO claim type"),
        ({"debtor": "D404"}, "debtor", "not registered"),
    ],
)
def test_bad_input_is_refused_naming_the_field_and_the_rule(
    api: Api, world: World, changes: dict[str, Any], field: str, rule: str
) -> None:
    answer = api.command("issue_invoice", invoice_body(world, **changes), world.tokens["caseworker_a"])

    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    problem = answer.json()
    assert (problem["code"], problem["field"]) == ("invalid_input", field)
    assert rule in problem["rule"]


def test_a_body_over_the_limit_is_refused_before_it_is_read(api: Api, world: World) -> None:
    body = invoice_body(world, invoice="x" * (api.config.max_body + 10))

    answer = api.command("issue_invoice", body, world.tokens["caseworker_a"])

    assert answer.status_code == 413
    assert answer.json()["code"] == "body_too_large"


def test_bulk_intake_answers_one_line_per_invoice_and_repeats_byte_for_byte(api: Api, world: World) -> None:
    good = [invoice_body(world) for _ in range(3)]
    bad = invoice_body(world, amount="12,50")
    lines = "\n".join(json.dumps(b) for b in [good[0], bad, good[1], good[2]]) + "\n"
    headers = {
        "Authorization": f"Bearer {world.tokens['billing_a']}",
        "Idempotency-Key": str(uuid.uuid4()),
        "Content-Type": "application/x-ndjson",
    }

    first = api.client.post(f"{api.url}/commands/issue_invoice/bulk", content=lines, headers=headers)
    again = api.client.post(f"{api.url}/commands/issue_invoice/bulk", content=lines, headers=headers)

    assert first.status_code == 200, first.text
    results = [json.loads(line) for line in first.text.splitlines()]
    assert [r["line"] for r in results] == [1, 2, 3, 4]
    assert [r["accepted"] for r in results] == [True, False, True, True]
    assert results[1]["problem"]["field"] == "amount"
    assert all(r["kid"] for r in results if r["accepted"])
    assert again.content == first.content
    assert events_of(api, world, good[2]["invoice"]) == 1


def test_bulk_intake_for_another_municipality_stores_nothing(api: Api, world: World) -> None:
    mine, theirs = invoice_body(world), invoice_body(world, creditor=world.creditor_b, debtor="D3")
    headers = {"Authorization": f"Bearer {world.tokens['billing_a']}", "Idempotency-Key": str(uuid.uuid4())}

    answer = api.client.post(f"{api.url}/commands/issue_invoice/bulk", json=[mine, theirs], headers=headers)

    assert answer.status_code == 403
    assert api.get(f"/cases/{world.creditor_a}/{mine['invoice']}/events", world.tokens["auditor"]).status_code == 404


def test_an_office_lead_switches_samlesak_off_and_sets_the_monitoring_days(api: Api, world: World) -> None:
    body = {"creditor": world.creditor_a, "policy": {"merge_claims": False, "monitoring_days_before_limitation": 90}}

    answer = ok(api.command("change_policy", body, world.tokens["office_lead_a"]))

    assert (answer["policy"]["merge_claims"], answer["policy"]["monitoring_days_before_limitation"]) == (False, 90)
    back = {"creditor": world.creditor_a, "policy": {"merge_claims": True, "monitoring_days_before_limitation": 60}}
    ok(api.command("change_policy", back, world.tokens["office_lead_a"]))


@pytest.mark.parametrize(
    ("policy", "field"),
    [
        ({"monitoring_days_before_limitation": 0}, "monitoring_days_before_limitation"),
        ({"merge_claims": "ja"}, "merge_claims"),
    ],
)
def test_a_policy_value_out_of_range_is_refused_naming_it(
    api: Api, world: World, policy: dict[str, Any], field: str
) -> None:
    answer = api.command(
        "change_policy", {"creditor": world.creditor_a, "policy": policy}, world.tokens["office_lead_a"]
    )

    assert answer.status_code == 422, answer.text
    assert answer.json()["field"].endswith(field)
