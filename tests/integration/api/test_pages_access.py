"""Every page is locked: without a login it sends the browser to the login, for a role it is not for
it answers 403 with a page that says so, and a case that is not the person's stays closed. Logins go
through the real provider's login form (authorization code + PKCE), as a person's would.

Also: CSRF on every form, the session cookie's attributes, logout ending the session on the server,
the language switch, a refused form keeping its input with the error beside the field.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from decimal import Decimal

import httpx
import pytest

from tests.integration.api.conftest import Api, PagesWorld, World, ok

pytestmark = pytest.mark.integration

ROLES = ("debtor", "caseworker", "office_lead", "board", "auditor")


@pytest.fixture(scope="module")
def clients(api: Api, pages_world: PagesWorld) -> Iterator[dict[str, httpx.Client]]:
    made = {role: pages_world.client(api, role) for role in (*ROLES, "other_debtor", "other_caseworker")}
    yield made
    for c in made.values():
        c.close()


def pages(w: PagesWorld) -> dict[str, tuple[str, set[str]]]:
    """Every page (a GET path) → the roles that may open it."""
    a, p1, p2, p3 = w.creditor_a, w.invoices["P1"], w.invoices["P2"], w.invoices["P3"]
    return {
        "/my": ("my", {"debtor"}),
        "/my/messages": ("my", {"debtor"}),
        f"/my/cases/{a}/{p1}": ("my", {"debtor"}),
        f"/my/cases/{w.creditor_a2}/{p2}/plan": ("my", {"debtor"}),
        f"/my/cases/{a}/{p1}/deferral": ("my", {"debtor"}),
        f"/my/cases/{a}/{p1}/dispute": ("my", {"debtor"}),
        f"/my/cases/{a}/{p1}/complaint": ("my", {"debtor"}),
        "/desk": ("desk", {"caseworker", "office_lead"}),
        "/desk/search?q=x": ("desk", {"caseworker", "office_lead"}),
        "/desk/objections": ("desk", {"caseworker", "office_lead"}),
        "/desk/applications": ("desk", {"caseworker", "office_lead"}),
        "/desk/messages": ("desk", {"caseworker", "office_lead"}),
        "/desk/suspense": ("desk", {"caseworker", "office_lead"}),
        "/desk/refunds": ("desk", {"caseworker", "office_lead"}),
        "/desk/limitation": ("desk", {"caseworker", "office_lead"}),
        "/desk/parked": ("desk", {"office_lead"}),
        f"/desk/cases/{a}/{p1}": ("desk", {"caseworker", "office_lead"}),
        "/board": ("board", {"board"}),
        f"/board/cases/{a}/{p3}": ("board", {"board"}),
        "/audit": ("audit", {"auditor"}),
        f"/audit/cases/{a}/{p1}?on=2025-03-01": ("audit", {"auditor"}),
        f"/audit/cases/{a}/{p1}/events": ("audit", {"auditor"}),
        "/audit/projections": ("audit", {"auditor"}),
        "/audit/access-log": ("audit", {"auditor"}),
        "/dashboard": ("dashboard", {"caseworker", "office_lead", "auditor"}),
    }


def test_without_a_login_every_page_sends_the_browser_to_the_login(api: Api, pages_world: PagesWorld) -> None:
    with httpx.Client(timeout=30) as anonymous:
        for path in pages(pages_world):
            answer = anonymous.get(api.url + path, follow_redirects=False)
            assert answer.status_code == 303, path
            assert answer.headers["location"].startswith("/login?next="), path


def test_each_page_opens_for_its_roles_and_answers_403_to_every_other(
    api: Api, pages_world: PagesWorld, clients: dict[str, httpx.Client]
) -> None:
    wrong: list[str] = []
    for path, (_area, allowed) in pages(pages_world).items():
        for role in ROLES:
            answer = clients[role].get(api.url + path)
            expected = 200 if role in allowed else 403
            if answer.status_code != expected:
                wrong.append(f"{role} {path}: {answer.status_code} (expected {expected})")
            if expected == 403:
                assert "text/html" in answer.headers["content-type"], path
    assert wrong == []


def test_a_staff_login_without_a_kravsak_role_is_refused_and_gets_no_session(api: Api, pages_world: PagesWorld) -> None:
    import json

    kind, username, claims = pages_world.logins["no_role"]
    with httpx.Client(timeout=30) as client:
        to_provider = client.get(f"{api.url}/login/{kind}", follow_redirects=False)
        form = client.post(to_provider.headers["location"], data={"username": username, "claims": json.dumps(claims)},
                           follow_redirects=False)  # fmt: skip
        back = client.get(form.headers["location"], follow_redirects=False)
        assert back.status_code == 401
        assert client.get(f"{api.url}/desk", follow_redirects=False).status_code == 303


def test_a_case_of_another_debtor_or_office_stays_closed(
    api: Api, pages_world: PagesWorld, clients: dict[str, httpx.Client]
) -> None:
    a, p1 = pages_world.creditor_a, pages_world.invoices["P1"]
    assert clients["other_debtor"].get(f"{api.url}/my/cases/{a}/{p1}").status_code == 403
    assert clients["other_debtor"].get(f"{api.url}/my/cases/{a}/{p1}/plan").status_code == 403
    assert clients["other_caseworker"].get(f"{api.url}/desk/cases/{a}/{p1}").status_code == 403
    # the board reads only cases with a complaint (P1 has none)
    assert clients["board"].get(f"{api.url}/board/cases/{a}/{p1}").status_code == 403
    # the other debtor's overview shows none of P's claims
    overview = clients["other_debtor"].get(f"{api.url}/my").text
    assert p1 not in overview and pages_world.invoices["Q1"] in overview


def test_a_form_without_the_session_csrf_token_is_refused_and_changes_nothing(
    api: Api, pages_world: PagesWorld, clients: dict[str, httpx.Client]
) -> None:
    debtor = clients["debtor"]
    before = debtor.get(f"{api.url}/my/messages").text
    answer = debtor.post(f"{api.url}/my/messages", data={"text": "forged", "csrf_token": "not-the-token"})
    assert answer.status_code == 403
    assert "forged" not in debtor.get(f"{api.url}/my/messages").text
    assert before.count('class="body"') == debtor.get(f"{api.url}/my/messages").text.count('class="body"')


def test_the_session_cookie_is_http_only_same_site_lax_and_logout_ends_the_session(
    api: Api, pages_world: PagesWorld
) -> None:
    client = pages_world.client(api, "caseworker")
    cookie = next(c for c in client.cookies.jar if c.name == "kravsak_session")
    assert cookie.has_nonstandard_attr("HttpOnly") or "httponly" in str(cookie._rest).lower()  # noqa: SLF001
    page = client.get(f"{api.url}/desk")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    stolen = dict(client.cookies)
    out = client.post(f"{api.url}/logout", data={"csrf_token": token[1]})
    assert out.status_code == 303
    with httpx.Client(timeout=30, cookies=stolen) as replay:  # the old cookie, kept by someone
        assert replay.get(f"{api.url}/desk", follow_redirects=False).status_code == 303
    client.close()


def test_the_language_switch_changes_the_lang_attribute_and_the_words(api: Api, pages_world: PagesWorld) -> None:
    client = pages_world.client(api, "debtor")
    page = client.get(f"{api.url}/my")
    assert '<html lang="nb">' in page.text and "Mine krav" in page.text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    for lang, words in (("sv", "Mina krav"), ("en", "My claims")):
        switched = client.post(f"{api.url}/language", data={"csrf_token": token[1], "lang": lang, "next": "/my"})
        assert switched.status_code == 303 and switched.headers["location"] == "/my"
        page = client.get(f"{api.url}/my")
        assert f'<html lang="{lang}">' in page.text and words in page.text
    client.close()


def test_a_refused_form_keeps_the_input_and_shows_the_error_beside_the_field(
    api: Api, pages_world: PagesWorld, clients: dict[str, httpx.Client]
) -> None:
    caseworker = clients["caseworker"]
    url = f"{api.url}/desk/cases/{pages_world.creditor_a}/{pages_world.invoices['P1']}"
    page = caseworker.get(url).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token is not None
    answer = caseworker.post(
        f"{url}/do/write_down", data={"csrf_token": token[1], "key": "k1", "amount": "12x", "reason": "kept words"}
    )
    assert answer.status_code == 422
    assert 'id="write_down-amount-error"' in answer.text
    assert 'value="12x"' in answer.text and 'value="kept words"' in answer.text
    assert '<details class="cmd" id="cmd-write_down" open>' in answer.text


def _token(client: httpx.Client, url: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', client.get(url).text)
    assert found is not None, url
    return found[1]


def test_every_form_refuses_the_wrong_role_and_no_login(
    api: Api, world: World, pages_world: PagesWorld, clients: dict[str, httpx.Client]
) -> None:
    """The POSTs behind the forms are locked like the pages: a valid CSRF token of a session with the
    wrong role gets 403 and changes nothing; no session gets the way to the login."""
    w = pages_world
    a, p1, p3 = w.creditor_a, w.invoices["P1"], w.invoices["P3"]
    forms = {
        f"/my/cases/{a}/{p1}/dispute": ({"text": "not mine"}, {"debtor"}),
        "/my/messages": ({"text": "hello"}, {"debtor"}),
        f"/desk/cases/{a}/{p1}/do/write_down": ({"amount": "1.00", "reason": "x"}, {"caseworker", "office_lead"}),
        "/desk/debtors/00000000-0000-0000-0000-000000000000/messages": ({"text": "hi"}, {"caseworker", "office_lead"}),
        "/desk/applications/1": ({"decision": "refuse", "note": "no"}, {"caseworker", "office_lead"}),
        f"/board/cases/{a}/{p3}": ({"outcome": "no_breach"}, {"board"}),
    }
    homes = {"debtor": "/my", "caseworker": "/desk", "office_lead": "/desk", "board": "/board", "auditor": "/audit"}
    wrong: list[str] = []
    for path, (data, allowed) in forms.items():
        for role in ROLES:
            if role in allowed:
                continue
            token = _token(clients[role], api.url + homes[role])
            answer = clients[role].post(api.url + path, data={**data, "csrf_token": token, "key": f"k-{role}"})
            if answer.status_code != 403:
                wrong.append(f"{role} POST {path}: {answer.status_code}")
        with httpx.Client(timeout=30) as anonymous:
            answer = anonymous.post(api.url + path, data=data, follow_redirects=False)
            if answer.status_code not in (303, 403) or (
                answer.status_code == 303 and not answer.headers["location"].startswith("/login")
            ):
                wrong.append(f"anonymous POST {path}: {answer.status_code} {answer.headers.get('location')}")
    assert wrong == []
    # nothing changed: the complaint on P3 still waits for the board, P1 is not disputed
    assert p3 in clients["board"].get(f"{api.url}/board?creditor={a}").text
    assert 'name="outcome"' in clients["board"].get(f"{api.url}/board/cases/{a}/{p3}").text
    api.catch_up()
    case = ok(api.get(f"/cases/{a}/{p1}", world.tokens["caseworker_a"]))
    assert case["disputed"] is False and Decimal(case["written_down"]) == 0


def test_a_resident_known_only_to_the_debtor_register_sees_their_claims(
    api: Api, world: World, pages_world: PagesWorld
) -> None:
    """A debtor registered without an identity number in the case events, whose identity is in the
    debtor register only (as the demo's people are), finds their claims after logging in; no other."""
    import psycopg

    from kravsak.settings import key_provider, office_secret
    from personal.model import parse_person
    from personal.register import DebtorRegister
    from tests.integration.api.conftest import http_login, synthetic_pids

    tag = world.unique("R")
    ref, invoice = f"R-{tag}", f"R1-{tag}"
    body = {"office": world.office_a, "debtor": ref, "kind": "person", "jurisdiction": "NO"}
    ok(api.command("register_debtor", body, world.tokens["caseworker_a"]))
    ok(api.command("issue_invoice", {"creditor": world.creditor_a, "invoice": invoice, "amount": "700.00",
                                     "due": "2025-02-10", "claim_type": "barnehage", "debtor": ref},
                   world.tokens["billing_a"]))  # fmt: skip
    api.catch_up()
    pid = synthetic_pids(int(tag[-4:], 16) % 30000 + 2000, 1)[0]
    with psycopg.connect(api.settings.pg_dsn) as conn:
        row = conn.execute(
            "SELECT debtor_id FROM kravsak_parties.debtors WHERE office = %s AND ref = %s", (world.office_a, ref)
        ).fetchone()
        assert row is not None
        person = parse_person({"national_id": pid, "kind": "person", "jurisdiction": "NO", "name": "Rita Register",
                               "address": {"lines": ["Storgata 1"], "postcode": "9510", "city": "Alta"},
                               "mailbox": "none", "language": "nb"}, allow_synthetic=True)  # fmt: skip
        register = DebtorRegister(conn, key_provider(api.settings), office_secret(api.settings))
        register.enrol(debtor_id=str(row[0]), office=world.office_a, ref=ref, person=person)
    client = http_login(api, "residents", "rita", {"pid": pid})
    mine = client.get(f"{api.url}/my").text
    assert invoice in mine and pages_world.invoices["P1"] not in mine
    assert client.get(f"{api.url}/my/cases/{world.creditor_a}/{invoice}").status_code == 200
    assert client.get(f"{api.url}/my/cases/{pages_world.creditor_a}/{pages_world.invoices['P1']}").status_code == 403
    client.close()
