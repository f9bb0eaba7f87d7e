"""Settings come from KRAVSAK_* variables; the DSN becomes eventsourcing's PostgreSQL environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from kravsak.errors import SettingsError
from kravsak.settings import eventsourcing_env, load_settings, redact_dsn


def test_defaults_point_at_the_local_stack_on_loopback(tmp_path: Path) -> None:
    settings = load_settings({"KRAVSAK_HOME": str(tmp_path)})

    assert settings.home == tmp_path.resolve()
    assert settings.pg_dsn == "postgresql://kravsak@127.0.0.1:55432/kravsak"  # its password: `kravsak up` makes it
    assert settings.kafka_bootstrap == "127.0.0.1:59092"
    assert not settings.pg_is_external and not settings.kafka_is_external


def test_without_kravsak_home_the_home_is_dot_kravsak_in_the_checkout() -> None:
    settings = load_settings({})

    assert settings.home.name == ".kravsak"
    assert (settings.home.parent / "pyproject.toml").is_file()


def test_local_ports_follow_the_port_variables(tmp_path: Path) -> None:
    settings = load_settings({"KRAVSAK_HOME": str(tmp_path), "KRAVSAK_PG_PORT": "56000", "KRAVSAK_KAFKA_PORT": "56001"})

    assert settings.pg_dsn.endswith("@127.0.0.1:56000/kravsak")
    assert settings.kafka_bootstrap == "127.0.0.1:56001"


def test_external_servers_replace_the_local_ones() -> None:
    settings = load_settings(
        {
            "KRAVSAK_PG_DSN": "postgresql://ks:secret@db.example:5433/cases",
            "KRAVSAK_KAFKA_BOOTSTRAP": "k1:9092,k2:9092",
        }
    )

    assert settings.pg_is_external and settings.kafka_is_external
    assert settings.pg_dsn == "postgresql://ks:secret@db.example:5433/cases"
    assert settings.kafka_bootstrap == "k1:9092,k2:9092"


def test_a_uri_dsn_becomes_the_eventsourcing_postgres_environment() -> None:
    env = eventsourcing_env("postgresql://ks:s%40cret@db.example:5433/cases?connect_timeout=7")

    assert env == {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": "cases",
        "POSTGRES_HOST": "db.example",
        "POSTGRES_PORT": "5433",
        "POSTGRES_USER": "ks",
        "POSTGRES_PASSWORD": "s@cret",
        "POSTGRES_CONNECT_TIMEOUT": "7",
    }


def test_a_key_value_dsn_without_port_or_password_gets_the_defaults() -> None:
    env = eventsourcing_env("host=/var/run/postgresql dbname=cases user=ks")

    assert env["POSTGRES_HOST"] == "/var/run/postgresql"
    assert env["POSTGRES_PORT"] == "5432"
    assert env["POSTGRES_PASSWORD"] == ""


def test_settings_give_the_environment_with_overrides(tmp_path: Path) -> None:
    env = load_settings({"KRAVSAK_HOME": str(tmp_path)}).eventsourcing_env(POSTGRES_SCHEMA="audit")

    assert env["POSTGRES_PORT"] == "55432"
    assert env["POSTGRES_SCHEMA"] == "audit"


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        ({"KRAVSAK_PG_PORT": "fifty"}, "KRAVSAK_PG_PORT='fifty'"),
        ({"KRAVSAK_KAFKA_PORT": "80"}, "KRAVSAK_KAFKA_PORT='80'"),
        ({"KRAVSAK_PG_DSN": "postgresql://db.example/cases"}, "names no user"),
        ({"KRAVSAK_PG_DSN": "host=a,b dbname=x user=y"}, "several hosts"),
        ({"KRAVSAK_KAFKA_BOOTSTRAP": "broker-without-port"}, "is not host:port"),
        ({"KRAVSAK_LOG_FORMAT": "xml"}, "KRAVSAK_LOG_FORMAT='xml'"),
        ({"KRAVSAK_START_TIMEOUT": "-1"}, "KRAVSAK_START_TIMEOUT='-1'"),
        ({"KRAVSAK_PG_PORT": "59092"}, "the local ports repeat"),
    ],
)
def test_a_bad_value_is_refused_naming_the_variable_and_a_fix(environ: dict[str, str], named: str) -> None:
    with pytest.raises(SettingsError) as refused:
        load_settings(environ)

    assert named in refused.value.problem
    assert refused.value.fix


def test_the_password_never_shows_in_a_redacted_dsn() -> None:
    shown = redact_dsn("postgresql://ks:topsecret@db.example/cases")

    assert "topsecret" not in shown
    assert "password=***" in shown
