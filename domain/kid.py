"""KID payment references (kundeidentifikasjonsnummer) on Norwegian invoices.

A KID is 2–25 characters: digits, the last one a check digit by MOD10 (Luhn) or MOD11, as fixed in
the creditor's agreement with its bank (rules.md A8). Under MOD11 a check value of 10 is written "-".
Such a KID is valid and is accepted when read, but is not issued unless asked for: people retype KIDs
and not every payer channel takes a "-".

A creditor's KIDs follow one fixed-width `KidScheme`: creditor prefix + zero-padded invoice serial +
check digit, so that an incoming payment's KID parses back to the invoice without a look-up table.

MOD10 is python-stdnum's Luhn; stdnum has no KID and no free-length MOD11 with weights 2–7, so that
is written here.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from stdnum import luhn

MIN_LENGTH = 2
MAX_LENGTH = 25
_MOD11_WEIGHTS = (2, 3, 4, 5, 6, 7)
_DIGITS = frozenset("0123456789")


class KidAlgorithm(StrEnum):
    MOD10 = "MOD10"
    MOD11 = "MOD11"


class InvalidKid(ValueError):
    """A KID, or what a KID is built from, breaks a rule; `field` and `rule` say which."""

    def __init__(self, field: str, rule: str) -> None:
        super().__init__(f"{field}: {rule}")
        self.field = field
        self.rule = rule


def kid_check_digit(base: str, algorithm: KidAlgorithm) -> str:
    """The check character for `base` (1–24 digits): "0"–"9", or "-" for a MOD11 check value of 10."""
    algorithm = KidAlgorithm(algorithm)
    _require_digits("kid base", base, 1, MAX_LENGTH - 1)
    if algorithm == KidAlgorithm.MOD10:
        return luhn.calc_check_digit(base)
    total = sum(int(digit) * _MOD11_WEIGHTS[i % 6] for i, digit in enumerate(reversed(base)))
    check = 11 - total % 11
    return {11: "0", 10: "-"}.get(check, str(check))


def make_kid(base: str, algorithm: KidAlgorithm, *, allow_dash: bool = False) -> str:
    """`base` followed by its check character; a MOD11 "-" only with `allow_dash`."""
    check = kid_check_digit(base, algorithm)
    if check == "-" and not allow_dash:
        raise InvalidKid("kid base", "MOD11 check value is 10 ('-'), which is not issued")
    return base + check


def validate_kid(kid: str, algorithm: KidAlgorithm) -> str:
    """`kid` unchanged if it is a valid KID under `algorithm`, else `InvalidKid`."""
    algorithm = KidAlgorithm(algorithm)
    if not MIN_LENGTH <= len(kid) <= MAX_LENGTH:
        raise InvalidKid("kid", f"length {MIN_LENGTH}–{MAX_LENGTH}")
    body, check = kid[:-1], kid[-1]
    dash_allowed = algorithm == KidAlgorithm.MOD11 and check == "-"
    if not _is_digits(body) or not (check in _DIGITS or dash_allowed):
        raise InvalidKid("kid", "digits only")
    if kid_check_digit(body, algorithm) != check:
        raise InvalidKid("kid", f"{algorithm} check digit")
    return kid


def is_valid_kid(kid: str, algorithm: KidAlgorithm) -> bool:
    try:
        validate_kid(kid, algorithm)
    except InvalidKid:
        return False
    return True


@dataclass(frozen=True)
class KidScheme:
    """One creditor's KID layout: `creditor_digits` prefix + zero-padded serial + check, `length` in all.

    Under MOD11 about one serial in eleven would end in "-"; `for_invoice` refuses those unless
    `allow_dash`, and `next_issuable_serial` tells the serial allocator which to take instead.
    """

    algorithm: KidAlgorithm
    length: int
    creditor_digits: int
    allow_dash: bool = False

    def __post_init__(self) -> None:
        if not MIN_LENGTH <= self.length <= MAX_LENGTH:
            raise ValueError(f"length must be {MIN_LENGTH}–{MAX_LENGTH}, not {self.length}")
        if not 0 <= self.creditor_digits <= self.length - 2:
            raise ValueError(f"creditor_digits must be 0–{self.length - 2}: the serial needs a digit")
        object.__setattr__(self, "algorithm", KidAlgorithm(self.algorithm))

    @property
    def serial_digits(self) -> int:
        return self.length - self.creditor_digits - 1

    def for_invoice(self, creditor_id: str, invoice_serial: int) -> str:
        """The KID of invoice `invoice_serial` of `creditor_id` (exactly `creditor_digits` digits)."""
        if len(creditor_id) != self.creditor_digits or not _is_digits(creditor_id, empty_ok=True):
            raise InvalidKid("creditor_id", f"exactly {self.creditor_digits} digits")
        if not 0 <= invoice_serial < 10**self.serial_digits:
            raise InvalidKid("invoice_serial", f"0 to {10**self.serial_digits - 1}")
        base = f"{creditor_id}{invoice_serial:0{self.serial_digits}d}"
        return make_kid(base, self.algorithm, allow_dash=self.allow_dash)

    def parse(self, kid: str) -> tuple[str, int]:
        """(creditor part, invoice serial) of a KID issued under this scheme, else `InvalidKid`."""
        validate_kid(kid, self.algorithm)
        if len(kid) != self.length:
            raise InvalidKid("kid", f"length {self.length} of this creditor's scheme")
        if kid.endswith("-") and not self.allow_dash:
            raise InvalidKid("kid", "check '-', which this creditor's scheme never issues")
        return kid[: self.creditor_digits], int(kid[self.creditor_digits : -1])

    def next_issuable_serial(self, creditor_id: str, invoice_serial: int) -> int:
        """The first serial from `invoice_serial` on whose KID this scheme issues."""
        return self.next_issuable(creditor_id, invoice_serial)[0]

    def next_issuable(self, creditor_id: str, invoice_serial: int) -> tuple[int, str]:
        """The first serial from `invoice_serial` on whose KID this scheme issues, and that KID."""
        while True:
            try:
                return invoice_serial, self.for_invoice(creditor_id, invoice_serial)
            except InvalidKid as refused:
                if refused.field != "kid base":
                    raise
                invoice_serial += 1


def _is_digits(text: str, *, empty_ok: bool = False) -> bool:
    # str.isdigit() would also accept "²" and non-ASCII digits.
    return (empty_ok or bool(text)) and frozenset(text) <= _DIGITS


def _require_digits(field: str, text: str, shortest: int, longest: int) -> None:
    if not _is_digits(text):
        raise InvalidKid(field, "digits only")
    if not shortest <= len(text) <= longest:
        raise InvalidKid(field, f"length {shortest}–{longest}")


def validate_payment_reference(reference: str, jurisdiction: str) -> KidAlgorithm:
    """The check-digit algorithm a printed payment reference passes, else ``InvalidKid``.

    Norway: a KID is valid under MOD10 or MOD11 — the creditor's bank agreement decides which its
    billing system uses, and both are accepted (scenario contract 1.1). Sweden: an OCR reference
    (OCR-nummer) carries a Luhn (MOD10) check digit; the "-" of MOD11 does not exist there.
    """
    if jurisdiction == "SE":
        try:
            validate_kid(reference, KidAlgorithm.MOD10)
        except InvalidKid as e:
            raise InvalidKid("kid", f"{e.rule} (a Swedish OCR reference carries a Luhn check digit)") from None
        return KidAlgorithm.MOD10
    failures = []
    for algorithm in KidAlgorithm:
        try:
            validate_kid(reference, algorithm)
        except InvalidKid as e:
            failures.append(e.rule)
            continue
        return algorithm
    if failures[0] == failures[1]:  # length or characters: the same for both
        raise InvalidKid("kid", failures[0])
    raise InvalidKid("kid", "neither a MOD10 nor a MOD11 check digit")
