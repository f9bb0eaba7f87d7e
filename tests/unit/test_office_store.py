"""`KRAVSAK_OFFICE` (ADR 0032): an office's event store, publisher and process manager by its name."""

from __future__ import annotations

import base64

import pytest

from kravsak.errors import SettingsError
from kravsak.settings import automate_options, event_store_schema, load_settings


def test_without_an_office_there_is_one_event_store() -> None:
    assert event_store_schema({}) is None
    assert event_store_schema({"KRAVSAK_PG_SCHEMA": "es"}) == "es"
    assert automate_options({}).group == "kravsak-automate"


def test_an_office_names_its_store_its_worklist_and_its_group(tmp_path: object) -> None:
    from kravsak.settings import publisher_options

    env = {"KRAVSAK_OFFICE": "vest_finnmark"}
    assert event_store_schema(env) == "office_vest_finnmark"
    automate = automate_options(env)
    assert (automate.event_store_schema, automate.schema, automate.group) == (
        "office_vest_finnmark",
        "kravsak_automate_vest_finnmark",
        "kravsak-automate-vest_finnmark",
    )
    key = base64.b64encode(bytes(range(32))).decode()
    settings = load_settings({"KRAVSAK_HOME": str(tmp_path), "KRAVSAK_MASTER_KEY": key})
    options = publisher_options(settings, {**env, "KRAVSAK_MASTER_KEY": key})
    assert options.pg_schema == "office_vest_finnmark"


@pytest.mark.parametrize("name", ["Vest", "1office", "vest-finnmark", "x" * 41, "a;drop"])
def test_a_bad_office_name_is_refused_naming_the_rule(name: str) -> None:
    with pytest.raises(SettingsError) as refused:
        event_store_schema({"KRAVSAK_OFFICE": name})
    assert "KRAVSAK_OFFICE" in refused.value.problem and "lower-case letter" in refused.value.problem


def test_an_office_and_another_schema_at_once_is_an_error_not_a_guess() -> None:
    with pytest.raises(SettingsError, match="KRAVSAK_PG_SCHEMA=public"):
        event_store_schema({"KRAVSAK_OFFICE": "alta", "KRAVSAK_PG_SCHEMA": "public"})
    assert event_store_schema({"KRAVSAK_OFFICE": "alta", "KRAVSAK_PG_SCHEMA": "office_alta"}) == "office_alta"
