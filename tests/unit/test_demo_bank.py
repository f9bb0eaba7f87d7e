"""The demo's money arrives only in bank files, imported by `kravsak payments import`'s code path (issue 11.6).

One simulated year in memory: every payment on every claim came from a bank file or was placed from suspense
(itself filled from bank files), each municipality's bank sends its own format, each file reconciles, suspense
is placed or paid back, and surpluses go out as pain.001 refunds approved by a second person.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from lxml import etree

from domain.application import CollectionApp
from domain.claim import Claim
from domain.refunds import RefundState
from kravsak.demo.bank import APPROVED_BY, FORMATS, Bank, mistyped, synthetic_account
from kravsak.demo.world import World, is_month_end, month_end_sweep


@pytest.fixture(scope="module")
def year(tmp_path_factory: pytest.TempPathFactory) -> tuple[World, CollectionApp, Path]:
    app = CollectionApp()
    folder = tmp_path_factory.mktemp("bank-files")
    world = World(app, debtors=250, seed=11, tag="B", bank=Bank(app, seed=11, folder=folder))
    world.plan_year()
    day = world.start
    while day <= world.end:
        with app.unit_of_work():
            for action in world.actions_on(day):
                action.run(world, day)
            if is_month_end(day):
                month_end_sweep(world, day)
        day += timedelta(days=1)
    return world, app, folder


def test_every_payment_on_a_claim_came_from_a_bank_file(year: tuple[World, CollectionApp, Path]) -> None:
    world, app, _ = year
    sources: Counter[str] = Counter()
    for d in world.debtors:
        for creditor, invoice in d.invoices:
            claim = app.claim(creditor, invoice)
            for event in app.repository.event_store.get(claim.id):
                if isinstance(event, Claim.PaymentRegistered):
                    sources[event.source or "none"] += 1
                    if event.source == "reference":
                        assert event.file_format == FORMATS[creditor]
                        assert event.file_digest and event.transaction
    assert sources["reference"] > 1000
    assert sources["suspense"] > 0  # mistyped references a caseworker placed
    assert set(sources) <= {"reference", "suspense"}, sources  # no payment registered by a direct call
    assert world.stats.commands["register_payment"] == 0


def test_each_municipality_gets_its_own_format_and_every_file_reconciles(
    year: tuple[World, CollectionApp, Path],
) -> None:
    world, _, folder = year
    files = world.bank.stats.files
    assert {r.creditors[0]: r.file_format for r in files} == FORMATS
    assert all(r.reconciled for r in files)
    assert sum(r.transactions for r in files) == sum(r.counts["matched"] + r.counts["unmatched"] for r in files)
    assert len(list(folder.glob("*.ocr"))) + len(list(folder.glob("*.camt054.xml"))) + len(
        list(folder.glob("*.bgmax"))
    ) == len(files)


def test_suspense_is_placed_or_paid_back_and_surpluses_are_refunded_by_four_eyes(
    year: tuple[World, CollectionApp, Path],
) -> None:
    world, app, folder = year
    stats = world.bank.stats
    assert stats.placed > 0 and stats.suspense_refunded > 0
    refunds = app.refunds()
    assert refunds and all(r.approved_by == APPROVED_BY != r.requested_by for r in refunds if r.approved_by)
    paid = [r for r in refunds if r.state is RefundState.PAID_OUT]
    assert paid and stats.refund_files
    for exported in stats.refund_files:
        tree = etree.parse(exported["file"])
        assert tree.getroot().tag.startswith("{urn:iso:std:iso:20022:tech:xsd:pain.001")
    held_long = [
        i
        for creditor in FORMATS
        for account in [app.suspense(creditor)]
        if account is not None
        for i in account.open_items()
        if i.refund is None and (world.end - i.received_on).days > 45
    ]
    assert not held_long  # nothing sits in suspense for months


def test_a_mistyped_reference_differs_and_a_payer_account_is_valid() -> None:
    import random

    from stdnum.no import kontonr

    rng = random.Random(3)
    for _ in range(200):
        kid = f"{rng.randrange(10**9, 10**10)}"
        assert mistyped(kid, rng) != kid
        assert kontonr.is_valid(synthetic_account(rng, "NO"))
        assert len(synthetic_account(rng, "SE")) == 10
