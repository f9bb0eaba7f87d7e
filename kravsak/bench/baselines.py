"""The baselines each figure is measured next to: a plain eventsourcing ``Application`` saving one
minimal event per command, a raw Kafka producer sending the publisher's records, and eventsourcing's
own ``ProjectionRunner`` applying the same three projections."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import psycopg
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import Tracking
from eventsourcing.postgres import PostgresTrackingRecorder
from eventsourcing.projection import Projection, ProjectionRunner
from psycopg.rows import tuple_row

from consumers.preparer import Prepared, Preparer
from consumers.projector import (
    SCHEMAS_DIR,
    Decoder,
    all_projections,
    cases_schema_for,
    ensure_projection,
)
from consumers.projector import Target as ProjectionTarget
from consumers.publisher import Publisher, PublisherOptions, max_notification_id
from consumers.topics import case_events_spec, ensure_topics_at
from consumers.wire.codec import SchemaStore, encode
from consumers.wire.envelope import PartyIndex, event_record, stored_parties
from domain.application import CollectionApp
from kravsak.bench.report import progress_bar
from kravsak.bench.scratch import app_for
from kravsak.bench.stages import Resources
from kravsak.bench.workload import EVENTS_PER_CLAIM
from kravsak.settings import Settings
from projections.base import ProjectedEvent, schema_name
from projections.casefold import CaseFolder


class Tally(Aggregate):
    """The smallest aggregate that records something: one event per command."""

    def __init__(self) -> None:
        self.total = 0

    @event("Counted")
    def count(self, amount: int) -> None:
        self.total += amount


class Tallies(Application[Any]):
    """A plain eventsourcing application: get, one event, save; one transaction per command."""

    def open_tally(self) -> Any:
        tally = Tally()
        self.save(tally)
        return tally.id

    def count(self, tally_id: Any, amount: int) -> None:
        tally: Tally = self.repository.get(tally_id)
        tally.count(amount)
        self.save(tally)


def measure_plain_ingest(settings: Settings, resources: Resources, events: int, time_box_s: float) -> dict[str, Any]:
    """``events`` commands of ``Tallies``, each its own save; a tally takes ~``EVENTS_PER_CLAIM``
    events as a claim does (the first creates it, the others load it first). One commit per
    command costs the same at any length of the log, so the run stops at ``time_box_s``."""
    schema = resources.schema("plain")
    app = Tallies(settings.eventsourcing_env(POSTGRES_SCHEMA=schema))
    per_tally = round(EVENTS_PER_CLAIM)
    done = 0
    try:
        with progress_bar() as bar:
            task = bar.add_task("plain Application, one save per command", total=events)
            tally = None
            began = time.perf_counter()
            deadline = began + time_box_s
            while done < events and time.perf_counter() < deadline:
                if done % per_tally == 0:
                    tally = app.open_tally()
                else:
                    app.count(tally, done)
                done += 1
                if done % 100 == 0:
                    bar.update(task, completed=done)
            seconds = time.perf_counter() - began
        stored = app.recorder.max_notification_id() or 0
    finally:
        app.close()
    return {
        "commands": done,
        "events": stored,
        "of_events": events,
        "time_boxed": done < events,
        "time_box_s": time_box_s,
        "seconds": seconds,
        "events_per_s": stored / seconds,
        "commands_per_s": done / seconds,
        "schema": schema,
        "events_per_aggregate": per_tally,
    }


def measure_store_floor(settings: Settings, resources: Resources, events: int, batch: int) -> dict[str, Any]:
    """What the ingest costs without the domain: ``events`` one-field events (``Tally.count``, a tally taking
    ~``EVENTS_PER_CLAIM`` as a claim does) saved through ``CollectionApp`` in units of work of ``batch``, as the
    ingest saves its commands' events, with no command, no read and no rule (the tallies are held). The ingest's
    rate can be no higher than this: it is eventsourcing's event construction and kravsak's store path alone, on
    the same PostgreSQL. ``cpu_us_per_event`` is this process's CPU, comparable with the ingest's."""
    schema = resources.schema("floor")
    app = app_for(settings, schema)
    per_tally = round(EVENTS_PER_CLAIM)
    try:
        tally = Tally()
        with app.unit_of_work():  # the store path's first use (statements prepared), as the ingest's set-up is
            app.save(tally)
        before = app.recorder.max_notification_id() or 0
        began, cpu = time.perf_counter(), time.process_time()
        done = 0
        while done < events:
            with app.unit_of_work():
                for _ in range(min(batch, events - done)):
                    if done % per_tally == 0:
                        tally = Tally()
                    else:
                        tally.count(done)
                    app.save(tally)
                    done += 1
        seconds, cpu = time.perf_counter() - began, time.process_time() - cpu
        stored = (app.recorder.max_notification_id() or 0) - before
    finally:
        app.close()
    return {
        "events": stored,
        "batch": batch,
        "seconds": seconds,
        "events_per_s": stored / seconds,
        "cpu_us_per_event": cpu * 1e6 / max(stored, 1),
        "schema": schema,
    }


def measure_raw_producer(settings: Settings, schema: str, topic: str) -> dict[str, Any]:
    """The ceiling: the publisher's own records (its ``Preparer``, untimed) sent by its own
    producer (``_new_producer``: same settings) through kafka-python's ``send``, the partition given as the publisher
    gives it, one flush at the end, to ``topic``; then the same records once more through the publisher's own send
    path (``appender``: its ``RecordAppender``, ADR 0044), shown beside the baseline."""
    ensure_topics_at(settings.kafka_bootstrap, [case_events_spec(topic)])
    publisher = Publisher(settings, PublisherOptions(topic=topic, pg_schema=schema))
    publisher.app = app_for(settings, schema)
    publisher.parties = PartyIndex(fallback=stored_parties(publisher.app))
    publisher.preparer = Preparer(
        publisher.app.mapper, publisher.schemas, publisher.parties, publisher.options.digest_key
    )
    try:
        publisher.producer = publisher._new_producer()
        publisher._check_partitions()  # the records carry their partition, as the publisher's do (ADR 0033)
        with progress_bar() as bar:
            task = bar.add_task("encoding the records for the raw producer (untimed)", total=None)
            notifications = publisher.app.recorder.select_notifications(start=1, limit=10**9)
            bar.update(task, total=len(notifications))
            prepared = []
            for n in notifications:
                prepared.append(publisher.preparer.prepare(n))
                if len(prepared) % 1000 == 0:
                    bar.update(task, completed=len(prepared))
            bar.update(task, description="raw producer: sending the same bytes", completed=0, total=None)
            raw = _timed_sends(publisher, prepared, _public_send(publisher))
            bar.update(task, description="the publisher's appender: sending them again")
            appended = _timed_sends(publisher, prepared, publisher._send_one)
    finally:
        publisher.close()
    size = sum(len(p.value) for p in prepared)
    return {
        "events": len(prepared),
        **raw,
        "value_bytes": size,
        "topic": topic,
        "appender": appended,
    }


def _timed_sends(
    publisher: Publisher, prepared: list[Prepared], send_one: Callable[[Prepared], Any]
) -> dict[str, float]:
    """The records sent one by one with ``send_one`` and flushed as the publisher flushes a batch, timed."""
    began, cpu_began = time.perf_counter(), time.process_time()
    publisher._flush([send_one(p) for p in prepared])
    seconds, cpu = time.perf_counter() - began, time.process_time() - cpu_began
    return {
        "seconds": seconds,
        "events_per_s": len(prepared) / seconds,
        "cpu_us_per_event": cpu / max(len(prepared), 1) * 1e6,
    }


def _public_send(publisher: Publisher) -> Callable[[Prepared], Any]:
    """kafka-python's public ``KafkaProducer.send`` of a record (the raw producer the issue names), its partition
    given as the publisher gives it: what ``_send_one`` did before the ``RecordAppender`` (ADR 0044)."""
    send, topic, partitioner = publisher.producer.send, publisher.options.topic, publisher.partitioner
    assert partitioner is not None  # set by ``_check_partitions``

    def send_one(p: Prepared) -> Any:
        partition = p.partition if p.partition is not None else partitioner(p.key)
        return send(topic, key=p.key, value=p.value, headers=p.headers, partition=partition)

    return send_one


class ReadModelViews(PostgresTrackingRecorder):
    """The three read models as one eventsourcing materialised view: an event's rows and its
    tracking record in one transaction (the projections' own ``apply``, their own tables)."""

    last_applied_at = 0.0

    def apply(
        self,
        tracking: Tracking,
        projected: ProjectedEvent,
        before: Any,
        after: Any,
        targets: Sequence[ProjectionTarget],
    ) -> None:
        with self.datastore.get_connection() as conn, conn.transaction(), conn.cursor(row_factory=tuple_row) as cur:
            for t in targets:
                t.projection.apply(cur, projected, t.schema, before, after)
            self._insert_tracking(cur, tracking)  # type: ignore[arg-type]  # any row factory will do
        self.last_applied_at = time.perf_counter()


class ReadModelsProjection(Projection[ReadModelViews]):
    """Each stored event → the publisher's record (envelope + Avro, so the projections see exactly
    what they see from Kafka) → the case fold (``CaseFolder``) → the three projections' ``apply``.
    The fold lives in memory: the baseline always starts at position 0."""

    suffix = ""

    def __init__(self, view: ReadModelViews) -> None:
        super().__init__(view)
        self.schemas = SchemaStore.from_directory(SCHEMAS_DIR)
        self.decode = Decoder(self.schemas)
        self.parties = PartyIndex()
        self.folder = CaseFolder()
        self.targets = [ProjectionTarget(p, schema_name(p.name, suffix=self.suffix)) for p in all_projections()]

    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        self.parties.learn(domain_event)
        name, record = event_record(domain_event, position=tracking.notification_id, parties=self.parties)
        projected = self.decode(encode(record, self.schemas.latest(name)))
        before, after = self.folder.advance(projected)
        self.view.apply(tracking, projected, before, after, self.targets)


def measure_eventsourcing_projection(settings: Settings, schema: str, suffix: str, time_box_s: float) -> dict[str, Any]:
    """eventsourcing's ``ProjectionRunner`` from position 0 of ``schema``'s log until its tracking
    record reaches the head or ``time_box_s`` passes (one commit per event: the rate does not
    depend on how far it got); events/s from the runner's start to the last event applied."""
    with psycopg.connect(settings.pg_dsn) as conn:
        for p in all_projections():
            ensure_projection(conn, p, schema_name(p.name, suffix=suffix), cases_schema_for(suffix))
        head = max_notification_id(conn, schema)
    projection_class = type("KravsakReadModels", (ReadModelsProjection,), {"suffix": suffix})
    env = settings.eventsourcing_env(POSTGRES_SCHEMA=schema)
    with progress_bar() as bar:
        task = bar.add_task("eventsourcing ProjectionRunner (PostgreSQL log, no Kafka)", total=head)
        began = time.perf_counter()
        with ProjectionRunner(
            application_class=CollectionApp, projection_class=projection_class, view_class=ReadModelViews, env=env
        ) as runner:
            deadline = time.monotonic() + time_box_s
            while (done := runner.view.max_tracking_id(runner.app_name) or 0) < head:
                if time.monotonic() > deadline:
                    break
                runner.run_forever(timeout=0.2)  # re-raises the runner's error
                bar.update(task, completed=done)
        done = runner.view.max_tracking_id(runner.app_name) or 0  # the runner's threads have stopped
        seconds = runner.view.last_applied_at - began
        runner.view.datastore.close()
    return {
        "events": done,
        "of_events": head,
        "time_boxed": done < head,
        "time_box_s": time_box_s,
        "seconds": seconds,
        "events_per_s": done / seconds,
        "transactions": done,
        "schema": schema,
        "suffix": suffix,
    }
