"""How every Kafka client of kravsak is configured: one connection string, one function (ADR 0027).

A connection string is what ``Endpoints.kafka_bootstrap`` gives and every service passes on:

    host:port[,host:port]                                       PLAINTEXT, no credentials
    sasl_plaintext://user:password@host:port[,host:port]        SASL/SCRAM-SHA-512 over TCP
    sasl_ssl://user:password@host:port?cafile=/path/ca.pem      SASL/SCRAM-SHA-512 over TLS
    ssl://host:port?cafile=/path/ca.pem                         TLS only

The user and password are URL-quoted; ``mechanism=`` in the query picks another SASL mechanism
(``SCRAM-SHA-256``, ``PLAIN``). ``client_args`` turns it into kafka-python's keyword arguments;
every ``KafkaProducer``, ``KafkaConsumer`` and ``KafkaAdminClient`` in the code base is built with
them (a unit test greps for any that is not). ``servers`` is the string without credentials, for
logs and messages.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qs, unquote

from kafka.structs import TopicPartition

PROTOCOLS = ("plaintext", "sasl_plaintext", "sasl_ssl", "ssl")
MECHANISMS = ("SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN")
DEFAULT_MECHANISM = "SCRAM-SHA-512"


class BadConnectionString(ValueError):
    """A Kafka connection string that cannot be used; the message says which part and why."""


def _parts(connection: str) -> tuple[str, str, str, list[str], dict[str, str]]:
    text = connection.strip()
    scheme, sep, rest = text.partition("://")
    if not sep:
        scheme, rest = "plaintext", text
    scheme = scheme.lower()
    if scheme not in PROTOCOLS:
        raise BadConnectionString(f"{scheme!r} is not a Kafka security protocol ({', '.join(PROTOCOLS)})")
    rest, _, query = rest.partition("?")
    login, at, hosts = rest.rpartition("@")
    user, _, password = login.partition(":") if at else ("", "", "")
    params = {key: values[-1] for key, values in parse_qs(query).items()}
    servers = [server.strip() for server in hosts.split(",")]
    for server in servers:
        host, colon, port = server.rpartition(":")
        if not colon or not host or not port.isdigit():
            raise BadConnectionString(f"{server!r} is not host:port")
    if (user or password) and not scheme.startswith("sasl"):
        raise BadConnectionString(f"a user and password need sasl_plaintext:// or sasl_ssl://, not {scheme}://")
    if scheme.startswith("sasl") and not user:
        raise BadConnectionString(f"{scheme}:// needs user:password@ before the servers")
    return scheme, unquote(user), unquote(password), servers, params


def check(connection: str) -> None:
    """Raises BadConnectionString when ``connection`` cannot be used."""
    args = client_args(connection)
    mechanism = args.get("sasl_mechanism")
    if mechanism is not None and mechanism not in MECHANISMS:
        raise BadConnectionString(f"mechanism={mechanism!r} is not one of {', '.join(MECHANISMS)}")


def client_args(connection: str) -> dict[str, Any]:
    """kafka-python's keyword arguments for ``connection``: servers, security protocol, SASL and TLS."""
    scheme, user, password, servers, params = _parts(connection)
    args: dict[str, Any] = {"bootstrap_servers": servers, "security_protocol": scheme.upper()}
    if scheme.startswith("sasl"):
        args.update(
            sasl_mechanism=params.get("mechanism", DEFAULT_MECHANISM).upper(),
            sasl_plain_username=user,
            sasl_plain_password=password,
        )
    if scheme.endswith("ssl"):
        args["ssl_check_hostname"] = True
        if params.get("cafile"):
            args["ssl_cafile"] = params["cafile"]
    return args


def servers(connection: str) -> str:
    """The servers of ``connection`` with their protocol and user, never the password: for logs and messages."""
    try:
        scheme, user, _password, hosts, _params = _parts(connection)
    except BadConnectionString:
        return "<unusable Kafka connection string>"
    joined = ",".join(hosts)
    if scheme == "plaintext":
        return joined
    return f"{scheme}://{user + '@' if user else ''}{joined}"


METADATA_RETRY_BACKOFF_MS = 20
"""Least time between two metadata requests of a producer (kafka-python's default: 100 ms)."""


def shorten_metadata_backoff(client: Any, backoff_ms: int = METADATA_RETRY_BACKOFF_MS) -> bool:
    """Lets a client ask for a topic's metadata ``backoff_ms`` after its previous metadata request, not 100 ms.

    kafka-python 3.0.12 builds a client's ``ClusterMetadata`` without the client's ``retry_backoff_ms``, so the
    first ``partitions_for`` after the bootstrap's own metadata request always waited the default 100 ms: a third
    of a publisher's start (bench README, "Publish"). This sets the value on the client's metadata, where that
    version keeps it; False (nothing changed) where a version keeps it elsewhere (a unit test names the version
    that does). Failed refreshes still back off on the connection's own exponential back-off."""
    config = getattr(getattr(client, "_metadata", None), "config", None)
    if not isinstance(config, dict) or "retry_backoff_ms" not in config:
        return False
    config["retry_backoff_ms"] = backoff_ms
    return True


class RecordAppender:
    """``KafkaProducer.send`` for a publisher's prepared records, without the checks whose answers it knows (ADR 0044).

    kafka-python's ``send`` checks, per record, what a publisher's records never vary: the producer's serializers,
    the headers' types, the topic's metadata, the partition against it, the record's size against
    ``max_request_size``; and it formats a debug line (``str(producer)``) whether or not debug is on. That was a
    fifth of the publisher's own CPU per event. The appender checks them once — the producer has no serializers and
    no transactions, the topic's partitions are the ones ``partitions`` names, read from the producer's metadata —
    and then does what ``send`` does after its checks: the record appended to its partition's batch in the
    producer's accumulator, the sender woken when that batch is full or new. The future, the batches, the
    idempotent producer's sequence numbers and the delivery are the producer's own, as with ``send``.

    A record ``send`` could refuse (a partition not in ``partitions``, a key and value near ``max_request_size``)
    goes through ``send`` itself, so it fails as it would have. kafka-python 3.0.12 keeps the accumulator and the
    sender where ``lean`` looks for them; on a version that does not (``lean`` False, logged by the caller) every
    record goes through ``send``, and a unit test names the version."""

    def __init__(self, producer: Any, topic: str, partitions: Iterable[int]) -> None:
        self.producer, self.topic = producer, topic
        self._send = producer.send
        accumulator: Any = getattr(producer, "_accumulator", None)
        sender: Any = getattr(producer, "_sender", None)
        config = getattr(producer, "config", {})
        manager = getattr(producer, "_transaction_manager", None)
        self.lean = (
            callable(getattr(accumulator, "append", None))
            and callable(getattr(sender, "wakeup", None))
            and _appends_by_partition(accumulator)
            and config.get("key_serializer") is None
            and config.get("value_serializer") is None
            and not (manager is not None and manager.is_transactional())
        )
        self._append = accumulator.append if self.lean else None
        self._wakeup = sender.wakeup if self.lean else None
        # a record this size or larger goes through ``send``, whose size check is exact (headers and framing)
        self._largest = int(config.get("max_request_size", 1_048_576)) // 2
        self._partitions = {p: TopicPartition(topic, p) for p in partitions}

    def __len__(self) -> int:
        """The topic's partition count it was made for."""
        return len(self._partitions)

    def __call__(self, key: bytes, value: bytes, headers: list[tuple[str, bytes]], partition: int) -> Any:
        """The record sent to ``partition`` of the topic: the producer's future for it, as ``send`` returns."""
        tp = self._partitions.get(partition)
        if self._append is None or tp is None or len(key) + len(value) >= self._largest:
            return self._send(self.topic, key=key, value=value, headers=headers, partition=partition)
        future, full, new, _ = self._append(tp, None, key, value, headers)
        if full or new:
            self._wakeup()  # type: ignore[misc]  # set with _append
        return future


def _appends_by_partition(accumulator: Any) -> bool:
    """Whether the accumulator's ``append`` takes (tp, timestamp_ms, key, value, headers) first, as kafka-python
    3.0.12's does and ``RecordAppender`` calls it."""
    try:
        names = list(inspect.signature(accumulator.append).parameters)
    except (TypeError, ValueError):
        return False
    return names[:5] == ["tp", "timestamp_ms", "key", "value", "headers"]
