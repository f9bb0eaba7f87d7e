"""The documented example consumer (examples/consume_case_events.py), run as a stranger would run it:
as its own process, against topics the publisher filled, with duplicates on them."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from consumers.kafka_access import client_args
from consumers.publisher import PublisherOptions, run_publisher, store_position
from kravsak.settings import Settings
from tests.support.stack import scratch_event_store, scratch_topics, workload_notifications

pytestmark = pytest.mark.integration

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "consume_case_events.py"
LINE = re.compile(r"^#(\d+)\s+(\d{4}-\d\d-\d\d) (\w+)\s+case=([0-9a-f-]{36}) creditor=(\S+)")


@pytest.fixture
def published(settings: Settings, unique: Callable[[str], str]) -> Iterator[tuple[str, int, int]]:
    """(topic, events, duplicates): a topic the publisher filled, the last events published twice."""
    topic = unique("example-case-events")
    notifications = workload_notifications(100)
    with (
        scratch_event_store(settings, unique("example").replace("-", "_"), notifications) as schema,
        scratch_topics(settings, topic, f"{topic}-schemas"),
    ):
        options = PublisherOptions(topic=topic, schemas_topic=f"{topic}-schemas", pg_schema=schema, partitions=4)
        run_publisher(settings, once=True, options=options)
        duplicates = 25
        with psycopg.connect(settings.pg_dsn, autocommit=True) as conn:  # as if it crashed before storing
            store_position(conn, topic, len(notifications) - duplicates, schema)
        run_publisher(settings, once=True, options=options)
        yield topic, len(notifications), duplicates


def run_example(settings: Settings, topic: str, *args: str) -> subprocess.CompletedProcess[str]:
    reader = client_args(settings.for_service("projector").kafka_bootstrap)  # a reader's user is enough
    login = ["--user", reader["sasl_plain_username"]] if "sasl_plain_username" in reader else []
    env = {**os.environ, "KAFKA_PASSWORD": reader.get("sasl_plain_password", "")}
    return subprocess.run(
        [sys.executable, str(EXAMPLE), "--bootstrap", ",".join(reader["bootstrap_servers"]),
         "--security-protocol", reader["security_protocol"], *login, "--topic", topic,
         "--schemas-topic", f"{topic}-schemas", *args],
        capture_output=True, text=True, timeout=60, cwd="/", env=env,  # cwd "/": it must not need kravsak
    )  # fmt: skip


def test_example_prints_every_event_once_and_drops_the_duplicates(
    settings: Settings, published: tuple[str, int, int]
) -> None:
    topic, events, duplicates = published
    result = run_example(settings, topic, "--timeout", "8")
    assert result.returncode == 0, result.stderr
    lines = [LINE.match(line) for line in result.stdout.splitlines()]
    assert all(lines), result.stdout[:2000]
    positions = [int(m.group(1)) for m in lines if m]
    assert sorted(positions) == list(range(1, events + 1))
    assert f"{events} events, {duplicates} duplicates dropped, 0 not decodable" in result.stderr
    assert "26 schemas" in result.stderr or "schemas from" in result.stderr


def test_example_stops_after_max_events_and_shows_the_main_fields(
    settings: Settings, published: tuple[str, int, int]
) -> None:
    topic, _, _ = published
    result = run_example(settings, topic, "--max-events", "40", "--timeout", "30")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 40
    notices = [line for line in lines if " ClaimNoticeSent " in line]
    invoices = [line for line in lines if " ClaimInvoiced " in line]
    for line in notices:
        assert "notice=" in line and "fee=" in line and "NOK" in line
    for line in invoices:
        assert re.search(r"amount=\d+\.\d\d NOK", line) and "due=" in line
    assert notices or invoices or any(" Debtor" in line for line in lines)


def test_example_imports_only_kafka_python_fastavro_and_the_standard_library() -> None:
    import ast

    tree = ast.parse(EXAMPLE.read_text())
    modules = {
        alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names
    }
    modules |= {
        node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module
    }
    assert modules - set(sys.stdlib_module_names) == {"kafka", "fastavro"}
