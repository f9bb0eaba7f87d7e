"""The `kravsak` command.

Errors a person can fix (kravsak.errors.KravsakError) end as one red line naming the problem and
the fix, with exit code 2; anything else is a bug and shows its traceback.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from kravsak import logs, stack
from kravsak.errors import KravsakError
from kravsak.settings import ENV_VARS, Settings, load_settings, redact_dsn
from kravsak.stack import ServiceState

app = typer.Typer(
    help="kravsak: event-sourced case lifecycle for municipal debt collection.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console(highlight=False)
err = Console(stderr=True, highlight=False)

_STATE_STYLE = {
    "started": "bold green",
    "running": "green",
    "external": "cyan",
    "stopped": "yellow",
    "unreachable": "bold red",
}


@contextmanager
def friendly_errors() -> Iterator[None]:
    try:
        yield
    except KravsakError as exc:
        err.print(
            f"[bold red]error:[/] {escape(exc.problem)} — [bold]fix:[/] {escape(exc.fix)}",
            soft_wrap=True,
        )
        raise typer.Exit(exc.exit_code) from None


@app.callback()
def _setup(ctx: typer.Context) -> None:
    with friendly_errors():
        settings = load_settings()
    logs.configure(settings.log_format, level=os.environ.get("KRAVSAK_LOG_LEVEL", "INFO"))
    ctx.obj = settings


@contextmanager
def _progress(message: str) -> Iterator[stack.Step]:
    """A spinner on a terminal; plain lines otherwise (CI logs)."""
    if not err.is_terminal:
        err.print(f"… {message}", soft_wrap=True)
        yield lambda step: err.print(f"… {step}", soft_wrap=True)
        return
    with err.status(message) as status:
        yield lambda step: status.update(step)


@app.command()
def up(ctx: typer.Context) -> None:
    """Start what is missing of the local stack (PostgreSQL, Kafka); idempotent."""
    settings: Settings = ctx.obj
    with friendly_errors(), _progress("starting the local stack") as step:
        states = stack.up(settings, step)
    _print_states(states, settings)


@app.command()
def status(ctx: typer.Context) -> None:
    """Show what runs where: ports, pids, versions, data folders, logs."""
    settings: Settings = ctx.obj
    with friendly_errors():
        states = stack.status(settings)
    _print_states(states, settings)


@app.command()
def down(ctx: typer.Context) -> None:
    """Stop this checkout's local servers (servers named by KRAVSAK_* variables are left alone)."""
    settings: Settings = ctx.obj
    with friendly_errors(), _progress("stopping the local stack") as step:
        states = stack.down(settings, step)
    _print_states(states, settings)


@app.command()
def reset(
    ctx: typer.Context,
    yes: Annotated[bool, typer.Option("--yes", help="really delete the local data")] = False,
) -> None:
    """Stop the local servers and delete their data (events, topics); the Kafka jars stay cached."""
    settings: Settings = ctx.obj
    with friendly_errors():
        if not yes:
            raise KravsakError(
                f"`kravsak reset` deletes the local PostgreSQL and Kafka data under {settings.home}",
                "run `kravsak reset --yes` if that is what you want",
            )
        with _progress("stopping the local stack") as step:
            removed = stack.reset(settings, step)
    for folder in removed:
        out.print(f"removed {folder}")


@app.command()
def smoke(ctx: typer.Context) -> None:
    """Send one event through the pipe: event store → Kafka → consumer group with committed offset."""
    from kravsak.smoke import run_smoke  # eventsourcing and the clients load only when needed

    settings: Settings = ctx.obj
    with friendly_errors(), _progress("running the smoke test") as step:
        step("saving an aggregate, producing and consuming its event")
        report = run_smoke(settings)
    table = Table(title="kravsak smoke: one event through the pipe", title_justify="left")
    table.add_column("step", style="bold")
    table.add_column("what happened")
    for name, detail in report.steps:
        table.add_row(name, detail)
    out.print(table)
    out.print("[bold green]smoke test passed[/]")


@app.command()
def publish(ctx: typer.Context) -> None:
    """Run the publisher: event store notification log → Kafka (consumers.publisher.run)."""
    _run_entry_point(ctx.obj, "consumers.publisher", "the publisher")


@app.command()
def project(ctx: typer.Context) -> None:
    """Run the projectors: Kafka → read models in PostgreSQL (consumers.projector.run)."""
    _run_entry_point(ctx.obj, "consumers.projector", "the projector")


@app.command()
def env() -> None:
    """List the KRAVSAK_* environment variables kravsak reads."""
    table = Table(title="settings (environment variables)", title_justify="left")
    table.add_column("variable", style="bold")
    table.add_column("value now")
    table.add_column("meaning")
    for name, meaning in ENV_VARS.items():
        value = os.environ.get(name, "")
        table.add_row(name, redact_dsn(value) if name == "KRAVSAK_PG_DSN" and value else value, meaning)
    out.print(table)


def _run_entry_point(settings: Settings, module_name: str, what: str) -> None:
    """Services live in consumers/; each module offers `run(settings)` and returns on shutdown."""
    with friendly_errors():
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            raise KravsakError(
                f"{what} is not in this build: there is no {module_name} module",
                f"build {module_name} with a run(settings) function, or use a build that has it",
            ) from None
        run = getattr(module, "run", None)
        if not callable(run):
            raise KravsakError(
                f"{module_name} has no run(settings) function to start {what} with",
                f"add `def run(settings: kravsak.settings.Settings) -> None` to {module_name}",
            )
        run(settings)


def _print_states(states: list[ServiceState], settings: Settings) -> None:
    table = Table(title=f"kravsak stack · home {settings.home}", title_justify="left")
    for column in ("service", "state", "listens on", "pid", "version"):
        table.add_column(column)
    for state in states:
        label = state.state + (f" ({state.seconds:g} s)" if state.seconds is not None else "")
        table.add_row(
            state.name,
            f"[{_STATE_STYLE[state.state]}]{label}[/]",
            state.address,
            str(state.pid) if state.pid else "-",
            state.version or "-",
        )
    out.print(table)
    for state in states:
        if state.data_dir or state.log_file:
            out.print(f"{state.name}: data {_short(state.data_dir)} · log {_short(state.log_file)}", soft_wrap=True)
    dsn = settings.pg_dsn if not settings.pg_is_external else redact_dsn(settings.pg_dsn)
    out.print(f"[bold]KRAVSAK_PG_DSN[/]={escape(dsn)}", soft_wrap=True)
    out.print(f"[bold]KRAVSAK_KAFKA_BOOTSTRAP[/]={escape(settings.kafka_bootstrap)}", soft_wrap=True)


def _short(path: Path | None) -> str:
    if path is None:
        return "-"
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
