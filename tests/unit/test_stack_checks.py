"""The checks `kravsak up` makes before it starts anything, and the configs it writes."""

from __future__ import annotations

import os
import pwd
import tempfile
from pathlib import Path

import pytest

from kravsak.errors import DataFromOtherVersion, MavenCentralUnreachable, MavenFailed
from kravsak.settings import load_settings
from kravsak.stack.kafka import broker
from kravsak.stack.kafka.jars import classify_maven_failure, java_major
from kravsak.stack.postgres import check_data_version, first_closed_folder, server_config, socket_folder


@pytest.mark.parametrize(
    ("output", "major"),
    [
        ('openjdk version "17.0.15" 2025-04-15', 17),
        ('openjdk version "21" 2023-09-19', 21),
        ('java version "1.8.0_402"', 8),
        ("no version here", None),
    ],
)
def test_java_major_version_is_read_from_java_version_output(output: str, major: int | None) -> None:
    assert java_major(output) == major


def test_maven_without_network_is_reported_as_maven_central_unreachable(tmp_path: Path) -> None:
    output = (
        "[ERROR] Plugin org.apache.maven.plugins:maven-dependency-plugin:3.8.1 could not be resolved: "
        "Could not transfer artifact ... from/to central (https://repo.maven.apache.org/maven2): "
        "java.net.UnknownHostException: repo.maven.apache.org"
    )

    error = classify_maven_failure(output, "4.4.0", tmp_path / "maven.log")

    assert isinstance(error, MavenCentralUnreachable)
    assert "Maven Central is unreachable" in error.problem
    assert "KRAVSAK_KAFKA_BOOTSTRAP" in error.fix


def test_a_kafka_version_maven_central_lacks_is_named(tmp_path: Path) -> None:
    output = (
        "[ERROR] Failed to execute goal on project x: Could not find artifact org.apache.kafka:kafka_2.13:jar:9.9.9"
    )

    error = classify_maven_failure(output, "9.9.9", tmp_path / "maven.log")

    assert isinstance(error, MavenFailed)
    assert "org.apache.kafka:kafka_2.13:jar:9.9.9" in error.problem


def test_another_maven_failure_names_its_first_error_line(tmp_path: Path) -> None:
    error = classify_maven_failure("[INFO] x\n[ERROR] The goal you specified requires a project", "4.4.0", tmp_path)

    assert type(error) is MavenFailed
    assert "The goal you specified requires a project" in error.problem


def test_postgres_data_of_another_major_version_is_refused(tmp_path: Path) -> None:
    (tmp_path / "PG_VERSION").write_text("14\n")

    with pytest.raises(DataFromOtherVersion) as refused:
        check_data_version(tmp_path)

    assert "PostgreSQL 14 cluster" in refused.value.problem
    assert "kravsak reset --yes" in refused.value.fix


def test_postgres_data_of_version_15_is_used_and_an_empty_folder_gets_initdb(tmp_path: Path) -> None:
    assert check_data_version(tmp_path / "missing") is False
    assert check_data_version(tmp_path) is False
    (tmp_path / "PG_VERSION").write_text("15\n")
    assert check_data_version(tmp_path) is True


def test_a_postgres_data_folder_holding_something_else_is_refused(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")

    with pytest.raises(DataFromOtherVersion, match="holds no PostgreSQL cluster"):
        check_data_version(tmp_path)


def test_kafka_data_formatted_by_another_version_is_refused(tmp_path: Path) -> None:
    (tmp_path / "meta.properties").write_text("version=1\nnode.id=1\ncluster.id=abc\n")
    (tmp_path / broker.MARKER).write_text("kafka.version=4.1.1\ncluster.id=abc\n")

    with pytest.raises(DataFromOtherVersion) as refused:
        broker.check_data_version(tmp_path, "4.4.0")

    assert "formatted by Kafka 4.1.1; kravsak runs Kafka 4.4.0" in refused.value.problem


def test_kafka_data_formatted_elsewhere_is_refused_and_our_own_is_reused(tmp_path: Path) -> None:
    (tmp_path / "meta.properties").write_text("version=0\nbroker.id=0\ncluster.id=zk\n")
    with pytest.raises(DataFromOtherVersion, match="that kravsak did not format"):
        broker.check_data_version(tmp_path, "4.4.0")

    (tmp_path / broker.MARKER).write_text("kafka.version=4.4.0\ncluster.id=ours\n")
    assert broker.check_data_version(tmp_path, "4.4.0") == "ours"
    assert broker.check_data_version(tmp_path / "fresh", "4.4.0") is None


def test_kafka_server_properties_are_single_node_on_loopback(tmp_path: Path) -> None:
    settings = load_settings({"KRAVSAK_HOME": str(tmp_path), "KRAVSAK_KAFKA_PORT": "60001"})
    props = dict(
        line.split("=", 1)
        for line in broker.server_properties(settings, tmp_path / "data", "pw").splitlines()
        if line and not line.startswith("#")
    )

    assert props["process.roles"] == "broker,controller"
    assert props["listeners"] == "SASL_PLAINTEXT://127.0.0.1:60001,CONTROLLER://127.0.0.1:59093"
    assert "PLAINTEXT" not in props["listener.security.protocol.map"].replace("SASL_PLAINTEXT", "")
    assert props["authorizer.class.name"] == "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
    assert props["allow.everyone.if.no.acl.found"] == "false"
    assert props["super.users"] == "User:broker;User:admin"
    assert props["controller.quorum.bootstrap.servers"] == "127.0.0.1:59093"
    assert props["log.dirs"] == str(tmp_path / "data")
    assert props["offsets.topic.replication.factor"] == "1"
    assert props["transaction.state.log.min.isr"] == "1"
    assert props["group.initial.rebalance.delay.ms"] == "0"
    assert props["auto.create.topics.enable"] == "false"


def test_a_kraft_cluster_id_is_22_url_safe_characters() -> None:
    ids = {broker.new_cluster_id() for _ in range(50)}

    assert len(ids) == 50
    assert all(len(i) == 22 and not i.startswith("-") for i in ids)


def test_postgres_listens_on_loopback_with_its_socket_in_the_home(tmp_path: Path) -> None:
    settings = load_settings({"KRAVSAK_HOME": str(tmp_path)})
    conf = server_config(settings, tmp_path / "run")

    assert "listen_addresses = '127.0.0.1'" in conf
    assert "port = 55432" in conf
    assert f"unix_socket_directories = '{tmp_path / 'run'}'" in conf
    assert "max_connections = 200" in conf


def test_a_socket_folder_too_deep_for_a_unix_socket_falls_back_to_tcp_only(tmp_path: Path) -> None:
    settings = load_settings({"KRAVSAK_HOME": str(tmp_path)})

    assert "unix_socket_directories = ''" in server_config(settings, tmp_path / ("x" * 120))


def test_the_local_stack_puts_a_socket_too_deep_in_a_short_folder_the_superuser_needs_it(tmp_path: Path) -> None:
    settings = load_settings({"KRAVSAK_HOME": str(tmp_path)})
    deep = tmp_path / ("x" * 120)

    assert socket_folder(settings, tmp_path / "run") == tmp_path / "run"
    assert str(socket_folder(settings, deep)).startswith("/tmp/kravsak-pg-")
    assert "unix_socket_directories = '/tmp/kravsak-pg-" in server_config(settings, socket_folder(settings, deep))


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to make a folder the postgres user cannot enter")
def test_a_folder_closed_to_the_postgres_user_is_found() -> None:
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        pytest.skip("no postgres OS user")
    with tempfile.TemporaryDirectory(dir="/tmp") as scratch:  # pytest's tmp_path is itself closed
        base = Path(scratch)
        base.chmod(0o755)
        closed = base / "closed"
        (closed / "inner").mkdir(parents=True)
        closed.chmod(0o700)

        assert first_closed_folder(base / "open") is None
        assert first_closed_folder(closed / "inner" / "data") == closed
