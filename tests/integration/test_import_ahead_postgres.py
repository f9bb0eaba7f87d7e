"""Importing ahead of the verdict (ADR 0036) on the real event store: the same claims and report as the one way,
a desk payment between preparing and recording fails the prepared batch on PostgreSQL's own checks and the import
goes on the one way, and `kravsak payments import` of a file big enough to go ahead, killed (SIGKILL) while it
records and run again, registers every transaction exactly once."""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import intake.importer
from intake.accounts import OfficeAccounts
from intake.importer import AHEAD_FROM_BYTES, import_file
from kravsak.settings import Settings
from tests.integration.test_payments_import_cli import ON, ORDERED, Office, kill_once_a_third_is_stored, pay

pytestmark = pytest.mark.integration


@pytest.fixture
def office(settings: Settings, pg_env: dict[str, str], tmp_path: Path) -> Iterator[Office]:
    o = Office(settings, tmp_path)
    yield o
    o.app.close()


def _accounts(o: Office) -> OfficeAccounts:
    return OfficeAccounts.of({o.account: o.creditor})


def test_ahead_lands_what_the_one_way_lands_on_postgresql(office: Office, tmp_path: Path) -> None:
    invoices = [office.invoice("100.00") for _ in range(4)]
    strangers = [f"{random.randrange(10**9, 10**10)}" for _ in range(2)]
    payments = [pay(kid, "60.00") for _, kid in invoices] + [pay(s, "1.00") for s in strangers]
    payments += [pay(kid, "60.00") for _, kid in invoices]  # each claim overpaid by 20.00: a refund each
    ahead_file = office.ocr(tmp_path / "ahead.ocr", payments)

    report = import_file(office.app, ahead_file, accounts=_accounts(office), on=ON, by="kari", batch_size=3,
                         ahead=True)  # fmt: skip

    assert (report.counts, report.refunds, report.resumed_from) == (
        {"matched": 8, "unmatched": 2, "duplicates": 0}, 4, 0,
    )  # fmt: skip
    assert report.reconciled and report.surplus == Decimal("80.00")
    fresh = office.fresh()
    try:
        for number, _ in invoices:
            claim = fresh.claim(office.creditor, number)
            assert [p.amount for p in claim.facts.payments] == [Decimal("60.00")] * 2
            assert claim.account.balance() == 0
        stored = fresh.bank_file(report.digest)
        assert stored is not None and stored.complete and stored.counts == report.counts
    finally:
        fresh.close()
    again = import_file(office.app, ahead_file, accounts=_accounts(office), on=ON, by="kari", ahead=True)
    assert again.already_imported and again.counts["duplicates"] == 10


def test_a_desk_payment_between_preparing_and_recording_fails_the_batch_and_the_rest_goes_the_one_way(
    office: Office, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    invoices = [office.invoice("1000.00") for _ in range(3)]
    file = office.ocr(tmp_path / "in.ocr", [pay(kid, "100.00") for _ in range(3) for _, kid in invoices])
    desk = office.fresh()  # another process's application: the importer's warm claims do not see its payment
    verdict = intake.importer._verdict

    def desk_payment_first(*args: Any) -> Any:
        desk.register_payment(creditor=office.creditor, invoice=invoices[1][0], amount=Decimal("5.00"), on=ON,
                              ordered=ORDERED, command_id=f"desk-{office.creditor}")  # fmt: skip
        return verdict(*args)

    monkeypatch.setattr(intake.importer, "_verdict", desk_payment_first)
    try:
        report = import_file(office.app, file, accounts=_accounts(office), on=ON, by="kari", batch_size=2,
                             ahead=True)  # fmt: skip
    finally:
        desk.close()

    assert report.counts == {"matched": 9, "unmatched": 0, "duplicates": 0} and report.reconciled
    fresh = office.fresh()
    try:
        paid = [sorted(p.amount for p in fresh.claim(office.creditor, n).facts.payments) for n, _ in invoices]
    finally:
        fresh.close()
    assert paid == [[Decimal("100.00")] * 3, [Decimal("5.00")] + [Decimal("100.00")] * 3, [Decimal("100.00")] * 3]


def test_an_import_ahead_killed_while_recording_and_run_again_registers_every_transaction_once(
    office: Office, tmp_path: Path
) -> None:
    invoices = [office.invoice("100000.00") for _ in range(40)]
    per_invoice = 350
    payments = [pay(kid, "1.00") for _ in range(per_invoice) for _, kid in invoices]
    file = office.ocr(tmp_path / "big.ocr", payments)
    assert file.stat().st_size >= AHEAD_FROM_BYTES  # `kravsak payments import` goes ahead on its own
    total, digest = len(payments), hashlib.sha256(file.read_bytes()).hexdigest()

    stopped = kill_once_a_third_is_stored(office, file, digest, total)

    again = office.run("import", str(file), "--json", "--on", ON.isoformat(), "--batch", "50")

    assert again.returncode == 0, again.stderr
    report = json.loads(again.stdout)
    assert report["resumed_from"] == stopped and report["reconciliation"]["holds"]
    assert (report["matched"], report["unmatched"], report["duplicates"]) == (total, 0, 0)
    fresh = office.fresh()
    try:
        for number, _ in invoices:
            assert len(fresh.claim(office.creditor, number).facts.payments) == per_invoice
    finally:
        fresh.close()
