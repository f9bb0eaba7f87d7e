"""The end of `make demo`: the demo's office served to people (`kravsak serve` on the demo's namespace
and simulated clock) with one login per role printed — a debtor with open claims in two
municipalities, a caseworker and an office lead of the office, a complaints board member and an auditor.

The logins are typed into the local provider's login page (a user name and a JSON object of claims):
the provider is for development only, anyone who reaches it can log in as anyone.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import psycopg
from rich.console import Console
from rich.table import Table

from kravsak.demo.run import DemoRun, Services
from kravsak.demo.world import OFFICE
from kravsak.settings import Settings, key_provider, office_secret
from personal.register import DebtorRegister
from projections.base import schema_name


@dataclass(frozen=True)
class Login:
    role: str
    kind: str  # residents | staff
    username: str
    claims: dict[str, Any]
    note: str = ""


def debtor_in_two_municipalities(settings: Settings, tag: str) -> tuple[str, str, list[str]] | None:
    """(debtor id, national id, municipalities) of a living Norwegian person of the demo with an open claim
    and claims in the most of the office's municipalities (open ones counted first); None if no person has
    an open claim."""
    ledger, parties = schema_name("ledger"), schema_name("parties")
    with psycopg.connect(settings.pg_dsn) as conn:
        row = conn.execute(
            f"""SELECT c.debtor_id, array_agg(DISTINCT c.creditor_id ORDER BY c.creditor_id)
                FROM "{ledger}".claims c JOIN "{parties}".debtors d ON d.debtor_id = c.debtor_id
                WHERE c.invoice LIKE %s AND d.kind = 'person' AND d.jurisdiction = 'NO' AND d.office = %s
                  AND d.died IS NULL
                GROUP BY c.debtor_id
                HAVING count(*) FILTER (WHERE NOT c.settled AND c.write_off_reason IS NULL) > 0
                ORDER BY count(DISTINCT c.creditor_id) FILTER (WHERE NOT c.settled AND c.write_off_reason IS NULL) DESC,
                         count(DISTINCT c.creditor_id) DESC, c.debtor_id LIMIT 1""",
            (f"{tag}-%", OFFICE),
        ).fetchone()
        if row is None:
            return None
        register = DebtorRegister(conn, key_provider(settings), office_secret(settings))
        entry = register.read(str(row[0]), purpose="demo_login")
        return str(row[0]), entry.person.national_id, [str(x) for x in row[1]]


def logins(settings: Settings, run: DemoRun) -> list[Login]:
    staff = [
        Login("caseworker", "staff", "ola.saksbehandler", {"roles": ["caseworker"], "office": OFFICE}),
        Login("office lead", "staff", "kari.leder", {"roles": ["office_lead"], "office": OFFICE}),
        Login("complaints board", "staff", "nemnda", {"roles": ["complaints_board"]}),
        Login("auditor", "staff", "revisor", {"roles": ["auditor"]}),
    ]
    found = debtor_in_two_municipalities(settings, run.tag)
    if found is None:
        return staff
    _debtor_id, pid, municipalities = found
    debtor = Login("debtor", "residents", "per.skyldner", {"pid": pid}, "claims from " + ", ".join(municipalities))
    return [debtor, *staff]


def print_logins(console: Console, url: str, people: list[Login]) -> None:
    table = Table(title=f"the demo's office: {url}  (Ctrl-C stops it)", title_justify="left")
    for column in ("role", "log in at", "user name", "claims (paste into the provider's login page)", "note"):
        table.add_column(column, overflow="fold")
    for p in people:
        table.add_row(p.role, f"{url}/login/{p.kind}", p.username, json.dumps(p.claims), p.note)
    console.print(table)


def serve_demo(settings: Settings, run: DemoRun, console: Console) -> None:
    """Serve the demo's office until Ctrl-C (SIGINT) or SIGTERM, with the publisher and the projector running
    (their logs in the report folder), so what people do on the pages reaches the read models."""
    from kravsak import serve as server
    from kravsak.services import clock_for

    clock = clock_for(settings, "simulated", f"demo-{run.tag}")
    config = server.web_config(settings, namespace=run.namespace, today=clock.today, allow_synthetic_ids=True)
    url = settings.public_url or f"http://{settings.http_host}:{settings.http_port}"
    print_logins(console, url, logins(settings, run))
    services = Services(run.folder)  # the read models follow what people do on the pages
    services.start()
    try:
        server.run(config, settings.http_host, settings.http_port)
    finally:
        services.stop()


__all__ = ["Login", "debtor_in_two_municipalities", "logins", "print_logins", "serve_demo"]
