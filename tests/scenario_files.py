"""Where the shared scenario files are: ``KRAVSAK_SCENARIOS`` or ``../shared/scenarios`` beside the repo."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SCENARIOS = Path(os.environ.get("KRAVSAK_SCENARIOS", REPO.parent / "shared" / "scenarios"))


def scenario_files() -> list[Path]:
    files = sorted(SCENARIOS.glob("*.yaml"))
    if not files:
        raise FileNotFoundError(f"no scenario files in {SCENARIOS}; set KRAVSAK_SCENARIOS to the folder")
    return files
