"""The `kravsak` command.

Errors a person can fix (the `domain.errors.ServiceError` family, `kravsak.errors.KravsakError`
by its old name) end as one red line naming the problem and the fix, with exit code 2; anything
else is a bug and shows its traceback. The services (`publish`,
`project`, `automate`) start through `kravsak.services`, as `python -m kravsak.services` does.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from kravsak import local_secrets, logs, stack, wiring  # noqa: F401 - wiring: the edges' read models run with the core ones
from kravsak.errors import KravsakError, option_day
from kravsak.settings import (
    ENV_VARS,
    MAX_KAFKA_BROKERS,
    PG_SERVICE_ROLES,
    Settings,
    check_local_ports,
    load_settings,
    publisher_options,
    redact_dsn,
)
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
def _counting(message: str) -> Iterator[Callable[[int], None]]:
    """A live count of events for long rebuilds (plain lines when not on a terminal)."""
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    if not err.is_terminal:
        err.print(f"… {message}")
        yield lambda n: None
        return
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TextColumn("{task.completed} events"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    ) as progress:
        task = progress.add_task(message, total=None)
        yield lambda n: progress.advance(task, n)


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
def up(
    ctx: typer.Context,
    brokers: Annotated[
        int | None,
        typer.Option(
            "--brokers",
            min=1,
            max=MAX_KAFKA_BROKERS,
            help="Kafka nodes on loopback (3: a KRaft cluster, replication 3, min ISR 2; default: as formatted)",
        ),
    ] = None,
) -> None:
    """Start what is missing of the local stack (PostgreSQL, Kafka); idempotent."""
    settings: Settings = ctx.obj
    if brokers is not None:
        settings = dataclasses.replace(settings, kafka_brokers=brokers)
    with friendly_errors(), _progress("starting the local stack") as step:
        check_local_ports(settings)
        states = stack.up(settings, step)
    _print_states(states, settings)


@app.command()
def status(ctx: typer.Context) -> None:
    """Show what runs where: ports, pids, versions, data folders, logs."""
    settings: Settings = ctx.obj
    with friendly_errors():
        states = stack.status(settings)
    _print_states(states, settings)
    _print_pipeline(settings.for_command("status"))


def _print_pipeline(settings: Settings) -> None:
    """The services' heartbeats, the publisher's lag and held cases, parked cases, when the database answers."""
    import psycopg

    from consumers.projector import parked_count
    from consumers.publisher import held_cases, publisher_lag
    from kravsak.health_cli import print_services
    from kravsak.settings import publisher_options

    try:
        lag = publisher_lag(settings.pg_dsn)
        held = held_cases(settings.pg_dsn, publisher_options(settings))
        with psycopg.connect(settings.pg_dsn, connect_timeout=5) as conn:
            parked = parked_count(conn)
            print_services(conn)
    except psycopg.Error as exc:
        out.print(f"pipeline: database not reachable ({escape(str(exc).splitlines()[0])})")
        return
    out.print(f"[bold]publisher lag[/]: {lag} event(s) stored but not yet acknowledged by Kafka")
    out.print(
        f"[bold]publisher held[/]: [{'bold red' if held else 'green'}]{len(held)} held case(s)[/]"
        + (
            f" ({', '.join(h.case_id for h in held[:3])}{' …' if len(held) > 3 else ''}) — fix, then "
            "`kravsak publisher release CASE` (`kravsak publisher held` lists them)"
            if held
            else ""
        )
    )
    if not parked:
        out.print("[bold]projections[/]: not created yet (run `kravsak project`)")
        return
    for name, count in parked.items():
        style = "bold red" if count else "green"
        out.print(
            f"[bold]projection {name}[/]: [{style}]{count} parked case(s)[/]"
            + (" — fix, then `kravsak project --retry-parked`" if count else "")
        )


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
def ping(
    ctx: typer.Context,
    service: Annotated[
        str | None,
        typer.Option("--as", help="connect as this service: publisher, projector, automate, writer or reader"),
    ] = None,
) -> None:
    """Exit 0 when PostgreSQL and Kafka take this service's credentials: the containers' health check."""
    from psycopg.conninfo import conninfo_to_dict

    from kravsak.errors import ServerUnreachable
    from kravsak.reachable import require_postgres
    from kravsak.stack.kafka.broker import broker_answers

    settings: Settings = ctx.obj
    if service is not None:
        if service not in PG_SERVICE_ROLES:
            raise typer.BadParameter(f"{service!r} is none of {', '.join(PG_SERVICE_ROLES)}", param_hint="--as")
        settings = settings.for_service(service)
    with friendly_errors():
        require_postgres(settings)
        if broker_answers(settings.kafka_bootstrap, timeout_s=10) is None:
            raise ServerUnreachable(
                f"Kafka at {settings.kafka_servers} does not answer a metadata request with these credentials",
                "check the broker and this service's Kafka credentials (KRAVSAK_KAFKA_BOOTSTRAP)",
            )
    user = conninfo_to_dict(settings.pg_dsn).get("user")
    out.print(f"[bold green]ok[/]: PostgreSQL as {user}, Kafka at {escape(settings.kafka_servers)}")


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
def publish(
    ctx: typer.Context,
    partitions: Annotated[
        str | None,
        typer.Option(
            help="publish only the cases of these partitions of the topic, e.g. 0-5 (another publisher process the "
            "rest; default: all, or KRAVSAK_PUBLISHER_PARTITIONS)"
        ),
    ] = None,
) -> None:
    """Run the publisher: event store notification log → Kafka, until SIGTERM/SIGINT."""
    from dataclasses import replace

    from consumers.partitions import PartitionRange
    from kravsak import services
    from kravsak.settings import publisher_options

    with friendly_errors():
        options = publisher_options(ctx.obj)
        if partitions is not None:
            try:
                options = replace(options, partition_range=PartitionRange.parse(partitions))
            except ValueError as exc:
                raise typer.BadParameter(str(exc), param_hint="--partitions") from None
        services.publish(ctx.obj, options)


@app.command()
def project(
    ctx: typer.Context,
    group: Annotated[
        str | None,
        typer.Option(help="consumer group; runners in one group share the partitions (default kravsak-projector)"),
    ] = None,
    projection: Annotated[
        list[str] | None, typer.Option(help="ledger, limitation, audit, parties, letters (default: all)")
    ] = None,
    retry_parked: Annotated[bool, typer.Option("--retry-parked", help="apply parked events again, then exit")] = False,
) -> None:
    """Run a projection runner: Kafka → read models in PostgreSQL, until SIGTERM/SIGINT."""
    from dataclasses import replace

    from consumers import projector
    from kravsak import services
    from kravsak.settings import projector_options

    settings: Settings = ctx.obj
    names = tuple(projection or projector.projection_names())
    with friendly_errors():
        options = replace(projector_options(), projections=names)
        if group:
            options = replace(options, group=group)
        if retry_parked:
            done = projector.retry_parked(
                settings.pg_dsn, names=names, schemas_dir=options.schemas_dir, schema_suffix=options.schema_suffix
            )
            for name, count in done.items():
                out.print(f"{name}: {count} parked event(s) applied")
            return
        services.project(settings, options)


@app.command()
def replay(
    ctx: typer.Context,
    projection: Annotated[str, typer.Option(help="ledger, limitation or audit")],
) -> None:
    """Rebuild a projection from offset 0 into fresh tables; switch over only when caught up."""
    from consumers import projector

    settings: Settings = ctx.obj
    started = time.monotonic()
    with friendly_errors(), _counting(f"rebuilding {projection}") as progress:
        count = projector.rebuild(settings.pg_dsn, settings.kafka_bootstrap, projection, progress=progress)
    out.print(f"[bold green]{projection} rebuilt[/] from {count} events in {time.monotonic() - started:.1f} s")


@app.command()
def verify(
    ctx: typer.Context,
    projection: Annotated[
        list[str] | None, typer.Option(help="ledger, limitation, audit, parties (default: all)")
    ] = None,
    against_store: Annotated[
        bool,
        typer.Option(
            "--against-store",
            help="fold the event store itself (not the topic): catches records that never came from the store",
        ),
    ] = False,
) -> None:
    """Rebuild the projections aside and compare them with the live tables; exit 1 on a difference."""
    from consumers import projector

    settings: Settings = ctx.obj.for_command("verify")  # rebuilds aside, as the projector: its role (ADR 0028)
    names = tuple(projection or projector.projection_names())
    source = "the event store" if against_store else "the topic"
    title = "a fold of the event store" if against_store else "a clean rebuild from the topic"
    with friendly_errors(), _counting(f"verifying {', '.join(names)} against {source}") as progress:
        if against_store:
            from consumers.store_verify import verify_against_store

            publisher = publisher_options(settings)
            differences = verify_against_store(
                settings,
                names,
                pg_schema=publisher.pg_schema,
                publisher_name=publisher.position_name,
                progress=progress,
            )
        else:
            differences = projector.verify(settings.pg_dsn, settings.kafka_bootstrap, names, progress=progress)
    unreconciled = _reconciliation(settings) if "ledger" in names else []
    for line in unreconciled:
        err.print(f"[bold red]reconciliation:[/] {escape(line)}", soft_wrap=True)
    if not differences:
        out.print(f"[bold green]no difference[/]: {', '.join(names)} equal {title}")
        if "ledger" in names and not unreconciled:
            out.print(
                "[bold green]reconciled[/]: per creditor, money in = allocated + surplus + suspense + refunds out, "
                "debits = credits"
            )
        if unreconciled:
            raise typer.Exit(1)
        return
    table = Table(title=f"differences between live projections and {title}", title_justify="left")
    for column in ("projection", "table", "rows only live", "rows only rebuilt", "sample"):
        table.add_column(column)
    for d in differences:
        table.add_row(d.projection, d.table, str(d.only_live), str(d.only_rebuilt), "\n".join(d.sample))
    out.print(table)
    raise typer.Exit(1)


def _reconciliation(settings: Settings) -> list[str]:
    """The ledger's reconciliation per creditor and currency, to date (ADR 0019); what does not hold."""
    from datetime import date

    import psycopg

    from projections.base import schema_name
    from projections.settlement import currencies, settle

    schema = schema_name("ledger")
    problems = []
    with psycopg.connect(settings.pg_dsn) as conn, conn.cursor() as cur:
        cur.execute(f'SELECT DISTINCT creditor_id FROM "{schema}".postings ORDER BY 1')
        for (creditor,) in cur.fetchall():
            for currency in currencies(cur, schema, creditor):
                s = settle(cur, schema, creditor, currency, date.min, date.max)
                if not s.money_holds:
                    problems.append(f"creditor {creditor} {currency}: money in {s.reconciliation['money_in']} is not "
                                    "allocated + surplus + suspense + refunds out")  # fmt: skip
                if not s.balanced:
                    problems.append(f"creditor {creditor} {currency}: debits {s.reconciliation['debits']} != credits "
                                    f"{s.reconciliation['credits']}")  # fmt: skip
    return problems


def _reason_notes(settings: Settings, case_id: str) -> dict[str, str]:
    """The reasons people wrote on the case, from the personal-data store (the events and the stream carry only
    ``note``; ADR 0028): the person at the terminal runs the office and may read them."""
    from uuid import UUID

    from domain.application import CollectionApp
    from kravsak.settings import note_keeper

    app = CollectionApp(settings.eventsourcing_env(), notes=note_keeper(settings))
    try:
        return app.reason_notes(UUID(case_id))
    finally:
        app.close()


@app.command()
def trail(
    ctx: typer.Context,
    reference: Annotated[str, typer.Argument(help="invoice number, KID (OCR reference) or case id")],
    creditor: Annotated[str | None, typer.Option(help="municipality number, when invoice numbers repeat")] = None,
    format: Annotated[str, typer.Option("--format", help="json or html")] = "json",
    on: Annotated[str | None, typer.Option(help="figures as of this date (default today)")] = None,
    output: Annotated[Path | None, typer.Option("--out", help="write to this file instead of stdout")] = None,
) -> None:
    """The case dossier for the complaints board: claim, steps, payments, objections, findings."""

    import psycopg

    from kravsak.reachable import require_postgres
    from letters.queries import letters_for_case
    from projections import audit_trail, dossier
    from projections.base import schema_name

    settings: Settings = ctx.obj.for_command("trail")  # reads only: the reader's role (ADR 0028)
    with friendly_errors():
        if format not in ("json", "html"):
            raise KravsakError(f"--format {format!r} is neither json nor html", "give --format json or --format html")
        day = option_day("--on", on)
        if output is not None and not output.parent.is_dir():
            raise KravsakError(
                f"--out {output}: the folder {output.parent} does not exist", "create it first, or write elsewhere"
            )
        require_postgres(settings)
        with psycopg.connect(settings.pg_dsn) as conn, conn.cursor() as cur:
            try:
                cases = audit_trail.case_ids_for(cur, schema_name("audit"), reference, creditor)
            except psycopg.errors.UndefinedTable:
                raise KravsakError(
                    "the audit trail projection does not exist yet", "run `kravsak project` (or `kravsak demo`) first"
                ) from None
            if not cases:
                raise KravsakError(
                    f"no case with invoice number, KID or case id {reference!r} in the audit trail"
                    + (f" of creditor {creditor}" if creditor else ""),
                    "check the reference" + ("" if creditor else ", or give --creditor"),
                )
            if len(cases) > 1:
                raise KravsakError(
                    f"{reference!r} names {len(cases)} cases (several creditors use it)",
                    "give --creditor with the municipality number",
                )
            built = dossier.build(cur, cases[0], day, notes=_reason_notes(settings, cases[0]))
            if built is not None:
                built["letters"] = letters_for_case(cur, cases[0])
        if built is None:
            raise KravsakError(f"case {cases[0]} has no steps in the audit trail", "run `kravsak project` to catch up")
        if format == "html":
            from web.dossier import render_html

            text = render_html(built)
        else:
            text = dossier.render_json(built)
        if output:
            try:
                output.write_text(text, encoding="utf-8")
            except OSError as exc:
                raise KravsakError(f"cannot write --out {output}: {exc.strerror}", "write somewhere else") from None
    if output:
        out.print(f"dossier written to {output}")
    else:
        sys.stdout.write(text + "\n")


@app.command()
def automate(
    ctx: typer.Context,
    clock: Annotated[str, typer.Option(help="system (the calendar date) or simulated (a date kept in PostgreSQL)")] = (
        "system"
    ),
    clock_name: Annotated[str, typer.Option(help="which simulated clock (see `kravsak clock`)")] = "default",
    namespace: Annotated[str | None, typer.Option(help="id namespace of the claims to follow (default: kravsak's)")] = (
        None
    ),
    group: Annotated[str, typer.Option(help="consumer group")] = "kravsak-automate",
    topic: Annotated[str, typer.Option(help="case-events topic")] = "kravsak.case-events",
    schema: Annotated[str, typer.Option(help="PostgreSQL schema of the worklist, alerts and clocks")] = (
        "kravsak_automate"
    ),
    event_store_schema: Annotated[str, typer.Option(help="PostgreSQL schema of the event store")] = "public",
) -> None:
    """Run the process manager: worklist from the stream, reminders/warnings/enforcement on the business clock."""
    import uuid

    from consumers.automate import AutomateOptions
    from domain.application import DEFAULT_NAMESPACE
    from kravsak import services

    settings: Settings = ctx.obj
    with friendly_errors():
        if clock not in ("system", "simulated"):
            raise KravsakError(f"--clock {clock!r} is neither system nor simulated", "give --clock system or simulated")
        try:
            ns = uuid.UUID(namespace) if namespace else DEFAULT_NAMESPACE
        except ValueError:
            raise KravsakError(f"--namespace {namespace!r} is not a UUID", "give the namespace as a UUID") from None
        options = AutomateOptions(
            topic=topic, group=group, schema=schema, namespace=ns, event_store_schema=event_store_schema
        )
        services.automate(
            settings,
            options,
            services.clock_for(settings, "simulated" if clock == "simulated" else "system", clock_name, schema),
        )


@app.command("clock")
def clock_command(
    ctx: typer.Context,
    name: Annotated[str, typer.Option(help="which simulated clock")] = "default",
    set_to: Annotated[str | None, typer.Option("--set", help="set the clock to this ISO date")] = None,
    advance: Annotated[int, typer.Option(help="move the clock this many days forward")] = 0,
    schema: Annotated[str, typer.Option(help="PostgreSQL schema of the clocks")] = "kravsak_automate",
) -> None:
    """Show, set or advance a simulated business clock shared by `kravsak automate --clock simulated`."""

    from consumers.automate import SimulatedClock

    settings: Settings = ctx.obj
    with friendly_errors():
        simulated = SimulatedClock(settings.pg_dsn, name, schema=schema)
        try:
            if set_to is not None:
                simulated.set(option_day("--set", set_to))
            if advance:
                simulated.advance(advance)
            out.print(f"simulated clock {name}: {simulated.today().isoformat()}")
        finally:
            simulated.close()


@app.command()
def demo(
    ctx: typer.Context,
    debtors: Annotated[int, typer.Option(help="debtors in the simulated office (scales the run time)")] = 2000,
    seed: Annotated[int, typer.Option(help="seed of the simulated world (same seed, same year)")] = 2025,
    year: Annotated[int, typer.Option(help="the simulated year")] = 2025,
    out_dir: Annotated[Path, typer.Option("--out", help="folder for the report folders")] = Path("report"),
    serve_after: Annotated[
        bool,
        typer.Option(
            "--serve/--no-serve",
            help="then serve the demo's office to people until Ctrl-C, printing one login per role "
            "(not when CI is set or stdin is not a terminal)",
        ),
    ] = True,
) -> None:
    """Simulate a year of an inter-municipal collection office end to end, then summarise it (HTML report)."""
    import contextlib

    from kravsak.demo import report as demo_report
    from kravsak.demo import run as demo_run

    settings: Settings = ctx.obj
    if debtors < 10:
        raise typer.BadParameter("--debtors must be at least 10")
    console = out if out.is_terminal else Console(highlight=False, width=120)  # tables unwrapped in logs
    with friendly_errors():
        demo_run.check_stack(settings)
        folder = demo_run.new_report_folder(out_dir)
        logs.configure("json", level=os.environ.get("KRAVSAK_LOG_LEVEL", "INFO"))
        with (folder / "demo.log").open("w") as log, contextlib.redirect_stderr(log):  # log lines: the file
            run = demo_run.run_demo(settings, debtors=debtors, seed=seed, year=year, console=console, folder=folder)
            summary = demo_report.summarise(settings, run)
            index = demo_report.write_report(run, summary)
        demo_report.print_summary(console, run, summary)
    console.print(f"\n[bold green]report:[/] {index.resolve()}")
    if serve_after and not os.environ.get("CI") and sys.stdin.isatty():
        from kravsak.demo.serve import serve_demo

        with friendly_errors():
            serve_demo(settings, run, console)


@app.command()
def serve(
    ctx: typer.Context,
    host: Annotated[str | None, typer.Option(help="address to listen on (default KRAVSAK_HTTP_HOST)")] = None,
    port: Annotated[int | None, typer.Option(help="port (default KRAVSAK_HTTP_PORT)")] = None,
    clock: Annotated[str, typer.Option(help="system (the calendar date) or simulated (see `kravsak clock`)")] = (
        "system"
    ),
    clock_name: Annotated[str, typer.Option(help="which simulated clock")] = "default",
    namespace: Annotated[str | None, typer.Option(help="id namespace of the cases (default: kravsak's)")] = None,
    test_identities: Annotated[
        bool, typer.Option("--test-identities", help="accept synthetic identity numbers (test systems only)")
    ] = False,
) -> None:
    """Serve the HTTP API (OpenAPI at /openapi.json, docs at /docs) until SIGTERM/SIGINT."""
    import uuid

    from kravsak import serve as server
    from kravsak.services import clock_for

    settings: Settings = ctx.obj.for_command("serve")  # the API's own role (ADR 0028)
    with friendly_errors():
        if clock not in ("system", "simulated"):
            raise KravsakError(f"--clock {clock!r} is neither system nor simulated", "give --clock system or simulated")
        try:
            ns = uuid.UUID(namespace) if namespace else None
        except ValueError:
            raise KravsakError(f"--namespace {namespace!r} is not a UUID", "give the namespace as a UUID") from None
        business_clock = clock_for(settings, "simulated" if clock == "simulated" else "system", clock_name)
        config = server.web_config(
            settings, namespace=ns, today=business_clock.today, allow_synthetic_ids=test_identities
        )
        err.print(
            f"kravsak API on http://{host or settings.http_host}:{port or settings.http_port} "
            f"(docs /docs) · issuers {settings.staff_issuer}, {settings.resident_issuer}",
            soft_wrap=True,
        )
        server.run(config, host or settings.http_host, port or settings.http_port)


@app.command()
def env() -> None:
    """List the KRAVSAK_* environment variables kravsak reads."""
    table = Table(title="settings (environment variables)", title_justify="left")
    table.add_column("variable", style="bold")
    table.add_column("value now")
    table.add_column("meaning")
    for name, meaning in ENV_VARS.items():
        table.add_row(name, _shown(name, os.environ.get(name, "")), meaning)
    out.print(table)


SECRET_VARIABLES = frozenset(
    {
        "KRAVSAK_PG_PASSWORD",
        "KRAVSAK_MASTER_KEY",
        "KRAVSAK_OFFICE_SECRET",
        "KRAVSAK_SESSION_SECRET",
        "KRAVSAK_OIDC_CLIENT_SECRET",
    }
)


def _shown(name: str, value: str) -> str:
    """A variable's value as `kravsak env` prints it: never a password or a key."""
    from consumers.kafka_access import servers

    if not value:
        return value
    if name in SECRET_VARIABLES:
        return "***"
    if name.startswith("KRAVSAK_PG_DSN"):
        return redact_dsn(value)
    if name.startswith("KRAVSAK_KAFKA_BOOTSTRAP"):
        return servers(value)
    return value


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
        for line in state.details:
            out.print(f"{state.name} {line}", soft_wrap=True)
    for state in states:
        if state.data_dir or state.log_file:
            out.print(f"{state.name}: data {_short(state.data_dir)} · log {_short(state.log_file)}", soft_wrap=True)
    out.print(f"[bold]KRAVSAK_PG_DSN[/]={escape(redact_dsn(settings.pg_dsn))}", soft_wrap=True)
    if not settings.pg_is_external:
        out.print(f"passwords: {_short(local_secrets.secrets_file(settings.home))} (0600)", soft_wrap=True)
    out.print(f"[bold]KRAVSAK_KAFKA_BOOTSTRAP[/]={escape(settings.kafka_servers)}", soft_wrap=True)


def _short(path: Path | None) -> str:
    if path is None:
        return "-"
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


from kravsak.scenario_cli import scenario_app  # noqa: E402 - registered after the app exists

app.add_typer(scenario_app, name="scenario")

from kravsak.people_cli import debtors_app, letters_app  # noqa: E402 - the debtor register and letters (ADR 0014/15)

app.add_typer(debtors_app, name="debtors")
app.add_typer(letters_app, name="letters")

from kravsak.payments_cli import payments_app  # noqa: E402 - bank files in, suspense (ADR 0019)

app.add_typer(payments_app, name="payments")

from kravsak.refunds_cli import refunds_app  # noqa: E402 - the refund worklist, pain.001 (ADR 0019)

app.add_typer(refunds_app, name="refunds")

from kravsak.publisher_cli import publisher_app  # noqa: E402 - held cases, release (ADR 0026)

app.add_typer(publisher_app, name="publisher")

from kravsak.health_cli import health_cmd  # noqa: E402 - the services' heartbeats (ADR 0026)

app.command("health")(health_cmd)

from kravsak.settlement_cli import settlement_cmd  # noqa: E402 - settlement per municipality (ADR 0019)

app.command("settlement")(settlement_cmd)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
