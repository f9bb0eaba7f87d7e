"""One real API server and the real local OpenID provider for the whole test session.

The server is uvicorn in a thread on a free loopback port, in a fresh id namespace, on a simulated
business clock of its own (PostgreSQL-backed, as `kravsak serve --clock simulated`). Tokens come
from mock-oauth2-server's token endpoint over HTTP (client credentials). `world` registers two
offices with one municipality each, debtors with synthetic identity numbers and a few invoices,
through the API, then lets the publisher and the projections catch up once.
"""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import httpx
import pytest
import uvicorn
from stdnum.no import fodselsnummer

from consumers.automate import SimulatedClock
from kravsak.pipeline import catch_up_projections, drain_publisher
from kravsak.serve import web_config
from kravsak.settings import Settings
from kravsak.stack import ServiceState
from web.app import create_app

START = date(2025, 3, 3)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Server:
    """uvicorn in a thread, stopped as it would be by SIGTERM."""

    def __init__(self, app: Any) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_config=None, access_log=False)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> Server:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the API server did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


@dataclass
class Api:
    url: str
    settings: Settings
    namespace: uuid.UUID
    clock: SimulatedClock
    config: Any
    client: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=30))
    _tokens: dict[tuple[str, tuple[tuple[str, str], ...]], str] = field(default_factory=dict)

    def token(self, issuer: str = "staff", **params: str) -> str:
        """A real access token from the local provider (cached per issuer and parameters)."""
        key = (issuer, tuple(sorted(params.items())))
        if key not in self._tokens:
            base = self.settings.staff_issuer if issuer == "staff" else self.settings.resident_issuer
            params.setdefault("client_id", f"test-{uuid.uuid4().hex[:6]}")
            answer = self.client.post(
                f"{base}/token", data={"grant_type": "client_credentials", "client_secret": "x", **params}
            )
            answer.raise_for_status()
            self._tokens[key] = answer.json()["access_token"]
        return self._tokens[key]

    def get(self, path: str, token: str | None, **kw: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return self.client.get(self.url + path, headers=headers, **kw)

    def command(self, name: str, body: Any, token: str | None, key: str | None = "new") -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        if key is not None:
            headers["Idempotency-Key"] = uuid.uuid4().hex if key == "new" else key
        return self.client.post(f"{self.url}/commands/{name}", json=body, headers=headers)

    def catch_up(self) -> None:
        drain_publisher(self.settings)
        catch_up_projections(self.settings)


@pytest.fixture(scope="session")
def api(settings: Settings, stack: list[ServiceState]) -> Iterator[Api]:
    namespace = uuid.uuid4()
    clock = SimulatedClock(settings.pg_dsn, f"api-tests-{namespace.hex[:8]}")
    clock.set(START)
    config = web_config(settings, namespace=namespace, today=clock.today, allow_synthetic_ids=True)
    with Server(create_app(config)) as server:
        api = Api(server.url, settings, namespace, clock, config)
        yield api
        api.client.close()
    clock.close()


def synthetic_pid(serial: int) -> str:
    """A Norwegian synthetic (Tenor: month + 80) identity number with valid control digits."""
    while True:
        base = f"0181{60 + serial % 40:02d}{100 + serial % 800:03d}"
        first = fodselsnummer.calc_check_digit1(base)
        second = fodselsnummer.calc_check_digit2(base + first) if len(first) == 1 else "xx"
        if len(first + second) == 2:
            return base + first + second
        serial += 1


def synthetic_pids(serial: int, count: int) -> list[str]:
    """``count`` different synthetic identity numbers from ``serial`` on (two serials can give one number:
    ``synthetic_pid`` moves on to the next serial with valid control digits)."""
    found: list[str] = []
    while len(found) < count:
        pid = synthetic_pid(serial)
        serial += 1
        if pid not in found:
            found.append(pid)
    return found


@dataclass
class World:
    """Two offices, A and B, collecting for one municipality each; the roles' tokens."""

    office_a: str
    office_b: str
    creditor_a: str
    creditor_b: str
    pid_1: str  # debtor D1 of office A
    pid_2: str  # debtor D2 of office A
    tokens: dict[str, str]
    invoices: dict[str, str]  # name → invoice number (all of creditor A unless named B…)
    unique: Callable[[str], str]


@pytest.fixture(scope="session")
def world(api: Api) -> World:
    tag = uuid.uuid4().hex[:6]
    office_a, office_b = f"A-{tag}", f"B-{tag}"
    number = int(tag, 16) % 8000 + 1000
    creditor_a, creditor_b = f"{number}", f"{number + 1}"
    pids = synthetic_pids(int(tag[:4], 16), 2)
    t = {
        "caseworker_a": api.token(role="caseworker", office=office_a),
        "caseworker_b": api.token(role="caseworker", office=office_b),
        "office_lead_a": api.token(role="office_lead", office=office_a),
        "office_lead_b": api.token(role="office_lead", office=office_b),
        "board": api.token(role="complaints_board"),
        "auditor": api.token(role="auditor"),
        "billing_a": api.token(role="billing_system", municipality=creditor_a),
        "billing_b": api.token(role="billing_system", municipality=creditor_b),
        "debtor_1": api.token("residents", pid=pids[0]),
        "debtor_2": api.token("residents", pid=pids[1]),
        "no_role": api.token(),
    }
    for office, creditor, lead in ((office_a, creditor_a, "office_lead_a"), (office_b, creditor_b, "office_lead_b")):
        ok(api.command("register_creditor", {"creditor": creditor, "name": f"Kommune {creditor}",
                                              "jurisdiction": "NO", "office": office}, t[lead]))  # fmt: skip
    for ref, pid, office, who in (
        ("D1", pids[0], office_a, "caseworker_a"),
        ("D2", pids[1], office_a, "caseworker_a"),
        ("D3", None, office_b, "caseworker_b"),
    ):
        body = {"office": office, "debtor": ref, "kind": "person", "jurisdiction": "NO", "national_id": pid}
        ok(api.command("register_debtor", body, t[who]))
    invoices = {name: f"{name}-{tag}" for name in ("A1", "A2", "A3", "B1")}
    for name, debtor in (("A1", "D1"), ("A2", "D2"), ("A3", "D1"), ("B1", "D3")):
        creditor, billing = (creditor_b, "billing_b") if name.startswith("B") else (creditor_a, "billing_a")
        ok(api.command("issue_invoice", {"creditor": creditor, "invoice": invoices[name], "amount": "1200.00",
                                         "due": "2025-01-20", "claim_type": "barnehage", "debtor": debtor},
                       t[billing]))  # fmt: skip
    ok(api.command("file_complaint", {"creditor": creditor_a, "invoice": invoices["A1"]}, t["caseworker_a"]))
    ok(api.command("register_objection", {"creditor": creditor_a, "invoice": invoices["A2"], "text": "wrong"},
                   t["caseworker_a"]))  # fmt: skip
    api.catch_up()
    return World(office_a, office_b, creditor_a, creditor_b, pids[0], pids[1], t, invoices,
                 lambda prefix: f"{prefix}-{uuid.uuid4().hex[:8]}")  # fmt: skip


def ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


# --- the pages for people (web/pages): logins through the provider's own login page ----------------


LOGINS: dict[str, tuple[str, dict[str, Any]]] = {}
"""role name → (issuer kind, claims typed into the provider's login page); filled by ``pages_world``."""


def http_login(api: Api, kind: str, username: str, claims: dict[str, Any]) -> httpx.Client:
    """A browser-like client logged in to the pages: the authorization code flow with PKCE, the
    provider's login form filled in as a person would (user name and claims), the session cookie kept."""
    import json

    client = httpx.Client(timeout=30, follow_redirects=False)
    to_provider = client.get(f"{api.url}/login/{kind}")
    assert to_provider.status_code == 303, to_provider.text
    authorize = to_provider.headers["location"]
    form = client.post(authorize, data={"username": username, "claims": json.dumps(claims)})
    assert form.status_code == 302, form.text
    back = client.get(form.headers["location"])
    assert back.status_code == 303, back.text
    return client


@dataclass
class PagesWorld:
    """Office A with two municipalities (A and A2); debtor P with claims in both; a caseworker, a board
    member and an auditor; debtor Q of the same office (another person)."""

    office: str
    creditor_a: str
    creditor_a2: str
    pid_p: str
    pid_q: str
    invoices: dict[str, str]
    logins: dict[str, tuple[str, str, dict[str, Any]]]  # role → (kind, username, claims)

    def client(self, api: Api, role: str) -> httpx.Client:
        kind, username, claims = self.logins[role]
        return http_login(api, kind, username, claims)


@pytest.fixture(scope="session")
def pages_world(api: Api, world: World) -> PagesWorld:
    from datetime import date as _date

    tag = uuid.uuid4().hex[:6]
    creditor_a2 = str(int(world.creditor_a) + 3)  # +1 is office B's, +2 test_api_queries' second municipality
    t = world.tokens
    body = {
        "creditor": creditor_a2,
        "name": f"Nabokommune {creditor_a2}",
        "jurisdiction": "NO",
        "office": world.office_a,
    }
    ok(api.command("register_creditor", body, t["office_lead_a"]))
    pids = synthetic_pids(int(tag[:4], 16) + 500, 2)
    for ref, pid in ((f"P-{tag}", pids[0]), (f"Q-{tag}", pids[1])):
        ok(api.command("register_debtor", {"office": world.office_a, "debtor": ref, "kind": "person",
                                           "jurisdiction": "NO", "national_id": pid}, t["caseworker_a"]))  # fmt: skip
    billing_a2 = api.token(role="billing_system", municipality=creditor_a2)
    invoices = {name: f"{name}-{tag}" for name in ("P1", "P2", "P3", "Q1")}
    for name, creditor, billing, debtor, amount in (
        ("P1", world.creditor_a, t["billing_a"], f"P-{tag}", "2400.00"),
        ("P2", creditor_a2, billing_a2, f"P-{tag}", "850.00"),
        ("P3", world.creditor_a, t["billing_a"], f"P-{tag}", "600.00"),
        ("Q1", world.creditor_a, t["billing_a"], f"Q-{tag}", "990.00"),
    ):
        ok(api.command("issue_invoice", {"creditor": creditor, "invoice": invoices[name], "amount": amount,
                                         "due": "2025-02-10", "claim_type": "barnehage", "debtor": debtor},
                       billing))  # fmt: skip
    ok(api.command("file_complaint", {"creditor": world.creditor_a, "invoice": invoices["P3"]}, t["caseworker_a"]))
    ok(api.command("register_objection", {"creditor": world.creditor_a, "invoice": invoices["Q1"],
                                          "text": "self-service"}, t["caseworker_a"]))  # fmt: skip
    letterheads = api.config.letterheads
    for creditor in (world.creditor_a, creditor_a2):
        letterheads.add_creditor(creditor, "vest-finnmark", _date(2020, 1, 1), account="15030012345")
    api.catch_up()
    logins = {
        "debtor": ("residents", "per", {"pid": pids[0]}),
        "other_debtor": ("residents", "kari", {"pid": pids[1]}),
        "caseworker": ("staff", "ola", {"roles": ["caseworker"], "office": world.office_a}),
        "other_caseworker": ("staff", "nils", {"roles": ["caseworker"], "office": world.office_b}),
        "office_lead": ("staff", "leder", {"roles": ["office_lead"], "office": world.office_a}),
        "board": ("staff", "nemnd", {"roles": ["complaints_board"]}),
        "auditor": ("staff", "revisor", {"roles": ["auditor"]}),
        "no_role": ("staff", "gjest", {}),
    }
    return PagesWorld(world.office_a, world.creditor_a, creditor_a2, pids[0], pids[1], invoices, logins)
