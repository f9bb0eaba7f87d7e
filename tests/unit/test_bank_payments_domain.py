"""Money from a bank file in the domain: matched by KID or held in suspense, each transaction id once; a
surplus goes to the refund worklist; a refund is approved by a second person and paid out once."""

from __future__ import annotations

import dataclasses
import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from domain.application import CollectionApp
from domain.bank_files import BankFile, bank_file_id
from domain.errors import CommandRefused, ErrorCode
from domain.refunds import RefundSource, RefundState, refund_id, refund_id_of, refund_number

CREDITOR = "4601"
DIGEST = "cd" * 32
ON = date(2025, 3, 20)


def desk(app: CollectionApp | None = None) -> CollectionApp:
    app = app if app is not None else CollectionApp()
    app.register_creditor(creditor=CREDITOR, name="T", jurisdiction="NO", on=date(2025, 1, 1), command_id="c")
    app.register_debtor(office=CREDITOR, ref="D1", kind="person", jurisdiction="NO", on=date(2025, 1, 1),
                        command_id="d")  # fmt: skip
    app.issue_invoice(creditor=CREDITOR, invoice="A", amount=Decimal("1000.00"), due=date(2025, 3, 3),
                      claim_type="barnehage", debtor_ref="D1", on=date(2025, 2, 1), command_id="i",
                      kid="12344")  # fmt: skip
    return app


def bank(app: CollectionApp, reference: str, amount: str, tx: str, *, structured: bool = True, ordered: date = ON):
    return app.receive_bank_payment(
        creditor=CREDITOR, reference=reference, structured=structured, amount=Decimal(amount), ordered=ordered,
        on=ON, transaction_id=tx, file_digest=DIGEST, file_format="ocr", refund_by="import",
    )  # fmt: skip


def test_a_transaction_matched_by_kid_is_a_payment_carrying_the_file_it_came_in() -> None:
    app = desk()
    landed = bank(app, "12344", "400.00", "ocr:1:1", ordered=date(2025, 3, 3))
    assert (landed.outcome, landed.invoice, landed.surplus) == ("matched", "A", Decimal("0.00"))
    claim = app.claim(CREDITOR, "A")
    event = [e for e in app.events.get(claim.id) if type(e).__name__ == "PaymentRegistered"][-1]
    assert (event.source, event.reference, event.ordered) == ("reference", "12344", date(2025, 3, 3))
    assert (event.file_digest, event.file_format, event.transaction, event.command_id) == (
        DIGEST, "ocr", "ocr:1:1", "ocr:1:1",
    )  # fmt: skip


def test_the_same_transaction_twice_changes_nothing_and_is_a_duplicate() -> None:
    app = desk()
    bank(app, "12344", "400.00", "ocr:1:1")
    bank(app, "99999999", "50.00", "ocr:1:2")
    before = app.recorder.max_notification_id()
    assert bank(app, "12344", "400.00", "ocr:1:1").outcome == "duplicate"
    assert bank(app, "99999999", "50.00", "ocr:1:2").outcome == "duplicate"
    assert app.recorder.max_notification_id() == before


def test_a_transaction_held_in_suspense_stays_a_duplicate_after_a_claim_takes_its_kid() -> None:
    """Re-importing a file must not register money twice when the reference has found a claim since."""
    app = desk()
    assert bank(app, "56782", "75.00", "ocr:1:3").outcome == "unmatched"  # 56782: valid MOD10, no claim yet
    app.issue_invoice(creditor=CREDITOR, invoice="B", amount=Decimal("75.00"), due=date(2025, 4, 1),
                      claim_type="sfo", debtor_ref="D1", on=ON, command_id="i2", kid="56782")  # fmt: skip
    assert bank(app, "56782", "75.00", "ocr:1:3").outcome == "duplicate"
    assert app.claim(CREDITOR, "B").facts.payments == []


@pytest.mark.parametrize(
    ("reference", "structured", "why"),
    [("12340", True, "12340"), ("Faktura 12344", False, "no structured reference"), ("", False, "no structured")],
)
def test_a_reference_that_names_no_claim_goes_to_suspense_with_the_file(
    reference: str, structured: bool, why: str
) -> None:
    app = desk()
    landed = bank(app, reference, "80.00", "ocr:1:4", structured=structured)
    assert landed.outcome == "unmatched" and why in (landed.reason or "")
    account = app.suspense(CREDITOR)
    assert account is not None
    [item] = account.open_items()
    assert (item.reference, item.amount, item.file_digest) == (reference or "(none)", Decimal("80.00"), DIGEST)
    event = [e for e in app.events.get(account.id) if type(e).__name__ == "PaymentReceived"][-1]
    assert (event.file_format, event.transaction) == ("ocr", "ocr:1:4")


def test_more_than_the_balance_settles_the_claim_and_requests_a_refund_of_the_surplus() -> None:
    app = desk()
    landed = bank(app, "12344", "1100.00", "ocr:1:5", ordered=date(2025, 3, 3))
    assert landed.outcome == "matched" and landed.surplus == Decimal("100.00")
    claim = app.claim(CREDITOR, "A")
    assert claim.account.balance() == 0 and claim.account.surplus == Decimal("100.00")
    assert claim.surplus_to_refund == 0  # all of it reserved for the refund
    assert landed.refund == refund_id(app.namespace, CREDITOR, "ocr:1:5/refund")
    refund = app.refund(landed.refund)
    assert (refund.source, refund.amount, refund.invoice, refund.state) == (
        RefundSource.SURPLUS, Decimal("100.00"), "A", RefundState.REQUESTED,
    )  # fmt: skip
    assert (refund.requested_by, refund.payee_key) == ("import", "transaction:ocr:1:5")


def test_a_refund_needs_a_second_person_to_approve_it() -> None:
    app = desk()
    landed = bank(app, "12344", "1100.00", "ocr:1:5", ordered=date(2025, 3, 3))
    assert landed.refund is not None
    with pytest.raises(CommandRefused, match="four eyes") as refused:
        app.approve_refund(refund=landed.refund, by="import", on=ON, command_id="a1")
    assert refused.value.code is ErrorCode.INVALID_INPUT
    app.approve_refund(refund=landed.refund, by="lead", on=ON, command_id="a2")
    assert app.refund(landed.refund).approved_by == "lead"


def test_paying_out_in_one_file_twice_pays_once_and_another_file_is_refused() -> None:
    app = desk()
    landed = bank(app, "12344", "1100.00", "ocr:1:5", ordered=date(2025, 3, 3))
    assert landed.refund is not None
    with pytest.raises(CommandRefused, match="not approved"):
        app.pay_out_refunds(refunds=[landed.refund], message_id="M1", execution_date=ON, by="lead", on=ON)
    app.approve_refund(refund=landed.refund, by="lead", on=ON, command_id="a")
    assert app.pay_out_refunds(refunds=[landed.refund], message_id="M1", execution_date=ON, by="lead", on=ON) == [
        landed.refund
    ]
    assert app.pay_out_refunds(refunds=[landed.refund], message_id="M1", execution_date=ON, by="lead", on=ON) == []
    with pytest.raises(CommandRefused, match="was paid out in file M1"):
        app.pay_out_refunds(refunds=[landed.refund], message_id="M2", execution_date=ON, by="lead", on=ON)
    claim = app.claim(CREDITOR, "A")
    assert claim.surplus_refunded == Decimal("100.00") and claim.account.surplus == Decimal("100.00")
    assert app.refund(landed.refund).state is RefundState.PAID_OUT


def test_suspense_that_belongs_to_no_claim_is_refunded_whole_and_cannot_be_placed_meanwhile() -> None:
    app = desk()
    bank(app, "99999999", "50.00", "ocr:1:6")
    ident = app.request_refund(creditor=CREDITOR, on=ON, command_id="r", by="kari", payee_key="transaction:ocr:1:6",
                               reference="99999999")  # fmt: skip
    with pytest.raises(CommandRefused, match="no unallocated payment"):
        app.allocate_suspense(creditor=CREDITOR, reference="99999999", invoice="A", on=ON, command_id="x")
    app.reject_refund(refund=ident, by="lead", reason="wrong person", on=ON, command_id="no")
    account = app.suspense(CREDITOR)
    assert account is not None and account.oldest_open("99999999") is not None  # open again
    again = app.request_refund(creditor=CREDITOR, on=ON, command_id="r2", by="kari", payee_key="k",
                               reference="99999999")  # fmt: skip
    app.approve_refund(refund=again, by="lead", on=ON, command_id="ok")
    app.pay_out_refunds(refunds=[again], message_id="M1", execution_date=ON, by="lead", on=ON)
    account = app.suspense(CREDITOR)
    assert account is not None and account.open_items() == []


def test_a_surplus_cannot_be_refunded_beyond_what_is_left() -> None:
    app = desk()
    app.register_payment(creditor=CREDITOR, invoice="A", amount=Decimal("1030.00"), on=ON, ordered=date(2025, 3, 3),
                         command_id="p")  # fmt: skip
    with pytest.raises(CommandRefused, match="30.00 of surplus left"):
        app.request_refund(creditor=CREDITOR, invoice="A", amount=Decimal("31.00"), on=ON, command_id="r", by="k",
                           payee_key="given:r")  # fmt: skip
    app.request_refund(creditor=CREDITOR, invoice="A", on=ON, command_id="r", by="k", payee_key="given:r")
    assert app.claim(CREDITOR, "A").surplus_to_refund == 0
    with pytest.raises(CommandRefused, match="no surplus left"):
        app.request_refund(creditor=CREDITOR, invoice="A", on=ON, command_id="r2", by="k", payee_key="given:r")


def test_a_refund_number_names_its_refund() -> None:
    ident = refund_id(CollectionApp().namespace, CREDITOR, "x")
    number = refund_number(ident)
    assert len(number) <= 35 and refund_id_of(number) == ident and refund_id_of(str(ident)) == ident
    with pytest.raises(CommandRefused):
        refund_id_of("RF-123")


def test_a_bank_file_checkpoints_its_batches_and_completes_only_when_the_total_is_accounted_for() -> None:
    app = desk()
    f = BankFile.open(
        id=bank_file_id(app.namespace, DIGEST), on=ON, digest=DIGEST, file_format="ocr", format_version="",
        accounts=["1"], creditors=[CREDITOR], currency="NOK", transactions=3, total=Decimal("30.00"), size=1,
        imported_by="import",
    )  # fmt: skip
    amounts = {"matched": Decimal("20.00"), "unmatched": Decimal("0.00"), "duplicates": Decimal("0.00")}
    f.register_batch(on=ON, first=0, counts={"matched": 2, "unmatched": 0, "duplicates": 0}, amounts=amounts,
                     surplus=Decimal(0))  # fmt: skip
    with pytest.raises(CommandRefused, match="2 of the file's 3"):
        f.complete_import(on=ON)
    with pytest.raises(CommandRefused, match="starts at transaction 0, but 2 are done"):
        f.register_batch(on=ON, first=0, counts={"matched": 1, "unmatched": 0, "duplicates": 0}, amounts=amounts,
                         surplus=Decimal(0))  # fmt: skip
    rest = {**amounts, "matched": Decimal(0), "unmatched": Decimal("10.00")}
    f.register_batch(on=ON, first=2, counts={"matched": 0, "unmatched": 1, "duplicates": 0}, amounts=rest,
                     surplus=Decimal(0))  # fmt: skip
    f.complete_import(on=ON)
    app.save(f)
    stored = app.bank_file(DIGEST)
    assert stored is not None and stored.complete and stored.counts == {"matched": 2, "unmatched": 1, "duplicates": 0}


def test_a_version_1_suspense_receipt_and_a_version_2_payment_load_with_no_file() -> None:
    app = desk()
    bank(app, "12344", "400.00", "ocr:1:1")
    bank(app, "99999999", "50.00", "ocr:1:2")
    for aggregate, name, version in (
        (app.claim(CREDITOR, "A").id, "PaymentRegistered", 3),
        (app.suspense(CREDITOR).id, "PaymentReceived", 2),  # type: ignore[union-attr]
    ):
        event = next(e for e in app.events.get(aggregate) if type(e).__name__ == name)
        stored = app.mapper.to_stored_event(event)
        state = json.loads(stored.state)
        assert state.pop("class_version") == version
        for field in ("file_digest", "file_format", "transaction"):
            del state[field]
        state["class_version"] = version - 1
        loaded = app.mapper.to_domain_event(dataclasses.replace(stored, state=json.dumps(state).encode()))
        assert (loaded.file_digest, loaded.file_format, loaded.transaction) == (None, None, None)


def test_the_refund_worklist_shows_only_the_offices_own_refunds_in_a_shared_store(tmp_path: Path) -> None:
    from uuid import uuid4

    env = {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(tmp_path / "shared.sqlite")}
    offices = []
    for n in range(2):
        app = desk(CollectionApp(env, namespace=uuid4(), office_secret=b"t" * 32))
        landed = bank(app, "12344", f"110{n}.00", "ocr:1:5", ordered=date(2025, 3, 3))
        offices.append((app, landed.refund))
    for app, own in offices:
        assert [r.id for r in app.refunds(CREDITOR)] == [own]
        app.close()
