"""Issuing many invoices in one unit of work reads their aggregates in a few queries (preload) and
stores exactly what issuing them one by one stores — snapshots of busy debtors included."""

from __future__ import annotations

import os
import uuid
from datetime import date
from decimal import Decimal

import pytest

from domain.application import CollectionApp

pytestmark = pytest.mark.integration
OFFICE_SECRET = os.urandom(32)

ON = date(2025, 1, 10)


def issue(app: CollectionApp, numbers: range, *, preload: bool) -> None:
    with app.unit_of_work():
        if preload:
            app.preload_invoices([("5601", f"F{i}", f"D{i % 2}") for i in numbers])
        for i in numbers:
            app.issue_invoice(creditor="5601", invoice=f"F{i}", amount=Decimal("100.00"), due=date(2025, 2, 1),
                              claim_type="sfo", debtor_ref=f"D{i % 2}", on=ON, command_id=f"c{i}")  # fmt: skip


def test_preloaded_issuing_stores_what_issuing_one_by_one_stores(pg_env: dict[str, str]) -> None:
    namespace = uuid.uuid4()
    app = CollectionApp(pg_env, namespace=namespace, office_secret=OFFICE_SECRET)
    app.register_creditor(creditor="5601", name="Alta", jurisdiction="NO", on=ON, command_id="c")
    for ref in ("D0", "D1"):
        app.register_debtor(office="5601", ref=ref, kind="person", jurisdiction="NO", on=ON, command_id=ref)

    issue(app, range(0, 130), preload=False)  # D0 and D1 now have snapshots (every 50 events)
    issue(app, range(130, 260), preload=True)
    issue(app, range(120, 140), preload=True)  # repeats: already stored, nothing new

    fresh = CollectionApp(pg_env, namespace=namespace, office_secret=OFFICE_SECRET)
    assert len(fresh.debtor("5601", "D0").claims) == 130
    assert len(fresh.debtor("5601", "D1").claims) == 130
    assert fresh.claim("5601", "F259").debtor_id == str(fresh.debtor("5601", "D1").id)
    assert fresh.snapshots is not None
    assert list(fresh.snapshots.get(fresh.debtor("5601", "D1").id, desc=True, limit=1))[0].originator_version >= 50


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
    assert len(fresh.debtor("5601", "D1").claims) == 10
