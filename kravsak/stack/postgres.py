"""The event store's PostgreSQL: a local cluster run from Debian's PostgreSQL 15, or an external one.

Local layout under `<home>/pg/`: `data/` (the cluster, owned by the `postgres` OS user), `run/`
(unix socket), `log/postgresql.log`, `tls/` (the server's certificate from the local CA, `kravsak.stack.tls`).
The server listens on 127.0.0.1 only and speaks TLS. Nobody gets in without a key (ADR 0027):
every password is generated into `<home>/secrets/stack.json` (0600), pg_hba.conf (rewritten on
every start) knows only scram-sha-256, the superuser `postgres` is refused over TCP and reachable
only over the Unix socket, and every service has its own least-privilege role (`roles.py`).
With KRAVSAK_PG_SSLMODE=require/verify-ca/verify-full the server takes TLS connections only.
PostgreSQL refuses to run as root, so as root every server command goes through `runuser -u postgres --`.

"Ours" means: the postmaster whose pid file lies in this home's data folder is alive. Anything
else on the port is a foreign process and `up` refuses to start (PortInUse).
"""

from __future__ import annotations

import hashlib
import pwd
import shutil
import subprocess
import time
from functools import cache
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

from kravsak import local_secrets
from kravsak.errors import (
    DataFromOtherVersion,
    PathNotReachable,
    ServerFailedToStart,
    ServerUnreachable,
    ToolMissing,
)
from kravsak.logs import get_logger
from kravsak.settings import LOCAL_PG_DBNAME, LOCAL_PG_USER, PG_SERVICE_ROLES, Settings, event_store_schema, redact_dsn
from kravsak.stack.base import ServiceState, Step
from kravsak.stack.procs import LOOPBACK, is_root, pid_alive, read_pid, require_port_free, tail
from kravsak.stack.roles import grant_roles, prepare_event_store
from kravsak.stack.tls import ServerCertificate, ensure_server_certificate

log = get_logger(__name__)

PG_MAJOR = "15"
SOCKET_PATH_LIMIT = 107  # sun_path is 108 bytes on Linux, NUL included
SUPERUSER = "postgres"
TLS_ONLY = ("require", "verify-ca", "verify-full")


def pg_secret_keys() -> list[str]:
    """The passwords the local PostgreSQL needs: the superuser's, the owner's, each service role's."""
    return [f"pg:{role}" for role in (SUPERUSER, LOCAL_PG_USER, *PG_SERVICE_ROLES.values())]


def socket_folder(settings: Settings, wanted: Path) -> Path:
    """``wanted``, or a short folder under /tmp when the socket's path would not fit in sun_path."""
    if len(str(wanted / f".s.PGSQL.{settings.pg_port}")) <= SOCKET_PATH_LIMIT:
        return wanted
    digest = hashlib.sha256(str(wanted.resolve()).encode()).hexdigest()[:10]
    return Path("/tmp") / f"kravsak-pg-{digest}"


def hba_config(settings: Settings) -> str:
    """pg_hba.conf: scram-sha-256 everywhere, the superuser over the socket only; rewritten on every start."""
    host = "hostssl" if (settings.pg_sslmode or "prefer") in TLS_ONLY else "host"
    return "\n".join(
        [
            "# Written by `kravsak up` on every start; edits are lost. Every role has a password",
            "# (<home>/secrets/stack.json), the superuser comes in over the Unix socket only.",
            f"local all {SUPERUSER} scram-sha-256",
            "local all all scram-sha-256",
            f"host all {SUPERUSER} 0.0.0.0/0 reject",
            f"host all {SUPERUSER} ::/0 reject",
            f"{host} all all {LOOPBACK}/32 scram-sha-256",
            "",
        ]
    )


def server_config(settings: Settings, socket_dir: Path, certificate: ServerCertificate | None = None) -> str:
    """postgresql.conf overrides for a developer box; rewritten on every start."""
    socket_file = socket_dir / f".s.PGSQL.{settings.pg_port}"
    sockets = str(socket_dir) if len(str(socket_file)) <= SOCKET_PATH_LIMIT else ""
    tls = (
        [
            "ssl = on",
            f"ssl_cert_file = '{certificate.cert}'",
            f"ssl_key_file = '{certificate.key}'",
            "ssl_min_protocol_version = 'TLSv1.2'",
            "password_encryption = 'scram-sha-256'",
        ]
        if certificate
        else []
    )
    return "\n".join(
        [
            "# Written by `kravsak up` on every start; edits are lost.",
            f"listen_addresses = '{LOOPBACK}'",
            f"port = {settings.pg_port}",
            f"unix_socket_directories = '{sockets}'",
            "max_connections = 200",
            "shared_buffers = 128MB",
            "work_mem = 8MB",
            "maintenance_work_mem = 64MB",
            "effective_cache_size = 1GB",
            "max_wal_size = 1GB",
            "fsync = on",
            "timezone = 'UTC'",
            "log_timezone = 'UTC'",
            "logging_collector = off",
            "log_line_prefix = '%m [%p] %q%u@%d '",
            *tls,
            "",
        ]
    )


def check_data_version(data_dir: Path, major: str = PG_MAJOR) -> bool:
    """True if data_dir holds a cluster of this major version, False if there is none yet.

    Raises DataFromOtherVersion for another version's cluster or a folder that is no cluster.
    """
    version_file = data_dir / "PG_VERSION"
    if version_file.is_file():
        found = version_file.read_text().strip()
        if found != major:
            raise DataFromOtherVersion(
                f"{data_dir} holds a PostgreSQL {found} cluster; kravsak runs PostgreSQL {major}",
                f"`kravsak reset --yes` deletes the local data (or move {data_dir} away), "
                "then `kravsak up` creates a new cluster",
            )
        return True
    if data_dir.is_dir() and any(data_dir.iterdir()):
        raise DataFromOtherVersion(
            f"{data_dir} is not empty but holds no PostgreSQL cluster (no PG_VERSION file)",
            f"move {data_dir} away or run `kravsak reset --yes`, then `kravsak up`",
        )
    return False


def reachable_root(wanted: Path) -> Path:
    """Where the cluster lives: ``wanted`` when the `postgres` OS user can reach it, else (running
    as root in a checkout under a closed folder, e.g. /root) a folder of its own under /var/tmp, named
    after the checkout so `up`, `status` and `down` always find the same cluster."""
    if not is_root() or first_closed_folder(wanted) is None:
        return wanted
    digest = hashlib.sha256(str(wanted.resolve()).encode()).hexdigest()[:10]
    return Path("/var/tmp") / f"kravsak-pg-{digest}"


def first_closed_folder(path: Path, user: str = "postgres") -> Path | None:
    """The first folder on the way to `path` that `user` may not enter, if any."""
    try:
        account = pwd.getpwnam(user)
    except KeyError:
        return None
    for folder in [*reversed(path.parents), path]:
        try:
            info = folder.stat()
        except OSError:
            return None  # not created yet; its parent was enterable
        if info.st_uid == account.pw_uid:
            allowed = info.st_mode & 0o100
        elif info.st_gid == account.pw_gid:
            allowed = info.st_mode & 0o010
        else:
            allowed = info.st_mode & 0o001
        if not allowed:
            return folder
    return None


class LocalPostgres:
    name = "PostgreSQL"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.root = reachable_root(settings.home / "pg")
        self.data_dir = self.root / "data"
        self.socket_dir = socket_folder(settings, self.root / "run")
        self.tls_dir = self.root / "tls"
        self.log_file = self.root / "log" / "postgresql.log"
        self.bin = settings.pg_bin

    # -- what runs ---------------------------------------------------------------------------

    def pid(self) -> int | None:
        """The pid of this home's postmaster, if it runs."""
        pid = read_pid(self.data_dir / "postmaster.pid")
        return pid if pid is not None and pid_alive(pid) else None

    def running_port(self) -> int | None:
        try:
            lines = (self.data_dir / "postmaster.pid").read_text().splitlines()
            return int(lines[3])
        except (OSError, IndexError, ValueError):
            return None

    def state(self) -> ServiceState:
        pid = self.pid()
        port = (self.running_port() if pid else None) or self.settings.pg_port
        return ServiceState(
            name=self.name,
            state="running" if pid else "stopped",
            address=f"{LOOPBACK}:{port}",
            connect=redact_dsn(self.settings.pg_dsn),
            version=self.version(),
            pid=pid,
            data_dir=self.data_dir,
            log_file=self.log_file,
        )

    def version(self) -> str | None:
        return _binary_version(self.bin / "postgres")

    # -- start -------------------------------------------------------------------------------

    def ensure_running(self, step: Step) -> bool:
        pid = self.pid()
        if pid is not None:
            self._check_running_port(pid)
            _wait_for_connection(self.settings.pg_dsn, timeout=10, log_file=self.log_file)
            # roles, grants and guards as this version makes them (a role or a guard added since it started)
            step("bringing the kravsak roles and grants up to date")
            self._create_roles_and_database(local_secrets.ensure(self.settings.home, pg_secret_keys()))
            return False
        started_at = time.monotonic()
        self._check_tools()
        require_port_free(
            self.settings.pg_port,
            server="PostgreSQL",
            home=self.settings.home,
            port_var="KRAVSAK_PG_PORT",
            external_var="KRAVSAK_PG_DSN",
        )
        passwords = local_secrets.ensure(self.settings.home, pg_secret_keys())
        self._prepare_folders()
        if not check_data_version(self.data_dir):
            step("creating the PostgreSQL cluster (initdb)")
            self._initdb(passwords[f"pg:{SUPERUSER}"])
        self._write_config()
        self._set_superuser_password(passwords[f"pg:{SUPERUSER}"])
        step(f"starting PostgreSQL on {LOOPBACK}:{self.settings.pg_port}")
        self._start()
        step("creating the kravsak roles and database")
        self._create_roles_and_database(passwords)
        log.info(
            "postgres.started",
            pid=self.pid(),
            port=self.settings.pg_port,
            data_dir=str(self.data_dir),
            seconds=round(time.monotonic() - started_at, 1),
        )
        return True

    def _check_running_port(self, pid: int) -> None:
        port = self.running_port()
        if port is not None and port != self.settings.pg_port:
            raise ServerUnreachable(
                f"this checkout's PostgreSQL (pid {pid}) runs on port {port}, "
                f"but KRAVSAK_PG_PORT asks for {self.settings.pg_port}",
                "`kravsak down`, then `kravsak up` with the port you want",
            )

    def _check_tools(self) -> None:
        for program in ("initdb", "pg_ctl", "postgres"):
            if not (self.bin / program).is_file():
                raise ToolMissing(
                    f"the PostgreSQL {PG_MAJOR} server program {self.bin / program} is missing",
                    f"`apt-get install postgresql-{PG_MAJOR}`, or set KRAVSAK_PG_BIN to the folder "
                    "holding initdb and pg_ctl, or use a running server with KRAVSAK_PG_DSN",
                )
        if is_root():
            try:
                pwd.getpwnam("postgres")
            except KeyError as exc:
                raise ToolMissing(
                    "there is no `postgres` OS user to run PostgreSQL as (it refuses to run as root)",
                    f"`apt-get install postgresql-{PG_MAJOR}` creates it, or `useradd -r postgres`",
                ) from exc
            if shutil.which("runuser") is None:
                raise ToolMissing(
                    "`runuser` is missing; kravsak needs it to run PostgreSQL as `postgres`",
                    "`apt-get install util-linux`",
                )

    def _prepare_folders(self) -> None:
        for folder in (self.root, self.data_dir, self.socket_dir, self.log_file.parent, self.tls_dir):
            folder.mkdir(parents=True, exist_ok=True)
        self.tls_dir.chmod(0o700)
        self.settings.home.chmod(0o755)
        self.root.chmod(0o755)
        if not is_root():
            self.data_dir.chmod(0o700)
            return
        closed = first_closed_folder(self.data_dir)
        if closed is not None:
            raise PathNotReachable(
                f"the `postgres` OS user cannot enter {closed}, so PostgreSQL cannot reach {self.data_dir}",
                f"`chmod o+x {closed}`, or set KRAVSAK_HOME to a folder it can reach (e.g. under /var/tmp)",
            )
        subprocess.run(
            [
                "chown",
                "-R",
                "postgres:postgres",
                str(self.data_dir),
                str(self.socket_dir),
                str(self.log_file.parent),
                str(self.tls_dir),
            ],
            check=True,
        )
        self.data_dir.chmod(0o700)

    def _as_server_user(self, *argv: str) -> list[str]:
        return ["runuser", "-u", "postgres", "--", *argv] if is_root() else list(argv)

    def _run(self, argv: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self._as_server_user(*argv),
            cwd=self.root,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def _initdb(self, superuser_password: str) -> None:
        pwfile = self.root / "initdb.pw"
        pwfile.write_text(superuser_password + "\n")
        pwfile.chmod(0o600)
        if is_root():
            shutil.chown(pwfile, "postgres", "postgres")
        try:
            self._run_initdb(pwfile)
        finally:
            pwfile.unlink(missing_ok=True)
        with (self.data_dir / "postgresql.conf").open("a") as conf:
            conf.write("\n# kravsak: settings for this checkout's local stack\ninclude 'kravsak.conf'\n")

    def _run_initdb(self, pwfile: Path) -> None:
        result = self._run(
            [
                str(self.bin / "initdb"),
                "-D",
                str(self.data_dir),
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
                "--auth=scram-sha-256",
                f"--pwfile={pwfile}",
            ],
            timeout=180,
        )
        if result.returncode != 0:
            last = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["(no output)"]
            raise ServerFailedToStart(
                f"initdb failed for {self.data_dir}: {last[0]}",
                f"fix the cause above, remove {self.data_dir} and run `kravsak up` again",
            )

    def _write_config(self) -> None:
        certificate = ensure_server_certificate(self.settings.home, self.tls_dir, "postgres")
        conf, hba = self.data_dir / "kravsak.conf", self.data_dir / "pg_hba.conf"
        conf.write_text(server_config(self.settings, self.socket_dir, certificate))
        hba.write_text(hba_config(self.settings))
        hba.chmod(0o600)
        if is_root():
            for path in (conf, hba, certificate.cert, certificate.key):
                shutil.chown(path, "postgres", "postgres")

    def _set_superuser_password(self, password: str) -> None:
        """The superuser's password from the secrets file, set in single-user mode before the server starts:
        a cluster made before ADR 0027 (trust, no password) is locked the same way as a new one."""
        statement = f"ALTER ROLE {SUPERUSER} PASSWORD '{password}';\n"  # token_urlsafe: no quote inside
        result = subprocess.run(
            self._as_server_user(str(self.bin / "postgres"), "--single", "-D", str(self.data_dir), SUPERUSER),
            cwd=self.root,
            input=statement,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if result.returncode != 0:
            last = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["(no output)"]
            raise ServerFailedToStart(
                f"setting the PostgreSQL superuser's password failed: {last[0]}",
                f"read {self.log_file}; after fixing, `kravsak up` again",
            )

    def _start(self) -> None:
        timeout = int(self.settings.start_timeout)
        result = self._run(
            [
                str(self.bin / "pg_ctl"),
                "start",
                "-D",
                str(self.data_dir),
                "-l",
                str(self.log_file),
                "-w",
                "-t",
                str(timeout),
                "-s",
            ],
            timeout=timeout + 30,
        )
        if result.returncode != 0:
            last = tail(self.log_file, 3).splitlines() or [result.stderr.strip() or "no log output"]
            raise ServerFailedToStart(
                f"PostgreSQL did not start: {last[-1]}",
                f"read {self.log_file}; after fixing, `kravsak up` again",
            )

    def superuser_dsn(self, dbname: str = "postgres") -> str:
        """The superuser's way in: the Unix socket, with its password (TCP refuses it)."""
        password = local_secrets.password(self.settings.home, f"pg:{SUPERUSER}")
        return make_conninfo(
            host=str(self.socket_dir), port=self.settings.pg_port, user=SUPERUSER, dbname=dbname, password=password
        )

    def _create_roles_and_database(self, passwords: dict[str, str]) -> None:
        with psycopg.connect(self.superuser_dsn(), autocommit=True, connect_timeout=10) as conn:
            for role in (LOCAL_PG_USER, *PG_SERVICE_ROLES.values()):
                exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
                verb = sql.SQL("ALTER" if exists else "CREATE")
                conn.execute(
                    sql.SQL("{} ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD {}").format(
                        verb, sql.Identifier(role), sql.Literal(passwords[f"pg:{role}"])
                    )
                )
            if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (LOCAL_PG_DBNAME,)).fetchone():
                conn.execute(
                    sql.SQL("CREATE DATABASE {} OWNER {}").format(
                        sql.Identifier(LOCAL_PG_DBNAME), sql.Identifier(LOCAL_PG_USER)
                    )
                )
        with psycopg.connect(self.superuser_dsn(LOCAL_PG_DBNAME), autocommit=True, connect_timeout=10) as conn:
            grant_roles(conn, LOCAL_PG_DBNAME)
        from consumers.publisher import PublisherOptions

        # the event store's schema only (the publisher's other options would ask for the office's key, which a
        # fresh home may not hold yet)
        schema = event_store_schema() or PublisherOptions().pg_schema
        prepare_event_store(self.settings.for_owner().pg_dsn, schema)

    # -- stop --------------------------------------------------------------------------------

    def stop(self, step: Step) -> bool:
        pid = self.pid()
        if pid is None:
            return False
        step(f"stopping PostgreSQL (pid {pid})")
        pg_ctl = str(self.bin / "pg_ctl")
        result = self._run([pg_ctl, "stop", "-D", str(self.data_dir), "-m", "fast", "-w", "-t", "60", "-s"], 90)
        if result.returncode != 0 and self.pid() is not None:
            log.warning("postgres.fast_stop_failed", stderr=result.stderr.strip())
            self._run([pg_ctl, "stop", "-D", str(self.data_dir), "-m", "immediate", "-w", "-s"], 60)
        if self.pid() is not None:
            raise ServerUnreachable(
                f"PostgreSQL (pid {pid}) did not stop",
                f"read {self.log_file}; `kill {pid}` as a last resort",
            )
        log.info("postgres.stopped", pid=pid)
        return True

    def purge(self) -> list[Path]:
        if self.root.exists():
            shutil.rmtree(self.root)
            return [self.root]
        return []


class ExternalPostgres:
    """A PostgreSQL that someone else runs (KRAVSAK_PG_DSN): checked, never started or stopped."""

    name = "PostgreSQL"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.dsn = settings.pg_dsn

    def ensure_running(self, step: Step) -> bool:
        step(f"checking PostgreSQL at {redact_dsn(self.dsn)}")
        try:
            server_version(self.dsn, timeout=5)
        except psycopg.Error as exc:
            raise ServerUnreachable(
                f"PostgreSQL at {redact_dsn(self.dsn)} (KRAVSAK_PG_DSN) does not answer: {_first_line(exc)}",
                "start that server or correct KRAVSAK_PG_DSN; unset it to let kravsak run its own",
            ) from exc
        return False

    def stop(self, step: Step) -> bool:
        return False

    def purge(self) -> list[Path]:
        return []

    def state(self) -> ServiceState:
        env = self.settings.eventsourcing_env()
        try:
            version: str | None = server_version(self.dsn, timeout=3)
            state = "external"
        except psycopg.Error:
            version, state = None, "unreachable"
        return ServiceState(
            name=self.name,
            state="external" if state == "external" else "unreachable",
            address=f"{env['POSTGRES_HOST']}:{env['POSTGRES_PORT']}",
            connect=redact_dsn(self.dsn),
            version=version,
        )


def server_version(dsn: str, timeout: float) -> str:
    with psycopg.connect(dsn, connect_timeout=max(1, int(timeout))) as conn:
        row = conn.execute("SHOW server_version").fetchone()
    return str(row[0]) if row else "?"


def _wait_for_connection(dsn: str, timeout: float, log_file: Path) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            server_version(dsn, timeout=3)
            return
        except psycopg.Error as exc:
            if time.monotonic() >= deadline:
                raise ServerUnreachable(
                    f"this checkout's PostgreSQL runs but refuses {redact_dsn(dsn)}: {_first_line(exc)}",
                    f"read {log_file}; `kravsak down` then `kravsak up` restarts it",
                ) from exc
            time.sleep(0.5)


@cache
def _binary_version(program: Path) -> str | None:
    try:
        out = subprocess.run([str(program), "--version"], capture_output=True, text=True, timeout=10).stdout
    except OSError:
        return None
    # "postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)" -> "15.18"
    words = out.split()
    return words[2] if len(words) > 2 else None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
