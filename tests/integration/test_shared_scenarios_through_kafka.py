"""Every shared scenario through the whole pipeline — PostgreSQL event store, publisher, Kafka,
projection runner — gives the same report as in memory, read from the projections."""

from __future__ import annotations

from pathlib import Path

import pytest

from domain.scenario import Scenario, check_expectations, run_scenario
from kravsak.pipeline import run_through_kafka
from kravsak.settings import Settings
from tests.scenario_files import scenario_files, scenario_id

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("path", scenario_files(), ids=scenario_id)
def test_shared_scenario_through_kafka_equals_the_in_memory_run(path: Path, settings: Settings, stack: object) -> None:
    scenario = Scenario.load(path)
    through = run_through_kafka(scenario, settings)
    assert check_expectations(scenario.expect, through) == []
    assert through == run_scenario(Scenario.load(path))
