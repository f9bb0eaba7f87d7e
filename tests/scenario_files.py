"""The scenario files the tests run: the repository's own (``scenarios/``, format in
``docs/scenario-format.md``) and, when ``KRAVSAK_SCENARIOS`` is set, every ``*.yaml`` under the folder
it names (several folders separated by ``os.pathsep``), subfolders included.

Files in a folder named ``v1.1`` need the format 1.1 commands. They are collected with the others
and skipped while ``FORMAT_1_1_COMMANDS`` is off, so the count of what is waiting stays visible.
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

FORMAT_1_1_COMMANDS = False
"""Off until issue 10 builds the format 1.1 commands (KID matching, bank files, combined letters,
postponed due dates, write-downs under monitoring); the issue-10 work turns it on (and removes it)."""
FORMAT_1_1_SKIP = "format 1.1 commands arrive with issue 10"


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


def needs_format_1_1(path: Path) -> bool:
    return "v1.1" in path.parent.parts


def version_1_files() -> list[Path]:
    """The files every path (memory, PostgreSQL, Kafka) must pass today."""
    return [p for p in scenario_files() if not needs_format_1_1(p)]


def scenario_id(path: Path) -> str:
    """``no-01-…`` for the repository's files, ``v1.1/no-20-…`` below it, ``$KRAVSAK_SCENARIOS:…`` for others."""
    try:
        return path.relative_to(SCENARIOS).with_suffix("").as_posix()
    except ValueError:
        return f"${ENV}:{path.parent.name}/{path.stem}"


def scenario_params() -> list[Any]:
    """``pytest.mark.parametrize`` values: each file, the 1.1 ones skipped with the reason."""
    waiting = pytest.mark.skip(reason=FORMAT_1_1_SKIP)
    params = []
    for path in scenario_files():
        skip = needs_format_1_1(path) and not FORMAT_1_1_COMMANDS
        params.append(pytest.param(path, id=scenario_id(path), marks=waiting if skip else ()))
    return params
