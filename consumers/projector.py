"""Projection runners: `kravsak.case-events` into the read models, with an exactly-once effect.

Delivery protocol
-----------------
The shared protocol is the runner's (``consumers.runner``): a consumer group (default
`kravsak-projector`) on `kravsak.case-events`; each batch in ONE PostgreSQL transaction that locks
the batch's partitions' offset rows, applies every record at or after the stored offset and moves
the offsets, so a record is applied exactly once however often it is delivered; seek to the stored
offset on assignment; a gap rolled back and sought back; a failing batch applied again record by
record; Kafka's committed offsets only a progress signal for tools. What the projector adds:

- **One offsets table per projection.** Every projection schema (`kravsak_<name>`) has its own
  `offsets` table; one batch moves all of them in its transaction. On assignment a partition is
  sought to the smallest stored offset over its projections, and a record below a projection's
  stored offset is skipped for that projection (it is already in).
- **Duplicates.** The publisher is at-least-once: a re-sent event has a new offset but its case
  version is not above the version already applied for its case (`case_versions`), so it changes
  nothing.
- **A record that cannot be applied** (undecodable, or a projection raises) is *parked* with its
  case in that projection's `parked` table; the case's later events park behind it, other cases go
  on, the offsets move. A batch is first applied without savepoints, its writes pipelined; if
  anything in it fails, it rolls back and runs again event by event, each in a savepoint, so only
  the refused event is parked. `kravsak status` shows parked cases;
  `kravsak project --retry-parked` applies them again after a fix (`retry_parked`: per case, in
  stream order, holding the case's partition offset rows as a live batch does).
- **The next batch while PostgreSQL writes the last.** The fast path sends its batch's read of the cases
  and decodes the batch while PostgreSQL answers; once its last writes are sent it has the runner poll the
  next batch (``Runner.prefetch``: no waiting for the broker, a rebalance held until the transaction has
  ended) and decodes it while PostgreSQL writes, instead of each waiting for the other in turn (ADR 0045).
- **Several runners** in one group share the partitions; the row locks keep two of them from
  applying one partition at once during a rebalance.
- **State for folding.** The runner folds each case with the domain's own event code
  (`projections.casefold`). The payload of every applied event is kept in `kravsak_cases.events`
  (`kravsak_cases<suffix>` beside suffixed projection schemas) in the same transaction, so a
  restarted runner rebuilds a case's state from PostgreSQL; a revoked partition's cases are dropped
  from memory.
- **Rebuild and verify** read the topic without a group (`read_partition_range`) and apply it aside
  through the same transaction (`runner.apply_in_transaction`), then switch or compare.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_EXCEPTION, ProcessPoolExecutor, wait
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from functools import lru_cache, partial
from pathlib import Path
from typing import Any

import psycopg
import structlog
from kafka import KafkaConsumer, TopicPartition

from consumers.batched import BatchedWrites, array_parameter
from consumers.kafka_access import client_args
from consumers.runner import BatchResult as BatchResult  # re-exported: the projector's batch API
from consumers.runner import ConsumerOptions, OffsetTable, ParkedTable, Runner, apply_in_transaction
from consumers.runner import Message as Message
from consumers.runner import RunReport as RunReport
from consumers.topics import CASE_EVENTS_TOPIC
from consumers.wire.codec import SchemaStore
from consumers.wire.envelope import domain_values
from domain.collector import fewer_collections
from projections.audit_trail import AuditTrail
from projections.base import ProjectedEvent, Projection, schema_name
from projections.casefold import CaseFolder, snapshot
from projections.ledger import Ledger
from projections.limitation import LimitationWatch
from projections.parties import Parties

log = structlog.get_logger("kravsak.projector")

CASES_SCHEMA = "kravsak_cases"
DEFAULT_GROUP = "kravsak-projector"
SCHEMAS_DIR = Path(__file__).resolve().parents[1] / "schemas"


_PLUGGED: dict[str, Callable[[], Projection]] = {}


def plug_projection(name: str, factory: Callable[[], Projection]) -> None:
    """A projection of an edge package (e.g. ``letters``), plugged in by the composition root, so that
    consumers/ never imports an edge."""
    _PLUGGED[name] = factory


def all_projections() -> list[Projection]:
    return [Ledger(), LimitationWatch(), AuditTrail(), Parties(), *(factory() for factory in _PLUGGED.values())]


CORE_PROJECTIONS: tuple[str, ...] = ("ledger", "limitation", "audit", "parties")
"""The read models of ``projections/``; ``projection_names()`` adds the plugged-in ones."""


def projection_names() -> tuple[str, ...]:
    return tuple(p.name for p in all_projections())


def projection_named(name: str) -> Projection:
    for p in all_projections():
        if p.name == name:
            return p
    raise KeyError(f"no projection named {name!r} ({', '.join(projection_names())})")


# --- tables ----------------------------------------------------------------------------------


def ensure_runner_tables(cur: psycopg.Cursor[Any], schema: str) -> None:
    """The runner's bookkeeping inside a projection schema: offsets and parked events (``consumers.runner``),
    the applied version per case, the projection's meta."""
    OffsetTable(schema).create(cur)
    ParkedTable(schema).create(cur)
    cur.execute(f"""
        CREATE TABLE IF NOT EXISTS "{schema}".case_versions (case_id text PRIMARY KEY, version bigint NOT NULL);
        CREATE TABLE IF NOT EXISTS "{schema}".meta (key text PRIMARY KEY, value text NOT NULL);
    """)


def ensure_cases_table(cur: psycopg.Cursor[Any], cases_schema: str = CASES_SCHEMA) -> None:
    cur.execute(f"""
        CREATE SCHEMA IF NOT EXISTS "{cases_schema}";
        CREATE TABLE IF NOT EXISTS "{cases_schema}".events (
            case_id text NOT NULL, version bigint NOT NULL, payload bytea NOT NULL, PRIMARY KEY (case_id, version));
    """)


def cases_schema_for(schema_suffix: str) -> str:
    """The folded cases' store goes with the projection schemas' suffix: runners with another suffix
    (tests, benchmarks) never fold a case from payloads another run wrote."""
    return f"{CASES_SCHEMA}{schema_suffix}"


def ensure_projection(
    conn: psycopg.Connection[Any], projection: Projection, schema: str, cases_schema: str = CASES_SCHEMA
) -> None:
    with conn.transaction(), conn.cursor() as cur:
        # one lock for all: every projection shares the cases schema, and two runners start at once
        cur.execute("SELECT pg_advisory_xact_lock(hashtext('kravsak-ddl'))")
        ensure_runner_tables(cur, schema)
        ensure_cases_table(cur, cases_schema)
        projection.create_tables(cur, schema)
        cur.execute(
            f'INSERT INTO "{schema}".meta VALUES (%s, %s) ON CONFLICT (key) DO NOTHING',
            ("version", str(projection.version)),
        )


def stored_offsets(cur: psycopg.Cursor[Any], schema: str, topic: str, *, lock: bool = False) -> dict[int, int]:
    """A projection's stored next offset per partition of ``topic``."""
    return OffsetTable(schema).read(cur, topic, lock=lock)


def parked_count(
    conn: psycopg.Connection[Any], projections: Iterable[Projection] | None = None, *, schema_suffix: str = ""
) -> dict[str, int]:
    """Cases with parked events, per projection that exists."""
    out: dict[str, int] = {}
    with conn.cursor() as cur:
        for p in projections or all_projections():
            count = ParkedTable(schema_name(p.name, suffix=schema_suffix)).case_count(cur)
            if count is not None:
                out[p.name] = count
    return out


# --- decoding --------------------------------------------------------------------------------


_AS_TEXT = frozenset({"event_id"})
"""Read as the text of its UUID, no UUID made for text already canonical: the event id is only ever used as text."""


class Decoder:
    """Single-object bytes → ProjectedEvent, resolving writer schemas by fingerprint."""

    def __init__(self, schemas: SchemaStore) -> None:
        self.schemas = schemas

    def __call__(self, payload: bytes, *, topic: str = "", partition: int = -1, offset: int = -1) -> ProjectedEvent:
        record = self.schemas.decode_plain(payload, as_text=_AS_TEXT)
        values = domain_values(record)
        return ProjectedEvent(
            event_id=str(record["event_id"]),  # the UUID's text (a record of an earlier schema version: the UUID)
            event_type=str(record["event_type"]),
            case_id=str(record["case_id"]),
            creditor_id=record.get("creditor_id"),
            debtor_id=record.get("debtor_id"),
            aggregate_version=int(record["aggregate_version"]),
            position=int(record["notification_position"]),
            effective_date=record["effective_date"],
            recorded_date=record["recorded_date"],
            recorded_at=record["recorded_at"],
            rule_version=str(record.get("rule_version") or ""),
            currency=record.get("currency"),
            values=values,
            topic=topic,
            partition=partition,
            offset=offset,
        )


@dataclass
class Target:
    """One projection and the schema it is applied into (live or a rebuild aside)."""

    projection: Projection
    schema: str


SEND_EVERY = 250
"""On the fast path the held writes go out every this many records of a batch, not only at its end: the pipeline
sends them at once, so PostgreSQL writes one part while this process folds and projects the next (two cores work
instead of one waiting for the other). An upsert's rows of one key in two parts are two statements that leave
what one would (``BatchedWrites``); a part is large enough that its statements stay few (ADR 0038). The runner's
rows (the part's folded payloads, its cases' versions) go with the part: at a batch's end PostgreSQL then has only
the last part left to write before the commit, not every payload of the batch (ADR 0039)."""


class Applier:
    """Applies batches of messages to a set of targets: the projector's handler on ``consumers.runner``.

    ``apply_batch`` runs a batch through ``runner.apply_in_transaction`` (one transaction with every
    target's offsets). A batch first runs on a fast path: no savepoints, and the writes go out in one
    psycopg pipeline instead of a round trip each. If anything in it fails (a projection raises, the
    database refuses a row) the whole transaction rolls back and the batch runs again event by event,
    each in a savepoint, so exactly the refused events are parked. Both paths apply the same events.
    The runner's own rows (case versions, the cases' payloads) go out with each part of the held writes."""

    def __init__(
        self,
        conn: psycopg.Connection[Any],
        targets: Sequence[Target],
        decoder: Decoder,
        *,
        folder: CaseFolder | None = None,
        cases_schema: str = CASES_SCHEMA,
    ) -> None:
        self.conn, self.targets, self.decode = conn, list(targets), decoder
        self.folder = folder or CaseFolder()
        self.cases_schema = cases_schema
        self.offsets = [OffsetTable(t.schema) for t in self.targets]
        # per target what its projection reads of the state before an event (None: a copy of all of it)
        self._views: list[tuple[str, Callable[[Any], Any] | None]] = [
            (t.schema, getattr(t.projection, "before_view", None)) for t in self.targets
        ]
        self._payloads: dict[tuple[str, int], bytes] = {}  # folded, written with the part (``_write_runner_rows``)
        self._writes: BatchedWrites | None = None  # the fast path's held projection writes
        self._columns: dict[str, dict[str, str]] = {}  # the projection tables' column types, read once
        self._ahead: dict[tuple[str, int, int], tuple[bytes, ProjectedEvent | Exception]] = {}  # ``_decode_ahead``
        for target in self.targets:  # what a projection reads from outside the events, read now (``ready``)
            ready = getattr(target.projection, "ready", None)
            if ready is not None:
                ready()

    def apply_batch(
        self, messages: Sequence[Message], *, meanwhile: Callable[[], Sequence[Any]] | None = None
    ) -> BatchResult:
        """The batch and every target's offsets in one transaction (gaps come back in ``gaps``). ``meanwhile``: the
        runner's ``prefetch`` of the next batch, called on the fast path once the batch's last writes are sent:
        while PostgreSQL writes them the next batch is polled and decoded (``_decode_ahead``)."""
        apply = partial(self._apply, meanwhile=meanwhile)
        with fewer_collections():  # every full collection would walk all the cases the fold holds (domain.collector)
            return apply_in_transaction(self.conn, self.offsets, messages, apply, discard=self.discard, log=log)

    def discard(self) -> None:
        """Forget the folded state: it may hold what a roll-back undid, or cases now another runner's."""
        self.folder.clear()
        self._payloads.clear()
        self._ahead.clear()

    def _apply(
        self,
        cur: psycopg.Cursor[Any],
        messages: Sequence[Message],
        stored: list[dict[int, int]],
        *,
        careful: bool,
        meanwhile: Callable[[], Sequence[Any]] | None = None,
    ) -> BatchResult:
        offsets = {t.schema: s for t, s in zip(self.targets, stored, strict=True)}
        return self.apply_records(cur, messages, offsets, careful=careful, meanwhile=meanwhile)

    def apply_records(
        self,
        cur: psycopg.Cursor[Any],
        messages: Sequence[Message],
        offsets: dict[str, dict[int, int]],
        *,
        careful: bool,
        meanwhile: Callable[[], Sequence[Any]] | None = None,
    ) -> BatchResult:
        """Apply ``messages`` inside the caller's transaction: each target takes the records at or
        after its offset in ``offsets`` (schema → partition → next offset; a missing one is 0).
        Writes the case versions and payloads, never the offsets. ``meanwhile``: ``apply_batch``'s, called on the
        fast path only."""
        result = BatchResult()
        schemas, case_ids = [t.schema for t in self.targets], sorted({m.case_key for m in messages})
        self._payloads.clear()
        # the read of the cases is sent, the batch decoded, then the answer taken: on the fast path (a pipeline)
        # PostgreSQL answers while the batch is decoded; on the careful one the read has run (or failed) at once
        with nullcontext() if careful else self.conn.pipeline():
            _Cases.send_read(cur, schemas, case_ids)
            # which targets take each record, worked out once per record (it was twice: here and in ``_apply_one``)
            wanted = self._wanted_all(messages, offsets)
            # decoded in a list beside the records (None: no target takes it), not a dict keyed by (partition, offset)
            decoded = [self._decoded_once(m) if w else None for m, w in zip(messages, wanted, strict=True)]
            self._ahead.clear()  # only ever for the batch that follows
            cases = _Cases.answer(cur, schemas, case_ids)
        if not careful:
            self._read_ahead(cur, [e for e in decoded if isinstance(e, ProjectedEvent)], cases)
        # the fast path holds the projections' writes and sends each table's in a few statements at the end
        self._writes = None if careful else BatchedWrites(cur, self._columns)
        with nullcontext() if careful else self.conn.pipeline():
            for i, (m, w, event) in enumerate(zip(messages, wanted, decoded, strict=True), 1):
                self._apply_one(cur, m, w, result, cases, event, careful=careful)
                if self._writes is not None and i % SEND_EVERY == 0:
                    self._writes.flush()  # PostgreSQL writes these while the next ones are folded
                    self._write_runner_rows(cur, cases)  # and the part's payloads and case versions
            if self._writes is not None:
                self._writes.flush()
            self._write_runner_rows(cur, cases)
            if not careful and meanwhile is not None:
                # the last part is on its way: PostgreSQL writes it while this process does what needs no database
                # (the next batch polled and decoded), instead of each waiting for the other in turn (ADR 0045)
                self._decode_ahead(meanwhile())
        return result

    def _decode_ahead(self, records: Sequence[Any]) -> None:
        """Decode the next batch's records now (kept for its ``_decoded_once``, with the very bytes they came as)."""
        for r in records:
            self._ahead[(r.topic, r.partition, r.offset)] = (r.value, self._decoded(r))

    def _decoded_once(self, m: Message) -> ProjectedEvent | Exception:
        """``_decoded``, or what ``_decode_ahead`` made of the same record (the same bytes object)."""
        ahead = self._ahead.pop((m.topic, m.partition, m.offset), None)
        if ahead is not None and ahead[0] is m.value:
            return ahead[1]
        return self._decoded(m)

    def _wanted_all(self, messages: Sequence[Message], offsets: dict[str, dict[int, int]]) -> list[list[Target]]:
        """Per record the targets whose offset it is at or after. Per partition the targets' offsets are looked up
        once: a record at or after all of them (nearly every one) shares the list of all the targets."""
        everyone = self.targets
        starts: dict[int, tuple[int, list[tuple[int, Target]]]] = {}
        out: list[list[Target]] = []
        for m in messages:
            start = starts.get(m.partition)
            if start is None:
                by_target = [(offsets.get(t.schema, {}).get(m.partition, 0), t) for t in everyone]
                start = starts[m.partition] = (max((o for o, _ in by_target), default=0), by_target)
            latest, by_target = start
            out.append(everyone if m.offset >= latest else [t for o, t in by_target if m.offset >= o])
        return out

    def _decoded(self, m: Message | Any) -> ProjectedEvent | Exception:
        try:
            return self.decode(m.value, topic=m.topic, partition=m.partition, offset=m.offset)
        except Exception as exc:  # noqa: BLE001 - parked with its case when the record's turn comes
            return exc

    def _read_ahead(self, cur: psycopg.Cursor[Any], events: Sequence[ProjectedEvent], cases: dict[str, _Cases]) -> None:
        """Everything the fast path would read, read before its pipeline opens: the cases keyed unlike
        their records, and the stored events of each case the fold does not hold up to the batch's
        first event of it. Inside a pipeline a read shares the cursor with writes still in flight
        (a cold fold after a restart read there, and could be handed a write's result instead)."""
        for schema, known in cases.items():
            for case_id in sorted({e.case_id for e in events} - known.known):
                known.learn(cur, schema, case_id)
        first: dict[str, int] = {}
        for e in events:
            first[e.case_id] = min(first.get(e.case_id, e.aggregate_version), e.aggregate_version)
        cold = []
        for case_id, version in first.items():
            current = self.folder.get(case_id)
            if version > 1 and (current is None or version > current.version + 1):
                cold.append(case_id)
        if not cold:
            return
        cur.execute(
            f'SELECT case_id, version, payload FROM "{self.cases_schema}".events WHERE case_id = ANY(%b::text[]) '
            "ORDER BY case_id, version",
            (cold,),
        )
        stored: dict[str, list[bytes]] = {}
        for case_id, version, payload in cur.fetchall():
            if int(version) < first[str(case_id)]:
                stored.setdefault(str(case_id), []).append(bytes(payload))
        for case_id in cold:
            self.folder.forget(case_id)
            self.folder.warm(case_id, [self.decode(p) for p in stored.get(case_id, [])])

    def _write_runner_rows(self, cur: psycopg.Cursor[Any], cases: dict[str, _Cases]) -> None:
        """The folded payloads and each target's new case versions since the last call, one statement each. Each
        column goes as one parameter (``array_parameter``; the payloads as one bytes object and their lengths, cut
        apart in the server): psycopg dumps a few objects, not an array element by element (ADR 0046)."""
        if self._payloads:
            ids, versions = zip(*self._payloads, strict=True)
            payloads = list(self._payloads.values())
            id_sql, id_param = array_parameter(ids, "text")
            version_sql, version_param = array_parameter(versions, "bigint")
            length_sql, length_param = array_parameter(list(map(len, payloads)), "int")
            cur.execute(
                f'INSERT INTO "{self.cases_schema}".events (case_id, version, payload) '
                "SELECT u.c, u.v, substring(%b::bytea FROM (sum(u.l) OVER (ORDER BY u.n) - u.l + 1)::int FOR u.l) "
                f"FROM unnest({id_sql}, {version_sql}, {length_sql}) WITH ORDINALITY AS u(c, v, l, n) "
                "ON CONFLICT DO NOTHING",
                (b"".join(payloads), id_param, version_param, length_param),
            )
            self._payloads.clear()
        for schema, known in cases.items():
            if known.applied:
                id_sql, id_param = array_parameter(list(known.applied), "text")
                version_sql, version_param = array_parameter(list(known.applied.values()), "bigint")
                cur.execute(
                    f'INSERT INTO "{schema}".case_versions SELECT * FROM unnest({id_sql}, {version_sql}) '
                    "ON CONFLICT (case_id) DO UPDATE SET version = EXCLUDED.version",
                    (id_param, version_param),
                )
                known.applied.clear()

    def _apply_one(
        self,
        cur: psycopg.Cursor[Any],
        m: Message,
        wanted: list[Target],
        result: BatchResult,
        cases: dict[str, _Cases],
        event: ProjectedEvent | Exception | None,
        *,
        careful: bool,
    ) -> None:
        if not wanted:
            result.skipped += 1
            return
        if event is None:
            event = self._decoded(m)
        if isinstance(event, Exception):  # an undecodable record parks its case, never stops the others
            exc, case_key = event, m.case_key
            for t in wanted:
                self._park(cur, t, case_key, -1, None, m, f"cannot decode: {exc}")
                cases[t.schema].parked.add(case_key)
            result.parked += 1
            return
        before_after = self._fold(cur, event)
        if before_after is None:
            result.skipped += 1  # duplicate for the fold: nothing new for any projection
            return
        befores, after = before_after
        case_id, version = event.case_id, event.aggregate_version  # read once, not per target
        self._payloads[(case_id, version)] = m.value
        # the fast path's projections write into the held writes (a failure aborts it); the careful one's directly
        writer: Any = cur if careful or self._writes is None else self._writes
        for t in wanted:
            known = cases[t.schema]
            if case_id not in known.known:  # the call only for a record keyed unlike its case
                known.learn(cur, t.schema, case_id)
            if case_id in known.parked:
                waiting = "waiting behind a parked event of the same case"
                self._park(cur, t, case_id, version, event.event_id, m, waiting)
                result.parked += 1
                continue
            if known.versions.get(case_id, 0) >= version:
                result.skipped += 1
                continue
            before = befores.get(t.schema) if befores else None
            if careful:
                try:
                    with self.conn.transaction():
                        t.projection.apply(cur, event, t.schema, before, after)
                except Exception as exc:  # noqa: BLE001 - the projection refused the event: park the case
                    log.warning(
                        "event parked",
                        projection=t.projection.name,
                        case_id=case_id,
                        topic=m.topic,
                        partition=m.partition,
                        offset=m.offset,
                        error=str(exc),
                    )
                    self._park(cur, t, case_id, version, event.event_id, m, repr(exc))
                    known.parked.add(case_id)
                    result.parked += 1
                    continue
            else:
                t.projection.apply(writer, event, t.schema, before, after)
            known.versions[case_id] = known.applied[case_id] = version
            result.applied += 1

    def _fold(self, cur: psycopg.Cursor[Any], event: ProjectedEvent) -> tuple[Any, Any] | None:
        current = self.folder.get(event.case_id)
        if current is not None and event.aggregate_version > current.version + 1:
            current = None  # held from before another runner (or a rebuild) went on with the case: read it again
        if current is None and event.aggregate_version > 1:
            cur.execute(
                f'SELECT version, payload FROM "{self.cases_schema}".events WHERE case_id = %s AND version < %s',
                (event.case_id, event.aggregate_version),
            )
            stored = {int(v): bytes(p) for v, p in cur.fetchall()}
            stored.update(
                {v: p for (c, v), p in self._payloads.items() if c == event.case_id and v < event.aggregate_version}
            )  # folded earlier in this batch, not written yet
            earlier = [self.decode(stored[v]) for v in sorted(stored)]
            current = self.folder.warm(event.case_id, earlier)
        if current is not None and current.version >= event.aggregate_version:
            return None
        expected = (current.version if current is not None else 0) + 1
        if event.aggregate_version != expected:
            raise RuntimeError(
                f"case {event.case_id}: event version {event.aggregate_version} arrived but "
                f"version {expected} is next (offset {event.offset}); the stream lost order"
            )
        return self.folder.step(event, self._before_views)

    def _before_views(self, current: Any) -> dict[str, Any]:
        """Per target, what its projection reads of the case before the event (``ReadsBefore``): only that
        is copied; one copy of the whole aggregate is shared by the projections that do not say."""
        views: dict[str, Any] = {}
        whole: Any = None
        for schema, view in self._views:
            if view is not None:
                views[schema] = view(current)
            else:
                if whole is None:
                    whole = snapshot(current)
                views[schema] = whole
        return views

    @staticmethod
    def _park(
        cur: psycopg.Cursor[Any], t: Target, case_id: str, version: int, event_id: str | None, m: Message, error: str
    ) -> None:
        ParkedTable(t.schema).park(cur, m, error, case_id=case_id, version=version, event_id=event_id)


@dataclass
class _Cases:
    """One target's applied version and parked state of a batch's cases: read in two queries when
    the batch starts (its offset rows locked, so no other runner changes them) and kept up to date
    while the batch is applied, instead of two queries per event."""

    versions: dict[str, int]
    parked: set[str]
    known: set[str]
    applied: dict[str, int] = field(default_factory=dict)  # versions applied in this batch, not written yet

    @classmethod
    def read(cls, cur: psycopg.Cursor[Any], schema: str, case_ids: list[str]) -> _Cases:
        return cls.read_all(cur, [schema], case_ids)[schema]

    @classmethod
    def read_all(cls, cur: psycopg.Cursor[Any], schemas: list[str], case_ids: list[str]) -> dict[str, _Cases]:
        """``read`` for every schema in ONE statement."""
        cls.send_read(cur, schemas, case_ids)
        return cls.answer(cur, schemas, case_ids)

    @staticmethod
    def send_read(cur: psycopg.Cursor[Any], schemas: list[str], case_ids: list[str]) -> None:
        """The statement of ``read_all`` (in a pipeline: sent, its answer taken later by ``answer``)."""
        # planned each time (not prepared): a generic plan made while the tables were small scans them whole
        # once they have grown, comparing every row with every case id (ADR 0037)
        ids_sql, ids = array_parameter(case_ids, "text", "%(ids)b")
        cur.execute(cases_statement(tuple(schemas), ids_sql), {"ids": ids}, prepare=False)

    @classmethod
    def answer(cls, cur: psycopg.Cursor[Any], schemas: list[str], case_ids: list[str]) -> dict[str, _Cases]:
        """The cases of ``send_read``'s answer (in a pipeline: waits for it)."""
        versions: list[dict[str, int]] = [{} for _ in schemas]
        parked: list[set[str]] = [set() for _ in schemas]
        for i, case_id, version in cur.fetchall():
            if version is None:
                parked[i].add(str(case_id))
            else:
                versions[i][str(case_id)] = int(version)
        return {s: cls(versions[i], parked[i], set(case_ids)) for i, s in enumerate(schemas)}

    def learn(self, cur: psycopg.Cursor[Any], schema: str, case_id: str) -> None:
        """Read a case that was not among the batch's keys (a record keyed unlike its case)."""
        if case_id not in self.known:
            other = self.read(cur, schema, [case_id])
            self.versions.update(other.versions)
            self.parked |= other.parked
            self.known.add(case_id)


@lru_cache(maxsize=64)
def cases_statement(schemas: tuple[str, ...], ids: str) -> str:
    """Per schema (by its index) the applied version of each case in ``ids`` (SQL of a text array: the parameter
    ``%(ids)b`` as read by ``array_parameter``), and its parked cases with a NULL version."""
    parts = []
    for i, schema in enumerate(schemas):
        # one index probe per id (LATERAL … OFFSET 0 keeps it a nested loop): with a batch's ~2 000 ids the planner
        # chose a scan of the whole table, which grew with every batch applied (ADR 0038)
        parts.append(
            f"SELECT {i}, c.case_id, v.version FROM (SELECT DISTINCT unnest({ids})) AS c(case_id) "
            f'CROSS JOIN LATERAL (SELECT version FROM "{schema}".case_versions WHERE case_id = c.case_id OFFSET 0) AS v'
        )
        parts.append(f'SELECT DISTINCT {i}, case_id, NULL::bigint FROM "{schema}".parked WHERE case_id = ANY({ids})')
    return " UNION ALL ".join(parts)


# --- the live runner -------------------------------------------------------------------------


@dataclass(frozen=True)
class RunnerOptions:
    topic: str = CASE_EVENTS_TOPIC
    group: str = DEFAULT_GROUP
    projections: tuple[str, ...] = CORE_PROJECTIONS
    schema_suffix: str = ""
    batch_size: int = 2000
    poll_timeout_ms: int = 500
    schemas_dir: Path = SCHEMAS_DIR
    session_timeout_ms: int | None = 10_000
    """How soon a killed runner's partitions go to the others (a stopped one leaves the group at once);
    None: the client's default (45 s)."""
    top_up_after_ms: int | None = ConsumerOptions.top_up_after_ms
    """A batch at least this long tops up the next one with one short poll more (``ConsumerOptions``)."""


class ProjectionRunner:
    """A consumer-group member (``consumers.runner.Runner``) applying case events to the read models."""

    def __init__(self, dsn: str, bootstrap: str, options: RunnerOptions | None = None) -> None:
        options = options or RunnerOptions()
        self.dsn, self.bootstrap, self.options = dsn, bootstrap, options
        self.conn: psycopg.Connection[Any] = psycopg.connect(dsn)
        self.targets = [
            Target(projection_named(n), schema_name(n, suffix=options.schema_suffix)) for n in options.projections
        ]
        self.cases_schema = cases_schema_for(options.schema_suffix)
        for t in self.targets:
            ensure_projection(self.conn, t.projection, t.schema, self.cases_schema)
        self.folder = CaseFolder()
        self.applier = Applier(
            self.conn,
            self.targets,
            Decoder(SchemaStore.from_directory(options.schemas_dir)),
            folder=self.folder,
            cases_schema=self.cases_schema,
        )
        consumer = ConsumerOptions(
            topic=options.topic,
            group=options.group,
            client_id="kravsak-projector",
            batch_size=options.batch_size,
            poll_timeout_ms=options.poll_timeout_ms,
            session_timeout_ms=options.session_timeout_ms,
            heartbeat_interval_ms=min(3_000, options.session_timeout_ms // 3) if options.session_timeout_ms else None,
            fetch_max_bytes=32 * 1024 * 1024,
            top_up_after_ms=options.top_up_after_ms,
        )
        self.runner = Runner(self.conn, bootstrap, consumer, self.applier.offsets, self, log=log)

    # the runner's handler: the applier of the moment (a benchmark may swap in a timed one)
    def apply_batch(self, messages: Sequence[Message]) -> BatchResult:
        return self.applier.apply_batch(messages, meanwhile=self.runner.prefetch)

    def revoked(self) -> None:
        self.folder.clear()

    def reconnect(self) -> psycopg.Connection[Any]:
        """A new connection after an outage, for the runner and the applier alike."""
        self.conn.close()
        self.conn = psycopg.connect(self.dsn, connect_timeout=10)
        self.applier.conn = self.conn
        self.applier.discard()
        return self.conn

    @property
    def consumer(self) -> Any:
        return self.runner.consumer

    def close(self) -> None:
        self.runner.close()
        self.conn.close()

    def run(
        self, stop: threading.Event | None = None, *, until_caught_up: bool = False, idle_timeout_s: float | None = None
    ) -> RunReport:
        """Apply batches until ``stop`` is set (or, with ``until_caught_up``, until the group has
        reached the end of every assigned partition)."""
        return self.runner.run(stop, until_caught_up=until_caught_up, idle_timeout_s=idle_timeout_s)

    def caught_up(self) -> bool:
        return self.runner.caught_up()


# --- rebuild, verify, retry ------------------------------------------------------------------


def read_partition_range(
    bootstrap: str,
    topic: str,
    *,
    start: dict[int, int] | None = None,
    stop_at: dict[int, int] | None = None,
    batch: int = 5000,
    progress: Callable[[int], None] | None = None,
    partitions: Collection[int] | None = None,
) -> Iterator[list[Message]]:
    """Every message of ``topic`` (of its ``partitions``, default all) from ``start`` (default 0) up to
    ``stop_at`` (default: the end offsets when called), in batches, without a consumer group."""
    consumer = KafkaConsumer(
        **client_args(bootstrap),
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=batch,
        max_partition_fetch_bytes=8 * 1024 * 1024,
        fetch_max_bytes=32 * 1024 * 1024,
    )
    try:
        assigned = [
            TopicPartition(topic, p)
            for p in sorted(consumer.partitions_for_topic(topic) or ())
            if partitions is None or p in partitions
        ]
        consumer.assign(assigned)
        ends = stop_at if stop_at is not None else {tp.partition: o for tp, o in consumer.end_offsets(assigned).items()}
        for tp in assigned:
            consumer.seek(tp, (start or {}).get(tp.partition, 0))
        remaining = {tp.partition for tp in assigned if consumer.position(tp) < ends.get(tp.partition, 0)}
        while remaining:
            polled = consumer.poll(timeout_ms=1000, max_records=batch)
            out: list[Message] = []
            for tp, records in polled.items():
                for r in records:
                    if r.offset < ends.get(tp.partition, 0):
                        out.append(Message(r.topic, r.partition, r.offset, r.key, r.value))
            for p in list(remaining):
                if consumer.position(TopicPartition(topic, p)) >= ends.get(p, 0):
                    remaining.discard(p)
            if out:
                out.sort(key=lambda m: (m.partition, m.offset))
                if progress:
                    progress(len(out))
                yield out
    finally:
        consumer.close(autocommit=False)


def _fresh_schema(conn: psycopg.Connection[Any], projection: Projection, schema: str, cases_schema: str) -> None:
    with conn.transaction():
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    ensure_projection(conn, projection, schema, cases_schema)


def secondary_indexes(conn: psycopg.Connection[Any], schema: str) -> dict[str, str]:
    """A schema's indexes that no statement needs while loading (neither unique nor a primary key: those back
    the projections' ``ON CONFLICT``): qualified name → its ``CREATE INDEX`` statement."""
    rows = conn.execute(
        "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i "
        "JOIN pg_class t ON t.oid = i.indrelid JOIN pg_namespace n ON n.oid = t.relnamespace "
        "WHERE n.nspname = %s AND NOT i.indisunique AND NOT i.indisprimary ORDER BY 1",
        (schema,),
    ).fetchall()
    return {str(name): str(definition) for name, definition in rows}


@contextmanager
def _indexes_after(conn: psycopg.Connection[Any], schemas: Sequence[str]) -> Iterator[None]:
    """Loads into fresh tables without their secondary indexes and builds those once after the load: one
    sort per index instead of an index insert per row."""
    dropped: list[str] = []
    with conn.transaction():
        for schema in schemas:
            for name, definition in secondary_indexes(conn, schema).items():
                conn.execute(f"DROP INDEX {name}")
                dropped.append(definition)
    yield
    with conn.transaction():
        for definition in dropped:
            conn.execute(definition)


def _build_aside(
    conn: psycopg.Connection[Any],
    bootstrap: str,
    targets: Sequence[Target],
    topic: str,
    decoder: Decoder,
    *,
    cases_schema: str,
    stop_at: dict[int, int] | None = None,
    progress: Callable[[int], None] | None = None,
    partitions: Collection[int] | None = None,
) -> int:
    """Apply ``topic`` (its ``partitions``, default all) to the aside ``targets`` from where the furthest
    behind of them is up to ``stop_at`` (default: the end); each target skips what it already has."""
    applier = Applier(conn, targets, decoder, cases_schema=cases_schema)
    count = 0
    with conn.cursor() as cur:
        per_target = [stored_offsets(cur, t.schema, topic) for t in targets]
    conn.commit()
    start = {p: min(o.get(p, 0) for o in per_target) for o in per_target for p in o}
    # the reading too with the batch thresholds (as the live runner's poll, ADR 0039): the applier's raise
    # them for each batch only, and kafka-python's objects per record would set off collections over the fold
    with fewer_collections():
        for batch in read_partition_range(
            bootstrap, topic, start=start, stop_at=stop_at, progress=progress, partitions=partitions
        ):
            result = applier.apply_batch(batch)
            if result.gaps:
                names = ", ".join(t.projection.name for t in targets)
                raise RuntimeError(f"rebuild of {names}: unexpected gap {result.gaps}")
            count += len(batch)
    return count


@dataclass(frozen=True)
class _Share:
    """One process's share of a rebuild's first pass: some partitions, into the same aside tables."""

    dsn: str
    bootstrap: str
    targets: tuple[Target, ...]
    topic: str
    schemas_dir: Path
    cases_schema: str
    partitions: tuple[int, ...]


_share_progress: Any = None  # in a rebuild's worker process: the parent's shared count of applied records


def _share_started(counter: Any) -> None:
    global _share_progress
    _share_progress = counter


def _count(records: int) -> None:
    if _share_progress is not None:
        with _share_progress.get_lock():
            _share_progress.value += records


def _build_share(share: _Share) -> int:
    """A worker process: its partitions through its own Applier (own connection, own fold)."""
    decoder = Decoder(SchemaStore.from_directory(share.schemas_dir))
    with psycopg.connect(share.dsn) as conn:
        return _build_aside(
            conn,
            share.bootstrap,
            list(share.targets),
            share.topic,
            decoder,
            cases_schema=share.cases_schema,
            partitions=share.partitions,
            progress=_count,
        )


def topic_extent(bootstrap: str, topic: str) -> tuple[list[int], int]:
    """The topic's partition ids and how many records it holds (the sum of its end offsets): one client asks."""
    consumer = KafkaConsumer(**client_args(bootstrap), group_id=None, enable_auto_commit=False)
    try:
        partitions = sorted(consumer.partitions_for_topic(topic) or ())
        ends = consumer.end_offsets([TopicPartition(topic, p) for p in partitions]) if partitions else {}
        return partitions, sum(ends.values())
    finally:
        consumer.close(autocommit=False)


def _build_aside_in_parallel(
    dsn: str,
    bootstrap: str,
    targets: Sequence[Target],
    topic: str,
    *,
    partitions: Sequence[int],
    schemas_dir: Path,
    cases_schema: str,
    processes: int,
    progress: Callable[[int], None] | None = None,
) -> int:
    """The first pass of a rebuild in ``processes`` worker processes, each over its own partitions (every
    ``processes``-th) up to the end, into the same aside tables. A case lives in one partition, so the
    workers write disjoint rows (the postings' serial ids interleave; nothing reads them as an order) and
    each folds its cases alone; each batch moves its own partitions' offset rows in its transaction, as
    one process would. A worker that fails fails the rebuild (nothing is switched in)."""
    shares = [
        _Share(dsn, bootstrap, tuple(targets), topic, schemas_dir, cases_schema, tuple(partitions[i::processes]))
        for i in range(min(processes, len(partitions)))
    ]
    context = multiprocessing.get_context("spawn")  # no inherited connections, consumers or threads
    counter = context.Value("q", 0)
    with ProcessPoolExecutor(len(shares), mp_context=context, initializer=_share_started, initargs=(counter,)) as pool:
        futures = [pool.submit(_build_share, share) for share in shares]
        reported = 0
        while not all(f.done() for f in futures):
            done, _ = wait(futures, timeout=0.5, return_when=FIRST_EXCEPTION)
            if progress is not None:
                now = int(counter.value)
                progress(now - reported)
                reported = now
            if any(f.exception() is not None for f in done):
                for f in futures:
                    f.cancel()
                break
        if progress is not None:
            progress(int(counter.value) - reported)
        return sum(f.result() for f in futures)


PARALLEL_FROM = 20_000
"""Records per worker below which a rebuild's first pass stays in one process: a spawned worker takes
1–2 s to start (imports, its connection, its consumer), as long as a few thousand records take to apply."""


def default_processes(bootstrap: str, topic: str) -> int:
    """A rebuild's first pass: one worker process per core (PostgreSQL takes its share of them too), but no
    more than one per ``PARALLEL_FROM`` records on the topic."""
    return _workers_for(topic_extent(bootstrap, topic)[1])


def _workers_for(records: int) -> int:
    return max(1, min(os.cpu_count() or 1, records // PARALLEL_FROM))


@contextmanager
def _live_offsets_locked(conn: psycopg.Connection[Any], live: str, topic: str) -> Iterator[dict[int, int]]:
    """Hold the live projection's offset rows: the live runners wait until we are done."""
    with conn.transaction(), conn.cursor() as cur:
        cur.execute(f'LOCK TABLE "{live}".offsets IN EXCLUSIVE MODE')
        yield stored_offsets(cur, live, topic)


def rebuild(
    dsn: str,
    bootstrap: str,
    name: str,
    *,
    topic: str = CASE_EVENTS_TOPIC,
    schemas_dir: Path = SCHEMAS_DIR,
    progress: Callable[[int], None] | None = None,
    schema_suffix: str = "",
) -> int:
    """Rebuild ``name`` into fresh tables from offset 0 and switch over only when caught up.

    The rebuild runs aside in ``kravsak_<name>__next`` while the live runners go on. Then, holding
    the live offsets (runners wait), it catches up to exactly the live offsets and renames the
    schemas in the same transaction: readers see the old projection or the new one, never a half."""
    return rebuild_together(
        dsn, bootstrap, [name], topic=topic, schemas_dir=schemas_dir, progress=progress, schema_suffix=schema_suffix
    )


def rebuild_together(
    dsn: str,
    bootstrap: str,
    names: Sequence[str],
    *,
    topic: str = CASE_EVENTS_TOPIC,
    schemas_dir: Path = SCHEMAS_DIR,
    progress: Callable[[int], None] | None = None,
    schema_suffix: str = "",
    processes: int | None = None,
) -> int:
    """``rebuild`` of several projections in ONE pass over the topic: each record is read, decoded and
    folded once and feeds every projection's fresh tables aside, whose secondary indexes are built after that
    pass. That pass runs in ``processes`` worker processes over the partitions (default: one per core, for
    a topic of at least ``PARALLEL_FROM`` records per worker; 1: in this process). Then each projection in
    turn, holding its live offsets, catches up alone to exactly them and is switched in (as ``rebuild`` does
    for one)."""
    projections = [projection_named(name) for name in names]
    cases = cases_schema_for(schema_suffix)
    decoder = Decoder(SchemaStore.from_directory(schemas_dir))
    live = {p.name: schema_name(p.name, suffix=schema_suffix) for p in projections}
    aside = {p.name: schema_name(p.name, suffix=f"{schema_suffix}__next") for p in projections}
    with psycopg.connect(dsn) as conn, psycopg.connect(dsn) as lock_conn:
        for p in projections:
            ensure_projection(conn, p, live[p.name], cases)
            _fresh_schema(conn, p, aside[p.name], cases)
        targets = [Target(p, aside[p.name]) for p in projections]
        partitions: list[int] = []
        workers = 1
        if processes is None or processes > 1:  # one client asks for both: how many workers, over which partitions
            partitions, records = topic_extent(bootstrap, topic)
            workers = processes if processes is not None else _workers_for(records)
        with _indexes_after(conn, [t.schema for t in targets]):
            if workers > 1:
                count = _build_aside_in_parallel(
                    dsn,
                    bootstrap,
                    targets,
                    topic,
                    partitions=partitions,
                    schemas_dir=schemas_dir,
                    cases_schema=cases,
                    processes=workers,
                    progress=progress,
                )
            else:
                count = _build_aside(conn, bootstrap, targets, topic, decoder, cases_schema=cases, progress=progress)
        for target in targets:
            name, at = target.projection.name, live[target.projection.name]
            with _live_offsets_locked(lock_conn, at, topic) as live_offsets:
                count += _build_aside(
                    conn,
                    bootstrap,
                    [target],
                    topic,
                    decoder,
                    cases_schema=cases,
                    stop_at=live_offsets,
                    progress=progress,
                )
                with conn.cursor() as cur:
                    got = stored_offsets(cur, target.schema, topic)
                conn.commit()
                behind = {p: o for p, o in live_offsets.items() if got.get(p, 0) < o}
                if behind:
                    raise RuntimeError(f"rebuild of {name} could not reach the live offsets {behind}")
                lock_conn.execute(f'DROP SCHEMA IF EXISTS "{at}__old" CASCADE')
                lock_conn.execute(f'ALTER SCHEMA "{at}" RENAME TO "{at}__old"')
                lock_conn.execute(f'ALTER SCHEMA "{target.schema}" RENAME TO "{at}"')
            with conn.transaction():
                conn.execute(f'DROP SCHEMA IF EXISTS "{at}__old" CASCADE')
            log.info("projection rebuilt", projection=name, topic=topic, events=count)
    return count


@dataclass(frozen=True, slots=True)
class Difference:
    projection: str
    table: str
    only_live: int
    only_rebuilt: int
    sample: tuple[str, ...]


IGNORED_COLUMNS = {"postings": ("id",), "parked": ("parked_at",)}


def verify(
    dsn: str,
    bootstrap: str,
    names: Sequence[str] = CORE_PROJECTIONS,
    *,
    topic: str = CASE_EVENTS_TOPIC,
    schemas_dir: Path = SCHEMAS_DIR,
    progress: Callable[[int], None] | None = None,
    schema_suffix: str = "",
) -> list[Difference]:
    """Rebuild each projection aside up to the live offsets and compare every table with the live one.

    The asides never read beyond the live offsets: first all together in one pass (one read of the
    topic, one fold per event) up to where the slowest live projection was when verify started;
    then each alone, holding its live offsets, up to where they are. A live projection that lags is
    compared with a rebuild of the same records, not reported as different."""
    differences: list[Difference] = []
    decoder = Decoder(SchemaStore.from_directory(schemas_dir))
    cases = cases_schema_for(schema_suffix)
    projections = [projection_named(name) for name in names]
    live = {p.name: schema_name(p.name, suffix=schema_suffix) for p in projections}
    aside = {p.name: schema_name(p.name, suffix=f"{schema_suffix}__verify") for p in projections}
    with psycopg.connect(dsn) as conn, psycopg.connect(dsn) as lock_conn:
        for p in projections:
            ensure_projection(conn, p, live[p.name], cases)
            _fresh_schema(conn, p, aside[p.name], cases)
        with conn.cursor() as cur:
            live_then = [stored_offsets(cur, live[p.name], topic) for p in projections]
        conn.commit()
        slowest = {part: min(o.get(part, 0) for o in live_then) for o in live_then for part in o}
        try:
            _build_aside(
                conn,
                bootstrap,
                [Target(p, aside[p.name]) for p in projections],
                topic,
                decoder,
                cases_schema=cases,
                stop_at=slowest,
                progress=progress,
            )
            for p in projections:
                with _live_offsets_locked(lock_conn, live[p.name], topic) as live_offsets:
                    _build_aside(
                        conn,
                        bootstrap,
                        [Target(p, aside[p.name])],
                        topic,
                        decoder,
                        cases_schema=cases,
                        stop_at=live_offsets,
                        progress=progress,
                    )
                    differences += _compare(lock_conn, p.name, live[p.name], aside[p.name])
        finally:
            with conn.transaction():
                for p in projections:
                    conn.execute(f'DROP SCHEMA IF EXISTS "{aside[p.name]}" CASCADE')
    return differences


def _compare(
    conn: psycopg.Connection[Any], name: str, live: str, aside: str, *, ignore: Sequence[str] = ()
) -> list[Difference]:
    out: list[Difference] = []
    with conn.cursor() as cur:
        cur.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s AND table_name <> "
            "'meta' ORDER BY 1",
            (live,),
        )
        for (table,) in cur.fetchall():
            cur.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = %s AND "
                "table_name = %s ORDER BY ordinal_position",
                (live, table),
            )
            columns = [c for (c,) in cur.fetchall() if c not in (*IGNORED_COLUMNS.get(table, ()), *ignore)]
            cols = ", ".join(f'"{c}"' for c in columns)
            counts = []
            sample: list[str] = []
            for a, b in ((live, aside), (aside, live)):
                cur.execute(f'SELECT {cols} FROM "{a}"."{table}" EXCEPT ALL SELECT {cols} FROM "{b}"."{table}"')
                rows = cur.fetchall()
                counts.append(len(rows))
                sample += [f"{a}: {r}" for r in rows[:3]]
            if any(counts):
                out.append(Difference(name, table, counts[0], counts[1], tuple(sample)))
    return out


def retry_parked(
    dsn: str,
    *,
    names: Sequence[str] = CORE_PROJECTIONS,
    schemas_dir: Path = SCHEMAS_DIR,
    schema_suffix: str = "",
) -> dict[str, int]:
    """Apply parked events again (after a fix): per case, all its parked events in stream order in
    one transaction. An event that fails again is parked again and the case's later events wait
    behind it. The transaction holds the case's partition offset row, as a live runner's batch does,
    so no runner applies the case's newer events between its retried ones."""
    decoder = Decoder(SchemaStore.from_directory(schemas_dir))
    cases_schema = cases_schema_for(schema_suffix)
    done: dict[str, int] = {}
    with psycopg.connect(dsn) as conn:
        for name in names:
            projection = projection_named(name)
            schema = schema_name(name, suffix=schema_suffix)
            ensure_projection(conn, projection, schema, cases_schema)
            with conn.cursor() as cur:
                case_ids = ParkedTable(schema).cases(cur)
            conn.commit()
            target, parked = Target(projection, schema), ParkedTable(schema)
            applied = 0
            for case_id in case_ids:
                with conn.transaction(), conn.cursor() as cur:
                    for topic, partition in parked.partitions(cur, case_id):
                        OffsetTable(schema).lock(cur, topic, [partition])
                    messages = parked.take(cur, case_id)
                    applier = Applier(conn, [target], decoder, cases_schema=cases_schema)
                    applied += applier.apply_records(cur, messages, {}, careful=True).applied
            done[name] = applied
    return done


def project_once(
    dsn: str, bootstrap: str, options: RunnerOptions | None = None, *, timeout_s: float = 120.0
) -> RunReport:
    """Run a runner until it has caught up with the topic (tests, scenario runs through Kafka)."""
    runner = ProjectionRunner(dsn, bootstrap, options or RunnerOptions())
    stop = threading.Event()
    timer = threading.Timer(timeout_s, stop.set)
    timer.start()
    try:
        return runner.run(stop, until_caught_up=True)
    finally:
        timer.cancel()
        runner.close()
