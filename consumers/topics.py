"""The Kafka topics kravsak writes, created idempotently with explicit partitions and configs.

The broker does not auto-create topics (see `kravsak.stack.kafka.broker`): whoever needs a topic
calls `ensure_topics` with its `TopicSpec`. For each topic that is

- missing: created with the spec's partition count, replication factor and configs;
- present with the spec's partition count: its configs are brought to the spec's values (each
  change logged with the old value), so a topic created by hand or by an older kravsak converges;
- present with another partition count: `TopicMismatch`, nothing changed. The partition of a
  case is `murmur2(case key) % partitions`; adding partitions would move cases to other
  partitions and break per-case order for consumers, and Kafka cannot remove partitions.

`kravsak.case-events` keeps every event forever (`retention.ms=-1`: it is the audit stream);
`kravsak.schemas` is compacted, keyed by schema fingerprint, so the newest value per schema stays.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import structlog
from kafka import KafkaAdminClient
from kafka.admin import AlterConfigOp, ConfigResource, ConfigResourceType
from kafka.errors import KafkaError

from consumers.kafka_access import client_args
from domain.errors import ServiceError

log = structlog.get_logger(__name__)

CASE_EVENTS_TOPIC = "kravsak.case-events"
SCHEMAS_TOPIC = "kravsak.schemas"
DEBTORS_TOPIC = "kravsak.debtors"
DEFAULT_CASE_EVENTS_PARTITIONS = 12

_UNKNOWN_TOPIC = 3
_TOPIC_ALREADY_EXISTS = 36


class TopicMismatch(ServiceError):
    """An existing topic differs from its spec in a way kravsak must not change by itself."""


class TopicSetupFailed(ServiceError):
    """The broker refused to create or alter a topic."""


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    replication: int | None = None
    """None: min(3, number of brokers), decided when the topic is created."""
    configs: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class TopicOutcome:
    name: str
    action: Literal["created", "exists", "updated"]
    partitions: int
    changed: Mapping[str, tuple[str | None, str]] = field(default_factory=dict)
    """config key -> (value before, value now), for the configs `ensure_topics` changed."""


def case_events_spec(
    name: str = CASE_EVENTS_TOPIC, *, partitions: int | None = None, replication: int | None = None
) -> TopicSpec:
    """`kravsak.case-events`: every case event, keyed by case, kept forever.

    ``partitions`` None: `DEFAULT_CASE_EVENTS_PARTITIONS`; ``replication`` None: min(3, brokers).
    (The composition root passes `KRAVSAK_CASE_EVENTS_PARTITIONS` / `KRAVSAK_TOPIC_REPLICATION`.)"""
    return TopicSpec(
        name,
        partitions if partitions is not None else DEFAULT_CASE_EVENTS_PARTITIONS,
        replication,
        {
            "cleanup.policy": "delete",
            "retention.ms": "-1",
            "retention.bytes": "-1",
            "compression.type": "producer",
            # the value given here is capped to the replication factor in ensure_topics
            "min.insync.replicas": "2",
        },
    )


def schemas_spec(name: str = SCHEMAS_TOPIC, *, replication: int | None = None) -> TopicSpec:
    """`kravsak.schemas`: every writer schema keyed by fingerprint hex, compacted."""
    return TopicSpec(
        name,
        1,
        replication,
        {"cleanup.policy": "compact", "min.compaction.lag.ms": "0", "min.insync.replicas": "2"},
    )


def debtors_spec(name: str = DEBTORS_TOPIC, *, replication: int | None = None) -> TopicSpec:
    """`kravsak.debtors`: each debtor's current contact data, sealed, keyed by debtor id, compacted.

    Segments roll hourly and a dirty log is compacted within a day (`max.compaction.lag.ms`), so a
    value replaced or erased leaves the log soon; tombstones stay 7 days for consumers that were down.
    The values are sealed under each debtor's own key (`personal.stream`): the log holds no readable
    personal data at any time, compaction only frees the space."""
    return TopicSpec(
        name,
        6,
        replication,
        {
            "cleanup.policy": "compact",
            "min.compaction.lag.ms": "0",
            "max.compaction.lag.ms": "86400000",
            "segment.ms": "3600000",
            "delete.retention.ms": "604800000",
            "min.cleanable.dirty.ratio": "0.1",
            "min.insync.replicas": "2",
        },
    )


def default_specs(*, partitions: int | None = None, replication: int | None = None) -> list[TopicSpec]:
    return [case_events_spec(partitions=partitions, replication=replication), schemas_spec(replication=replication)]


def ensure_topics(
    admin: KafkaAdminClient, specs: Sequence[TopicSpec], *, timeout_s: float = 30.0
) -> list[TopicOutcome]:
    """Create the missing topics, align the configs of existing ones; raise on a partition mismatch."""
    brokers = len(admin.describe_cluster()["brokers"]) or 1
    wanted = {spec.name: _resolved(spec, brokers) for spec in specs}
    existing = _describe(admin, list(wanted))
    missing = [name for name in wanted if name not in existing]
    created: set[str] = set()
    if missing:
        request = {
            name: {
                "num_partitions": wanted[name].partitions,
                "replication_factor": wanted[name].replication,
                "configs": dict(wanted[name].configs),
            }
            for name in missing
        }
        response = admin.create_topics(request, timeout_ms=int(timeout_s * 1000), raise_errors=False)
        for topic in response["topics"]:
            code = topic["error_code"]
            if code == 0:
                created.add(topic["name"])
            elif code != _TOPIC_ALREADY_EXISTS:  # another process created it meanwhile: check it below
                raise TopicSetupFailed(
                    f"Kafka refused to create topic {topic['name']}: {topic.get('error_message') or code}",
                    "check the broker log and the topic settings (KRAVSAK_CASE_EVENTS_PARTITIONS, "
                    "KRAVSAK_TOPIC_REPLICATION)",
                )
        admin.wait_for_topics(list(missing), timeout_ms=int(timeout_s * 1000))
        existing = _describe_all(admin, list(wanted), timeout_s)
    outcomes = []
    for name, spec in wanted.items():
        partitions = existing[name]
        if partitions != spec.partitions:
            raise TopicMismatch(
                f"topic {name} exists with {partitions} partitions, kravsak is configured for {spec.partitions}",
                f"set KRAVSAK_CASE_EVENTS_PARTITIONS={partitions} to use the topic as it is; changing the count "
                "moves cases between partitions and breaks per-case order, so it needs a migration to a new topic",
            )
        if name in created:
            log.info(
                "topic.created",
                topic=name,
                partitions=partitions,
                replication=spec.replication,
                configs=dict(spec.configs),
            )
            outcomes.append(TopicOutcome(name, "created", partitions))
            continue
        changed = _align_configs(admin, spec)
        outcomes.append(TopicOutcome(name, "updated" if changed else "exists", partitions, changed))
    return outcomes


def ensure_topics_at(bootstrap: str, specs: Sequence[TopicSpec], *, timeout_s: float = 30.0) -> list[TopicOutcome]:
    """`ensure_topics` with an admin client of its own."""
    deadline = time.monotonic() + timeout_s
    admin = KafkaAdminClient(
        **client_args(bootstrap),
        client_id="kravsak-topics",
        request_timeout_ms=int(timeout_s * 1000),
        bootstrap_timeout_ms=int(timeout_s * 1000),
    )
    try:
        return ensure_topics(admin, specs, timeout_s=max(deadline - time.monotonic(), 1.0))
    finally:
        admin.close()


def _resolved(spec: TopicSpec, brokers: int) -> TopicSpec:
    replication = spec.replication or min(3, brokers)
    configs = dict(spec.configs)
    if "min.insync.replicas" in configs:
        # with fewer replicas than min.insync.replicas every acks=all write would fail
        configs["min.insync.replicas"] = str(max(1, min(int(configs["min.insync.replicas"]), replication - 1)))
    return TopicSpec(spec.name, spec.partitions, replication, configs)


def _describe_all(admin: KafkaAdminClient, names: list[str], timeout_s: float) -> dict[str, int]:
    """`_describe` until every topic of ``names`` is there: on a cluster a topic just created reaches the
    other brokers' metadata a moment later (ADR 0031), and the broker asked may be one of them."""
    deadline = time.monotonic() + timeout_s
    while True:
        counts = _describe(admin, names)
        missing = [name for name in names if name not in counts]
        if not missing:
            return counts
        if time.monotonic() > deadline:
            raise TopicSetupFailed(
                f"Kafka created topic(s) {', '.join(missing)} but does not describe them after {timeout_s:g} s",
                "check that every broker of the cluster runs (`kravsak status`) and read the controller's log",
            )
        time.sleep(0.2)


def _describe(admin: KafkaAdminClient, names: list[str]) -> dict[str, int]:
    """Partition count of each topic that exists."""
    counts: dict[str, int] = {}
    for topic in admin.describe_topics(names):
        code = topic.get("error_code", 0)
        if code == _UNKNOWN_TOPIC:
            continue
        if code != 0:
            raise TopicSetupFailed(
                f"cannot describe topic {topic['name']}: error code {code}",
                "check that the broker runs and this client may describe topics",
            )
        counts[topic["name"]] = len(topic["partitions"])
    return counts


def _align_configs(admin: KafkaAdminClient, spec: TopicSpec) -> dict[str, tuple[str | None, str]]:
    resource = ConfigResource(ConfigResourceType.TOPIC, spec.name, {key: None for key in spec.configs})
    described: dict[str, Any] = admin.describe_configs([resource], config_filter="all")["topic"][spec.name]
    current = {key: (entry or {}).get("value") for key, entry in described.items()}
    drift = {key: (current.get(key), value) for key, value in spec.configs.items() if current.get(key) != value}
    if not drift:
        return {}
    change = ConfigResource(
        ConfigResourceType.TOPIC, spec.name, {key: (AlterConfigOp.SET, new) for key, (_, new) in drift.items()}
    )
    try:
        result = admin.alter_configs([change])["topic"][spec.name]
    except (KafkaError, ValueError, KeyError) as exc:
        result = exc
    if result != "OK":
        raise TopicSetupFailed(
            f"cannot set {', '.join(f'{k}={v}' for k, (_, v) in drift.items())} on topic {spec.name}: {result}",
            "set the configs by hand (kafka-configs.sh) or give this client ALTER_CONFIGS on the topic",
        )
    for key, (before, after) in drift.items():
        log.warning("topic.config_updated", topic=spec.name, config=key, before=before, after=after)
    return drift
