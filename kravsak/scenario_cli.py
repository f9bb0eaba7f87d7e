"""`kravsak scenario run FILE`: replay a scenario through the domain application and print the
contract's JSON (docs/scenario-format.md). `--store postgres` runs it against the PostgreSQL event
store, in a namespace of its own so runs never meet; `--check` compares with the file's `expect` block.

Every file is read and checked whole before the first step runs (``domain.scenario_input``): a
malformed one — an unknown command or key, a date that is no calendar day, an amount that is not an
exact decimal — ends the command with one line naming the file, step, field and rule, exit code 2,
and nothing run. A stopped PostgreSQL or Kafka is one line too.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, NoReturn
from uuid import uuid4

import typer
from rich.console import Console
from rich.markup import escape

from domain.application import CollectionApp
from domain.scenario import Scenario, ScenarioError, check_expectations, run_scenario
from kravsak.errors import KravsakError
from kravsak.settings import Settings, load_settings, note_keeper, office_secret

scenario_app = typer.Typer(
    help="Replay scenario files (format: docs/scenario-format.md; examples in scenarios/).", no_args_is_help=True
)
err = Console(stderr=True, highlight=False)
STORES = ("memory", "postgres")


def fail(message: str, code: int = 2) -> NoReturn:
    err.print(f"[bold red]error:[/] {escape(message)}", soft_wrap=True)
    raise typer.Exit(code)


def make_app(store: str, settings: Settings | None = None) -> CollectionApp:
    """An application on the chosen store; PostgreSQL runs get a fresh id namespace."""
    if store == "memory":
        return CollectionApp()
    settings = settings or load_settings()
    return CollectionApp(
        settings.eventsourcing_env(), namespace=uuid4(), office_secret=office_secret(settings),
        notes=note_keeper(settings),
    )  # fmt: skip


@scenario_app.command("run")
def run(
    files: Annotated[list[Path], typer.Argument(help="scenario YAML files")],
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
    if store not in STORES:
        fail(f"--store: {store!r} is not memory or postgres")
    try:
        scenarios = [(path, Scenario.load(path)) for path in files]  # all checked before any runs
        settings = None
        if through_kafka or store == "postgres":
            from kravsak.reachable import require_kafka, require_postgres

            settings = load_settings()
            require_postgres(settings)
            if through_kafka:
                require_kafka(settings)
        reports, failed = [], 0
        for path, scenario in scenarios:
            if through_kafka:
                from kravsak.pipeline import run_through_kafka

                assert settings is not None
                report = run_through_kafka(scenario, settings)
            else:
                app = make_app(store, settings)
                try:
                    report = run_scenario(scenario, app)
                finally:
                    app.close()
            reports.append(report)
            if check:
                problems = check_expectations(scenario.expect, report)
                mark = "[green]ok[/]" if not problems else "[bold red]FAIL[/]"
                err.print(f"{mark} {escape(path.name)} ({'through kafka' if through_kafka else store})")
                for p in problems:
                    err.print(f"    {escape(p)}", soft_wrap=True)
                failed += bool(problems)
    except ScenarioError as e:
        fail(str(e))
    except KravsakError as e:
        fail(f"{e.problem} — fix: {e.fix}", e.exit_code)
    json.dump(reports[0] if len(reports) == 1 else reports, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")
    if failed:
        raise typer.Exit(1)
