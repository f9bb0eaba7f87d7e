"""The demo's people and letters: every simulated debtor gets a synthetic identity in the debtor
register, and at the end of the year a sample of the letters the process manager's notices became is
rendered into the outboxes, so the report can link them.

Identities are synthetic and valid (``personal.synthetic``: Norwegian month + 80, Skatteetaten's test
norm; Swedish impossible month + 20), names and streets fictional. Rendering every letter of the year
(about 0.3 s each) would double the demo's run time, so the demo renders a sample: the letters of the
example dossiers and a few of each kind (`kravsak letters dispatch` renders the rest on demand).
"""

from __future__ import annotations

import random
import time
from collections import Counter
from pathlib import Path
from typing import Any

import psycopg

from kravsak.demo.world import World
from kravsak.settings import Settings, key_provider, office_secret
from letters.outbox import DISPATCH_SCHEMA, LETTERS_SCHEMA, Dispatcher
from personal.model import parse_person
from personal.register import DebtorRegister
from personal.synthetic import national_id

FIRST = {
    "NO": "Kari Ola Ingrid Lars Sigrid Nils Marit Knut Anne Per Siri Jon Randi Odd Aslak Elle".split(),
    "SE": "Anna Erik Maria Lars Karin Anders Eva Johan Sara Per Elin Nils".split(),
}
LAST = {
    "NO": "Nordmann Hansen Johansen Olsen Larsen Andersen Pedersen Nilsen Berg Haugen Eira Somby Bakken".split(),
    "SE": "Andersson Johansson Karlsson Nilsson Eriksson Larsson Olsson Persson Svensson Gustafsson".split(),
}
STREETS = {
    "NO": "Storgata Markveien Fjellveien Elvebakken Sjøgata Skoleveien Kirkegata Nordlysveien".split(),
    "SE": "Storgatan Kyrkogatan Skolgatan Ringvägen Åsvägen Björkvägen Bäckgatan".split(),
}
TOWNS = {"5601": ("9510", "Alta"), "5603": ("9600", "Hammerfest"), "5618": ("9690", "Havøysund"),
         "5620": ("9750", "Honningsvåg"), "1465": ("512 50", "Svenljunga")}  # fmt: skip
COMPANY = {
    "NO": ("Nordkyst Fisk AS", "Alta Bygg AS", "Finnmark Service AS"),
    "SE": ("Svenljunga Trä AB", "Ätran Bygg AB"),
}


def enrol_people(settings: Settings, world: World, *, seed: int) -> int:
    """Put every debtor of the world in the register (the domain side was registered on day one).

    The identities are drawn per run (the run's tag is in the seed): earlier demos' debtors stay in the
    register of the same offices, and one person must not be two debtors of one office."""
    rng = random.Random(f"{seed}-{world.tag}")
    keys = key_provider(settings)
    with psycopg.connect(settings.pg_dsn) as conn:
        register = DebtorRegister(conn, keys, office_secret(settings))
        with conn.transaction():  # one commit for the whole population
            _enrol_all(register, world, rng)
    return len(world.debtors)


def _enrol_all(register: DebtorRegister, world: World, rng: random.Random) -> None:
    drawn: set[str] = set()
    for d in world.debtors:
        number = national_id(rng, jurisdiction=d.jurisdiction, kind=d.kind)
        while number in drawn:
            number = national_id(rng, jurisdiction=d.jurisdiction, kind=d.kind)
        drawn.add(number)
        j = d.jurisdiction
        postcode, city = TOWNS[d.home.number]
        digital = d.contact["digital_mailbox"]
        raw: dict[str, Any] = {
            "national_id": number,
            "kind": d.kind,
            "jurisdiction": j,
            "name": rng.choice(COMPANY[j])
            if d.kind == "organisation"
            else f"{rng.choice(FIRST[j])} {rng.choice(LAST[j])}",
            "address": {
                "lines": [f"{rng.choice(STREETS[j])} {rng.randrange(1, 60)}"],
                "postcode": postcode,
                "city": city,
            },  # fmt: skip
            "mailbox": ("digipost" if j == "NO" else "kivra") if digital else rng.choice(("reserved", "none")),
            "language": "en" if rng.random() < 0.03 else ("nb" if j == "NO" else "sv"),
            "email": f"debtor{rng.randrange(10**6)}@example.org" if d.contact["email"] else None,
            "consents": {k: d.contact[k] for k in ("efaktura_consent", "avtalegiro_consent")},
        }
        person = parse_person(raw, allow_synthetic=True)
        debtor_id = str(world.app.debtor(d.office, d.ref).id)
        register.enrol(debtor_id=debtor_id, office=d.office, ref=d.ref, person=person)


def dispatch_sample(
    settings: Settings, tag: str, folder: Path, case_ids: list[str], per_kind: int = 2
) -> dict[str, Any]:
    """Render the example cases' letters and ``per_kind`` more of each kind into ``folder/outbox``."""
    with psycopg.connect(settings.pg_dsn) as conn:
        register = DebtorRegister(conn, key_provider(settings), office_secret(settings))
        dispatcher = Dispatcher(register.conn, register, folder / "outbox")
        with conn.cursor() as cur:
            cur.execute(
                f"SELECT kind, channel, count(*) FROM {LETTERS_SCHEMA}.letters WHERE invoice LIKE %s GROUP BY 1, 2",
                (f"{tag}-%",),
            )
            counts = [(str(k), str(c), int(n)) for k, c, n in cur.fetchall()]
            cur.execute(
                f"SELECT letter_id FROM (SELECT letter_id, row_number() OVER (PARTITION BY kind ORDER BY sent_on, "
                f"letter_id) AS n FROM {LETTERS_SCHEMA}.letters WHERE invoice LIKE %s) s WHERE n <= %s",
                (f"{tag}-%", per_kind),
            )
            chosen = [str(r[0]) for r in cur.fetchall()]
        conn.commit()
        started = time.monotonic()
        report = dispatcher.dispatch(
            limit=10_000, where="AND (l.case_id = ANY(%s) OR l.letter_id = ANY(%s))", params=(case_ids, chosen)
        )
        seconds = time.monotonic() - started
        with conn.cursor() as cur:
            cur.execute(
                f"SELECT d.letter_id, d.kind, b.folder, d.sha256 FROM {DISPATCH_SCHEMA}.dispatched d JOIN "
                f"{DISPATCH_SCHEMA}.batches b USING (batch_id) WHERE d.letter_id = ANY(%s) OR d.case_id = ANY(%s)",
                (chosen, case_ids),
            )
            files: dict[str, str] = {}
            for letter_id, _kind, batch_folder, _sha in cur.fetchall():
                for pdf in Path(str(batch_folder)).glob(f"*-{str(letter_id)[:8]}.pdf"):
                    files[str(letter_id)] = str(pdf.relative_to(folder))
    by_kind: Counter[str] = Counter()
    by_channel: Counter[str] = Counter()
    for kind, channel, n in counts:
        by_kind[kind] += n
        by_channel[channel] += n
    return {
        "by_kind": dict(by_kind),
        "by_channel": dict(by_channel),
        "rendered": report.dispatched,
        "held": report.held,
        "seconds": round(seconds, 1),
        "ms_per_letter": round(report.per_letter_ms),
        "files": files,
    }
