"""`verify --against-store` catches a record that never came from the event store; `verify` cannot (ADR 0027).

The forger holds the admin's credentials (the only one besides the publisher who may write a topic):
it puts events on the topic that look genuine — the next payments and invoices of the stored cases —
but were never stored; the projector applies them, the ledger shows them.
Rebuilt from the topic the forged record is there again, so `verify` finds no difference; folded
from the event store it is not, so `verify --against-store` reports it.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from consumers.projector import rebuild, verify
from consumers.publisher import PublisherOptions
from consumers.store_verify import verify_against_store
from kravsak import services
from kravsak.settings import Settings
from kravsak.stack import ServiceState
from tests.support.stack import (
    delete_topics,
    drop_schemas,
    encoded_workload,
    produce,
    scratch_event_store,
)

pytestmark = pytest.mark.integration

NAMES = ("ledger", "parties")
STORED = 300


def test_a_forged_record_is_caught_only_against_the_store(
    settings: Settings, stack: list[ServiceState], unique: Callable[[str], str]
) -> None:
    schema, topic = unique("store").replace("-", "_"), unique("forged")
    suffix = "_" + unique("v").replace("-", "_")
    options = PublisherOptions(topic=topic, schemas_topic=f"{topic}-schemas", pg_schema=schema, partitions=3)
    workload = encoded_workload(STORED + 100)
    stored = workload.app.recorder.select_notifications(start=1, limit=STORED)
    try:
        with scratch_event_store(settings, schema, stored):
            services.publish(settings, options, once=True)  # as the publisher's own role and user
            for name in NAMES:
                rebuild(settings.pg_dsn, settings.kafka_bootstrap, name, topic=topic, schema_suffix=suffix)
            honest = verify_against_store(settings, NAMES, pg_schema=schema, publisher_name=topic, schema_suffix=suffix)

            # the same office's next events, genuine-looking (the next versions of stored cases), never stored
            forged = workload.records[STORED : STORED + 6]
            produce(settings.kafka_bootstrap, topic, forged)  # the owner's settings carry the admin user
            for name in NAMES:
                rebuild(settings.pg_dsn, settings.kafka_bootstrap, name, topic=topic, schema_suffix=suffix)
            from_topic = verify(settings.pg_dsn, settings.kafka_bootstrap, NAMES, topic=topic, schema_suffix=suffix)
            from_store = verify_against_store(
                settings, NAMES, pg_schema=schema, publisher_name=topic, schema_suffix=suffix
            )
    finally:
        delete_topics(settings.kafka_bootstrap, [topic, f"{topic}-schemas"])
        drop_schemas(settings.pg_dsn, suffix, NAMES)

    assert honest == []  # the fold of the store equals what the topic built, before the forgery
    assert from_topic == []  # the rebuild from the topic has the forged record too
    assert {d.projection for d in from_store} >= {"ledger"}
    assert all(d.only_live > 0 for d in from_store)  # every difference has rows that only the forgery made
