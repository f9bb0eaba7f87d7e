"""Services log JSON lines with the same fields the console shows, context included."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest
import structlog

from kravsak import logs


@pytest.fixture
def json_logs() -> Iterator[None]:
    logs.configure("json")
    yield
    logs.configure("console")


def _lines(captured: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in captured.splitlines() if line.strip()]


def test_a_json_line_carries_timestamp_level_event_and_bound_context(
    json_logs: None, capsys: pytest.CaptureFixture[str]
) -> None:
    with logs.bound(case_id="case-7", topic="kravsak.case-events", partition=2, offset=41):
        logs.get_logger("test").info("event.applied", projection="ledger")

    [line] = _lines(capsys.readouterr().err)
    assert line["event"] == "event.applied"
    assert line["level"] == "info"
    assert str(line["timestamp"]).endswith("Z")
    assert {k: line[k] for k in ("case_id", "topic", "partition", "offset", "projection")} == {
        "case_id": "case-7",
        "topic": "kravsak.case-events",
        "partition": 2,
        "offset": 41,
        "projection": "ledger",
    }


def test_standard_library_records_render_as_the_same_json(json_logs: None, capsys: pytest.CaptureFixture[str]) -> None:
    with logs.bound(case_id="case-8"):
        logging.getLogger("eventsourcing.something").warning("pool exhausted")

    [line] = _lines(capsys.readouterr().err)
    assert line["event"] == "pool exhausted"
    assert line["level"] == "warning"
    assert line["case_id"] == "case-8"
    assert line["logger"] == "eventsourcing.something"


def test_context_does_not_leak_out_of_the_block(json_logs: None, capsys: pytest.CaptureFixture[str]) -> None:
    with logs.bound(case_id="case-9"):
        pass
    logs.get_logger().info("after")

    [line] = _lines(capsys.readouterr().err)
    assert "case_id" not in line
    assert structlog.contextvars.get_contextvars() == {}


def test_console_mode_renders_the_event_and_its_fields(capsys: pytest.CaptureFixture[str]) -> None:
    logs.configure("console")
    logs.get_logger().info("stack.ready", port=55432)

    err = capsys.readouterr().err
    assert "stack.ready" in err and "port=55432" in err and "info" in err
