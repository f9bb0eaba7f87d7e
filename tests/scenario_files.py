"""Where the scenario files are: the repo's own ``scenarios/`` (format 1.1 and the project's own cases)
and the shared version-1 cases in ``KRAVSAK_SCENARIOS`` or ``../shared/scenarios`` beside the repo.

A file in the repo's folder wins over a shared one of the same relative path, so a repo copy of a
shared case is run once.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
REPO_SCENARIOS = REPO / "scenarios"
SCENARIOS = Path(os.environ.get("KRAVSAK_SCENARIOS", REPO.parent / "shared" / "scenarios"))


def scenario_files() -> list[Path]:
    found: dict[str, Path] = {p.name: p for p in sorted(SCENARIOS.glob("*.yaml"))}
    found.update({str(p.relative_to(REPO_SCENARIOS)): p for p in sorted(REPO_SCENARIOS.rglob("*.yaml"))})
    if not found:
        raise FileNotFoundError(f"no scenario files in {REPO_SCENARIOS} or {SCENARIOS}; set KRAVSAK_SCENARIOS")
    return [found[k] for k in sorted(found)]


def scenario_id(path: Path) -> str:
    """A test id: the path below the scenario folder (``v1.1/no-20-kid-payment-surplus``)."""
    for root in (REPO_SCENARIOS, SCENARIOS):
        if path.is_relative_to(root):
            return str(path.relative_to(root).with_suffix(""))
    return path.stem
