"""`kravsak scenario run FILE`: replay a scenario through the domain application and print the
contract's JSON (FORMAT.md). `--store postgres` runs it against the PostgreSQL event store, in a
namespace of its own so runs never meet; `--check` compares with the file's `expect` block."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated
from uuid import uuid4

import typer
from rich.console import Console

from domain.application import CollectionApp
from domain.scenario import Scenario, ScenarioError, check_expectations, run_scenario

scenario_app = typer.Typer(help="Replay scenario files (../shared/scenarios/FORMAT.md).", no_args_is_help=True)
err = Console(stderr=True, highlight=False)


def make_app(store: str) -> CollectionApp:
    """An application on the chosen store; PostgreSQL runs get a fresh id namespace."""
    if store == "memory":
        return CollectionApp()
    if store == "postgres":
        from kravsak.settings import load_settings, office_secret

        settings = load_settings()
        return CollectionApp(settings.eventsourcing_env(), namespace=uuid4(), office_secret=office_secret(settings))
    raise typer.BadParameter(f"--store must be memory or postgres, not {store!r}")


@scenario_app.command("run")
def run(
    files: Annotated[list[Path], typer.Argument(help="scenario YAML files", exists=True, dir_okay=False)],
    store: Annotated[str, typer.Option(help="memory or postgres")] = "memory",
    check: Annotated[bool, typer.Option("--check", help="compare with the file's expect block")] = False,
    through_kafka: Annotated[
        bool,
        typer.Option(
            "--through-kafka",
            help="run through the whole pipeline (PostgreSQL, publisher, Kafka, projections) and "
            "read the report from the projections",
        ),
    ] = False,
) -> None:
    """Run scenarios and print one JSON document per file (a JSON list for several)."""
    reports, failed = [], 0
    for path in files:
        try:
            scenario = Scenario.load(path)
        except ScenarioError as e:
            err.print(f"[bold red]error:[/] {e}")
            raise typer.Exit(2) from None
        if through_kafka:
            from kravsak.pipeline import run_through_kafka
            from kravsak.settings import load_settings

            report = run_through_kafka(scenario, load_settings())
        else:
            app = make_app(store)
            try:
                report = run_scenario(scenario, app)
            finally:
                app.close()
        reports.append(report)
        if check:
            problems = check_expectations(scenario.expect, report)
            mark = "[green]ok[/]" if not problems else "[bold red]FAIL[/]"
            err.print(f"{mark} {path.name} ({'through kafka' if through_kafka else store})")
            for p in problems:
                err.print(f"    {p}")
            failed += bool(problems)
    json.dump(reports[0] if len(reports) == 1 else reports, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")
    if failed:
        raise typer.Exit(1)
