"""`kravsak up --brokers 3` (ADR 0031): the nodes' ports, their server.properties, the recorded size of a
home's cluster, and what is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from kravsak.errors import DataFromOtherVersion, SettingsError
from kravsak.settings import KafkaNodePorts, load_settings, recorded_kafka_brokers
from kravsak.stack.kafka import LocalKafka, broker

ENV = {"KRAVSAK_KAFKA_PORT": "60001", "KRAVSAK_KAFKA_CONTROLLER_PORT": "60002", "KRAVSAK_KAFKA_TLS_PORT": "60003"}


def _props(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#"))


def test_node_n_takes_three_ports_from_the_node_port_base_and_clients_know_every_node(tmp_path: Path) -> None:
    settings = load_settings(
        {"KRAVSAK_HOME": str(tmp_path), **ENV, "KRAVSAK_KAFKA_BROKERS": "3", "KRAVSAK_KAFKA_NODE_PORTS": "59230"}
    )

    assert settings.kafka_nodes == [
        KafkaNodePorts(1, 60001, 60002, 60003),
        KafkaNodePorts(2, 59230, 59231, 59232),
        KafkaNodePorts(3, 59233, 59234, 59235),
    ]
    assert settings.kafka_servers == "127.0.0.1:60001,127.0.0.1:59230,127.0.0.1:59233"
    assert settings.kafka_node_heap == "512m"
    assert load_settings({"KRAVSAK_HOME": str(tmp_path), **ENV}).kafka_node_heap == "768m"


def test_a_cluster_whose_node_ports_meet_another_server_is_refused_naming_the_variable(tmp_path: Path) -> None:
    with pytest.raises(SettingsError) as refused:
        load_settings(
            {"KRAVSAK_HOME": str(tmp_path), **ENV, "KRAVSAK_KAFKA_BROKERS": "3", "KRAVSAK_KAFKA_NODE_PORTS": "60000"}
        )
    assert "KRAVSAK_KAFKA_NODE_PORTS" in refused.value.fix


@pytest.mark.parametrize("value", ["0", "6", "three"])
def test_a_broker_count_out_of_range_is_refused(tmp_path: Path, value: str) -> None:
    with pytest.raises(SettingsError, match="KRAVSAK_KAFKA_BROKERS"):
        load_settings({"KRAVSAK_HOME": str(tmp_path), "KRAVSAK_KAFKA_BROKERS": value})


def test_three_nodes_are_a_static_quorum_with_three_replicas_and_min_isr_two(tmp_path: Path) -> None:
    settings = load_settings(
        {"KRAVSAK_HOME": str(tmp_path), **ENV, "KRAVSAK_KAFKA_BROKERS": "3", "KRAVSAK_KAFKA_NODE_PORTS": "59230"}
    )
    node2 = settings.kafka_nodes[1]
    props = _props(broker.server_properties(settings, tmp_path / "data", "pw", node=node2))

    assert props["node.id"] == "2"
    assert props["controller.quorum.voters"] == "1@127.0.0.1:60002,2@127.0.0.1:59231,3@127.0.0.1:59234"
    assert "controller.quorum.bootstrap.servers" not in props
    assert props["listeners"] == "SASL_PLAINTEXT://127.0.0.1:59230,CONTROLLER://127.0.0.1:59231"
    for key in ("offsets.topic.replication.factor", "transaction.state.log.replication.factor"):
        assert props[key] == "3", key
    assert props["default.replication.factor"] == "3"
    assert props["min.insync.replicas"] == props["transaction.state.log.min.isr"] == "2"
    assert props["allow.everyone.if.no.acl.found"] == "false"


def test_one_node_stays_a_standalone_quorum_with_one_replica(tmp_path: Path) -> None:
    settings = load_settings({"KRAVSAK_HOME": str(tmp_path), **ENV})
    props = _props(broker.server_properties(settings, tmp_path / "data", "pw"))

    assert props["controller.quorum.bootstrap.servers"] == "127.0.0.1:60002"
    assert (props["offsets.topic.replication.factor"], props["min.insync.replicas"]) == ("1", "1")


@pytest.mark.parametrize(("nodes", "isr"), [(1, 1), (2, 1), (3, 2), (5, 2)])
def test_min_isr_is_two_from_three_replicas_on(nodes: int, isr: int) -> None:
    assert broker.cluster_min_isr(nodes) == isr


def test_the_home_remembers_its_cluster_size_and_refuses_another(tmp_path: Path) -> None:
    data = tmp_path / "kafka" / "data"
    data.mkdir(parents=True)
    (data / "meta.properties").write_text("version=1\nnode.id=1\ncluster.id=abc\n")
    (data / broker.MARKER).write_text("kafka.version=4.4.0\ncluster.id=abc\nnode.id=1\nbrokers=3\n")

    assert recorded_kafka_brokers(tmp_path) == 3
    assert load_settings({"KRAVSAK_HOME": str(tmp_path)}).kafka_brokers == 3
    single = load_settings({"KRAVSAK_HOME": str(tmp_path), **ENV, "KRAVSAK_KAFKA_BROKERS": "1"})
    with pytest.raises(DataFromOtherVersion) as refused:
        LocalKafka(single)._check_data()
    assert "formatted as 3 node(s); the settings ask for 1" in refused.value.problem
    assert "kravsak reset --yes" in refused.value.fix


def test_a_cluster_with_one_node_formatted_and_others_empty_is_refused(tmp_path: Path) -> None:
    settings = load_settings(
        {"KRAVSAK_HOME": str(tmp_path), **ENV, "KRAVSAK_KAFKA_BROKERS": "3", "KRAVSAK_KAFKA_NODE_PORTS": "59230"}
    )
    data = tmp_path / "kafka" / "data"
    data.mkdir(parents=True)
    (data / "meta.properties").write_text("version=1\nnode.id=1\ncluster.id=abc\n")
    (data / broker.MARKER).write_text("kafka.version=4.4.0\ncluster.id=abc\nnode.id=1\nbrokers=3\n")

    with pytest.raises(DataFromOtherVersion, match="do not belong to one cluster"):
        LocalKafka(settings)._check_data()


def test_a_fresh_cluster_formats_every_node_and_data_lives_per_node(tmp_path: Path) -> None:
    settings = load_settings(
        {"KRAVSAK_HOME": str(tmp_path), **ENV, "KRAVSAK_KAFKA_BROKERS": "3", "KRAVSAK_KAFKA_NODE_PORTS": "59230"}
    )
    kafka = LocalKafka(settings)

    cluster_id, unformatted = kafka._check_data()

    assert cluster_id is None and [node.node_id for node in unformatted] == [1, 2, 3]
    assert [node.data_dir for node in kafka.nodes] == [
        tmp_path / "kafka" / "data",
        tmp_path / "kafka" / "node-2" / "data",
        tmp_path / "kafka" / "node-3" / "data",
    ]
