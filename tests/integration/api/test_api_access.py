"""Who may use which door: every role against every endpoint, with real tokens from the real provider.

Allowed → 2xx; a role the endpoint is not for, or a case outside the caller's office, debtor records
or complaints → 403; no token, an expired one, a forged one (signed by another key) or one issued
for another API → 401. Every answer is a problem document.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.integration.api.conftest import Api, World

pytestmark = pytest.mark.integration

ROLES = (
    "caseworker_a",
    "caseworker_b",
    "office_lead_a",
    "board",
    "auditor",
    "billing_a",
    "billing_b",
    "debtor_1",
    "debtor_2",
    "no_role",
)


def reads(w: World) -> list[tuple[str, set[str]]]:
    a1 = f"/cases/{w.creditor_a}/{w.invoices['A1']}"  # D1's, with a complaint
    a2 = f"/cases/{w.creditor_a}/{w.invoices['A2']}"  # D2's, under objection
    office = {"caseworker_a", "office_lead_a", "auditor"}
    return [
        (a1, office | {"board", "debtor_1"}),
        (f"{a1}/ledger", office | {"board", "debtor_1"}),
        (f"{a1}/trail", office | {"board", "debtor_1"}),
        (f"{a1}/findings", office | {"board", "debtor_1"}),
        (a2, office | {"debtor_2"}),
        (f"{a1}/as-of/2025-03-03", {"auditor"}),
        (f"{a1}/events", {"auditor"}),
        ("/events?limit=5", {"auditor"}),
        ("/access-log?limit=5", {"auditor"}),
        (f"/offices/{w.office_a}/debtors/D1", office),
        ("/me/cases", {"debtor_1", "debtor_2"}),
        ("/worklists/objections", office | {"caseworker_b"}),
        ("/worklists/applications", office | {"caseworker_b"}),
        ("/worklists/limitation", office | {"caseworker_b"}),
        ("/worklists/complaints", office | {"caseworker_b", "board"}),
        ("/worklists/parked", {"office_lead_a", "auditor"}),
        ("/findings", office | {"caseworker_b"}),
        ("/settlement?from=2025-01-01&to=2025-12-31", office | {"caseworker_b"}),
    ]


def test_every_role_reads_only_what_it_is_allowed_to(api: Api, world: World) -> None:
    wrong = []
    for path, allowed in reads(world):
        for role in ROLES:
            got = api.get(path, world.tokens[role]).status_code
            want = 200 if role in allowed else 403
            if got != want:
                wrong.append(f"{role} GET {path}: {got}, expected {want}")
    assert wrong == []


def commands(w: World) -> list[tuple[str, set[str], Callable[[Api, str], dict[str, Any]]]]:
    """(command, roles allowed, a body that succeeds for an allowed role — made fresh per call)."""
    a = w.creditor_a

    def new_invoice(api: Api, role: str) -> dict[str, Any]:
        return {"creditor": a, "invoice": w.unique("M"), "amount": "100.00", "due": "2025-02-01", "debtor": "D1"}

    def payment(api: Api, role: str) -> dict[str, Any]:
        return {"creditor": a, "invoice": w.invoices["A3"], "amount": "1.00"}

    def complaint_to_decide(api: Api, role: str) -> dict[str, Any]:
        invoice = w.unique("C")
        if role == "board":  # a case with a pending complaint, made by the office first
            body = {"creditor": a, "invoice": invoice, "amount": "100.00", "due": "2025-02-01", "debtor": "D1"}
            assert api.command("issue_invoice", body, w.tokens["caseworker_a"]).status_code == 200
            complaint = {"creditor": a, "invoice": invoice}
            assert api.command("file_complaint", complaint, w.tokens["caseworker_a"]).status_code == 200
        return {"creditor": a, "invoice": invoice if role == "board" else w.invoices["A1"], "outcome": "no_breach"}

    def creditor(api: Api, role: str) -> dict[str, Any]:
        number = next(n for n in (f"{uuid.uuid4().int % 9000 + 1000}" for _ in range(9)) if n not in (a, w.creditor_b))
        return {"creditor": number, "name": "Ny kommune", "jurisdiction": "NO", "office": w.office_a}

    def policy(api: Api, role: str) -> dict[str, Any]:
        return {"creditor": a, "policy": {"limitation_alert_days": 120}}

    def debtor(api: Api, role: str) -> dict[str, Any]:
        return {"office": w.office_a, "debtor": w.unique("D"), "kind": "organisation", "jurisdiction": "NO"}

    casework = {"caseworker_a", "office_lead_a"}
    return [
        ("issue_invoice", casework | {"billing_a"}, new_invoice),
        ("register_payment", casework, payment),
        ("decide_complaint", {"board"}, complaint_to_decide),
        ("register_creditor", {"office_lead_a"}, creditor),
        ("change_policy", {"office_lead_a"}, policy),
        ("register_debtor", casework | {"billing_a"}, debtor),
    ]


def test_every_role_commands_only_what_it_is_allowed_to(api: Api, world: World) -> None:
    wrong = []
    for name, allowed, body in commands(world):
        for role in ROLES:
            answer = api.command(name, body(api, role), world.tokens[role])
            want = 200 if role in allowed else 403
            if answer.status_code != want:
                wrong.append(f"{role} {name}: {answer.status_code}, expected {want}: {answer.text[:200]}")
    assert wrong == []


def test_a_caseworker_cannot_act_on_another_offices_case(api: Api, world: World) -> None:
    body = {"creditor": world.creditor_b, "invoice": world.invoices["B1"], "amount": "10.00"}

    refused = api.command("register_payment", body, world.tokens["caseworker_a"])

    assert refused.status_code == 403
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["code"] == "forbidden"
    read = api.get(f"/cases/{world.creditor_b}/{world.invoices['B1']}", world.tokens["caseworker_a"])
    assert read.status_code == 403


def test_a_billing_system_issues_invoices_for_its_own_municipality_only(api: Api, world: World) -> None:
    body = {"creditor": world.creditor_b, "invoice": world.unique("X"), "amount": "10.00", "due": "2025-02-01",
            "debtor": "D3"}  # fmt: skip

    assert api.command("issue_invoice", body, world.tokens["billing_a"]).status_code == 403
    assert api.command("issue_invoice", body, world.tokens["billing_b"]).status_code == 200


def test_a_debtor_sees_their_own_cases_and_no_one_elses(api: Api, world: World) -> None:
    mine = api.get("/me/cases", world.tokens["debtor_1"]).json()["items"]
    theirs = api.get("/me/cases", world.tokens["debtor_2"]).json()["items"]

    assert {c["invoice"] for c in mine} == {world.invoices["A1"], world.invoices["A3"]}
    assert {c["invoice"] for c in theirs} == {world.invoices["A2"]}
    assert api.get(f"/cases/{world.creditor_a}/{world.invoices['A2']}", world.tokens["debtor_1"]).status_code == 403


def forged_token(api: Api) -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = int(time.time())
    claims = {"iss": api.settings.staff_issuer, "aud": api.settings.oidc_audience, "sub": "mallory", "iat": now,
              "exp": now + 600, "roles": ["auditor"]}  # fmt: skip
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": "staff"})


@pytest.mark.parametrize("case", ["missing", "expired", "forged", "wrong_audience", "unknown_issuer", "not_a_jwt"])
def test_a_request_without_a_valid_token_is_unauthorized(api: Api, world: World, case: str) -> None:
    token = {
        "missing": None,
        "expired": api.token(client_id="expired"),
        "forged": forged_token(api),
        "wrong_audience": api.token(client_id="wrong-audience"),
        "unknown_issuer": jwt.encode({"iss": "https://idp.example", "sub": "x"}, "secret-of-32-bytes-or-more-please"),
        "not_a_jwt": "abc",
    }[case]

    read = api.get("/worklists/objections", token)
    command = api.command("register_payment", {"creditor": world.creditor_a, "invoice": world.invoices["A3"],
                                               "amount": "1.00"}, token)  # fmt: skip

    for answer in (read, command):
        assert answer.status_code == 401, answer.text
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.headers["www-authenticate"].startswith("Bearer")
        assert answer.json()["code"] == "unauthorized"


def test_the_expired_token_is_refused_for_its_expiry(api: Api) -> None:
    answer = api.get("/findings", api.token(client_id="expired"))

    assert answer.json()["detail"] == "the token has expired"


def test_health_and_readiness_need_no_token_and_the_openapi_document_names_the_login(api: Api) -> None:
    assert api.get("/health", None).json() == {"status": "ok"}
    assert api.get("/ready", None).json() == {"status": "ready"}
    openapi = api.get("/openapi.json", None).json()
    schemes = openapi["components"]["securitySchemes"]
    assert schemes["oidc_staff"]["openIdConnectUrl"].startswith(api.settings.staff_issuer)
    assert "/commands/issue_invoice/bulk" in openapi["paths"]
    assert api.get("/docs", None).status_code == 200


def test_cors_is_off_unless_origins_are_configured(api: Api) -> None:
    preflight = api.client.options(
        f"{api.url}/worklists/objections",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
    )

    assert "access-control-allow-origin" not in preflight.headers
