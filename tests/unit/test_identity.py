"""Debtor identity numbers. Valid numbers are built here from the published check-digit rules, so no
real person's number appears in the tests."""

from __future__ import annotations

import re

import pytest

from domain.identity import InvalidIdentity, opaque_debtor_id, validate_identity

SALT = b"test-only-key-0123456789abcdef"


def norwegian_person(ddmmyy: str, individual: int = 100) -> str:
    """An 11-digit number with both MOD11 control digits right (fødselsnummer rules)."""
    for serial in range(individual, 1000):
        base = f"{ddmmyy}{serial:03d}"
        k1 = _mod11(base, (3, 7, 6, 1, 8, 9, 4, 5, 2))
        k2 = _mod11(base + k1, (5, 4, 3, 2, 7, 6, 5, 4, 3, 2))
        if k1 != "-" and k2 != "-":
            return base + k1 + k2
    raise AssertionError("no serial gives valid control digits")


def norwegian_organisation(first_eight: str) -> str:
    check = _mod11(first_eight, (3, 2, 7, 6, 5, 4, 3, 2))
    assert check != "-", "pick other digits"
    return first_eight + check


def swedish(nine_digits: str) -> str:
    """nine digits + Luhn digit (personnummer without century, organisationsnummer)."""
    total = 0
    for i, digit in enumerate(int(d) for d in nine_digits):
        product = digit * (2 if i % 2 == 0 else 1)
        total += product // 10 + product % 10
    return nine_digits + str((10 - total % 10) % 10)


def digit_changed(number: str, position: int) -> str:
    digits = list(number)
    digits[position] = str((int(digits[position]) + 1) % 10)
    return "".join(digits)


def _mod11(digits: str, weights: tuple[int, ...]) -> str:
    check = 11 - sum(int(d) * w for d, w in zip(digits, weights, strict=True)) % 11
    return {11: "0", 10: "-"}.get(check, str(check))


def no_person(number: str, allow_synthetic: bool = False) -> str:
    return validate_identity(number, jurisdiction="NO", kind="person", allow_synthetic=allow_synthetic)


def se_person(number: str, allow_synthetic: bool = False) -> str:
    return validate_identity(number, jurisdiction="SE", kind="person", allow_synthetic=allow_synthetic)


def broken_rule(number: str, *, jurisdiction: str, kind: str, allow_synthetic: bool = False) -> str:
    with pytest.raises(InvalidIdentity) as raised:
        validate_identity(number, jurisdiction=jurisdiction, kind=kind, allow_synthetic=allow_synthetic)
    assert number.replace(" ", "")[:6] not in str(raised.value), "the message must not quote the number"
    return f"{raised.value.field}: {raised.value.rule}"


# Norway, persons


def test_a_norwegian_fodselsnummer_is_returned_compact() -> None:
    number = norwegian_person("150585")
    assert no_person(f"{number[:6]} {number[6:]}") == number


def test_a_norwegian_d_number_is_accepted() -> None:
    d_number = norwegian_person("550585")  # day 15 + 40
    assert no_person(d_number) == d_number


def test_a_wrong_control_digit_breaks_the_checksum_rule() -> None:
    number = norwegian_person("150585")
    wrong = digit_changed(number, -1)
    assert broken_rule(wrong, jurisdiction="NO", kind="person") == "national_id: checksum"


def test_a_norwegian_national_id_of_ten_digits_breaks_the_length_rule() -> None:
    assert broken_rule("1505851234", jurisdiction="NO", kind="person") == "national_id: length"


def test_a_norwegian_national_id_with_letters_breaks_the_format_rule() -> None:
    assert broken_rule("15058512a45", jurisdiction="NO", kind="person") == "national_id: format"


def test_the_30th_of_february_breaks_the_birth_date_rule() -> None:
    number = norwegian_person("300285")
    assert broken_rule(number, jurisdiction="NO", kind="person") == "national_id: birth date"


def test_a_person_born_in_the_future_breaks_the_birth_date_rule() -> None:
    number = norwegian_person("010138", individual=500)  # individual 500–999 with year 00–39 is 2000s
    assert broken_rule(number, jurisdiction="NO", kind="person") == "national_id: birth date"


SYNTHETIC = [
    pytest.param("159085", id="Tenor, October + 80"),
    pytest.param("155085", id="NAV Dolly, October + 40"),
    pytest.param("559085", id="Tenor D-number"),
    pytest.param("319285", id="Tenor, 31 December"),
]


@pytest.mark.parametrize("ddmmyy", SYNTHETIC)
def test_a_synthetic_norwegian_identity_is_refused_in_production(ddmmyy: str) -> None:
    number = norwegian_person(ddmmyy)
    rule = broken_rule(number, jurisdiction="NO", kind="person")
    assert rule == "national_id: synthetic identity not allowed"


@pytest.mark.parametrize("ddmmyy", SYNTHETIC)
def test_a_synthetic_norwegian_identity_is_accepted_in_test_without_a_date_check(ddmmyy: str) -> None:
    number = norwegian_person(ddmmyy)
    assert no_person(number, allow_synthetic=True) == number


def test_a_synthetic_identity_must_still_have_right_control_digits() -> None:
    number = norwegian_person("159085")
    wrong = digit_changed(number, -2)
    assert broken_rule(wrong, jurisdiction="NO", kind="person", allow_synthetic=True) == "national_id: checksum"


def test_month_60_is_neither_real_nor_synthetic() -> None:
    number = norwegian_person("156085")
    assert broken_rule(number, jurisdiction="NO", kind="person", allow_synthetic=True) == "national_id: birth date"


# Norway, organisations


def test_a_norwegian_organisation_number_is_returned_compact() -> None:
    number = norwegian_organisation("97412345")
    org = validate_identity(f"{number[:3]} {number[3:6]} {number[6:]}", jurisdiction="NO", kind="organisation")
    assert org == number


def test_a_norwegian_organisation_number_with_a_wrong_check_digit_breaks_the_checksum_rule() -> None:
    number = norwegian_organisation("97412345")
    wrong = digit_changed(number, -1)
    assert broken_rule(wrong, jurisdiction="NO", kind="organisation") == "organisation_number: checksum"


def test_a_norwegian_organisation_number_of_eight_digits_breaks_the_length_rule() -> None:
    assert broken_rule("97412345", jurisdiction="NO", kind="organisation") == "organisation_number: length"


# Sweden, persons


def test_the_10_and_12_digit_spellings_of_a_personnummer_give_one_12_digit_number() -> None:
    number = swedish("850515123")
    expected = "19" + number
    assert se_person(f"{number[:6]}-{number[6:]}") == expected
    assert se_person(number) == expected
    assert se_person("19" + number) == expected
    assert se_person(f"19{number[:6]}-{number[6:]}") == expected


def test_a_plus_sign_marks_a_personnummer_of_someone_over_100() -> None:
    number = swedish("150515123")
    assert se_person(f"{number[:6]}+{number[6:]}") == "19" + number


def test_a_swedish_samordningsnummer_is_accepted() -> None:
    number = swedish("850575123")  # day 15 + 60
    assert se_person(number) == "19" + number


def test_a_personnummer_with_a_wrong_luhn_digit_breaks_the_checksum_rule() -> None:
    number = swedish("850515123")
    wrong = digit_changed(number, -1)
    assert broken_rule(wrong, jurisdiction="SE", kind="person") == "national_id: checksum"


def test_a_personnummer_of_nine_digits_breaks_the_length_rule() -> None:
    assert broken_rule("850515123", jurisdiction="SE", kind="person") == "national_id: length"


def test_a_personnummer_in_month_13_breaks_the_birth_date_rule() -> None:
    number = swedish("851315123")
    assert broken_rule(number, jurisdiction="SE", kind="person") == "national_id: birth date"


def test_a_swedish_test_personnummer_is_accepted_in_test_without_a_date_check() -> None:
    number = swedish("851315123")
    assert se_person(f"{number[:6]}-{number[6:]}", allow_synthetic=True) == "19" + number


# Sweden, organisations


def test_a_swedish_organisationsnummer_is_returned_compact() -> None:
    number = swedish("556123456")
    org = validate_identity(f"{number[:6]}-{number[6:]}", jurisdiction="SE", kind="organisation")
    assert org == number


def test_a_swedish_organisationsnummer_with_a_wrong_check_digit_breaks_the_checksum_rule() -> None:
    number = swedish("556123456")
    wrong = digit_changed(number, -1)
    assert broken_rule(wrong, jurisdiction="SE", kind="organisation") == "organisation_number: checksum"


@pytest.mark.parametrize(("jurisdiction", "kind"), [("DK", "person"), ("NO", "estate"), ("no", "person")])
def test_an_unknown_jurisdiction_or_kind_is_a_programming_error_not_an_invalid_number(
    jurisdiction: str, kind: str
) -> None:
    with pytest.raises(ValueError) as raised:
        validate_identity(norwegian_person("150585"), jurisdiction=jurisdiction, kind=kind)
    assert not isinstance(raised.value, InvalidIdentity)


# Opaque ids


def test_an_opaque_debtor_id_is_32_hex_characters_and_stable() -> None:
    number = norwegian_person("150585")
    opaque = opaque_debtor_id(number, salt=SALT)
    assert re.fullmatch(r"[0-9a-f]{32}", opaque)
    assert opaque_debtor_id(number, salt=SALT) == opaque
    assert number not in opaque


def test_an_opaque_debtor_id_depends_on_the_key() -> None:
    number = norwegian_person("150585")
    assert opaque_debtor_id(number, salt=SALT) != opaque_debtor_id(number, salt=SALT + b"x")


def test_an_opaque_debtor_id_never_changes_for_the_same_number_and_key() -> None:
    # Cases already stored carry this id; a different hash would cut them off from their debtor.
    assert opaque_debtor_id("15058512345", salt=SALT) == "1119e5469f26f7edf6aacd1e276b2879"


def test_an_opaque_debtor_id_needs_a_key() -> None:
    with pytest.raises(ValueError, match="salt"):
        opaque_debtor_id(norwegian_person("150585"), salt=b"")
