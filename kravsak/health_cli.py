"""`kravsak health SERVICE` and the services' part of `kravsak status`: who beats, how long ago, how far behind.

Each service (publisher, projector, automate) beats in ``kravsak_ops.heartbeats`` every few seconds
(``consumers.heartbeat``). `kravsak health SERVICE` exits 0 when a process of that service on this
host (or, with ``--any-host``, anywhere) beat within ``--max-age`` seconds, and 1 otherwise — stale,
never started, or the database unreachable — so a container's healthcheck can run it as it is.

Who may run it: whoever can read ``kravsak_ops`` with the DSN it is given; it writes nothing and
has no HTTP route.
"""

from __future__ import annotations

import socket
from typing import Annotated

import psycopg
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from consumers.heartbeat import DEFAULT_STALE_S, Beat, beats
from kravsak.settings import Settings

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)
SERVICE_NAMES = ("publisher", "projector", "automate")


def health_cmd(
    ctx: typer.Context,
    service: Annotated[str, typer.Argument(help="publisher, projector or automate")],
    max_age: Annotated[float, typer.Option(help="seconds after which a beat is stale")] = DEFAULT_STALE_S,
    any_host: Annotated[bool, typer.Option("--any-host", help="a process on any host will do")] = False,
) -> None:
    """Exit 0 when SERVICE beat lately (on this host), 1 when stale or absent: a container healthcheck."""
    settings: Settings = ctx.obj.for_command("health")
    if service not in SERVICE_NAMES:
        err.print(f"[bold red]error:[/] no service named {escape(service)!r} — [bold]fix:[/] one of {SERVICE_NAMES}")
        raise typer.Exit(2)
    host = socket.gethostname()
    try:
        with psycopg.connect(settings.pg_dsn, autocommit=True, connect_timeout=5) as conn:
            found = [b for b in beats(conn, service) if any_host or b.host == host]
    except psycopg.Error as exc:
        err.print(f"[bold red]unhealthy[/]: {service}: database not reachable ({escape(str(exc).splitlines()[0])})")
        raise typer.Exit(1) from None
    fresh = [b for b in found if not b.stale(max_age)]
    where = "" if any_host else f" on {host}"
    if not fresh:
        last = f"; last beat {found[0].age_s:.0f} s ago" if found else "; no beat at all"
        err.print(f"[bold red]unhealthy[/]: no {service} beat{where} within {max_age:g} s{last}")
        raise typer.Exit(1)
    best = fresh[0]
    out.print(
        f"healthy: {service}{where}, pid {best.pid}, {best.state}, beat {best.age_s:.1f} s ago, lag {_n(best.lag)}"
    )


def print_services(conn: psycopg.Connection[object]) -> None:
    """The services' table of `kravsak status` (nothing before any service beat)."""
    found = beats(conn)
    if not found:
        out.print("[bold]services[/]: none has beaten yet (start `kravsak publish`, `kravsak project`, …)")
        return
    table = Table(title="services (heartbeats)", title_justify="left")
    for column in ("service", "name", "host", "pid", "state", "last beat", "lag", "position"):
        table.add_column(column)
    for beat in found:
        table.add_row(
            beat.service,
            beat.name,
            beat.host,
            str(beat.pid),
            _state(beat),
            f"{beat.age_s:.1f} s ago",
            _n(beat.lag),
            _n(beat.position),
        )
    out.print(table)


def _state(beat: Beat) -> str:
    if beat.stale():
        return "[bold red]stale[/]"
    return f"[green]{beat.state}[/]" if beat.state == "running" else f"[yellow]{beat.state}[/]"


def _n(value: int | None) -> str:
    return "-" if value is None else str(value)
