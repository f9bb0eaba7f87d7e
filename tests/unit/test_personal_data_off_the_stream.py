"""No personal data on the stream (issue 16 point 7, ADR 0023): what a person writes — a write-down's or credit
note's reason, a refund's, an objection — reaches the wire as a code or a keyed digest, never as text; every
other string on the wire is an identifier or a code the domain produces."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from uuid import UUID

import pytest

from consumers.wire.codec import SchemaStore, encode
from consumers.wire.envelope import Kind, PartyIndex, domain_values, event_record, event_types
from consumers.wire.schemagen import SCHEMAS_DIR
from domain.application import CollectionApp
from domain.errors import CommandRefused
from domain.inputs import NOTE, REASON_CODES, reason_code
from domain.notes import ERASED, MemoryNotes, note_ref
from tests.support.personal_text import FREE_KINDS, PERSONAL, personal_log, telltales_in

STORE = SchemaStore.from_directory(SCHEMAS_DIR)
IDENTIFIERS_AND_CODES = frozenset(
    {
        "accounts", "approved_by", "channel", "channel_reason", "check_digit", "claim_type", "command_id",
        "cost_basis", "creditors", "debtor_kind", "designation", "digest", "exported_by", "fee_reason",
        "file_digest", "file_format", "format_version", "ground", "imported_by", "interest_rates", "invoice",
        "item", "jurisdiction", "kid", "kid_algorithm", "kind", "legal_basis", "letter_invoices",
        "limitation_basis", "message_id", "name", "notice", "number", "office", "opaque_id", "outcome",
        "payee_key", "ref", "reference", "rejected_by", "request_invoices", "requested_by", "route", "service",
        "source", "stage", "transaction", "warnings",
    }
)  # fmt: skip
"""Strings on the wire that are no free text: numbers and references (checked by ``domain.inputs`` as
identifiers: no spaces around, at most 64 characters), the domain's own codes and its own explanations (legal
basis, fee reason), staff and system names, the municipality's name. A new string attribute fails the test
below until it is classified here or travels as a code (``Kind.REASON``) or a digest (``Kind.FREE_TEXT``)."""


def test_every_string_on_the_wire_is_an_identifier_a_code_or_a_digest() -> None:
    unclassified = {
        f"{name}.{spec.attribute}"
        for name, event_type in event_types().items()
        for spec in event_type.fields
        if spec.kind in (Kind.STRING, Kind.STRINGS) and spec.attribute not in IDENTIFIERS_AND_CODES
    }
    assert unclassified == set()


def test_every_event_type_with_personal_text_in_its_free_text_fields_encodes_without_it() -> None:
    parties = PartyIndex()
    seen, free = set(), 0
    for position, event in personal_log():
        parties.learn(event)
        name, record = event_record(event, position=position, parties=parties)
        payload = encode(record, STORE.latest(name))
        assert telltales_in(payload) == [], f"{name} carries personal text on the wire"
        seen.add(record["event_type"])
        free += sum(1 for s in event_types()[record["event_type"]].fields if s.kind in FREE_KINDS)
    assert seen == set(event_types())
    assert free >= 11  # the reasons of six event types, the objection's text and four payers' references


def test_a_reason_travels_as_its_code_and_a_written_one_as_note() -> None:
    assert {reason_code(code) for code in REASON_CODES} == set(REASON_CODES)
    assert reason_code(PERSONAL) == NOTE
    assert reason_code("uneconomic") == "uneconomic"


def _one_invoice(app: CollectionApp, on: date) -> UUID:
    """Alta, one debtor, invoice 1 of 500.00: its case id."""
    app.register_creditor(creditor="4601", name="Alta", jurisdiction="NO", on=on, command_id="c")
    app.register_debtor(office="4601", ref="D1", kind="person", jurisdiction="NO", on=on, command_id="d")
    return app.issue_invoice(
        creditor="4601", invoice="1", amount=Decimal("500.00"), due=date(2025, 1, 20), claim_type="other",
        debtor_ref="D1", on=on, command_id="i",
    )  # fmt: skip


def test_the_reason_a_person_wrote_is_a_note_apart_from_the_events_for_those_who_may_read_it() -> None:
    notes = MemoryNotes()
    app = CollectionApp(notes=notes)
    on = date(2025, 1, 2)
    case = _one_invoice(app, on)
    app.credit_invoice(creditor="4601", invoice="1", amount=Decimal("10.00"), on=on, command_id="cr")
    app.write_down(creditor="4601", invoice="1", reason=PERSONAL, on=date(2025, 3, 1), command_id="wd")

    assert app.reason_notes(case) == {"wd": PERSONAL}  # "credit note" is a code: no note
    stored = b"".join(n.state for n in app.recorder.select_notifications(start=1, limit=100))
    assert telltales_in(stored) == []  # the event store holds the code and the reference only (ADR 0028)
    debtor = app.claim_by_id(case).debtor_id
    assert notes.read(debtor, [note_ref(case, "wd")]) == {note_ref(case, "wd"): PERSONAL}
    parties = PartyIndex()
    for n in app.recorder.select_notifications(start=1, limit=100):
        event = app.mapper.to_domain_event(n)
        parties.learn(event)
        name, record = event_record(event, position=n.id, parties=parties)
        if record["event_type"] == "ClaimWrittenDownInAccounts":
            assert record["reason"] == NOTE and domain_values(record)["reason"] == NOTE
        assert telltales_in(encode(record, STORE.latest(name))) == []


def test_an_erased_debtor_s_notes_read_as_erased_and_refunds_show_their_note() -> None:
    notes = MemoryNotes()
    app = CollectionApp(notes=notes)
    on = date(2025, 1, 2)
    case = _one_invoice(app, on)
    app.register_payment(creditor="4601", invoice="1", amount=Decimal("600.00"), on=on, command_id="p")
    refund = app.request_refund(creditor="4601", invoice="1", on=on, command_id="r", by="saksbehandler",
                                payee_key="payer:1", reason=PERSONAL)  # fmt: skip
    app.reject_refund(refund=refund, by="leder", reason=PERSONAL + " again", on=on, command_id="rj")
    assert app.refund_reason(app.refund(refund)) == PERSONAL
    stored = b"".join(n.state for n in app.recorder.select_notifications(start=1, limit=100))
    assert telltales_in(stored) == []
    other = app.issue_invoice(
        creditor="4601", invoice="2", amount=Decimal("500.00"), due=date(2025, 1, 20), claim_type="other",
        debtor_ref="D1", on=on, command_id="i2",
    )  # fmt: skip
    app.write_down(creditor="4601", invoice="2", reason=PERSONAL, on=date(2025, 3, 1), command_id="wd")
    assert app.reason_notes(other) == {"wd": PERSONAL}
    notes.erase(app.claim_by_id(case).debtor_id)
    assert app.reason_notes(other) == {"wd": ERASED}
    assert app.refund_reason(app.refund(refund)) == ERASED


def test_an_empty_reason_is_still_refused_and_stores_nothing() -> None:
    app = CollectionApp()
    on = date(2025, 1, 2)
    _one_invoice(app, on)
    before = app.recorder.max_notification_id()
    with pytest.raises(CommandRefused, match="reason"):
        app.write_down(creditor="4601", invoice="1", reason="  ", on=date(2025, 3, 1), command_id="wd")
    assert app.recorder.max_notification_id() == before
