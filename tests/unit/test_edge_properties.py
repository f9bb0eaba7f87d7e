"""Every command, fed what an attacker or a careless user would type, either refuses with a contract code
and stores nothing, or stores events the publisher encodes and every projection applies (ADR 0023).

Hypothesis picks one of the application's commands (``domain.application.COMMANDS``) and its arguments:
mostly sensible ones against a small office (two creditors, two debtors, three claims, money in suspense,
a refund), each argument now and then swapped for a hostile value — an amount of
99999999999999999999999999.99, NaN or ``1E+3``, an invoice number holding NUL or U+202E, ``2024-02-30``,
a timestamp for a day, the jurisdiction DK, a national id that is none. Then:

* a refusal is ``CommandRefused`` with a contract code (``InvalidKid``, ``InvalidAmount`` and
  ``ParameterError`` are ``invalid_input`` at every edge) and the event store holds exactly what it held;
* an accepted command's new events go through the publisher's path — ``envelope.event_record``, Avro
  ``encode`` with the newest schema, ``decode_current`` back — and every projection (``all_projections``:
  ledger, limitation, audit, parties, letters) applies them to a cursor that holds each parameter to what
  PostgreSQL keeps: text without NUL and encodable as UTF-8, amounts inside ``numeric(16,2)``, integers
  inside ``bigint``.

Anything else escaping is a failure. The counts (refused per code, accepted and encoded) are printed
with ``-s`` and shown by hypothesis's statistics (``--hypothesis-show-statistics``).
"""

from __future__ import annotations

import inspect
from collections import Counter
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import kravsak.wiring  # noqa: F401 - plugs the letters projection in, as the projector runs it
from consumers.projector import Decoder, all_projections
from consumers.wire import envelope
from consumers.wire.codec import SchemaStore, encode
from domain.application import COMMANDS, CollectionApp
from domain.errors import CommandRefused, ErrorCode
from domain.kid import InvalidKid
from domain.money import InvalidAmount
from domain.policy import default_policy
from domain.records import Installment
from domain.rules.parameters import ParameterError
from projections.casefold import CaseFolder

SCHEMAS = SchemaStore.from_directory(Path(__file__).resolve().parents[2] / "schemas")
START = date(2025, 1, 1)
NUMERIC_16_2 = Decimal("100000000000000")
BIGINT = 2**63
COUNTS: Counter[str] = Counter()

# --- hostile values ------------------------------------------------------------------------------------

BAD_AMOUNTS = [
    Decimal("99999999999999999999999999.99"),
    Decimal("100000000000000.00"),
    Decimal("10000000000.00"),
    Decimal("NaN"),
    Decimal("Infinity"),
    Decimal("-Infinity"),
    Decimal("1E+3"),
    Decimal("-5.00"),
    Decimal("0"),
    Decimal("1.001"),
    "100.00",
    100.5,
]
BAD_IDENTIFIERS = ["", " ", "INV\x001", "INV\u202e1", "INV\u2066X", "x" * 65, " INV-1", "INV-1\n", "\ud800", 7]
BAD_KEYS = ["", "c\x00", "k" * 601, "\u202e", 3]
PERSONAL_TEXT = "Ola Nordmann 01017012345 har diabetes og depresjon"
BAD_TEXTS = ["\x00", "a\u202eb", "x" * 4001, "\x1b[31m", 5, PERSONAL_TEXT]
BAD_DAYS = [
    date(1899, 12, 31),
    date(2200, 1, 1),
    date.max,
    datetime(2025, 3, 1, 12, 0),
    "2024-02-30",
    "20250111",
    "2025-03-01",
]


ATTACK = [True]


def hostile(good: st.SearchStrategy[Any], bad: list[Any]) -> st.SearchStrategy[Any]:
    """Mostly ``good``, one time in eight a hostile value (when attacking)."""
    return st.one_of(*[good] * 7, st.sampled_from(bad)) if ATTACK[0] else good


def money(high: str = "3000.00") -> st.SearchStrategy[Any]:
    good = st.integers(1, int(Decimal(high) * 100)).map(lambda c: Decimal(c) / 100)
    return hostile(st.one_of(good, st.just(Decimal("9999999999.99"))), BAD_AMOUNTS)


def day(spread: int = 200) -> st.SearchStrategy[Any]:
    return hostile(st.integers(0, spread).map(lambda d: START + timedelta(days=d)), BAD_DAYS)


def word(*choices: str) -> st.SearchStrategy[Any]:
    return hostile(st.sampled_from(choices), BAD_IDENTIFIERS)


def key() -> st.SearchStrategy[Any]:
    return hostile(st.text("abcdef0123456789-/:", min_size=1, max_size=40), BAD_KEYS)


def text() -> st.SearchStrategy[Any]:
    return hostile(st.sampled_from(["", "other", "credit note", "settled by phone"]), BAD_TEXTS)


CLAIMS = ("INV-1", "INV-1", "INV-2", "SE-1", "NEW-1", "x" * 64)
NOTICES = ("purring", "inkassovarsel", "betalingsoppfordring", "varsel_4_18", "paminnelse", "inkassokrav", "brev")
ROUTES = ("forliksklage", "utleggsbegjaering", "utleggstrekk", "betalningsforelaggande", "verkstallighet", "x")
CREDITORS = ("4601", "4601", "4601", "1465", "4602", "46O1")


def arguments(attack: bool) -> dict[str, dict[str, st.SearchStrategy[Any]]]:
    """The arguments of every command besides ``on`` and ``command_id`` (all commands take those two);
    ``attack``: now and then a hostile value in place of each."""
    ATTACK[0] = attack
    installment = st.builds(Installment, day(400), money("500.00"))
    return {
        "register_creditor": {
            "creditor": word("4602", "4601", "12345", "abcd"),
            "name": hostile(st.sampled_from(["Alta kommune", "Hammerfest"]), BAD_TEXTS),
            "jurisdiction": word("NO", "SE", "DK"),
            "office": word("vf", "4602"),
            "kid_algorithm": word("MOD10", "MOD11", "LUHN"),
            "kid_length": st.integers(-1, 30),
        },
        "change_policy": {
            "creditor": word(*CREDITORS),
            "policy": st.sampled_from([default_policy("NO"), default_policy("SE")]),  # type: ignore[arg-type]
        },
        "register_debtor": {
            "office": word("vf", "1465"),
            "ref": word("D9", "D1", "S1"),
            "kind": word("person", "organisation", "company"),
            "jurisdiction": word("NO", "SE", "DK"),
            "national_id": st.one_of(
                st.none(), word("12345678901", "01017012345", "41017012345", "919300310", "abc"), st.text(max_size=12)
            ),
            "allow_synthetic": st.booleans(),
            "contact": st.one_of(st.none(), st.just({"digital_mailbox": True}), st.just({"fax": True})),
        },
        "register_death": {"office": word("vf", "1465"), "debtor_ref": word("D1", "S1", "D9"), "died": day()},
        "register_proklama": {"office": word("vf", "1465"), "debtor_ref": word("D1", "S1"), "published": day()},
        "issue_invoice": {
            "creditor": word(*CREDITORS),
            "invoice": word(*CLAIMS),
            "amount": money("1000000.00"),
            "due": day(),
            "claim_type": word("other", "barnehage", "va", "x"),
            "debtor_ref": word("D1", "S1", "D9"),
            "arose": st.one_of(st.none(), day()),
            "kid": st.one_of(st.none(), word("12345678903", "000000000000000", "1234")),
        },
        "credit_invoice": {"creditor": word(*CREDITORS), "invoice": word(*CLAIMS), "amount": money(), "reason": text()},
        "register_payment": {
            "creditor": word(*CREDITORS),
            "invoice": word(*CLAIMS),
            "amount": money(),
            "ordered": st.one_of(st.none(), day()),
            "designation": st.one_of(st.none(), word("principal", "interest")),
        },
        "register_payment_by_reference": {
            "creditor": word(*CREDITORS),
            "reference": hostile(st.sampled_from(["REF-1", "4601000000001"]), BAD_TEXTS),
            "amount": money(),
            "ordered": st.one_of(st.none(), day()),
        },
        "receive_bank_payment": {
            "creditor": word(*CREDITORS),
            "reference": hostile(st.sampled_from(["REF-9", "Faktura 12 juni", ""]), BAD_TEXTS),
            "structured": st.booleans(),
            "amount": money(),
            "ordered": day(),
            "transaction_id": key(),
            "file_digest": key(),
            "file_format": word("ocr", "camt054"),
            "refund_by": st.one_of(st.none(), key()),
        },
        "request_refund": {
            "creditor": word(*CREDITORS),
            "by": key(),
            "payee_key": key(),
            "reference": st.one_of(st.none(), hostile(st.just("REF-2"), BAD_TEXTS)),
            "invoice": st.one_of(st.none(), word(*CLAIMS)),
            "amount": st.one_of(st.none(), money()),
            "reason": text(),
        },
        "approve_refund": {"refund": st.just("REFUND"), "by": key()},
        "reject_refund": {"refund": st.just("REFUND"), "by": key(), "reason": text()},
        "pay_out_refunds": {
            "refunds": st.just(["REFUND"]),
            "message_id": key(),
            "execution_date": day(),
            "by": key(),
        },
        "receive_unmatched_payment": {
            "creditor": word(*CREDITORS),
            "reference": hostile(st.sampled_from(["REF-3", "x"]), BAD_TEXTS),
            "amount": money(),
            "ordered": st.one_of(st.none(), day()),
            "source": word("manual", "ocr"),
        },
        "allocate_suspense": {
            "creditor": word(*CREDITORS),
            "reference": word("REF-2", "REF-1"),
            "invoice": word(*CLAIMS),
        },
        "send_notice": {
            "creditor": word(*CREDITORS),
            "invoice": word(*CLAIMS),
            "notice": word(*NOTICES),
            "deadline": st.one_of(st.none(), day(300)),
            "channel": st.one_of(st.none(), word("paper", "digital_mailbox", "sms")),
        },
        "send_combined_notice": {
            "creditor": word(*CREDITORS),
            "invoices": hostile(st.lists(word(*CLAIMS), max_size=3), [[], "INV-1", [1]]),
            "notice": word(*NOTICES),
            "deadline": st.one_of(st.none(), day(300)),
        },
        "request_combined_enforcement": {
            "creditor": word(*CREDITORS),
            "invoices": hostile(st.lists(word(*CLAIMS), max_size=3), [[], "INV-1"]),
            "route": word(*ROUTES),
        },
        "suspend_service": {"creditor": word(*CREDITORS), "invoice": word(*CLAIMS), "service": word("water", "gas")},
        "register_objection": {
            "creditor": word(*CREDITORS),
            "invoice": word(*CLAIMS),
            "received": st.one_of(st.none(), day()),
            "text": text(),
        },
        "resolve_objection": {
            "creditor": word(*CREDITORS),
            "invoice": word(*CLAIMS),
            "outcome": word("upheld", "maintained", "unfounded", "lost"),
            "amount": st.one_of(st.none(), money()),
        },
        "grant_deferral": {"creditor": word(*CREDITORS), "invoice": word(*CLAIMS), "until": day(400)},
        "agree_payment_plan": {
            "creditor": word(*CREDITORS),
            "invoice": word(*CLAIMS),
            "installments": hostile(st.lists(installment, max_size=4), [[1], "x"]),
        },
        "request_enforcement": {"creditor": word(*CREDITORS), "invoice": word(*CLAIMS), "route": word(*ROUTES)},
        "register_judgment": {
            "creditor": word(*CREDITORS),
            "invoice": word(*CLAIMS),
            "decided": st.one_of(st.none(), day()),
            "served": st.one_of(st.none(), day()),
        },
        "apply_reinstatement": {"creditor": word(*CREDITORS), "invoice": word(*CLAIMS)},
        "report_to_estate": {"creditor": word(*CREDITORS), "invoice": word(*CLAIMS)},
        "write_off": {
            "creditor": word(*CREDITORS),
            "invoice": word(*CLAIMS),
            "reason": word("other", "uneconomic", "deceased", "because"),
        },
        "write_down": {
            "creditor": word(*CREDITORS),
            "invoice": word(*CLAIMS),
            "reason": text(),
            "amount": st.one_of(st.none(), money()),
        },
        "forgive_principal": {
            "creditor": word(*CREDITORS),
            "invoice": word(*CLAIMS),
            "amount": money(),
            "reason": text(),
        },
        "postpone_due": {"creditor": word(*CREDITORS), "invoice": word(*CLAIMS), "until": day()},
        "file_complaint": {
            "creditor": word(*CREDITORS),
            "invoice": word(*CLAIMS),
            "received": st.one_of(st.none(), day()),
        },
        "decide_complaint": {
            "creditor": word(*CREDITORS),
            "invoice": word(*CLAIMS),
            "outcome": word("breach", "no_breach", "maybe"),
        },
        "run_policies": {
            "creditor": word(*CREDITORS),
            "invoices": st.lists(word(*CLAIMS), max_size=3),
            "start": day(100),
            "until": hostile(st.integers(0, 20).map(lambda d: START + timedelta(days=100 + d)), BAD_DAYS[:4]),
        },
    }


ATTACKS = arguments(attack=True)
HOSTILE_ON, HOSTILE_COMMAND_ID = day(), key()
SENSIBLE = arguments(attack=False)
SENSIBLE_ON = st.integers(20, 120).map(lambda d: START + timedelta(days=d))
SENSIBLE_COMMAND_ID = st.text("abcdef0123456789-/:", min_size=1, max_size=40)


def test_every_command_of_the_application_is_exercised() -> None:
    assert set(ATTACKS) == set(SENSIBLE) == set(COMMANDS)


# --- the office the commands meet ----------------------------------------------------------------------


def office() -> tuple[CollectionApp, UUID]:
    app = CollectionApp()
    on = START
    app.register_creditor(creditor="4601", name="Alta", jurisdiction="NO", on=on, command_id="c1", office="vf")
    app.register_creditor(creditor="1465", name="Svenljunga", jurisdiction="SE", on=on, command_id="c2")
    app.register_debtor(office="vf", ref="D1", kind="person", jurisdiction="NO", on=on, command_id="d1")
    app.register_debtor(office="1465", ref="S1", kind="person", jurisdiction="SE", on=on, command_id="d2")
    for creditor, invoice, debtor in (("4601", "INV-1", "D1"), ("4601", "INV-2", "D1"), ("1465", "SE-1", "S1")):
        app.issue_invoice(
            creditor=creditor, invoice=invoice, amount=Decimal("1000.00"), due=date(2025, 1, 20),
            claim_type="other", debtor_ref=debtor, on=on, command_id=f"i-{invoice}",
        )  # fmt: skip
    for reference in ("REF-1", "REF-2"):
        app.receive_unmatched_payment(
            creditor="4601", reference=reference, amount=Decimal("50.00"), on=on, command_id=f"u-{reference}"
        )
    refund = app.request_refund(
        creditor="4601", on=on, command_id="r1", by="alice", payee_key="payer:1", reference="REF-1"
    )
    return app, refund


class PostgresLikeCursor:
    """Takes what a projection writes and holds every parameter to what PostgreSQL would store."""

    def __init__(self) -> None:
        self.statements = 0

    def execute(self, query: Any, params: Any = None, **_: Any) -> PostgresLikeCursor:
        self.statements += 1
        for value in _flat(params):
            _storable(value)
        return self

    def executemany(self, query: Any, rows: Any, **_: Any) -> None:
        for row in rows:
            self.execute(query, row)

    def fetchone(self) -> None:
        return None

    def fetchall(self) -> list[Any]:
        return []


def _flat(params: Any) -> Iterator[Any]:
    if params is None:
        return
    values = params.values() if isinstance(params, dict) else params
    for value in values:
        if isinstance(value, list | tuple):
            yield from _flat(value)
        else:
            yield value


def _storable(value: Any) -> None:
    if isinstance(value, str):
        assert "\x00" not in value, f"text with NUL: {value!r}"
        value.encode("utf-8")  # a lone surrogate raises
    elif isinstance(value, Decimal):
        assert value.is_finite() and abs(value) < NUMERIC_16_2, f"outside numeric(16,2): {value}"
    elif isinstance(value, int) and not isinstance(value, bool):
        assert -BIGINT <= value < BIGINT, f"outside bigint: {value}"


def publish_and_project(app: CollectionApp, start: int, folder: CaseFolder, parties: envelope.PartyIndex) -> int:
    """The events from notification ``start`` on, as the publisher encodes them and the projectors apply them."""
    decode = Decoder(SCHEMAS)
    cursor = PostgresLikeCursor()
    projections = all_projections()
    count = 0
    for n in app.recorder.select_notifications(start=start, limit=10_000):
        domain_event = app.mapper.to_domain_event(n)
        parties.learn(domain_event)
        full_name, record = envelope.event_record(domain_event, position=n.id, parties=parties)
        payload = encode(record, SCHEMAS.latest(full_name))
        projected = decode(payload)
        before, after = folder.advance(projected)
        for projection in projections:
            projection.apply(cursor, projected, f"kravsak_{projection.name}", before, after)  # type: ignore[arg-type]
        count += 1
    return count


def stored(app: CollectionApp) -> int:
    return app.recorder.max_notification_id() or 0


REFUSED_AT_EVERY_EDGE = (InvalidKid, InvalidAmount, ParameterError)
"""Raised below the application and made ``invalid_input`` by every edge (scenario steps, the API)."""


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data(), command=st.sampled_from(sorted(COMMANDS)), attack=st.booleans())
def test_every_command_refuses_with_a_code_or_stores_what_the_wire_and_the_read_models_take(
    data: st.DataObject, command: str, attack: bool
) -> None:
    app, refund = office()
    folder, parties = CaseFolder(), envelope.PartyIndex()
    publish_and_project(app, 1, folder, parties)
    given = data.draw(st.fixed_dictionaries((ATTACKS if attack else SENSIBLE)[command]), label="arguments")
    takes = inspect.signature(getattr(CollectionApp, command)).parameters
    if "on" in takes:
        given["on"] = data.draw(HOSTILE_ON if attack else SENSIBLE_ON, label="on")
    if "command_id" in takes:
        given["command_id"] = data.draw(HOSTILE_COMMAND_ID if attack else SENSIBLE_COMMAND_ID, label="command_id")
    for name, value in list(given.items()):
        if value == "REFUND":
            given[name] = refund
        elif value == ["REFUND"]:
            given[name] = [refund]
    before = stored(app)
    try:
        getattr(app, command)(**given)
    except CommandRefused as refused:
        assert refused.code in ErrorCode
        assert stored(app) == before, f"{command} was refused ({refused}) but stored events"
        COUNTS[f"refused:{refused.code.value}"] += 1
        event(f"refused {refused.code.value}")
        return
    except REFUSED_AT_EVERY_EDGE as refused:
        assert stored(app) == before, f"{command} was refused ({refused}) but stored events"
        COUNTS["refused:invalid_input"] += 1
        event("refused invalid_input")
        return
    encoded = publish_and_project(app, before + 1, folder, parties)
    COUNTS["accepted"] += 1
    COUNTS["events encoded and projected"] += encoded
    event("accepted")


@pytest.fixture(scope="module", autouse=True)
def report_counts() -> Iterator[None]:
    yield
    if COUNTS:
        print("\nedge property test:", dict(sorted(COUNTS.items())))
