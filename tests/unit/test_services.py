"""The composition root: services take what they need from kravsak.settings, never the other way.

The inner packages (domain, projections, consumers) import nothing from kravsak/; every variable
kravsak reads is parsed in kravsak/settings.py and listed by `kravsak env`; a service process
started with a bad variable ends with one log line naming it and exit code 2."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from uuid import UUID

import pytest

from consumers.wire.envelope import DEVELOPMENT_DIGEST_KEY
from kravsak import services
from kravsak.errors import KravsakError, SettingsError
from kravsak.settings import (
    ENV_VARS,
    automate_clock,
    automate_options,
    env_number,
    free_text_key,
    load_settings,
    projector_options,
    publisher_options,
)

ROOT = Path(__file__).resolve().parents[2]


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("package", ["domain", "projections", "consumers"])
def test_an_inner_package_imports_nothing_from_the_composition_root(package: str) -> None:
    offenders = {
        str(path.relative_to(ROOT)): sorted(n for n in _imports(path) if n == "kravsak" or n.startswith("kravsak."))
        for path in (ROOT / package).rglob("*.py")
    }

    assert {path: names for path, names in offenders.items() if names} == {}


def test_every_variable_kravsak_reads_is_listed_by_kravsak_env() -> None:
    read: set[str] = set()
    for package in ("kravsak", "domain", "projections", "consumers"):
        for path in (ROOT / package).rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            read |= set(re.findall(r"""(?:env|environ|os\.environ)(?:\.get\(|\[)\s*["'](KRAVSAK_[A-Z_]+)""", text))
            read |= set(re.findall(r"""env_number\(\s*env,\s*["'](KRAVSAK_[A-Z_]+)""", text))
            read |= set(re.findall(r"""_port\(env,\s*["'](KRAVSAK_[A-Z_]+)""", text))

    assert read, "the scan found no variable at all"
    assert read - set(ENV_VARS) == set()


def test_a_number_that_is_not_one_names_the_variable_what_it_must_hold_and_the_fix() -> None:
    with pytest.raises(SettingsError) as bad:
        env_number({"KRAVSAK_PROJECTOR_BATCH": "lots"}, "KRAVSAK_PROJECTOR_BATCH", 2000)

    assert bad.value.problem == "KRAVSAK_PROJECTOR_BATCH='lots' is not a positive whole number"
    assert bad.value.fix == "set KRAVSAK_PROJECTOR_BATCH to e.g. 2000, or unset it for the default 2000"
    assert isinstance(bad.value, KravsakError) and bad.value.exit_code == 2


@pytest.mark.parametrize(
    ("raw", "default", "accepted"),
    [("0", 10.0, None), ("-3", 10.0, None), ("0.5", 10.0, 0.5), ("", 10.0, 10.0), ("3", 12, 3), ("3.5", 12, None)],
)
def test_a_number_is_positive_and_whole_where_a_count_is_asked(
    raw: str, default: float, accepted: float | None
) -> None:
    env = {"KRAVSAK_X": raw}
    if accepted is None:
        with pytest.raises(SettingsError):
            env_number(env, "KRAVSAK_X", default)
    else:
        assert env_number(env, "KRAVSAK_X", default) == accepted


def test_the_services_options_follow_their_variables(tmp_path: Path) -> None:
    env = {
        "KRAVSAK_HOME": str(tmp_path),
        "KRAVSAK_CASE_EVENTS_PARTITIONS": "6",
        "KRAVSAK_TOPIC_REPLICATION": "1",
        "KRAVSAK_PG_SCHEMA": "es_test",
        "KRAVSAK_PUBLISHER_TOPIC": "t1",
        "KRAVSAK_PUBLISHER_BATCH": "500",
        "KRAVSAK_PUBLISHER_LAG_LOG_S": "1.5",
        "KRAVSAK_PROJECTOR_GROUP": "g1",
        "KRAVSAK_PROJECTOR_SCHEMA_SUFFIX": "_x",
        "KRAVSAK_PROJECTOR_SESSION_TIMEOUT_MS": "10000",
        "KRAVSAK_AUTOMATE_NAMESPACE": "6ba7b811-9dad-11d1-80b4-00c04fd430c8",
        "KRAVSAK_AUTOMATE_CLOCK": "simulated",
        "KRAVSAK_AUTOMATE_CLOCK_NAME": "demo",
        "KRAVSAK_OFFICE_SECRET": "b2ZmaWNlLXNlY3JldC1mb3ItdGhlLXNlcnZpY2VzLXRlc3Q=",
    }
    settings = load_settings(env)

    publisher = publisher_options(settings, env)
    projector = projector_options(env)
    automate = automate_options(env)

    assert (publisher.topic, publisher.batch_size, publisher.lag_log_interval_s) == ("t1", 500, 1.5)
    assert (publisher.pg_schema, publisher.partitions, publisher.replication) == ("es_test", 6, 1)
    assert publisher.digest_key == free_text_key(settings, env) != DEVELOPMENT_DIGEST_KEY  # keyed by the office
    assert (projector.group, projector.schema_suffix, projector.session_timeout_ms) == ("g1", "_x", 10000)
    assert automate.namespace == UUID("6ba7b811-9dad-11d1-80b4-00c04fd430c8")
    assert automate.event_store_schema == "es_test"
    assert automate_clock(env) == ("simulated", "demo")


def test_a_publisher_of_a_partition_range_has_its_own_position_name() -> None:
    from consumers.partitions import PartitionRange

    env = {"KRAVSAK_OFFICE_SECRET": "b2ZmaWNlLXNlY3JldC1mb3ItdGhlLXNlcnZpY2VzLXRlc3Q=", "KRAVSAK_PUBLISHER_TOPIC": "t1"}
    settings = load_settings(env)
    whole = publisher_options(settings, env)
    ranged = publisher_options(settings, {**env, "KRAVSAK_PUBLISHER_PARTITIONS": "6-11"})
    assert whole.partition_range is None and whole.position_name == "t1"
    assert ranged.partition_range == PartitionRange(6, 11)
    assert ranged.position_name == "t1@partitions-6-11" and ranged.base_name == "t1"
    with pytest.raises(SettingsError, match="KRAVSAK_PUBLISHER_PARTITIONS"):
        publisher_options(settings, {**env, "KRAVSAK_PUBLISHER_PARTITIONS": "11-6"})


def test_a_namespace_that_is_no_uuid_is_refused_by_name() -> None:
    with pytest.raises(SettingsError, match="KRAVSAK_AUTOMATE_NAMESPACE='oslo' is not a UUID"):
        automate_options({"KRAVSAK_AUTOMATE_NAMESPACE": "oslo"})


def test_a_service_process_with_a_bad_variable_logs_one_line_and_exits_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setenv("KRAVSAK_HOME", str(tmp_path))
    monkeypatch.setenv("KRAVSAK_LOG_FORMAT", "json")
    monkeypatch.setenv("KRAVSAK_PROJECTOR_BATCH", "0")

    assert services.main(["projector"]) == 2

    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert [(line["event"], line["level"]) for line in lines] == [("projector.failed", "error")]
    assert lines[0]["error"] == "KRAVSAK_PROJECTOR_BATCH='0' is not a positive whole number"


def test_an_unknown_service_is_refused_with_the_usage(capsys: pytest.CaptureFixture[str]) -> None:
    assert services.main(["projecter"]) == 2
    assert "python -m kravsak.services publisher" in capsys.readouterr().err
