"""Every scenario gives the same report on the PostgreSQL event store as in memory."""

from __future__ import annotations

import os
from pathlib import Path
from uuid import uuid4

import pytest

from domain.application import CollectionApp
from domain.notes import MemoryNotes
from domain.scenario import Scenario, check_expectations, run_scenario
from tests.scenario_files import scenario_params

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("path", scenario_params())
def test_scenario_gives_the_same_report_on_postgres(path: Path, pg_env: dict[str, str]) -> None:
    scenario = Scenario.load(path)
    # the events on PostgreSQL; the written reasons in a keeper of the test's own (the personal store's own
    # tests are test_erasure's and test_keys_postgres's)
    app = CollectionApp(pg_env, namespace=uuid4(), office_secret=os.urandom(32), notes=MemoryNotes())
    try:
        on_postgres = run_scenario(scenario, app)
    finally:
        app.close()
    assert check_expectations(scenario.expect, on_postgres) == []
    assert on_postgres == run_scenario(scenario)
