"""The event feed's Kafka: a local single-node KRaft broker (broker and controller in one JVM), or an
external one.

Local layout under `<home>/kafka/`: `lib/<version>/` (jars, see jars.py), `config/`
(server.properties and log4j2.xml, rewritten on every start), `data/` (log.dirs and the KRaft
metadata log, formatted once), `logs/server.log` (broker log) and `logs/kafka.out` (JVM
stdout/stderr), `kafka.pid`.

Nobody in without a key (ADR 0027): clients authenticate with SASL/SCRAM-SHA-512, one user per
service (publisher, projector, automate) and ``admin`` (super user), their passwords generated into
`<home>/secrets/stack.json` (0600); the StandardAuthorizer refuses whatever the ACLs (``ACLS``) do not
allow — only the publisher (and admin) may write a topic. The broker talks to itself and to its
controller as ``broker`` (SASL/PLAIN, a static JAAS user in server.properties, 0600). `up` creates the
SCRAM users and ACLs through the admin API after every start (idempotent). Folders are 0700.

Topics are not auto-created (`auto.create.topics.enable=false`): code that needs a topic creates
it explicitly with the partitions and configs it needs, so a typo in a topic name fails loudly
instead of silently creating a one-partition topic.

"Ours" means: the pid in `kafka.pid` is alive and its command line runs `kafka.Kafka` with this
home's server.properties. Anything else on the ports is a foreign process (PortInUse).
"""

from __future__ import annotations

import base64
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import quote

from kafka import KafkaAdminClient
from kafka.errors import KafkaError

from consumers.kafka_access import client_args
from kravsak import local_secrets
from kravsak.errors import DataFromOtherVersion, ServerFailedToStart, ServerUnreachable
from kravsak.logs import get_logger
from kravsak.settings import KAFKA_ADMIN_USER, KAFKA_SERVICE_USERS, Settings
from kravsak.stack.base import ServiceState, Step
from kravsak.stack.kafka.jars import ensure_jars, find_java, packaged_file
from kravsak.stack.procs import (
    LOOPBACK,
    command_line,
    pid_alive,
    read_pid,
    require_port_free,
    tail,
    wait_until,
)
from kravsak.stack.tls import ensure_server_certificate

log = get_logger(__name__)

NODE_ID = 1
MARKER = "kravsak.properties"
STOP_TIMEOUT_S = 60.0


BROKER_USER = "broker"
CLIENT_LISTENER = "SASL_PLAINTEXT"
_PLAIN = "org.apache.kafka.common.security.plain.PlainLoginModule"
_SCRAM = "org.apache.kafka.common.security.scram.ScramLoginModule"


def kafka_secret_keys() -> list[str]:
    return [f"kafka:{user}" for user in (BROKER_USER, KAFKA_ADMIN_USER, *KAFKA_SERVICE_USERS)]


def server_properties(settings: Settings, data_dir: Path, broker_password: str, keystore: Path | None = None) -> str:
    """server.properties of the single-node broker+controller (it holds a password: mode 0600). With a
    ``keystore`` (PEM: key and certificate from the local CA) a SASL_SSL listener on the TLS port too."""
    broker = f"{LOOPBACK}:{settings.kafka_port}"
    controller = f"{LOOPBACK}:{settings.kafka_controller_port}"
    tls_listener = f",SASL_SSL://{LOOPBACK}:{settings.kafka_tls_port}" if keystore else ""
    tls = (
        [
            "listener.name.sasl_ssl.sasl.enabled.mechanisms=SCRAM-SHA-512",
            f"listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config={_SCRAM} required;",
            "listener.name.sasl_ssl.ssl.keystore.type=PEM",
            f"listener.name.sasl_ssl.ssl.keystore.location={keystore}",
            "listener.name.sasl_ssl.ssl.enabled.protocols=TLSv1.3,TLSv1.2",
        ]
        if keystore
        else []
    )
    login = f'username="{BROKER_USER}" password="{broker_password}"'
    plain = f'{_PLAIN} required {login} user_{BROKER_USER}="{broker_password}";'
    client = CLIENT_LISTENER.lower()
    return "\n".join(
        [
            "# Written by `kravsak up` on every start; edits are lost.",
            "process.roles=broker,controller",
            f"node.id={NODE_ID}",
            f"controller.quorum.bootstrap.servers={controller}",
            f"listeners={CLIENT_LISTENER}://{broker},CONTROLLER://{controller}{tls_listener}",
            f"advertised.listeners={CLIENT_LISTENER}://{broker},CONTROLLER://{controller}{tls_listener}",
            "controller.listener.names=CONTROLLER",
            f"inter.broker.listener.name={CLIENT_LISTENER}",
            f"listener.security.protocol.map=CONTROLLER:SASL_PLAINTEXT,{CLIENT_LISTENER}:SASL_PLAINTEXT,SASL_SSL:SASL_SSL",
            # Clients: SCRAM users (made by `up`); the broker itself: the static PLAIN user.
            f"listener.name.{client}.sasl.enabled.mechanisms=SCRAM-SHA-512,PLAIN",
            f"listener.name.{client}.scram-sha-512.sasl.jaas.config={_SCRAM} required;",
            f"listener.name.{client}.plain.sasl.jaas.config={plain}",
            "listener.name.controller.sasl.enabled.mechanisms=PLAIN",
            f"listener.name.controller.plain.sasl.jaas.config={plain}",
            "sasl.mechanism.inter.broker.protocol=PLAIN",
            "sasl.mechanism.controller.protocol=PLAIN",
            "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer",
            f"super.users=User:{BROKER_USER};User:{KAFKA_ADMIN_USER}",
            "allow.everyone.if.no.acl.found=false",
            *tls,
            f"log.dirs={data_dir}",
            # One broker: every internal topic has one replica.
            "offsets.topic.replication.factor=1",
            "offsets.topic.num.partitions=10",
            "transaction.state.log.replication.factor=1",
            "transaction.state.log.min.isr=1",
            "transaction.state.log.num.partitions=10",
            "share.coordinator.state.topic.replication.factor=1",
            "share.coordinator.state.topic.min.isr=1",
            "default.replication.factor=1",
            "min.insync.replicas=1",
            # Tests join and leave groups all the time; do not wait 3 s for more members.
            "group.initial.rebalance.delay.ms=0",
            "auto.create.topics.enable=false",
            "num.partitions=3",
            "log.retention.hours=168",
            "",
        ]
    )


def new_cluster_id() -> str:
    """A KRaft cluster id: 16 random bytes, URL-safe base64 without padding, not starting with '-'."""
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not cluster_id.startswith("-"):
            return cluster_id


def read_properties(path: Path) -> dict[str, str]:
    props: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            props[key.strip()] = value.strip()
    return props


def check_data_version(data_dir: Path, version: str) -> str | None:
    """The cluster id if data_dir was formatted by kravsak for this Kafka version; None if empty.

    Raises DataFromOtherVersion when the folder holds another version's or a foreign log.
    """
    meta, marker = data_dir / "meta.properties", data_dir / MARKER
    fix = f"`kravsak reset --yes` deletes the local data (or move {data_dir} away), then `kravsak up`"
    if marker.is_file():
        recorded = read_properties(marker)
        if recorded.get("kafka.version") != version:
            raise DataFromOtherVersion(
                f"{data_dir} was formatted by Kafka {recorded.get('kafka.version', '?')}; kravsak runs Kafka {version}",
                fix,
            )
        if not meta.is_file():
            raise DataFromOtherVersion(f"{data_dir} has lost its meta.properties", fix)
        return recorded.get("cluster.id")
    if meta.is_file():
        props = read_properties(meta)
        raise DataFromOtherVersion(
            f"{data_dir} holds a Kafka log (meta.properties version={props.get('version', '?')}, "
            f"cluster {props.get('cluster.id', '?')}) that kravsak did not format",
            fix,
        )
    if data_dir.is_dir() and any(data_dir.iterdir()):
        raise DataFromOtherVersion(f"{data_dir} is not empty but holds no Kafka log", fix)
    return None


def broker_answers(bootstrap: str, timeout_s: float = 5.0) -> dict[str, Any] | None:
    """The cluster description if a broker answers a metadata request, else None."""
    timeout_ms = int(timeout_s * 1000)
    try:
        admin = KafkaAdminClient(
            **client_args(bootstrap),
            client_id="kravsak-stack",
            bootstrap_timeout_ms=timeout_ms,
            request_timeout_ms=timeout_ms,
        )
    except (KafkaError, OSError):
        return None
    try:
        description: dict[str, Any] = admin.describe_cluster()
        return description
    except (KafkaError, OSError):
        return None
    finally:
        admin.close()


def acls() -> list[tuple[str, str, str, str]]:
    """(user, resource type, resource name, operation) the StandardAuthorizer allows; all else is refused
    (admin and the broker are super users). Only the publisher writes topics; the projector and the process
    manager read with their groups. Topic names are ``*``: tests and benchmarks run on topics of their own."""
    read = ["READ", "DESCRIBE", "DESCRIBE_CONFIGS", "CREATE"]
    rules = [("publisher", "TOPIC", "*", op) for op in [*read, "WRITE", "ALTER_CONFIGS"]]
    rules += [("publisher", "CLUSTER", "kafka-cluster", op) for op in ("DESCRIBE", "IDEMPOTENT_WRITE")]
    for reader in ("projector", "automate"):
        rules += [(reader, "TOPIC", "*", op) for op in read]
        rules += [(reader, "GROUP", "*", op) for op in ("READ", "DESCRIBE")]
        rules += [(reader, "CLUSTER", "kafka-cluster", "DESCRIBE")]
    return rules


def provision(connection: str, passwords: dict[str, str], timeout_s: float = 30.0) -> None:
    """The SCRAM users (``admin`` and one per service, passwords from the secrets file) and the ACLs;
    idempotent, run by `up` as the broker's own user."""
    from kafka.admin import (
        ACL,
        ACLOperation,
        ACLPermissionType,
        ACLResourcePatternType,
        ResourcePattern,
        ResourceType,
        ScramMechanism,
        UserScramCredentialUpsertion,
    )

    admin = KafkaAdminClient(
        **client_args(connection), client_id="kravsak-stack", request_timeout_ms=int(timeout_s * 1000)
    )
    try:
        users = (KAFKA_ADMIN_USER, *KAFKA_SERVICE_USERS)
        upserts = [
            UserScramCredentialUpsertion(user, ScramMechanism.SCRAM_SHA_512, passwords[f"kafka:{user}"])
            for user in users
        ]
        failed = {user: error for user, error in admin.alter_user_scram_credentials(upserts).items() if error}
        rules = [
            ACL(
                principal=f"User:{user}",
                host="*",
                operation=ACLOperation[operation],
                permission_type=ACLPermissionType.ALLOW,
                resource_pattern=ResourcePattern(ResourceType[kind], name, ACLResourcePatternType.LITERAL),
            )
            for user, kind, name, operation in acls()
        ]
        result = admin.create_acls(rules)
        failed.update({str(acl): str(error) for acl, error in result.get("failed", [])})
    finally:
        admin.close()
    if failed:
        raise ServerFailedToStart(
            f"Kafka refused kravsak's users or ACLs: {failed}",
            "read the broker's log; `kravsak down` and `kravsak up` again",
        )


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection((LOOPBACK, port), timeout=0.5):
            return True
    except OSError:
        return False


class LocalKafka:
    name = "Kafka"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.root = settings.home / "kafka"
        self.data_dir = self.root / "data"
        self.config_dir = self.root / "config"
        self.logs_dir = self.root / "logs"
        self.pid_file = self.root / "kafka.pid"
        self.server_log = self.logs_dir / "server.log"
        self.jvm_out = self.logs_dir / "kafka.out"

    # -- what runs ---------------------------------------------------------------------------

    def pid(self) -> int | None:
        pid = read_pid(self.pid_file)
        if pid is None or not pid_alive(pid):
            return None
        command = command_line(pid) or ""
        ours = "kafka.Kafka" in command and str(self.config_dir / "server.properties") in command
        return pid if ours else None

    def state(self) -> ServiceState:
        pid = self.pid()
        return ServiceState(
            name=self.name,
            state="running" if pid else "stopped",
            address=f"{self.settings.kafka_servers} (controller :{self.settings.kafka_controller_port})",
            connect=self.settings.kafka_servers,
            version=self.settings.kafka_version,
            pid=pid,
            data_dir=self.data_dir,
            log_file=self.server_log,
        )

    # -- start -------------------------------------------------------------------------------

    def ensure_running(self, step: Step) -> bool:
        pid = self.pid()
        if pid is not None:
            self._check_running_config(pid)
            if broker_answers(self.settings.kafka_bootstrap, timeout_s=10) is None:
                raise ServerUnreachable(
                    f"this checkout's Kafka (pid {pid}) runs but does not answer on {self.settings.kafka_servers}",
                    f"read {self.server_log}; `kravsak down` then `kravsak up` restarts it",
                )
            return False
        started_at = time.monotonic()
        java = find_java()
        for port, var in (
            (self.settings.kafka_port, "KRAVSAK_KAFKA_PORT"),
            (self.settings.kafka_controller_port, "KRAVSAK_KAFKA_CONTROLLER_PORT"),
            (self.settings.kafka_tls_port, "KRAVSAK_KAFKA_TLS_PORT"),
        ):
            require_port_free(
                port,
                server="Kafka",
                home=self.settings.home,
                port_var=var,
                external_var="KRAVSAK_KAFKA_BOOTSTRAP",
            )
        cluster_id = check_data_version(self.data_dir, self.settings.kafka_version)
        lib = ensure_jars(self.root, self.settings.kafka_version, step)
        passwords = local_secrets.ensure(self.settings.home, kafka_secret_keys())
        self._write_config(passwords[f"kafka:{BROKER_USER}"])
        if cluster_id is None:
            step("formatting Kafka's storage (first run only)")
            cluster_id = self._format(java, lib)
        step(f"starting Kafka {self.settings.kafka_version} on {self.settings.kafka_servers}")
        process = self._spawn(java, lib)
        step(f"waiting for Kafka to answer on {self.settings.kafka_servers}")
        self._wait_until_answering(process)
        step("creating Kafka's users and ACLs")
        provision(self.broker_connection(), passwords)
        if not wait_until(lambda: broker_answers(self.settings.kafka_bootstrap, 3) is not None, 30):
            raise ServerFailedToStart(
                f"Kafka on {self.settings.kafka_servers} does not take kravsak's SCRAM users",
                f"read {self.server_log}; `kravsak down` then `kravsak up` again",
            )
        log.info(
            "kafka.started",
            pid=process.pid,
            bootstrap=self.settings.kafka_servers,
            cluster_id=cluster_id,
            seconds=round(time.monotonic() - started_at, 1),
        )
        return True

    def _check_running_config(self, pid: int) -> None:
        try:
            running = read_properties(self.config_dir / "server.properties").get("listeners", "")
        except OSError:
            return
        wanted = f"{CLIENT_LISTENER}://{LOOPBACK}:{self.settings.kafka_port},"
        if not running.startswith(wanted):
            raise ServerUnreachable(
                f"this checkout's Kafka (pid {pid}) runs with listeners {running}, "
                f"but the settings ask for port {self.settings.kafka_port}",
                "`kravsak down`, then `kravsak up` with the ports you want",
            )

    def broker_connection(self) -> str:
        """The broker's own way in (SASL/PLAIN, super user): for `up`, before any SCRAM user exists."""
        password = local_secrets.password(self.settings.home, f"kafka:{BROKER_USER}")
        login = f"{BROKER_USER}:{quote(password, safe='')}"
        return f"sasl_plaintext://{login}@{LOOPBACK}:{self.settings.kafka_port}?mechanism=PLAIN"

    def _write_config(self, broker_password: str) -> None:
        for folder in (self.root, self.config_dir, self.logs_dir, self.data_dir):
            folder.mkdir(parents=True, exist_ok=True)
            folder.chmod(0o700)
        properties = self.config_dir / "server.properties"
        properties.touch(mode=0o600)
        properties.chmod(0o600)
        certificate = ensure_server_certificate(self.settings.home, self.config_dir, "kafka")
        keystore = self.config_dir / "kafka-keystore.pem"  # Kafka's PEM keystore: the key, then the chain
        keystore.touch(mode=0o600)
        keystore.write_bytes(certificate.key.read_bytes() + certificate.cert.read_bytes())
        properties.write_text(server_properties(self.settings, self.data_dir, broker_password, keystore))
        (self.config_dir / "log4j2.xml").write_text(packaged_file("log4j2.xml"))

    def _java_base(self, java: str, lib: Path) -> list[str]:
        return [
            java,
            f"-Dlog4j2.configurationFile={self.config_dir / 'log4j2.xml'}",
            f"-Dkafka.logs.dir={self.logs_dir}",
            "-Djava.awt.headless=true",
            "-cp",
            f"{lib}/*",
        ]

    def _format(self, java: str, lib: Path) -> str:
        cluster_id = new_cluster_id()
        command = [
            *self._java_base(java, lib),
            "kafka.tools.StorageTool",
            "format",
            "--standalone",
            "-t",
            cluster_id,
            "-c",
            str(self.config_dir / "server.properties"),
        ]
        result = subprocess.run(command, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
        if result.returncode != 0:
            lines = (result.stderr or result.stdout).strip().splitlines() or ["no output"]
            raise ServerFailedToStart(
                f"formatting Kafka's storage in {self.data_dir} failed: {lines[-1]}",
                f"remove {self.data_dir} and run `kravsak up` again",
            )
        (self.data_dir / MARKER).write_text(
            f"# Written by kravsak when it formatted this folder.\n"
            f"kafka.version={self.settings.kafka_version}\ncluster.id={cluster_id}\n"
        )
        return cluster_id

    def _spawn(self, java: str, lib: Path) -> subprocess.Popen[bytes]:
        command = [
            java,
            "-Xms256m",
            f"-Xmx{self.settings.kafka_heap}",
            "-XX:+UseG1GC",
            "-XX:MaxGCPauseMillis=20",
            "-XX:+ExitOnOutOfMemoryError",
            *self._java_base(java, lib)[1:],
            "kafka.Kafka",
            str(self.config_dir / "server.properties"),
        ]
        with self.jvm_out.open("ab") as out:
            out.write(f"\n--- kravsak up at {time.strftime('%Y-%m-%dT%H:%M:%S%z')}\n".encode())
            out.flush()
            # Own session: Ctrl-C in the terminal or the end of `make` does not reach the broker.
            process = subprocess.Popen(
                command,
                cwd=self.root,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                close_fds=True,
            )
        self.pid_file.write_text(f"{process.pid}\n")
        return process

    def _wait_until_answering(self, process: subprocess.Popen[bytes]) -> None:
        deadline = time.monotonic() + self.settings.start_timeout
        while time.monotonic() < deadline:
            exit_code = process.poll()
            if exit_code is not None:
                self.pid_file.unlink(missing_ok=True)
                errors = [line for line in tail(self.server_log, 40).splitlines() if " ERROR " in line]
                reason = errors[-1] if errors else (tail(self.jvm_out, 1) or "no output")
                raise ServerFailedToStart(
                    f"Kafka exited with code {exit_code} while starting: {reason[:300]}",
                    f"read {self.server_log} and {self.jvm_out}; after fixing, `kravsak up` again",
                )
            if _port_open(self.settings.kafka_port) and broker_answers(self.broker_connection(), 3):
                return
            time.sleep(0.5)
        self.stop(lambda _message: None)
        raise ServerFailedToStart(
            f"Kafka did not answer on {self.settings.kafka_servers} within {self.settings.start_timeout:g} s",
            f"read {self.server_log}; raise KRAVSAK_START_TIMEOUT on a slow machine",
        )

    # -- stop --------------------------------------------------------------------------------

    def stop(self, step: Step) -> bool:
        pid = self.pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return False
        step(f"stopping Kafka (pid {pid})")
        _signal_group(pid, signal.SIGTERM)
        if not wait_until(lambda: not _alive_reaping(pid), STOP_TIMEOUT_S):
            log.warning("kafka.kill", pid=pid, after_seconds=STOP_TIMEOUT_S)
            _signal_group(pid, signal.SIGKILL)
            wait_until(lambda: not _alive_reaping(pid), 10)
        self.pid_file.unlink(missing_ok=True)
        log.info("kafka.stopped", pid=pid)
        return True

    def purge(self) -> list[Path]:
        removed = []
        for folder in (self.data_dir, self.logs_dir, self.config_dir):
            if folder.exists():
                shutil.rmtree(folder)
                removed.append(folder)
        return removed


def _signal_group(pid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pid, sig)  # the broker leads its own process group (start_new_session)
    except ProcessLookupError:
        pass
    except PermissionError:
        os.kill(pid, sig)


def _alive_reaping(pid: int) -> bool:
    """pid_alive that also reaps the broker when this process started it (tests, rollback)."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass
    return pid_alive(pid)


class ExternalKafka:
    """A Kafka that someone else runs (KRAVSAK_KAFKA_BOOTSTRAP): checked, never started or stopped."""

    name = "Kafka"

    def __init__(self, settings: Settings) -> None:
        self.bootstrap = settings.kafka_bootstrap
        self.servers = settings.kafka_servers

    def ensure_running(self, step: Step) -> bool:
        step(f"checking Kafka at {self.servers}")
        if broker_answers(self.bootstrap, timeout_s=10) is None:
            raise ServerUnreachable(
                f"Kafka at {self.servers} (KRAVSAK_KAFKA_BOOTSTRAP) does not answer a metadata request",
                "start that broker or correct KRAVSAK_KAFKA_BOOTSTRAP; unset it to let kravsak run its own",
            )
        return False

    def stop(self, step: Step) -> bool:
        return False

    def purge(self) -> list[Path]:
        return []

    def state(self) -> ServiceState:
        cluster = broker_answers(self.bootstrap, timeout_s=5)
        return ServiceState(
            name=self.name,
            state="external" if cluster else "unreachable",
            address=self.servers,
            connect=self.servers,
            version=f"cluster {cluster['cluster_id']}" if cluster else None,
        )
