"""Every Kafka client is built from one connection string by ``client_args`` (ADR 0027)."""

from __future__ import annotations

import ast
import time
from importlib.metadata import version
from pathlib import Path

import pytest

from consumers.kafka_access import (
    METADATA_RETRY_BACKOFF_MS,
    BadConnectionString,
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
