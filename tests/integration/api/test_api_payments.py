"""POST /payments/files and the money worklists, with real tokens: who may upload a bank file (a caseworker of
the office owning the account, the office's bank integration) and who may not (another office, a billing
system, a debtor, no token), a bad file 422 naming the line, and nothing stored when refused."""

from __future__ import annotations

import random
from datetime import date
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
import yaml

from domain.application import CollectionApp
from intake.write import BankPayment
from intake.write.ocr import write_ocr
from tests.integration.api.conftest import Api, World, ok

pytestmark = pytest.mark.integration
ORDERED = date(2025, 2, 10)


def _account() -> str:
    while True:
        base = f"{random.randrange(10**9, 10**10)}"
        check = 11 - sum(int(d) * w for d, w in zip(base, (5, 4, 3, 2, 7, 6, 5, 4, 3, 2), strict=True)) % 11
        check = 0 if check == 11 else check
        if check != 10:
            return f"{base}{check}"


@pytest.fixture(scope="module")
def accounts(world: World, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return {world.creditor_a: _account(), world.creditor_b: _account()}


@pytest.fixture
def letterheads(world: World, accounts: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    office = {"synthetic": True, "values": {"2020-01-01": {
        "name": "T", "address": ["x"], "postcode": "1", "city": "x", "phone": "1", "email": "x@x.example",
        "web": "x.example", "hours": "x", "complaints": "x"}}}  # fmt: skip
    doc = {
        "offices": {"t": office},
        "creditors": {c: {"office": "t", "values": {"2020-01-01": {"account": a}}} for c, a in accounts.items()},
    }
    path = tmp_path / "letterheads.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    monkeypatch.setenv("KRAVSAK_LETTERHEADS", str(path))


def upload(api: Api, token: str | None, body: bytes, **params: str) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    headers["Content-Type"] = "application/octet-stream"
    return api.client.post(f"{api.url}/payments/files", content=body, headers=headers, params=params)


def ocr_file(tmp: Path, account: str, *payments: tuple[str, str]) -> bytes:
    path = tmp / f"{random.randrange(10**9)}.ocr"
    made = [BankPayment(k, Decimal(a), ORDERED, booked=ORDERED, payer_account="12345678903") for k, a in payments]
    write_ocr(path, made, account=account, transmission_number=f"{random.randrange(10**7):07d}")
    return path.read_bytes()


def events(api: Api) -> int:
    app = CollectionApp(api.config.eventsourcing_env, namespace=api.namespace, office_secret=api.config.office_secret)
    try:
        return int(app.recorder.max_notification_id() or 0)
    finally:
        app.close()


def new_invoice(api: Api, world: World) -> tuple[str, str]:
    invoice = world.unique("P")
    body = {"creditor": world.creditor_a, "invoice": invoice, "amount": "500.00", "due": "2025-02-01",
            "claim_type": "sfo", "debtor": "D1"}  # fmt: skip
    return invoice, str(ok(api.command("issue_invoice", body, world.tokens["billing_a"]))["kid"])


@pytest.mark.usefixtures("letterheads")
def test_a_caseworker_of_the_office_imports_a_file_once(
    api: Api, world: World, accounts: dict[str, str], tmp_path: Path
) -> None:
    invoice, kid = new_invoice(api, world)
    unknown = f"{random.randrange(10**9, 10**10)}"
    body = ocr_file(tmp_path, accounts[world.creditor_a], (kid, "200.00"), (unknown, "15.00"))

    first = ok(upload(api, world.tokens["caseworker_a"], body))

    assert (first["matched"], first["unmatched"], first["duplicates"]) == (1, 1, 0)
    assert first["reconciliation"]["holds"] and first["creditors"] == [world.creditor_a]
    before = events(api)
    again = ok(upload(api, world.tokens["caseworker_a"], body))
    assert again["already_imported"] and again["duplicates"] == 2 and events(api) == before
    listed = ok(api.get(f"/payments/suspense?creditor={world.creditor_a}", world.tokens["caseworker_a"]))
    assert unknown in [i["reference"] for i in listed["items"]]
    app = CollectionApp(api.config.eventsourcing_env, namespace=api.namespace, office_secret=api.config.office_secret)
    try:
        assert app.claim(world.creditor_a, invoice).account.total_paid == Decimal("200.00")
    finally:
        app.close()


@pytest.mark.usefixtures("letterheads")
def test_the_offices_bank_integration_uploads_but_reads_no_worklist(
    api: Api, world: World, accounts: dict[str, str], tmp_path: Path
) -> None:
    bank = api.token(role="bank_integration", office=world.office_a)
    body = ocr_file(tmp_path, accounts[world.creditor_a], (f"{random.randrange(10**9, 10**10)}", "9.00"))
    assert ok(upload(api, bank, body))["unmatched"] == 1
    assert api.get(f"/payments/suspense?creditor={world.creditor_a}", bank).status_code == 403
    assert api.get(f"/refunds?creditor={world.creditor_a}", bank).status_code == 403


@pytest.mark.usefixtures("letterheads")
def test_no_one_else_may_upload_a_file_for_the_offices_account_and_nothing_is_stored(
    api: Api, world: World, accounts: dict[str, str], tmp_path: Path
) -> None:
    _, kid = new_invoice(api, world)
    body = ocr_file(tmp_path, accounts[world.creditor_a], (kid, "100.00"))
    before = events(api)
    other_bank = api.token(role="bank_integration", office=world.office_b)
    for who, token in (("caseworker_b", world.tokens["caseworker_b"]), ("bank of office B", other_bank),
                       ("billing_a", world.tokens["billing_a"]), ("auditor", world.tokens["auditor"]),
                       ("debtor_1", world.tokens["debtor_1"]), ("no_role", world.tokens["no_role"])):  # fmt: skip
        answer = upload(api, token, body)
        assert answer.status_code == 403, (who, answer.text)
        assert answer.headers["content-type"].startswith("application/problem+json")
    assert upload(api, None, body).status_code == 401
    assert events(api) == before


@pytest.mark.usefixtures("letterheads")
def test_a_bad_file_is_refused_naming_the_line_and_nothing_is_stored(
    api: Api, world: World, accounts: dict[str, str], tmp_path: Path
) -> None:
    _, kid = new_invoice(api, world)
    lines = ocr_file(tmp_path, accounts[world.creditor_a], (kid, "100.00")).decode("latin-1").splitlines()
    lines[3] = lines[3][:79]
    before = events(api)

    answer = upload(api, world.tokens["caseworker_a"], ("\n".join(lines) + "\n").encode("latin-1"))

    assert answer.status_code == 422 and "line 4" in answer.json()["detail"], answer.text
    assert events(api) == before
    assert upload(api, world.tokens["caseworker_a"], b"", format="ocr").status_code == 422
    assert upload(api, world.tokens["caseworker_a"], b"x", format="mt940").status_code == 422


def test_the_money_worklists_are_the_offices(api: Api, world: World) -> None:
    for path in (f"/payments/suspense?creditor={world.creditor_a}", f"/refunds?creditor={world.creditor_a}"):
        for role in ("caseworker_a", "office_lead_a", "auditor"):
            assert api.get(path, world.tokens[role]).status_code == 200, (path, role)
        for role in ("caseworker_b", "board", "billing_a", "debtor_1", "no_role"):
            assert api.get(path, world.tokens[role]).status_code == 403, (path, role)
