"""`make help` lists the developer tasks; CI runs exactly `make test`, then the cluster's fault tests (issue 17)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_help_lists_the_developer_targets() -> None:
    listed = subprocess.run(["make", "-s", "help"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    targets = {line.split()[0] for line in listed.splitlines() if line.strip()}

    assert {
        "venv",
        "up",
        "down",
        "status",
        "test",
        "unit",
        "integration",
        "lint",
        "fmt",
        "demo",
        "test-cluster",
    } <= targets


def test_ci_runs_make_test_then_the_cluster_tests_and_stops_at_the_first_failure() -> None:
    script = (ROOT / ".ci" / "run").read_text()

    assert "set -euo pipefail" in script
    assert [line for line in script.splitlines() if line.startswith("make")] == ["make test", "make test-cluster"]
