"""Heartbeats and `kravsak health`: a service that beats is healthy, one whose beat is old is not
(exit 1, as a container healthcheck wants), and a service that stops cleanly leaves no row."""

from __future__ import annotations

import os

import psycopg
import pytest
from typer.testing import CliRunner

from consumers.heartbeat import Heartbeat, beats
from kravsak.cli import app

pytestmark = pytest.mark.integration


def _health(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["health", *args])
    return result.exit_code, result.output


def test_a_beating_service_is_healthy_a_stale_one_is_not_and_a_stopped_one_leaves_no_row(pg_dsn: str) -> None:
    heartbeat = Heartbeat(pg_dsn, "automate", name="automate-test", interval_s=60)
    try:
        assert heartbeat.due()
        assert heartbeat.beat(lag=7, position=1234)
        assert not heartbeat.due(), "the next beat is due only after the interval"
        with psycopg.connect(pg_dsn, autocommit=True) as conn:
            [mine] = [b for b in beats(conn, "automate") if b.pid == os.getpid()]
            assert (mine.name, mine.state, mine.lag, mine.position) == ("automate-test", "running", 7, 1234)
            assert not mine.stale()

            code, output = _health("automate")
            assert code == 0 and "healthy" in output and f"pid {os.getpid()}" in output, output
            status = CliRunner().invoke(app, ["status"], env={"COLUMNS": "250"})
            assert "services (heartbeats)" in status.output and "automate-test" in status.output, status.output

            conn.execute(
                "UPDATE kravsak_ops.heartbeats SET beat_at = now() - interval '5 minutes' WHERE pid = %s",
                (os.getpid(),),
            )
            code, output = _health("automate", "--max-age", "30")
            assert code == 1 and "unhealthy" in output and "last beat" in output, output

            heartbeat.beat(state="reconnecting")
            assert _health("automate")[0] == 0
    finally:
        heartbeat.close()
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        assert [b for b in beats(conn, "automate") if b.pid == os.getpid()] == []


def test_health_of_a_service_kravsak_does_not_have_is_a_usage_error() -> None:
    code, output = _health("printer")
    assert code == 2 and "no service named" in output


def test_health_without_a_database_is_unhealthy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KRAVSAK_PG_DSN", "postgresql://kravsak:kravsak@127.0.0.1:9/kravsak?connect_timeout=2")
    code, output = _health("publisher")
    assert code == 1 and "database not reachable" in output
