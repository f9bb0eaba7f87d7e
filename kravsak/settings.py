"""Where kravsak finds its servers and keeps its local files, read from `KRAVSAK_*` variables.

Without `KRAVSAK_PG_DSN` / `KRAVSAK_KAFKA_BOOTSTRAP`, kravsak runs its own PostgreSQL and Kafka
on loopback (see `kravsak.stack`) and the DSN and bootstrap string point at them. With them set,
kravsak starts nothing for that server and only checks that it answers.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from psycopg.conninfo import conninfo_to_dict

from kravsak.errors import SettingsError

KAFKA_VERSION = "4.4.0"
"""The Apache Kafka release the local stack runs and docker-compose.yml pins."""

LOCAL_PG_USER = "kravsak"
LOCAL_PG_PASSWORD = "kravsak"
LOCAL_PG_DBNAME = "kravsak"

DEFAULT_PG_PORT = 55432
DEFAULT_KAFKA_PORT = 59092
DEFAULT_KAFKA_CONTROLLER_PORT = 59093
DEFAULT_PG_BIN = "/usr/lib/postgresql/15/bin"
DEFAULT_OIDC_PORT = 59094
DEFAULT_HTTP_PORT = 8080
MOCK_OAUTH2_SERVER_VERSION = "2.1.10"
"""NAV's mock-oauth2-server, the local OpenID provider (the newest 2.x; it runs on Java 17)."""
DEFAULT_AUDIENCE = "kravsak-api"
DEFAULT_ROLES = "caseworker,office_lead,complaints_board,auditor,billing_system"

LogFormat = Literal["console", "json"]

ENV_VARS: dict[str, str] = {
    "KRAVSAK_HOME": "folder for local server data, jars and logs (default: .kravsak at the repo root)",
    "KRAVSAK_PG_DSN": "use this PostgreSQL instead of starting one (libpq URI or key=value string)",
    "KRAVSAK_KAFKA_BOOTSTRAP": "use this Kafka instead of starting one (host:port[,host:port])",
    "KRAVSAK_PG_PORT": f"loopback port of the local PostgreSQL (default {DEFAULT_PG_PORT})",
    "KRAVSAK_KAFKA_PORT": f"loopback port of the local Kafka broker (default {DEFAULT_KAFKA_PORT})",
    "KRAVSAK_KAFKA_CONTROLLER_PORT": (
        f"loopback port of the local KRaft controller (default {DEFAULT_KAFKA_CONTROLLER_PORT})"
    ),
    "KRAVSAK_PG_BIN": f"folder of the PostgreSQL 15 server binaries (default {DEFAULT_PG_BIN})",
    "KRAVSAK_KAFKA_HEAP": "maximum Java heap of the local Kafka (default 768m)",
    "KRAVSAK_START_TIMEOUT": "seconds to wait for a server to answer after starting it (default 90)",
    "KRAVSAK_LOG_FORMAT": "console (default) or json",
    "KRAVSAK_LOG_LEVEL": "DEBUG, INFO (default), WARNING or ERROR",
    "KRAVSAK_OIDC_PORT": f"loopback port of the local OpenID provider (default {DEFAULT_OIDC_PORT})",
    "KRAVSAK_OIDC_STAFF_ISSUER": "issuer URL for staff and billing systems (default: the local provider's /staff)",
    "KRAVSAK_OIDC_RESIDENT_ISSUER": "issuer URL for residents, e.g. ID-porten (default: the local /residents)",
    "KRAVSAK_OIDC_AUDIENCE": f"the audience a token must be issued for (default {DEFAULT_AUDIENCE})",
    "KRAVSAK_OIDC_ROLE_CLAIM": "claim holding a staff token's roles (default roles)",
    "KRAVSAK_OIDC_ROLES": "claim value=role pairs, comma-separated (default: each role by its own name)",
    "KRAVSAK_OIDC_OFFICE_CLAIM": "claim naming a caseworker's or office lead's office (default office)",
    "KRAVSAK_OIDC_MUNICIPALITY_CLAIM": "claim naming a billing system's municipality number (default municipality)",
    "KRAVSAK_OIDC_PID_CLAIM": "claim holding a resident's national identity number (default pid)",
    "KRAVSAK_HTTP_HOST": "address `kravsak serve` listens on (default 127.0.0.1)",
    "KRAVSAK_HTTP_PORT": f"port `kravsak serve` listens on (default {DEFAULT_HTTP_PORT})",
    "KRAVSAK_HTTP_MAX_BODY": "largest request body in bytes (default 1048576; bulk intake: 16 times that)",
    "KRAVSAK_CORS_ORIGINS": "origins allowed to call the API from a browser, comma-separated (default: none, CORS off)",
}


@dataclass(frozen=True)
class Settings:
    home: Path
    pg_port: int = DEFAULT_PG_PORT
    kafka_port: int = DEFAULT_KAFKA_PORT
    kafka_controller_port: int = DEFAULT_KAFKA_CONTROLLER_PORT
    pg_bin: Path = Path(DEFAULT_PG_BIN)
    kafka_version: str = KAFKA_VERSION
    kafka_heap: str = "768m"
    start_timeout: float = 90.0
    external_pg_dsn: str | None = None
    external_kafka_bootstrap: str | None = None
    log_format: LogFormat = "console"
    oidc_port: int = DEFAULT_OIDC_PORT
    oidc_version: str = MOCK_OAUTH2_SERVER_VERSION
    external_staff_issuer: str | None = None
    external_resident_issuer: str | None = None
    oidc_audience: str = DEFAULT_AUDIENCE
    oidc_role_claim: str = "roles"
    oidc_roles: tuple[tuple[str, str], ...] = tuple((r, r) for r in DEFAULT_ROLES.split(","))
    """(claim value, role) pairs: which value of the role claim grants which kravsak role."""
    oidc_office_claim: str = "office"
    oidc_municipality_claim: str = "municipality"
    oidc_pid_claim: str = "pid"
    http_host: str = "127.0.0.1"
    http_port: int = DEFAULT_HTTP_PORT
    http_max_body: int = 1_048_576
    cors_origins: tuple[str, ...] = ()

    @property
    def oidc_is_external(self) -> bool:
        """Both issuers are someone else's: `kravsak up` starts no local OpenID provider."""
        return self.external_staff_issuer is not None and self.external_resident_issuer is not None

    @property
    def local_oidc_url(self) -> str:
        return f"http://127.0.0.1:{self.oidc_port}"

    @property
    def staff_issuer(self) -> str:
        return self.external_staff_issuer or f"{self.local_oidc_url}/staff"

    @property
    def resident_issuer(self) -> str:
        return self.external_resident_issuer or f"{self.local_oidc_url}/residents"

    @property
    def pg_is_external(self) -> bool:
        return self.external_pg_dsn is not None

    @property
    def kafka_is_external(self) -> bool:
        return self.external_kafka_bootstrap is not None

    @property
    def pg_dsn(self) -> str:
        """The psycopg connection string of the event store database."""
        if self.external_pg_dsn is not None:
            return self.external_pg_dsn
        return f"postgresql://{LOCAL_PG_USER}:{LOCAL_PG_PASSWORD}@127.0.0.1:{self.pg_port}/{LOCAL_PG_DBNAME}"

    @property
    def kafka_bootstrap(self) -> str:
        """The Kafka bootstrap servers, comma-separated host:port."""
        if self.external_kafka_bootstrap is not None:
            return self.external_kafka_bootstrap
        return f"127.0.0.1:{self.kafka_port}"

    def eventsourcing_env(self, **overrides: str) -> dict[str, str]:
        """The environment for an eventsourcing `Application` that stores events in PostgreSQL."""
        return eventsourcing_env(self.pg_dsn, **overrides)


def eventsourcing_env(dsn: str, **overrides: str) -> dict[str, str]:
    """Translate a libpq DSN into the variables `eventsourcing.postgres` reads.

    Accepts both forms psycopg does (`postgresql://u:p@h:5432/db` and `host=h dbname=db ...`).
    """
    try:
        parts = conninfo_to_dict(dsn)
    except Exception as exc:  # psycopg raises ProgrammingError; say which value is wrong
        raise SettingsError(
            f"cannot parse the PostgreSQL DSN {redact_dsn(dsn)!r}: {exc}",
            "give a libpq URI such as postgresql://user:password@host:5432/dbname",
        ) from exc
    missing = [key for key in ("host", "dbname", "user") if not parts.get(key)]
    if missing:
        raise SettingsError(
            f"the PostgreSQL DSN {redact_dsn(dsn)!r} names no {', '.join(missing)}",
            "give host, dbname and user, e.g. postgresql://user:password@host:5432/dbname",
        )
    host = str(parts["host"])
    if "," in host:
        raise SettingsError(
            f"the PostgreSQL DSN {redact_dsn(dsn)!r} names several hosts",
            "point kravsak at one PostgreSQL server",
        )
    env = {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": str(parts["dbname"]),
        "POSTGRES_HOST": host,
        "POSTGRES_PORT": str(parts.get("port") or 5432),
        "POSTGRES_USER": str(parts["user"]),
        "POSTGRES_PASSWORD": str(parts.get("password") or ""),
    }
    if parts.get("connect_timeout"):
        env["POSTGRES_CONNECT_TIMEOUT"] = str(parts["connect_timeout"])
    env.update(overrides)
    return env


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read settings from `environ` (default: the process environment)."""
    env = os.environ if environ is None else environ
    home = Path(env["KRAVSAK_HOME"]).expanduser() if env.get("KRAVSAK_HOME") else default_home()
    log_format = env.get("KRAVSAK_LOG_FORMAT") or "console"
    if log_format not in ("console", "json"):
        raise SettingsError(
            f"KRAVSAK_LOG_FORMAT={log_format!r} is neither console nor json",
            "set KRAVSAK_LOG_FORMAT to console or json, or unset it",
        )
    dsn = env.get("KRAVSAK_PG_DSN") or None
    if dsn is not None:
        eventsourcing_env(dsn)  # fail now, naming the variable's value, not later in a worker
    bootstrap = env.get("KRAVSAK_KAFKA_BOOTSTRAP") or None
    if bootstrap is not None:
        _check_bootstrap(bootstrap)
    settings = Settings(
        home=home.resolve(),
        pg_port=_port(env, "KRAVSAK_PG_PORT", DEFAULT_PG_PORT),
        kafka_port=_port(env, "KRAVSAK_KAFKA_PORT", DEFAULT_KAFKA_PORT),
        kafka_controller_port=_port(env, "KRAVSAK_KAFKA_CONTROLLER_PORT", DEFAULT_KAFKA_CONTROLLER_PORT),
        pg_bin=Path(env.get("KRAVSAK_PG_BIN") or DEFAULT_PG_BIN),
        kafka_heap=env.get("KRAVSAK_KAFKA_HEAP") or "768m",
        start_timeout=_seconds(env, "KRAVSAK_START_TIMEOUT", 90.0),
        external_pg_dsn=dsn,
        external_kafka_bootstrap=bootstrap,
        log_format="json" if log_format == "json" else "console",
        oidc_port=_port(env, "KRAVSAK_OIDC_PORT", DEFAULT_OIDC_PORT),
        external_staff_issuer=_issuer(env, "KRAVSAK_OIDC_STAFF_ISSUER"),
        external_resident_issuer=_issuer(env, "KRAVSAK_OIDC_RESIDENT_ISSUER"),
        oidc_audience=env.get("KRAVSAK_OIDC_AUDIENCE") or DEFAULT_AUDIENCE,
        oidc_role_claim=env.get("KRAVSAK_OIDC_ROLE_CLAIM") or "roles",
        oidc_roles=_role_map(env.get("KRAVSAK_OIDC_ROLES") or DEFAULT_ROLES),
        oidc_office_claim=env.get("KRAVSAK_OIDC_OFFICE_CLAIM") or "office",
        oidc_municipality_claim=env.get("KRAVSAK_OIDC_MUNICIPALITY_CLAIM") or "municipality",
        oidc_pid_claim=env.get("KRAVSAK_OIDC_PID_CLAIM") or "pid",
        http_host=env.get("KRAVSAK_HTTP_HOST") or "127.0.0.1",
        http_port=_port(env, "KRAVSAK_HTTP_PORT", DEFAULT_HTTP_PORT),
        http_max_body=_bytes(env, "KRAVSAK_HTTP_MAX_BODY", 1_048_576),
        cors_origins=tuple(o.strip() for o in (env.get("KRAVSAK_CORS_ORIGINS") or "").split(",") if o.strip()),
    )
    local_ports = [settings.pg_port, settings.kafka_port, settings.kafka_controller_port, settings.oidc_port]
    if len(set(local_ports)) != len(local_ports):
        raise SettingsError(
            f"the local ports repeat: PostgreSQL {settings.pg_port}, Kafka {settings.kafka_port}, "
            f"controller {settings.kafka_controller_port}, OpenID provider {settings.oidc_port}",
            "give KRAVSAK_PG_PORT, KRAVSAK_KAFKA_PORT, KRAVSAK_KAFKA_CONTROLLER_PORT and KRAVSAK_OIDC_PORT "
            "distinct values",
        )
    return settings


def default_home() -> Path:
    """`.kravsak` at the root of the source checkout this package runs from, else in the cwd.

    Tied to the checkout rather than the cwd, so `kravsak down` from a sub-folder stops the same
    servers that `kravsak up` started; an installed (non-editable) package has no checkout.
    """
    checkout = Path(__file__).resolve().parents[1]
    if (checkout / "pyproject.toml").is_file() and (checkout / "kravsak" / "settings.py").is_file():
        return checkout / ".kravsak"
    return Path.cwd() / ".kravsak"


def _port(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if not raw:
        return default
    try:
        port = int(raw)
    except ValueError:
        port = -1
    if not 1024 <= port <= 65535:
        raise SettingsError(
            f"{name}={raw!r} is not a port number between 1024 and 65535",
            f"set {name} to a free unprivileged port, or unset it for the default {default}",
        )
    return port


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if value <= 0:
        raise SettingsError(
            f"{name}={raw!r} is not a positive number of seconds",
            f"set {name} to e.g. 120, or unset it for the default {default:g}",
        )
    return value


ROLES = frozenset(DEFAULT_ROLES.split(","))


def _role_map(raw: str) -> tuple[tuple[str, str], ...]:
    """ "Kravsak.Caseworker=caseworker,auditors=auditor" → pairs; a bare name maps to itself."""
    pairs = []
    for item in raw.split(","):
        value, sep, role = item.strip().partition("=")
        role = role.strip() if sep else value
        if not value or role not in ROLES:
            raise SettingsError(
                f"KRAVSAK_OIDC_ROLES: {item.strip()!r} does not map a claim value to one of {', '.join(sorted(ROLES))}",
                "give claim value=role pairs, e.g. Kravsak.Caseworker=caseworker,Kravsak.Auditor=auditor",
            )
        pairs.append((value.strip(), role))
    return tuple(pairs)


def _issuer(env: Mapping[str, str], name: str) -> str | None:
    raw = env.get(name) or None
    if raw is None:
        return None
    if not (raw.startswith("https://") or raw.startswith("http://127.0.0.1") or raw.startswith("http://localhost")):
        raise SettingsError(
            f"{name}={raw!r} is not an https URL",
            f"give the issuer exactly as its discovery document names it (https://…), or unset {name}",
        )
    return raw  # compared with the token's iss exactly: keep a trailing slash


def _bytes(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if not raw:
        return default
    if not raw.isdigit() or int(raw) < 1024:
        raise SettingsError(
            f"{name}={raw!r} is not a number of bytes of at least 1024",
            f"set {name} to e.g. 1048576, or unset it for the default {default}",
        )
    return int(raw)


def _check_bootstrap(bootstrap: str) -> None:
    for server in bootstrap.split(","):
        host, sep, port = server.strip().rpartition(":")
        if not sep or not host or not port.isdigit():
            raise SettingsError(
                f"KRAVSAK_KAFKA_BOOTSTRAP={bootstrap!r}: {server.strip()!r} is not host:port",
                "set KRAVSAK_KAFKA_BOOTSTRAP to host:port[,host:port], e.g. 127.0.0.1:9092",
            )


def redact_dsn(dsn: str) -> str:
    """The DSN with its password masked, for error messages, logs and `kravsak status`."""
    try:
        parts = conninfo_to_dict(dsn)
    except Exception:
        return "<unparseable DSN>"
    if not parts.get("password"):
        return dsn
    return " ".join(f"{key}={'***' if key == 'password' else value}" for key, value in parts.items())
