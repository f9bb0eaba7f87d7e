"""Login settings: the local OpenID provider by default, any issuer by settings, roles mapped from claims."""

from __future__ import annotations

from pathlib import Path

import pytest

from kravsak.errors import SettingsError
from kravsak.settings import load_settings
from kravsak.stack import services
from kravsak.stack.oidc import ExternalOidcProvider, LocalOidcProvider, provider_config


def test_without_issuer_settings_the_local_provider_serves_staff_and_residents(tmp_path: Path) -> None:
    settings = load_settings({"KRAVSAK_HOME": str(tmp_path), "KRAVSAK_OIDC_PORT": "58000"})

    assert settings.staff_issuer == "http://127.0.0.1:58000/staff"
    assert settings.resident_issuer == "http://127.0.0.1:58000/residents"
    assert isinstance(services(settings)[-1], LocalOidcProvider)


def test_two_issuer_urls_replace_the_local_provider(tmp_path: Path) -> None:
    settings = load_settings(
        {
            "KRAVSAK_HOME": str(tmp_path),
            "KRAVSAK_OIDC_STAFF_ISSUER": "https://login.microsoftonline.com/tenant/v2.0",
            "KRAVSAK_OIDC_RESIDENT_ISSUER": "https://idporten.no/",
        }
    )

    assert settings.oidc_is_external
    assert settings.resident_issuer == "https://idporten.no/"  # compared with iss exactly, slash kept
    assert isinstance(services(settings)[-1], ExternalOidcProvider)


def test_an_issuer_over_plain_http_elsewhere_is_refused() -> None:
    with pytest.raises(SettingsError, match="KRAVSAK_OIDC_STAFF_ISSUER"):
        load_settings({"KRAVSAK_OIDC_STAFF_ISSUER": "http://idp.example/staff"})


def test_role_claim_values_map_to_kravsak_roles() -> None:
    settings = load_settings({"KRAVSAK_OIDC_ROLES": "Kravsak.Caseworker=caseworker, auditor"})

    assert settings.oidc_roles == (("Kravsak.Caseworker", "caseworker"), ("auditor", "auditor"))


def test_a_role_mapping_to_an_unknown_role_names_the_pair() -> None:
    with pytest.raises(SettingsError, match="'Admins=admin'"):
        load_settings({"KRAVSAK_OIDC_ROLES": "Admins=admin"})


def test_the_provider_port_may_not_repeat_another_local_port() -> None:
    with pytest.raises(SettingsError, match="OpenID provider 55432"):
        load_settings({"KRAVSAK_OIDC_PORT": "55432"})


def test_local_provider_tokens_carry_the_audience_and_role_claims_of_the_settings() -> None:
    settings = load_settings({"KRAVSAK_OIDC_AUDIENCE": "kommune-api", "KRAVSAK_OIDC_ROLE_CLAIM": "groups"})
    config = provider_config(settings)

    staff, residents = config["tokenCallbacks"]
    caseworker = next(m for m in staff["requestMappings"] if m["match"] == "caseworker")
    assert caseworker["claims"]["aud"] == ["kommune-api"]
    assert caseworker["claims"]["groups"] == ["caseworker"]
    assert caseworker["claims"]["office"] == "${office}"
    by_client = next(m for m in residents["requestMappings"] if m["requestParam"] == "client_id")
    assert by_client["claims"]["pid"] == "${pid}"
    # a person's login (authorization code) comes first: its claims are the ones typed on the login page
    person = residents["requestMappings"][0]
    assert (person["requestParam"], person["match"]) == ("grant_type", "authorization_code")
    assert "pid" not in person["claims"] and "kommune-api" in person["claims"]["aud"]
    assert staff["requestMappings"][-1]["match"] == "*"  # no known role: no roles claim at all
    assert "groups" not in staff["requestMappings"][-1]["claims"]
