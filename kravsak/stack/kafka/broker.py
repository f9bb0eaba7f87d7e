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
from kravsak.settings import KAFKA_ADMIN_USER, KAFKA_SERVICE_USERS, KafkaNodePorts, Settings, recorded_kafka_brokers
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


def server_properties(
    settings: Settings,
    data_dir: Path,
    broker_password: str,
    keystore: Path | None = None,
    node: KafkaNodePorts | None = None,
) -> str:
    """server.properties of one node (broker and controller in one JVM; it holds a password: mode 0600).
    With a ``keystore`` (PEM: key and certificate from the local CA) a SASL_SSL listener on the TLS port too.

    One node: a dynamic quorum of itself (formatted ``--standalone``). Several (``settings.kafka_brokers``):
    a static quorum of all of them (``controller.quorum.voters``), every internal topic with
    min(3, nodes) replicas and ``min.insync.replicas`` 2 from three replicas on (ADR 0031)."""
    node = node or settings.kafka_nodes[0]
    nodes = settings.kafka_nodes
    broker = f"{LOOPBACK}:{node.port}"
    controller = f"{LOOPBACK}:{node.controller_port}"
    if len(nodes) == 1:
        quorum = f"controller.quorum.bootstrap.servers={controller}"
    else:
        quorum = "controller.quorum.voters=" + ",".join(
            f"{other.node_id}@{LOOPBACK}:{other.controller_port}" for other in nodes
        )
    replication = min(3, len(nodes))
    min_isr = cluster_min_isr(len(nodes))
    tls_listener = f",SASL_SSL://{LOOPBACK}:{node.tls_port}" if keystore else ""
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
            f"node.id={node.node_id}",
            quorum,
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
            # Internal topics: as many replicas as the cluster allows, up to three.
            f"offsets.topic.replication.factor={replication}",
            "offsets.topic.num.partitions=10",
            f"transaction.state.log.replication.factor={replication}",
            f"transaction.state.log.min.isr={min_isr}",
            "transaction.state.log.num.partitions=10",
            f"share.coordinator.state.topic.replication.factor={replication}",
            f"share.coordinator.state.topic.min.isr={min_isr}",
            f"default.replication.factor={replication}",
            f"min.insync.replicas={min_isr}",
            # Tests join and leave groups all the time; do not wait 3 s for more members.
            "group.initial.rebalance.delay.ms=0",
            "auto.create.topics.enable=false",
            "num.partitions=3",
            "log.retention.hours=168",
            "",
        ]
    )


def cluster_min_isr(nodes: int) -> int:
    """``min.insync.replicas`` of a cluster of ``nodes``: 2 from three replicas on (one node may die and
    every acknowledged write is still on two), else 1. `consumers.topics` caps its topics' value the same way."""
    return max(1, min(2, min(3, nodes) - 1))


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


class KafkaNode:
    """One local node (broker and controller in one JVM). Node 1 lives in `<home>/kafka/` (the layout of
    a single-node stack); node n ≥ 2 in `<home>/kafka/node-<n>/`, with the same folders inside."""

    def __init__(self, settings: Settings, ports: KafkaNodePorts) -> None:
        self.settings = settings
        self.ports = ports
        self.node_id = ports.node_id
        self.kafka_root = settings.home / "kafka"
        self.root = self.kafka_root if ports.node_id == 1 else self.kafka_root / f"node-{ports.node_id}"
        self.data_dir = self.root / "data"
        self.config_dir = self.root / "config"
        self.logs_dir = self.root / "logs"
        self.pid_file = self.root / "kafka.pid"
        self.server_log = self.logs_dir / "server.log"
        self.jvm_out = self.logs_dir / "kafka.out"

    @property
    def address(self) -> str:
        return f"{LOOPBACK}:{self.ports.port}"

    def pid(self) -> int | None:
        pid = read_pid(self.pid_file)
        if pid is None or not pid_alive(pid):
            return None
        command = command_line(pid) or ""
        ours = "kafka.Kafka" in command and str(self.config_dir / "server.properties") in command
        return pid if ours else None

    def require_ports_free(self) -> None:
        first = self.node_id == 1
        for port, var in (
            (self.ports.port, "KRAVSAK_KAFKA_PORT" if first else "KRAVSAK_KAFKA_NODE_PORTS"),
            (self.ports.controller_port, "KRAVSAK_KAFKA_CONTROLLER_PORT" if first else "KRAVSAK_KAFKA_NODE_PORTS"),
            (self.ports.tls_port, "KRAVSAK_KAFKA_TLS_PORT" if first else "KRAVSAK_KAFKA_NODE_PORTS"),
        ):
            require_port_free(
                port,
                server="Kafka" if first else f"Kafka node {self.node_id}",
                home=self.settings.home,
                port_var=var,
                external_var="KRAVSAK_KAFKA_BOOTSTRAP",
            )

    def check_running_config(self, pid: int) -> None:
        try:
            running = read_properties(self.config_dir / "server.properties").get("listeners", "")
        except OSError:
            return
        wanted = f"{CLIENT_LISTENER}://{LOOPBACK}:{self.ports.port},"
        if not running.startswith(wanted):
            raise ServerUnreachable(
                f"this checkout's Kafka node {self.node_id} (pid {pid}) runs with listeners {running}, "
                f"but the settings ask for port {self.ports.port}",
                "`kravsak down`, then `kravsak up` with the ports you want",
            )

    def broker_connection(self) -> str:
        """The broker's own way in (SASL/PLAIN, super user): for `up`, before any SCRAM user exists."""
        password = local_secrets.password(self.settings.home, f"kafka:{BROKER_USER}")
        login = f"{BROKER_USER}:{quote(password, safe='')}"
        return f"sasl_plaintext://{login}@{self.address}?mechanism=PLAIN"

    def write_config(self, broker_password: str) -> None:
        for folder in (self.kafka_root, self.root, self.config_dir, self.logs_dir, self.data_dir):
            folder.mkdir(parents=True, exist_ok=True)
            folder.chmod(0o700)
        properties = self.config_dir / "server.properties"
        properties.touch(mode=0o600)
        properties.chmod(0o600)
        certificate = ensure_server_certificate(self.settings.home, self.config_dir, "kafka")
        keystore = self.config_dir / "kafka-keystore.pem"  # Kafka's PEM keystore: the key, then the chain
        keystore.touch(mode=0o600)
        keystore.write_bytes(certificate.key.read_bytes() + certificate.cert.read_bytes())
        properties.write_text(server_properties(self.settings, self.data_dir, broker_password, keystore, self.ports))
        (self.config_dir / "log4j2.xml").write_text(packaged_file("log4j2.xml"))

    def java_base(self, java: str, lib: Path) -> list[str]:
        return [
            java,
            f"-Dlog4j2.configurationFile={self.config_dir / 'log4j2.xml'}",
            f"-Dkafka.logs.dir={self.logs_dir}",
            "-Djava.awt.headless=true",
            "-cp",
            f"{lib}/*",
        ]

    def format(self, java: str, lib: Path, cluster_id: str) -> None:
        """Format this node's storage for ``cluster_id``: one node as a standalone dynamic quorum, several
        with the static voters of server.properties."""
        standalone = ["--standalone"] if self.settings.kafka_brokers == 1 else []
        command = [
            *self.java_base(java, lib),
            "kafka.tools.StorageTool",
            "format",
            *standalone,
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
            f"node.id={self.node_id}\nbrokers={self.settings.kafka_brokers}\n"
        )

    def spawn(self, java: str, lib: Path) -> subprocess.Popen[bytes]:
        command = [
            java,
            "-Xms256m",
            f"-Xmx{self.settings.kafka_node_heap}",
            "-XX:+UseG1GC",
            "-XX:MaxGCPauseMillis=20",
            "-XX:+ExitOnOutOfMemoryError",
            *self.java_base(java, lib)[1:],
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

    def failed_start(self, process: subprocess.Popen[bytes]) -> ServerFailedToStart | None:
        """The error to raise when the JVM ``process`` has exited while starting; None while it runs."""
        exit_code = process.poll()
        if exit_code is None:
            return None
        self.pid_file.unlink(missing_ok=True)
        errors = [line for line in tail(self.server_log, 40).splitlines() if " ERROR " in line]
        reason = errors[-1] if errors else (tail(self.jvm_out, 1) or "no output")
        return ServerFailedToStart(
            f"Kafka node {self.node_id} exited with code {exit_code} while starting: {reason[:300]}",
            f"read {self.server_log} and {self.jvm_out}; after fixing, `kravsak up` again",
        )

    def answers(self) -> bool:
        return _port_open(self.ports.port) and broker_answers(self.broker_connection(), 3) is not None

    def signal(self, sig: signal.Signals) -> int | None:
        """Send ``sig`` to the node's JVM (SIGKILL: a crash, as the fault tests do); its pid, None if it is down."""
        pid = self.pid()
        if pid is not None:
            _signal_group(pid, sig)
        return pid

    def wait_stopped(self, pid: int) -> None:
        if not wait_until(lambda: not _alive_reaping(pid), STOP_TIMEOUT_S):
            log.warning("kafka.kill", node=self.node_id, pid=pid, after_seconds=STOP_TIMEOUT_S)
            _signal_group(pid, signal.SIGKILL)
            wait_until(lambda: not _alive_reaping(pid), 10)
        self.pid_file.unlink(missing_ok=True)
        log.info("kafka.stopped", node=self.node_id, pid=pid)

    def purge(self) -> list[Path]:
        folders = (self.data_dir, self.logs_dir, self.config_dir) if self.node_id == 1 else (self.root,)
        removed = []
        for folder in folders:
            if folder.exists():
                shutil.rmtree(folder)
                removed.append(folder)
        return removed


class LocalKafka:
    """The local Kafka: ``settings.kafka_brokers`` KRaft nodes on loopback (one by default; `kravsak up
    --brokers 3` for a cluster, ADR 0031). Started together (a quorum needs a majority), stopped together;
    `ensure_running` also starts a node of a running cluster that is down (and lets it catch up)."""

    name = "Kafka"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.nodes = [KafkaNode(settings, ports) for ports in settings.kafka_nodes]
        first = self.nodes[0]
        self.root = first.kafka_root
        self.data_dir = first.data_dir
        self.config_dir = first.config_dir
        self.logs_dir = first.logs_dir
        self.server_log = first.server_log

    def node(self, node_id: int) -> KafkaNode:
        return self.nodes[node_id - 1]

    # -- what runs ---------------------------------------------------------------------------

    def pid(self) -> int | None:
        """Node 1's pid (the single node of the default stack)."""
        return self.nodes[0].pid()

    def state(self) -> ServiceState:
        pids = [node.pid() for node in self.nodes]
        up = [pid for pid in pids if pid]
        if len(self.nodes) == 1:
            address = f"{self.settings.kafka_servers} (controller :{self.settings.kafka_controller_port})"
        else:
            address = f"{self.settings.kafka_servers} ({len(up)} of {len(self.nodes)} nodes up)"
        return ServiceState(
            name=self.name,
            state="running" if up else "stopped",
            address=address,
            connect=self.settings.kafka_servers,
            version=self.settings.kafka_version,
            pid=up[0] if up else None,
            data_dir=self.data_dir if len(self.nodes) == 1 else self.root,
            log_file=self.server_log,
            details=tuple(cluster_report(self, pids)) if len(self.nodes) > 1 and up else (),
        )

    # -- start -------------------------------------------------------------------------------

    def ensure_running(self, step: Step) -> bool:
        """Start the nodes that are down; True when none ran before (this call started the cluster)."""
        down = [node for node in self.nodes if node.pid() is None]
        for node in self.nodes:
            pid = node.pid()
            if pid is not None:
                node.check_running_config(pid)
        if not down:
            if broker_answers(self.settings.kafka_bootstrap, timeout_s=10) is None:
                raise ServerUnreachable(
                    f"this checkout's Kafka (pid {self.pid()}) runs but does not answer on "
                    f"{self.settings.kafka_servers}",
                    f"read {self.server_log}; `kravsak down` then `kravsak up` restarts it",
                )
            return False
        self.start(down, step)
        return len(down) == len(self.nodes)

    def start(self, down: list[KafkaNode], step: Step) -> None:
        """Start ``down`` (nodes of this cluster that do not run), wait until each answers, make the users
        and ACLs. A node of a running cluster catches up from the others."""
        started_at = time.monotonic()
        java = find_java()
        for node in down:
            node.require_ports_free()
        cluster_id, unformatted = self._check_data()
        lib = ensure_jars(self.root, self.settings.kafka_version, step)
        passwords = local_secrets.ensure(self.settings.home, kafka_secret_keys())
        for node in down:
            node.write_config(passwords[f"kafka:{BROKER_USER}"])
        if unformatted:
            step("formatting Kafka's storage (first run only)")
            cluster_id = cluster_id or new_cluster_id()
            for node in unformatted:
                node.format(java, lib, cluster_id)
        nodes = f"{len(down)} of {len(self.nodes)} nodes" if len(self.nodes) > 1 else ""
        step(
            f"starting Kafka {self.settings.kafka_version} {nodes} on {self.settings.kafka_servers}".replace("  ", " ")
        )
        processes = {node.node_id: node.spawn(java, lib) for node in down}
        step(f"waiting for Kafka to answer on {self.settings.kafka_servers}")
        self._wait_until_answering(down, processes)
        step("creating Kafka's users and ACLs")
        provision(self.broker_connection(), passwords)
        if not wait_until(lambda: broker_answers(self.settings.kafka_bootstrap, 3) is not None, 30):
            raise ServerFailedToStart(
                f"Kafka on {self.settings.kafka_servers} does not take kravsak's SCRAM users",
                f"read {self.server_log}; `kravsak down` then `kravsak up` again",
            )
        log.info(
            "kafka.started",
            nodes=[node.node_id for node in down],
            pids=[process.pid for process in processes.values()],
            bootstrap=self.settings.kafka_servers,
            cluster_id=cluster_id,
            seconds=round(time.monotonic() - started_at, 1),
        )

    def _check_data(self) -> tuple[str | None, list[KafkaNode]]:
        """The cluster id of the formatted nodes and the nodes still to format: all or none, never a mix of
        clusters or of cluster sizes."""
        fix = "`kravsak reset --yes` deletes the local data, then `kravsak up` (with the --brokers you want)"
        ids = {node.node_id: check_data_version(node.data_dir, self.settings.kafka_version) for node in self.nodes}
        formatted = {cluster_id for cluster_id in ids.values() if cluster_id}
        unformatted = [node for node in self.nodes if ids[node.node_id] is None]
        recorded = recorded_kafka_brokers(self.settings.home)
        if recorded is not None and recorded != len(self.nodes):
            raise DataFromOtherVersion(
                f"the local Kafka in {self.root} was formatted as {recorded} node(s); the settings ask for "
                f"{len(self.nodes)} (KRAVSAK_KAFKA_BROKERS or `kravsak up --brokers`)",
                fix,
            )
        if len(formatted) > 1 or (formatted and unformatted):
            raise DataFromOtherVersion(
                f"the local Kafka nodes in {self.root} do not belong to one cluster "
                f"(formatted: {sorted(n for n, c in ids.items() if c)}, empty: {[n.node_id for n in unformatted]})",
                fix,
            )
        return (formatted.pop() if formatted else None), unformatted

    def broker_connection(self) -> str:
        """The broker's own way in (SASL/PLAIN, super user) on every node: for `up`, before any SCRAM user."""
        first = self.nodes[0].broker_connection()
        scheme_login, _, rest = first.rpartition("@")
        _address, _, query = rest.partition("?")
        return f"{scheme_login}@{','.join(node.address for node in self.nodes)}?{query}"

    def _wait_until_answering(self, nodes: list[KafkaNode], processes: dict[int, subprocess.Popen[bytes]]) -> None:
        deadline = time.monotonic() + self.settings.start_timeout
        waiting = list(nodes)
        while waiting and time.monotonic() < deadline:
            for node in list(waiting):
                failure = node.failed_start(processes[node.node_id])
                if failure is not None:
                    self.stop(lambda _message: None)
                    raise failure
                if node.answers():
                    waiting.remove(node)
            if waiting:
                time.sleep(0.5)
        if waiting:
            self.stop(lambda _message: None)
            raise ServerFailedToStart(
                f"Kafka node(s) {[node.node_id for node in waiting]} did not answer on "
                f"{', '.join(node.address for node in waiting)} within {self.settings.start_timeout:g} s",
                f"read {waiting[0].server_log}; raise KRAVSAK_START_TIMEOUT on a slow machine",
            )

    # -- stop --------------------------------------------------------------------------------

    def stop(self, step: Step) -> bool:
        """Stop every node: SIGTERM to all at once (a node waiting for the others' votes would otherwise
        wait for nodes already gone), then wait for each."""
        running = {node.node_id: pid for node in self.nodes if (pid := node.pid()) is not None}
        for node in self.nodes:
            if node.node_id not in running:
                node.pid_file.unlink(missing_ok=True)
        if not running:
            return False
        step(f"stopping Kafka (pid {', '.join(str(pid) for pid in running.values())})")
        for pid in running.values():
            _signal_group(pid, signal.SIGTERM)
        for node in self.nodes:
            if node.node_id in running:
                node.wait_stopped(running[node.node_id])
        return True

    def purge(self) -> list[Path]:
        removed = []
        for node in self.nodes:
            removed.extend(node.purge())
        for extra in sorted(self.root.glob("node-*")):  # nodes of a larger cluster this home ran before
            if extra.is_dir() and extra not in removed:
                shutil.rmtree(extra)
                removed.append(extra)
        return removed


def cluster_report(kafka: LocalKafka, pids: list[int | None]) -> list[str]:
    """`kravsak status` lines of a cluster: every node, the active controller (the KRaft quorum's leader),
    under-replicated and offline partitions."""
    bootstrap = kafka.settings.kafka_bootstrap
    leader: int | None = None
    partitions: list[dict[str, Any]] = []
    try:
        admin = KafkaAdminClient(
            **client_args(bootstrap), client_id="kravsak-status", request_timeout_ms=5000, bootstrap_timeout_ms=5000
        )
    except (KafkaError, OSError) as exc:
        return [f"cluster: no node answers ({exc})"]
    try:
        quorum = admin.describe_metadata_quorum()
        leader = quorum["topics"][0]["partitions"][0]["leader_id"]
        for topic in admin.describe_topics():
            partitions.extend(topic.get("partitions", []))
    except (KafkaError, OSError, KeyError, IndexError) as exc:
        log.warning("kafka.status_incomplete", error=str(exc))
    finally:
        admin.close()
    lines = []
    for node, pid in zip(kafka.nodes, pids, strict=True):
        role = " · [bold]active controller[/]" if node.node_id == leader else ""
        state = f"running (pid {pid})" if pid else "[red]down[/]"
        lines.append(f"node {node.node_id}: {state} · {node.address} (controller :{node.ports.controller_port}){role}")
    under = sum(1 for p in partitions if len(p.get("isr_nodes", [])) < len(p.get("replica_nodes", [])))
    offline = sum(1 for p in partitions if p.get("leader_id", -1) == -1)
    style = "red" if under or offline else "green"
    lines.append(
        f"partitions: {len(partitions)} · [{style}]{under} under-replicated · {offline} offline[/]"
        + ("" if leader is not None else " · active controller unknown")
    )
    return lines


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
