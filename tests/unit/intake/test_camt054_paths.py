"""camt.054 reads each `TxDtls` and `Ntry` in one walk (`_Paths`): what the walk finds for a path is what
lxml's `findtext`/`findall` (how they were read before) find, on hand-made trees and on every element of
the notification in `test_camt054` and of writer files of both versions (001.02 and 001.08)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from lxml import etree

from intake import camt054
from intake.write import BankPayment
from intake.write.camt054 import write_camt054
from tests.unit.intake.test_camt054 import NOTIFICATION

NS = "urn:x"


def q(path: str, namespace: str = NS) -> str:
    return "/".join(f"{{{namespace}}}{step}" for step in path.split("/"))


def text(found: camt054._Found, path: str) -> str | None:
    return camt054._text(found, path)


def test_the_first_element_in_document_order_is_found_as_findtext_finds_it() -> None:
    tx = etree.fromstring(
        f"""<TxDtls xmlns="{NS}">
          <Refs><EndToEndId>E</EndToEndId></Refs>
          <Refs><AcctSvcrRef>  first  </AcctSvcrRef><AcctSvcrRef>second</AcctSvcrRef></Refs>
          <Other><Refs><AcctSvcrRef>not a child of TxDtls</AcctSvcrRef></Refs></Other>
          <Amt Ccy="NOK">1.00</Amt><Empty/><Blank>   </Blank>
        </TxDtls>"""
    )
    paths = camt054._Paths(NS, ("Refs/AcctSvcrRef", "Amt", "Empty", "Blank", "Missing/Deeper"), {})

    found = paths.read(tx)

    assert found["Refs/AcctSvcrRef"] is tx.find(q("Refs/AcctSvcrRef"))
    assert text(found, "Refs/AcctSvcrRef") == "first" == (tx.findtext(q("Refs/AcctSvcrRef")) or "").strip()
    assert found["Amt"].get("Ccy") == "NOK"
    assert (text(found, "Empty"), text(found, "Blank"), text(found, "Missing/Deeper")) == (None, None, None)
    assert set(found) == {"Refs/AcctSvcrRef", "Amt", "Empty", "Blank"}


def test_a_repeated_path_keeps_every_element_in_order_each_with_fields_of_its_own() -> None:
    tx = etree.fromstring(
        f"""<TxDtls xmlns="{NS}">
          <RmtInf><Ustrd>a</Ustrd><Strd><CdtrRefInf><Ref>1</Ref></CdtrRefInf></Strd><Ustrd>b</Ustrd></RmtInf>
          <RmtInf><Strd><RfrdDocAmt><RmtdAmt>2.00</RmtdAmt></RfrdDocAmt><CdtrRefInf><Ref>2</Ref></CdtrRefInf></Strd></RmtInf>
        </TxDtls>"""
    )
    paths = camt054._Paths(NS, (), {"RmtInf/Strd": ("CdtrRefInf/Ref", "RfrdDocAmt/RmtdAmt"), "RmtInf/Ustrd": ()})

    found = paths.read(tx)

    assert found["RmtInf/Ustrd"] == tx.findall(q("RmtInf/Ustrd"))
    assert [(text(s, "CdtrRefInf/Ref"), text(s, "RfrdDocAmt/RmtdAmt")) for s in found["RmtInf/Strd"]] == [
        ("1", None),
        ("2", "2.00"),
    ]


def test_a_path_wanted_inside_another_wanted_path_is_a_mistake_in_the_reader() -> None:
    with pytest.raises(ValueError, match="inside Sts"):
        camt054._Paths(NS, ("Sts", "Sts/Cd"), {})
    with pytest.raises(ValueError, match="wanted twice"):
        camt054._Paths(NS, ("Sts/Cd", "Sts"), {})


def _files(tmp_path: Path) -> list[Path]:
    hand_written = tmp_path / "hand.xml"
    hand_written.write_text(NOTIFICATION, encoding="utf-8")
    files = [hand_written]
    for version in ("02", "08"):
        for batch_size, order_field in ((1, "AccptncDtTm"), (3, "ValDt"), (2, "BookgDt")):
            payments = [
                BankPayment(
                    reference=f"00001020{i:02d}" if i % 3 else "",
                    amount=Decimal(f"{100 + i}.25"),
                    ordered=date(2025, 3, 1 + i % 2),
                    booked=date(2025, 3, 3),
                    payer_name="Kari" if i % 2 else None,
                    payer_account=("NO8330001234567", "12345678903", None)[i % 3],
                    text=("Faktura 1\nmars", None)[i % 2],
                )
                for i in range(7)
            ]
            path = tmp_path / f"w{version}-{batch_size}.xml"
            write_camt054(path, payments, version=version, batch_size=batch_size, order_date_field=order_field)  # type: ignore[arg-type]
            files.append(path)
    return files


def test_every_field_of_every_transaction_and_entry_is_what_findtext_reads(tmp_path: Path) -> None:
    compared = read = 0
    for file in _files(tmp_path):
        root = etree.parse(str(file)).getroot()
        namespace = etree.QName(root).namespace
        assert namespace is not None
        reader = camt054._Reader(namespace)
        for paths, name in ((reader.tx_paths, "TxDtls"), (reader.entry_paths, "Ntry")):
            wanted = [p for _, p, _ in _leaves(paths.tree)]
            for element in root.iter(f"{{{namespace}}}{name}"):
                found = paths.read(element)
                for path in wanted:
                    expected = element.findtext(q(path, namespace))
                    assert text(found, path) == ((expected or "").strip() or None), (path, element.sourceline)
                    compared += 1
                    read += expected is not None
                for strd, fields in zip(
                    element.findall(q("RmtInf/Strd", namespace)), found.get("RmtInf/Strd", []), strict=True
                ):
                    assert text(fields, "CdtrRefInf/Ref") == strd.findtext(q("CdtrRefInf/Ref", namespace))
                assert found.get("RmtInf/Ustrd", []) == element.findall(q("RmtInf/Ustrd", namespace))
    assert compared > 900 and read > 300, (compared, read)  # the files have something to compare


def _leaves(tree: camt054._Tree) -> list[tuple[int, str, camt054._Tree]]:
    nodes = []
    for kind, path, own in tree.values():
        if kind == camt054._DESCEND:
            nodes.extend(_leaves(own))
        elif kind == camt054._FIRST:
            nodes.append((kind, path, own))
    return nodes
