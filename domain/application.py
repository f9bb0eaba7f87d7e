"""The collection application: commands in, ids out; every accepted command saved atomically.

Each method is a domain verb taking plain values and the business date ``on`` it is recorded on,
plus a ``command_id`` that makes repeating it harmless. A refused command raises
``CommandRefused`` before anything is saved, so it changes nothing.
"""

from __future__ import annotations

import functools
import inspect
import random
import time
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Concatenate, ParamSpec, TypeVar
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.application import AggregateNotFoundError, Application, ProcessingEvent
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import (
    ApplicationRecorder,
    IntegrityError,
    JSONTranscoder,
    Recording,
    StoredEvent,
    Transcoding,
)
from eventsourcing.popo import POPOFactory
from eventsourcing.utils import Environment, get_topic

from domain import bank_payments, caseflow, inputs
from domain.bank_files import BankFile, bank_file_id
from domain.bank_payments import BankPayment, IncomingPayment
from domain.channels import Channel, DebtorContact, NoDeliveryChannel, choose_channel, may_carry
from domain.claim import Claim, claim_id, estate_status
from domain.collector import fewer_collections
from domain.command_log import (
    CommandEntry,
    CommandLog,
    Expect,
    MemoryRecorder,
    PostgresRecorder,
    SQLiteRecorder,
    content_digest,
)
from domain.errors import CommandRefused, ConcurrentChange, ErrorCode, Refusals, invalid
from domain.identity import InvalidIdentity, opaque_debtor_id, validate_identity
from domain.inputs import (
    NOTE,
    check_complaint_outcome,
    check_deferral,
    check_installments,
    check_judgment_dates,
    check_notice,
    check_payment,
    check_reason,
    check_received,
    check_service,
    check_write_off,
    objection_outcome,
    reason_code,
    require_amount,
)
from domain.kid import InvalidKid, KidAlgorithm, KidScheme, validate_payment_reference
from domain.money import fmt
from domain.notes import MemoryNotes, NoteKeeper, note_ref
from domain.parties import Creditor, Debtor, creditor_id_for, debtor_id_for
from domain.policy import CollectionPolicy, PlannedAction, default_policy
from domain.records import DebtorKind, Installment, Jurisdiction
from domain.references import PaymentReference, reference_id
from domain.refunds import Refund, RefundSource, RefundState, refund_id
from domain.rules import Rules, rules_for
from domain.suspense import Suspense, check_unmatched_payment, suspense_id
from domain.transcoder import EventMapper, OrjsonTranscoder

DEFAULT_NAMESPACE = uuid5(NAMESPACE_URL, "https://kravsak.no/")
DEBTOR_ID_KEY = b"kravsak-development-salt-change-me"
"""Derives the debtor aggregate id from the office's reference (``debtor_id_for``). Not a secret and
need not be one: the reference travels in clear in ``DebtorRegistered``. Fixed so ids never move."""
DEVELOPMENT_OFFICE_SECRET = DEBTOR_ID_KEY
"""Keys opaque ids in an in-memory application only (tests, what-if scenario runs): nothing is kept."""
T = TypeVar("T")
P = ParamSpec("P")
R = TypeVar("R")
CONFLICT_ATTEMPTS = 5
"""How often a command is tried when another writer saved what it read first (``ConcurrentChange`` after)."""
CONFLICT_BACKOFF_S = 0.02
"""The first retry waits up to this long (full jitter), doubling with each attempt."""


class OfficeSecretMissing(RuntimeError):
    """An application that keeps its events was asked for an opaque debtor id without the office's secret."""


def _coded(reason: str) -> str:
    """The code a reason is recorded as (ADR 0028); an empty reason stays empty for the command to refuse."""
    return reason_code(reason.strip()) if reason.strip() else reason


class NoteKeeperMissing(RuntimeError):
    """An application that keeps its events was given a written reason without a place to keep it apart."""


class DateAsISO(Transcoding):
    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


@dataclass(frozen=True, slots=True)
class PolicyRun:
    """One command the case flow issued."""

    day: date
    invoice: str
    action: PlannedAction
    command_id: str
    accepted: bool
    error: str | None
    letter: tuple[str, ...] = ()
    """The invoices of the combined letter or request the step went in (empty: the claim alone)."""


@dataclass
class Staged:
    """What the next save writes beside the events (``domain.command_log``): the command ids it records,
    the debtor-claim links and the expectations on what the commands read."""

    commands: dict[tuple[str, str], CommandEntry] = field(default_factory=dict)  # by (scope, command id)
    links: list[tuple[UUID, UUID]] = field(default_factory=list)
    expect: list[Expect] = field(default_factory=list)

    def add(self, entry: CommandEntry) -> None:
        self.commands[(entry.scope, entry.command_id)] = entry

    def mark(self) -> tuple[int, int, int]:
        return len(self.commands), len(self.links), len(self.expect)

    def drop_after(self, mark: tuple[int, int, int]) -> None:
        """Forget what a refused command staged (inside a unit of work)."""
        for key in list(self.commands)[mark[0] :]:
            del self.commands[key]
        del self.links[mark[1] :], self.expect[mark[2] :]

    def __bool__(self) -> bool:
        return bool(self.commands or self.links or self.expect)


@dataclass
class Prepared:
    """A save made ahead and not recorded (``CollectionApp.preparing``): its stored events and what the recorder
    writes beside them (command ids, debtor-claim links, expectations). Plain data: it pickles, so a caller can
    keep many on disk. ``CollectionApp.record_prepared`` records it in one transaction, as the save would have;
    the events' versions and the expectations make that fail if another writer got there in between."""

    events: list[StoredEvent]
    kwargs: dict[str, Any]

    @classmethod
    def merged(cls, saves: Sequence[Prepared]) -> Prepared:
        """Saves prepared one after the other (each from the aggregates as the one before left them), as ONE save:
        the same events, command ids and links in the same order. An expectation a later save has on what an
        earlier one of them writes is left out: the earlier one's events can only be stored on top of the very
        version it read, so after them the later expectation holds (and checked before them, as the recorder does,
        it could not)."""
        events: list[StoredEvent] = []
        commands: list[CommandEntry] = []
        links: list[tuple[UUID, UUID]] = []
        expect: dict[tuple[str, UUID], Expect] = {}
        written: set[UUID | str] = set()
        linked: set[UUID] = set()
        for save in saves:
            for e in save.kwargs.get("expect") or ():
                implied = e.ident in (linked if e.kind == "claims" else written)
                if not implied:
                    expect.setdefault((e.kind, e.ident), e)
            events.extend(save.events)
            written.update(e.originator_id for e in save.events)
            commands.extend(save.kwargs.get("commands") or ())
            links.extend(save.kwargs.get("links") or ())
            linked.update(d for d, _ in save.kwargs.get("links") or ())
            others = set(save.kwargs) - {"commands", "links", "expect"}
            if others:
                raise ValueError(f"a prepared save with {sorted(others)} cannot be merged")
        kwargs: dict[str, Any] = {}
        if commands:
            kwargs["commands"] = commands
        if links:
            kwargs["links"] = links
        if expect:
            kwargs["expect"] = list(expect.values())
        return cls(events, kwargs)

    def plain(self) -> tuple[Any, ...]:
        """As tuples of str, int, bytes and None only (``marshal`` writes and reads those at C speed; pickling
        the dataclasses costs more than preparing them)."""
        commands: Sequence[CommandEntry] = self.kwargs.get("commands") or ()
        links: Sequence[tuple[UUID, UUID]] = self.kwargs.get("links") or ()
        expect: Sequence[Expect] = self.kwargs.get("expect") or ()
        others = sorted(set(self.kwargs) - {"commands", "links", "expect"})
        if others:
            raise ValueError(f"a prepared save with {others} cannot be kept as plain data")
        return (
            [(e.originator_id.bytes, e.originator_version, e.topic, e.state) for e in self.events],  # type: ignore[union-attr]
            [(c.namespace, c.scope, c.command_id, c.name, c.digest) for c in commands],
            [(d.bytes, c.bytes) for d, c in links],
            [(x.kind, x.ident.bytes, x.value) for x in expect],
        )

    @classmethod
    def from_plain(cls, plain: tuple[Any, ...]) -> Prepared:
        events, commands, links, expect = plain
        uuid = _uuid_from_bytes
        kwargs: dict[str, Any] = {}
        if commands:
            kwargs["commands"] = [CommandEntry(*c) for c in commands]
        if links:
            kwargs["links"] = [(uuid(d), uuid(c)) for d, c in links]
        if expect:
            kwargs["expect"] = [Expect(k, uuid(i), v) for k, i, v in expect]
        return cls([StoredEvent(uuid(i), v, t, s) for i, v, t, s in events], kwargs)


def _uuid_from_bytes(raw: bytes) -> UUID:
    return UUID(bytes=raw)


def command(
    scope: str,
    *,
    id_field: str = "command_id",
    ignore: tuple[str, ...] = (),
    unordered: tuple[str, ...] = (),
    skip_repeat: bool = False,
) -> Callable[[Callable[Concatenate[CollectionApp, P], R]], Callable[Concatenate[CollectionApp, P], R]]:
    """Make an application method a recorded command (``CollectionApp._once``): its id (argument ``id_field``)
    is recorded for the sender ``scope`` (the argument naming the creditor or office) with a digest of its
    other arguments, except the business date ``on`` and ``ignore`` (``unordered``: lists whose order does
    not change the command; ``skip_repeat``: a repeat returns None without running, for a command that has no
    repeat path of its own). Another writer saving first makes it run again, a few times at most."""

    def wrap(method: Callable[Concatenate[CollectionApp, P], R]) -> Callable[Concatenate[CollectionApp, P], R]:
        signature = inspect.signature(method)
        params = list(signature.parameters.values())[1:]
        keyword_only = all(p.kind is p.KEYWORD_ONLY for p in params)
        names = frozenset(p.name for p in params)
        required = frozenset(p.name for p in params if p.default is p.empty)
        defaults = {p.name: p.default for p in params if p.default is not p.empty}
        left_out = frozenset(("self", id_field, "on", *ignore))

        @functools.wraps(method)
        def run(self: CollectionApp, /, *args: P.args, **kwargs: P.kwargs) -> R:
            if not args and keyword_only and required <= kwargs.keys() <= names:
                given: dict[str, Any] = {**defaults, **kwargs}  # what bind + apply_defaults give, without them
            else:
                arguments = signature.bind(self, *args, **kwargs)
                arguments.apply_defaults()  # a default given or left out is the same command
                given = arguments.arguments
            content = {k: (frozenset(v) if k in unordered else v) for k, v in given.items() if k not in left_out}
            return self._once(
                method.__name__, f"{scope}:{given.get(scope) or ''}", str(given[id_field]),
                content,
                lambda: method(self, *args, **kwargs), skip_repeat,
            )  # fmt: skip

        return run

    return wrap


def _project(aggregate: Any, events: Iterable[Any]) -> Any:
    """Apply stored events in order (eventsourcing's default projector also checks each event
    against a runtime Protocol, which costs more than the mutation itself)."""
    for event in events:
        aggregate = event.mutate(aggregate)
    return aggregate


class CollectionApp(Application[UUID]):
    """Municipal collection: creditors, debtors and claims, event-sourced."""

    # a debtor gathers one event per claim; a snapshot every 50 keeps loading it cheap
    snapshotting_intervals = {Debtor: 50}

    def __init__(
        self,
        env: Mapping[str, str] | None = None,
        *,
        namespace: UUID = DEFAULT_NAMESPACE,
        salt: bytes = DEBTOR_ID_KEY,
        office_secret: bytes | None = None,
        notes: NoteKeeper | None = None,
    ) -> None:
        """``office_secret`` keys the opaque debtor id (HMAC) that case events carry instead of a national
        id; an application with a persistent store must be given it (see ``opaque_key``). ``notes`` keeps the
        reasons people write (``domain.notes``); one that stores events and takes written reasons needs it."""
        super().__init__(env)
        self.namespace = namespace
        self.salt = salt
        self._office_secret = office_secret
        self._notes = notes
        self._batch: dict[UUID, Aggregate] | None = None
        self._absent: set[UUID] = set()  # known not stored, inside a unit of work (preload_invoices)
        self._staged = Staged()
        self._known: dict[tuple[str, str], CommandEntry | None] = {}  # preload_commands, inside a unit of work
        self._in_command = False
        self._prepared: list[Prepared] | None = None  # inside ``preparing``: where saves go instead of the store
        self.conflicts = 0  # saves another writer got to first, retried (for the numbers)
        self._policies: dict[UUID, tuple[dict[str, Any], CollectionPolicy]] = {}  # _policy: parsed, by creditor
        self._namespace_str: tuple[UUID, str] | None = None  # _namespace_text

    def construct_env(self, name: str, env: Mapping[str, str] | None = None) -> Environment:
        """eventsourcing's environment; on PostgreSQL and SQLite the recorder is the one with the command log; the
        transcoder is ``OrjsonTranscoder`` unless the environment names one."""
        environment = super().construct_env(name, env)
        recorders: dict[str, type[CommandLog]] = {
            "eventsourcing.postgres": PostgresRecorder,
            "eventsourcing.sqlite": SQLiteRecorder,
        }
        recorder = recorders.get(environment.get("PERSISTENCE_MODULE") or "")
        if recorder is not None and not environment.get("APPLICATION_RECORDER_TOPIC"):
            environment["APPLICATION_RECORDER_TOPIC"] = get_topic(recorder)
        if not environment.get("TRANSCODER_TOPIC"):  # eventsourcing's stored form, written with orjson (ADR 0030)
            environment["TRANSCODER_TOPIC"] = get_topic(OrjsonTranscoder)
        if not environment.get("MAPPER_TOPIC"):  # eventsourcing's, each event class's topic found once (ADR 0029)
            environment["MAPPER_TOPIC"] = get_topic(EventMapper)
        return environment

    def construct_snapshot_store(self) -> Any:
        """eventsourcing's; on PostgreSQL its tables are created one creator at a time, as the events' are
        (``PostgresRecorder.creating_tables``)."""
        creating = getattr(self.recorder, "creating_tables", None)
        if creating is None:
            return super().construct_snapshot_store()
        with creating():
            return super().construct_snapshot_store()

    def construct_recorder(self) -> ApplicationRecorder:
        if isinstance(self.factory, POPOFactory):
            return MemoryRecorder()
        return super().construct_recorder()

    @property
    def command_log(self) -> CommandLog:
        """Recorded command ids and debtor-claim links (``domain.command_log``)."""
        assert isinstance(self.recorder, CommandLog), f"{type(self.recorder).__name__} keeps no command log"
        return self.recorder

    @property
    def opaque_key(self) -> bytes:
        """The office's secret; an in-memory application keeps nothing and may use a development key."""
        if self._office_secret:
            return self._office_secret
        if isinstance(self.recorder, MemoryRecorder):
            return DEVELOPMENT_OFFICE_SECRET
        raise OfficeSecretMissing(
            "office_secret: an application that stores events needs the office's secret to make opaque debtor "
            "ids (KRAVSAK_OFFICE_SECRET, or derived from the master key)"
        )

    @property
    def note_keeper(self) -> NoteKeeper:
        """Where written reasons go (ADR 0028); an in-memory application keeps them in memory."""
        if self._notes is None and isinstance(self.recorder, MemoryRecorder):
            self._notes = MemoryNotes()
        if self._notes is None:
            raise NoteKeeperMissing(
                "notes: an application that stores events needs the personal-data store's note keeper to keep a "
                "written reason (personal.notes.SealedNotes; the composition root's kravsak.settings.note_keeper)"
            )
        return self._notes

    def _noting(self, reason: str, command_id: str, act: Callable[[Claim, Rules, str], None]) -> Any:
        """``act`` with the reason's code; once the claim accepted it, a written reason is kept as a note of
        the claim's debtor under ``<case id>/<command id>`` (ADR 0028), before the save."""

        def run(claim: Claim, rules: Rules) -> None:
            code = _coded(reason)
            act(claim, rules, code)
            self._keep_note(code, reason, subject=claim.debtor_id, case=claim.id, command_id=command_id)

        return run

    def _keep_note(self, code: str, reason: str, *, subject: str, case: UUID, command_id: str) -> None:
        if code == NOTE:
            self.note_keeper.keep(subject, note_ref(case, command_id), reason)

    # --- saving --------------------------------------------------------------------------------

    def save(self, *objs: Any, **kwargs: Any) -> list[Recording[UUID]]:
        """Record the aggregates' new events — or, inside ``unit_of_work``, keep them for one save."""
        if self._batch is not None:
            for obj in objs:
                if isinstance(obj, Aggregate):
                    self._batch[obj.id] = obj
                    self._absent.discard(obj.id)  # created in this batch: no longer absent
            return []
        processing = ProcessingEvent[UUID]()
        for obj in objs:
            if isinstance(obj, Aggregate):  # a nominal check: eventsourcing's Protocol check is slow
                processing.events.extend(obj.collect_events())
                processing.aggregates[obj.id] = obj
            elif obj is not None:
                processing.collect_events(obj)
        processing.saved_kwargs.update(kwargs)
        if self._staged:
            staged, self._staged = self._staged, Staged()
            processing.saved_kwargs.update(
                commands=list(staged.commands.values()), links=staged.links, expect=list(dict.fromkeys(staged.expect))
            )
        if self._prepared is not None:
            to_stored = self.mapper.to_stored_event
            self._prepared.append(Prepared([to_stored(e) for e in processing.events], processing.saved_kwargs))
            return []
        recordings = self._record(processing)
        self._take_snapshots(processing)
        self._notify(recordings)
        return recordings

    @contextmanager
    def preparing(self) -> Iterator[list[Prepared]]:
        """Work ahead of a decision: inside, a save records nothing; it appends its stored events and what the
        recorder writes beside them to the list this yields (``Prepared``), in save order. Used with
        ``unit_of_work(warm)``, the next unit of work goes on from the aggregates as the prepared saves left them;
        ``record_prepared`` records the saves later, in the same order — or they are dropped, and nothing of them
        was ever stored. No snapshot is taken for a prepared save (snapshots only shorten loading)."""
        if self._prepared is not None:
            raise RuntimeError("already preparing")
        prepared: list[Prepared] = []
        self._prepared = prepared
        try:
            yield prepared
        finally:
            self._prepared = None

    def with_events_of(self, prepared: Prepared | None, *aggregates: Aggregate) -> Prepared:
        """The prepared save (or none) and the new events of ``aggregates`` (made since), as one save."""
        to_stored = self.mapper.to_stored_event
        made = [to_stored(e) for a in aggregates for e in a.collect_events()]
        if prepared is None:
            return Prepared(made, {})
        return Prepared(prepared.events + made, prepared.kwargs)

    def record_prepared(self, prepared: Prepared) -> None:
        """Record a prepared save in one transaction. Fails like any save (``IntegrityError``: a version, command
        id or expectation another writer recorded first) and then stores nothing. Thread-safe as the recorder is:
        a caller may record one save while it prepares the next."""
        self.recorder.insert_events(prepared.events, **prepared.kwargs)

    @contextmanager
    def unit_of_work(self, warm: dict[UUID, Aggregate] | None = None) -> Iterator[None]:
        """Run many commands, then save all their events in ONE transaction.

        Aggregates loaded inside stay loaded for the next command. A refused command still changes
        nothing: commands check before they record, and a command that failed half-way has its
        aggregate rebuilt from the store plus the events of the earlier commands of the batch. If
        the final save fails (another writer got there first), nothing of the batch is stored.

        ``warm``: the aggregates a caller's previous unit of work stored (a bank file's batches): this one
        starts with them instead of reading them again, and after its save ``warm`` holds every aggregate
        it loaded, at its stored version. Should another writer have saved one of them meanwhile, the save
        fails on the store's version check like any concurrent change; on any failure ``warm`` is emptied
        (its aggregates may hold events that were not stored), so the caller's retry reads the store.
        """
        if self._batch is not None:
            yield
            return
        with fewer_collections():  # a batch's commands allocate much, almost nothing in cycles (domain.collector)
            yield from self._unit_of_work(warm)

    def _unit_of_work(self, warm: dict[UUID, Aggregate] | None) -> Iterator[None]:
        self._batch = {} if warm is None else dict(warm)
        mark = self._staged.mark()  # what a command around this unit of work staged stays
        try:
            batch = self._batch
            yield
            pending = [a for a in self._batch.values() if a.pending_events]
            self._batch = None
            if pending or self._staged:
                self.save(*pending)
            if warm is not None:
                warm.update(batch)
        except BaseException:
            if warm is not None:
                warm.clear()
            raise
        finally:  # an IntegrityError goes to the batch's owner, whose retry fits the batch (automate, the importer)
            self._batch = None
            self._absent = set()
            self._known = {}
            self._staged.drop_after(mark)

    def preload_commands(self, scope: str, keys: Iterable[tuple[str, str]]) -> None:
        """Inside a unit of work, look up in one query whether these command ids were recorded — ``keys``:
        (the value of the command's ``scope`` argument, e.g. the creditor, and the command id) — so its commands
        need no query each (a bank file's chunk, a bulk intake's batch). Outside a unit of work it does nothing."""
        if self._batch is None:
            return
        wanted = [(f"{scope}:{value}", command_id) for value, command_id in keys]
        found = self.command_log.find_commands(str(self.namespace), wanted)
        self._known.update({key: found.get(key) for key in wanted})

    # --- command ids (domain.command_log) ----------------------------------------------------

    def _once(
        self,
        name: str,
        scope: str,
        command_id: str,
        content: Mapping[str, Any],
        act: Callable[[], R],
        skip_repeat: bool = False,
        digest: str | None = None,
    ) -> R:
        """Run a command under its id: the first time it is recorded with its content's digest in the save
        of its events; a repeat with the same content runs the command's own repeat path (the first
        result, nothing changes); another content under the same id is ``invalid_input``. A save that
        another writer got to first (``IntegrityError``) runs it again after a jittered back-off, up to
        ``CONFLICT_ATTEMPTS`` times, then ``concurrent_change``; inside a unit of work the batch's save
        decides. A command another command runs is part of that one. ``digest``: the content's, when the caller
        made it already (``domain.bank_payments``)."""
        if self._in_command:
            return act()
        digest = digest or content_digest(self._digest_key, name, content)
        entry = CommandEntry(self._namespace_text(), scope, command_id, name, digest)
        attempts = 1 if self._batch is not None else CONFLICT_ATTEMPTS
        for attempt in range(1, attempts + 1):
            first = self._recorded(entry)
            if first is not None and (first.name, first.digest) != (entry.name, entry.digest):
                raise invalid(
                    "command_id",
                    f"{command_id!r} was used before for {first.name} with other content; a new command needs a new id",
                )
            if first is not None and skip_repeat:
                return None  # type: ignore[return-value]  # such a command returns nothing
            mark = self._staged.mark()
            self._in_command = True
            try:
                if first is None:
                    self._staged.add(entry)
                result = act()
                if self._batch is None and self._staged:
                    self.save()  # nothing saved yet (a repeat by content): the id is recorded all the same
                return result
            except IntegrityError as e:
                self._staged.drop_after(mark)
                if self._batch is not None:
                    raise
                self.conflicts += 1
                if attempt == attempts:
                    raise ConcurrentChange(
                        f"{name} {command_id!r}: another writer changed the same case {attempts} times; nothing of "
                        "this command was stored — send it again with the same id"
                    ) from e
            except BaseException:
                self._staged.drop_after(mark)
                raise
            finally:
                self._in_command = False
            time.sleep(random.uniform(0, CONFLICT_BACKOFF_S * 2 ** (attempt - 1)))  # noqa: S311 - jitter
        raise AssertionError("unreachable")

    def _namespace_text(self) -> str:
        """``str(self.namespace)``, made once per namespace (a UUID's text is made in Python: every command asks)."""
        text = self._namespace_str
        if text is None or text[0] is not self.namespace:
            text = self._namespace_str = (self.namespace, str(self.namespace))
        return text[1]

    def _recorded(self, entry: CommandEntry) -> CommandEntry | None:
        """The command recorded under ``entry``'s id, in this unit of work or in the store."""
        key = (entry.scope, entry.command_id)  # one application, one namespace
        if key in self._staged.commands:
            return self._staged.commands[key]
        if key in self._known:
            return self._known[key]
        return self.command_log.find_command(entry.namespace, entry.scope, entry.command_id)

    @property
    def _digest_key(self) -> bytes:
        """Keys command digests: the office's secret where the application has it (a command may carry a
        national id or free text), else the id key (an in-memory run, a service given no secret)."""
        return self._office_secret or self.salt

    @staticmethod
    def _stored_version(aggregate: Aggregate) -> int:
        """The aggregate's version in the store (before the events this unit of work added)."""
        return aggregate.version - len(aggregate.pending_events)

    def preload_invoices(self, invoices: Iterable[tuple[str, str, str]]) -> None:
        """Inside a unit of work, read every aggregate that issuing these invoices (creditor, invoice
        number, debtor reference) will touch in a few queries instead of one or two per invoice; the
        claims not yet stored are remembered as absent. Outside a unit of work it does nothing."""
        self.preload(invoices=invoices)

    def preload(self, *, invoices: Iterable[tuple[str, str, str]] = (), claims: Iterable[tuple[str, str]] = ()) -> None:
        """Inside a unit of work, read in one go every aggregate the batch's commands will touch: for
        issuing (``invoices``: creditor, invoice number, debtor reference) the claim, its debtor and the
        payment reference kravsak would assign; for commands on stored claims (``claims``: creditor,
        invoice number) the claim. What is not stored is remembered as absent, so no command of the
        batch reads the store again. Outside a unit of work it does nothing."""
        if self._batch is None:
            return
        wanted: set[UUID] = set()
        creditors: dict[str, Creditor | None] = {}
        for creditor, invoice, debtor_ref in invoices:
            if creditor not in creditors:
                creditors[creditor] = self._load(creditor_id_for(self.namespace, creditor), Creditor)
            c = creditors[creditor]
            if c is None:
                continue  # issuing will refuse it
            wanted.add(claim_id(self.namespace, creditor, invoice))
            wanted.add(debtor_id_for(self.namespace, c.office, debtor_ref, self.salt))
            kid = _first_kid(c, invoice)
            if kid is not None:
                wanted.add(reference_id(self.namespace, creditor, kid))
        wanted.update(claim_id(self.namespace, creditor, invoice) for creditor, invoice in claims)
        self._preload(wanted)

    def _read_many(self, idents: list[UUID]) -> dict[UUID, Aggregate]:
        """The aggregates stored under ``idents`` (from their latest snapshot on), in two queries on
        PostgreSQL; one by one on any other store."""
        recorder, snapshots = self.recorder, self.snapshots
        if not (hasattr(recorder, "datastore") and hasattr(recorder, "events_table_name")):
            out: dict[UUID, Aggregate] = {}
            for ident in idents:
                try:
                    out[ident] = self.repository.get(ident, projector_func=_project)
                except AggregateNotFoundError:
                    pass
            return out
        from psycopg import sql  # the PostgreSQL store only

        def rows(table: str, latest_only: bool, after: dict[UUID, int]) -> list[Any]:
            query = (
                "SELECT DISTINCT ON (originator_id) originator_id, originator_version, topic, state FROM {} "
                "WHERE originator_id = ANY(%s) ORDER BY originator_id, originator_version DESC"
                if latest_only
                else "SELECT originator_id, originator_version, topic, state FROM {} WHERE originator_id = ANY(%s) "
                "ORDER BY originator_id, originator_version"
            )
            name = sql.SQL("{}.{}").format(sql.Identifier(recorder.datastore.schema), sql.Identifier(table))
            with recorder.datastore.get_connection() as conn, conn.cursor() as cur:
                cur.execute(sql.SQL(query).format(name), (idents,))
                return [r for r in cur.fetchall() if r["originator_version"] > after.get(r["originator_id"], 0)]

        start: dict[UUID, Any] = {}
        if snapshots is not None and hasattr(snapshots.recorder, "events_table_name"):
            for r in rows(snapshots.recorder.events_table_name, True, {}):
                stored = StoredEvent(r["originator_id"], r["originator_version"], r["topic"], bytes(r["state"]))
                start[r["originator_id"]] = snapshots.mapper.to_domain_event(stored)
        out = {ident: snap.mutate(None) for ident, snap in start.items()}
        versions = {ident: snap.originator_version for ident, snap in start.items()}
        for r in rows(recorder.events_table_name, False, versions):
            stored = StoredEvent(r["originator_id"], r["originator_version"], r["topic"], bytes(r["state"]))
            event: Any = self.mapper.to_domain_event(stored)
            out[r["originator_id"]] = event.mutate(out.get(r["originator_id"]))
        return out

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(DateAsISO())

    # --- parties -----------------------------------------------------------------------------

    @command("creditor")
    def register_creditor(
        self,
        *,
        creditor: str,
        name: str,
        jurisdiction: str,
        on: date,
        command_id: str,
        office: str | None = None,
        policy: CollectionPolicy | None = None,
        kid_algorithm: str = "MOD10",
        kid_length: int = 15,
    ) -> UUID:
        j = self._jurisdiction(jurisdiction)
        if not creditor.isdigit() or len(creditor) != 4:
            raise invalid("creditor", f"'{creditor}' is not a four-digit municipality number")
        ident = creditor_id_for(self.namespace, creditor)
        if self._exists(ident):
            return ident
        chosen = policy or default_policy(j)
        if chosen.jurisdiction != j:
            raise invalid("policy", f"a {chosen.jurisdiction} policy cannot serve a {j} creditor")
        try:
            KidScheme(KidAlgorithm(kid_algorithm), kid_length, 4)  # validates the scheme
        except ValueError as e:
            raise invalid("kid_algorithm", f"no KID scheme {kid_algorithm} of length {kid_length}: {e}") from None
        c = Creditor._create(
            Creditor.Registered,
            id=ident,
            command_id=command_id,
            recorded=on,
            creditor=creditor,
            name=name,
            jurisdiction=j.value,
            office=office or creditor,
            policy=chosen.as_dict(),
            kid_algorithm=kid_algorithm,
            kid_length=kid_length,
        )
        self.save(c)
        return ident

    @command("creditor", skip_repeat=True)
    def change_policy(self, *, creditor: str, policy: CollectionPolicy, on: date, command_id: str) -> None:
        c = self.creditor(creditor)
        if policy.jurisdiction.value != c.jurisdiction:
            raise invalid("policy", f"a {policy.jurisdiction} policy cannot serve a {c.jurisdiction} creditor")
        c.change_policy(command_id=command_id, on=on, policy=policy.as_dict())
        self.save(c)

    @command("office")
    def register_debtor(
        self,
        *,
        office: str,
        ref: str,
        kind: str,
        jurisdiction: str,
        on: date,
        command_id: str,
        national_id: str | None = None,
        allow_synthetic: bool = False,
        contact: Mapping[str, bool] | None = None,
    ) -> UUID:
        j = self._jurisdiction(jurisdiction)
        debtor_kind = inputs.debtor_kind(kind)
        if national_id is not None:
            try:
                compact = validate_identity(
                    national_id, jurisdiction=j.value, kind=debtor_kind.value, allow_synthetic=allow_synthetic
                )
            except InvalidIdentity as e:
                raise invalid(e.field, e.rule) from None
            opaque = opaque_debtor_id(compact, salt=self.opaque_key)
        else:
            opaque = opaque_debtor_id(f"{office}:{ref}", salt=self.opaque_key)
        given = dict(contact or {})
        unknown = set(given) - set(DebtorContact.__dataclass_fields__)
        if unknown:
            raise invalid("contact", f"unknown channel flags {sorted(unknown)}")
        if not all(isinstance(v, bool) for v in given.values()):
            raise invalid("contact", "channel flags must be true or false")
        flags = asdict(DebtorContact(**given))  # all six recorded: a later default never changes history
        ident = debtor_id_for(self.namespace, office, ref, self.salt)
        if self._exists(ident):
            return ident
        d = Debtor._create(
            Debtor.Registered,
            id=ident,
            command_id=command_id,
            recorded=on,
            office=office,
            ref=ref,
            kind=debtor_kind.value,
            jurisdiction=j.value,
            opaque_id=opaque,
            contact=flags,
        )
        self.save(d)
        return ident

    @command("office")
    def register_death(self, *, office: str, debtor_ref: str, died: date, on: date, command_id: str) -> None:
        if died > on:
            raise invalid("died", f"the death date {died} lies after the registration date {on}")
        d = self.debtor(office, debtor_ref)
        if d.died is not None:
            if d.died == died:
                return
            raise invalid("died", f"the debtor is already registered as dead on {d.died}")
        d.die(command_id=command_id, on=on, died=died)
        claims = self._claims_of(d)
        for c in claims:
            c.note_death(command_id=command_id, on=on, died=died, rules=rules_for(c.jurisdiction.value))
        self.save(d, *claims)

    @command("office")
    def register_proklama(self, *, office: str, debtor_ref: str, published: date, on: date, command_id: str) -> date:
        d = self.debtor(office, debtor_ref)
        if d.died is None:
            raise CommandRefused(ErrorCode.MISSING_PREREQUISITE, "a proklama needs the debtor registered as dead")
        if published < d.died or published > on:
            raise invalid("published", f"the publication {published} must lie between the death {d.died} and {on}")
        if published in d.publications:
            assert d.estate_report_deadline is not None
            return d.estate_report_deadline
        rules = rules_for(d.jurisdiction)
        last = max([published, *d.publications])
        deadline = rules.estate_report_deadline(last)
        d.publish_proklama(command_id=command_id, on=on, published=published, report_deadline=deadline)
        claims = self._claims_of(d)
        for c in claims:
            c.note_estate_deadline(
                command_id=command_id,
                on=on,
                published=published,
                deadline=deadline,
                rules=rules_for(c.jurisdiction.value),
            )
        self.save(d, *claims)
        return deadline

    def debtor_claims(self, office: str, ref: str) -> list[UUID]:
        """The ids of the debtor's claims, in the order they were invoiced."""
        return self.claims_of_debtor(self.debtor(office, ref))

    def claims_of_debtor(self, d: Debtor) -> list[UUID]:
        """The ids of the claims of the debtor ``d``, in the order they were invoiced."""
        return self._claim_ids_of(d, self.command_log.claims_of(d.id))

    def _claim_ids_of(self, d: Debtor, stored: list[UUID]) -> list[UUID]:
        """Those its ``ClaimAttached`` events list (claims invoiced before the command log), those the command
        log links to it (``stored``) and this unit of work's."""
        batch = [claim for debtor, claim in self._staged.links if debtor == d.id]
        return list(dict.fromkeys([*d.claims, *stored, *batch]))

    def _claims_of(self, d: Debtor) -> list[Claim]:
        """The debtor's claims, for a command that changes them all. The save expects the command log to
        hold as many as now, so a claim invoiced meanwhile makes the command run again and see it too."""
        stored = self.command_log.claims_of(d.id)
        self._staged.expect.append(Expect("claims", d.id, len(stored)))
        return [self._claim_by_id(cid) for cid in self._claim_ids_of(d, stored)]

    # --- claims ------------------------------------------------------------------------------

    @command("creditor")
    def issue_invoice(
        self,
        *,
        creditor: str,
        invoice: str,
        amount: Decimal,
        due: date,
        claim_type: str,
        debtor_ref: str,
        on: date,
        command_id: str,
        arose: date | None = None,
        kid: str | None = None,
    ) -> UUID:
        """A claim for ``invoice``. ``kid``: the KID / OCR reference the billing system printed (checked,
        unique per creditor); without it kravsak assigns one from the creditor's scheme."""
        if not invoice or len(invoice) > 64:
            raise invalid("invoice", "an invoice number of 1 to 64 characters is required")
        c = self.creditor(creditor)
        rules = rules_for(c.jurisdiction)
        check_digit = self._printed_reference_check(kid, c.jurisdiction)
        ident = claim_id(self.namespace, creditor, invoice)
        existing = self._get_claim(ident)
        if existing is not None:
            same = (existing.account.principal, existing.due, existing.claim_type) == (amount, due, claim_type)
            if same and kid in (None, existing.kid):
                return ident
            raise invalid(
                "invoice", f"invoice number {invoice} is already registered for creditor {creditor} with other data"
            )
        d = self.debtor(c.office, debtor_ref)
        if d.jurisdiction != c.jurisdiction:
            raise invalid("debtor", f"debtor {debtor_ref} is registered under {d.jurisdiction}, not {c.jurisdiction}")
        if kid is not None:
            taken = self._load(reference_id(self.namespace, creditor, kid), PaymentReference)
            if taken is not None:
                raise invalid("kid", f"{kid} is already in use for invoice {taken.invoice} of creditor {creditor}")
            reference, check_digit = kid, check_digit or c.kid_algorithm
        else:
            reference, check_digit = self._assigned_reference(c, invoice), c.kid_algorithm
        choice = self._channel(d, "invoice")
        claim = Claim.issue(
            id=ident,
            command_id=command_id,
            on=on,
            rules=rules,
            creditor_id=creditor,
            debtor_id=str(d.id),
            invoice=invoice,
            amount=amount,
            due=due,
            claim_type=claim_type,
            debtor_kind=DebtorKind(d.kind),
            kid=reference,
            channel=choice[0],
            channel_reason=choice[1],
            arose=arose,
        )
        if d.died is not None:
            claim.note_death(command_id=command_id, on=on, died=d.died, rules=rules)
        # no write to the debtor (invoices on its claims never conflict): the link is the command log's, and
        # the save expects the debtor unchanged, so a death registered meanwhile makes it run again
        self._staged.links.append((d.id, ident))
        self._staged.expect.append(Expect("version", d.id, self._stored_version(d)))
        index = PaymentReference._create(
            PaymentReference.Assigned,
            id=reference_id(self.namespace, creditor, reference),
            command_id=command_id,
            effective=on,
            recorded=on,
            creditor_id=creditor,
            debtor_id=str(d.id),
            reference=reference,
            claim_id=ident,
            invoice=invoice,
            check_digit=check_digit,
            printed=kid is not None,
        )
        self.save(claim, index)
        return ident

    @staticmethod
    def _printed_reference_check(kid: str | None, jurisdiction: str) -> str | None:
        """The check-digit algorithm of a printed KID/OCR reference; ``invalid_input`` when it has none."""
        if kid is None:
            return None
        try:
            return validate_payment_reference(kid, jurisdiction).value
        except InvalidKid as e:
            raise invalid(e.field, f"{kid!r}: {e.rule}") from None

    def _assigned_reference(self, c: Creditor, invoice: str) -> str:
        """The creditor's scheme's KID for ``invoice``; on a clash with a reference in use, the next serial's."""
        scheme = _kid_scheme(c)
        serial = invoice_serial(invoice, scheme.serial_digits)
        for _ in range(1000):
            serial, kid = _issuable_kid(scheme, c.creditor, serial % 10**scheme.serial_digits)
            if not self._exists(reference_id(self.namespace, c.creditor, kid)):
                return kid
            serial += 1
        raise invalid("kid", f"no free KID near the serial of invoice {invoice}: assign one in the billing system")

    def claim_by_reference(self, creditor: str, reference: str) -> Claim:
        """The claim a KID / OCR reference identifies (a malformed one is ``invalid_input``, one no claim
        carries ``unknown_invoice``). A reference in the index was checked when its claim was issued."""
        index = self._load(reference_id(self.namespace, creditor, reference), PaymentReference)
        if index is None:
            self._printed_reference_check(reference, self.creditor(creditor).jurisdiction)
            raise CommandRefused(
                ErrorCode.UNKNOWN_INVOICE, f"no claim of creditor {creditor} carries the payment reference {reference}"
            )
        return self._claim_by_id(index.claim_id)

    @command("creditor")
    def credit_invoice(
        self, *, creditor: str, invoice: str, amount: Decimal, on: date, command_id: str, reason: str = "credit note"
    ) -> None:
        self._on_claim(
            creditor,
            invoice,
            command_id,
            self._noting(
                reason,
                command_id,
                lambda c, r, code: c.credit(command_id=command_id, on=on, amount=amount, reason=code, rules=r),
            ),
            lambda r: require_amount("amount", amount),
        )

    @command("creditor")
    def register_payment(
        self,
        *,
        creditor: str,
        invoice: str,
        amount: Decimal,
        on: date,
        command_id: str,
        ordered: date | None = None,
        designation: str | None = None,
    ) -> None:
        self._on_claim(
            creditor,
            invoice,
            command_id,
            lambda c, r: c.pay(
                command_id=command_id, on=on, amount=amount, ordered=ordered or on, designation=designation, rules=r
            ),
            lambda r: check_payment(amount, ordered or on, on, designation),
        )

    @command("creditor")
    def register_payment_by_reference(
        self,
        *,
        creditor: str,
        reference: str,
        amount: Decimal,
        on: date,
        command_id: str,
        ordered: date | None = None,
        designation: str | None = None,
    ) -> str:
        """Money matched to its claim by the KID / OCR reference the payer used, as a bank file does; returns
        the invoice it was registered on."""
        check_payment(amount, ordered or on, on, designation)
        claim = self.claim_by_reference(creditor, reference)
        self._on_claim(
            creditor,
            claim.invoice,
            command_id,
            lambda c, r: c.pay(
                command_id=command_id,
                on=on,
                amount=amount,
                ordered=ordered or on,
                designation=designation,
                rules=r,
                source="reference",
                reference=reference,
            ),
        )
        return claim.invoice

    # --- bank files ---------------------------------------------------------------------------------

    def preload_references(self, references: Iterable[tuple[str, str]]) -> None:
        """Inside a unit of work, read the payment-reference index entries of these (creditor, reference)
        pairs, the claims they name and the creditors' suspense accounts in a few queries (a bank file's
        batch); what is not stored is remembered as absent. Outside a unit of work it does nothing."""
        if self._batch is None:
            return
        pairs = set(references)
        creditors = {c for c, _ in pairs}
        first = {reference_id(self.namespace, c, r) for c, r in pairs}
        first |= {suspense_id(self.namespace, c) for c in creditors}
        first |= {creditor_id_for(self.namespace, c) for c in creditors}
        self._preload(first)
        claims = {
            a.claim_id for i in first if isinstance(a := self._batch.get(i), PaymentReference)
        }  # fmt: skip
        self._preload(claims)

    def _preload(self, idents: Iterable[UUID]) -> None:
        assert self._batch is not None
        missing = [i for i in idents if i not in self._batch and i not in self._absent]
        if not missing:
            return
        found = self._read_many(missing)
        for ident in missing:
            aggregate = found.get(ident)
            if aggregate is None:
                self._absent.add(ident)
            else:
                self._batch[ident] = aggregate

    @command("creditor", id_field="transaction_id", ignore=("file_digest", "file_format", "refund_by"))
    def receive_bank_payment(
        self,
        *,
        creditor: str,
        reference: str,
        structured: bool,
        amount: Decimal,
        ordered: date,
        on: date,
        transaction_id: str,
        file_digest: str,
        file_format: str,
        refund_by: str | None = None,
    ) -> BankPayment:
        """One credit transaction of a bank file (FORMAT 1.1 ``import_payments``): matched by its structured
        reference to a claim and registered as a payment ordered on ``ordered``, with the transaction id as
        command id; a reference no claim carries (or an unstructured one, or a payment the claim refuses)
        goes to the creditor's suspense account. A transaction id registered before — on a claim or in
        suspense — changes nothing (``duplicate``). ``refund_by``: a surplus the payment leaves is requested
        as a refund to the payer in the same save, by this person or service."""
        return bank_payments.land(
            self, creditor=creditor, reference=reference, structured=structured, amount=amount, ordered=ordered,
            on=on, transaction_id=transaction_id, file_digest=file_digest, file_format=file_format, refund_by=refund_by,
        )  # fmt: skip

    def receive_bank_payments(
        self,
        payments: Sequence[IncomingPayment],
        *,
        on: date,
        file_digest: str,
        file_format: str,
        refund_by: str | None = None,
    ) -> list[BankPayment]:
        """A batch of a bank file's credit transactions in one unit of work: each the ``receive_bank_payment``
        command it would be alone — the same checks, the same command id and digest, the same events
        (``domain.bank_payments``) — without a command call's per-call work."""
        return bank_payments.receive(
            self, payments, on=on, file_digest=file_digest, file_format=file_format, refund_by=refund_by
        )

    def bank_file(self, digest: str) -> BankFile | None:
        return self._load(bank_file_id(self.namespace, digest), BankFile)

    # --- refunds (domain.refunds) -----------------------------------------------------------------

    @command("creditor")
    def request_refund(
        self,
        *,
        creditor: str,
        on: date,
        command_id: str,
        by: str,
        payee_key: str,
        invoice: str | None = None,
        reference: str | None = None,
        amount: Decimal | None = None,
        reason: str = "",
    ) -> UUID:
        """A refund to the payer: of ``invoice``'s surplus (all that is left to refund, or ``amount``), or of
        the oldest unmatched payment in suspense with the payer's ``reference`` (the whole payment). The
        money is reserved at its source in the same save. Repeating the command returns the same refund."""
        ident = refund_id(self.namespace, creditor, command_id)
        existing = self._load(ident, Refund)
        if existing is not None:
            return ident
        if (invoice is None) == (reference is None):
            raise invalid("invoice", "give either the invoice whose surplus to refund or the reference in suspense")
        if not payee_key.strip():
            raise invalid("payee", "say where the payee's name and account are kept")
        if invoice is not None:
            claim = self.claim(creditor, invoice)
            wanted = claim.surplus_to_refund if amount is None else amount
            if wanted <= 0:
                raise invalid("invoice", f"invoice {invoice} has no surplus left to refund")
            with self.unit_of_work():
                return self._request_surplus_refund(
                    claim, amount=wanted, on=on, command_id=command_id, by=by, payee_key=payee_key,
                    reason=reason or "surplus owed back",
                )  # fmt: skip
        assert reference is not None
        account = self.suspense(creditor)
        item = account.oldest_open(reference) if account is not None else None
        if account is None or item is None:
            raise invalid("reference", f"no unallocated payment with the reference {reference!r} is in suspense")
        if amount is not None and amount != item.amount:
            raise invalid("amount", f"a payment in suspense is refunded whole: {item.amount}")
        refund = Refund.request(
            id=ident, command_id=command_id, on=on, creditor_id=creditor, currency=account.currency,
            source=RefundSource.SUSPENSE, reference=item.reference, amount=item.amount, payee_key=payee_key,
            requested_by=by, reason=_coded(reason or "belongs to no claim"), item=item.item,
        )  # fmt: skip
        account.reserve_refund(command_id=command_id, on=on, item=item, refund_id=ident)
        # the payer is unknown: the refund itself is the note's subject
        self._keep_note(refund.reason, reason, subject=str(ident), case=ident, command_id=command_id)
        self.save(refund, account)
        return ident

    def _request_surplus_refund(
        self, claim: Claim, *, amount: Decimal, on: date, command_id: str, by: str, payee_key: str, reason: str
    ) -> UUID:
        ident = refund_id(self.namespace, claim.creditor_id, command_id)
        refund = Refund.request(
            id=ident, command_id=command_id, on=on, creditor_id=claim.creditor_id, currency=claim.currency,
            source=RefundSource.SURPLUS, reference=claim.kid, amount=amount, payee_key=payee_key, requested_by=by,
            reason=_coded(reason), claim_id=claim.id, invoice=claim.invoice,
        )  # fmt: skip
        claim.reserve_refund(
            command_id=command_id, on=on, refund_id=ident, amount=amount, rules=rules_for(claim.jurisdiction.value)
        )
        self._keep_note(refund.reason, reason, subject=claim.debtor_id, case=ident, command_id=command_id)
        self.save(refund, claim)
        return ident

    def refund(self, ident: UUID) -> Refund:
        r = self._load(ident, Refund)
        if r is None:
            raise invalid("refund", f"no refund {ident}")
        return r

    def refunds(self, creditor: str | None = None) -> list[Refund]:
        """Every refund (of ``creditor``) of this office's namespace, oldest request first: the refund
        worklist. Read from the event store's requests (a worklist is small; the read model for many offices is
        the ledger's); a store shared by several namespaces (the demo's runs, tests) shows each only its own."""
        topic = get_topic(Refund.Requested)
        found: list[Refund] = []
        start: int | None = 1
        while start is not None:
            page = self.recorder.select_notifications(start=start, limit=1000, topics=[topic])
            for n in page:
                r = self._load(n.originator_id, Refund)  # type: ignore[arg-type]
                if r is None or (creditor is not None and r.creditor_id != creditor):
                    continue
                if any(refund_id(self.namespace, r.creditor_id, c) == r.id for c in r.commands):
                    found.append(r)
            start = page[-1].id + 1 if len(page) == 1000 else None
        return found

    @command("refund")
    def approve_refund(self, *, refund: UUID, by: str, on: date, command_id: str) -> None:
        """Four eyes: the person approving is not the one who requested it (the role is the edge's check)."""
        r = self.refund(refund)
        if command_id in r.commands:
            return
        r.approve(command_id=command_id, on=on, by=by)
        self.save(r)

    @command("refund")
    def reject_refund(self, *, refund: UUID, by: str, reason: str, on: date, command_id: str) -> None:
        """The refund will not be paid: the money is released at its source."""
        r = self.refund(refund)
        if command_id in r.commands:
            return
        r.reject(command_id=command_id, on=on, by=by, reason=_coded(reason))
        source = self._refund_source(r)
        subject = source.debtor_id if isinstance(source, Claim) else str(r.id)
        self._keep_note(_coded(reason), reason.strip(), subject=subject, case=r.id, command_id=command_id)
        if isinstance(source, Claim):
            source.cancel_refund(
                command_id=command_id, on=on, refund_id=r.id, rules=rules_for(source.jurisdiction.value)
            )
        else:
            assert r.item is not None
            source.cancel_refund(command_id=command_id, on=on, item=r.item, refund_id=r.id)
        self.save(r, source)

    def pay_out_refunds(
        self, *, refunds: Sequence[UUID], message_id: str, execution_date: date, by: str, on: date
    ) -> list[UUID]:
        """The refunds went to the bank in the credit-transfer file ``message_id``: each is recorded paid out
        and its money leaves its source, all in ONE save. A refund already paid out in this same file is
        skipped (exporting twice pays nobody twice); one not approved, or paid in another file, refuses all.
        Returns the refunds recorded now."""
        if not message_id.strip() or len(message_id) > 35:
            raise invalid("message_id", "a pain.001 message id of 1 to 35 characters")
        done: list[UUID] = []
        with self.unit_of_work():
            for ident in refunds:
                r = self.refund(ident)
                if r.state is RefundState.PAID_OUT:
                    if r.message_id == message_id:
                        continue
                    raise invalid("refund", f"refund {r.number} was paid out in file {r.message_id}")
                command_id = f"pain001:{message_id}:{r.number}"
                r.pay_out(command_id=command_id, on=on, message_id=message_id, execution_date=execution_date, by=by)
                source = self._refund_source(r)
                if isinstance(source, Claim):
                    source.refund_surplus(
                        command_id=command_id, on=on, refund_id=r.id, message_id=message_id,
                        rules=rules_for(source.jurisdiction.value),
                    )  # fmt: skip
                else:
                    assert r.item is not None
                    source.refund(command_id=command_id, on=on, item=r.item, refund_id=r.id, message_id=message_id)
                self.save(r, source)
                done.append(ident)
        return done

    def _refund_source(self, r: Refund) -> Claim | Suspense:
        if r.source is RefundSource.SURPLUS:
            assert r.claim_id is not None
            return self._claim_by_id(r.claim_id)
        account = self.suspense(r.creditor_id)
        assert account is not None, f"refund {r.number} names a suspense account that does not exist"
        return account

    # --- suspense (unmatched payments) ------------------------------------------------------------

    @command("creditor", ignore=("bank_file",))
    def receive_unmatched_payment(
        self,
        *,
        creditor: str,
        reference: str,
        amount: Decimal,
        on: date,
        command_id: str,
        ordered: date | None = None,
        source: str = "manual",
        bank_file: tuple[str, str, str] | None = None,
    ) -> None:
        """Money whose reference matches no claim goes to the creditor's suspense account (``bank_file``: the
        file's digest, its format and the transaction id, when it came in a bank file)."""
        check_unmatched_payment(reference, amount, ordered or on, on, source)
        c = self.creditor(creditor)
        ident = suspense_id(self.namespace, creditor)
        account = self._load(ident, Suspense)
        if account is None:
            account = Suspense.open(
                id=ident, command_id=f"{command_id}/open", on=on, creditor_id=creditor,
                currency=rules_for(c.jurisdiction).currency,
            )  # fmt: skip
        elif command_id in account.commands:
            return
        account.receive(
            command_id=command_id, on=on, reference=reference, amount=amount, ordered=ordered or on, source=source,
            bank_file=bank_file,
        )  # fmt: skip
        self.save(account)

    def suspense(self, creditor: str) -> Suspense | None:
        return self._load(suspense_id(self.namespace, creditor), Suspense)

    @command("creditor")
    def allocate_suspense(self, *, creditor: str, reference: str, invoice: str, on: date, command_id: str) -> None:
        """A caseworker places the oldest unmatched payment with ``reference`` on ``invoice``: it is registered
        as a payment ordered the day the payer ordered it, and leaves suspense, in one save."""
        account = self.suspense(creditor)
        if account is not None and command_id in account.commands:
            return
        item = account.oldest_open(reference) if account is not None else None
        if account is None or item is None:
            raise invalid("reference", f"no unallocated payment with the reference {reference!r} is in suspense")
        claim = self.claim(creditor, invoice)
        with self.unit_of_work():
            self._on_claim(
                creditor,
                invoice,
                command_id,
                lambda c, r: c.pay(
                    command_id=command_id, on=on, amount=item.amount, ordered=item.ordered, designation=None,
                    rules=r, source="suspense", reference=item.reference,
                ),
            )  # fmt: skip
            account.allocate(command_id=command_id, on=on, item=item, claim_id=claim.id, invoice=invoice)
            self.save(account)

    @command("creditor")
    def send_notice(
        self,
        *,
        creditor: str,
        invoice: str,
        notice: str,
        on: date,
        command_id: str,
        deadline: date | None = None,
        channel: str | None = None,
        monitoring: bool = False,
    ) -> None:
        """A notice; ``monitoring``: long-term monitoring's limitation-interrupting step (a written-down claim)."""
        cred = self.creditor(creditor)
        policy = self._policy(cred)

        def act(c: Claim, r: Rules) -> None:
            check_notice(r, notice, deadline, on)  # before the channel, which knows only real notices
            d = self._load(UUID(c.debtor_id), Debtor)
            assert d is not None
            chosen = self._given_channel(channel, notice) if channel else self._channel(d, notice)
            c.send_notice(
                command_id=command_id,
                on=on,
                notice=notice,
                deadline=deadline,
                died=c.facts.died,
                channel=chosen[0],
                channel_reason=chosen[1],
                fees_enabled=policy.fees_enabled,
                reminder_fee_agreed=policy.reminder_fee_agreed,
                rules=r,
                carry_out_within_days=policy.water_shutoff_within_days,
                monitoring=monitoring,
            )

        def check(r: Rules) -> None:
            check_notice(r, notice, deadline, on)
            if channel:
                self._given_channel(channel, notice)

        self._on_claim(creditor, invoice, command_id, act, check)

    @command("creditor", unordered=("invoices",))
    def send_combined_notice(
        self,
        *,
        creditor: str,
        invoices: Sequence[str],
        notice: str,
        on: date,
        command_id: str,
        deadline: date | None = None,
        channel: str | None = None,
        monitoring: bool = False,
    ) -> list[str]:
        """One letter for several claims of one debtor (samlet purring / inkassovarsel / betalingsoppfordring,
        påminnelse / inkassokrav): every claim's own rules must allow the step; the letter carries ONE fee,
        on the first listed claim whose fee cap still allows one. Returns the invoices the letter covered."""
        cred = self.creditor(creditor)
        policy = self._policy(cred)
        check_notice(rules_for(cred.jurisdiction), notice, deadline, on)
        if channel:
            self._given_channel(channel, notice)
        claims = self._combined_claims(creditor, invoices, command_id)
        d = self._load(UUID(claims[0].debtor_id), Debtor)
        assert d is not None
        chosen = self._given_channel(channel, notice) if channel else self._channel(d, notice)
        letter = [c.invoice for c in claims]

        def send(c: Claim, r: Rules, fee_on: str | None) -> None:
            c.send_notice(
                command_id=command_id, on=on, notice=notice, deadline=deadline, died=c.facts.died,
                channel=chosen[0], channel_reason=chosen[1], fees_enabled=policy.fees_enabled,
                reminder_fee_agreed=policy.reminder_fee_agreed, rules=r, letter=letter, letter_fee_on=fee_on,
                carry_out_within_days=policy.water_shutoff_within_days, monitoring=monitoring,
            )  # fmt: skip

        self._on_each(creditor, claims, command_id, send, lambda c: c.facts.notices[-1].fee > 0)
        return letter

    @command("creditor", unordered=("invoices",))
    def request_combined_enforcement(
        self, *, creditor: str, invoices: Sequence[str], route: str, on: date, command_id: str, monitoring: bool = False
    ) -> list[str]:
        """One enforcement or court request covering several claims of one debtor: ONE court or enforcement
        fee, on the first listed claim. Returns the invoices the request covered."""
        claims = self._combined_claims(creditor, invoices, command_id)
        request = [c.invoice for c in claims]

        def enforce(c: Claim, r: Rules, cost_on: str | None) -> None:
            c.request_enforcement(
                command_id=command_id, on=on, route=route, died=c.facts.died, rules=r, request=request,
                cost_on=cost_on, monitoring=monitoring,
            )  # fmt: skip

        self._on_each(creditor, claims, command_id, enforce, lambda c: c.facts.enforcements[-1].cost > 0)
        return request

    def _combined_claims(self, creditor: str, invoices: Sequence[str], command_id: str) -> list[Claim]:
        """The claims of a combined letter or request, all of one debtor (else ``invalid_input``)."""
        if not invoices or not all(isinstance(i, str) and i for i in invoices):
            raise invalid("invoices", "a list of one or more invoice numbers is required")
        if len(set(invoices)) != len(invoices):
            raise invalid("invoices", f"an invoice is listed twice in {list(invoices)}")
        found = {i: self._get_claim(claim_id(self.namespace, creditor, i)) for i in invoices}
        known = [c for c in found.values() if c is not None]
        if len({c.debtor_id for c in known}) > 1:
            raise invalid(
                "invoices",
                "one letter or request covers claims of one debtor and one creditor; "
                f"{', '.join(c.invoice for c in known)} belong to different debtors",
            )
        missing = [i for i, c in found.items() if c is None]
        if missing:
            raise CommandRefused(
                ErrorCode.UNKNOWN_INVOICE, f"invoice {missing[0]} is not registered for creditor {creditor}"
            )
        return [c for c in found.values() if c is not None]

    def _on_each(
        self,
        creditor: str,
        claims: list[Claim],
        command_id: str,
        act: Callable[[Claim, Rules, str | None], None],
        charged: Callable[[Claim], bool],
    ) -> None:
        """``act`` on every claim in one save; a refusal of any refuses all (the first in the contract's
        order is reported). ``charged`` says whether the claim just took the one fee, after which the
        following claims get the invoice it went on."""
        if command_id in claims[0].commands:
            return  # repeated command: already done
        refusals = Refusals()
        with self.unit_of_work():
            fee_on: str | None = None
            for listed in claims:
                try:
                    self._on_claim(creditor, listed.invoice, command_id, lambda c, r, on=fee_on: act(c, r, on))
                except CommandRefused as refused:
                    refusals.add(refused.code, f"invoice {listed.invoice}: {refused.message}")
                    continue
                if fee_on is None and charged(self.claim(creditor, listed.invoice)):
                    fee_on = listed.invoice
            refusals.raise_first()

    @command("creditor")
    def suspend_service(self, *, creditor: str, invoice: str, service: str, on: date, command_id: str) -> None:
        """Sweden: shut the water off after an avstängningsvarsel, or end a childcare place, as the creditor's
        guidelines allow (its taxa's visit fee is a cost of the claim). Norway: ``route_not_available``."""
        policy = self._policy(self.creditor(creditor))
        self._on_claim(
            creditor,
            invoice,
            command_id,
            lambda c, r: c.suspend_service(
                command_id=command_id,
                on=on,
                service=service,
                died=c.facts.died,
                visit_fee=policy.shutoff_visit_fee,
                earliest_months=policy.childcare_end_after_months,
                rules=r,
            ),  # fmt: skip
            lambda r: check_service(service),
        )

    @command("creditor")
    def register_objection(
        self, *, creditor: str, invoice: str, on: date, command_id: str, received: date | None = None, text: str = ""
    ) -> None:
        self._on_claim(
            creditor,
            invoice,
            command_id,
            lambda c, r: c.register_objection(
                command_id=command_id, on=on, received=received or on, text=text, rules=r
            ),
            lambda r: check_received("objection", received or on, on),
        )

    @command("creditor")
    def resolve_objection(
        self, *, creditor: str, invoice: str, outcome: str, on: date, command_id: str, amount: Decimal | None = None
    ) -> None:
        self._on_claim(
            creditor,
            invoice,
            command_id,
            lambda c, r: c.resolve_objection(command_id=command_id, on=on, outcome=outcome, amount=amount, rules=r),
            lambda r: void(objection_outcome(outcome, amount)),
        )

    @command("creditor")
    def grant_deferral(
        self, *, creditor: str, invoice: str, until: date, on: date, command_id: str, requested_by_debtor: bool = True
    ) -> None:
        policy = self._policy(self.creditor(creditor))
        self._on_claim(
            creditor,
            invoice,
            command_id,
            lambda c, r: c.grant_deferral(
                command_id=command_id,
                on=on,
                until=until,
                requested_by_debtor=requested_by_debtor,
                rules=r,
                refused_after_due=policy.deferral_after_due_refused,
            ),  # fmt: skip
            lambda r: check_deferral(until, on),
        )

    @command("creditor")
    def agree_payment_plan(
        self, *, creditor: str, invoice: str, installments: Iterable[Installment], on: date, command_id: str
    ) -> None:
        plan = list(installments)
        self._on_claim(
            creditor,
            invoice,
            command_id,
            lambda c, r: c.agree_payment_plan(command_id=command_id, on=on, installments=plan, rules=r),
            lambda r: check_installments(plan, on),
        )

    @command("creditor")
    def request_enforcement(
        self, *, creditor: str, invoice: str, route: str, on: date, command_id: str, monitoring: bool = False
    ) -> None:
        """An enforcement or court step; ``monitoring``: long-term monitoring's limitation-interrupting step."""
        self._on_claim(
            creditor,
            invoice,
            command_id,
            lambda c, r: c.request_enforcement(
                command_id=command_id, on=on, route=route, died=c.facts.died, rules=r, monitoring=monitoring
            ),
        )

    @command("creditor")
    def register_judgment(
        self,
        *,
        creditor: str,
        invoice: str,
        on: date,
        command_id: str,
        decided: date | None = None,
        served: date | None = None,
    ) -> None:
        self._on_claim(
            creditor,
            invoice,
            command_id,
            lambda c, r: c.register_judgment(
                command_id=command_id, on=on, decided=decided or on, served=served, rules=r
            ),
            lambda r: check_judgment_dates(on, decided or on, served),
        )

    @command("creditor")
    def apply_reinstatement(self, *, creditor: str, invoice: str, on: date, command_id: str) -> None:
        self._on_claim(
            creditor, invoice, command_id, lambda c, r: c.apply_reinstatement(command_id=command_id, on=on, rules=r)
        )

    @command("creditor")
    def report_to_estate(self, *, creditor: str, invoice: str, on: date, command_id: str) -> None:
        self._on_claim(
            creditor, invoice, command_id, lambda c, r: c.report_to_estate(command_id=command_id, on=on, rules=r)
        )

    @command("creditor")
    def write_off(self, *, creditor: str, invoice: str, reason: str, on: date, command_id: str) -> None:
        self._on_claim(
            creditor,
            invoice,
            command_id,
            lambda c, r: c.write_off(command_id=command_id, on=on, reason=reason, rules=r),
            lambda r: check_write_off(reason),
        )

    @command("creditor")
    def write_down(
        self, *, creditor: str, invoice: str, reason: str, on: date, command_id: str, amount: Decimal | None = None
    ) -> None:
        """Write the claim down in the accounts (the balance by default); it stays open under long-term
        monitoring: only limitation-interrupting steps and payments remain allowed (``claim_written_down``)."""

        def check(r: Rules) -> None:
            check_reason(reason, "write-down")
            if amount is not None:
                require_amount("amount", amount)

        self._on_claim(
            creditor,
            invoice,
            command_id,
            self._noting(
                reason,
                command_id,
                lambda c, r, code: c.write_down(command_id=command_id, on=on, amount=amount, reason=code, rules=r),
            ),
            check,
        )

    @command("creditor")
    def forgive_principal(
        self, *, creditor: str, invoice: str, amount: Decimal, reason: str, on: date, command_id: str
    ) -> None:
        """Give up part of the principal from ``on`` (ettergivelse / eftergift): the debtor owes less."""
        self._on_claim(
            creditor,
            invoice,
            command_id,
            self._noting(
                reason,
                command_id,
                lambda c, r, code: c.forgive_principal(
                    command_id=command_id, on=on, amount=amount, reason=code, rules=r
                ),
            ),
        )

    @command("creditor")
    def postpone_due(self, *, creditor: str, invoice: str, until: date, on: date, command_id: str) -> None:
        """Uppskov for an unclear invoice: the due date moves to ``until``; interest and deadlines count from it."""
        self._on_claim(
            creditor,
            invoice,
            command_id,
            lambda c, r: c.postpone_due(command_id=command_id, on=on, until=until, rules=r),
        )

    @command("creditor")
    def file_complaint(
        self, *, creditor: str, invoice: str, on: date, command_id: str, received: date | None = None
    ) -> None:
        self._on_claim(
            creditor,
            invoice,
            command_id,
            lambda c, r: c.file_complaint(command_id=command_id, on=on, received=received or on, rules=r),
            lambda r: check_received("complaint", received or on, on),
        )

    @command("creditor")
    def decide_complaint(self, *, creditor: str, invoice: str, outcome: str, on: date, command_id: str) -> None:
        self._on_claim(
            creditor,
            invoice,
            command_id,
            lambda c, r: c.decide_complaint(command_id=command_id, on=on, outcome=outcome, rules=r),
            lambda r: check_complaint_outcome(outcome),
        )

    # --- case flow ---------------------------------------------------------------------------

    def run_policies(
        self, *, creditor: str, invoices: Iterable[str], start: date, until: date, command_id: str
    ) -> list[PolicyRun]:
        """Drive the creditor's policy day by day from ``start`` through ``until`` for ``invoices``:
        every day of ``domain.caseflow.run_days`` for all of them — a debtor's claims due for the same step
        in one letter or request when the policy merges — with ``command_id`` as the prefix of the steps'
        ids (``<command_id>/<case id>/<step>/<day>``) and an instalment missed the day after its due date
        (the contract's reading)."""
        policy = self._policy(self.creditor(creditor))
        runs: list[PolicyRun] = []
        targets = [(invoice, 0) for invoice in invoices]
        day = start
        while day <= until:
            days = caseflow.run_days(
                self,
                creditor=creditor,
                claims=targets,
                day=day,
                policy=policy,
                prefix=command_id,
                plan_grace_days=0,
                schedule=False,
            )
            for done in days:
                if done.step is not None:
                    refused = done.step.refused
                    runs.append(
                        PolicyRun(
                            day,
                            done.claim.invoice,
                            done.step.action,
                            done.step.command_id,
                            refused is None,
                            refused.code.value if refused else None,
                            done.step.letter,
                        )
                    )
            day += timedelta(days=1)
        return runs

    # --- queries -----------------------------------------------------------------------------

    def _policy(self, c: Creditor) -> CollectionPolicy:
        """The creditor's collection policy, parsed once for as long as the creditor holds the same policy
        (an event that changes it gives the creditor a new dictionary)."""
        cached = self._policies.get(c.id)
        if cached is not None and cached[0] is c.policy:
            return cached[1]
        policy = CollectionPolicy.from_dict(c.policy)
        self._policies[c.id] = (c.policy, policy)
        return policy

    def creditor(self, creditor: str) -> Creditor:
        c = self._load(creditor_id_for(self.namespace, creditor), Creditor)
        if c is None:
            raise invalid("creditor", f"creditor {creditor} is not registered")
        return c

    def debtor(self, office: str, ref: str) -> Debtor:
        d = self._load(debtor_id_for(self.namespace, office, ref, self.salt), Debtor)
        if d is None:
            raise invalid("debtor", f"debtor {ref} is not registered with office {office}")
        return d

    def claim(self, creditor: str, invoice: str) -> Claim:
        c = self._get_claim(claim_id(self.namespace, creditor, invoice))
        if c is None:
            raise CommandRefused(
                ErrorCode.UNKNOWN_INVOICE, f"invoice {invoice} is not registered for creditor {creditor}"
            )
        return c

    def reason_notes(self, case_id: UUID) -> dict[str, str]:
        """The reasons people wrote on a case (write-downs, credit notes, …), by command id, from the note
        keeper (``domain.notes.ERASED`` once the debtor is erased), for a reader the edge allows to see them;
        events and stream carry only ``note`` (ADR 0028). An event stored before ADR 0028 still holds its text."""
        claim = self._get_claim(case_id)
        if claim is None:
            return {}
        notes: dict[str, str] = {}
        kept: list[str] = []
        for event in self.events.get(case_id):
            reason = getattr(event, "reason", None)
            command = str(getattr(event, "command_id", ""))
            if reason == NOTE:
                kept.append(command)
            elif isinstance(reason, str) and reason_code(reason) == NOTE:
                notes[command] = reason
        found = self.note_keeper.read(claim.debtor_id, [note_ref(case_id, c) for c in kept]) if kept else {}
        notes.update({c: found[note_ref(case_id, c)] for c in kept if note_ref(case_id, c) in found})
        return notes

    def refund_reason(self, r: Refund) -> str:
        """A refund's reason as a reader the edge allows sees it: its code, or the note a person wrote."""
        if r.reason != NOTE:
            return r.reason
        subject = self._claim_by_id(r.claim_id).debtor_id if r.claim_id is not None else str(r.id)
        first = next(iter(self.events.get(r.id)))  # the request: its reason is the one ``r.reason`` holds
        command = str(getattr(first, "command_id", ""))
        return self.note_keeper.read(subject, [note_ref(r.id, command)]).get(note_ref(r.id, command), NOTE)

    def claim_by_id(self, ident: UUID) -> Claim:
        """The claim (case) ``ident``, as ``debtor_claims`` lists it."""
        c = self._get_claim(ident)
        if c is None:
            raise CommandRefused(ErrorCode.UNKNOWN_INVOICE, f"no claim has the case id {ident}")
        return c

    def claim_report(self, claim: Claim, day: date) -> dict[str, Any]:
        """The contract's view of one claim on ``day``."""
        rules = rules_for(claim.jurisdiction.value)
        exact, warnings = claim.interest_exact_on(day, rules)
        acc = claim.account
        report: dict[str, Any] = {
            "principal": fmt(acc.principal),
            "interest": fmt(acc.owed("interest", exact)),
            "fees": fmt(acc.fees),
            "costs": fmt(acc.costs),
            "paid": fmt(acc.total_paid),
            "balance": fmt(acc.balance(exact)),
            "limitation_date": claim.limitation_date.isoformat(),
            "status": claim.status_on(day, rules).value,
            "stage": claim.stage.value,
            "disputed": claim.disputed,
            "currency": claim.currency,
            "kid": claim.kid,
            "surplus": fmt(acc.surplus),
            "written_down": fmt(claim.written_down_in_accounts),
            "estate_report_deadline": claim.estate_deadline.isoformat() if claim.estate_deadline else None,
            "estate_status": estate_status(
                died=claim.facts.died,
                reported=claim.reported_to_estate,
                deadline=claim.estate_deadline,
                lien_secured=claim.lien_secured,
                day=day,
            ),
        }
        if claim.write_off_reason:
            report["written_off"] = fmt(claim.written_off_amount)
        if warnings:
            report["warnings"] = list(warnings)
        return report

    # --- internals ---------------------------------------------------------------------------

    def _on_claim(
        self, creditor: str, invoice: str, command_id: str, act: Any, check: Callable[[Rules], None] | None = None
    ) -> None:
        """Run ``act`` on the claim and save it. ``check`` validates the command's own arguments: when the
        invoice is unknown it still runs first, so ``invalid_input`` is reported before ``unknown_invoice``."""
        claim = self._get_claim(claim_id(self.namespace, creditor, invoice))
        if claim is None:
            if check is not None:
                check(rules_for(self.creditor(creditor).jurisdiction))
            claim = self.claim(creditor, invoice)
        self._act_on(claim, command_id, act)

    def _act_on(self, claim: Claim, command_id: str, act: Callable[[Claim, Rules], None]) -> None:
        """``_on_claim`` on a claim the caller holds already (the batch's copy): run ``act`` and save it; a
        command that failed half-way leaves the claim of the batch as it was before."""
        if command_id in claim.commands:
            return  # repeated command: already done
        before = len(claim.pending_events)
        try:
            act(claim, rules_for(claim.jurisdiction.value))
        except BaseException:
            if self._batch is not None and len(claim.pending_events) > before:
                self._batch[claim.id] = self._rebuilt(claim, before)
            raise
        self.save(claim)

    def _rebuilt(self, aggregate: Aggregate, keep: int) -> Aggregate:
        """The aggregate as stored plus its first ``keep`` pending events (a half-done command dropped)."""
        kept = list(aggregate.pending_events[:keep])
        try:
            fresh = self.repository.get(aggregate.id, projector_func=_project)
        except AggregateNotFoundError:
            fresh = None
        for event in kept:
            fresh = event.mutate(fresh)
        assert isinstance(fresh, Aggregate)
        fresh.pending_events.extend(kept)
        return fresh

    def _get_claim(self, ident: UUID) -> Claim | None:
        return self._load(ident, Claim)

    def _claim_by_id(self, ident: UUID) -> Claim:
        c = self._load(ident, Claim)
        assert c is not None, f"claim {ident} listed by its debtor is missing"
        return c

    def _load(self, ident: UUID, kind: type[T]) -> T | None:
        aggregate: object
        batch = self._batch
        if batch is not None and (found := batch.get(ident)) is not None:  # one look-up (a UUID hashes in Python)
            aggregate = found
        elif batch is not None and ident in self._absent:
            return None
        else:
            try:
                aggregate = self.repository.get(ident, projector_func=_project)
            except AggregateNotFoundError:
                return None
            if self._batch is not None:
                assert isinstance(aggregate, Aggregate)
                self._batch[ident] = aggregate
        if not isinstance(aggregate, kind):
            raise TypeError(f"aggregate {ident} is a {type(aggregate).__name__}, not a {kind.__name__}")
        return aggregate

    def _exists(self, ident: UUID) -> bool:
        if self._batch is not None and ident in self._absent:
            return False
        return (self._batch is not None and ident in self._batch) or ident in self.repository

    @staticmethod
    def _channel(debtor: Debtor, document: str) -> tuple[str, str]:
        try:
            return _channel_choice(tuple(debtor.contact.items()), document)
        except NoDeliveryChannel as e:
            raise invalid("contact", str(e)) from None

    @staticmethod
    def _given_channel(channel: str, document: str) -> tuple[str, str]:
        try:
            chosen = Channel(channel)
        except ValueError:
            raise invalid("channel", f"'{channel}' is not one of {', '.join(c.value for c in Channel)}") from None
        if not may_carry(chosen, document):
            raise invalid(
                "channel",
                f"a {document} may not go by {chosen.value}: legally required notices go by "
                "digital mailbox or paper (inkassoloven § 3a)",
            )
        return chosen.value, "given by the caseworker"

    @staticmethod
    def _jurisdiction(raw: str) -> Jurisdiction:
        return inputs.jurisdiction(raw)


COMMANDS: tuple[str, ...] = (
    "register_creditor", "change_policy", "register_debtor", "register_death", "register_proklama", "issue_invoice",
    "credit_invoice", "register_payment", "register_payment_by_reference",
    "receive_bank_payment", "request_refund", "approve_refund", "reject_refund", "pay_out_refunds",
    "receive_unmatched_payment", "allocate_suspense", "send_notice", "send_combined_notice",
    "request_combined_enforcement", "suspend_service", "register_objection", "resolve_objection", "grant_deferral",
    "agree_payment_plan", "request_enforcement", "register_judgment", "apply_reinstatement", "report_to_estate",
    "write_off", "write_down", "forgive_principal", "postpone_due", "file_complaint", "decide_complaint",
    "run_policies",
)  # fmt: skip
"""The application's commands: each checks every argument at the domain's edge (``inputs.check_arguments``)
before it reads or stores anything, whoever calls it (ADR 0023)."""


def _checked_at_the_edge(command: Callable[..., T]) -> Callable[..., T]:
    @functools.wraps(command)
    def checked(self: CollectionApp, **arguments: Any) -> T:
        inputs.check_arguments(arguments)
        return command(self, **arguments)

    return checked


for _command in COMMANDS:
    setattr(CollectionApp, _command, _checked_at_the_edge(getattr(CollectionApp, _command)))


@functools.lru_cache(maxsize=4096)
def _channel_choice(contact: tuple[tuple[str, bool], ...], document: str) -> tuple[str, str]:
    """The channel and its reason for a debtor's contact (as items) and a document: a pure choice, cached (a few
    kinds of contact, several documents each, for every claim). A refusal is not cached: it is raised again."""
    choice = choose_channel(DebtorContact(**dict(contact)), document=document)
    return choice.channel.value, choice.reason


def _kid_scheme(c: Creditor) -> KidScheme:
    return _scheme(c.kid_algorithm, c.kid_length)


@functools.lru_cache(maxsize=64)
def _scheme(algorithm: str, length: int) -> KidScheme:
    return KidScheme(KidAlgorithm(algorithm), length, 4)


@functools.lru_cache(maxsize=65536)
def _issuable_kid(scheme: KidScheme, creditor: str, serial: int) -> tuple[int, str]:
    """The first serial from ``serial`` on that ``scheme`` issues a KID for, and that KID (pure, so cached:
    preload and issuing ask for the same invoice's KID)."""
    return scheme.next_issuable(creditor, serial)


def _first_kid(c: Creditor, invoice: str) -> str | None:
    """The KID ``_assigned_reference`` tries first for ``invoice`` (None when the scheme cannot make one)."""
    scheme = _kid_scheme(c)
    try:
        return _issuable_kid(scheme, c.creditor, invoice_serial(invoice, scheme.serial_digits))[1]
    except InvalidKid:
        return None


def void(_: object) -> None:
    """A check whose parsed value is not needed."""


def invoice_serial(invoice: str, digits: int) -> int:
    """The KID serial of an invoice number: the number itself when numeric and short enough,
    otherwise a stable checksum of it (collisions are possible and harmless: the KID identifies
    the payment, the invoice number identifies the claim)."""
    if invoice.isdigit() and len(invoice) <= digits:
        return int(invoice)
    checksum: int = zlib.crc32(invoice.encode())
    return checksum % int(10**digits)
