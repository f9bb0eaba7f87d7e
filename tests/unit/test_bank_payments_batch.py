"""A bank file's transactions handed to the domain a batch at a time (``CollectionApp.receive_bank_payments``):
each is the ``receive_bank_payment`` command it would be alone — the same events, the same command log entry
(name and digest), the same duplicates, suspense, surplus refunds and refusals — and a refused batch stores
nothing."""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.application import CollectionApp
from domain.bank_payments import BankPayment, IncomingPayment
from domain.claim import claim_id
from domain.command_log import canonical, digest_of
from domain.errors import CommandRefused, ErrorCode
from domain.refunds import refund_id
from domain.suspense import suspense_id

CREDITOR = "4601"
DIGEST = "ab" * 32
ON = date(2025, 3, 20)


def desk() -> CollectionApp:
    app = CollectionApp()
    app.register_creditor(creditor=CREDITOR, name="T", jurisdiction="NO", on=date(2025, 1, 1), command_id="c")
    app.register_debtor(office=CREDITOR, ref="D1", kind="person", jurisdiction="NO", on=date(2025, 1, 1),
                        command_id="d")  # fmt: skip
    for invoice, kid in (("A", "12344"), ("B", "56782")):
        app.issue_invoice(creditor=CREDITOR, invoice=invoice, amount=Decimal("1000.00"), due=date(2025, 3, 3),
                          claim_type="barnehage", debtor_ref="D1", on=date(2025, 2, 1), command_id=f"i{invoice}",
                          kid=kid)  # fmt: skip
    return app


def pay(reference: str, amount: str, tx: str, *, structured: bool = True, ordered: date = ON) -> IncomingPayment:
    return IncomingPayment(CREDITOR, reference, structured, Decimal(amount), ordered, tx)


FILE = [
    pay("12344", "400.00", "ocr:1:1", ordered=date(2025, 3, 3)),
    pay("56782", "250.00", "ocr:1:2", ordered=date(2025, 3, 10)),
    pay("99999999", "50.00", "ocr:1:3"),  # a valid MOD10 reference no claim carries: suspense
    pay("12344", "700.00", "ocr:1:4", ordered=date(2025, 3, 12)),  # beyond A's balance: a surplus refund
    pay("Faktura 12344", "30.00", "ocr:1:5", structured=False),  # unstructured: suspense
    pay("56782", "20.00", "ocr:1:6", ordered=date(2023, 1, 2)),  # B refuses an order long before it: suspense
]


def batch(app: CollectionApp, payments: list[IncomingPayment]) -> list[BankPayment]:
    return app.receive_bank_payments(payments, on=ON, file_digest=DIGEST, file_format="ocr", refund_by="import")


def one_by_one(app: CollectionApp, payments: list[IncomingPayment]) -> list[BankPayment]:
    return [
        app.receive_bank_payment(
            creditor=p.creditor,
            reference=p.reference,
            structured=p.structured,
            amount=p.amount,
            ordered=p.ordered,
            on=ON,
            transaction_id=p.transaction_id,
            file_digest=DIGEST,
            file_format="ocr",
            refund_by="import",
        )  # fmt: skip
        for p in payments
    ]


def history(app: CollectionApp) -> dict[UUID, list[tuple[str, dict[str, Any]]]]:
    """Every event of the claims, the suspense account and the refunds, without the time it was made."""
    idents = [claim_id(app.namespace, CREDITOR, i) for i in ("A", "B")] + [suspense_id(app.namespace, CREDITOR)]
    idents += [refund_id(app.namespace, CREDITOR, f"ocr:1:{n}/refund") for n in range(1, 7)]
    return {
        ident: [(type(e).__name__, {k: v for k, v in vars(e).items() if k != "timestamp"}) for e in events]
        for ident in idents
        if (events := list(app.events.get(ident)))
    }


def logged(app: CollectionApp, tx: str) -> tuple[str, str] | None:
    entry = app.command_log.find_command(str(app.namespace), f"creditor:{CREDITOR}", tx)
    return None if entry is None else (entry.name, entry.digest)


def test_a_batch_records_the_same_events_and_command_log_as_the_transactions_one_by_one() -> None:
    alone, together = desk(), desk()
    assert one_by_one(alone, FILE) == batch(together, FILE)
    assert history(together) == history(alone)
    for p in FILE:
        assert logged(together, p.transaction_id) == logged(alone, p.transaction_id) != None  # noqa: E711
        assert logged(together, p.transaction_id)[0] == "receive_bank_payment"  # type: ignore[index]


_TIMESTAMP = re.compile(rb'"timestamp":\{[^}]*\},?')


def stored(app: CollectionApp) -> list[tuple[str, int, str, bytes]]:
    """Every stored event — id, version, topic and state as stored, without the time it was made — in id-version
    order (the order a batch saves its aggregates in is not the order of the transactions)."""
    return sorted(
        (str(n.originator_id), n.originator_version, n.topic, _TIMESTAMP.sub(b"", n.state))
        for n in app.recorder.select_notifications(start=1, limit=10**6)
    )


def test_a_batch_stores_byte_for_byte_the_events_the_transactions_store_one_by_one() -> None:
    # matched (twice on A: the second settles from the batch's cursor, alone from the store), a surplus and its
    # refund, suspense by reference, unstructured and refused, and the same transactions again (duplicates)
    file = [*FILE, FILE[0], FILE[2], FILE[4]]
    alone, together = desk(), desk()
    assert [x.outcome for x in one_by_one(alone, file)] == [x.outcome for x in batch(together, file)]
    assert {x.outcome for x in batch(together, FILE)} == {"duplicate"}
    assert stored(together) == stored(alone)
    assert {topic.rsplit(":", 1)[1] for _, _, topic, _ in stored(together)} >= {
        "Claim.PaymentRegistered", "Claim.LimitationInterrupted", "Claim.RefundRequested", "Refund.Requested",
        "Suspense.Opened", "Suspense.PaymentReceived",
    }  # fmt: skip


def test_a_digest_is_the_hmac_of_its_own_key_whichever_key_came_before() -> None:
    for key in (b"a" * 32, b"b" * 16, b"a" * 32):
        assert digest_of(key, b'["x",{}]') == hmac.new(key, b'["x",{}]', hashlib.sha256).hexdigest()


def test_the_outcomes_match_suspend_and_refund_as_the_single_command_does() -> None:
    app = desk()
    landed = batch(app, FILE)
    assert [x.outcome for x in landed] == ["matched", "matched", "unmatched", "matched", "unmatched", "unmatched"]
    assert landed[3].invoice == "A" and Decimal("0") < landed[3].surplus < Decimal("100.00")  # interest ran
    assert landed[3].refund == refund_id(app.namespace, CREDITOR, "ocr:1:4/refund")
    assert "refused the payment" in (landed[5].reason or "")
    account = app.suspense(CREDITOR)
    assert account is not None
    assert sorted(i.amount for i in account.open_items()) == [Decimal("20.00"), Decimal("30.00"), Decimal("50.00")]


def test_a_batch_again_and_its_transactions_alone_again_change_nothing() -> None:
    app = desk()
    batch(app, FILE)
    before = app.recorder.max_notification_id()
    assert {x.outcome for x in batch(app, FILE)} == {"duplicate"}
    assert {x.outcome for x in one_by_one(app, FILE)} == {"duplicate"}
    assert app.recorder.max_notification_id() == before


def test_transactions_registered_alone_are_duplicates_in_a_later_batch() -> None:
    app = desk()
    one_by_one(app, FILE[:3])
    landed = batch(app, FILE)
    assert [x.outcome for x in landed[:3]] == ["duplicate"] * 3
    assert [x.outcome for x in landed[3:]] == ["matched", "unmatched", "unmatched"]


def test_the_same_transaction_twice_in_one_batch_lands_once() -> None:
    app = desk()
    landed = batch(app, [FILE[0], FILE[2], FILE[0], FILE[2]])
    assert [x.outcome for x in landed] == ["matched", "unmatched", "duplicate", "duplicate"]
    assert len(app.claim(CREDITOR, "A").facts.payments) == 1
    account = app.suspense(CREDITOR)
    assert account is not None and len(account.open_items()) == 1


def test_other_content_under_a_transaction_id_in_the_same_batch_refuses_the_whole_batch() -> None:
    app = desk()
    before = app.recorder.max_notification_id()
    changed = pay("12344", "401.00", "ocr:1:1", ordered=date(2025, 3, 3))
    with pytest.raises(CommandRefused, match="used before") as refused:
        batch(app, [FILE[0], FILE[1], changed])
    assert refused.value.code is ErrorCode.INVALID_INPUT
    assert app.recorder.max_notification_id() == before
    assert logged(app, "ocr:1:1") is None


def test_other_content_under_an_id_of_an_earlier_batch_is_refused() -> None:
    app = desk()
    batch(app, FILE[:1])
    with pytest.raises(CommandRefused, match="used before"):
        batch(app, [pay("12344", "401.00", "ocr:1:1", ordered=date(2025, 3, 3))])


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        (pay("12344", "-1.00", "ocr:9:1"), "amount"),
        (pay("12344", "1.001", "ocr:9:1"), "amount"),
        (pay("12344", "10.00", ""), "transaction_id"),
        (pay("12344\x00", "10.00", "ocr:9:1"), "reference"),
        (pay("12344", "10.00", "ocr:9:1", ordered=date(1899, 12, 31)), "ordered"),  # its reference passed before
        (IncomingPayment("46O1", "12344", True, Decimal("10.00"), ON, "ocr:9:1"), "creditor"),
    ],
)
def test_an_argument_the_edge_refuses_refuses_the_whole_batch_and_stores_nothing(
    bad: IncomingPayment, field: str
) -> None:
    app = desk()
    before = app.recorder.max_notification_id()
    with pytest.raises(CommandRefused) as refused:
        batch(app, [FILE[0], bad])
    assert refused.value.code is ErrorCode.INVALID_INPUT
    alone = desk()
    with pytest.raises(CommandRefused) as single:
        one_by_one(alone, [bad])
    assert refused.value.message == single.value.message  # the same refusal as the single command's
    assert app.recorder.max_notification_id() == before
    assert logged(app, "ocr:1:1") is None


def test_what_the_batch_shares_is_checked_at_the_edge_too() -> None:
    app = desk()
    with pytest.raises(CommandRefused) as refused:
        app.receive_bank_payments(FILE, on=ON, file_digest=DIGEST, file_format="ocr", refund_by="\x00")
    assert refused.value.code is ErrorCode.INVALID_INPUT


def test_an_empty_batch_stores_nothing() -> None:
    app = desk()
    before = app.recorder.max_notification_id()
    assert batch(app, []) == []
    assert app.recorder.max_notification_id() == before


@given(
    creditor=st.text(max_size=6),
    reference=st.text(max_size=40),
    structured=st.booleans(),
    amount=st.decimals(allow_nan=False, allow_infinity=False, places=2, max_value=10**12, min_value=-(10**12)),
    ordered=st.dates(),
)
def test_a_transactions_canonical_form_written_straight_is_the_command_logs(
    creditor: str, reference: str, structured: bool, amount: Decimal, ordered: date
) -> None:
    p = IncomingPayment(creditor, reference, structured, amount, ordered, "ocr:1:1")
    assert p.canonical() == canonical("receive_bank_payment", p.content())
