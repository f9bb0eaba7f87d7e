"""The repository names nothing outside itself: no sibling checkout (``../shared``), no folder of a
build machine, in code, comments, docs or ADRs. A clone anywhere reads the same."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from tests.scenario_files import REPO

OUTSIDE = re.compile(r"\.\./shared|/work/|\bshared/(?:scenarios|domain|ARCHITECTURE|STYLE)|/home/[a-z]|/Users/")


def tracked_text_files() -> list[str]:
    out = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True).stdout
    return [name for name in out.decode().split("\0") if name and not name.endswith((".png", ".hex"))]


def test_no_tracked_file_names_a_path_outside_the_repository() -> None:
    offenders = []
    for name in tracked_text_files():
        path = REPO / name
        if not path.is_file() or path == Path(__file__):  # this file spells the patterns out
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            if OUTSIDE.search(line):
                offenders.append(f"{name}:{number}: {line.strip()}")
    assert offenders == []


def test_the_pattern_catches_the_paths_it_is_for() -> None:
    for line in ("see ../shared/scenarios/FORMAT.md", "read /work/shared/STYLE.md", "in shared/domain/rules.md"):
        assert OUTSIDE.search(line), line
    assert not OUTSIDE.search("scenarios/no-01-inkassovarsel-day-after-due.yaml and docs/scenario-format.md")
