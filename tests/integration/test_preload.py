"""Issuing many invoices in one unit of work reads their aggregates in a few queries (preload) and
stores exactly what issuing them one by one stores — snapshots of busy debtors included."""

from __future__ import annotations

import os
import uuid
from datetime import date
from decimal import Decimal

import pytest

from domain.application import CollectionApp
from domain.errors import CommandRefused

pytestmark = pytest.mark.integration
OFFICE_SECRET = os.urandom(32)

ON = date(2025, 1, 10)


def issue(app: CollectionApp, numbers: range, *, preload: bool) -> None:
    with app.unit_of_work():
        if preload:
            app.preload_invoices([("5601", f"F{i}", f"D{i % 2}") for i in numbers])
            app.preload_commands("creditor", [("5601", f"c{i}") for i in numbers])
        for i in numbers:
            app.issue_invoice(creditor="5601", invoice=f"F{i}", amount=Decimal("100.00"), due=date(2025, 2, 1),
                              claim_type="sfo", debtor_ref=f"D{i % 2}", on=ON, command_id=f"c{i}")  # fmt: skip


def test_preloaded_issuing_stores_what_issuing_one_by_one_stores(pg_env: dict[str, str]) -> None:
    namespace = uuid.uuid4()
    app = CollectionApp(pg_env, namespace=namespace, office_secret=OFFICE_SECRET)
    app.register_creditor(creditor="5601", name="Alta", jurisdiction="NO", on=ON, command_id="c")
    for ref in ("D0", "D1"):
        app.register_debtor(office="5601", ref=ref, kind="person", jurisdiction="NO", on=ON, command_id=ref)

    issue(app, range(0, 130), preload=False)
    for ref in ("D0", "D1"):  # invoices no longer write the debtor (ADR 0024): preload reads it from a snapshot
        app.take_snapshot(app.debtor("5601", ref).id)
    issue(app, range(130, 260), preload=True)
    issue(app, range(120, 140), preload=True)  # repeats: already stored, nothing new

    fresh = CollectionApp(pg_env, namespace=namespace, office_secret=OFFICE_SECRET)
    assert len(fresh.debtor_claims("5601", "D0")) == 130
    assert len(fresh.debtor_claims("5601", "D1")) == 130
    assert fresh.claim("5601", "F259").debtor_id == str(fresh.debtor("5601", "D1").id)
    assert fresh.snapshots is not None
    assert list(fresh.snapshots.get(fresh.debtor("5601", "D1").id, desc=True, limit=1))[0].originator_version >= 1


def test_preloaded_command_ids_still_tell_a_repeat_from_a_reused_id(pg_env: dict[str, str]) -> None:
    app = CollectionApp(pg_env, namespace=uuid.uuid4(), office_secret=OFFICE_SECRET)
    app.register_creditor(creditor="5601", name="Alta", jurisdiction="NO", on=ON, command_id="c")
    for ref in ("D0", "D1"):
        app.register_debtor(office="5601", ref=ref, kind="person", jurisdiction="NO", on=ON, command_id=ref)
    issue(app, range(0, 4), preload=False)
    assert app.command_log.find_commands(
        str(app.namespace), [("creditor:5601", "c1"), ("creditor:5601", "x")]
    ).keys() == {("creditor:5601", "c1")}

    with app.unit_of_work():
        app.preload_commands("creditor", [("5601", "c1"), ("5601", "c9")])
        app.issue_invoice(creditor="5601", invoice="F1", amount=Decimal("100.00"), due=date(2025, 2, 1),
                          claim_type="sfo", debtor_ref="D1", on=ON, command_id="c1")  # fmt: skip
        with pytest.raises(CommandRefused, match="'c1' was used before"):
            app.issue_invoice(creditor="5601", invoice="F99", amount=Decimal("100.00"), due=date(2025, 2, 1),
                              claim_type="sfo", debtor_ref="D1", on=ON, command_id="c1")  # fmt: skip
        app.issue_invoice(creditor="5601", invoice="F9", amount=Decimal("100.00"), due=date(2025, 2, 1),
                          claim_type="sfo", debtor_ref="D1", on=ON, command_id="c9")  # fmt: skip
    assert [app.claim("5601", n).invoice for n in ("F1", "F9")] == ["F1", "F9"]
    assert len(app.debtor_claims("5601", "D1")) == 3


def test_preload_outside_a_unit_of_work_does_nothing() -> None:
    app = CollectionApp()
    app.preload_invoices([("5601", "F1", "D1")])
    assert app._batch is None


def test_after_preload_no_command_of_the_batch_reads_the_store(pg_env: dict[str, str]) -> None:
    """Issuing, paying and noticing in one unit of work: after ``preload`` no command reads an aggregate."""
    namespace = uuid.uuid4()
    app = CollectionApp(pg_env, namespace=namespace, office_secret=OFFICE_SECRET)
    app.register_creditor(creditor="5601", name="Alta", jurisdiction="NO", on=ON, command_id="c")
    for ref in ("D0", "D1"):
        app.register_debtor(office="5601", ref=ref, kind="person", jurisdiction="NO", on=ON, command_id=ref)
    issue(app, range(0, 10), preload=True)
    reads = 0
    select = app.recorder.select_events

    def counted(*args: object, **kwargs: object) -> object:
        nonlocal reads
        reads += 1
        return select(*args, **kwargs)  # type: ignore[arg-type]

    app.recorder.select_events = counted  # type: ignore[method-assign]
    with app.unit_of_work():
        app.preload(
            invoices=[("5601", f"F{i}", f"D{i % 2}") for i in range(10, 20)],
            claims=[("5601", f"F{i}") for i in range(0, 10)],
        )
        reads = 0  # the preload's own reads (the creditor) do not count
        for i in range(10, 20):
            app.issue_invoice(creditor="5601", invoice=f"F{i}", amount=Decimal("100.00"), due=date(2025, 2, 1),
                              claim_type="sfo", debtor_ref=f"D{i % 2}", on=ON, command_id=f"c{i}")  # fmt: skip
        for i in range(0, 10):
            app.register_payment(creditor="5601", invoice=f"F{i}", amount=Decimal("40.00"), on=date(2025, 2, 3),
                                 command_id=f"p{i}")  # fmt: skip
            app.send_notice(creditor="5601", invoice=f"F{i}", notice="purring", on=date(2025, 2, 15),
                            command_id=f"n{i}")  # fmt: skip
    assert reads == 0
    fresh = CollectionApp(pg_env, namespace=namespace, office_secret=OFFICE_SECRET)
    assert fresh.claim("5601", "F3").account.total_paid == Decimal("40.00")
    assert len(fresh.debtor_claims("5601", "D1")) == 10
