"""`kravsak verify --against-store`: the read models against a fold of the event store itself (ADR 0027).

`projector.verify` rebuilds from the topic, so a record that was put on the topic without ever being
stored (a forged one, a wrong producer) is in the rebuild too and nobody sees it. Here the events
come from PostgreSQL instead: every stored event up to the publisher's position, encoded exactly as
the publisher encodes it, applied through the same ``Applier`` into aside schemas
(``kravsak_<name><suffix>__store``, their own cases store), then compared table by table with the
live projections. Columns that only say where a record lay on the topic (``topic``, ``partition``,
``offset``) and the offsets table are left out of the comparison: the fold has no topic.

Run it when the pipeline has caught up (`kravsak status`: lag 0); a live projection that lags
the store shows as rows ``only rebuilt``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import psycopg

from consumers.endpoints import Endpoints
from consumers.projector import (
    CORE_PROJECTIONS,
    SCHEMAS_DIR,
    Applier,
    Decoder,
    Difference,
    Message,
    Target,
    _compare,
    _fresh_schema,
    cases_schema_for,
    ensure_projection,
    projection_named,
)
from consumers.publisher import read_position
from consumers.topics import CASE_EVENTS_TOPIC
from consumers.wire.codec import SchemaStore, encode
from consumers.wire.envelope import PartyIndex, case_key, event_record
from domain.application import CollectionApp
from projections.base import schema_name

STORE = "<event store>"
"""The topic name the fold's messages carry: they come from no topic."""
WHERE_ON_THE_TOPIC = ("topic", "partition", "offset")


def store_messages(
    app: CollectionApp, schemas: SchemaStore, *, upto: int, batch: int = 5000
) -> Iterator[list[Message]]:
    """The stored events 1..``upto`` as the publisher puts them on the topic, in store order, in batches
    (one partition, offsets counting from 0: the case order is the store's)."""
    parties = PartyIndex()  # from position 1 every claim's parties are learned from its earlier events
    offset, start = 0, 1
    while start <= upto:
        notifications = app.recorder.select_notifications(start=start, limit=min(batch, upto - start + 1))
        if not notifications:
            return
        out = []
        for n in notifications:
            if n.id > upto:
                break
            event = app.mapper.to_domain_event(n)
            parties.learn(event)
            name, record = event_record(event, position=n.id, parties=parties)
            out.append(Message(STORE, 0, offset, case_key(event), encode(record, schemas.latest(name))))
            offset += 1
        if out:
            yield out
        start = notifications[-1].id + 1


def verify_against_store(
    endpoints: Endpoints,
    names: Sequence[str] = CORE_PROJECTIONS,
    *,
    pg_schema: str = "public",
    publisher_name: str = CASE_EVENTS_TOPIC,
    schemas_dir: Path = SCHEMAS_DIR,
    schema_suffix: str = "",
    progress: Callable[[int], None] | None = None,
) -> list[Difference]:
    """Fold the event store (up to the publisher's position) aside and compare it with the live projections."""
    schemas = SchemaStore.from_directory(schemas_dir)
    projections = [projection_named(name) for name in names]
    live = {p.name: schema_name(p.name, suffix=schema_suffix) for p in projections}
    aside = {p.name: schema_name(p.name, suffix=f"{schema_suffix}__store") for p in projections}
    cases = cases_schema_for(f"{schema_suffix}__store")
    overrides = {"POSTGRES_SCHEMA": pg_schema} if pg_schema != "public" else {}
    app = CollectionApp(endpoints.eventsourcing_env(**overrides))
    differences: list[Difference] = []
    try:
        with psycopg.connect(endpoints.pg_dsn) as conn:
            upto = read_position(conn, publisher_name, pg_schema)
            conn.commit()
            for p in projections:
                ensure_projection(conn, p, live[p.name], cases_schema_for(schema_suffix))
                _fresh_schema(conn, p, aside[p.name], cases)
            try:
                applier = Applier(
                    conn, [Target(p, aside[p.name]) for p in projections], Decoder(schemas), cases_schema=cases
                )
                for batch in store_messages(app, schemas, upto=upto):
                    result = applier.apply_batch(batch)
                    if result.gaps:
                        raise RuntimeError(f"fold of the event store: unexpected gap {result.gaps}")
                    if progress is not None:
                        progress(len(batch))
                for p in projections:
                    differences += _without_topic_places(
                        _compare(conn, p.name, live[p.name], aside[p.name], ignore=WHERE_ON_THE_TOPIC)
                    )
            finally:
                with conn.transaction():
                    for p in projections:
                        conn.execute(f'DROP SCHEMA IF EXISTS "{aside[p.name]}" CASCADE')
                    conn.execute(f'DROP SCHEMA IF EXISTS "{cases}" CASCADE')
    finally:
        app.close()
    return differences


def _without_topic_places(differences: list[Difference]) -> list[Difference]:
    """The offsets table says where each projection is on the topic: the fold has no topic."""
    return [d for d in differences if d.table != "offsets"]
