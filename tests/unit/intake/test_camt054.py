"""ISO 20022 camt.054: a hand-written notification (version 001.02), files from the writer (.02 and
.08), and bad files: XSD violations named by element and line, controls, references, versions."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

import intake
from intake import SkipReason
from intake.write import BankPayment
from intake.write.camt054 import write_camt054
from tests.unit.intake.helpers import read_all, refusal

NS02 = "urn:iso:std:iso:20022:tech:xsd:camt.054.001.02"

NOTIFICATION = f"""<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="{NS02}">
  <BkToCstmrDbtCdtNtfctn>
    <GrpHdr>
      <MsgId>DNB-2025-03-05-001</MsgId>
      <CreDtTm>2025-03-05T06:00:00</CreDtTm>
    </GrpHdr>
    <Ntfctn>
      <Id>N-1</Id>
      <CreDtTm>2025-03-05T06:00:00</CreDtTm>
      <Acct><Id><IBAN>NO9386011117947</IBAN></Id></Acct>
      <TxsSummry>
        <TtlCdtNtries><NbOfNtries>5</NbOfNtries><Sum>2160.00</Sum></TtlCdtNtries>
        <TtlDbtNtries><NbOfNtries>1</NbOfNtries><Sum>99.00</Sum></TtlDbtNtries>
      </TxsSummry>
      <Ntry>
        <Amt Ccy="NOK">1500.00</Amt>
        <CdtDbtInd>CRDT</CdtDbtInd>
        <Sts>BOOK</Sts>
        <BookgDt><Dt>2025-03-04</Dt></BookgDt>
        <ValDt><Dt>2025-03-04</Dt></ValDt>
        <AcctSvcrRef>E1</AcctSvcrRef>
        <BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>RCDT</Cd><SubFmlyCd>DMCT</SubFmlyCd></Fmly></Domn></BkTxCd>
        <NtryDtls>
          <Btch><NbOfTxs>2</NbOfTxs><TtlAmt Ccy="NOK">1500.00</TtlAmt></Btch>
          <TxDtls>
            <Refs><AcctSvcrRef>ARK-001</AcctSvcrRef><EndToEndId>NOTPROVIDED</EndToEndId></Refs>
            <AmtDtls><TxAmt><Amt Ccy="NOK">1000.00</Amt></TxAmt></AmtDtls>
            <RltdPties>
              <Dbtr><Nm>Ola Nordmann</Nm></Dbtr>
              <DbtrAcct><Id><IBAN>NO8330001234567</IBAN></Id></DbtrAcct>
            </RltdPties>
            <RmtInf><Strd><CdtrRefInf><Tp><CdOrPrtry><Cd>SCOR</Cd></CdOrPrtry></Tp><Ref>0000102003</Ref></CdtrRefInf></Strd></RmtInf>
            <RltdDts><AccptncDtTm>2025-03-01T22:15:00+01:00</AccptncDtTm></RltdDts>
          </TxDtls>
          <TxDtls>
            <Refs><AcctSvcrRef>ARK-002</AcctSvcrRef></Refs>
            <AmtDtls><TxAmt><Amt Ccy="NOK">500.00</Amt></TxAmt></AmtDtls>
            <RmtInf>
              <Strd><CdtrRefInf><Ref>0000102011</Ref></CdtrRefInf></Strd>
              <Strd>
                <RfrdDocAmt><RmtdAmt Ccy="NOK">200.00</RmtdAmt></RfrdDocAmt>
                <CdtrRefInf><Ref>0000102029</Ref></CdtrRefInf>
              </Strd>
            </RmtInf>
          </TxDtls>
        </NtryDtls>
      </Ntry>
      <Ntry>
        <Amt Ccy="NOK">250.00</Amt>
        <CdtDbtInd>CRDT</CdtDbtInd>
        <Sts>BOOK</Sts>
        <BookgDt><Dt>2025-03-03</Dt></BookgDt>
        <AcctSvcrRef>E2</AcctSvcrRef>
        <BkTxCd/>
        <AddtlNtryInf>Innbetaling uten KID</AddtlNtryInf>
      </Ntry>
      <Ntry>
        <Amt Ccy="NOK">99.00</Amt>
        <CdtDbtInd>DBIT</CdtDbtInd>
        <Sts>BOOK</Sts>
        <AcctSvcrRef>E3</AcctSvcrRef>
        <BkTxCd/>
      </Ntry>
      <Ntry>
        <Amt Ccy="NOK">40.00</Amt>
        <CdtDbtInd>CRDT</CdtDbtInd>
        <RvslInd>true</RvslInd>
        <Sts>BOOK</Sts>
        <AcctSvcrRef>E4</AcctSvcrRef>
        <BkTxCd/>
      </Ntry>
      <Ntry>
        <Amt Ccy="NOK">70.00</Amt>
        <CdtDbtInd>CRDT</CdtDbtInd>
        <Sts>PDNG</Sts>
        <AcctSvcrRef>E5</AcctSvcrRef>
        <BkTxCd/>
      </Ntry>
      <Ntry>
        <Amt Ccy="NOK">300.00</Amt>
        <CdtDbtInd>CRDT</CdtDbtInd>
        <Sts>BOOK</Sts>
        <BookgDt><Dt>2025-03-05</Dt></BookgDt>
        <ValDt><Dt>2025-03-04</Dt></ValDt>
        <NtryRef>x</NtryRef>
        <AcctSvcrRef>E6</AcctSvcrRef>
        <BkTxCd/>
        <NtryDtls>
          <TxDtls>
            <RmtInf><Ustrd>Faktura 4711</Ustrd><Ustrd>mars</Ustrd></RmtInf>
          </TxDtls>
        </NtryDtls>
      </Ntry>
    </Ntfctn>
  </BkToCstmrDbtCdtNtfctn>
</Document>
""".replace("        <NtryRef>x</NtryRef>\n", "")


def write(tmp_path: Path, text: str, name: str = "n.xml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def line_of(text: str, needle: str) -> int:
    return text[: text.index(needle)].count("\n") + 1


def test_each_booked_credit_transaction_is_read(tmp_path: Path) -> None:
    summary, txs = read_all(write(tmp_path, NOTIFICATION))

    assert summary.format is intake.FileFormat.CAMT054 and summary.version == "camt.054.001.02"
    assert [(t.reference, t.structured, t.amount) for t in txs] == [
        ("0000102003", True, Decimal("1000.00")),
        ("0000102011", True, Decimal("500.00")),
        ("", False, Decimal("250.00")),
        ("Faktura 4711 mars", False, Decimal("300.00")),
    ]
    assert summary.credit_amount("NOK") == Decimal("2050.00")


def test_the_order_date_is_acceptance_else_value_else_booking_date(tmp_path: Path) -> None:
    _, txs = read_all(write(tmp_path, NOTIFICATION))

    assert [(t.ordered, t.ordered_from) for t in txs] == [
        (date(2025, 3, 1), "TxDtls/RltdDts/AccptncDtTm"),
        (date(2025, 3, 4), "Ntry/ValDt"),
        (date(2025, 3, 3), "Ntry/BookgDt"),
        (date(2025, 3, 4), "Ntry/ValDt"),
    ]


def test_the_transaction_id_is_the_banks_reference_under_the_account(tmp_path: Path) -> None:
    _, txs = read_all(write(tmp_path, NOTIFICATION))

    assert [t.transaction_id for t in txs] == [
        "camt054:NO9386011117947:ARK-001",
        "camt054:NO9386011117947:ARK-002",
        "camt054:NO9386011117947:E2/1",
        "camt054:NO9386011117947:E6/1",
    ]


def test_payer_extra_references_and_element_path_are_kept(tmp_path: Path) -> None:
    _, txs = read_all(write(tmp_path, NOTIFICATION))

    first, second = txs[0], txs[1]
    assert (first.payer_name, first.payer_account) == ("Ola Nordmann", "NO8330001234567")
    assert first.element == "/Document/BkToCstmrDbtCdtNtfctn/Ntfctn[1]/Ntry[1]/NtryDtls[1]/TxDtls[1]"
    assert second.extra_references == (intake.ExtraReference("0000102029", Decimal("200.00")),)
    assert (txs[2].element, txs[2].text) == (
        "/Document/BkToCstmrDbtCdtNtfctn/Ntfctn[1]/Ntry[2]",
        "Innbetaling uten KID",
    )
    assert txs[3].text == "Faktura 4711\nmars"


def test_debits_reversals_and_pending_entries_are_counted_not_read(tmp_path: Path) -> None:
    summary, _ = read_all(write(tmp_path, NOTIFICATION))

    assert summary.skipped == {SkipReason.DEBIT: 1, SkipReason.REVERSAL: 1, SkipReason.NOT_BOOKED: 1}


@pytest.mark.parametrize("version", ["02", "08"])
@pytest.mark.parametrize("batch_size", [1, 3])
def test_the_writers_files_validate_and_read_back(tmp_path: Path, version: str, batch_size: int) -> None:
    payments = [
        BankPayment(f"00001020{i:02d}", Decimal(f"{100 + i}.25"), date(2025, 3, 1), date(2025, 3, 3), "Kari", None)
        for i in range(7)
    ]
    path = tmp_path / "w.xml"
    write_camt054(path, payments, version=version, batch_size=batch_size, validate=True)

    summary, txs = read_all(path)

    assert summary.version == f"camt.054.001.{version}"
    assert [(t.reference, t.amount, t.ordered, t.payer_name) for t in txs] == [
        (p.reference, p.amount, p.ordered, p.payer_name) for p in payments
    ]


# ---- bad files -------------------------------------------------------------------------------------


def test_a_negative_amount_breaks_the_xsd_and_is_named_by_element_and_line(tmp_path: Path) -> None:
    text = NOTIFICATION.replace('<Amt Ccy="NOK">500.00</Amt>', '<Amt Ccy="NOK">-500.00</Amt>')

    error = refusal(write(tmp_path, text))

    assert error.line == line_of(text, "-500.00")
    assert error.element == "/Document/BkToCstmrDbtCdtNtfctn/Ntfctn[1]/Ntry[1]/NtryDtls[1]/TxDtls[2]/AmtDtls/TxAmt/Amt"
    assert error.field == "Amt" and "minInclusive" in error.rule and "camt.054.001.02" in error.rule


def test_an_element_the_xsd_does_not_allow_is_named(tmp_path: Path) -> None:
    text = NOTIFICATION.replace("<AcctSvcrRef>E4</AcctSvcrRef>", "<AcctSvcrRef>E4</AcctSvcrRef><Kid>1</Kid>")

    error = refusal(write(tmp_path, text))

    assert (error.line, error.field) == (line_of(text, "<Kid>"), "Kid")
    assert error.element == "/Document/BkToCstmrDbtCdtNtfctn/Ntfctn[1]/Ntry[4]/Kid"
    assert "not expected" in error.rule


def test_a_wrong_currency_code_is_named_by_its_attribute(tmp_path: Path) -> None:
    text = NOTIFICATION.replace('<Amt Ccy="NOK">99.00</Amt>', '<Amt Ccy="nok">99.00</Amt>')

    error = refusal(write(tmp_path, text))

    assert (error.line, error.field) == (line_of(text, '"nok"'), "Amt/@Ccy")


def test_a_truncated_file_is_not_well_formed(tmp_path: Path) -> None:
    text = NOTIFICATION[: NOTIFICATION.index("<Ntry>", 2000)]

    error = refusal(write(tmp_path, text))

    assert error.field == "XML" and error.line is not None and error.line > 40


def test_an_entry_whose_transactions_do_not_add_up_is_refused(tmp_path: Path) -> None:
    text = NOTIFICATION.replace('<Amt Ccy="NOK">1500.00</Amt>', '<Amt Ccy="NOK">1600.00</Amt>').replace(
        "<Sum>2160.00</Sum>", "<Sum>2260.00</Sum>"
    )

    error = refusal(write(tmp_path, text))

    assert error.element == "/Document/BkToCstmrDbtCdtNtfctn/Ntfctn[1]/Ntry[1]"
    assert error.rule == "the entry's amount 1600.00 differs from the sum 1500.00 of its TxDtls"


def test_a_wrong_transaction_summary_is_refused(tmp_path: Path) -> None:
    error = refusal(write(tmp_path, NOTIFICATION.replace("<Sum>2160.00</Sum>", "<Sum>2160.01</Sum>")))

    assert error.element == "/Document/BkToCstmrDbtCdtNtfctn/Ntfctn[1]/TxsSummry/TtlCdtNtries"
    assert error.rule == "says 2160.01 but the entries add up to 2160.00"


def test_a_wrong_batch_count_is_refused(tmp_path: Path) -> None:
    error = refusal(write(tmp_path, NOTIFICATION.replace("<NbOfTxs>2</NbOfTxs>", "<NbOfTxs>3</NbOfTxs>")))

    assert error.field == "NbOfTxs" and error.rule == "says 3 transactions but the entry details hold 2"


def test_more_than_two_decimals_is_refused(tmp_path: Path) -> None:
    text = NOTIFICATION.replace('<Amt Ccy="NOK">300.00</Amt>', '<Amt Ccy="NOK">300.005</Amt>')

    error = refusal(write(tmp_path, text))

    assert error.field == "Amt" and "more than two decimals" in error.rule


def test_a_transaction_without_any_bank_reference_is_refused(tmp_path: Path) -> None:
    error = refusal(write(tmp_path, NOTIFICATION.replace("<AcctSvcrRef>E2</AcctSvcrRef>", "")))

    assert error.element == "/Document/BkToCstmrDbtCdtNtfctn/Ntfctn[1]/Ntry[2]"
    assert "could not be imported exactly once" in error.rule


def test_the_same_bank_reference_twice_is_refused(tmp_path: Path) -> None:
    error = refusal(write(tmp_path, NOTIFICATION.replace("ARK-002", "ARK-001")))

    assert error.field == "transaction id" and "appears twice" in error.rule


def test_a_version_without_a_shipped_xsd_is_refused(tmp_path: Path) -> None:
    error = refusal(write(tmp_path, NOTIFICATION.replace(NS02, NS02.replace(".02", ".05"))))

    assert isinstance(error, intake.UnknownFormat)
    assert error.rule == "camt.054.001.05 is not supported (supported: 001.02, 001.08)"


def test_xml_in_another_namespace_is_not_recognised(tmp_path: Path) -> None:
    path = write(tmp_path, '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"/>')

    with pytest.raises(intake.UnknownFormat, match="not a camt.054 notification"):
        intake.check(path)


def test_an_external_entity_is_never_read(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET")
    text = NOTIFICATION.replace(
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE Document [<!ENTITY s SYSTEM "file://{secret}">]>',
    ).replace("Faktura 4711", "&s;")

    try:
        _, txs = read_all(write(tmp_path, text))
    except intake.BankFileError as error:
        assert "TOP-SECRET" not in str(error)
    else:
        assert all("TOP-SECRET" not in (t.text or "") + t.reference for t in txs)
