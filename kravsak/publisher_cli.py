"""`kravsak publisher …`: the cases the publisher holds back, and releasing one after a fix (ADR 0026).

An event the publisher cannot put on the wire holds back its case only (``consumers.held``): `held`
lists those cases with the first held event and its error; `release CASE` asks the running publisher
to try the case's held events again, in order (with no publisher running it does so itself), and
says what went out and what is still held.

Who may run these commands: `held` reads (any role that reads the event store); `release` only the owner,
whoever holds the owner's secret — the held table refuses a release asked by any other role, the publisher's
own included (``kravsak.stack.roles.RELEASE_FUNCTION``, ADR 0028). There is no HTTP route to them.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from kravsak.errors import KravsakError
from kravsak.settings import Settings, publisher_options

publisher_app = typer.Typer(
    help="The publisher's held cases: list them, release one after a fix.", no_args_is_help=True
)
out = Console(highlight=False)
err = Console(stderr=True, highlight=False)


def _fail(exc: KravsakError) -> typer.Exit:
    err.print(f"[bold red]error:[/] {escape(exc.problem)} — [bold]fix:[/] {escape(exc.fix)}", soft_wrap=True)
    return typer.Exit(exc.exit_code)


@publisher_app.command("held")
def held(ctx: typer.Context) -> None:
    """List the held cases: the first held event of each, its error, how many events wait behind it."""
    from consumers.publisher import held_cases

    settings: Settings = ctx.obj
    cases = held_cases(settings.pg_dsn, publisher_options(settings))
    if not cases:
        out.print("[green]no held cases[/]: every stored event is published or on its way")
        return
    table = Table(title=f"{len(cases)} held case(s)", title_justify="left")
    for column in ("case", "events", "first held", "type", "version", "held since", "error"):
        table.add_column(column, overflow="fold")
    for case in cases:
        first = case.first
        since = first.held_at.strftime("%Y-%m-%d %H:%M:%S") if first.held_at else "-"
        table.add_row(
            case.case_id,
            str(case.events),
            str(first.notification_id),
            first.event_type,
            str(first.version),
            since + (" (release asked)" if case.release_requested else ""),
            escape(first.error[:300]),
        )
    out.print(table)
    out.print("after a fix: `kravsak publisher release CASE`")


@publisher_app.command("release")
def release(
    ctx: typer.Context,
    case: Annotated[str, typer.Argument(help="the held case's id (the aggregate id, as `held` lists it)")],
    timeout: Annotated[float, typer.Option(help="seconds to wait for the running publisher")] = 30.0,
) -> None:
    """Publish a held case's events again, in order, after the fix; what still fails stays held."""
    import psycopg

    from consumers.publisher import release_case

    settings: Settings = ctx.obj
    try:
        try:
            outcome = release_case(settings, case, publisher_options(settings), timeout_s=timeout)
        except psycopg.errors.InsufficientPrivilege as refused:
            raise KravsakError(
                f"releasing a held case is the owner's: {refused.diag.message_primary or 'permission denied'}",
                "run it with the owner's credentials (the local stack's kravsak role, or KRAVSAK_PG_DSN of the owner)",
            ) from None
    except KravsakError as exc:
        raise _fail(exc) from None
    sent = outcome.held_before - len(outcome.still_held)
    out.print(f"case {case}: {sent} of {outcome.held_before} held event(s) published by {outcome.released_by}")
    if outcome.still_held:
        first = outcome.still_held[0]
        err.print(
            f"[bold red]still held[/] from notification {first.notification_id} ({first.event_type}): "
            f"{escape(first.error)}",
            soft_wrap=True,
        )
        raise typer.Exit(1)
