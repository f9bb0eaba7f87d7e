"""`kravsak env` lists every KRAVSAK_* variable kravsak reads (issue 9.9): the code base is grepped for them."""

from __future__ import annotations

import re
from pathlib import Path

from typer.testing import CliRunner

from kravsak.cli import app
from kravsak.settings import ENV_VARS

ROOT = Path(__file__).resolve().parents[2]
SKIP = {".venv", ".kravsak", ".git", "node_modules", "report"}
NAME = re.compile(r"\bKRAVSAK_[A-Z0-9_]+")
TEST_KNOBS = {
    "KRAVSAK_SCENARIOS": "more scenario folders for the scenario tests",
    "KRAVSAK_FAULT_TEST_EVENTS": "size of the publisher fault test",
    "KRAVSAK_TEST_CLUSTER_PORT": "first of the nine ports of the cluster tests' own Kafka cluster (default: free ones)",
    "KRAVSAK_CHROMIUM": "the browser of the page tests",
    "KRAVSAK_PAGE_SHOTS": "where the page tests put their pictures",
    "KRAVSAK_X": "a made-up name in the settings tests",
}
"""Read by the test suite only, never by kravsak: not in `kravsak env`."""


def _sources() -> list[Path]:
    files = [*ROOT.rglob("*.py"), ROOT / "Makefile", ROOT / "docker-compose.yml", ROOT / "Dockerfile"]
    return [p for p in files if p.is_file() and not SKIP.intersection(p.relative_to(ROOT).parts)]


def _names_in(paths: list[Path]) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in paths:
        for name in NAME.findall(path.read_text(encoding="utf-8", errors="replace")):
            found.setdefault(name, set()).add(str(path.relative_to(ROOT)))
    return found


def test_every_variable_in_the_code_is_in_the_env_table() -> None:
    found = _names_in(_sources())
    full = {name for name in found if not name.endswith("_")}
    prefixes = {name for name in found if name.endswith("_")}  # KRAVSAK_PG_DSN_{service}, KRAVSAK_PUBLISHER_*

    assert len(full) > 40  # the grep found the code base
    assert sorted(full - set(ENV_VARS) - set(TEST_KNOBS)) == []
    assert [p for p in sorted(prefixes) if p != "KRAVSAK_" and not any(n.startswith(p) for n in ENV_VARS)] == []


def test_the_test_knobs_are_read_by_the_tests_only() -> None:
    found = _names_in(_sources())
    for knob in TEST_KNOBS:
        assert all(where.startswith("tests/") or where == "Makefile" for where in found.get(knob, set())), knob


def test_kravsak_env_prints_every_variable_and_no_secret() -> None:
    env = {
        "KRAVSAK_PG_PASSWORD": "pg-secret",
        "KRAVSAK_PG_DSN_PROJECTOR": "postgresql://p:dsn-secret@db/k",
        "KRAVSAK_KAFKA_BOOTSTRAP": "sasl_ssl://pub:kafka-secret@k1:9093",
        "KRAVSAK_MASTER_KEY": "master-secret",
        "COLUMNS": "400",
    }
    result = CliRunner().invoke(app, ["env"], env=env)

    assert result.exit_code == 0, result.output
    for name in ENV_VARS:
        assert name in result.output
    assert not any(secret in result.output for secret in ("pg-secret", "dsn-secret", "kafka-secret", "master-secret"))
