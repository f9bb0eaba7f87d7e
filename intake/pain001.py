"""Refunds out: ISO 20022 pain.001 (CustomerCreditTransferInitiation), versions 001.001.03 and .09.

The collection office pays money back (a claim's surplus, suspense that belongs to no claim) by
handing its bank a credit-transfer file. One payment information block per currency, one
`CdtTrfTxInf` per refund, `EndToEndId` = the refund's id so the bank's status report and the
payee's statement lead back to it. The document is built in memory (a refund run is small), and
validated against the official XSD BEFORE anything is written; the file then appears whole (written
beside and renamed), or not at all.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from itertools import groupby
from pathlib import Path
from typing import Any, Literal, cast

from lxml import etree

from intake import xsd

AccountScheme = Literal["IBAN", "BBAN", "BGNR"]
_IBAN = re.compile(r"[A-Z]{2}[0-9]{2}[a-zA-Z0-9]{1,30}")
VERSIONS = ("03", "09")


@dataclass(frozen=True)
class Refund:
    """One credit transfer back to a payer. `account_scheme`: IBAN, BBAN (a Norwegian 11-digit
    account) or BGNR (a Swedish bankgiro number)."""

    refund_id: str  # EndToEndId: at most 35 characters
    amount: Decimal
    currency: str
    name: str
    account: str
    remittance: str  # what the payee's statement shows, at most 140 characters
    account_scheme: AccountScheme = "IBAN"


@dataclass(frozen=True)
class Payer:
    """The collection office's side: who pays the refunds, from which account."""

    name: str
    account: str
    account_scheme: AccountScheme = "IBAN"
    organisation_number: str | None = None
    bic: str | None = None


@dataclass(frozen=True)
class WrittenFile:
    path: Path
    message_id: str
    count: int
    control_sum: Decimal


class InvalidRefundFile(ValueError):
    """The document breaks the pain.001 XSD; nothing was written. `errors`: (line, message) pairs."""

    def __init__(self, message: str, errors: list[tuple[int, str]]) -> None:
        shown = "; ".join(f"line {line}: {text}" for line, text in errors[:5])
        super().__init__(f"{message} does not validate: {shown}")
        self.errors = errors


def _sub(parent: Any, name: str, text: str | None = None, **attrs: str) -> Any:
    """A child in its parent's namespace."""
    element = etree.SubElement(parent, etree.QName(etree.QName(parent).namespace, name), attrib=attrs or None)
    if text is not None:
        element.text = text
    return element


def _account(parent: Any, name: str, account: str, scheme: AccountScheme) -> None:
    identification = _sub(_sub(parent, name), "Id")
    if scheme == "IBAN":
        if not _IBAN.fullmatch(account):
            raise ValueError(f"{account!r} is not an IBAN")
        _sub(identification, "IBAN", account)
        return
    other = _sub(identification, "Othr")
    _sub(other, "Id", account)
    scheme_name = _sub(other, "SchmeNm")
    if scheme == "BBAN":
        _sub(scheme_name, "Cd", "BBAN")
    else:
        _sub(scheme_name, "Prtry", "BGNR")


def _amount(value: Decimal) -> str:
    if value <= 0 or value != value.quantize(Decimal("0.01")):
        raise ValueError(f"a refund is a positive amount with at most two decimals, got {value}")
    return f"{value:.2f}"


def build(
    refunds: Sequence[Refund],
    *,
    payer: Payer,
    message_id: str,
    created: datetime,
    execution_date: date,
    version: str = "03",
) -> Any:
    """The pain.001 document (an lxml element tree), not yet validated."""
    if version not in VERSIONS:
        raise ValueError(f"pain.001.001.{version}: supported are {', '.join(VERSIONS)}")
    if not refunds:
        raise ValueError("a credit-transfer file needs at least one refund")
    namespace = f"urn:iso:std:iso:20022:tech:xsd:pain.001.001.{version}"
    document = etree.fromstring(f'<Document xmlns="{namespace}"/>')
    root = _sub(document, "CstmrCdtTrfInitn")
    header = _sub(root, "GrpHdr")
    _sub(header, "MsgId", message_id)
    _sub(header, "CreDtTm", created.isoformat(timespec="seconds"))
    _sub(header, "NbOfTxs", str(len(refunds)))
    _sub(header, "CtrlSum", f"{sum((r.amount for r in refunds), Decimal(0)):.2f}")
    initiator = _sub(header, "InitgPty")
    _sub(initiator, "Nm", payer.name)
    if payer.organisation_number:
        other = _sub(_sub(_sub(initiator, "Id"), "OrgId"), "Othr")
        _sub(other, "Id", payer.organisation_number)
    ordered = sorted(refunds, key=lambda r: r.currency)
    for n, (currency, group) in enumerate(groupby(ordered, key=lambda r: r.currency), start=1):
        items = list(group)
        info = _sub(root, "PmtInf")
        _sub(info, "PmtInfId", f"{message_id}-{n}")
        _sub(info, "PmtMtd", "TRF")
        _sub(info, "NbOfTxs", str(len(items)))
        _sub(info, "CtrlSum", f"{sum((r.amount for r in items), Decimal(0)):.2f}")
        if version == "03":
            _sub(info, "ReqdExctnDt", execution_date.isoformat())
        else:
            _sub(_sub(info, "ReqdExctnDt"), "Dt", execution_date.isoformat())
        _sub(_sub(info, "Dbtr"), "Nm", payer.name)
        _account(info, "DbtrAcct", payer.account, payer.account_scheme)
        institution = _sub(_sub(info, "DbtrAgt"), "FinInstnId")
        if payer.bic:
            _sub(institution, "BIC" if version == "03" else "BICFI", payer.bic)
        else:
            _sub(_sub(institution, "Othr"), "Id", "NOTPROVIDED")
        _sub(info, "ChrgBr", "SLEV")
        for refund in items:
            transfer = _sub(info, "CdtTrfTxInf")
            _sub(_sub(transfer, "PmtId"), "EndToEndId", refund.refund_id)
            _sub(_sub(transfer, "Amt"), "InstdAmt", _amount(refund.amount), Ccy=currency)
            _sub(_sub(transfer, "Cdtr"), "Nm", refund.name)
            _account(transfer, "CdtrAcct", refund.account, refund.account_scheme)
            _sub(_sub(transfer, "RmtInf"), "Ustrd", refund.remittance)
    return etree.ElementTree(document)


def _named_path(root: Any, path: str | None) -> str:
    """libxml2's /*/*[2]/… path of an element in a default namespace, with the elements' names."""
    found = root.getroottree().xpath(path) if path else []
    if not found:
        return path or "?"
    chain = [found[0], *found[0].iterancestors()][::-1]
    return "/" + "/".join(etree.QName(node).localname for node in chain)


def write_pain001(
    path: str | os.PathLike[str],
    refunds: Sequence[Refund],
    *,
    payer: Payer,
    message_id: str,
    created: datetime,
    execution_date: date,
    version: str = "03",
) -> WrittenFile:
    """Build, validate against the XSD, then write atomically; InvalidRefundFile if it does not validate."""
    tree = build(
        refunds, payer=payer, message_id=message_id, created=created, execution_date=execution_date, version=version
    )
    message = f"pain.001.001.{version}"
    data = etree.tostring(tree, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    reparsed = etree.fromstring(data, etree.XMLParser(resolve_entities=False, no_network=True))
    schema = xsd.schema(message)
    if not schema.validate(reparsed):
        log = cast(Iterable[Any], schema.error_log)
        errors = [
            (int(e.line), f"{_named_path(reparsed, e.path)}: {re.sub(r'{[^}]*}', '', str(e.message))}") for e in log
        ]
        raise InvalidRefundFile(message, errors)
    target = Path(path)
    descriptor, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return WrittenFile(target, message_id, len(refunds), sum((r.amount for r in refunds), Decimal(0)))
