"""KID payment references: check digits, validation, and one creditor's fixed-width scheme."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.kid import (
    InvalidKid,
    KidAlgorithm,
    KidScheme,
    is_valid_kid,
    kid_check_digit,
    make_kid,
    validate_kid,
)

MOD10, MOD11 = KidAlgorithm.MOD10, KidAlgorithm.MOD11
bases = st.text(alphabet="0123456789", min_size=1, max_size=24)
algorithms = st.sampled_from(KidAlgorithm)


def test_mod10_check_digit_of_1234_is_4() -> None:
    assert kid_check_digit("1234", MOD10) == "4"
    assert make_kid("1234", MOD10) == "12344"


def test_mod11_check_digit_of_1234_is_3() -> None:
    assert kid_check_digit("1234", MOD11) == "3"
    assert make_kid("1234", MOD11) == "12343"


def test_mod11_check_value_11_is_written_0() -> None:
    # 0*2 + 0*3 + 0*4 ... sums to 0, 11 - 0 = 11
    assert kid_check_digit("000", MOD11) == "0"


def test_mod11_check_value_10_is_written_dash() -> None:
    # "6" * 2 = 12, 12 mod 11 = 1, 11 - 1 = 10
    assert kid_check_digit("6", MOD11) == "-"


def test_a_kid_ending_in_dash_is_refused_by_default_and_made_on_request() -> None:
    with pytest.raises(InvalidKid, match="kid base"):
        make_kid("6", MOD11)
    assert make_kid("6", MOD11, allow_dash=True) == "6-"


def test_a_mod11_kid_ending_in_dash_is_valid_and_a_mod10_one_is_not() -> None:
    assert is_valid_kid("6-", MOD11)
    assert not is_valid_kid("6-", MOD10)


@pytest.mark.parametrize(
    ("kid", "rule"),
    [
        ("1", "length 2–25"),
        ("1" * 26, "length 2–25"),
        ("12 344", "digits only"),
        ("1234a", "digits only"),
        ("12²44", "digits only"),
        ("12345", "MOD10 check digit"),
    ],
)
def test_an_invalid_mod10_kid_names_the_field_and_the_rule(kid: str, rule: str) -> None:
    with pytest.raises(InvalidKid) as raised:
        validate_kid(kid, MOD10)
    assert (raised.value.field, raised.value.rule) == ("kid", rule)
    assert str(raised.value) == f"kid: {rule}"


def test_a_base_of_25_digits_is_too_long_for_a_check_digit() -> None:
    with pytest.raises(InvalidKid, match="kid base: length 1–24"):
        kid_check_digit("1" * 25, MOD10)


@given(bases, algorithms)
def test_a_made_kid_always_validates(base: str, algorithm: KidAlgorithm) -> None:
    kid = make_kid(base, algorithm, allow_dash=True)
    assert validate_kid(kid, algorithm) == kid


@given(bases, algorithms, st.data())
def test_changing_any_one_digit_makes_a_kid_invalid(base: str, algorithm: KidAlgorithm, data: st.DataObject) -> None:
    kid = make_kid(base, algorithm, allow_dash=True)
    position = data.draw(st.integers(0, len(kid) - 1), label="position")
    digit = data.draw(st.sampled_from("0123456789").filter(lambda d: d != kid[position]), label="digit")
    assert not is_valid_kid(kid[:position] + digit + kid[position + 1 :], algorithm)


def test_a_scheme_lays_out_creditor_serial_and_check_digit() -> None:
    scheme = KidScheme(MOD10, length=12, creditor_digits=4)
    kid = scheme.for_invoice("0301", 1234)
    # Luhn from the right: 4·2 + 3 + 2·2 + 1 + 1 + 3 = 20, so the check digit is 0
    assert kid == "030100012340"
    assert validate_kid(kid, MOD10) == kid
    assert scheme.parse(kid) == ("0301", 1234)


@given(st.integers(0, 10**7 - 100), algorithms)
def test_a_scheme_parses_back_every_kid_it_issues(serial: int, algorithm: KidAlgorithm) -> None:
    scheme = KidScheme(algorithm, length=12, creditor_digits=4)
    serial = scheme.next_issuable_serial("4601", serial)
    assert scheme.parse(scheme.for_invoice("4601", serial)) == ("4601", serial)


def test_a_mod11_scheme_skips_serials_whose_check_would_be_dash() -> None:
    scheme = KidScheme(MOD11, length=12, creditor_digits=4)
    with pytest.raises(InvalidKid, match="'-'"):
        scheme.for_invoice("0301", 8)
    assert scheme.next_issuable_serial("0301", 8) == 9
    assert scheme.next_issuable_serial("0301", 7) == 7


def test_a_scheme_that_allows_dash_issues_and_parses_it() -> None:
    scheme = KidScheme(MOD11, length=12, creditor_digits=4, allow_dash=True)
    kid = scheme.for_invoice("0301", 8)
    assert kid == "03010000008-"
    assert scheme.parse(kid) == ("0301", 8)


def test_a_scheme_refuses_a_dash_kid_it_never_issues() -> None:
    strict = KidScheme(MOD11, length=12, creditor_digits=4)
    with pytest.raises(InvalidKid, match="never issues"):
        strict.parse("03010000008-")


def test_a_scheme_refuses_a_valid_kid_of_another_length() -> None:
    with pytest.raises(InvalidKid, match="length 12"):
        KidScheme(MOD10, length=12, creditor_digits=4).parse("12344")


def test_a_scheme_refuses_a_creditor_id_of_the_wrong_width() -> None:
    with pytest.raises(InvalidKid, match="creditor_id: exactly 4 digits"):
        KidScheme(MOD10, length=12, creditor_digits=4).for_invoice("301", 1)


def test_a_scheme_refuses_a_serial_that_does_not_fit() -> None:
    scheme = KidScheme(MOD10, length=6, creditor_digits=2)
    assert scheme.for_invoice("12", 999) == make_kid("12999", MOD10)
    with pytest.raises(InvalidKid, match="invoice_serial: 0 to 999"):
        scheme.for_invoice("12", 1000)
    with pytest.raises(InvalidKid, match="invoice_serial"):
        scheme.for_invoice("12", -1)


def test_a_scheme_without_creditor_prefix_is_serial_and_check_digit() -> None:
    scheme = KidScheme(MOD10, length=8, creditor_digits=0)
    assert scheme.parse(scheme.for_invoice("", 42)) == ("", 42)


@pytest.mark.parametrize(("length", "creditor_digits"), [(1, 0), (26, 4), (12, 11), (12, -1)])
def test_a_scheme_must_fit_the_kid_rules(length: int, creditor_digits: int) -> None:
    with pytest.raises(ValueError):
        KidScheme(MOD10, length=length, creditor_digits=creditor_digits)
