"""Nobody writes the local Kafka without a key: SASL/SCRAM per service, ACLs, 0700 folders (ADR 0027)."""

from __future__ import annotations

import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from kafka import KafkaConsumer, KafkaProducer
from kafka.errors import KafkaError, TopicAuthorizationFailedError

from consumers.kafka_access import client_args
from consumers.topics import case_events_spec, ensure_topics_at
from kravsak import local_secrets
from kravsak.settings import Settings
from kravsak.stack import ServiceState
from kravsak.stack.kafka import LocalKafka
from kravsak.stack.tls import ensure_ca
from tests.support.stack import scratch_topics

pytestmark = pytest.mark.integration


@pytest.fixture
def local(settings: Settings, stack: list[ServiceState]) -> LocalKafka:
    if settings.kafka_is_external:
        pytest.skip("checks the local stack's Kafka")
    return LocalKafka(settings)


@pytest.fixture
def topic(local: LocalKafka, settings: Settings, unique: Any) -> Iterator[str]:
    with scratch_topics(settings, unique("keys")) as (name,):
        ensure_topics_at(settings.kafka_bootstrap, [case_events_spec(name, partitions=1)])
        yield name


def _send(connection: str, topic: str) -> None:
    producer = KafkaProducer(
        **client_args(connection), acks="all", max_block_ms=10_000, retries=0, bootstrap_timeout_ms=5_000
    )
    try:
        producer.send(topic, key=b"case", value=b"forged: the invoice is paid").get(timeout=15)
    finally:
        producer.close(timeout=5)


def _records(settings: Settings, topic: str) -> list[bytes]:
    consumer = KafkaConsumer(
        topic, **client_args(settings.kafka_bootstrap), auto_offset_reset="earliest", consumer_timeout_ms=3000
    )
    try:
        return [record.value for record in consumer]
    finally:
        consumer.close()


def test_a_client_without_credentials_is_refused(local: LocalKafka, settings: Settings, topic: str) -> None:
    with pytest.raises(KafkaError):
        _send(f"127.0.0.1:{settings.kafka_port}", topic)

    assert _records(settings, topic) == []


def test_a_wrong_password_is_refused(local: LocalKafka, settings: Settings, topic: str) -> None:
    with pytest.raises(KafkaError):
        _send(f"sasl_plaintext://publisher:guessed@127.0.0.1:{settings.kafka_port}", topic)


def test_the_projector_may_not_produce_a_forged_record(local: LocalKafka, settings: Settings, topic: str) -> None:
    for service in ("projector", "automate"):
        with pytest.raises(TopicAuthorizationFailedError):
            _send(settings.for_service(service).kafka_bootstrap, topic)

    assert _records(settings, topic) == []


def test_the_publisher_may(local: LocalKafka, settings: Settings, topic: str) -> None:
    _send(settings.for_service("publisher").kafka_bootstrap, topic)

    assert _records(settings.for_service("projector"), topic) == [b"forged: the invoice is paid"]


def test_kafka_keeps_its_data_and_config_to_itself(local: LocalKafka) -> None:
    for folder in (local.root, local.data_dir, local.config_dir, local.logs_dir):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
    for secret in ("server.properties", "kafka-keystore.pem", "kafka.key"):
        assert stat.S_IMODE((local.config_dir / secret).stat().st_mode) == 0o600, secret


def test_sasl_over_tls_verifies_the_broker_against_the_local_ca(
    local: LocalKafka, settings: Settings, topic: str, tmp_path: Path
) -> None:
    login = f"publisher:{quote(local_secrets.password(settings.home, 'kafka:publisher'), safe='')}"
    over_tls = settings.local_kafka_connection(login, tls=True)
    assert over_tls.startswith("sasl_ssl://publisher:")

    _send(over_tls, topic)
    assert _records(settings, topic) == [b"forged: the invoice is paid"]  # the publisher may, over TLS too

    ensure_ca(tmp_path)  # a CA that did not sign the broker's certificate
    with pytest.raises(KafkaError):
        _send(over_tls.replace(quote(str(settings.local_ca_file)), quote(str(tmp_path / "tls" / "ca.crt"))), topic)
