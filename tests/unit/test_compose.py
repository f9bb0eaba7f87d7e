"""docker-compose.yml runs the same stack from official images (checked here; no engine runs in CI)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from kravsak.settings import DEFAULT_KAFKA_PORT, DEFAULT_PG_PORT, KAFKA_VERSION
from kravsak.stack.kafka.jars import packaged_file

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    parsed: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return parsed


def test_compose_has_the_servers_and_the_kravsak_services(compose: dict[str, Any]) -> None:
    assert set(compose["services"]) == {"postgres", "kafka", "publisher", "projector", "automate"}
    assert set(compose["volumes"]) == {"pgdata", "kafkadata"}
    for service in compose["services"].values():
        assert "image" in service or "build" in service


def test_every_service_has_a_health_check(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        check = service["healthcheck"]
        assert check["test"][0] in ("CMD", "CMD-SHELL"), name
        assert {"interval", "timeout", "retries"} <= set(check), name
    for name in ("publisher", "projector", "automate"):
        assert compose["services"][name]["healthcheck"]["test"] == ["CMD", "kravsak", "health", name]


def test_no_password_is_written_in_the_file(compose: dict[str, Any]) -> None:
    text = (ROOT / "docker-compose.yml").read_text()

    assert compose["services"]["postgres"]["environment"]["POSTGRES_PASSWORD"].startswith("${KRAVSAK_PG_PASSWORD:?")
    assert "scram-sha-256" in compose["services"]["postgres"]["environment"]["POSTGRES_INITDB_ARGS"]
    for name in ("publisher", "projector", "automate"):
        env = compose["services"][name]["environment"]
        assert ":" not in env["KRAVSAK_PG_DSN"].split("@")[0].partition("://")[2]  # no user:password@
        assert env["KRAVSAK_PG_PASSWORD"].startswith("${KRAVSAK_PG_PASSWORD:?")
    assert "kravsak:kravsak@" not in text


def test_postgres_is_version_15_on_the_local_stack_port(compose: dict[str, Any]) -> None:
    postgres = compose["services"]["postgres"]

    assert postgres["image"] == "postgres:15"
    assert postgres["ports"] == [f"127.0.0.1:{DEFAULT_PG_PORT}:5432"]
    assert postgres["environment"]["POSTGRES_DB"] == "kravsak"
    assert "pg_isready" in " ".join(postgres["healthcheck"]["test"])


def test_kafka_is_a_single_kraft_node_of_the_local_stack_version(compose: dict[str, Any]) -> None:
    kafka = compose["services"]["kafka"]
    env = kafka["environment"]

    assert kafka["image"] == f"apache/kafka:{KAFKA_VERSION}"
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == f"{env['KAFKA_NODE_ID']}@kafka:9093"
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", env["CLUSTER_ID"])
    for factor in (
        "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR",
        "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR",
        "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR",
    ):
        assert env[factor] == "1"
    listeners = dict(item.split("://") for item in env["KAFKA_ADVERTISED_LISTENERS"].split(","))
    assert listeners["EXTERNAL"] == f"127.0.0.1:{DEFAULT_KAFKA_PORT}"
    assert kafka["ports"] == [f"127.0.0.1:{DEFAULT_KAFKA_PORT}:9092"]
    mapped = dict(item.split(":") for item in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(","))
    names = {item.split("://")[0] for item in env["KAFKA_LISTENERS"].split(",")}
    assert names == set(mapped)


@pytest.mark.parametrize(
    ("service", "command"), [("publisher", "publish"), ("projector", "project"), ("automate", "automate")]
)
def test_kravsak_services_run_the_cli_against_the_compose_servers(
    compose: dict[str, Any], service: str, command: str
) -> None:
    spec = compose["services"][service]
    env = spec["environment"]

    assert spec["build"] == "."
    assert spec["command"] == [command]
    assert env["KRAVSAK_PG_DSN"].endswith("@postgres:5432/kravsak")
    assert env["KRAVSAK_KAFKA_BOOTSTRAP"] == "kafka:19092"
    assert env["KRAVSAK_LOG_FORMAT"] == "json"
    assert {name: dep["condition"] for name, dep in spec["depends_on"].items()} == {
        "postgres": "service_healthy",
        "kafka": "service_healthy",
    }
    assert spec["healthcheck"]["test"] == ["CMD", "kravsak", "health", service]


def test_the_image_runs_the_kravsak_cli() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()

    assert dockerfile.startswith("#") and "FROM python:3.11" in dockerfile
    assert 'ENTRYPOINT ["kravsak"]' in dockerfile


def test_the_maven_pom_defaults_to_the_pinned_kafka_version() -> None:
    assert f"<kafka.version>{KAFKA_VERSION}</kafka.version>" in packaged_file("pom.xml")
