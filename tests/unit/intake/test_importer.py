"""Importing bank files into the domain (in memory): matched by KID, unmatched into suspense, each transaction
once, a surplus owed back, a refused file stores nothing, an interrupted import goes on where it stopped."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from domain.application import CollectionApp
from intake import BankFileError
from intake.accounts import OfficeAccount, OfficeAccounts, account_keys, is_valid_iban, norwegian_iban
from intake.importer import import_file
from intake.model import FileFormat
from intake.write import BankPayment
from intake.write.bgmax import write_bgmax
from intake.write.camt054 import write_camt054
from intake.write.ocr import write_ocr

ALTA, HAMMERFEST, SVENLJUNGA = "5601", "5603", "1465"
ALTA_ACCOUNT, HAMMERFEST_ACCOUNT, BANKGIRO = "1503.59.76237", "1503.38.20612", "500-1235"
ON = date(2025, 3, 20)
ORDERED = date(2025, 3, 17)
ACCOUNTS = OfficeAccounts(
    [
        OfficeAccount(ALTA_ACCOUNT, ALTA, FileFormat.OCR),
        OfficeAccount(HAMMERFEST_ACCOUNT, HAMMERFEST, FileFormat.CAMT054),
        OfficeAccount(BANKGIRO, SVENLJUNGA, FileFormat.BGMAX),
    ]
)


def office() -> CollectionApp:
    app = CollectionApp()
    for creditor, j in ((ALTA, "NO"), (HAMMERFEST, "NO"), (SVENLJUNGA, "SE")):
        app.register_creditor(creditor=creditor, name=creditor, jurisdiction=j, on=date(2025, 1, 1),
                              command_id=f"c{creditor}", office="office" if j == "NO" else creditor)  # fmt: skip
    app.register_debtor(office="office", ref="D1", kind="person", jurisdiction="NO", on=date(2025, 1, 1),
                        command_id="d1")  # fmt: skip
    app.register_debtor(office=SVENLJUNGA, ref="S1", kind="person", jurisdiction="SE", on=date(2025, 1, 1),
                        command_id="s1")  # fmt: skip
    return app


def invoice(app: CollectionApp, creditor: str, number: str, amount: str, debtor: str = "D1") -> str:
    app.issue_invoice(creditor=creditor, invoice=number, amount=Decimal(amount), due=date(2025, 3, 17),
                      claim_type="other", debtor_ref=debtor, on=date(2025, 2, 15),
                      command_id=f"i-{number}")  # fmt: skip
    return app.claim(creditor, number).kid


def pay(reference: str, amount: str, ordered: date = ORDERED, account: str | None = "12345678903") -> BankPayment:
    return BankPayment(reference, Decimal(amount), ordered, booked=ORDERED + timedelta(days=1), payer_account=account,
                       payer_name="Kari Nordmann")  # fmt: skip


def ocr(path: Path, payments: list[BankPayment], **kwargs: object) -> Path:
    write_ocr(path, payments, account="15035976237", **kwargs)  # type: ignore[arg-type]
    return path


def test_the_office_accounts_are_known_in_every_form_a_bank_file_writes_them() -> None:
    assert account_keys("1503.59.76237") == {"15035976237", norwegian_iban("15035976237")}
    assert is_valid_iban(norwegian_iban("15035976237")) and is_valid_iban("NO9386011117947")
    assert account_keys("500-1235") == {"0005001235", "5001235"}
    found = ACCOUNTS.find("0005001235")
    assert found is not None and found.creditor == SVENLJUNGA
    assert ACCOUNTS.find(norwegian_iban("15033820612")).creditor == HAMMERFEST  # type: ignore[union-attr]
    with pytest.raises(ValueError, match="listed for creditor"):
        OfficeAccounts([OfficeAccount("15035976237", ALTA), OfficeAccount("NO" + "00" + "15035976237", "x")])


def test_an_ocr_file_lands_matched_unmatched_and_owed_back_and_reconciles(tmp_path: Path) -> None:
    app = office()
    a, b = invoice(app, ALTA, "A", "1000.00"), invoice(app, ALTA, "B", "200.00")
    file = ocr(tmp_path / "in.ocr", [pay(a, "400.00"), pay(b, "250.00"), pay("99999999", "75.00")])

    report = import_file(app, file, accounts=ACCOUNTS, on=ON, by="kari")

    assert (report.transactions, report.counts) == (3, {"matched": 2, "unmatched": 1, "duplicates": 0})
    assert report.total == Decimal("725.00") and report.reconciled
    assert report.amounts["matched"] == Decimal("650.00") and report.amounts["unmatched"] == Decimal("75.00")
    assert report.surplus == Decimal("50.00") and report.refunds == 1
    assert report.creditors == [ALTA] and report.accounts == ["15035976237"]
    assert app.claim(ALTA, "A").account.total_paid == Decimal("400.00")
    assert app.claim(ALTA, "B").account.balance() == 0 and app.claim(ALTA, "B").account.surplus == Decimal("50.00")
    [held] = app.suspense(ALTA).open_items()  # type: ignore[union-attr]
    assert (held.reference, held.amount, held.ordered, held.file_digest) == (
        "99999999", Decimal("75.00"), ORDERED, report.digest,
    )  # fmt: skip
    payment = app.claim(ALTA, "A").facts.payments[0]
    assert payment.ordered == ORDERED  # the amount item's bank date, the payer's order date
    stored = app.bank_file(report.digest)
    assert stored is not None and stored.complete and stored.imported_by == "kari"


def test_a_file_imported_again_is_recognised_and_changes_nothing(tmp_path: Path) -> None:
    app = office()
    a = invoice(app, ALTA, "A", "1000.00")
    file = ocr(tmp_path / "in.ocr", [pay(a, "400.00"), pay("99999999", "75.00")])
    import_file(app, file, accounts=ACCOUNTS, on=ON, by="kari")
    events = app.recorder.max_notification_id()

    again = import_file(app, file, accounts=ACCOUNTS, on=ON + timedelta(days=1), by="ola")

    assert again.already_imported and again.counts == {"matched": 0, "unmatched": 0, "duplicates": 2}
    assert again.earlier is not None and again.earlier["imported_by"] == "kari" and again.reconciled
    assert app.recorder.max_notification_id() == events


def test_the_same_payments_delivered_in_another_file_are_duplicates(tmp_path: Path) -> None:
    """Nets re-sends a transmission: other bytes (a later production date), the same transaction ids."""
    app = office()
    a = invoice(app, ALTA, "A", "1000.00")
    first = ocr(tmp_path / "1.ocr", [pay(a, "400.00")])
    second = ocr(tmp_path / "2.ocr", [pay(a, "400.00"), pay("99999999", "10.00")])
    import_file(app, first, accounts=ACCOUNTS, on=ON, by="kari")

    report = import_file(app, second, accounts=ACCOUNTS, on=ON, by="kari")

    assert report.counts == {"matched": 0, "unmatched": 1, "duplicates": 1} and report.reconciled
    assert app.claim(ALTA, "A").account.total_paid == Decimal("400.00")


def test_an_import_stopped_between_batches_goes_on_after_its_checkpoint(tmp_path: Path) -> None:
    app = office()
    kids = [invoice(app, ALTA, f"I{n}", "100.00") for n in range(7)]
    file = ocr(tmp_path / "in.ocr", [pay(k, "100.00") for k in kids])

    class Killed(Exception):
        pass

    def kill_after_two_batches(phase: str, done: int, total: int) -> None:
        if phase == "import" and done == 4:
            raise Killed

    with pytest.raises(Killed):
        import_file(app, file, accounts=ACCOUNTS, on=ON, by="kari", batch_size=2, progress=kill_after_two_batches)
    stored = app.bank_file(file_digest := __import__("hashlib").sha256(file.read_bytes()).hexdigest())
    assert stored is not None and stored.position == 4 and not stored.complete

    report = import_file(app, file, accounts=ACCOUNTS, on=ON, by="kari", batch_size=2)

    assert report.resumed_from == 4 and report.digest == file_digest
    assert report.counts == {"matched": 7, "unmatched": 0, "duplicates": 0} and report.reconciled
    assert all(len(app.claim(ALTA, f"I{n}").facts.payments) == 1 for n in range(7))


def test_a_claim_another_writer_pays_between_batches_is_read_again_and_nothing_is_lost(tmp_path: Path) -> None:
    """The batches keep the claims they stored loaded for the next one; a claim another writer changed
    meanwhile fails the batch's save on its version and the batch is registered again from the store."""
    app = office()
    kid = invoice(app, ALTA, "W", "1000.00")
    file = ocr(tmp_path / "in.ocr", [pay(kid, "100.00") for _ in range(4)])
    meanwhile: list[int] = []

    def another_writer(phase: str, done: int, total: int) -> None:
        if phase == "import" and done == 2 and not meanwhile:
            app.register_payment(creditor=ALTA, invoice="W", amount=Decimal("50.00"), on=ON, ordered=ORDERED,
                                 command_id="at-the-desk")  # fmt: skip
            meanwhile.append(app.claim(ALTA, "W").version)

    report = import_file(app, file, accounts=ACCOUNTS, on=ON, by="kari", batch_size=2, progress=another_writer)

    assert meanwhile and report.counts == {"matched": 4, "unmatched": 0, "duplicates": 0} and report.reconciled
    claim = app.claim(ALTA, "W")
    assert sorted(p.amount for p in claim.facts.payments) == [Decimal("50.00")] + [Decimal("100.00")] * 4
    assert claim.account.total_paid == Decimal("450.00")


def test_a_camt054_file_pays_the_creditor_whose_iban_it_names(tmp_path: Path) -> None:
    app = office()
    h = invoice(app, HAMMERFEST, "H", "300.00")
    file = tmp_path / "in.xml"
    write_camt054(file, [pay(h, "300.00"), pay("55555555", "20.00")], account=norwegian_iban("15033820612"))

    report = import_file(app, file, accounts=ACCOUNTS, on=ON, by="kari")

    assert report.creditors == [HAMMERFEST] and report.counts == {"matched": 1, "unmatched": 1, "duplicates": 0}
    assert app.claim(HAMMERFEST, "H").account.balance() == 0


def test_a_bgmax_file_pays_the_swedish_creditor_by_its_bankgiro(tmp_path: Path) -> None:
    app = office()
    s = invoice(app, SVENLJUNGA, "S", "500.00", debtor="S1")
    file = tmp_path / "in.bgmax"
    write_bgmax(file, [pay(s, "500.00", account=None)], bankgiro="0005001235")

    report = import_file(app, file, accounts=ACCOUNTS, on=ON, by="kari")

    assert report.creditors == [SVENLJUNGA] and report.currency == "SEK" and report.counts["matched"] == 1
    assert app.claim(SVENLJUNGA, "S").facts.payments[0].ordered == ORDERED  # TK15 payment day


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p, k: ocr(p, [pay(k, "1.00", ordered=ON + timedelta(days=1))]), "lies after the import day"),
        (lambda p, k: (write_ocr(p, [pay(k, "1.00")], account="12345678903"), p)[1], "not one of this office"),
        (
            lambda p, k: (write_camt054(p, [pay(k, "1.00")], account=norwegian_iban("15035976237")), p)[1],
            "receives ocr files",
        ),
        (
            lambda p, k: (write_camt054(p, [pay(k, "1.00")], account=norwegian_iban("15033820612"), currency="EUR"), p)[
                1
            ],
            "the creditors' currency is NOK",
        ),
    ],
    ids=["ordered after the import day", "someone else's account", "wrong format for the account", "currency"],
)
def test_a_file_refused_for_the_office_stores_nothing(tmp_path: Path, make: object, message: str) -> None:
    app = office()
    kid = invoice(app, ALTA, "A", "100.00")
    file = make(tmp_path / "bad", kid)  # type: ignore[operator]
    events = app.recorder.max_notification_id()
    with pytest.raises(BankFileError, match=message) as refused:
        import_file(app, file, accounts=ACCOUNTS, on=ON, by="kari")
    assert refused.value.code == "invalid_input"
    assert app.recorder.max_notification_id() == events


def test_the_first_transaction_ordered_after_the_import_day_is_named_even_when_a_later_one_is_later_still(
    tmp_path: Path,
) -> None:
    """The check keeps the first transaction of each order day while it reads the file (no second pass)."""
    app = office()
    kid = invoice(app, ALTA, "A", "100.00")
    late, later = ON + timedelta(days=1), ON + timedelta(days=5)
    file = ocr(tmp_path / "in.ocr", [pay(kid, "1.00"), pay(kid, "2.00", ordered=later), pay(kid, "3.00", ordered=late),
                                     pay(kid, "4.00", ordered=later)])  # fmt: skip
    events = app.recorder.max_notification_id()
    with pytest.raises(BankFileError, match=f"order date {later} .* after the import day") as refused:
        import_file(app, file, accounts=ACCOUNTS, on=ON, by="kari")
    assert refused.value.line == 5  # records 10, 20, the first transaction (30, 31), then the second one
    assert app.recorder.max_notification_id() == events
    report = import_file(app, file, accounts=ACCOUNTS, on=later, by="kari")  # on the latest order day: imported
    assert report.counts["matched"] == 4


def test_a_broken_file_names_the_line_and_stores_nothing(tmp_path: Path) -> None:
    app = office()
    kid = invoice(app, ALTA, "A", "100.00")
    file = ocr(tmp_path / "in.ocr", [pay(kid, "100.00"), pay(kid, "5.00")])
    lines = file.read_text(encoding="latin-1").splitlines()
    lines[-1] = lines[-1][:24] + "9" + lines[-1][25:]  # the end record's amount no longer adds up
    file.write_text("\n".join(lines) + "\n", encoding="latin-1")
    events = app.recorder.max_notification_id()
    with pytest.raises(BankFileError) as refused:
        import_file(app, file, accounts=ACCOUNTS, on=ON, by="kari")
    assert refused.value.line == len(lines)
    assert app.recorder.max_notification_id() == events


def test_the_collector_runs_less_often_while_a_file_is_imported_and_as_before_after(tmp_path: Path) -> None:
    import gc

    from domain.collector import BATCH_THRESHOLDS
    from intake import importer

    before = gc.get_threshold()
    seen: list[tuple[int, ...]] = []

    class Payers:
        def remember(self, rows: list[tuple[str, str | None, str | None, str | None]]) -> None:
            seen.append(gc.get_threshold())

    app = office()
    kid = invoice(app, ALTA, "A", "100.00")
    import_file(
        app, ocr(tmp_path / "in.ocr", [pay(kid, "10.00")]), accounts=ACCOUNTS, on=ON, by="kari", payers=Payers()
    )
    assert seen == [BATCH_THRESHOLDS] and gc.get_threshold() == before
    with importer.fewer_collections():  # nested, and a file refused inside
        with pytest.raises(BankFileError):
            import_file(app, ocr(tmp_path / "bad.ocr", [pay(kid, "1.00", ordered=ON + timedelta(days=1))]),
                        accounts=ACCOUNTS, on=ON, by="kari")  # fmt: skip
        assert gc.get_threshold() == BATCH_THRESHOLDS  # the outer one still runs
    assert gc.get_threshold() == before
