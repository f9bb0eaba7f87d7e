"""Write → read gives the same payments, for every format, whatever the payments (hypothesis)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from tempfile import TemporaryDirectory

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from intake.write import BankPayment
from intake.write.bgmax import write_bgmax
from intake.write.camt054 import write_camt054
from intake.write.ocr import write_ocr
from tests.unit.intake.helpers import read_all

amounts = st.integers(min_value=1, max_value=10**11).map(lambda cents: Decimal(cents).scaleb(-2))
days = st.dates(min_value=date(2001, 1, 1), max_value=date(2068, 12, 31))
kids = st.from_regex(r"[0-9]{2,24}[0-9-]", fullmatch=True)
names = st.text(alphabet="abcdefghijklmnopqrstuvwxyzæøåÆØÅ ", min_size=1, max_size=35).map(str.strip).filter(bool)
lines = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789 .,", min_size=1, max_size=50).map(str.strip).filter(bool)

PROFILE = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def ocr_payments(draw: st.DrawFn) -> BankPayment:
    ordered = draw(days)
    return BankPayment(
        reference=draw(kids),
        amount=draw(amounts),
        ordered=ordered,
        booked=draw(st.dates(min_value=ordered, max_value=date(2068, 12, 31))),
        payer_account=draw(st.one_of(st.none(), st.from_regex(r"[1-9][0-9]{10}", fullmatch=True))),
    )


@PROFILE
@given(st.lists(ocr_payments(), min_size=1, max_size=30), st.integers(min_value=1, max_value=7))
def test_ocr_giro_written_by_netsgiro_reads_back_the_same(payments: list[BankPayment], per_assignment: int) -> None:
    with TemporaryDirectory() as folder:
        path = Path(folder) / "f.ocr"
        write_ocr(path, payments, assignment_size=per_assignment)
        summary, txs = read_all(path)

    assert [(t.reference, t.amount, t.ordered, t.booked, t.payer_account) for t in txs] == [
        (p.reference, p.amount, p.ordered, p.booked, p.payer_account) for p in payments
    ]
    assert summary.credit_amount("NOK") == sum(p.amount for p in payments)


@st.composite
def camt_payments(draw: st.DrawFn) -> BankPayment:
    ordered = draw(days)
    return BankPayment(
        reference=draw(st.one_of(st.just(""), kids.filter(lambda k: len(k) <= 35))),
        amount=draw(amounts),
        ordered=ordered,
        booked=draw(st.dates(min_value=ordered, max_value=date(2068, 12, 31))),
        payer_name=draw(st.one_of(st.none(), names)),
        payer_account=draw(st.one_of(st.none(), st.just("NO8330001234567"), st.just("12345678903"))),
        text=draw(st.one_of(st.none(), lines)),
    )


@PROFILE
@given(
    st.lists(camt_payments(), min_size=1, max_size=20),
    st.sampled_from(["02", "08"]),
    st.integers(min_value=1, max_value=4),
    st.sampled_from(["AccptncDtTm", "ValDt", "BookgDt"]),
)
def test_camt054_reads_back_the_same(
    payments: list[BankPayment], version: str, batch_size: int, order_field: str
) -> None:
    with TemporaryDirectory() as folder:
        path = Path(folder) / "f.xml"
        write_camt054(path, payments, version=version, batch_size=batch_size, order_date_field=order_field)  # type: ignore[arg-type]
        _, txs = read_all(path)

    assert [(t.reference, t.structured, t.amount, t.ordered, t.payer_name, t.payer_account, t.text) for t in txs] == [
        (p.reference or (p.text or ""), bool(p.reference), p.amount, p.ordered, p.payer_name, p.payer_account, p.text)
        for p in payments
    ]


@st.composite
def bgmax_payments(draw: st.DrawFn) -> BankPayment:
    return BankPayment(
        reference=draw(st.one_of(st.just(""), st.from_regex(r"[0-9]{2,25}", fullmatch=True))),
        amount=draw(amounts),
        ordered=draw(st.dates(min_value=date(2025, 1, 1), max_value=date(2025, 1, 5))),
        payer_name=draw(st.one_of(st.none(), names)),
        payer_account=draw(st.one_of(st.none(), st.from_regex(r"[0-9]{3}[1-9][0-9]{6}", fullmatch=True))),
        text=draw(st.one_of(st.none(), st.lists(lines, min_size=1, max_size=3).map("\n".join))),
    )


@PROFILE
@given(st.lists(bgmax_payments(), min_size=1, max_size=30))
def test_bgmax_reads_back_the_same(payments: list[BankPayment]) -> None:
    payments = sorted(payments, key=lambda p: p.ordered)  # one deposit per payment day
    with TemporaryDirectory() as folder:
        path = Path(folder) / "f.bgmax"
        write_bgmax(path, payments)
        summary, txs = read_all(path)

    assert [(t.reference, t.amount, t.ordered, t.payer_name, t.payer_account, t.text) for t in txs] == [
        (p.reference, p.amount, p.ordered, p.payer_name, p.payer_account, p.text) for p in payments
    ]
    assert all(t.structured == bool(p.reference) for t, p in zip(txs, payments, strict=True))
    assert summary.credit_amount("SEK") == sum(p.amount for p in payments)
