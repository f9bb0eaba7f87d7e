"""`kravsak payments import` on the real event store, as a real process: a file lands matched and in suspense,
is recognised when imported again, a bad one is refused naming the line with nothing stored, a file for an
account the office does not own is refused naming it, and an import killed (SIGKILL) halfway and run again
registers every transaction exactly once."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from uuid import uuid4

import pytest
import yaml

from domain.application import CollectionApp
from domain.errors import CommandRefused
from domain.kid import KidAlgorithm, make_kid
from intake.write import BankPayment
from intake.write.ocr import write_ocr
from kravsak.pipeline import catch_up_projections, drain_publisher
from kravsak.settings import Settings, office_secret

pytestmark = pytest.mark.integration
ON = date(2025, 3, 20)
ORDERED = date(2025, 3, 17)


def _account() -> str:
    """A random Norwegian account number with its MOD11 check digit."""
    while True:
        base = f"{random.randrange(10**9, 10**10)}"
        weights = (5, 4, 3, 2, 7, 6, 5, 4, 3, 2)
        check = 11 - sum(int(d) * w for d, w in zip(base, weights, strict=True)) % 11
        if check == 11:
            check = 0
        if check != 10:
            return f"{base}{check}"


class Office:
    def __init__(self, settings: Settings, tmp: Path) -> None:
        self.settings = settings
        self.app = self.fresh()
        self.creditor = self._unregistered()
        self.account = _account()
        self.letterheads = tmp / "letterheads.yaml"
        office = {"synthetic": True, "values": {"2020-01-01": {
            "name": "T", "address": ["x"], "postcode": "1", "city": "x", "phone": "1", "email": "x@x.example",
            "web": "x.example", "hours": "x", "complaints": "x"}}}  # fmt: skip
        doc = {
            "offices": {"t": office},
            "creditors": {self.creditor: {"office": "t", "values": {"2020-01-01": {"account": self.account}}}},
        }
        self.letterheads.write_text(yaml.safe_dump(doc), encoding="utf-8")
        self.app.register_creditor(creditor=self.creditor, name="T", jurisdiction="NO", on=date(2025, 1, 1),
                                   command_id=f"c{self.creditor}")  # fmt: skip
        self.debtor = f"D{uuid4().hex[:8]}"
        self.app.register_debtor(office=self.creditor, ref=self.debtor, kind="person", jurisdiction="NO",
                                 on=date(2025, 1, 1), command_id=f"d-{self.debtor}")  # fmt: skip

    def _unregistered(self) -> str:
        """A creditor number no earlier run registered (the ledger's figures for it are this test's alone)."""
        while True:
            number = f"{random.randrange(6000, 9000)}"
            try:
                self.app.creditor(number)
            except CommandRefused:
                return number

    def invoice(self, amount: str) -> tuple[str, str]:
        number = uuid4().hex[:12]
        kid = make_kid(f"{random.randrange(10**8, 10**9)}", KidAlgorithm.MOD10)
        self.app.issue_invoice(creditor=self.creditor, invoice=number, amount=Decimal(amount), due=ORDERED,
                               claim_type="other", debtor_ref=self.debtor, on=date(2025, 2, 15),
                               command_id=f"i-{number}", kid=kid)  # fmt: skip
        return number, kid

    def fresh(self) -> CollectionApp:
        """An application of its own (reads what other processes stored)."""
        return CollectionApp(self.settings.eventsourcing_env(), office_secret=office_secret(self.settings))

    def ocr(self, path: Path, payments: list[BankPayment], **kwargs: object) -> Path:
        write_ocr(path, payments, account=self.account, **kwargs)  # type: ignore[arg-type]
        return path

    def events(self) -> int:
        return int(self.app.recorder.max_notification_id() or 0)

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "kravsak.cli", "payments", *args]

    def env(self) -> dict[str, str]:
        return {**os.environ, "KRAVSAK_LETTERHEADS": str(self.letterheads)}

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(self.command(*args), env=self.env(), capture_output=True, text=True, timeout=600)


def pay(reference: str, amount: str) -> BankPayment:
    return BankPayment(reference, Decimal(amount), ORDERED, booked=ORDERED + timedelta(days=1),
                       payer_account="12345678903", payer_name="Kari Nordmann")  # fmt: skip


@pytest.fixture
def office(settings: Settings, pg_env: dict[str, str], tmp_path: Path) -> Iterator[Office]:
    o = Office(settings, tmp_path)
    yield o
    o.app.close()


def test_a_file_is_imported_recognised_and_its_unmatched_money_worked_by_hand(office: Office, tmp_path: Path) -> None:
    (a, kid_a), (b, _kid_b) = office.invoice("1000.00"), office.invoice("300.00")
    unknown = f"{random.randrange(10**9, 10**10)}"
    file = office.ocr(tmp_path / "in.ocr", [pay(kid_a, "400.00"), pay(unknown, "75.00")])

    first = office.run("import", str(file), "--json", "--on", ON.isoformat(), "--by", "kari")
    assert first.returncode == 0, first.stderr
    report = json.loads(first.stdout)
    assert (report["transactions"], report["matched"], report["unmatched"], report["duplicates"]) == (2, 1, 1, 0)
    assert report["amounts"]["file_total"] == "475.00" and report["reconciliation"]["holds"]
    assert report["creditors"] == [office.creditor]

    events = office.events()
    again = office.run("import", str(file), "--json", "--on", ON.isoformat())
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["already_imported"] and json.loads(again.stdout)["duplicates"] == 2
    assert office.events() == events

    worklist = office.run("suspense", "--creditor", office.creditor, "--json")
    assert [i["reference"] for i in json.loads(worklist.stdout)["items"]] == [unknown]
    placed = office.run("allocate", unknown, b, "--creditor", office.creditor, "--on", ON.isoformat())
    assert placed.returncode == 0, placed.stderr
    fresh = office.fresh()
    try:
        assert fresh.claim(office.creditor, b).account.total_paid == Decimal("75.00")
        assert fresh.claim(office.creditor, a).account.total_paid == Decimal("400.00")
        assert fresh.suspense(office.creditor).open_items() == []  # type: ignore[union-attr]
    finally:
        fresh.close()
    nothing = office.run("allocate", unknown, b, "--creditor", office.creditor)
    assert nothing.returncode == 2 and "no unallocated payment" in nothing.stderr


def test_a_bad_file_is_refused_naming_the_line_and_nothing_is_stored(office: Office, tmp_path: Path) -> None:
    _, kid = office.invoice("100.00")
    file = office.ocr(tmp_path / "in.ocr", [pay(kid, "100.00"), pay(kid, "5.00")])
    lines = file.read_text(encoding="latin-1").splitlines()
    lines[3] = lines[3][:79]
    file.write_text("\n".join(lines) + "\n", encoding="latin-1")
    events = office.events()

    refused = office.run("import", str(file), "--on", ON.isoformat())

    assert refused.returncode == 2
    assert "line 4" in refused.stderr and "record length" in refused.stderr and "Traceback" not in refused.stderr
    assert office.events() == events


def test_a_file_for_an_account_the_office_does_not_own_is_refused_naming_it(office: Office, tmp_path: Path) -> None:
    _, kid = office.invoice("100.00")
    stranger = _account()
    file = tmp_path / "in.ocr"
    write_ocr(file, [pay(kid, "100.00")], account=stranger)
    events = office.events()

    refused = office.run("import", str(file), "--on", ON.isoformat())

    assert refused.returncode == 2 and stranger in refused.stderr, refused.stderr
    assert office.events() == events


def kill_once_a_third_is_stored(office: Office, file: Path, digest: str, total: int) -> int:
    """Run ``kravsak payments import FILE --batch 50``, SIGKILL it once a third of the file is stored, and wait
    until the stored checkpoint holds still; the position it stopped at."""
    process = subprocess.Popen(
        office.command("import", str(file), "--json", "--on", ON.isoformat(), "--batch", "50"),
        env=office.env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    reader = office.fresh()
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and process.poll() is None:
            stored = reader.bank_file(digest)
            if stored is not None and stored.position >= total // 3:
                break
            time.sleep(0.02)
        assert process.poll() is None, "the import ended before it could be killed: make the file bigger"
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
        # a COMMIT the import sent just before it died may still land on the server: wait until the stored
        # checkpoint holds still (three reads 0.2 s apart) before taking it as where the import stopped
        seen: list[int] = []
        while len(seen) < 3 or len(set(seen[-3:])) > 1:
            now = reader.bank_file(digest)
            seen.append(now.position if now is not None else -1)
            time.sleep(0.2)
        stopped = reader.bank_file(digest)
        assert stopped is not None and not stopped.complete and 0 < stopped.position < total
        return stopped.position
    finally:
        if process.poll() is None:
            process.kill()
        reader.close()


def test_an_import_killed_halfway_and_run_again_registers_every_transaction_once(
    office: Office, tmp_path: Path
) -> None:
    invoices = [office.invoice("10000.00") for _ in range(20)]
    per_invoice, unmatched = 40, 400
    payments = [pay(kid, "10.00") for _ in range(per_invoice) for _, kid in invoices]
    strangers = [f"{random.randrange(10**9, 10**10)}" for _ in range(unmatched)]
    payments += [pay(s, "1.00") for s in strangers]
    random.shuffle(payments)
    file = office.ocr(tmp_path / "big.ocr", payments)
    total = len(payments)
    digest = __import__("hashlib").sha256(file.read_bytes()).hexdigest()

    stopped = kill_once_a_third_is_stored(office, file, digest, total)

    again = office.run("import", str(file), "--json", "--on", ON.isoformat(), "--batch", "50")

    assert again.returncode == 0, again.stderr
    report = json.loads(again.stdout)
    assert report["resumed_from"] == stopped
    assert (report["matched"], report["unmatched"], report["duplicates"]) == (20 * per_invoice, unmatched, 0)
    assert report["reconciliation"]["holds"]
    fresh = office.fresh()
    try:
        for number, _ in invoices:
            claim = fresh.claim(office.creditor, number)
            assert len(claim.facts.payments) == per_invoice
            assert claim.account.total_paid == Decimal("400.00")
        account = fresh.suspense(office.creditor)
        assert account is not None
        from_file = [i for i in account.items.values() if i.file_digest == digest]
        assert sorted(i.reference for i in from_file) == sorted(strangers)
        assert sum((i.amount for i in from_file), Decimal(0)) == Decimal(unmatched)
    finally:
        fresh.close()


def test_surplus_and_suspense_are_refunded_with_four_eyes_in_one_pain001_file_once(
    office: Office, tmp_path: Path
) -> None:
    from lxml import etree

    from intake import xsd

    invoice, kid = office.invoice("300.00")
    unknown = f"{random.randrange(10**9, 10**10)}"
    file = office.ocr(tmp_path / "in.ocr", [pay(kid, "350.00"), pay(unknown, "20.00")])
    assert office.run("import", str(file), "--on", ON.isoformat(), "--by", "kari").returncode == 0

    def refunds(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "kravsak.cli", "refunds", *args], env=office.env(),
                              capture_output=True, text=True, timeout=300)  # fmt: skip

    requested = refunds("request", unknown, "--creditor", office.creditor, "--on", ON.isoformat(), "--by", "kari")
    assert requested.returncode == 0, requested.stderr
    listed = json.loads(refunds("list", "--creditor", office.creditor, "--json").stdout)["refunds"]
    assert sorted((r["source"], r["amount"], r["state"]) for r in listed) == [
        ("surplus", "50.00", "requested"), ("suspense", "20.00", "requested"),
    ]  # fmt: skip
    own = refunds("approve", listed[0]["number"], "--by", "kari", "--on", ON.isoformat())
    assert own.returncode == 2 and "Traceback" not in own.stderr, own.stderr
    for r in listed:
        approved = refunds("approve", r["number"], "--by", "lead", "--on", ON.isoformat())
        assert approved.returncode == 0, approved.stderr

    exported = refunds("export", "--creditor", office.creditor, "--out", str(tmp_path), "--on", ON.isoformat())
    assert exported.returncode == 0, exported.stderr
    [written] = list(tmp_path.glob("KRAVSAK-*.xml"))
    document = etree.parse(str(written))
    assert xsd.schema("pain.001.001.03").validate(document)
    amounts = sorted(e.text for e in document.iter("{*}InstdAmt"))
    assert amounts == ["20.00", "50.00"]
    listed = json.loads(refunds("list", "--creditor", office.creditor, "--json").stdout)["refunds"]
    assert {r["state"] for r in listed} == {"paid_out"} and len({r["message_id"] for r in listed}) == 1

    events = office.events()
    again = refunds("export", "--creditor", office.creditor, "--out", str(tmp_path), "--on", ON.isoformat())
    assert again.returncode == 0 and "no approved refund" in again.stdout
    assert office.events() == events and len(list(tmp_path.glob("KRAVSAK-*.xml"))) == 1
    fresh = office.fresh()
    try:
        claim = fresh.claim(office.creditor, invoice)
        assert claim.account.balance() == 0 and claim.surplus_to_refund == 0
        assert fresh.suspense(office.creditor).open_items() == []  # type: ignore[union-attr]
    finally:
        fresh.close()

    drain_publisher(office.settings)
    catch_up_projections(office.settings)
    settled = subprocess.run(
        [sys.executable, "-m", "kravsak.cli", "settlement", "--creditor", office.creditor, "--period", "2025-03",
         "--format", "json"],
        env=office.env(), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert settled.returncode == 0, settled.stdout + settled.stderr
    [nok] = json.loads(settled.stdout)["settlements"]
    collected, reconciliation = nok["collected"], nok["reconciliation"]
    assert collected["principal"] == "300.00" and collected["refunds_out"] == "70.00"
    assert collected["surplus_received"] == "50.00" and collected["suspense_in"] == "20.00"
    assert reconciliation["money_in"] == "370.00" and reconciliation["allocated"] == "300.00"
    assert reconciliation["suspense_held"] == "0.00" and reconciliation["surplus_held"] == "0.00"
    assert reconciliation["holds"] and reconciliation["claims_checked"] == 1
    page = subprocess.run(
        [sys.executable, "-m", "kravsak.cli", "settlement", "--creditor", office.creditor, "--period", "2025-03",
         "--format", "html", "--out", str(tmp_path / "settlement.html")],
        env=office.env(), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert page.returncode == 0 and "Money in = allocated" in (tmp_path / "settlement.html").read_text()
