"""Every `KRAVSAK_*` variable kravsak reads, parsed here and nowhere else.

`load_settings()`: where kravsak finds its servers and keeps its local files. Without
`KRAVSAK_PG_DSN` / `KRAVSAK_KAFKA_BOOTSTRAP`, kravsak runs its own PostgreSQL and Kafka on loopback
(see `kravsak.stack`) and the DSN and bootstrap string point at them. With them set, kravsak starts
nothing for that server and only checks that it answers.

`publisher_options()`, `projector_options()`, `automate_options()`: the typed options of the three
services (`consumers/`), from their `KRAVSAK_PUBLISHER_*`, `KRAVSAK_PROJECTOR_*` and
`KRAVSAK_AUTOMATE_*` variables; the services themselves read no environment. Every number goes
through `env_number`, so a wrong value is one error naming the variable and what it must hold.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Literal, TypeVar, overload
from urllib.parse import quote
from uuid import UUID

from psycopg.conninfo import conninfo_to_dict, make_conninfo

from kravsak.errors import SettingsError

if TYPE_CHECKING:  # the services' modules load Kafka and eventsourcing: only when options are asked for
    from consumers.automate import AutomateOptions
    from consumers.partitions import PartitionRange
    from consumers.projector import RunnerOptions
    from consumers.publisher import PublisherOptions
    from personal.keys import LocalKeyProvider
    from personal.notes import SealedNotes

KAFKA_VERSION = "4.4.0"
"""The Apache Kafka release the local stack runs and docker-compose.yml pins."""

LOCAL_PG_USER = "kravsak"
"""The owner of the local database: migrations, the CLI's own work, tests; its password is generated."""
LOCAL_PG_DBNAME = "kravsak"
PG_SERVICE_ROLES: dict[str, str] = {
    "publisher": "kravsak_publisher",
    "projector": "kravsak_projector",
    "automate": "kravsak_automate",
    "writer": "kravsak_writer",
    "reader": "kravsak_reader",
    "api": "kravsak_api",
}
"""Who connects as which least-privilege role of the local PostgreSQL (ADR 0027; ``api``: ADR 0028)."""
COMMAND_ROLES: dict[str, str] = {
    "serve": "api",
    "status": "reader",
    "health": "reader",
    "trail": "reader",
    "settlement": "reader",
    "verify": "projector",
}
"""The least role each `kravsak` command that needs no owner connects as (ADR 0028): the API writes commands, its
own schema and the personal store's keys and notes; ``verify`` rebuilds projections aside, as the projector does;
the others only read. The owner's role stays for `up`, migrations and the operator's commands."""
KAFKA_SERVICE_USERS = ("publisher", "projector", "automate")
"""The local broker's SCRAM users, one per service that talks to Kafka; ``admin`` is the super user."""
KAFKA_ADMIN_USER = "admin"
PG_SSLMODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")

DEFAULT_PG_PORT = 55432
DEFAULT_KAFKA_PORT = 59092
DEFAULT_KAFKA_CONTROLLER_PORT = 59093
DEFAULT_KAFKA_TLS_PORT = 59095
DEFAULT_KAFKA_NODE_PORTS = 59100
"""First port of the local cluster's nodes 2, 3, …: node n listens on base+3(n-2), its controller on the next
port, its TLS listener on the one after (node 1 keeps KRAVSAK_KAFKA_PORT and its neighbours)."""
MAX_KAFKA_BROKERS = 5
DEFAULT_PG_BIN = "/usr/lib/postgresql/15/bin"
DEFAULT_OIDC_PORT = 59094
DEFAULT_HTTP_PORT = 8080
MOCK_OAUTH2_SERVER_VERSION = "2.1.10"
"""NAV's mock-oauth2-server, the local OpenID provider (the newest 2.x; it runs on Java 17)."""
DEFAULT_AUDIENCE = "kravsak-api"
DEFAULT_ROLES = "caseworker,office_lead,complaints_board,auditor,billing_system,bank_integration"

LogFormat = Literal["console", "json"]

ENV_VARS: dict[str, str] = {
    "KRAVSAK_HOME": "folder for local server data, jars and logs (default: .kravsak at the repo root)",
    "KRAVSAK_PG_DSN": "use this PostgreSQL instead of starting one (libpq URI or key=value string)",
    "KRAVSAK_KAFKA_BOOTSTRAP": (
        "use this Kafka instead of starting one: host:port[,host:port], or with credentials and TLS "
        "sasl_ssl://user:password@host:port?cafile=/path/ca.pem (SCRAM-SHA-512; docs/decisions/0027)"
    ),
    "KRAVSAK_KAFKA_BOOTSTRAP_PUBLISHER": "the publisher's own Kafka connection string (default: the one above)",
    "KRAVSAK_KAFKA_BOOTSTRAP_PROJECTOR": "the projector's own Kafka connection string (default: the one above)",
    "KRAVSAK_KAFKA_BOOTSTRAP_AUTOMATE": "the process manager's own Kafka connection string (default: the one above)",
    "KRAVSAK_PG_PORT": f"loopback port of the local PostgreSQL (default {DEFAULT_PG_PORT})",
    "KRAVSAK_KAFKA_PORT": f"loopback port of the local Kafka broker (default {DEFAULT_KAFKA_PORT})",
    "KRAVSAK_KAFKA_TLS_PORT": f"loopback port of the local Kafka's TLS listener (default {DEFAULT_KAFKA_TLS_PORT})",
    "KRAVSAK_KAFKA_TLS": "on: local clients use the local Kafka's SASL_SSL listener (default off: SASL on loopback)",
    "KRAVSAK_KAFKA_CONTROLLER_PORT": (
        f"loopback port of the local KRaft controller (default {DEFAULT_KAFKA_CONTROLLER_PORT})"
    ),
    "KRAVSAK_PG_PASSWORD": "password added to KRAVSAK_PG_DSN (and the per-service DSNs) when they carry none",
    "KRAVSAK_PG_DSN_PUBLISHER": "the publisher's own PostgreSQL DSN (default KRAVSAK_PG_DSN)",
    "KRAVSAK_PG_DSN_PROJECTOR": "the projector's (and verify's) own PostgreSQL DSN (default KRAVSAK_PG_DSN)",
    "KRAVSAK_PG_DSN_AUTOMATE": "the process manager's own PostgreSQL DSN (default KRAVSAK_PG_DSN)",
    "KRAVSAK_PG_DSN_WRITER": "DSN of a client that appends events only (default KRAVSAK_PG_DSN)",
    "KRAVSAK_PG_DSN_READER": "DSN of read-only queries: status, health, trail, settlement (default KRAVSAK_PG_DSN)",
    "KRAVSAK_PG_DSN_API": "the HTTP API's (`kravsak serve`) own PostgreSQL DSN (default KRAVSAK_PG_DSN)",
    "KRAVSAK_PG_SSLMODE": (
        "libpq sslmode of every PostgreSQL connection (default prefer; require/verify-ca/verify-full make the "
        "local server refuse connections without TLS)"
    ),
    "KRAVSAK_PG_SSLROOTCERT": "CA file that verifies PostgreSQL's certificate (default: the local <home>/tls/ca.crt)",
    "KRAVSAK_PG_BIN": f"folder of the PostgreSQL 15 server binaries (default {DEFAULT_PG_BIN})",
    "KRAVSAK_KAFKA_HEAP": "maximum Java heap of the local Kafka, per node (default 768m; 512m per node of a cluster)",
    "KRAVSAK_KAFKA_BROKERS": (
        f"nodes of the local KRaft cluster, 1 to {MAX_KAFKA_BROKERS} (default: what the home was formatted with, "
        "else 1; `kravsak up --brokers 3` sets it)"
    ),
    "KRAVSAK_KAFKA_NODE_PORTS": (
        f"first loopback port of local Kafka nodes 2, 3, … (default {DEFAULT_KAFKA_NODE_PORTS}): node n takes "
        "base+3(n-2) for clients, the next for its controller, the one after for TLS"
    ),
    "KRAVSAK_START_TIMEOUT": "seconds to wait for a server to answer after starting it (default 90)",
    "KRAVSAK_LOG_FORMAT": "console (default; json for `python -m kravsak.services`) or json",
    "KRAVSAK_LOG_LEVEL": "DEBUG, INFO (default), WARNING or ERROR",
    "KRAVSAK_CASE_EVENTS_PARTITIONS": (
        "partitions of kravsak.case-events when it is created (default 12; an existing topic with another "
        "count is an error)"
    ),
    "KRAVSAK_TOPIC_REPLICATION": "replication factor of kravsak's topics (default: min(3, brokers in the cluster))",
    "KRAVSAK_PG_SCHEMA": "PostgreSQL schema of the event store and the publisher's position (default public)",
    "KRAVSAK_OFFICE": (
        "one event store per office (ADR 0032): this process serves office NAME, its event store and publisher "
        "position are schema office_NAME, its process manager's worklist kravsak_automate_NAME in group "
        "kravsak-automate-NAME (default unset: one event store, KRAVSAK_PG_SCHEMA)"
    ),
    "KRAVSAK_SCHEMAS_DIR": "folder of the Avro schemas (default: the schemas/ shipped with kravsak)",
    "KRAVSAK_PUBLISHER_TOPIC": "topic the publisher writes case events to (default kravsak.case-events)",
    "KRAVSAK_PUBLISHER_SCHEMAS_TOPIC": "compacted topic of the writer schemas (default kravsak.schemas)",
    "KRAVSAK_PUBLISHER_NAME": "name of the publisher's stored position (default: the topic)",
    "KRAVSAK_PUBLISHER_BATCH": "notifications read, published and acknowledged per round (default 2000)",
    "KRAVSAK_PUBLISHER_PARTITIONS": "publish only the cases of these partitions, e.g. 0-5 (another publisher process "
    "the rest; default: all)",
    "KRAVSAK_PUBLISHER_LAG_LOG_S": "seconds between publisher.lag log lines (default 10)",
    "KRAVSAK_PUBLISHER_PREPARE_AHEAD_FROM": (
        "a round of fewer notifications is prepared in the publisher itself, at once; from this many on a child "
        "process prepares the next batch while this one is sent (default 500)"
    ),
    "KRAVSAK_PROJECTOR_TOPIC": "the case-events topic the projector reads (default kravsak.case-events)",
    "KRAVSAK_PROJECTOR_GROUP": "the projector's consumer group (default kravsak-projector)",
    "KRAVSAK_PROJECTOR_SCHEMA_SUFFIX": "appended to every projection schema (kravsak_ledger<suffix>; default none)",
    "KRAVSAK_PROJECTOR_BATCH": "most records the projector applies in one transaction (default 2000)",
    "KRAVSAK_PROJECTOR_TOP_UP_AFTER_MS": (
        "after a batch that took this long, the next poll polls once more (at most 20 ms) so that what reached "
        "the broker meanwhile rides along (default 50)"
    ),
    "KRAVSAK_PROJECTOR_SESSION_TIMEOUT_MS": (
        "how long the group waits for a silent projector before its partitions go to the others (default 10000)"
    ),
    "KRAVSAK_HEARTBEAT_S": (
        "seconds between a service's heartbeats in kravsak_ops.heartbeats (default 5; `kravsak health` "
        "calls a service stale after 6 of them)"
    ),
    "KRAVSAK_AUTOMATE_TOPIC": "the case-events topic the process manager reads (default kravsak.case-events)",
    "KRAVSAK_AUTOMATE_GROUP": "the process manager's consumer group (default kravsak-automate)",
    "KRAVSAK_AUTOMATE_SCHEMA": "PostgreSQL schema of its worklist, alerts and clocks (default kravsak_automate)",
    "KRAVSAK_AUTOMATE_NAMESPACE": "id namespace (UUID) of the claims the process manager follows (default kravsak's)",
    "KRAVSAK_AUTOMATE_CLOCK": "system (the calendar date; default) or simulated (a date kept in PostgreSQL)",
    "KRAVSAK_AUTOMATE_CLOCK_NAME": "which simulated clock (default default; see `kravsak clock`)",
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
    "KRAVSAK_OIDC_CLIENT_ID": "client id of the web pages' login (authorization code + PKCE; default kravsak-web)",
    "KRAVSAK_OIDC_CLIENT_SECRET": "client secret of the web pages' login, if the provider wants one (default none)",
    "KRAVSAK_PUBLIC_URL": "the pages' address as browsers see it, e.g. https://krav.example.no (default: request's)",
    "KRAVSAK_SESSION_SECRET": "key of the pages' session cookie (32+ bytes, base64; default: from the office secret)",
}


@dataclass(frozen=True)
class KafkaNodePorts:
    """One node of the local KRaft cluster (broker and controller in one JVM) and its loopback ports."""

    node_id: int
    port: int
    controller_port: int
    tls_port: int


@dataclass(frozen=True)
class Settings:
    home: Path
    pg_port: int = DEFAULT_PG_PORT
    kafka_port: int = DEFAULT_KAFKA_PORT
    kafka_controller_port: int = DEFAULT_KAFKA_CONTROLLER_PORT
    kafka_tls_port: int = DEFAULT_KAFKA_TLS_PORT
    kafka_tls: bool = False
    """Local clients use the broker's SASL_SSL listener (KRAVSAK_KAFKA_TLS)."""
    pg_bin: Path = Path(DEFAULT_PG_BIN)
    kafka_version: str = KAFKA_VERSION
    kafka_heap: str | None = None
    """Java heap of each local Kafka node; None: 768m for one node, 512m per node of a cluster."""
    kafka_brokers: int = 1
    """Nodes of the local KRaft cluster (KRAVSAK_KAFKA_BROKERS, `kravsak up --brokers`)."""
    kafka_node_ports: int = DEFAULT_KAFKA_NODE_PORTS
    """First port of nodes 2, 3, … (KRAVSAK_KAFKA_NODE_PORTS); see ``kafka_nodes``."""
    start_timeout: float = 90.0
    external_pg_dsn: str | None = None
    external_kafka_bootstrap: str | None = None
    external_kafka_services: tuple[tuple[str, str], ...] = ()
    """(service, connection string) from KRAVSAK_KAFKA_BOOTSTRAP_<SERVICE>, for an external Kafka."""
    log_format: LogFormat = "console"
    case_events_partitions: int = 12
    """Partitions of the case-events topic when kravsak creates it (KRAVSAK_CASE_EVENTS_PARTITIONS)."""
    topic_replication: int | None = None
    """Replication factor of kravsak's topics; None: min(3, brokers) (KRAVSAK_TOPIC_REPLICATION)."""
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
    oidc_client_id: str = "kravsak-web"
    oidc_client_secret: str | None = None
    public_url: str | None = None
    pg_service: str | None = None
    """Whose role connects: None for the owner, else a key of PG_SERVICE_ROLES (see ``for_service``)."""
    external_pg_service_dsns: tuple[tuple[str, str], ...] = ()
    """(service, DSN) from KRAVSAK_PG_DSN_<SERVICE>, for an external PostgreSQL."""
    pg_sslmode: str | None = None
    pg_sslrootcert: Path | None = None

    def for_service(self, service: str) -> Settings:
        """These settings as ``service`` connects: its own PostgreSQL role and Kafka user."""
        if service not in PG_SERVICE_ROLES:
            raise ValueError(f"no service {service!r}; one of {', '.join(PG_SERVICE_ROLES)}")
        return replace(self, pg_service=service)

    def for_command(self, command: str) -> Settings:
        """These settings as the `kravsak` command ``command`` connects: its role in ``COMMAND_ROLES``, else the
        owner's."""
        role = COMMAND_ROLES.get(command)
        return self.for_service(role) if role is not None else self

    def for_owner(self) -> Settings:
        """These settings as the owner (migrations, the CLI's own work) connects."""
        return replace(self, pg_service=None)

    @property
    def pg_role(self) -> str:
        """The PostgreSQL role these settings connect as on the local stack."""
        return PG_SERVICE_ROLES[self.pg_service] if self.pg_service else LOCAL_PG_USER

    @property
    def local_ca_file(self) -> Path:
        """The local stack's CA certificate (PostgreSQL's and Kafka's server certificates)."""
        return self.home / "tls" / "ca.crt"

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
            dsn = dict(self.external_pg_service_dsns).get(self.pg_service or "", self.external_pg_dsn)
            extra = {"sslmode": self.pg_sslmode, "sslrootcert": self.pg_sslrootcert}
            return _with_defaults(dsn, {k: str(v) for k, v in extra.items() if v is not None})
        return self.local_pg_dsn(self.pg_role)

    def local_pg_dsn(self, role: str, *, host: str = "127.0.0.1") -> str:
        """The local stack's DSN for ``role``, with its generated password (none before `kravsak up`)."""
        from urllib.parse import urlencode

        from kravsak import local_secrets

        password = local_secrets.read(self.home).get(f"pg:{role}")
        login = f"{role}:{quote(password, safe='')}" if password else role
        query = {"sslmode": self.pg_sslmode} if self.pg_sslmode else {}  # libpq's default: prefer
        if self.pg_sslmode in ("verify-ca", "verify-full"):
            query["sslrootcert"] = str(self.pg_sslrootcert or self.local_ca_file)
        tail = f"?{urlencode(query)}" if query else ""
        return f"postgresql://{login}@{host}:{self.pg_port}/{LOCAL_PG_DBNAME}{tail}"

    @property
    def kafka_bootstrap(self) -> str:
        """The Kafka connection string (``consumers.kafka_access``): servers, protocol and this service's user."""
        if self.external_kafka_bootstrap is not None:
            return dict(self.external_kafka_services).get(self.pg_service or "", self.external_kafka_bootstrap)
        from kravsak import local_secrets

        user = self.kafka_user
        password = local_secrets.read(self.home).get(f"kafka:{user}") if user else None
        if password is None:  # before `kravsak up` made the credentials, or a role with no Kafka user
            return ",".join(f"127.0.0.1:{node.port}" for node in self.kafka_nodes)
        return self.local_kafka_connection(f"{user}:{quote(password, safe='')}", tls=self.kafka_tls)

    def local_kafka_connection(self, login: str, *, tls: bool) -> str:
        """A connection string to the local broker(s) for ``login`` (user:password, URL-quoted): their SASL
        listeners, or with ``tls`` their SASL_SSL listeners, verified against the local CA. Every node is
        named, so a client bootstraps while any one of them runs."""
        if tls:
            hosts = ",".join(f"127.0.0.1:{node.tls_port}" for node in self.kafka_nodes)
            return f"sasl_ssl://{login}@{hosts}?cafile={quote(str(self.local_ca_file))}"
        return f"sasl_plaintext://{login}@" + ",".join(f"127.0.0.1:{node.port}" for node in self.kafka_nodes)

    @property
    def kafka_nodes(self) -> list[KafkaNodePorts]:
        """The local cluster's nodes and their ports: node 1 on KRAVSAK_KAFKA_PORT, _CONTROLLER_PORT and
        _TLS_PORT; node n ≥ 2 on KRAVSAK_KAFKA_NODE_PORTS + 3(n-2) and the two ports after it."""
        nodes = [KafkaNodePorts(1, self.kafka_port, self.kafka_controller_port, self.kafka_tls_port)]
        for node_id in range(2, self.kafka_brokers + 1):
            base = self.kafka_node_ports + 3 * (node_id - 2)
            nodes.append(KafkaNodePorts(node_id, base, base + 1, base + 2))
        return nodes

    @property
    def kafka_node_heap(self) -> str:
        """Java heap of one local Kafka node (KRAVSAK_KAFKA_HEAP)."""
        return self.kafka_heap or ("768m" if self.kafka_brokers == 1 else "512m")

    @property
    def kafka_user(self) -> str | None:
        """The local broker's SCRAM user these settings connect as: the owner's ``admin``, a service's own;
        None for the writer and the reader, who have no business on Kafka."""
        if self.pg_service is None:
            return KAFKA_ADMIN_USER
        return self.pg_service if self.pg_service in KAFKA_SERVICE_USERS else None

    @property
    def kafka_servers(self) -> str:
        """The Kafka servers without credentials, for messages and `kravsak status`."""
        from consumers.kafka_access import servers

        return servers(self.kafka_bootstrap)

    def eventsourcing_env(self, **overrides: str) -> dict[str, str]:
        """The environment for an eventsourcing `Application` that stores events in PostgreSQL."""
        if self.pg_service is not None:  # a service's role creates no event store tables: `up` or the owner does
            overrides = {"CREATE_TABLE": "n", **overrides}
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
    service_dsns: list[tuple[str, str]] = []
    pg_password = {"password": env["KRAVSAK_PG_PASSWORD"]} if env.get("KRAVSAK_PG_PASSWORD") else {}
    if dsn is not None:
        dsn = _with_defaults(dsn, pg_password)
        eventsourcing_env(dsn)  # fail now, naming the variable's value, not later in a worker
        for service in PG_SERVICE_ROLES:
            own = env.get(f"KRAVSAK_PG_DSN_{service.upper()}")
            if own:
                own = _with_defaults(own, pg_password)
                eventsourcing_env(own)
                service_dsns.append((service, own))
    sslmode = env.get("KRAVSAK_PG_SSLMODE") or None
    if sslmode is not None and sslmode not in PG_SSLMODES:
        raise SettingsError(
            f"KRAVSAK_PG_SSLMODE={sslmode!r} is not a libpq sslmode",
            f"set it to one of {', '.join(PG_SSLMODES)}, or unset it",
        )
    bootstrap = env.get("KRAVSAK_KAFKA_BOOTSTRAP") or None
    kafka_services: list[tuple[str, str]] = []
    if bootstrap is not None:
        _check_bootstrap("KRAVSAK_KAFKA_BOOTSTRAP", bootstrap)
        for service in KAFKA_SERVICE_USERS:
            own = env.get(f"KRAVSAK_KAFKA_BOOTSTRAP_{service.upper()}")
            if own:
                _check_bootstrap(f"KRAVSAK_KAFKA_BOOTSTRAP_{service.upper()}", own)
                kafka_services.append((service, own))
    settings = Settings(
        home=home.resolve(),
        pg_port=_port(env, "KRAVSAK_PG_PORT", DEFAULT_PG_PORT),
        kafka_port=_port(env, "KRAVSAK_KAFKA_PORT", DEFAULT_KAFKA_PORT),
        kafka_controller_port=_port(env, "KRAVSAK_KAFKA_CONTROLLER_PORT", DEFAULT_KAFKA_CONTROLLER_PORT),
        kafka_tls_port=_port(env, "KRAVSAK_KAFKA_TLS_PORT", DEFAULT_KAFKA_TLS_PORT),
        kafka_tls=_switch(env, "KRAVSAK_KAFKA_TLS"),
        pg_bin=Path(env.get("KRAVSAK_PG_BIN") or DEFAULT_PG_BIN),
        kafka_heap=env.get("KRAVSAK_KAFKA_HEAP") or None,
        kafka_brokers=_brokers(env, home.resolve()),
        kafka_node_ports=_port(env, "KRAVSAK_KAFKA_NODE_PORTS", DEFAULT_KAFKA_NODE_PORTS),
        start_timeout=env_number(env, "KRAVSAK_START_TIMEOUT", 90.0, what="a positive number of seconds"),
        external_pg_dsn=dsn,
        external_kafka_bootstrap=bootstrap,
        external_kafka_services=tuple(kafka_services),
        log_format="json" if log_format == "json" else "console",
        case_events_partitions=env_number(env, "KRAVSAK_CASE_EVENTS_PARTITIONS", 12),
        topic_replication=env_number(env, "KRAVSAK_TOPIC_REPLICATION", None, kind=int),
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
        http_max_body=env_number(
            env,
            "KRAVSAK_HTTP_MAX_BODY",
            1_048_576,
            low=1024,
            what="a number of bytes of at least 1024",
            example="1048576",
        ),
        cors_origins=tuple(o.strip() for o in (env.get("KRAVSAK_CORS_ORIGINS") or "").split(",") if o.strip()),
        oidc_client_id=env.get("KRAVSAK_OIDC_CLIENT_ID") or "kravsak-web",
        oidc_client_secret=env.get("KRAVSAK_OIDC_CLIENT_SECRET") or None,
        public_url=_public_url(env),
        external_pg_service_dsns=tuple(service_dsns),
        pg_sslmode=sslmode,
        pg_sslrootcert=Path(env["KRAVSAK_PG_SSLROOTCERT"]) if env.get("KRAVSAK_PG_SSLROOTCERT") else None,
    )
    check_local_ports(settings)
    return settings


def check_local_ports(settings: Settings) -> None:
    """SettingsError when two local servers (or two nodes of the local Kafka cluster) would share a port."""
    nodes = [(node.port, node.controller_port, node.tls_port) for node in settings.kafka_nodes[1:]]
    local_ports = [
        settings.pg_port,
        settings.kafka_port,
        settings.kafka_controller_port,
        settings.oidc_port,
        settings.kafka_tls_port,
        *(port for ports in nodes for port in ports),
    ]
    if len(set(local_ports)) != len(local_ports):
        cluster = f", Kafka nodes 2… {nodes}" if nodes else ""
        raise SettingsError(
            f"the local ports repeat: PostgreSQL {settings.pg_port}, Kafka {settings.kafka_port}, "
            f"controller {settings.kafka_controller_port}, OpenID provider {settings.oidc_port}, "
            f"Kafka TLS {settings.kafka_tls_port}{cluster}",
            "give KRAVSAK_PG_PORT, KRAVSAK_KAFKA_PORT, KRAVSAK_KAFKA_CONTROLLER_PORT, KRAVSAK_OIDC_PORT, "
            "KRAVSAK_KAFKA_TLS_PORT distinct values (and KRAVSAK_KAFKA_NODE_PORTS a free range for nodes 2, 3, …)",
        )


def recorded_kafka_brokers(home: Path) -> int | None:
    """How many nodes the local Kafka of ``home`` was formatted with (node 1's kravsak.properties), if any."""
    marker = home / "kafka" / "data" / "kravsak.properties"
    try:
        lines = marker.read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        key, _, value = line.partition("=")
        if key.strip() == "brokers" and value.strip().isdigit():
            return int(value.strip())
    return 1  # formatted before clusters: one node


def _brokers(env: Mapping[str, str], home: Path) -> int:
    if env.get("KRAVSAK_KAFKA_BROKERS"):
        return env_number(
            env,
            "KRAVSAK_KAFKA_BROKERS",
            1,
            low=1,
            high=MAX_KAFKA_BROKERS,
            what=f"a number of Kafka nodes from 1 to {MAX_KAFKA_BROKERS}",
            example="3",
        )
    return recorded_kafka_brokers(home) or 1


# --- the services' options ----------------------------------------------------------------------


def service_logging(environ: Mapping[str, str] | None = None) -> tuple[LogFormat, str]:
    """How a service process logs: JSON lines unless ``KRAVSAK_LOG_FORMAT=console``, at
    ``KRAVSAK_LOG_LEVEL`` (INFO). Read before the settings, so that their errors are logged too."""
    env = _environ(environ)
    return ("console" if env.get("KRAVSAK_LOG_FORMAT") == "console" else "json"), env.get("KRAVSAK_LOG_LEVEL") or "INFO"


ClockKind = Literal["system", "simulated"]


def _environ(environ: Mapping[str, str] | None) -> Mapping[str, str]:
    return os.environ if environ is None else environ


def _schemas_dir(env: Mapping[str, str], default: Path) -> Path:
    return Path(env["KRAVSAK_SCHEMAS_DIR"]) if env.get("KRAVSAK_SCHEMAS_DIR") else default


def publisher_options(settings: Settings, environ: Mapping[str, str] | None = None) -> PublisherOptions:
    """The publisher's options from the ``KRAVSAK_PUBLISHER_*`` variables that are set."""
    from consumers.publisher import PublisherOptions

    env, defaults = _environ(environ), PublisherOptions()
    return PublisherOptions(
        topic=env.get("KRAVSAK_PUBLISHER_TOPIC") or defaults.topic,
        schemas_topic=env.get("KRAVSAK_PUBLISHER_SCHEMAS_TOPIC") or defaults.schemas_topic,
        name=env.get("KRAVSAK_PUBLISHER_NAME") or None,
        pg_schema=event_store_schema(env) or defaults.pg_schema,
        batch_size=env_number(env, "KRAVSAK_PUBLISHER_BATCH", defaults.batch_size),
        lag_log_interval_s=env_number(env, "KRAVSAK_PUBLISHER_LAG_LOG_S", defaults.lag_log_interval_s),
        prepare_ahead_from=env_number(env, "KRAVSAK_PUBLISHER_PREPARE_AHEAD_FROM", defaults.prepare_ahead_from),
        schemas_dir=_schemas_dir(env, defaults.schemas_dir),
        partitions=settings.case_events_partitions,
        replication=settings.topic_replication,
        digest_key=free_text_key(settings, env),
        partition_range=_partition_range(env.get("KRAVSAK_PUBLISHER_PARTITIONS")),
    )


def _partition_range(text: str | None) -> PartitionRange | None:
    """``KRAVSAK_PUBLISHER_PARTITIONS=0-5``: this publisher process publishes the cases of partitions 0 to 5 of the
    topic (another process the rest, ADR 0033); unset or empty: all of them."""
    from consumers.partitions import PartitionRange

    if not text or not text.strip():
        return None
    try:
        return PartitionRange.parse(text)
    except ValueError as exc:
        raise SettingsError(
            f"KRAVSAK_PUBLISHER_PARTITIONS: {exc}", "write FIRST-LAST, e.g. 0-5, or leave it unset for all partitions"
        ) from None


def projector_options(environ: Mapping[str, str] | None = None) -> RunnerOptions:
    """A projection runner's options from the ``KRAVSAK_PROJECTOR_*`` variables that are set."""
    from consumers.projector import RunnerOptions, projection_names
    from kravsak import wiring  # noqa: F401 - the edges' read models (letters) run with the core ones

    env, defaults = _environ(environ), RunnerOptions()
    return RunnerOptions(
        projections=projection_names(),
        topic=env.get("KRAVSAK_PROJECTOR_TOPIC") or defaults.topic,
        group=env.get("KRAVSAK_PROJECTOR_GROUP") or defaults.group,
        schema_suffix=env.get("KRAVSAK_PROJECTOR_SCHEMA_SUFFIX") or defaults.schema_suffix,
        batch_size=env_number(env, "KRAVSAK_PROJECTOR_BATCH", defaults.batch_size),
        session_timeout_ms=env_number(
            env, "KRAVSAK_PROJECTOR_SESSION_TIMEOUT_MS", defaults.session_timeout_ms or 10_000
        ),
        top_up_after_ms=env_number(env, "KRAVSAK_PROJECTOR_TOP_UP_AFTER_MS", defaults.top_up_after_ms or 50),
        schemas_dir=_schemas_dir(env, defaults.schemas_dir),
    )


def automate_options(environ: Mapping[str, str] | None = None) -> AutomateOptions:
    """The process manager's options from the ``KRAVSAK_AUTOMATE_*`` variables that are set."""
    from consumers.automate import AutomateOptions

    env, defaults = _environ(environ), AutomateOptions()
    office = office_name(env)
    raw = env.get("KRAVSAK_AUTOMATE_NAMESPACE")
    try:
        namespace = UUID(raw) if raw else defaults.namespace
    except ValueError:
        raise SettingsError(
            f"KRAVSAK_AUTOMATE_NAMESPACE={raw!r} is not a UUID", "give the id namespace as a UUID, or unset it"
        ) from None
    return AutomateOptions(
        topic=env.get("KRAVSAK_AUTOMATE_TOPIC") or defaults.topic,
        group=env.get("KRAVSAK_AUTOMATE_GROUP") or (f"{defaults.group}-{office}" if office else defaults.group),
        schema=env.get("KRAVSAK_AUTOMATE_SCHEMA") or (f"{defaults.schema}_{office}" if office else defaults.schema),
        namespace=namespace,
        event_store_schema=event_store_schema(env) or defaults.event_store_schema,
        schemas_dir=_schemas_dir(env, defaults.schemas_dir),
    )


OFFICE_NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")


def office_name(environ: Mapping[str, str] | None = None) -> str | None:
    """``KRAVSAK_OFFICE``: the office whose event store this process serves (ADR 0032), or None (one store)."""
    raw = _environ(environ).get("KRAVSAK_OFFICE") or None
    if raw is not None and not OFFICE_NAME.fullmatch(raw):
        raise SettingsError(
            f"KRAVSAK_OFFICE={raw!r} is not an office name (a lower-case letter, then up to 39 of a-z, 0-9 and _)",
            "name the office like vest_finnmark, or unset KRAVSAK_OFFICE for one event store",
        )
    return raw


def event_store_schema(environ: Mapping[str, str] | None = None) -> str | None:
    """The event store's PostgreSQL schema: ``office_<KRAVSAK_OFFICE>`` with one store per office (ADR 0032),
    else ``KRAVSAK_PG_SCHEMA``; None for the default. Both set and disagreeing is an error, not a guess."""
    env = _environ(environ)
    office, explicit = office_name(env), env.get("KRAVSAK_PG_SCHEMA") or None
    if office is None:
        return explicit
    schema = f"office_{office}"
    if explicit is not None and explicit != schema:
        raise SettingsError(
            f"KRAVSAK_OFFICE={office} keeps its events in schema {schema}, but KRAVSAK_PG_SCHEMA={explicit}",
            "unset KRAVSAK_PG_SCHEMA (the office names the schema), or unset KRAVSAK_OFFICE",
        )
    return schema


def automate_clock(environ: Mapping[str, str] | None = None) -> tuple[ClockKind, str]:
    """Which business clock the process manager reads: ``KRAVSAK_AUTOMATE_CLOCK`` and ``_CLOCK_NAME``."""
    env = _environ(environ)
    kind = env.get("KRAVSAK_AUTOMATE_CLOCK") or "system"
    if kind not in ("system", "simulated"):
        raise SettingsError(
            f"KRAVSAK_AUTOMATE_CLOCK={kind!r} is neither system nor simulated",
            "set KRAVSAK_AUTOMATE_CLOCK to system or simulated, or unset it",
        )
    return ("simulated" if kind == "simulated" else "system"), env.get("KRAVSAK_AUTOMATE_CLOCK_NAME") or "default"


def heartbeat_interval(environ: Mapping[str, str] | None = None) -> float:
    """Seconds between a service's heartbeats (``KRAVSAK_HEARTBEAT_S``, default 5)."""
    from consumers.heartbeat import DEFAULT_INTERVAL_S

    interval = env_number(_environ(environ), "KRAVSAK_HEARTBEAT_S", DEFAULT_INTERVAL_S)
    if interval <= 0:
        raise SettingsError(f"KRAVSAK_HEARTBEAT_S={interval!r} is not above 0", "give seconds above 0, e.g. 5")
    return interval


def default_home() -> Path:
    """`.kravsak` at the root of the source checkout this package runs from, else in the cwd.

    Tied to the checkout rather than the cwd, so `kravsak down` from a sub-folder stops the same
    servers that `kravsak up` started; an installed (non-editable) package has no checkout.
    """
    checkout = Path(__file__).resolve().parents[1]
    if (checkout / "pyproject.toml").is_file() and (checkout / "kravsak" / "settings.py").is_file():
        return checkout / ".kravsak"
    return Path.cwd() / ".kravsak"


N = TypeVar("N", int, float)


@overload
def env_number(
    env: Mapping[str, str],
    name: str,
    default: N,
    *,
    kind: type[N] | None = None,
    low: N | None = None,
    high: N | None = None,
    what: str | None = None,
    example: str | None = None,
) -> N: ...


@overload
def env_number(
    env: Mapping[str, str],
    name: str,
    default: None,
    *,
    kind: type[N],
    low: N | None = None,
    high: N | None = None,
    what: str | None = None,
    example: str | None = None,
) -> N | None: ...


def env_number(
    env: Mapping[str, str],
    name: str,
    default: N | None,
    *,
    kind: type[N] | None = None,
    low: N | None = None,
    high: N | None = None,
    what: str | None = None,
    example: str | None = None,
) -> N | None:
    """The number in variable ``name``, or ``default`` when it is unset or empty.

    A whole number (``kind=int``, the default unless ``default`` is a float) or any number
    (``float``), at least ``low`` (default: above 0) and at most ``high``. Anything else is one
    ``SettingsError`` naming the variable, its value, what it must hold and how to fix it."""
    raw = env.get(name)
    if not raw:
        return default
    number: type[N] = kind or (type(default) if default is not None else int)
    try:
        value: N | None = number(raw.strip())
    except ValueError:
        value = None
    fits = value is not None and (value > 0 if low is None else value >= low) and (high is None or value <= high)
    if not fits:
        must = what or ("a positive whole number" if number is int else "a positive number")
        shown = example if example is not None else f"e.g. {default if default is not None else 1:g}"
        fix = f"set {name} to {shown}, or unset it for the default" + (f" {default:g}" if default is not None else "")
        raise SettingsError(f"{name}={raw!r} is not {must}", fix)
    return value


def _switch(env: Mapping[str, str], name: str) -> bool:
    raw = (env.get(name) or "").strip().lower()
    if raw in ("", "0", "off", "false", "no"):
        return False
    if raw in ("1", "on", "true", "yes"):
        return True
    raise SettingsError(f"{name}={raw!r} is neither on nor off", f"set {name} to on or off, or unset it")


def _port(env: Mapping[str, str], name: str, default: int) -> int:
    return env_number(
        env,
        name,
        default,
        low=1024,
        high=65535,
        what="a port number between 1024 and 65535",
        example="a free unprivileged port",
    )


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


def _public_url(env: Mapping[str, str]) -> str | None:
    raw = (env.get("KRAVSAK_PUBLIC_URL") or "").strip()
    if not raw:
        return None
    if not (raw.startswith("https://") or raw.startswith("http://127.0.0.1") or raw.startswith("http://localhost")):
        raise SettingsError(
            f"KRAVSAK_PUBLIC_URL={raw!r} is not an https URL",
            "give the address browsers use (https://…; http only on 127.0.0.1 or localhost), or unset it",
        )
    return raw.rstrip("/")


def _check_bootstrap(name: str, bootstrap: str) -> None:
    from consumers.kafka_access import BadConnectionString, check

    try:
        check(bootstrap)
    except BadConnectionString as exc:
        raise SettingsError(
            f"{name} is not a Kafka connection string: {exc}",
            f"set {name} to host:port[,host:port] or sasl_ssl://user:password@host:port?cafile=/path/ca.pem",
        ) from None


def _with_defaults(dsn: str, defaults: Mapping[str, str]) -> str:
    """``dsn`` with the ``defaults`` it does not set itself (a password, an sslmode)."""
    if not defaults:
        return dsn
    try:
        parts = conninfo_to_dict(dsn)
    except Exception:
        return dsn  # eventsourcing_env names the unparseable DSN
    missing = {key: value for key, value in defaults.items() if not parts.get(key)}
    return make_conninfo(dsn, **missing) if missing else dsn


def redact_dsn(dsn: str) -> str:
    """The DSN with its password masked, for error messages, logs and `kravsak status`."""
    try:
        parts = conninfo_to_dict(dsn)
    except Exception:
        return "<unparseable DSN>"
    if not parts.get("password"):
        return dsn
    return " ".join(f"{key}={'***' if key == 'password' else value}" for key, value in parts.items())


# --- personal data: keys, letters (the debtor register, ADR 0014/0015) ---------------------------

ENV_VARS.update(
    {
        "KRAVSAK_MASTER_KEY": "the office master key wrapping every debtor's data key: 32 bytes, base64",
        "KRAVSAK_MASTER_KEY_FILE": (
            "file holding the master key, mode 0600 (default <home>/secrets/master.key, made by `kravsak up` "
            "for the local stack)"
        ),
        "KRAVSAK_OFFICE_SECRET": (
            "key of the opaque debtor ids and the register's look-up index: at least 32 bytes, base64 "
            "(default: derived from the master key)"
        ),
        "KRAVSAK_LETTERHEADS": "YAML file of the creditors' letterheads (default: letters/letterheads.yaml)",
        "KRAVSAK_OUTBOX": "folder of the letter outboxes, one per channel (default <home>/outbox)",
    }
)


def master_key_file(settings: Settings, environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    raw = env.get("KRAVSAK_MASTER_KEY_FILE")
    return Path(raw).expanduser() if raw else settings.home / "secrets" / "master.key"


def ensure_local_master_key(settings: Settings, environ: Mapping[str, str] | None = None) -> Path | None:
    """For a local stack: make the master key file if no key is configured; the path if one was made."""
    from personal.keys import write_master_key_file

    env = os.environ if environ is None else environ
    if env.get("KRAVSAK_MASTER_KEY") or env.get("KRAVSAK_MASTER_KEY_FILE") or settings.pg_is_external:
        return None
    path = master_key_file(settings, env)
    return path if write_master_key_file(path) else None


def key_provider(settings: Settings, environ: Mapping[str, str] | None = None) -> LocalKeyProvider:
    """The master key from KRAVSAK_MASTER_KEY or its file; a SettingsError naming the variable otherwise."""
    from personal.keys import KeyUnusable, LocalKeyProvider, parse_master_key, read_master_key_file

    env = os.environ if environ is None else environ
    try:
        if env.get("KRAVSAK_MASTER_KEY"):
            return LocalKeyProvider(parse_master_key(env["KRAVSAK_MASTER_KEY"], where="KRAVSAK_MASTER_KEY"))
        path = master_key_file(settings, env)
        if not path.is_file():
            raise SettingsError(
                f"no master key: {path} does not exist and KRAVSAK_MASTER_KEY is not set",
                "run `kravsak up` (it makes one for the local stack), or set KRAVSAK_MASTER_KEY_FILE / "
                "KRAVSAK_MASTER_KEY to the office's key (a KMS in production)",
            )
        return LocalKeyProvider(read_master_key_file(path))
    except KeyUnusable as exc:
        raise SettingsError(f"the master key cannot be used: {exc}", "give 32 random bytes, base64") from None


def office_secret(settings: Settings, environ: Mapping[str, str] | None = None) -> bytes:
    """KRAVSAK_OFFICE_SECRET, or the secret derived from the master key; a SettingsError when neither exists."""
    import base64
    import binascii

    env = os.environ if environ is None else environ
    raw = env.get("KRAVSAK_OFFICE_SECRET")
    if raw:
        try:
            secret = base64.b64decode(raw.strip(), validate=True)
        except (binascii.Error, ValueError):
            secret = b""
        if len(secret) < 32:
            raise SettingsError(
                "KRAVSAK_OFFICE_SECRET is not base64 of at least 32 bytes",
                "set it to e.g. the output of `openssl rand -base64 32`, or unset it to derive it from the master key",
            )
        return secret
    return key_provider(settings, env).office_secret()


def free_text_key(settings: Settings, environ: Mapping[str, str] | None = None) -> bytes:
    """Keys the digests of free text the publisher puts on the stream (ADR 0023): derived from the office secret
    under its own label, so it never equals the key of the debtor ids."""
    import hashlib
    import hmac

    return hmac.new(office_secret(settings, environ), b"kravsak/wire/free-text/v1", hashlib.sha256).digest()


def note_keeper(settings: Settings, environ: Mapping[str, str] | None = None) -> SealedNotes:
    """The personal-data store's keeper of written reasons (ADR 0028), on a connection of ``settings``' role
    per call: what every `CollectionApp` of the composition root that may take a written reason is given."""
    import psycopg

    from personal.notes import SealedNotes

    dsn = settings.pg_dsn
    return SealedNotes(lambda: psycopg.connect(dsn), key_provider(settings, environ), office_secret(settings, environ))


def session_secret(settings: Settings, environ: Mapping[str, str] | None = None) -> bytes:
    """KRAVSAK_SESSION_SECRET, or a key derived from the office secret (its own label: the cookie key never
    equals a key of the debtor ids)."""
    import base64
    import binascii
    import hashlib
    import hmac

    env = os.environ if environ is None else environ
    raw = env.get("KRAVSAK_SESSION_SECRET")
    if raw:
        try:
            secret = base64.b64decode(raw.strip(), validate=True)
        except (binascii.Error, ValueError):
            secret = b""
        if len(secret) < 32:
            raise SettingsError(
                "KRAVSAK_SESSION_SECRET is not base64 of at least 32 bytes",
                "set it to e.g. the output of `openssl rand -base64 32`, or unset it (derived from the office secret)",
            )
        return secret
    return hmac.new(office_secret(settings, env), b"kravsak/web/session-cookie/v1", hashlib.sha256).digest()
