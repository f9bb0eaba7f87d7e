"""Keys on every door (ADR 0027): what the settings and the local stack's configuration say, no servers."""

from __future__ import annotations

from pathlib import Path

import pytest
from psycopg.conninfo import conninfo_to_dict

from consumers.kafka_access import client_args
from kravsak import local_secrets
from kravsak.errors import SettingsError
from kravsak.settings import PG_SERVICE_ROLES, Settings, load_settings
from kravsak.stack.postgres import hba_config


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {"KRAVSAK_HOME": str(tmp_path), **extra}


def test_pg_hba_knows_no_trust_and_keeps_the_superuser_off_tcp(tmp_path: Path) -> None:
    rules = [line.split() for line in hba_config(Settings(home=tmp_path)).splitlines() if line and line[0] != "#"]

    assert {rule[-1] for rule in rules} == {"scram-sha-256", "reject"}
    assert all(rule[-1] == "reject" for rule in rules if rule[0] == "host" and rule[2] == "postgres")
    assert ["local", "all", "postgres", "scram-sha-256"] in rules


def test_a_tls_sslmode_makes_the_local_server_take_tls_only(tmp_path: Path) -> None:
    settings = load_settings(_env(tmp_path, KRAVSAK_PG_SSLMODE="verify-full"))
    tcp = [line.split()[0] for line in hba_config(settings).splitlines() if line.startswith("host")]
    dsn = conninfo_to_dict(settings.pg_dsn)

    assert "hostssl" in tcp and tcp.count("host") == 2  # the two lines refusing the superuser
    assert dsn["sslmode"] == "verify-full" and dsn["sslrootcert"] == str(tmp_path / "tls" / "ca.crt")


def test_every_service_connects_as_its_own_role_with_its_generated_password(tmp_path: Path) -> None:
    local_secrets.ensure(tmp_path, [f"pg:{role}" for role in ("kravsak", *PG_SERVICE_ROLES.values())])
    settings = load_settings(_env(tmp_path))

    assert conninfo_to_dict(settings.pg_dsn)["user"] == "kravsak"
    for service, role in PG_SERVICE_ROLES.items():
        parts = conninfo_to_dict(settings.for_service(service).pg_dsn)
        assert parts["user"] == role
        assert parts["password"] == local_secrets.password(tmp_path, f"pg:{role}")
    assert settings.for_service("projector").eventsourcing_env()["CREATE_TABLE"] == "n"
    assert "CREATE_TABLE" not in settings.eventsourcing_env()


def test_generated_passwords_are_kept_and_never_overwritten(tmp_path: Path) -> None:
    first = local_secrets.ensure(tmp_path, ["pg:a"])
    again = local_secrets.ensure(tmp_path, ["pg:a", "pg:b"])

    assert again["pg:a"] == first["pg:a"] and len(again["pg:b"]) >= 32
    assert (local_secrets.secrets_file(tmp_path).stat().st_mode & 0o777) == 0o600


def test_an_external_server_takes_a_dsn_per_service_and_the_password_from_its_own_variable(tmp_path: Path) -> None:
    env = _env(
        tmp_path,
        KRAVSAK_PG_DSN="postgresql://owner@db.example:5432/kravsak",
        KRAVSAK_PG_DSN_PROJECTOR="postgresql://projector@db.example:5432/kravsak",
        KRAVSAK_PG_PASSWORD="s3cret",
        KRAVSAK_PG_SSLMODE="verify-full",
        KRAVSAK_PG_SSLROOTCERT="/etc/ssl/office-ca.pem",
    )
    settings = load_settings(env)
    projector = conninfo_to_dict(settings.for_service("projector").pg_dsn)
    publisher = conninfo_to_dict(settings.for_service("publisher").pg_dsn)

    assert (projector["user"], projector["password"], projector["sslmode"]) == ("projector", "s3cret", "verify-full")
    assert projector["sslrootcert"] == "/etc/ssl/office-ca.pem"
    assert publisher["user"] == "owner"  # no DSN of its own: the main one


def test_a_dsn_that_carries_a_password_keeps_it(tmp_path: Path) -> None:
    settings = load_settings(_env(tmp_path, KRAVSAK_PG_DSN="postgresql://o:mine@h/k", KRAVSAK_PG_PASSWORD="other"))

    assert conninfo_to_dict(settings.pg_dsn)["password"] == "mine"


def test_an_unknown_sslmode_is_refused_naming_the_variable(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="KRAVSAK_PG_SSLMODE='strict'"):
        load_settings(_env(tmp_path, KRAVSAK_PG_SSLMODE="strict"))


def test_a_service_without_a_role_is_a_programming_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no service 'web'"):
        Settings(home=tmp_path).for_service("web")


def test_each_service_has_its_own_kafka_user_and_the_readers_none(tmp_path: Path) -> None:
    local_secrets.ensure(tmp_path, ["kafka:admin", "kafka:publisher", "kafka:projector", "kafka:automate"])
    settings = load_settings(_env(tmp_path))

    assert client_args(settings.kafka_bootstrap)["sasl_plain_username"] == "admin"
    for service in ("publisher", "projector", "automate"):
        args = client_args(settings.for_service(service).kafka_bootstrap)
        assert (args["security_protocol"], args["sasl_mechanism"]) == ("SASL_PLAINTEXT", "SCRAM-SHA-512")
        assert args["sasl_plain_username"] == service
        assert args["sasl_plain_password"] == local_secrets.password(tmp_path, f"kafka:{service}")
    for service in ("reader", "writer"):  # no business on Kafka: no credentials, the broker refuses them
        assert client_args(settings.for_service(service).kafka_bootstrap)["security_protocol"] == "PLAINTEXT"
    assert "admin:" not in settings.kafka_servers and settings.kafka_servers.startswith("sasl_plaintext://admin@")


def test_kafka_tls_sends_local_clients_to_the_sasl_ssl_listener_with_the_local_ca(tmp_path: Path) -> None:
    local_secrets.ensure(tmp_path, ["kafka:publisher"])
    settings = load_settings(_env(tmp_path, KRAVSAK_KAFKA_TLS="on", KRAVSAK_KAFKA_TLS_PORT="59999"))
    args = client_args(settings.for_service("publisher").kafka_bootstrap)

    assert args["security_protocol"] == "SASL_SSL" and args["bootstrap_servers"] == ["127.0.0.1:59999"]
    assert args["ssl_cafile"] == str(tmp_path / "tls" / "ca.crt") and args["ssl_check_hostname"] is True


def test_an_external_kafka_takes_a_connection_string_per_service(tmp_path: Path) -> None:
    settings = load_settings(
        _env(
            tmp_path,
            KRAVSAK_KAFKA_BOOTSTRAP="sasl_ssl://admin:a@k1:9093?cafile=/ca.pem",
            KRAVSAK_KAFKA_BOOTSTRAP_PUBLISHER="sasl_ssl://pub:p@k1:9093?cafile=/ca.pem",
        )
    )

    assert client_args(settings.for_service("publisher").kafka_bootstrap)["sasl_plain_username"] == "pub"
    assert client_args(settings.for_service("projector").kafka_bootstrap)["sasl_plain_username"] == "admin"
    with pytest.raises(SettingsError, match="KRAVSAK_KAFKA_BOOTSTRAP_PROJECTOR is not a Kafka connection string"):
        load_settings(
            _env(tmp_path, KRAVSAK_KAFKA_BOOTSTRAP="k1:9092", KRAVSAK_KAFKA_BOOTSTRAP_PROJECTOR="ssl://u:p@k")
        )
