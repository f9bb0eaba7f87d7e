"""Importing with the check in a second process (``import_file(..., ahead=True)``): the batches are prepared while
the file is checked and recorded after the verdict — the same events as the one way, nothing of a refused file,
each transaction once when another writer gets in between or the import is stopped."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import intake.importer
from domain.application import CollectionApp
from intake import BankFileError, check
from intake.accounts import norwegian_iban
from intake.check_process import CheckProcess, CheckProcessFailed
from intake.importer import import_file
from intake.model import FileFormat
from intake.write.camt054 import write_camt054
from tests.unit.intake.helpers import lines_of, put, write_lines
from tests.unit.intake.test_importer import ACCOUNTS, ALTA, HAMMERFEST, ON, ORDERED, invoice, ocr, office, pay


class Payers:
    def __init__(self) -> None:
        self.rows: list[tuple[str, str | None, str | None, str | None]] = []

    def remember(self, rows: list[tuple[str, str | None, str | None, str | None]]) -> None:
        self.rows.extend(rows)


def stored(app: CollectionApp) -> list[tuple[str, int, str, dict[str, Any]]]:
    """Every stored event as (aggregate, version, topic, state without its timestamp), in each aggregate's order:
    what must not differ (which aggregate's events come first within one transaction may)."""
    out = []
    for n in app.recorder.select_notifications(start=1, limit=1_000_000):
        state = app.mapper.transcoder.decode(n.state)
        state.pop("timestamp", None)
        out.append((str(n.originator_id), n.originator_version, n.topic, state))
    return sorted(out, key=lambda e: (e[0], e[1]))


def office_with_claims() -> tuple[CollectionApp, list[str]]:
    app = office()
    return app, [invoice(app, ALTA, f"I{n}", "100.00") for n in range(5)]


def payments(kids: list[str]) -> list[Any]:
    """Matched, overpaid (a surplus, refunded), unknown KIDs (suspense), a claim paid twice in the file."""
    return [
        pay(kids[0], "40.00"),
        pay(kids[1], "130.00"),
        pay("99999999", "12.00"),
        pay(kids[2], "100.00"),
        pay(kids[0], "60.00"),
        pay(kids[3], "10.00", account=None),
        pay("88888888", "5.00"),
        pay(kids[4], "99.99"),
    ]


def test_ahead_stores_the_same_events_and_reports_the_same_as_the_one_way(tmp_path: Path) -> None:
    results = []
    for ahead in (False, True):
        app, kids = office_with_claims()
        earlier = ocr(tmp_path / f"earlier-{ahead}.ocr", payments(kids)[:1])  # Nets sends its first payment again
        import_file(app, earlier, accounts=ACCOUNTS, on=ON, by="kari", ahead=False)
        file = ocr(tmp_path / "in.ocr", payments(kids))
        payers = Payers()
        report = import_file(app, file, accounts=ACCOUNTS, on=ON, by="kari", batch_size=3, ahead=ahead, payers=payers)
        results.append((stored(app), report.as_json() | {"file": None}, payers.rows))

    (one_way, expected, remembered), (ahead_events, ahead_report, ahead_payers) = results
    assert ahead_events == one_way
    assert ahead_report == expected and ahead_payers == remembered
    assert expected["matched"] == 5 and expected["unmatched"] == 2 and expected["duplicates"] == 1
    assert expected["reconciliation"]["holds"] and expected["refunds_requested"] == 1


def test_a_camt054_file_is_imported_ahead_as_the_one_way_does(tmp_path: Path) -> None:
    results = []
    for ahead in (False, True):
        app = office()
        h = invoice(app, HAMMERFEST, "H", "300.00")
        file = tmp_path / "in.xml"
        write_camt054(file, [pay(h, "300.00"), pay("55555555", "20.00")], account=norwegian_iban("15033820612"))
        report = import_file(app, file, accounts=ACCOUNTS, on=ON, by="kari", ahead=ahead)
        results.append((stored(app), report.counts))
    assert results[0] == results[1] and results[1][1] == {"matched": 1, "unmatched": 1, "duplicates": 0}


def test_a_file_refused_at_its_last_record_stores_nothing_though_its_batches_were_prepared(tmp_path: Path) -> None:
    app, kids = office_with_claims()
    good = ocr(tmp_path / "good.ocr", payments(kids))
    lines = lines_of(good)
    bad = write_lines(tmp_path / "bad.ocr", [*lines[:-1], put(lines[-1], 25, f"{1:017d}")])
    before = app.recorder.max_notification_id()
    payers = Payers()

    with pytest.raises(BankFileError) as refused:
        import_file(app, bad, accounts=ACCOUNTS, on=ON, by="kari", batch_size=2, ahead=True, payers=payers)

    with pytest.raises(BankFileError) as one_way:
        check(bad)
    assert (refused.value.field, refused.value.line, refused.value.rule) == (
        one_way.value.field, one_way.value.line, one_way.value.rule,
    )  # fmt: skip
    assert refused.value.line == len(lines) and "total amount" in refused.value.field
    assert app.recorder.max_notification_id() == before and payers.rows == []


def test_a_payment_ordered_after_the_import_day_refuses_the_file_after_the_verdict(tmp_path: Path) -> None:
    app, kids = office_with_claims()
    file = ocr(tmp_path / "late.ocr", [pay(kids[0], "1.00"), pay(kids[1], "1.00", ordered=ON + timedelta(days=1))])
    before = app.recorder.max_notification_id()

    with pytest.raises(BankFileError, match="lies after the import day"):
        import_file(app, file, accounts=ACCOUNTS, on=ON, by="kari", batch_size=1, ahead=True)

    assert app.recorder.max_notification_id() == before


def test_a_claim_another_writer_pays_before_the_prepared_batches_are_recorded_is_landed_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The prepared batch paying the claim fails whole on its version; from there the import goes the one way."""
    app, kids = office_with_claims()
    file = ocr(tmp_path / "in.ocr", payments(kids))
    verdict = intake.importer._verdict

    def desk_payment_first(*args: Any) -> Any:
        app.register_payment(creditor=ALTA, invoice="I4", amount=Decimal("50.00"), on=ON, ordered=ORDERED,
                             command_id="at-the-desk")  # fmt: skip
        return verdict(*args)

    register = intake.importer._register
    went_on_from: list[int] = []

    def the_one_way(importing: Any, checked: Any, report: Any, bank_file: Any, creditor_of: Any) -> None:
        went_on_from.append(bank_file.position if bank_file is not None else 0)
        register(importing, checked, report, bank_file, creditor_of)

    monkeypatch.setattr(intake.importer, "_verdict", desk_payment_first)
    monkeypatch.setattr(intake.importer, "_register", the_one_way)
    report = import_file(app, file, accounts=ACCOUNTS, on=ON, by="kari", batch_size=1, ahead=True)

    # recorded RECORD_GROUP (4) prepared batches at a time: the first four, then the next (paying I4) failed whole
    assert went_on_from == [4]
    assert report.counts == {"matched": 6, "unmatched": 2, "duplicates": 0} and report.reconciled
    assert report.resumed_from == 0
    claim = app.claim(ALTA, "I4")
    assert sorted(p.amount for p in claim.facts.payments) == [Decimal("50.00"), Decimal("99.99")]
    assert [len(app.claim(ALTA, f"I{n}").facts.payments) for n in range(5)] == [2, 1, 1, 1, 2]
    stored_file = app.bank_file(report.digest)
    assert stored_file is not None and stored_file.complete and stored_file.position == 8


def test_an_import_ahead_stopped_while_recording_goes_on_after_its_checkpoint(tmp_path: Path) -> None:
    app, kids = office_with_claims()
    file = ocr(tmp_path / "in.ocr", payments(kids))

    class Killed(Exception):
        pass

    def kill_after_the_first_group(phase: str, done: int, total: int) -> None:
        if phase == "import" and done == 4:
            raise Killed

    with pytest.raises(Killed):
        import_file(app, file, accounts=ACCOUNTS, on=ON, by="kari", batch_size=1, ahead=True,
                    progress=kill_after_the_first_group)  # fmt: skip
    digest = hashlib.sha256(file.read_bytes()).hexdigest()
    partly = app.bank_file(digest)
    assert partly is not None and partly.position == 4 and not partly.complete

    report = import_file(app, file, accounts=ACCOUNTS, on=ON, by="kari", batch_size=1, ahead=True)

    assert report.resumed_from == 4 and report.reconciled
    assert report.counts == {"matched": 6, "unmatched": 2, "duplicates": 0}
    assert [len(app.claim(ALTA, f"I{n}").facts.payments) for n in range(5)] == [2, 1, 1, 1, 1]


def test_the_check_process_hands_over_what_check_reads_and_its_refusal(tmp_path: Path) -> None:
    app, kids = office_with_claims()
    file = ocr(tmp_path / "in.ocr", payments(kids))
    digest = hashlib.sha256(file.read_bytes()).hexdigest()
    with check(file) as alone:
        expected = list(alone.transactions())

    with CheckProcess(file, FileFormat.OCR, digest) as checking:
        handed = list(checking.transactions())
        with checking.verdict() as checked:
            assert checked.summary == alone.summary and list(checked.transactions()) == expected
    assert handed == expected

    with CheckProcess(file, FileFormat.OCR, digest, accounts={"99999999999"}) as checking:
        with pytest.raises(BankFileError, match="not one of this office's accounts") as refused:
            checking.verdict()
    assert refused.value.field == "payee account" and refused.value.line == expected[0].line


def test_a_check_process_that_ends_without_a_verdict_is_an_error_not_a_verdict(tmp_path: Path) -> None:
    gone = tmp_path / "gone.ocr"
    with CheckProcess(gone, FileFormat.OCR, "0" * 64) as checking:
        assert list(checking.transactions()) == []
        with pytest.raises(CheckProcessFailed, match="FileNotFoundError"):
            checking.verdict()
