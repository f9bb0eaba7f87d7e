"""A unit of work saves many commands in one transaction and still keeps refused commands out."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from domain.application import CollectionApp
from domain.errors import CommandRefused


def open_desk() -> CollectionApp:
    app = CollectionApp()
    app.register_creditor(creditor="4601", name="Bergen", jurisdiction="NO", on=date(2025, 1, 1), command_id="c")
    app.register_debtor(office="4601", ref="D1", kind="person", jurisdiction="NO", on=date(2025, 1, 1), command_id="d")
    return app


def test_commands_in_a_unit_of_work_are_stored_together_at_its_end() -> None:
    app = open_desk()
    before = app.recorder.max_notification_id()
    with app.unit_of_work():
        app.issue_invoice(
            creditor="4601",
            invoice="1",
            amount=Decimal("500.00"),
            due=date(2025, 2, 1),
            claim_type="sfo",
            debtor_ref="D1",
            on=date(2025, 1, 5),
            command_id="i1",
        )
        app.register_payment(
            creditor="4601", invoice="1", amount=Decimal("100.00"), on=date(2025, 2, 10), command_id="p1"
        )
        assert app.recorder.max_notification_id() == before  # nothing stored yet
    claim = app.claim("4601", "1")
    assert claim.account.total_paid == Decimal("100.00")
    assert app.recorder.max_notification_id() > before


def test_a_refused_command_inside_a_unit_of_work_changes_nothing_and_the_others_are_kept() -> None:
    app = open_desk()
    with app.unit_of_work():
        app.issue_invoice(
            creditor="4601",
            invoice="1",
            amount=Decimal("500.00"),
            due=date(2025, 2, 1),
            claim_type="sfo",
            debtor_ref="D1",
            on=date(2025, 1, 5),
            command_id="i1",
        )
        with pytest.raises(CommandRefused):
            app.send_notice(
                creditor="4601", invoice="1", notice="inkassovarsel", on=date(2025, 1, 20), command_id="n1"
            )  # not due yet
        app.register_payment(
            creditor="4601", invoice="1", amount=Decimal("500.00"), on=date(2025, 1, 30), command_id="p1"
        )
    claim = app.claim("4601", "1")
    assert claim.facts.notices == []
    assert claim.account.balance() == Decimal("0.00")


def test_a_command_that_fails_half_way_is_dropped_but_earlier_commands_of_the_batch_stay() -> None:
    app = open_desk()
    with app.unit_of_work():
        app.issue_invoice(
            creditor="4601",
            invoice="1",
            amount=Decimal("500.00"),
            due=date(2025, 2, 1),
            claim_type="sfo",
            debtor_ref="D1",
            on=date(2025, 1, 5),
            command_id="i1",
        )
        claim = app.claim("4601", "1")

        def half_way(c: object, rules: object) -> None:
            claim.register_objection(
                command_id="o1", on=date(2025, 2, 5), received=date(2025, 2, 5), text="x", rules=rules
            )  # type: ignore[arg-type]
            raise RuntimeError("crash after the first event")

        with pytest.raises(RuntimeError):
            app._on_claim("4601", "1", "o1", half_way)
    stored = app.claim("4601", "1")
    assert stored.facts.objections == []
    assert stored.version == 1
