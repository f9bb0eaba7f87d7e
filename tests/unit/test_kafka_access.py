"""Every Kafka client is built from one connection string by ``client_args`` (ADR 0027)."""

from __future__ import annotations

import ast
import time
from importlib.metadata import version
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from kafka.structs import TopicPartition

from consumers.kafka_access import (
    METADATA_RETRY_BACKOFF_MS,
    BadConnectionString,
    RecordAppender,
    check,
    client_args,
    servers,
    shorten_metadata_backoff,
)

ROOT = Path(__file__).resolve().parents[2]
CLIENTS = {"KafkaProducer", "KafkaConsumer", "KafkaAdminClient"}
SKIP = {".venv", ".kravsak", "node_modules", ".git"}


def _python_files() -> list[Path]:
    return [p for p in ROOT.rglob("*.py") if not SKIP.intersection(p.relative_to(ROOT).parts)]


def _unconfigured_clients(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if not isinstance(node, ast.Call):
            continue
        name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", None)
        if name not in CLIENTS:
            continue
        configured = any(
            kw.arg is None
            and isinstance(kw.value, ast.Call)
            and getattr(kw.value.func, "id", getattr(kw.value.func, "attr", None)) == "client_args"
            for kw in node.keywords
        )
        if not configured:
            found.append(f"{path.relative_to(ROOT)}:{node.lineno} {name}(...) without **client_args(...)")
    return found


def test_no_kafka_client_is_built_without_client_args() -> None:
    files = _python_files()
    offenders = [line for path in files for line in _unconfigured_clients(path)]

    assert len(files) > 100  # the walk found the code base
    assert offenders == []


def test_the_grep_would_catch_a_bare_client(tmp_path: Path) -> None:
    bare = ROOT / "tests" / "unit" / "_bare_client_probe.py"
    bare.write_text('from kafka import KafkaProducer\nKafkaProducer(bootstrap_servers=["h:1"])\n')
    try:
        assert _unconfigured_clients(bare) == [
            "tests/unit/_bare_client_probe.py:2 KafkaProducer(...) without **client_args(...)"
        ]
    finally:
        bare.unlink()


def test_a_plain_bootstrap_string_stays_plaintext() -> None:
    assert client_args("k1:9092,k2:9092") == {
        "bootstrap_servers": ["k1:9092", "k2:9092"],
        "security_protocol": "PLAINTEXT",
    }


def test_sasl_over_tls_with_a_ca_file() -> None:
    args = client_args("sasl_ssl://pub%40office:p%3Ass@k1:9093,k2:9093?cafile=/etc/ca.pem")

    assert args == {
        "bootstrap_servers": ["k1:9093", "k2:9093"],
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "pub@office",
        "sasl_plain_password": "p:ss",
        "ssl_check_hostname": True,
        "ssl_cafile": "/etc/ca.pem",
    }


def test_servers_never_show_the_password() -> None:
    assert servers("sasl_ssl://pub:secret@k1:9093?cafile=/c") == "sasl_ssl://pub@k1:9093"
    assert "secret" not in servers("sasl_plaintext://pub:secret@k1")


@pytest.mark.parametrize(
    ("connection", "why"),
    [
        ("k1", "is not host:port"),
        ("kafka://k1:9092", "not a Kafka security protocol"),
        ("sasl_ssl://k1:9093", "needs user:password@"),
        ("ssl://u:p@k1:9093", "need sasl_plaintext:// or sasl_ssl://"),
        ("sasl_plaintext://u:p@k1:9092?mechanism=GSSAPI", "is not one of"),
    ],
)
def test_a_bad_connection_string_says_what_is_wrong(connection: str, why: str) -> None:
    with pytest.raises(BadConnectionString, match=why):
        check(connection)


def test_a_producer_asks_for_metadata_again_after_the_shorter_back_off() -> None:
    """kafka-python 3.0.12 leaves its metadata at the 100 ms default whatever ``retry_backoff_ms`` says: the first
    topic's metadata waited 100 ms after the bootstrap. ``shorten_metadata_backoff`` sets it where that version
    keeps it; a version that keeps it elsewhere makes this test fail (and the publisher start 100 ms slower)."""
    from kafka import KafkaProducer

    producer = KafkaProducer(**client_args("127.0.0.1:1"), api_version=(3, 0))  # no broker needed
    try:
        metadata = producer._metadata
        metadata._last_refresh_ms = time.monotonic() * 1000  # a request just went out
        metadata._need_update = True  # and a topic's partitions are wanted
        assert metadata.ttl() > 90, f"kafka-python {version('kafka-python')} no longer waits 100 ms: drop the fix"
        assert shorten_metadata_backoff(producer)
        assert 0 <= metadata.ttl() <= METADATA_RETRY_BACKOFF_MS
    finally:
        producer.close(timeout=5)  # its network thread joined: it draws reconnect jitter from `random` meanwhile


def test_a_client_without_that_metadata_is_left_alone() -> None:
    assert not shorten_metadata_backoff(object())


def _batch_records(producer: Any, topic: str, partition: int) -> list[tuple[bytes | None, bytes | None, list[Any]]]:
    """The records waiting in the producer's accumulator for ``partition``, read back from its built batches."""
    from kafka.record.memory_records import MemoryRecords

    found = []
    for batch in producer._accumulator._batches[TopicPartition(topic, partition)]:
        batch.records.close()
        for records_batch in _batches_of(MemoryRecords(batch.records.buffer())):
            found += [(r.key, r.value, list(r.headers)) for r in records_batch]
    return found


def _batches_of(records: Any) -> list[Any]:
    batches = []
    while (batch := records.next_batch()) is not None:
        batches.append(batch)
    return batches


def test_the_appender_puts_into_the_producers_batches_what_send_does() -> None:
    """kafka-python 3.0.12's ``send`` after its checks: the record appended to its partition's batch. The appender
    does that without the checks; the batches hold the same keys, values and headers in the same order. A
    kafka-python that keeps its accumulator elsewhere makes this fail (then the appender falls back to ``send``,
    ``lean`` False, and the publisher logs it)."""
    from kafka import KafkaProducer

    producer = KafkaProducer(**client_args("127.0.0.1:1"), api_version=(3, 0), linger_ms=60_000)  # no broker needed
    try:
        appender = RecordAppender(producer, "t", range(2))
        assert appender.lean, f"kafka-python {version('kafka-python')} keeps its accumulator elsewhere"
        headers = [("event-type", b"kravsak.ClaimIssued"), ("schema-fingerprint", b"\x01\x02")]
        sent = [(f"case-{i}".encode(), f"value-{i}".encode() * 20, headers) for i in range(5)]
        futures = [appender(k, v, h, 1) for k, v, h in sent]
        assert [f.is_done for f in futures] == [False] * 5  # the producer's own futures, resolved by its sender
        assert _batch_records(producer, "t", 0) == []  # only the partition it was given
        producer._metadata._partitions["t"] = {0: None, 1: None}  # the topic's metadata, as a broker would give it
        for k, v, h in sent:  # the same records through kafka-python's own send, into the other partition
            producer.send("t", key=k, value=v, headers=h, partition=0)
        assert _batch_records(producer, "t", 1) == _batch_records(producer, "t", 0) == sent
    finally:
        producer._accumulator.abort_incomplete_batches()  # nothing left to flush: close does not wait for a broker
        producer.close(timeout=5)  # its network thread joined: it draws reconnect jitter from `random` meanwhile


class _Producer:
    """A producer whose ``send`` is recorded, with or without kafka-python's accumulator and sender."""

    def __init__(self, *, lean: bool = True, max_request_size: int = 1000) -> None:
        self.config: dict[str, Any] = {
            "key_serializer": None,
            "value_serializer": None,
            "max_request_size": max_request_size,
        }
        self.sent: list[dict[str, Any]] = []
        self.appended: list[tuple[Any, ...]] = []
        self.woken = 0
        self._transaction_manager: Any = None
        if lean:
            self._accumulator = SimpleNamespace(append=self._append)
            self._sender = SimpleNamespace(wakeup=self._wakeup)

    def send(self, topic: str, **record: Any) -> str:
        self.sent.append({"topic": topic, **record})
        return "sent"

    def _append(self, tp: Any, timestamp_ms: Any, key: Any, value: Any, headers: Any, now: Any = None) -> Any:
        self.appended.append((tp, key, value))
        return "appended", len(self.appended) % 2 == 0, len(self.appended) == 1, False

    def _wakeup(self) -> None:
        self.woken += 1


def test_a_record_send_might_refuse_goes_through_send() -> None:
    """A partition the appender was not made for, or a key and value near ``max_request_size``: ``send`` and its
    checks (its exact size check raises ``MessageSizeTooLargeError`` before anything is buffered)."""
    producer = _Producer(max_request_size=1000)
    appender = RecordAppender(producer, "t", range(3))
    assert appender(b"k", b"v", [], 2) == "appended"
    assert appender(b"k", b"v", [], 3) == "sent"
    assert appender(b"k", b"v" * 499, [], 0) == "sent"
    assert appender(b"k", b"v" * 400, [], 0) == "appended"
    assert [s["partition"] for s in producer.sent] == [3, 0]
    assert [(tp.partition, key) for tp, key, _ in producer.appended] == [(2, b"k"), (0, b"k")]
    assert producer.woken == 2  # the first append made a new batch, the second filled one


def test_without_the_accumulator_every_record_goes_through_send() -> None:
    """Another kafka-python's internals, a serializer, or a transactional producer: every record through ``send``."""
    for producer in (_Producer(lean=False), _serializing(_Producer()), _transactional(_Producer())):
        appender = RecordAppender(producer, "t", range(3))
        assert not appender.lean
        assert appender(b"k", b"v", [("h", b"1")], 1) == "sent"
        assert producer.sent == [{"topic": "t", "key": b"k", "value": b"v", "headers": [("h", b"1")], "partition": 1}]
        assert producer.appended == []


def _serializing(producer: _Producer) -> _Producer:
    producer.config["value_serializer"] = str.encode
    return producer


def _transactional(producer: _Producer) -> _Producer:
    producer._transaction_manager = SimpleNamespace(is_transactional=lambda: True)
    return producer
