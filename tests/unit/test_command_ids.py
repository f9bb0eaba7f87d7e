"""Command ids are idempotency keys (ADR 0024): a repeat returns the first result and changes nothing,
another content under the same id is refused naming the id, and a save another writer got to first is
tried again, then refused with ``concurrent_change`` — never a raw database error."""

from __future__ import annotations

import dataclasses
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import uuid4

import pytest
from eventsourcing.persistence import IntegrityError

from domain.application import CollectionApp
from domain.command_log import Expect, ExpectationFailed, MemoryRecorder, content_digest
from domain.errors import CommandRefused, ErrorCode
from domain.parties import Debtor
from domain.policy import NORWEGIAN_DEFAULT

ALTA, HAMMERFEST = "5601", "5603"
DAY = date(2025, 1, 2)


def office() -> CollectionApp:
    app = CollectionApp()
    for creditor, name in ((ALTA, "Alta kommune"), (HAMMERFEST, "Hammerfest kommune")):
        app.register_creditor(
            creditor=creditor, name=name, jurisdiction="NO", on=DAY, command_id=f"c-{creditor}", office="VF"
        )
    app.register_debtor(office="VF", ref="P1", kind="person", jurisdiction="NO", on=DAY, command_id="d-1")
    return app


def invoice(app: CollectionApp, number: str, command_id: str, creditor: str = ALTA, amount: str = "1000.00") -> Any:
    return app.issue_invoice(
        creditor=creditor, invoice=number, amount=Decimal(amount), due=date(2025, 1, 31), claim_type="barnehage",
        debtor_ref="P1", on=DAY, command_id=command_id,
    )  # fmt: skip


def stored(app: CollectionApp) -> int:
    return len(app.recorder.select_notifications(start=1, limit=10_000))


def pay(app: CollectionApp, amount: str, command_id: str = "p-1", **more: Any) -> None:
    """A payment on Alta's invoice 1 (``more``: other arguments, or another ``on``)."""
    given = {"creditor": ALTA, "invoice": "1", "amount": Decimal(amount), "on": date(2025, 2, 1), **more}
    app.register_payment(**given, command_id=command_id)


def test_a_repeated_command_returns_the_first_result_and_changes_nothing() -> None:
    app = office()
    first = invoice(app, "1", "inv-1")
    pay(app, "200.00")
    before = stored(app)

    assert invoice(app, "1", "inv-1") == first
    pay(app, "200.00")
    pay(app, "200.00", on=date(2025, 2, 9))  # sent again a week later: the same command

    assert stored(app) == before
    assert app.claim(ALTA, "1").account.total_paid == Decimal("200.00")


def test_the_same_id_with_other_content_is_refused_naming_the_id_and_stores_nothing() -> None:
    app = office()
    invoice(app, "1", "inv-1")
    pay(app, "200.00")
    before = stored(app)

    attempts = [
        lambda: pay(app, "300.00"),
        lambda: app.send_notice(creditor=ALTA, invoice="1", notice="purring", on=date(2025, 2, 14), command_id="p-1"),
        lambda: invoice(app, "2", "inv-1"),  # another invoice under the first one's id
        lambda: invoice(app, "1", "inv-1", amount="1500.00"),
    ]
    for attempt in attempts:
        with pytest.raises(CommandRefused) as refused:
            attempt()
        assert refused.value.code is ErrorCode.INVALID_INPUT
        assert refused.value.message.startswith("command_id: ")
        assert "'p-1'" in refused.value.message or "'inv-1'" in refused.value.message

    assert stored(app) == before
    assert app.claim(ALTA, "1").account.total_paid == Decimal("200.00")


def test_content_is_compared_normalised() -> None:
    """A default left out or given, ``100.0`` or ``100.00``, the order of a combined letter's invoices: the same."""
    app = office()
    invoice(app, "1", "inv-1")
    pay(app, "100.0")
    pay(app, "100.00", designation=None)
    assert app.claim(ALTA, "1").account.total_paid == Decimal("100.00")
    key = b"k"
    assert content_digest(key, "x", {"a": Decimal("1.10")}) == content_digest(key, "x", {"a": Decimal("1.1")})
    assert content_digest(key, "x", {"a": 1}) != content_digest(b"other key", "x", {"a": 1})
    assert content_digest(key, "x", {"a": frozenset({"2", "1"})}) == content_digest(key, "x", {"a": frozenset("12")})


def test_a_call_the_fast_binding_does_not_cover_is_refused_as_python_refuses_it() -> None:
    """Commands bind keyword arguments without ``inspect`` (ADR 0030); a missing or unknown argument still
    fails as the signature says, before anything is looked up or stored."""
    app = office()
    invoice(app, "1", "inv-1")
    before = stored(app)
    with pytest.raises(TypeError, match="amount"):
        app.register_payment(creditor=ALTA, invoice="1", on=DAY, command_id="p-x")  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="amont"):
        app.register_payment(creditor=ALTA, invoice="1", amount=Decimal(1), amont=1, on=DAY, command_id="p-y")  # type: ignore[call-arg]
    assert stored(app) == before


def test_ids_belong_to_their_sender() -> None:
    """The same id from two creditors' billing systems is two commands; from an office, a third."""
    app = office()
    invoice(app, "1", "batch-7", creditor=ALTA)
    invoice(app, "1", "batch-7", creditor=HAMMERFEST)
    app.register_debtor(office="VF", ref="P2", kind="person", jurisdiction="NO", on=DAY, command_id="batch-7")
    assert app.claim(ALTA, "1").id != app.claim(HAMMERFEST, "1").id
    assert app.debtor("VF", "P2").ref == "P2"


def test_a_repeated_policy_change_does_not_undo_a_later_one() -> None:
    app = office()
    first = dataclasses.replace(NORWEGIAN_DEFAULT, reminder_fee_agreed=True)
    later = dataclasses.replace(NORWEGIAN_DEFAULT, reminder_fee_agreed=False, merge_claims=False)
    app.change_policy(creditor=ALTA, policy=first, on=DAY, command_id="pol-1")
    app.change_policy(creditor=ALTA, policy=later, on=DAY, command_id="pol-2")
    app.change_policy(creditor=ALTA, policy=first, on=DAY, command_id="pol-1")
    assert app.creditor(ALTA).policy == later.as_dict()
    with pytest.raises(CommandRefused, match="pol-1"):
        app.change_policy(creditor=ALTA, policy=later, on=DAY, command_id="pol-1")


def test_inside_a_unit_of_work_a_reused_id_is_refused_and_the_rest_is_saved() -> None:
    app = office()
    with app.unit_of_work():
        invoice(app, "1", "inv-1")
        with pytest.raises(CommandRefused, match="inv-1"):
            invoice(app, "2", "inv-1")
        invoice(app, "3", "inv-3")
    assert [app.claim(ALTA, n).invoice for n in ("1", "3")] == ["1", "3"]
    with pytest.raises(CommandRefused, match="unknown_invoice"):
        app.claim(ALTA, "2")
    with pytest.raises(CommandRefused, match="inv-1"):
        invoice(app, "2", "inv-1")  # and after the batch's save, from the store


def test_invoices_do_not_write_the_debtor_yet_a_death_reaches_every_claim() -> None:
    app = office()
    version = app.debtor("VF", "P1").version
    for n in ("1", "2"):
        invoice(app, n, f"inv-{n}")
    invoice(app, "1", "inv-h1", creditor=HAMMERFEST)
    assert app.debtor("VF", "P1").version == version
    # a claim of a store from before ADR 0024 is listed by the debtor's own ClaimAttached event
    old = invoice(app, "9", "inv-9")
    debtor = app.debtor("VF", "P1")
    debtor.trigger_event(Debtor.ClaimAttached, command_id="inv-9", recorded=DAY, claim_id=old)
    app.save(debtor)

    app.register_death(office="VF", debtor_ref="P1", died=date(2025, 3, 1), on=date(2025, 3, 5), command_id="death")

    for creditor, n in ((ALTA, "1"), (ALTA, "2"), (HAMMERFEST, "1"), (ALTA, "9")):
        assert app.claim(creditor, n).facts.died == date(2025, 3, 1), (creditor, n)
    assert app.command_log.claims_of(debtor.id).count(old) == 1


def test_a_save_another_writer_got_to_first_is_tried_again(monkeypatch: pytest.MonkeyPatch) -> None:
    app = office()
    invoice(app, "1", "inv-1")
    real = app.recorder.insert_events
    lost = {"left": 2}

    def busy(events: Any, **kwargs: Any) -> Any:
        if lost["left"]:
            lost["left"] -= 1
            raise IntegrityError("duplicate key value violates unique constraint")
        return real(events, **kwargs)

    monkeypatch.setattr(app.recorder, "insert_events", busy)
    pay(app, "50.00")
    assert app.conflicts == 2
    assert app.claim(ALTA, "1").account.total_paid == Decimal("50.00")


def test_a_save_that_keeps_conflicting_is_refused_with_a_code(monkeypatch: pytest.MonkeyPatch) -> None:
    app = office()
    invoice(app, "1", "inv-1")
    before = stored(app)

    def always(events: Any, **kwargs: Any) -> Any:
        raise IntegrityError("duplicate key value violates unique constraint")

    monkeypatch.setattr(app.recorder, "insert_events", always)
    with pytest.raises(CommandRefused) as refused:
        pay(app, "50.00", command_id="p")
    monkeypatch.undo()

    assert refused.value.code is ErrorCode.CONCURRENT_CHANGE
    assert "duplicate key" not in refused.value.message and "'p'" in refused.value.message
    assert stored(app) == before
    pay(app, "50.00", command_id="p")
    assert app.claim(ALTA, "1").account.total_paid == Decimal("50.00")


def test_the_recorder_writes_nothing_when_what_a_save_read_has_changed() -> None:
    recorder = MemoryRecorder()
    debtor, claim = uuid4(), uuid4()
    recorder.insert_events([], links=[(debtor, claim)])
    with pytest.raises(ExpectationFailed):
        recorder.insert_events([], links=[(debtor, uuid4())], expect=[Expect("claims", debtor, 0)])
    with pytest.raises(ExpectationFailed):
        recorder.insert_events([], expect=[Expect("version", debtor, 3)])
    assert recorder.claims_of(debtor) == [claim]
