"""The office's accounts as the bank files name them, and which creditor each belongs to.

One account appears in different forms: a Norwegian account number is written ``1503.59.76237`` on a
letter, ``15035976237`` in an OCR giro assignment and ``NO8315035976237`` (its IBAN) in a camt.054; a
Swedish bankgiro ``500-1235`` is ``0005001235`` in BgMax. ``account_keys`` gives every form, so one list
of accounts (the letterheads) decides which creditor a file's money belongs to.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from intake.model import FileFormat

_SEPARATORS = re.compile(r"[\s.\-]")
_IBAN = re.compile(r"[A-Z]{2}[0-9]{2}[A-Z0-9]{1,30}")


def iban_check(country: str, bban: str) -> str:
    """The two IBAN check digits of ``bban`` in ``country`` (ISO 13616: 98 − mod 97)."""
    digits = "".join(str(int(c, 36)) for c in f"{bban}{country}00")
    return f"{98 - int(digits) % 97:02d}"


def norwegian_iban(bban: str) -> str:
    return f"NO{iban_check('NO', bban)}{bban}"


def is_valid_iban(iban: str) -> bool:
    if not _IBAN.fullmatch(iban):
        return False
    digits = "".join(str(int(c, 36)) for c in iban[4:] + iban[:4])
    return int(digits) % 97 == 1


def account_keys(account: str) -> frozenset[str]:
    """Every form a bank file may give ``account`` in: a Norwegian 11-digit account and its IBAN, an IBAN (and
    a Norwegian IBAN's account number), a Swedish bankgiro number as BgMax writes it (10 digits)."""
    text = _SEPARATORS.sub("", account).upper()
    if text.isdigit() and len(text) == 11:
        return frozenset({text, norwegian_iban(text)})
    if text.isdigit() and 7 <= len(text) <= 10:
        return frozenset({text.zfill(10), text.lstrip("0")})
    if _IBAN.fullmatch(text):
        keys = {text}
        if text.startswith("NO") and len(text) == 15:
            keys.add(text[4:])
        return frozenset(keys)
    raise ValueError(f"{account!r} is neither an 11-digit Norwegian account, an IBAN nor a bankgiro number")


@dataclass(frozen=True, slots=True)
class OfficeAccount:
    """An account the office receives money on: whose it is, and which bank-file format its bank delivers
    (None: any; an account whose payments came in two formats would get each payment twice, under two
    different transaction ids)."""

    account: str
    creditor: str
    bank_files: FileFormat | None = None


class OfficeAccounts:
    """Which creditor a bank file's payee account belongs to."""

    def __init__(self, accounts: Iterable[OfficeAccount]) -> None:
        self._by_key: dict[str, OfficeAccount] = {}
        for a in accounts:
            for key in account_keys(a.account):
                other = self._by_key.get(key)
                if other is not None and other.creditor != a.creditor:
                    raise ValueError(f"account {a.account} is listed for creditor {other.creditor} and {a.creditor}")
                self._by_key[key] = a

    @classmethod
    def of(cls, mapping: Mapping[str, str]) -> OfficeAccounts:
        """From ``{account: creditor}``."""
        return cls(OfficeAccount(account, creditor) for account, creditor in mapping.items())

    def keys(self) -> frozenset[str]:
        """Every form of every account (what ``intake.check(accounts=...)`` accepts)."""
        return frozenset(self._by_key)

    def find(self, payee_account: str) -> OfficeAccount | None:
        try:
            keys = account_keys(payee_account)
        except ValueError:
            keys = frozenset({payee_account})
        return next((self._by_key[k] for k in sorted(keys) if k in self._by_key), None)

    def creditors(self) -> frozenset[str]:
        return frozenset(a.creditor for a in self._by_key.values())

    def accounts_of(self, creditor: str) -> list[str]:
        return sorted({a.account for a in self._by_key.values() if a.creditor == creditor})

    def __bool__(self) -> bool:
        return bool(self._by_key)
