"""Debtors' national identity and organisation numbers (Norway, Sweden), checked with python-stdnum.

- NO person: fødselsnummer or D-nummer (day + 40), 11 digits with two MOD11 control digits.
- NO organisation: organisasjonsnummer, 9 digits, MOD11.
- SE person: personnummer or samordningsnummer (day + 60), Luhn; returned as 12 digits YYYYMMDDNNNN so
  that the 10- and 12-digit spellings of one person give one debtor.
- SE organisation: organisationsnummer, 10 digits, Luhn.

Synthetic test identities are refused unless `allow_synthetic`, which test environments set: in Norway
month + 80 (Skatteetaten's Tenor) or month + 40 (NAV's Dolly; also the health sector's H-nummer, which
is no debtor identity either). With the switch their control digits are checked, not their date; in
Sweden (Skatteverket's test personnummer) likewise. The switch does not change organisation numbers.

A number never goes into an event: cases carry `opaque_debtor_id`. Error messages never quote the
number, so they can be logged.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from datetime import date
from types import TracebackType

from stdnum import luhn
from stdnum.exceptions import InvalidChecksum, InvalidComponent, InvalidFormat, InvalidLength, ValidationError
from stdnum.no import fodselsnummer
from stdnum.no import orgnr as no_orgnr
from stdnum.se import orgnr as se_orgnr
from stdnum.se import personnummer

NATIONAL_ID = "national_id"
ORGANISATION_NUMBER = "organisation_number"
SYNTHETIC_NOT_ALLOWED = "synthetic identity not allowed"


class InvalidIdentity(ValueError):
    """An identity number breaks a rule; `field` and `rule` say which (never the number itself)."""

    def __init__(self, field: str, rule: str, detail: str = "") -> None:
        super().__init__(f"{field}: {rule}" + (f" ({detail})" if detail else ""))
        self.field = field
        self.rule = rule


def validate_identity(number: str, *, jurisdiction: str, kind: str, allow_synthetic: bool = False) -> str:
    """The compact form of `number`, a debtor of `kind` "person" or "organisation" in "NO" or "SE"."""
    validate = _VALIDATORS.get((jurisdiction, kind))
    if validate is None:
        raise ValueError(f"no identity rules for jurisdiction {jurisdiction!r} and kind {kind!r}")
    return validate(number, allow_synthetic)


def opaque_debtor_id(number: str, *, salt: bytes) -> str:
    """The id a case carries instead of the number: HMAC-SHA256 keyed by `salt`, 32 hex characters.

    Pass the form `validate_identity` returned. Birth dates and serials are few enough to try them
    all, so a plain hash could be reversed: `salt` is a secret key (at least 16 random bytes, one per
    installation) kept out of the event store.
    """
    if not salt:
        raise ValueError("salt: a secret key is required")
    return hmac.new(salt, number.encode("utf-8"), hashlib.sha256).hexdigest()[:32]


def _no_person(number: str, allow_synthetic: bool) -> str:
    number = fodselsnummer.compact(number)
    with _AsInvalidIdentity(NATIONAL_ID):
        if len(number) != 11:
            raise InvalidLength()
        if not _is_digits(number):
            raise InvalidFormat()
        if (number[9], number[10]) != (
            fodselsnummer.calc_check_digit1(number),
            fodselsnummer.calc_check_digit2(number),
        ):
            raise InvalidChecksum()
        month = int(number[2:4])
        if not (41 <= month <= 52 or 81 <= month <= 92):
            return fodselsnummer.validate(number)
    if not allow_synthetic:
        raise InvalidIdentity(NATIONAL_ID, SYNTHETIC_NOT_ALLOWED, "month + 40 or + 80")
    return number


def _se_person(number: str, allow_synthetic: bool) -> str:
    with _AsInvalidIdentity(NATIONAL_ID):
        number = personnummer.compact(number)  # YYMMDD-NNNN or YYYYMMDD-NNNN, "+" at 100 years
        if len(number) not in (11, 13):
            raise InvalidLength()
        digits = number[:-5] + number[-4:]
        if number[-5] not in "-+" or not _is_digits(digits):
            raise InvalidFormat()
        luhn.validate(digits[-10:])
        # The library's century rule, on 1 January so that a synthetic or coordination day cannot fail it.
        year = personnummer.get_birth_date(number[:-9] + "0101" + number[-5:]).year
        month, day = int(number[-9:-7]), int(number[-7:-5])
        if not (allow_synthetic or _is_date(year, month, day - 60 if day > 60 else day)):
            raise InvalidComponent()
    return f"{year:04d}{number[-9:-5]}{number[-4:]}"


def _organisation(validate: Callable[[str], str]) -> Callable[[str, bool], str]:
    def validate_organisation(number: str, allow_synthetic: bool) -> str:
        with _AsInvalidIdentity(ORGANISATION_NUMBER):
            return validate(number)

    return validate_organisation


_VALIDATORS: dict[tuple[str, str], Callable[[str, bool], str]] = {
    ("NO", "person"): _no_person,
    ("NO", "organisation"): _organisation(no_orgnr.validate),
    ("SE", "person"): _se_person,
    ("SE", "organisation"): _organisation(se_orgnr.validate),
}


class _AsInvalidIdentity:
    """Turn python-stdnum's errors into `InvalidIdentity` naming `field` and the rule broken."""

    def __init__(self, field: str) -> None:
        self.field = field

    def __enter__(self) -> None:
        return None

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if isinstance(error, InvalidLength):
            raise InvalidIdentity(self.field, "length") from None
        if isinstance(error, InvalidFormat):
            raise InvalidIdentity(self.field, "format", "digits only") from None
        if isinstance(error, InvalidChecksum):
            raise InvalidIdentity(self.field, "checksum") from None
        if isinstance(error, InvalidComponent):
            raise InvalidIdentity(self.field, "birth date", str(error)) from None
        if isinstance(error, ValidationError):
            raise InvalidIdentity(self.field, "format", str(error)) from None


def _is_digits(text: str) -> bool:
    return text.isascii() and text.isdigit()


def _is_date(year: int, month: int, day: int) -> bool:
    try:
        date(year, month, day)
    except ValueError:
        return False
    return True
