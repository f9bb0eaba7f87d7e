"""ISO 20022 camt.054 (BankToCustomerDebitCreditNotification), versions 001.02 and 001.08.

- **Validation streams with parsing.** lxml's `iterparse` runs libxml2's XSD validator (the official
  schema in `intake/xsd/`) over the same SAX stream that builds the elements; each `TxDtls` is read at
  its end tag and then cleared, so memory holds one transaction whatever the file's size.
- **Where an XSD violation is.** libxml2 logs it without a line while parsing a chunk and lxml raises
  it only at the end of the document. The log is looked at before every element is processed, so a
  violation is seen while the elements of its chunk are still in the tree: the element the message
  names (and whose value it quotes) is found there, with its line, and the file is refused at once.
- **Each element read once** (ADR 0029, camt.054 at C speed): at its end tag a `TxDtls` (and the head of its
  `Ntry`, once per entry) is walked once, descending only into the children a wanted field lies under
  (`_Paths`), into a map from relative path to element; the fields are looked up there. Per field the first
  element in document order, as `findtext` would find it; no path string or `QName` is built per element.
- **What is a credit transaction**: each `TxDtls` of a booked (`Sts` BOOK) credit (`CdtDbtInd` CRDT)
  entry that is not a reversal; an entry without `TxDtls` is one transaction. Debit entries, reversals
  and entries not booked are counted and skipped. The amounts of an entry's `TxDtls` must add up to
  the entry's amount; `Btch` and `TxsSummry` counts and sums, where present, must match the entries.
- **Reference**: the first `RmtInf/Strd/CdtrRefInf/Ref` (KID / OCR reference; structured); further
  `Strd` references are `extra_references`; without one, the `Ustrd` text (not structured).
- **Order date** (ADR 0018): `TxDtls/RltdDts/AccptncDtTm` where present (the payer's bank accepted
  the order), else the entry's value date, else its booking date; a date-time counts by the calendar
  date written in the file.
- **Transaction id**: `camt054:<account>:<ref>`, where ref is the bank's `TxDtls/Refs/AcctSvcrRef`,
  else the entry's `AcctSvcrRef` or `NtryRef` with the transaction's ordinal in the entry (`/1`, `/2`).
  A transaction with none of these is refused: it could not be imported exactly once.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from lxml import etree

from intake import xsd
from intake.errors import BankFileError, UnknownFormat
from intake.model import CreditTransaction, ExtraReference, FileFormat, Skipped, SkipReason
from intake.parsing import CENT, FileInfo, Item
from intake.source import Source

NAMESPACE_PREFIX = "urn:iso:std:iso:20022:tech:xsd:camt.054.001."
VERSIONS = ("02", "08")
_MESSAGE_ROOT = "BkToCstmrDbtCdtNtfctn"
_ROOT = f"/Document/{_MESSAGE_ROOT}"
_EVENTS = ("TxDtls", "NtryDtls", "Ntry", "Acct", "TxsSummry", "Ntfctn", _MESSAGE_ROOT)
"""The elements read at their end tag (iterparse's tag filter: no other element reaches Python)."""

Element = Any  # lxml's _Element; lxml-stubs types the iterparse events loosely


def root_namespace(path: str | os.PathLike[str]) -> str:
    """The namespace of the file's root element ("" if the file is not XML)."""
    try:
        for _, element in etree.iterparse(str(path), events=("start",), resolve_entities=False, no_network=True):
            return str(etree.QName(element).namespace or "")
    except etree.XMLSyntaxError:
        return ""
    return ""


def _refuse(rule: str, *, field: str, line: int | None, element: str | None) -> BankFileError:
    return BankFileError(rule, field=field, line=line, element=element, file_format=FileFormat.CAMT054.value)


@dataclass
class _Entry:
    """What the parts of an `Ntry` before its `NtryDtls` say, read once per entry."""

    line: int
    path: str
    amount: Decimal
    currency: str
    skip: SkipReason | None
    indicator: str
    booked: date | None
    value_date: date | None
    account_servicer_ref: str | None
    entry_ref: str | None
    transactions: int = 0
    detail_sum: Decimal = Decimal("0.00")
    all_detailed: bool = True
    held: tuple[Element, str, int] | None = None


@dataclass
class _Notification:
    account: str = ""
    summary: dict[str, tuple[int | None, Decimal | None]] = field(default_factory=dict)
    counted: dict[str, tuple[int, Decimal]] = field(default_factory=dict)

    def count(self, key: str, amount: Decimal) -> None:
        n, total = self.counted.get(key, (0, Decimal(0)))
        self.counted[key] = (n + 1, total + amount)


class _Paths:
    """Descendants of an element by relative path (`Refs/AcctSvcrRef`), found in one walk over the element's
    children, descending only where a wanted path goes on: per path the first element in document order (what
    `findtext` would find), or, for a `repeated` path, all of them in order (each with fields of its own when
    the mapping gives some). The walk compares qualified tags; no path or `QName` is built per element."""

    def __init__(self, namespace: str, first: Iterable[str], repeated: Mapping[str, Iterable[str]]) -> None:
        self.tree: _Tree = {}
        for path in first:
            self._add(namespace, path, _FIRST, {})
        for path, fields in repeated.items():
            own = _Paths(namespace, fields, {}).tree
            self._add(namespace, path, _EACH_WITH if own else _EACH, own)

    def _add(self, namespace: str, path: str, kind: int, own: _Tree) -> None:
        tree, steps = self.tree, path.split("/")
        for i, step in enumerate(steps[:-1]):
            tag = f"{{{namespace}}}{step}"
            node = tree.get(tag)
            if node is None:
                tree[tag] = node = (_DESCEND, "/".join(steps[: i + 1]), {})
            elif node[0] != _DESCEND:
                raise ValueError(f"{path}: inside {node[1]}, which is wanted itself")
            tree = node[2]
        tag = f"{{{namespace}}}{steps[-1]}"
        if tag in tree:
            raise ValueError(f"{path}: wanted twice, or a wanted path inside another")
        tree[tag] = (kind, path, own)

    def read(self, element: Element) -> _Found:
        found: _Found = {}
        _walk(element, self.tree, found)
        return found


_DESCEND, _FIRST, _EACH, _EACH_WITH = 0, 1, 2, 3
_Tree = dict[str, tuple[int, str, "_Tree"]]  # qualified tag -> (kind, relative path, the tree below it)
_Found = dict[str, Any]  # path -> element (first), or list of elements / of _Found (repeated)


def _walk(element: Element, tree: _Tree, found: _Found) -> None:
    for child in element[:]:  # the children as one list: fewer calls into lxml than its iterator
        node = tree.get(child.tag)
        if node is None:
            continue
        kind, path, own = node
        if kind == _FIRST:
            if path not in found:
                found[path] = child
        elif kind == _DESCEND:
            _walk(child, own, found)
        elif kind == _EACH:
            found.setdefault(path, []).append(child)
        else:
            fields: _Found = {}
            _walk(child, own, fields)
            found.setdefault(path, []).append(fields)


def _text(found: _Found, path: str) -> str | None:
    """What `findtext` gives, stripped; None for an element missing or empty."""
    element = found.get(path)
    if element is None:
        return None
    text = element.text
    return None if text is None else text.strip() or None


class _Reader:
    def __init__(self, namespace: str) -> None:
        self.ns = namespace
        self.v08 = namespace.endswith("08")
        self.notification = _Notification()
        self.entry: _Entry | None = None
        self.i_ntfctn = self.i_ntry = self.i_dtls = self.i_tx = 0
        self._qualified: dict[str, str] = {}
        self.closed = False
        self.tx_tag = f"{{{namespace}}}TxDtls"
        self._tags = {name: f"{{{namespace}}}{name}" for name in _EVENTS}
        self._names = {tag: name for name, tag in self._tags.items()}
        self._parent_tag = {
            name: f"{{{namespace}}}{parent}" for name, parent in (("Acct", "Ntfctn"), ("TxsSummry", "Ntfctn"))
        }
        self.party = "RltdPties/Dbtr/Pty" if self.v08 else "RltdPties/Dbtr"
        self.status = "Sts/Cd" if self.v08 else "Sts"
        party = self.party
        self.tx_paths = _Paths(
            namespace,
            (
                "Refs/AcctSvcrRef",
                *(("Amt",) if self.v08 else ()),
                "AmtDtls/TxAmt/Amt",
                "CdtDbtInd",
                f"{party}/Nm",
                f"{party}/Id/OrgId/Othr/Id",
                f"{party}/Id/PrvtId/Othr/Id",
                "RltdPties/DbtrAcct/Id/IBAN",
                "RltdPties/DbtrAcct/Id/Othr/Id",
                "RltdDts/AccptncDtTm",
                "AddtlTxInf",
            ),
            {"RmtInf/Strd": ("CdtrRefInf/Ref", "RfrdDocAmt/RmtdAmt"), "RmtInf/Ustrd": ()},
        )
        self.entry_paths = _Paths(
            namespace,
            (
                "Amt",
                "CdtDbtInd",
                self.status,
                "RvslInd",
                "BookgDt/Dt",
                "BookgDt/DtTm",
                "ValDt/Dt",
                "ValDt/DtTm",
                "AcctSvcrRef",
                "NtryRef",
            ),
            {},
        )

    # ---- small helpers -------------------------------------------------------------------------
    def q(self, path: str) -> str:
        qualified = self._qualified.get(path)
        if qualified is None:
            qualified = self._qualified[path] = "/".join(f"{{{self.ns}}}{p}" for p in path.split("/"))
        return qualified

    def text(self, element: Element, path: str) -> str | None:
        found = element.findtext(self.q(path))
        return None if found is None else str(found).strip() or None

    @staticmethod
    def amount(found: _Found, path: str, where: str, line: int) -> tuple[Decimal, str] | None:
        element = found.get(path)
        if element is None:
            return None
        try:
            value = Decimal(str(element.text).strip())
        except InvalidOperation:
            raise _refuse("must be a decimal amount", field=path, line=line, element=where) from None
        cents = value.quantize(CENT)
        if value != cents:
            raise _refuse(f"{value} has more than two decimals", field=path, line=line, element=where)
        return cents, str(element.get("Ccy", ""))

    @staticmethod
    def date_of(found: _Found, path: str) -> date | None:
        value = _text(found, path + "/Dt") or _text(found, path + "/DtTm")
        return date.fromisoformat(value[:10]) if value else None

    @property
    def ntfctn_path(self) -> str:
        return f"{_ROOT}/Ntfctn[{self.i_ntfctn + 1}]"

    @property
    def ntry_path(self) -> str:
        return f"{self.ntfctn_path}/Ntry[{self.i_ntry + 1}]"

    def path_of(self, element: Element) -> str:
        """/Document/…/Ntry[n]/… with the indexes the element has in the file (counting those already
        read and cleared from the tree)."""
        chain = [element, *element.iterancestors()][::-1]
        counters = {"Ntfctn": self.i_ntfctn, "Ntry": self.i_ntry, "NtryDtls": self.i_dtls, "TxDtls": self.i_tx}
        parts, current = [], True
        for node in chain:
            name = etree.QName(node).localname
            if name not in _INDEXED:
                parts.append(name)
                continue
            pending_before = sum(1 for s in node.itersiblings(preceding=True) if s.tag == node.tag and len(s))
            parts.append(f"{name}[{(counters[name] if current else 0) + pending_before + 1}]")
            current = current and pending_before == 0
        return "/" + "/".join(parts)

    # ---- events --------------------------------------------------------------------------------
    def transaction(self, tx: Element) -> Item | None:
        """A `TxDtls` has ended: its credit, if it is one (it is held instead when it has no amount)."""
        item = self._transaction_details(tx)
        self.i_tx += 1
        entry = self.entry
        if entry is None or entry.held is None or entry.held[0] is not tx:
            _release(tx, self.tx_tag)
        return item

    def on_end(self, element: Element) -> Iterator[Item]:
        name = self._names.get(element.tag)
        if name == "TxDtls":
            item = self.transaction(element)
            if item is not None:
                yield item
        elif name == "NtryDtls":
            self._check_batch(element)
            self.i_dtls += 1
            self.i_tx = 0
        elif name == "Ntry":
            yield from self._end_entry(element)
            self.i_ntry += 1
            self.i_dtls = self.i_tx = 0
            self.entry = None
            _release(element, self._tags["Ntry"])
        elif name == "Acct" and self._parent_is(element, name):
            iban = self.text(element, "Id/IBAN")
            self.notification.account = iban or self.text(element, "Id/Othr/Id") or ""
        elif name == "TxsSummry" and self._parent_is(element, name):
            self._read_summary(element)
        elif name == _MESSAGE_ROOT:
            self.closed = True
        elif name == "Ntfctn":
            self._check_summary(element)
            self.i_ntfctn += 1
            self.i_ntry = 0
            self.notification = _Notification()
            _release(element, self._tags["Ntfctn"])

    def _parent_is(self, element: Element, name: str) -> bool:
        parent = element.getparent()
        return parent is not None and parent.tag == self._parent_tag[name]

    def _entry_of(self, ntry: Element) -> _Entry:
        if self.entry is not None:
            return self.entry
        line = int(ntry.sourceline or 0)
        where = self.ntry_path
        found = self.entry_paths.read(ntry)
        amount = self.amount(found, "Amt", where, line)
        assert amount is not None  # required by the XSD
        indicator = _text(found, "CdtDbtInd")
        status = _text(found, self.status)
        skip: SkipReason | None = None
        if status != "BOOK":
            skip = SkipReason.NOT_BOOKED
        elif indicator == "DBIT":
            skip = SkipReason.DEBIT
        elif (_text(found, "RvslInd") or "").lower() in ("true", "1"):
            skip = SkipReason.REVERSAL
        self.entry = _Entry(
            line=line,
            path=where,
            amount=amount[0],
            currency=amount[1],
            skip=skip,
            indicator=indicator or "",
            booked=self.date_of(found, "BookgDt"),
            value_date=self.date_of(found, "ValDt"),
            account_servicer_ref=_text(found, "AcctSvcrRef"),
            entry_ref=_text(found, "NtryRef"),
        )
        return self.entry

    def _transaction_details(self, tx: Element) -> Item | None:
        entry = self._entry_of(tx.getparent().getparent())
        entry.transactions += 1
        where = f"{entry.path}/NtryDtls[{self.i_dtls + 1}]/TxDtls[{self.i_tx + 1}]"
        line = int(tx.sourceline or 0)
        found = self.tx_paths.read(tx)
        amount = self.amount(found, "Amt", where, line) if self.v08 else None
        amount = amount or self.amount(found, "AmtDtls/TxAmt/Amt", where, line)
        indicator = _text(found, "CdtDbtInd")
        if indicator and indicator != entry.indicator:
            raise _refuse("differs from the entry's CdtDbtInd", field="CdtDbtInd", line=line, element=where)
        if amount is None:
            entry.all_detailed = False
            if entry.held is not None:
                raise _refuse(
                    "several TxDtls without an amount in one entry: the amount of each is unknown",
                    field="TxDtls/Amt",
                    line=line,
                    element=where,
                )
            entry.held = (tx, where, entry.transactions)  # kept alive here until the entry ends
            return None
        if amount[1] == entry.currency:
            entry.detail_sum += amount[0]
        if entry.skip is None:
            return self._credit(entry, found, amount, where, line, entry.transactions)
        return None

    def _end_entry(self, ntry: Element) -> Iterator[Item]:
        entry = self._entry_of(ntry)
        key = "DBIT" if entry.indicator == "DBIT" else "CRDT"
        self.notification.count(key, entry.amount)
        if entry.held is not None:
            tx, where, ordinal = entry.held
            if entry.transactions != 1:
                raise _refuse(
                    "a TxDtls without an amount in an entry of several transactions",
                    field="TxDtls/Amt",
                    line=int(tx.sourceline or 0),
                    element=where,
                )
            if entry.skip is None:
                amount = (entry.amount, entry.currency)
                yield self._credit(entry, self.tx_paths.read(tx), amount, where, int(tx.sourceline or 0), ordinal)
            tx.clear()
        elif entry.transactions and entry.all_detailed and entry.detail_sum != entry.amount:
            raise _refuse(
                f"the entry's amount {entry.amount} differs from the sum {entry.detail_sum} of its TxDtls",
                field="Amt",
                line=entry.line,
                element=entry.path,
            )
        if entry.transactions == 0 and entry.skip is None:
            credit = self._credit(entry, None, (entry.amount, entry.currency), entry.path, entry.line, 1)
            yield replace(credit, text=self.text(ntry, "AddtlNtryInf"))
        if entry.skip is not None:
            yield Skipped(entry.skip, entry.amount, entry.currency, entry.line, entry.path)

    def _credit(
        self, entry: _Entry, tx: _Found | None, amount: tuple[Decimal, str], where: str, line: int, ordinal: int
    ) -> CreditTransaction:
        """`tx`: the fields of the `TxDtls` (`tx_paths`); None for an entry without any."""
        value, currency = amount
        if value <= 0:
            raise _refuse("a credit must be more than zero", field="Amt", line=line, element=where)
        own_ref = _text(tx, "Refs/AcctSvcrRef") if tx is not None else None
        entry_ref = entry.account_servicer_ref or entry.entry_ref
        if own_ref:
            reference_id = own_ref
        elif entry_ref:
            reference_id = f"{entry_ref}/{ordinal}"
        else:
            raise _refuse(
                "no bank reference to identify the transaction by (TxDtls/Refs/AcctSvcrRef, Ntry/AcctSvcrRef or "
                "Ntry/NtryRef): it could not be imported exactly once",
                field="AcctSvcrRef",
                line=line,
                element=where,
            )
        accepted = _text(tx, "RltdDts/AccptncDtTm") if tx is not None else None
        if accepted:
            ordered, ordered_from = date.fromisoformat(accepted[:10]), "TxDtls/RltdDts/AccptncDtTm"
        elif entry.value_date:
            ordered, ordered_from = entry.value_date, "Ntry/ValDt"
        elif entry.booked:
            ordered, ordered_from = entry.booked, "Ntry/BookgDt"
        else:
            raise _refuse(
                "no order date: AccptncDtTm, ValDt or BookgDt is needed", field="ValDt", line=line, element=where
            )
        reference, structured, text = "", False, None
        extras: tuple[ExtraReference, ...] = ()
        payer_name = payer_account = payer_id = None
        if tx is not None:
            reference, structured, extras, text = _remittance(tx)
            party = self.party
            payer_name = _text(tx, f"{party}/Nm")
            payer_id = _text(tx, f"{party}/Id/OrgId/Othr/Id") or _text(tx, f"{party}/Id/PrvtId/Othr/Id")
            payer_account = _text(tx, "RltdPties/DbtrAcct/Id/IBAN") or _text(tx, "RltdPties/DbtrAcct/Id/Othr/Id")
        return CreditTransaction(
            format=FileFormat.CAMT054,
            file_digest="",
            transaction_id=f"camt054:{self.notification.account}:{reference_id}",
            payee_account=self.notification.account,
            reference=reference,
            structured=structured,
            amount=value,
            currency=currency,
            ordered=ordered,
            ordered_from=ordered_from,
            booked=entry.booked,
            line=line,
            element=where,
            bank_reference=own_ref or entry_ref,
            payer_name=payer_name,
            payer_account=payer_account,
            payer_id=payer_id,
            text=text,
            extra_references=extras,
        )

    def _check_batch(self, details: Element) -> None:
        batch_count = self.text(details, "Btch/NbOfTxs")
        if batch_count is not None and self.i_tx and int(batch_count) != self.i_tx:
            raise _refuse(
                f"says {int(batch_count)} transactions but the entry details hold {self.i_tx}",
                field="NbOfTxs",
                line=int(details.sourceline or 0),
                element=f"{self.ntry_path}/NtryDtls[{self.i_dtls + 1}]/Btch/NbOfTxs",
            )

    def _read_summary(self, summary: Element) -> None:
        for key, path in (("CRDT", "TtlCdtNtries"), ("DBIT", "TtlDbtNtries"), ("ALL", "TtlNtries")):
            count, total = self.text(summary, f"{path}/NbOfNtries"), self.text(summary, f"{path}/Sum")
            if count is not None or total is not None:
                self.notification.summary[key] = (
                    int(count) if count is not None else None,
                    Decimal(total) if total is not None else None,
                )

    def _check_summary(self, ntfctn: Element) -> None:
        counted = dict(self.notification.counted)
        credit, debit = counted.get("CRDT", (0, Decimal(0))), counted.get("DBIT", (0, Decimal(0)))
        counted["ALL"] = (credit[0] + debit[0], credit[1] + debit[1])
        names = {"CRDT": "TtlCdtNtries", "DBIT": "TtlDbtNtries", "ALL": "TtlNtries"}
        for key, (count, total) in self.notification.summary.items():
            actual_count, actual_total = counted.get(key, (0, Decimal(0)))
            where = f"{self.ntfctn_path}/TxsSummry/{names[key]}"
            if count is not None and count != actual_count:
                raise _refuse(
                    f"says {count} entries but the notification has {actual_count}",
                    field="NbOfNtries",
                    line=int(ntfctn.sourceline or 0),
                    element=where,
                )
            if total is not None and total != actual_total:
                raise _refuse(
                    f"says {total} but the entries add up to {actual_total}",
                    field="Sum",
                    line=int(ntfctn.sourceline or 0),
                    element=where,
                )


_MESSAGE = re.compile(r"Element '(?:\{[^}]*\})?(?P<name>[^']+)'(?:, attribute '(?P<attr>[^']+)')?: (?P<rule>.*)")
_VALUE = re.compile(r"[Tt]he value '(?P<a>[^']*)'|^'(?P<b>[^']*)' is not")
_INDEXED = ("Ntfctn", "Ntry", "NtryDtls", "TxDtls")


def _locate(reader: _Reader, events: Any, root: Element | None, message: str) -> BankFileError:
    """The first XSD violation in the log, found in the part of the tree not yet read (`root`)."""
    entry = next(e for e in events.error_log if e.domain_name == "SCHEMASV")
    text = str(entry.message).replace(f"{{{reader.ns}}}", "")
    match = _MESSAGE.match(text)
    if match is None or root is None:
        return _refuse(text, field=f"XSD {message}", line=None, element=None)
    name, attribute, rule = match["name"], match["attr"], match["rule"]
    quoted = _VALUE.search(rule)
    value = (quoted["a"] if quoted["a"] is not None else quoted["b"]) if quoted else None
    candidates = list(root.iter(f"{{{reader.ns}}}{name}"))
    found = None
    if value is not None:
        for candidate in candidates:
            seen = candidate.get(attribute) if attribute else (candidate.text or "").strip()
            if seen == value:
                found = candidate
                break
    if found is None and candidates:
        found = candidates[-1]
    field = f"{name}/@{attribute}" if attribute else name
    if found is None:
        return _refuse(f"{rule} (XSD {message})", field=field, line=None, element=None)
    return _refuse(f"{rule} (XSD {message})", field=field, line=found.sourceline, element=reader.path_of(found))


def _remittance(tx: _Found) -> tuple[str, bool, tuple[ExtraReference, ...], str | None]:
    """(reference, structured, extra references, text) of a `TxDtls`'s fields."""
    refs: list[tuple[str, Decimal | None]] = []
    for strd in tx.get("RmtInf/Strd", ()):
        ref = _text(strd, "CdtrRefInf/Ref")
        if ref:
            amount = _text(strd, "RfrdDocAmt/RmtdAmt")
            refs.append((ref, Decimal(amount).quantize(CENT) if amount else None))
    unstructured = tx.get("RmtInf/Ustrd")
    lines = [str(u.text).strip() for u in unstructured if u.text] if unstructured else []
    text = "\n".join(lines) or _text(tx, "AddtlTxInf")
    if not refs:
        return " ".join(lines), False, (), text
    extras = tuple(ExtraReference(r, a) for r, a in refs[1:]) if len(refs) > 1 else ()
    return refs[0][0], True, extras, text


def _release(element: Element, tag: str) -> None:
    """Free what has been read: the element's content and the earlier siblings of the same name (an
    `NtryDtls`'s `Btch` or an `Ntfctn`'s `TxsSummry` stay until their parent ends). `tag`: the element's."""
    element.clear(keep_tail=True)
    parent = element.getparent()
    previous = element.getprevious()
    while parent is not None and previous is not None and previous.tag == tag:
        parent.remove(previous)
        previous = element.getprevious()


def version_of(namespace: str) -> str:
    return namespace.removeprefix(NAMESPACE_PREFIX)


def read(source: Source, info: FileInfo) -> Iterator[Item]:
    namespace = root_namespace(source.path)
    version = version_of(namespace)
    if not namespace.startswith(NAMESPACE_PREFIX):
        raise UnknownFormat(
            f"the root element's namespace {namespace or '(none)'!r} is not camt.054",
            field="namespace",
            line=1,
            element="/Document",
            file_format=FileFormat.CAMT054.value,
        )
    if version not in VERSIONS:
        raise UnknownFormat(
            f"camt.054.001.{version} is not supported (supported: {', '.join('001.' + v for v in VERSIONS)})",
            field="namespace",
            line=1,
            element="/Document",
            file_format=FileFormat.CAMT054.value,
        )
    message = f"camt.054.001.{version}"
    info.version = message
    info.controls = "camt.054 XSD, entry amounts = sum of their TxDtls, Btch and TxsSummry counts and sums"
    reader = _Reader(namespace)
    tags = [f"{{{namespace}}}{t}" for t in _EVENTS]
    events = etree.iterparse(
        source,
        events=("end",),
        tag=tags,
        schema=xsd.schema(message),
        # lxml's default resolves internal entities only (no external file or URL is ever read);
        # resolve_entities=False together with a schema makes lxml 6.1 accept a truncated document.
        no_network=True,
        remove_comments=True,
    )
    try:
        tx_tag = reader.tx_tag
        for _, element in events:
            if _schema_errors(events):
                raise _locate(reader, events, element.getroottree().getroot(), message)
            if element.tag == tx_tag:  # nearly every element: no generator for it
                item = reader.transaction(element)
                if item is not None:
                    yield item
            else:
                yield from reader.on_end(element)
        if _schema_errors(events):
            raise _locate(reader, events, None, message)
        if not reader.closed:  # never trust the parser alone on this: a file cut short is refused here too
            raise _refuse("truncated: the document does not end", field="XML", line=None, element=_ROOT)
    except etree.XMLSyntaxError as e:
        if e.lineno:  # not well-formed: libxml2 knows where
            raise _refuse(str(e.msg), field="XML", line=e.lineno, element=None) from None
        raise _locate(reader, events, None, message) from None


def _schema_errors(events: Any) -> bool:
    log = events.error_log
    return bool(log) and any(entry.domain_name == "SCHEMASV" for entry in log)
