"""Saves prepared ahead (``CollectionApp.preparing``): nothing stored until recorded; merged, they are one save
whose expectations are those no earlier save of the group answers; as plain data they come back the same."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from uuid import uuid4

import pytest
from eventsourcing.persistence import IntegrityError, StoredEvent

from domain.application import CollectionApp, Prepared
from domain.command_log import CommandEntry, Expect


def event(ident: object, version: int) -> StoredEvent:
    return StoredEvent(ident, version, "domain.claim:Claim.PaymentRegistered", b"{}")  # type: ignore[arg-type]


def test_merged_saves_keep_order_and_drop_only_the_expectations_an_earlier_save_answers() -> None:
    claim, debtor, other = uuid4(), uuid4(), uuid4()
    first = Prepared([event(claim, 3)], {"commands": [CommandEntry("n", "s", "a", "pay", "d")],
                                          "expect": [Expect("version", other, 7)]})  # fmt: skip
    second = Prepared([event(claim, 4), event(debtor, 2)], {
        "commands": [CommandEntry("n", "s", "b", "pay", "d")], "links": [(debtor, claim)],
        "expect": [Expect("version", claim, 3), Expect("version", other, 7), Expect("claims", debtor, 1)],
    })  # fmt: skip
    third = Prepared([], {"expect": [Expect("claims", debtor, 2), Expect("version", debtor, 2)]})

    merged = Prepared.merged([first, second, third])

    assert [(e.originator_id, e.originator_version) for e in merged.events] == [(claim, 3), (claim, 4), (debtor, 2)]
    assert [c.command_id for c in merged.kwargs["commands"]] == ["a", "b"] and merged.kwargs["links"] == [
        (debtor, claim)
    ]
    # claim@3 is what `first` writes on; debtor's count and version are what `second` links and writes
    assert merged.kwargs["expect"] == [Expect("version", other, 7), Expect("claims", debtor, 1)]
    assert Prepared.from_plain(merged.plain()) == merged


def test_a_prepared_save_stores_nothing_until_recorded_and_then_what_the_save_would_have() -> None:
    app, twin = CollectionApp(), CollectionApp()
    for a in (app, twin):
        a.register_creditor(creditor="5601", name="Alta", jurisdiction="NO", on=date(2025, 1, 1), command_id="c")
    before = app.recorder.max_notification_id()

    with app.preparing() as saves, app.unit_of_work():
        app.register_debtor(office="5601", ref="D1", kind="person", jurisdiction="NO", on=date(2025, 1, 2),
                            command_id="d1")  # fmt: skip
        app.issue_invoice(creditor="5601", invoice="A", amount=Decimal("100.00"), due=date(2025, 2, 1),
                          claim_type="other", debtor_ref="D1", on=date(2025, 1, 2), command_id="i1")  # fmt: skip
    assert app.recorder.max_notification_id() == before and len(saves) == 1
    kept = Prepared.from_plain(saves[0].plain())

    app.record_prepared(kept)

    with twin.unit_of_work():
        twin.register_debtor(office="5601", ref="D1", kind="person", jurisdiction="NO", on=date(2025, 1, 2),
                             command_id="d1")  # fmt: skip
        twin.issue_invoice(creditor="5601", invoice="A", amount=Decimal("100.00"), due=date(2025, 2, 1),
                           claim_type="other", debtor_ref="D1", on=date(2025, 1, 2), command_id="i1")  # fmt: skip
    assert app.claim("5601", "A").account.balance() == Decimal("100.00")
    assert [(n.topic, n.originator_version) for n in app.recorder.select_notifications(start=1, limit=100)] == [
        (n.topic, n.originator_version) for n in twin.recorder.select_notifications(start=1, limit=100)
    ]
    with pytest.raises(IntegrityError):
        app.record_prepared(kept)  # the same save again: what it read has changed, its ids are recorded
