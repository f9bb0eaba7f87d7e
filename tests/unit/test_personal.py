"""The debtor register's parts that need no server: keys, seals, registrations, synthetic ids,
retention periods, the settings that find the keys."""

from __future__ import annotations

import base64
import os
import random
from datetime import date
from pathlib import Path

import pytest

from domain.application import CollectionApp
from domain.identity import InvalidIdentity, validate_identity
from domain.retention import retention_end, retention_years
from kravsak.errors import SettingsError
from kravsak.settings import ensure_local_master_key, key_provider, load_settings, office_secret
from personal.keys import KeyUnusable, LocalKeyProvider, read_master_key_file, write_master_key_file
from personal.model import InvalidPersonalData, Mailbox, parse_person
from personal.sealing import SealBroken, open_sealed, purpose_key, seal
from personal.synthetic import national_id, no_person, se_person

KEY = bytes(range(32))


def person(**changes: object) -> dict[str, object]:
    raw: dict[str, object] = {
        "national_id": no_person(random.Random(1)),
        "kind": "person",
        "jurisdiction": "NO",
        "name": "Kari  Nordmann",
        "address": {"lines": ["Storgata 1"], "postcode": "9510", "city": "Alta"},
        "mailbox": "digipost",
    }
    raw.update(changes)
    return raw


# --- keys and seals ------------------------------------------------------------------------------


def test_a_wrapped_data_key_opens_only_for_its_own_debtor() -> None:
    keys = LocalKeyProvider(KEY)
    wrapped = keys.wrap(b"k" * 32, context="debtor-1")
    assert keys.unwrap(wrapped, context="debtor-1") == b"k" * 32
    with pytest.raises(KeyUnusable, match="does not open"):
        keys.unwrap(wrapped, context="debtor-2")


def test_a_data_key_wrapped_by_another_master_key_is_refused_by_name() -> None:
    wrapped = LocalKeyProvider(KEY).wrap(b"k" * 32, context="d")
    other = LocalKeyProvider(bytes(32))
    with pytest.raises(KeyUnusable, match=f"wrapped by master key {wrapped.key_id}"):
        other.unwrap(wrapped, context="d")


def test_a_master_key_must_have_32_bytes() -> None:
    with pytest.raises(KeyUnusable, match="32 are required"):
        LocalKeyProvider(b"short")


def test_a_sealed_value_opens_only_with_its_purpose_key_and_debtor() -> None:
    data_key = os.urandom(32)
    sealed = seal(purpose_key(data_key, "register"), b"Kari", aad="register:d1")
    assert open_sealed(purpose_key(data_key, "register"), sealed, aad="register:d1") == b"Kari"
    with pytest.raises(SealBroken):
        open_sealed(purpose_key(data_key, "stream"), sealed, aad="register:d1")
    with pytest.raises(SealBroken):
        open_sealed(purpose_key(data_key, "register"), sealed, aad="register:d2")
    assert b"Kari" not in sealed


def test_the_master_key_file_is_made_once_with_mode_0600(tmp_path: Path) -> None:
    path = tmp_path / "secrets" / "master.key"
    assert write_master_key_file(path)
    first = path.read_text()
    assert not write_master_key_file(path)  # never overwritten
    assert path.read_text() == first
    assert path.stat().st_mode & 0o777 == 0o600
    assert len(read_master_key_file(path)) == 32


def test_a_master_key_file_others_may_read_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    path.write_text(base64.b64encode(KEY).decode())
    path.chmod(0o644)
    with pytest.raises(KeyUnusable, match="chmod 600"):
        read_master_key_file(path)


# --- settings ------------------------------------------------------------------------------------


def test_without_a_master_key_the_settings_name_the_variables(tmp_path: Path) -> None:
    env = {"KRAVSAK_HOME": str(tmp_path)}
    with pytest.raises(SettingsError, match="KRAVSAK_MASTER_KEY"):
        office_secret(load_settings(env), env)


def test_the_local_stack_gets_a_key_and_the_office_secret_derives_from_it(tmp_path: Path) -> None:
    env = {"KRAVSAK_HOME": str(tmp_path)}
    settings = load_settings(env)
    made = ensure_local_master_key(settings, env)
    assert made == tmp_path / "secrets" / "master.key"
    assert ensure_local_master_key(settings, env) is None
    secret = office_secret(settings, env)
    assert len(secret) == 32 and secret == key_provider(settings, env).office_secret()


def test_an_office_secret_shorter_than_32_bytes_is_refused() -> None:
    env = {"KRAVSAK_OFFICE_SECRET": base64.b64encode(b"x" * 16).decode()}
    with pytest.raises(SettingsError, match="KRAVSAK_OFFICE_SECRET"):
        office_secret(load_settings(env), env)


def test_a_master_key_that_is_not_base64_names_the_variable() -> None:
    env = {"KRAVSAK_MASTER_KEY": "not base64!"}
    with pytest.raises(SettingsError, match="KRAVSAK_MASTER_KEY: not base64"):
        key_provider(load_settings(env), env)


def test_opaque_debtor_ids_depend_on_the_office_secret() -> None:
    a = CollectionApp(office_secret=b"a" * 32)
    b = CollectionApp(office_secret=b"b" * 32)
    for app in (a, b):
        app.register_debtor(office="1", ref="R1", kind="person", jurisdiction="NO", on=date(2025, 1, 1), command_id="c")
    assert a.debtor("1", "R1").opaque_id != b.debtor("1", "R1").opaque_id
    assert a.debtor("1", "R1").id == b.debtor("1", "R1").id  # the aggregate id never moves


# --- registrations -------------------------------------------------------------------------------


def test_a_registration_is_checked_and_normalised() -> None:
    p = parse_person(person(), allow_synthetic=True)
    assert p.name == "Kari Nordmann" and p.language.value == "nb" and p.mailbox == Mailbox.DIGIPOST
    assert p.contact_flags()["digital_mailbox"] and p.contact_flags()["has_postal_address"]
    assert parse_person(person(), allow_synthetic=True).to_json() == p.to_json()


@pytest.mark.parametrize(
    ("changes", "field", "rule"),
    [
        ({"national_id": "01017012345"}, "national_id", "checksum"),
        ({"kind": "robot"}, "kind", "must be person or organisation"),
        ({"mailbox": "kivra"}, "mailbox", "kivra is not a NO digital mailbox"),
        ({"address": {"lines": ["x"], "postcode": "95100", "city": "Alta"}}, "address.postcode", "not a NO postcode"),
        (
            {"mailbox": "reserved", "address": None},
            "address",
            "required when the debtor has no digital mailbox (notices go by post)",
        ),
        ({"language": "de"}, "language", "must be nb, sv or en"),
        ({"email": "nope"}, "email", "not an e-mail address"),
        ({"surname": "x"}, "surname", "unknown field"),
    ],
)
def test_a_bad_registration_names_the_field_and_the_rule(changes: dict[str, object], field: str, rule: str) -> None:
    with pytest.raises(InvalidPersonalData) as caught:
        parse_person(person(**changes), allow_synthetic=True)
    assert (caught.value.field, caught.value.rule) == (field, rule)


def test_an_error_never_quotes_the_national_id() -> None:
    number = "01017012345"
    with pytest.raises(InvalidPersonalData) as caught:
        parse_person(person(national_id=number))
    assert number not in str(caught.value)


def test_synthetic_identities_pass_the_checks_and_are_refused_outside_tests() -> None:
    rng = random.Random(4)
    for _ in range(50):
        for j in ("NO", "SE"):
            for kind in ("person", "organisation"):
                number = national_id(rng, jurisdiction=j, kind=kind)
                assert validate_identity(number, jurisdiction=j, kind=kind, allow_synthetic=True)
        with pytest.raises(InvalidIdentity):
            validate_identity(no_person(rng), jurisdiction="NO", kind="person")
        with pytest.raises(InvalidIdentity):
            validate_identity(se_person(rng), jurisdiction="SE", kind="person")


def test_a_norwegian_synthetic_id_has_the_month_plus_80() -> None:
    assert int(no_person(random.Random(2), date(1980, 5, 17))[2:4]) == 85


# --- retention ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("jurisdiction", "fiscal_year_end", "years"),
    [
        ("NO", date(2014, 12, 31), 10),
        ("NO", date(2015, 1, 1), 5),
        ("SE", date(2018, 12, 31), 10),
        ("SE", date(2019, 1, 1), 7),
    ],
)
def test_the_retention_period_on_the_day_before_and_the_day_of_its_change(
    jurisdiction: str, fiscal_year_end: date, years: int
) -> None:
    from domain.rules import rules_for

    assert int(rules_for(jurisdiction).params.value("accounting_retention_years", fiscal_year_end)) == years


def test_a_claim_closed_in_2025_in_norway_is_kept_through_2030() -> None:
    assert retention_years("NO", 2025) == 5
    assert retention_end("NO", date(2025, 1, 2)) == date(2030, 12, 31)
    assert retention_end("NO", date(2014, 12, 31)) == date(2024, 12, 31)


def test_a_swedish_claim_closed_in_2018_is_kept_ten_years_one_closed_in_2019_seven() -> None:
    assert retention_end("SE", date(2018, 12, 31)) == date(2028, 12, 31)
    assert retention_end("SE", date(2019, 1, 1)) == date(2026, 12, 31)
