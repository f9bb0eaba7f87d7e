"""Refunds out: pain.001 files are XSD-valid on write, or not written at all."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from lxml import etree

from intake import xsd
from intake.pain001 import InvalidRefundFile, Payer, Refund, write_pain001

OFFICE = Payer("Vest-Finnmark kemnerkontor", "NO9386011117947", organisation_number="974760673", bic="DNBANOKK")
REFUNDS = [
    Refund("RF-2025-0001", Decimal("120.00"), "NOK", "Ola Nordmann", "NO8330001234567", "Tilbakebetaling faktura 123"),
    Refund("RF-2025-0002", Decimal("5.50"), "NOK", "Kari Nordmann", "86011117947", "Overskudd", account_scheme="BBAN"),
    Refund("RF-2025-0003", Decimal("50.00"), "SEK", "Kalles Plåt AB", "0003783511", "Återbetalning", "BGNR"),
]


def write(path: Path, refunds: list[Refund], version: str = "03") -> object:
    return write_pain001(
        path,
        refunds,
        payer=OFFICE,
        message_id="KRAVSAK-REFUND-1",
        created=datetime(2025, 3, 5, 12, 0),
        execution_date=date(2025, 3, 6),
        version=version,
    )


@pytest.mark.parametrize("version", ["03", "09"])
def test_a_refund_file_is_valid_against_the_official_xsd(tmp_path: Path, version: str) -> None:
    path = tmp_path / "refunds.xml"
    written = write(path, REFUNDS, version)

    document = etree.parse(str(path))
    assert xsd.schema(f"pain.001.001.{version}").validate(document)
    assert written.count == 3 and written.control_sum == Decimal("175.50")  # type: ignore[attr-defined]
    ns = {"p": f"urn:iso:std:iso:20022:tech:xsd:pain.001.001.{version}"}
    assert document.xpath("//p:CdtTrfTxInf/p:PmtId/p:EndToEndId/text()", namespaces=ns) == [
        "RF-2025-0001",
        "RF-2025-0002",
        "RF-2025-0003",
    ]
    assert document.xpath("count(//p:PmtInf)", namespaces=ns) == 2  # one per currency
    assert document.xpath("//p:CdtrAcct/p:Id/p:Othr[p:SchmeNm/p:Prtry='BGNR']/p:Id/text()", namespaces=ns) == [
        "0003783511"
    ]


def test_a_file_that_would_break_the_xsd_is_not_written(tmp_path: Path) -> None:
    path = tmp_path / "refunds.xml"
    too_long = Refund("R" * 36, Decimal("1.00"), "NOK", "x", "NO8330001234567", "y")

    with pytest.raises(InvalidRefundFile) as caught:
        write(path, [too_long])

    assert "/Document/CstmrCdtTrfInitn/PmtInf/CdtTrfTxInf/PmtId/EndToEndId" in str(caught.value)
    assert not path.exists() and list(tmp_path.iterdir()) == []


def test_an_existing_file_is_replaced_whole_or_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "refunds.xml"
    write(path, REFUNDS[:1])
    before = path.read_bytes()

    with pytest.raises(InvalidRefundFile):
        write(path, [Refund("R-1", Decimal("1.00"), "NOK", "x" * 141, "NO8330001234567", "y")])

    assert path.read_bytes() == before


@pytest.mark.parametrize(
    "refund",
    [
        Refund("R-1", Decimal("0.00"), "NOK", "x", "NO8330001234567", "y"),
        Refund("R-1", Decimal("1.001"), "NOK", "x", "NO8330001234567", "y"),
        Refund("R-1", Decimal("1.00"), "NOK", "x", "not an iban", "y"),
    ],
)
def test_amounts_and_accounts_are_checked_before_the_xsd(tmp_path: Path, refund: Refund) -> None:
    with pytest.raises(ValueError):
        write(tmp_path / "r.xml", [refund])
