"""A clone of the repository stands on its own: cloned into a folder with no ``shared`` beside it,
its scenario tests find their files inside the clone and pass.

The clone is of the committed HEAD (what CI and a new user get), run by this interpreter with the
clone as working folder, so the clone's own packages are imported, not this checkout's.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.scenario_files import REPO

pytestmark = pytest.mark.integration


def git(*args: str, cwd: Path) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout.strip()


def test_a_clone_without_shared_beside_it_passes_its_scenario_tests(tmp_path: Path) -> None:
    head = git("rev-parse", "HEAD", cwd=REPO)
    clone = tmp_path / "kravsak"
    git("clone", "--quiet", "--no-checkout", str(REPO), str(clone), cwd=tmp_path)
    git("checkout", "--quiet", "--detach", head, cwd=clone)
    assert not (clone.parent / "shared").exists() and not (clone.parent.parent / "shared").exists()
    env = {k: v for k, v in os.environ.items() if k != "KRAVSAK_SCENARIOS" and not k.startswith("PYTEST_")}

    where = subprocess.run(
        [sys.executable, "-c", "import domain.scenario; print(domain.scenario.__file__)"],
        cwd=clone,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert Path(where).is_relative_to(clone), where

    run = subprocess.run(
        [sys.executable, "-m", "pytest", "tests/unit/test_scenarios.py", "-q", "-p", "no:cacheprovider"],
        cwd=clone,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    passed = re.search(r"(\d+) passed", run.stdout)
    assert passed is not None and int(passed.group(1)) > 0, run.stdout[-2000:]
