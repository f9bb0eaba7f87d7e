"""Is the server there? One quick look before a command starts work, so a stopped stack is one
line naming the server and the fix instead of a client library's retries and traceback."""

from __future__ import annotations

import socket

import psycopg
from psycopg.conninfo import conninfo_to_dict

from kravsak.errors import ServerUnreachable
from kravsak.settings import Settings

CONNECT_TIMEOUT_S = 5


def require_postgres(settings: Settings) -> None:
    try:
        with psycopg.connect(settings.pg_dsn, connect_timeout=CONNECT_TIMEOUT_S):
            pass
    except psycopg.OperationalError as exc:
        first = " ".join(str(exc).split("\n")[0].split())
        raise ServerUnreachable(
            f"PostgreSQL does not answer at {where(settings.pg_dsn)} ({first})",
            "start the local stack with `kravsak up`, or point KRAVSAK_PG_DSN at a running server",
        ) from None


def where(dsn: str) -> str:
    """``host:port/database`` of a DSN, never its password."""
    try:
        parts = conninfo_to_dict(dsn)
    except psycopg.ProgrammingError:
        return "the server KRAVSAK_PG_DSN names"
    return f"{parts.get('host', 'localhost')}:{parts.get('port', 5432)}/{parts.get('dbname', '')}"


def require_kafka(settings: Settings) -> None:
    """At least one bootstrap address accepts a connection (the clients' own bootstrap waits 30 s)."""
    problems = []
    from consumers.kafka_access import client_args

    for address in client_args(settings.kafka_bootstrap)["bootstrap_servers"]:
        host, _, port = address.strip().rpartition(":")
        try:
            with socket.create_connection((host or "localhost", int(port)), timeout=CONNECT_TIMEOUT_S):
                return
        except (OSError, ValueError) as exc:
            problems.append(f"{address}: {exc}")
    raise ServerUnreachable(
        f"Kafka does not answer at {settings.kafka_servers} ({'; '.join(problems)})",
        "start the local stack with `kravsak up`, or point KRAVSAK_KAFKA_BOOTSTRAP at a running broker",
    )
