"""The scenario files the tests run: the repository's own (``scenarios/``, format in
``docs/scenario-format.md``) and, when ``KRAVSAK_SCENARIOS`` is set, every ``*.yaml`` under the folder
it names (several folders separated by ``os.pathsep``), subfolders included.

``scenarios/`` holds the published acceptance cases unchanged (pinned by ``scenarios/SHA256SUMS``;
``v1.1/`` the format 1.1 ones) and, in ``scenarios/own/``, the project's own cases.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
SCENARIOS = REPO / "scenarios"
ENV = "KRAVSAK_SCENARIOS"

OWN = SCENARIOS / "own"
"""The project's own cases (not pinned: they change with the rules they test)."""


def extra_folders(environ: Mapping[str, str] = os.environ) -> list[Path]:
    """The folders named by ``KRAVSAK_SCENARIOS``; a name that is not a folder stops the run."""
    folders = [Path(p).expanduser() for p in environ.get(ENV, "").split(os.pathsep) if p.strip()]
    for folder in folders:
        if not folder.is_dir():
            raise FileNotFoundError(f"{ENV} names {folder}, which is not a folder of scenario files")
    return folders


def scenario_files(environ: Mapping[str, str] = os.environ) -> list[Path]:
    """Every scenario file to run: the repository's, then those under ``KRAVSAK_SCENARIOS``."""
    files = sorted(SCENARIOS.rglob("*.yaml"))
    if not files:
        raise FileNotFoundError(f"no scenario files in {SCENARIOS}")
    for folder in extra_folders(environ):
        found = sorted(folder.rglob("*.yaml"))
        if not found:
            raise FileNotFoundError(f"{ENV} names {folder}, which holds no *.yaml scenario files")
        files.extend(found)
    return files


def scenario_id(path: Path) -> str:
    """``no-01-…`` for the repository's files, ``v1.1/no-20-…`` below it, ``$KRAVSAK_SCENARIOS:…`` for others."""
    try:
        return path.relative_to(SCENARIOS).with_suffix("").as_posix()
    except ValueError:
        return f"${ENV}:{path.parent.name}/{path.stem}"


def scenario_params() -> list[Any]:
    """``pytest.mark.parametrize`` values: each file under its readable id."""
    return [pytest.param(path, id=scenario_id(path)) for path in scenario_files()]
