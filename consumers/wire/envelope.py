"""Domain events as the Avro records of ``schemas/``, and back.

``event_record(event, position=...)`` turns a domain event read back from the event store
(``app.mapper.to_domain_event(notification)``) into ``(schema full name, record)``, ready for
``consumers.wire.codec.encode``; ``domain_values(record)`` turns a decoded record back into the event's
own attribute values (``domain_event(record)`` rebuilds the event object itself).

Delivery protocol: none here. This module does no I/O, moves no offset and keeps no position; it
maps one event at a time. An event it cannot map (an event type with no schema, a value that does
not fit the wire form) raises ``UnmappableEvent`` naming the event type and the notification
position. The publisher must stop there without moving its stored position, never skip the event:
a hole in ``kravsak.case-events`` would be silent data loss for every projection.

The wire form (ADR 0002, and ``docs/consuming.md`` for readers):

* every record starts with the same envelope fields (``ENVELOPE_FIELDS``), then the event's own
  attributes in the order the event class declares them;
* the event attributes ``effective``, ``recorded``, ``rule_version``, ``creditor_id``, ``debtor_id``
  and ``currency`` are carried by the envelope, not repeated;
* money (``Decimal``) is a ``long`` of øre/öre named ``<attribute>_minor``; a fraction of an øre is
  refused, never rounded. ``interest_accrued`` is exact and unrounded, so it travels as a decimal
  string (see ``EXACT_DECIMALS``);
* dates are Avro ``date``, the event timestamp ``timestamp-micros``, UUIDs ``uuid`` strings.

The envelope's ``currency`` of a claim event: ``Invoiced`` records it; the later claim events do
not carry it, so it is derived from the prefix of their ``rule_version`` (``no-…`` → NOK,
``se-…`` → SEK): the rules that decided the event belong to one jurisdiction with one currency.
Creditor and debtor events have no currency (null).

The envelope's ``creditor_id`` (municipality number) and ``debtor_id`` (the debtor aggregate's
opaque id): a claim's ``Invoiced`` event and a creditor's ``Registered`` event carry them, and every
debtor event knows its own id; the other claim and creditor events do not. For those,
``event_record`` asks ``parties`` (a ``PartyIndex`` that learns them from creation events as the
log is read, with a fallback that reads an aggregate's first event from the store after a restart).
Without an answer it raises ``UnmappableEvent`` rather than publish an envelope with a hole.

Event ids: domain events have none of their own, so ``event_id`` is a UUIDv5 of the aggregate id and
version. It is the same every time the same event is published, which is what lets a consumer drop
a duplicate after an at-least-once redelivery.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import re
import types
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import StrEnum
from functools import cache
from operator import itemgetter
from typing import Any, TypeAlias, Union, get_args, get_origin, get_type_hints
from uuid import NAMESPACE_URL, UUID, uuid5

import orjson
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, AggregateCreated, DomainEventProtocol
from eventsourcing.persistence import DecimalAsStr, Mapper
from eventsourcing.utils import get_topic, resolve_topic

from domain.account import COMPONENTS
from domain.application import DateAsISO
from domain.bank_files import BankFile
from domain.catalogue import BASE_ATTRIBUTES, EVENTS, StoredEvent, stored_event
from domain.channels import DebtorContact
from domain.claim import Claim
from domain.inputs import reason_code
from domain.parties import Creditor, Debtor
from domain.references import PaymentReference
from domain.refunds import Refund
from domain.suspense import Suspense
from domain.transcoder import OrjsonTranscoder

NAMESPACE = "no.kravsak.events"
"""Avro namespace of every event schema."""

EVENT_ID_NAMESPACE = uuid5(NAMESPACE_URL, "https://kravsak.no/event")

EXACT_DECIMALS = frozenset({"interest_accrued"})
"""``Decimal`` attributes that are not whole øre: sent as plain decimal strings, exactly."""

MONEY_COMPONENTS: tuple[str, ...] = (*COMPONENTS, "surplus")
"""Keys of an allocation / paid-after map: the account components and the surplus."""

ENVELOPE_FIELDS: tuple[str, ...] = (
    "event_id",
    "event_type",
    "case_id",
    "creditor_id",
    "debtor_id",
    "aggregate_version",
    "notification_position",
    "effective_date",
    "recorded_date",
    "recorded_at",
    "rule_version",
    "currency",
)

# Event attributes the envelope carries: attribute -> envelope field.
ENVELOPE_ATTRIBUTES: Mapping[str, str] = {
    "effective": "effective_date",
    "recorded": "recorded_date",
    "rule_version": "rule_version",
    "creditor_id": "creditor_id",
    "debtor_id": "debtor_id",
    "currency": "currency",
}
# The same, for one event type only.
_ENVELOPE_ALIASES: Mapping[tuple[str, str], str] = {("CreditorRegistered", "creditor"): "creditor_id"}
# Party events have no ``effective`` attribute: the date the fact took effect, when it is not the
# day it was recorded.
_EFFECTIVE_FROM: Mapping[str, str] = {"DebtorDied": "died", "DebtorProklamaPublished": "published"}
_CURRENCY_BY_RULES_PREFIX: Mapping[str, str] = {"no": "NOK", "se": "SEK"}

Event: TypeAlias = DomainEventProtocol[UUID]
Record: TypeAlias = dict[str, Any]


class UnmappableEvent(ValueError):
    """A domain event that has no wire form (unknown type) or a value that does not fit it."""


class Kind(StrEnum):
    """How one event attribute travels."""

    STRING = "string"
    LONG = "long"
    BOOLEAN = "boolean"
    DATE = "date"
    UUID = "uuid"
    MONEY = "money"
    """``Decimal`` of whole øre/öre -> ``long`` minor units."""
    EXACT_DECIMAL = "exact_decimal"
    """``Decimal`` of any precision -> plain decimal string."""
    STRINGS = "strings"
    COMPONENTS = "components"
    """``dict[str, Decimal]`` over ``MONEY_COMPONENTS`` -> record of ``<key>_minor`` longs."""
    INSTALLMENTS = "installments"
    """``[{"due": iso date, "amount": decimal string}]`` -> array of ``{due, amount_minor}``."""
    WAIVED_ITEMS = "waived_items"
    """``[{"command_id", "kind", "amount", "reason"}]`` -> array of records, ``amount_minor``."""
    POLICY_JSON = "policy_json"
    """``dict[str, Any]`` (a ``CollectionPolicy.as_dict()``) -> canonical JSON text."""
    CONTACT = "contact"
    """``dict[str, bool]`` over ``DebtorContact``'s fields -> record of all six booleans."""
    FREE_TEXT = "free_text"
    """Free text a person typed (it may name people or places) -> only its HMAC-SHA256 keyed by the office's
    digest key (``digest_key``), never the text; a bare SHA-256 of a short text is reversed by a dictionary."""
    REASON = "reason"
    """A reason a person may have typed -> its code (``domain.inputs.reason_code``): a code of the domain's
    vocabulary as it is, any other text as ``note`` (the text stays in the event store, ADR 0023)."""


PAYER_REFERENCE_EVENTS = ("SuspensePaymentReceived", "SuspensePaymentAllocated", "RefundRequested")
"""Events whose ``reference`` is what a payer wrote in the bank (free text when it matched no claim): on the wire
only its keyed digest, ``reference_hmac`` (ADR 0028); who may see it reads it from the event store."""
# Attributes typed ``Any`` inside: their shape is known only by name, so it is listed here.
_SHAPED: Mapping[tuple[str, str], Kind] = {
    ("ClaimPaymentPlanAgreed", "installments"): Kind.INSTALLMENTS,
    ("ClaimCostsWaived", "items"): Kind.WAIVED_ITEMS,
    ("CreditorRegistered", "policy"): Kind.POLICY_JSON,
    ("CreditorPolicyChanged", "policy"): Kind.POLICY_JSON,
    ("DebtorRegistered", "contact"): Kind.CONTACT,
    ("ClaimObjectionRegistered", "text"): Kind.FREE_TEXT,
    **{(event, "reference"): Kind.FREE_TEXT for event in (*PAYER_REFERENCE_EVENTS, "ClaimPaymentRegistered")},
    **{
        (event, "reason"): Kind.REASON
        for event in (
            "ClaimCreditNoteIssued",
            "ClaimWrittenDown",
            "ClaimWrittenDownInAccounts",
            "ClaimWrittenOff",
            "RefundRequested",
            "RefundRejected",
        )
    },  # fmt: skip
}
# Wire names say the unit: ``fee`` travels as ``fee_minor``, ``policy`` as ``policy_json``.
_WIRE_SUFFIX: Mapping[Kind, str] = {Kind.MONEY: "_minor", Kind.POLICY_JSON: "_json", Kind.FREE_TEXT: "_hmac"}
FREE_TEXT_PREFIX = "hmac:"
"""A free text read back from the wire: the text stays in the event store, the stream has its keyed digest."""
OLD_FREE_TEXT_PREFIX = "sha256:"
"""A free text read back from an event published before ADR 0023 (its bare SHA-256, ``<attribute>_sha256``)."""
RETIRED_FIELDS: Mapping[str, tuple[str, ...]] = {
    "ClaimObjectionRegistered": ("text_sha256",),
    **{event: ("reference",) for event in (*PAYER_REFERENCE_EVENTS, "ClaimPaymentRegistered")},
}
"""Fields of earlier schema versions that no event fills any more: still sent, empty, so that a reader of the
earlier version (where they have no default) reads new events (FULL_TRANSITIVE)."""
RETIRED_NULLABLE: frozenset[tuple[str, str]] = frozenset({("ClaimPaymentRegistered", "reference")})
"""Retired fields that were nullable: still nullable (an earlier event's null must still read), sent as null."""
DEVELOPMENT_DIGEST_KEY = b"kravsak-development-digest-key-not-a-secret"
"""Keys the free-text digests where no office secret is given (tests, benchmarks); the publisher a service runs
is given one derived from the office secret (``kravsak.settings.publisher_options``)."""
CONTACT_FLAGS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(DebtorContact))
INSTALLMENT_KEYS = ("due", "amount")
WAIVED_ITEM_KEYS = ("command_id", "kind", "amount", "reason")


@dataclasses.dataclass(frozen=True, slots=True)
class FieldSpec:
    """One event attribute on the wire."""

    attribute: str
    """The attribute of the domain event."""
    wire_name: str
    """The Avro field name (``fee_minor`` for the money attribute ``fee``)."""
    kind: Kind
    nullable: bool = False


Conversion: TypeAlias = tuple[str, Callable[[Any], Any], bool]
"""(attribute, its kind's conversion from the wire value, nullable)."""
Write: TypeAlias = tuple[str, str, "Callable[[Any], Any] | None", bool]
"""(attribute, wire name, its kind's conversion to the wire value (None: a free text, digested with the key),
nullable)."""
PartiesOf: TypeAlias = "Callable[[Mapping[str, Any], str], Parties]"
"""The parties an event names, from its attribute values and its aggregate id (as text)."""


def _taker(keys: tuple[str, ...]) -> Callable[[Mapping[str, Any]], tuple[Any, ...]]:
    """The values of ``keys`` in a mapping, as a tuple (``itemgetter`` gives a single key's value bare)."""
    if len(keys) == 1:
        key = keys[0]
        return lambda mapping: (mapping[key],)
    return itemgetter(*keys) if keys else lambda mapping: ()


@dataclasses.dataclass(frozen=True, slots=True)
class EventType:
    """A stored domain event class (its ``domain.catalogue`` entry) and its wire form."""

    stored: StoredEvent
    fields: tuple[FieldSpec, ...]
    """The event's own fields, after the envelope."""
    envelope_attributes: tuple[tuple[str, str], ...]
    """(attribute, envelope field) for the attributes the envelope carries."""
    effective: str = "recorded"
    """The attribute that becomes the envelope's ``effective_date`` (computed once per type)."""
    all_attributes: tuple[str, ...] = ()
    """Every attribute of the event class, in declaration order (``dataclasses.fields`` once per type, not per
    event)."""
    originator_topic: str | None = None
    """The aggregate's topic for the event that creates it (its ``originator_topic``), None for the others."""
    read_attributes: tuple[str, ...] = ()
    """The attributes after the base ones, in declaration order: what ``domain_values`` reads from the record."""
    read_fields: Callable[[Mapping[str, Any]], tuple[Any, ...]] = _taker(())
    """The record's fields of ``read_attributes`` (envelope or wire names), as they travel, in one pass."""
    conversions: tuple[Conversion, ...] = ()
    """The read attributes whose kind converts the wire value (money, UUIDs, ...)."""
    writes: tuple[Write, ...] = ()
    """``fields`` as ``_record`` writes them: each kind's conversion to the wire looked up once per type."""
    named_parties: PartiesOf | None = None
    """The creditor and debtor the event names by itself (``parties_of``), None when only its aggregate's first
    event does: which branch applies is decided once per type, not per event."""

    @property
    def name(self) -> str:
        """Schema name and envelope ``event_type``: ``ClaimNoticeSent``."""
        return self.stored.wire_name

    @property
    def full_name(self) -> str:
        return f"{NAMESPACE}.{self.name}"

    @property
    def cls(self) -> type[Any]:
        return self.stored.cls

    @property
    def aggregate(self) -> type[Aggregate]:
        return self.stored.aggregate

    @property
    def attributes(self) -> tuple[str, ...]:
        """Every attribute of the event class, in declaration order."""
        return self.all_attributes

    @property
    def creation(self) -> bool:
        return self.stored.creation


@dataclasses.dataclass(frozen=True, slots=True)
class Parties:
    """The creditor and debtor an aggregate's events concern, as its creation event recorded them."""

    creditor_id: str | None
    debtor_id: str | None


PartyLookup: TypeAlias = Callable[[UUID], Parties | None]


# --- the event types --------------------------------------------------------------------------


@cache
def event_types() -> dict[str, EventType]:
    """Every stored event type (``domain.catalogue.EVENTS``), by schema name (``ClaimNoticeSent``)."""
    return {e.wire_name: _describe(e) for e in EVENTS}


def event_type_of(event: Event) -> EventType | None:
    """The wire description of an event's class, or None when it has none."""
    stored = stored_event(type(event))
    return None if stored is None else event_types()[stored.wire_name]


def _describe(stored: StoredEvent) -> EventType:
    name = stored.wire_name
    hints = get_type_hints(stored.cls)
    fields: list[FieldSpec] = []
    envelope: list[tuple[str, str]] = []
    reads: dict[str, str] = {}  # attribute -> the record's field, in declaration order
    conversions: list[Conversion] = []
    for attribute in stored.attributes:
        if attribute in BASE_ATTRIBUTES:
            continue
        carried = _ENVELOPE_ALIASES.get((name, attribute), ENVELOPE_ATTRIBUTES.get(attribute))
        if carried is not None:
            envelope.append((attribute, carried))
            reads[attribute] = carried
            continue
        kind, nullable = _kind_of(name, attribute, hints[attribute])
        wire_name = attribute + _WIRE_SUFFIX.get(kind, "")
        fields.append(FieldSpec(attribute, wire_name, kind, nullable))
        reads[attribute] = wire_name
        if kind in _FROM_WIRE:
            conversions.append((attribute, _FROM_WIRE[kind], nullable))
    effective = _EFFECTIVE_FROM.get(name) or ("effective" if "effective" in stored.attributes else "recorded")
    topic = get_topic(stored.aggregate) if stored.creation else None
    return EventType(
        stored,
        tuple(fields),
        tuple(envelope),
        effective,
        stored.attributes,
        topic,
        tuple(reads),
        _taker(tuple(reads.values())),
        tuple(conversions),
        tuple((f.attribute, f.wire_name, _to_wire(f.kind), f.nullable) for f in fields),
        _named_parties(stored.cls),
    )


def _kind_of(event_name: str, attribute: str, hint: Any) -> tuple[Kind, bool]:
    where = f"{event_name}.{attribute}"
    origin, args = get_origin(hint), get_args(hint)
    if origin in (Union, types.UnionType) and type(None) in args:
        rest = [a for a in args if a is not type(None)]
        if len(rest) != 1:
            raise UnmappableEvent(f"{where}: no wire form for the union {hint!r}")
        return _kind_of(event_name, attribute, rest[0])[0], True
    shaped = _SHAPED.get((event_name, attribute))
    if shaped is not None:
        expected = {
            Kind.INSTALLMENTS: list[dict[str, Any]],
            Kind.WAIVED_ITEMS: list[dict[str, Any]],
            Kind.POLICY_JSON: dict[str, Any],
            Kind.CONTACT: dict[str, bool],
            Kind.FREE_TEXT: str,
            Kind.REASON: str,
        }[shaped]
        if hint != expected:
            raise UnmappableEvent(f"{where}: declared {hint!r}, the wire form expects {expected!r}")
        return shaped, False
    simple = {bool: Kind.BOOLEAN, int: Kind.LONG, str: Kind.STRING, date: Kind.DATE, UUID: Kind.UUID}
    if hint in simple:
        return simple[hint], False
    if hint is Decimal:
        return (Kind.EXACT_DECIMAL if attribute in EXACT_DECIMALS else Kind.MONEY), False
    if hint == list[str]:
        return Kind.STRINGS, False
    if hint == dict[str, Decimal]:
        return Kind.COMPONENTS, False
    raise UnmappableEvent(f"{where}: no wire form for the type {hint!r}; add one in consumers/wire/envelope.py")


# --- domain event -> record -------------------------------------------------------------------


def event_record(
    event: Event, *, position: int, parties: PartyLookup | None = None, digest_key: bytes = DEVELOPMENT_DIGEST_KEY
) -> tuple[str, Record]:
    """The schema full name and the Avro record of a domain event at notification ``position``.

    ``parties`` supplies the creditor and debtor of claim and creditor events that do not carry
    them (see the module docstring); a ``PartyIndex`` fed with the log in order does. ``digest_key``
    keys the digests of free text (``Kind.FREE_TEXT``).
    """
    event_type = event_type_of(event)
    what = f"{type(event).__qualname__} at notification position {position}"
    if event_type is None:
        raise UnmappableEvent(
            f"{what} (aggregate {event.originator_id} v{event.originator_version}): the event type "
            f"{get_topic(type(event))} has no schema in schemas/; stop and add one, do not skip it"
        )
    try:
        return event_type.full_name, _record(event_type, event, position, parties, digest_key)
    except UnmappableEvent as exc:
        raise UnmappableEvent(f"{event_type.name} ({what}): {exc}") from None
    except (TypeError, ValueError, KeyError, ArithmeticError) as exc:
        raise UnmappableEvent(f"{event_type.name} ({what}): {type(exc).__name__}: {exc}") from exc


def _record(
    event_type: EventType, event: Event, position: int, parties: PartyLookup | None, digest_key: bytes
) -> Record:
    values = vars(event)
    originator_id = event.originator_id
    case_id = str(originator_id)
    named = event_type.named_parties
    known = named(values, case_id) if named is not None else None
    if known is None and parties is not None:
        known = parties(originator_id)
    if known is None:
        raise UnmappableEvent(
            f"the event does not carry the creditor and debtor ids of aggregate {originator_id} and "
            "no party lookup knows them: pass parties=PartyIndex(fallback=stored_parties(app))"
        )
    timestamp = values["timestamp"]
    if not isinstance(timestamp, datetime) or timestamp.tzinfo is None:
        raise UnmappableEvent(f"timestamp {timestamp!r} is not a timezone-aware datetime")
    version = event.originator_version
    record = _envelope(
        event_type,
        values,
        event_id_of(case_id, version),
        case_id,
        known,
        version,
        position,
        (_date(values[event_type.effective]), _date(values["recorded"]), timestamp),
    )
    for attribute, wire_name, to_wire, nullable in event_type.writes:
        value = values[attribute]
        try:
            if value is None and nullable:
                record[wire_name] = None
            elif to_wire is None:
                record[wire_name] = free_text_digest(_str(value), digest_key)
            else:
                record[wire_name] = to_wire(value)
        except (UnmappableEvent, TypeError, ValueError, ArithmeticError) as exc:
            raise UnmappableEvent(f"attribute {attribute}={value!r}: {exc}") from None
    _retire(event_type, record)
    return record


def _envelope(
    event_type: EventType,
    values: Mapping[str, Any],
    event_id: UUID | str,
    case_id: str,
    known: Parties,
    version: int,
    position: int,
    dates: tuple[date, date, datetime],
) -> Record:
    """The envelope fields of a record (``ENVELOPE_FIELDS``): ``dates`` are the effective and recorded dates and the
    timezone-aware timestamp; the rule version and currency are read from the event's ``values``."""
    effective, recorded, timestamp = dates
    return {
        "event_id": event_id,
        "event_type": event_type.name,
        "case_id": case_id,
        "creditor_id": known.creditor_id,
        "debtor_id": known.debtor_id,
        "aggregate_version": version,
        "notification_position": position,
        "effective_date": effective,
        "recorded_date": recorded,
        "recorded_at": timestamp.astimezone(UTC),
        "rule_version": _str(values.get("rule_version", "")),
        "currency": _currency(event_type, values),
    }


def _retire(event_type: EventType, record: Record) -> None:
    """The retired fields of earlier schema versions, sent empty (``RETIRED_FIELDS``)."""
    for retired in RETIRED_FIELDS.get(event_type.name, ()):
        record[retired] = None if (event_type.name, retired) in RETIRED_NULLABLE else ""


def free_text_digest(text: str, key: bytes) -> str:
    """HMAC-SHA256 (hex) of a free text, keyed: equal texts give equal digests, a dictionary gives nothing."""
    if not key:
        raise UnmappableEvent("a free-text digest needs a key (the office's digest key)")
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).hexdigest()


def parties_of(event: Event) -> Parties | None:
    """The creditor and debtor an event names by itself, or None when only its aggregate's first
    event does (later claim and creditor events)."""
    named = _parties_named_by(event)[0]
    return named(vars(event), str(event.originator_id)) if named is not None else None


def _parties_named_by(event: Event) -> tuple[PartiesOf | None, bool]:
    """How the event names its parties (``_named_parties``, kept per type for the catalogue's events) and whether it
    creates its aggregate."""
    event_type = event_type_of(event)
    if event_type is None:
        return _named_parties(type(event)), isinstance(event, AggregateCreated)
    return event_type.named_parties, event_type.creation


def _named_parties(cls: type[Any]) -> PartiesOf | None:
    """How an event of class ``cls`` names its parties (see ``parties_of``), or None when it does not."""
    if issubclass(cls, Claim.Invoiced | PaymentReference.Assigned):
        return lambda values, _: Parties(_str(values["creditor_id"]), _str(values["debtor_id"]))
    if issubclass(cls, Creditor.Registered):
        return lambda values, _: Parties(_str(values["creditor"]), None)
    if issubclass(cls, Debtor.Event):
        return lambda _, case_id: Parties(None, case_id)
    if issubclass(cls, Suspense.Opened | Refund.Requested):
        return lambda values, _: Parties(_str(values["creditor_id"]), None)
    if issubclass(cls, BankFile.Opened):  # a file paying several creditors' accounts names none of them
        return _bank_file_parties
    return None


def _bank_file_parties(values: Mapping[str, Any], _: str) -> Parties:
    creditors = _list(values["creditors"])
    return Parties(_str(creditors[0]) if len(creditors) == 1 else None, None)


def event_id(event: Event) -> UUID:
    """The event's stable id: UUIDv5 of its aggregate id and version (unique by the store's
    optimistic concurrency, and the same on every republication)."""
    return event_id_of(str(event.originator_id), event.originator_version)


_EVENT_ID_HASH = hashlib.sha1(EVENT_ID_NAMESPACE.bytes, usedforsecurity=False)


def event_id_of(case_id: str, version: int) -> UUID:
    """``event_id`` from the aggregate id's text and the version alone: ``uuid5(EVENT_ID_NAMESPACE,
    f"{case_id}/{version}")``, the namespace's SHA-1 taken once and copied per event (a test compares the two)."""
    return UUID(bytes=_event_id_hash(case_id, version), version=5)


def _event_id_hash(case_id: str, version: int) -> bytes:
    """The first 16 bytes of the SHA-1 ``uuid5`` takes of ``f"{case_id}/{version}"`` in the event-id namespace."""
    digest = _EVENT_ID_HASH.copy()
    digest.update(f"{case_id}/{version}".encode())
    return digest.digest()[:16]


def event_id_text(case_id: str, version: int) -> str:
    """``str(event_id_of(case_id, version))`` without the ``UUID`` in between: the hash's first 16 bytes with the
    version (5) and variant bits set as ``uuid5`` sets them, in the canonical text form."""
    raw = bytearray(_event_id_hash(case_id, version))
    raw[6] = (raw[6] & 0x0F) | 0x50
    raw[8] = (raw[8] & 0x3F) | 0x80
    text = raw.hex()
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def case_key(event: Event) -> bytes:
    """The Kafka key: the aggregate id (for claim events the case) as ASCII, so all events of one
    case land on one partition in order."""
    return str(event.originator_id).encode("ascii")


def _currency(event_type: EventType, values: Mapping[str, Any]) -> str | None:
    if "currency" in values:
        return _str(values["currency"])
    if event_type.aggregate is not Claim:
        return None
    return _currency_of_rules(_str(values["rule_version"]))


@cache
def _currency_of_rules(rule_version: str) -> str:
    """The currency of the jurisdiction a rule version names (a handful of versions: kept)."""
    prefix = rule_version.split("-", 1)[0]
    if prefix not in _CURRENCY_BY_RULES_PREFIX:
        raise UnmappableEvent(f"rule_version {rule_version!r} names no known jurisdiction, so no currency")
    return _CURRENCY_BY_RULES_PREFIX[prefix]


def _long(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError("not an int")
    return value


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError("not a bool")
    return value


def _uuid_to_wire(value: Any) -> UUID:
    return value if isinstance(value, UUID) else UUID(_str(value))


def _strings(value: Any) -> list[str]:
    return [_str(v) for v in _list(value)]


def _components_to_wire(value: Any) -> dict[str, int]:
    amounts = _keys(value, MONEY_COMPONENTS)
    return {f"{key}_minor": minor_units(amounts[key]) for key in MONEY_COMPONENTS}


def _installments_to_wire(value: Any) -> list[dict[str, Any]]:
    return [
        {"due": _date(item["due"]), "amount_minor": minor_units(item["amount"])}
        for item in (_keys(i, INSTALLMENT_KEYS) for i in _list(value))
    ]


def _waived_items_to_wire(value: Any) -> list[dict[str, Any]]:
    return [
        {
            "command_id": _str(item["command_id"]),
            "kind": _str(item["kind"]),
            "amount_minor": minor_units(item["amount"]),
            "reason": _str(item["reason"]),
        }
        for item in (_keys(i, WAIVED_ITEM_KEYS) for i in _list(value))
    ]


def _policy_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def _reason(value: Any) -> str:
    return reason_code(_str(value))


def _contact_to_wire(value: Any) -> dict[str, bool]:
    if not isinstance(value, Mapping) or not set(value) <= set(CONTACT_FLAGS):
        raise UnmappableEvent(f"contact flags must be among {', '.join(CONTACT_FLAGS)}")
    if not all(isinstance(v, bool) for v in value.values()):
        raise TypeError("contact flags must be booleans")
    return dataclasses.asdict(DebtorContact(**value))


def minor_units(amount: Any) -> int:
    """Øre/öre of an amount; refuses a fraction of an øre rather than rounding it away."""
    value = amount if isinstance(amount, Decimal) else _decimal_text(amount)
    scaled = value.scaleb(2)
    if not scaled.is_finite() or scaled != scaled.to_integral_value():
        raise UnmappableEvent(f"{amount!r} is not a whole number of øre/öre")
    return int(scaled)


def exact_decimal_text(amount: Any) -> str:
    """A ``Decimal`` in plain notation (no exponent), every digit kept."""
    if not isinstance(amount, Decimal) or not amount.is_finite():
        raise TypeError("not a finite Decimal")
    return format(amount, "f")


def _decimal_text(value: Any) -> Decimal:
    # Amounts nested in dict[str, Any] attributes: the aggregate writes Decimals or their str().
    if isinstance(value, str):
        return Decimal(value)
    raise TypeError(f"money must be a Decimal or a decimal string, not {type(value).__name__}")


def _date(value: Any) -> date:
    if isinstance(value, datetime):
        raise TypeError("a datetime where a date is expected")
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        return date.fromisoformat(value)
    raise TypeError(f"not a date: {value!r}")


def _str(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"not a str: {value!r}")
    return value


def _list(value: Any) -> list[Any]:
    if not isinstance(value, list | tuple):
        raise TypeError(f"not a list: {value!r}")
    return list(value)


def _keys(value: Any, keys: tuple[str, ...]) -> Mapping[str, Any]:
    if not isinstance(value, Mapping) or set(value) != set(keys):
        found = sorted(value) if isinstance(value, Mapping) else type(value).__name__
        raise UnmappableEvent(f"expected the keys {', '.join(keys)}, found {found}")
    return value


_TO_WIRE: dict[Kind, Callable[[Any], Any]] = {
    Kind.STRING: _str,
    Kind.LONG: _long,
    Kind.BOOLEAN: _bool,
    Kind.DATE: _date,
    Kind.UUID: _uuid_to_wire,
    Kind.MONEY: minor_units,
    Kind.EXACT_DECIMAL: exact_decimal_text,
    Kind.STRINGS: _strings,
    Kind.COMPONENTS: _components_to_wire,
    Kind.INSTALLMENTS: _installments_to_wire,
    Kind.WAIVED_ITEMS: _waived_items_to_wire,
    Kind.POLICY_JSON: _policy_json,
    Kind.REASON: _reason,
    Kind.CONTACT: _contact_to_wire,
}
"""Per kind the domain value's wire value; ``Kind.FREE_TEXT`` is not here: its digest needs the office's key."""


def _to_wire(kind: Kind) -> Callable[[Any], Any] | None:
    """A kind's conversion to the wire (None: a free text, digested in ``_record``); a kind with neither is a
    mistake in this module, refused when the event types are described."""
    if kind is Kind.FREE_TEXT:
        return None
    return _TO_WIRE[kind]


# --- stored JSON -> record (the publisher's way) ------------------------------------------------

StoredConversion: TypeAlias = tuple[str, str, "type | None", "Callable[[Any], Any] | None", bool]
"""(attribute, wire name, the JSON type it travels as when it converts to nothing else (str, int, bool), else None and
the conversion of its stored JSON value to the wire value, nullable)."""
_WHOLE_ORE = re.compile(r"-?[0-9]+\.[0-9]{2}")
"""An amount's stored text that is a whole number of øre as it is (``str`` of a two-decimal ``Decimal``)."""
_KEPT = 4096
"""At most this many distinct dates and amounts are remembered by their text (``StoredForm``)."""
_PLAIN_KINDS: Mapping[Kind, type] = {Kind.STRING: str, Kind.LONG: int, Kind.BOOLEAN: bool}
"""Kinds whose wire value is the JSON value itself, of exactly this type (``_str``, ``_long``, ``_bool``)."""


@dataclasses.dataclass(frozen=True, slots=True)
class _StoredType:
    event_type: EventType
    class_version: int
    """The event class's version: a stored event of another version is upcast through the domain event."""
    writes: tuple[StoredConversion, ...]


class StoredForm:
    """Records straight from the event store's rows: ``record`` gives what ``event_record`` gives for the domain
    event ``mapper.to_domain_event`` would make of the row, without making it (the publisher's way, ADR 0041).

    The stored state is eventsourcing's JSON: a value JSON has no type for is a tagged object ``{"_type_": name,
    "_data_": text}`` that the app's transcoder decodes. Each field goes from its JSON value to its wire value
    with the kind's own conversion (``_TO_WIRE``) after the transcoder's decoding of that value alone; a string,
    number or boolean is checked for its type in place; a date (kravsak's ``date_iso``) and an amount
    (eventsourcing's ``decimal_str``) written with two decimals are read from their text — an amount as øre,
    without the ``Decimal`` (``minor_units(Decimal(text))`` is that number) — and remembered by it. ``record``
    answers None whenever the way through the domain event might say otherwise — a class version to upcast from, a
    mapper with a cipher or compressor, JSON only eventsourcing's own transcoder reads (a float), any value that
    does not convert — and the caller takes that way, which gives the record or says what is wrong. A test
    compares the bytes of both ways for every event type (``tests/unit/test_stored_form.py``)."""

    def __init__(self, mapper: Mapper[UUID], digest_key: bytes) -> None:
        transcoder = mapper.transcoder if isinstance(mapper.transcoder, OrjsonTranscoder) else None
        self.usable = transcoder is not None and mapper.cipher is None and mapper.compressor is None
        """Whether the stored state is orjson-readable JSON at all (else ``record`` always answers None)."""
        self._decoded: Callable[[Any], Any] = transcoder.decoded if transcoder is not None else _no
        names = transcoder.names if transcoder is not None else {}
        self._amounts_by_text = type(names.get("decimal_str")) is DecimalAsStr
        self._dates_by_text = type(names.get("date_iso")) is DateAsISO
        self._digest_key = digest_key
        self._types: dict[str, _StoredType | None] = {}
        self._dates: dict[str, date] = {}
        self._amounts: dict[str, int] = {}

    def record(
        self, topic: str, state: bytes, case_id: str, version: int, position: int, parties: PartyIndex
    ) -> tuple[EventType, Record] | None:
        """The event type and the record of the stored event (``case_id``: its aggregate id as text), or None: take
        the way through the domain event. Learns the parties of a creation event into ``parties``, as
        ``PartyIndex.learn`` would."""
        stored = self._types[topic] if topic in self._types else self._describe(topic)
        if stored is None:
            return None
        try:
            return stored.event_type, self._record(stored, state, case_id, version, position, parties)
        except Exception:  # noqa: BLE001 - any doubt: the domain event's way decides, and names the error
            return None

    def _record(
        self, stored: _StoredType, state: bytes, case_id: str, version: int, position: int, parties: PartyIndex
    ) -> Record:
        values = orjson.loads(state)
        if values.pop("class_version", 1) != stored.class_version:
            raise _Upcast
        event_type = stored.event_type
        named = event_type.named_parties
        known = named(values, case_id) if named is not None else None
        if known is None:
            known = parties.of(case_id)
            if known is None:
                raise _Upcast
        elif event_type.creation:
            parties.remember(case_id, known)
        timestamp = self._decoded(values["timestamp"])
        if type(timestamp) is not datetime or timestamp.tzinfo is None:
            raise _Upcast
        record = _envelope(
            event_type,
            values,
            event_id_text(case_id, version),
            case_id,
            known,
            version,
            position,
            (self._date(values[event_type.effective]), self._date(values["recorded"]), timestamp),
        )
        for attribute, wire_name, plain, convert, nullable in stored.writes:
            value = values[attribute]
            if value is None and nullable:
                record[wire_name] = None
            elif convert is None:
                if type(value) is not plain:
                    raise _Upcast
                record[wire_name] = value
            else:
                record[wire_name] = convert(value)
        _retire(event_type, record)
        return record

    def _describe(self, topic: str) -> _StoredType | None:
        found: _StoredType | None = None
        if self.usable:
            try:
                cls = resolve_topic(topic)
            except Exception:  # noqa: BLE001 - an unknown topic: the domain event's way raises its error
                cls = None
            entry = stored_event(cls) if cls is not None else None
            if entry is not None:
                event_type = event_types()[entry.wire_name]
                writes = tuple(
                    (f.attribute, f.wire_name, _PLAIN_KINDS.get(f.kind), self._conversion(f.kind), f.nullable)
                    for f in event_type.fields
                )
                found = _StoredType(event_type, getattr(cls, "class_version", 1), writes)
        self._types[topic] = found
        return found

    def _conversion(self, kind: Kind) -> Callable[[Any], Any] | None:
        """A kind's conversion from its stored JSON value: the same as decoding the value and ``_to_wire``; None for
        the plain kinds (``_PLAIN_KINDS``, checked in place)."""
        decoded = self._decoded
        if kind in _PLAIN_KINDS:
            return None
        if kind is Kind.DATE:
            return self._date
        if kind is Kind.MONEY:
            return self._minor_units
        if kind is Kind.COMPONENTS:
            return self._components
        if kind is Kind.FREE_TEXT:
            key = self._digest_key
            return lambda value: free_text_digest(_str(decoded(value)), key)
        to_wire = _TO_WIRE[kind]
        return lambda value: to_wire(decoded(value))

    def _date(self, value: Any) -> date:
        if self._dates_by_text and type(value) is dict and len(value) == 2 and value.get("_type_") == "date_iso":
            text = value["_data_"]
            found = self._dates.get(text)
            if found is None:
                found = date.fromisoformat(text)
                if len(self._dates) >= _KEPT:
                    self._dates.clear()
                self._dates[text] = found
            return found
        return _date(self._decoded(value))

    def _minor_units(self, value: Any) -> int:
        if self._amounts_by_text and type(value) is dict and len(value) == 2 and value.get("_type_") == "decimal_str":
            text = value["_data_"]
            found = self._amounts.get(text)
            if found is not None:
                return found
            if type(text) is str and _WHOLE_ORE.fullmatch(text):
                found = int(text.replace(".", "", 1))
                if len(self._amounts) >= _KEPT:
                    self._amounts.clear()
                self._amounts[text] = found
                return found
        return minor_units(self._decoded(value))

    def _components(self, value: Any) -> dict[str, int]:
        if type(value) is not dict or len(value) != len(MONEY_COMPONENTS):
            return _components_to_wire(self._decoded(value))
        return {wire: self._minor_units(value[key]) for key, wire in _COMPONENT_FIELDS}


class _Upcast(Exception):
    """The stored event needs the domain event's way (``StoredForm.record`` answers None)."""


def _no(value: Any) -> Any:
    raise _Upcast


# --- record -> domain values ------------------------------------------------------------------


def domain_values(record: Mapping[str, Any]) -> dict[str, Any]:
    """The domain event's attribute values from a decoded record: ``Decimal`` money, ``date``s,
    ``UUID``s, the policy as a dict, the envelope fields under the event's own attribute names
    (``originator_id``, ``originator_version``, ``timestamp``, ``effective``, ``recorded``, ...).

    Shapes follow the event class: instalments come back as ``{"due": iso date, "amount":
    decimal string}`` as the aggregate writes them. One difference from the stored event: a
    debtor's ``contact`` lists all six ``DebtorContact`` flags, the defaults filled in for the ones
    the registration did not give.
    """
    name = record.get("event_type")
    event_type = event_types().get(name) if isinstance(name, str) else None
    if event_type is None:
        raise UnmappableEvent(f"record of unknown event type {name!r}")
    # the base attributes lead every event class (a dataclass declares its base classes' fields first), so the
    # values are made in declaration order: the fields taken in one pass, then the kinds that convert
    values: dict[str, Any] = {
        "originator_id": UUID(record["case_id"]),
        "originator_version": record["aggregate_version"],
        "timestamp": record["recorded_at"],
    }
    if event_type.originator_topic is not None:
        values["originator_topic"] = event_type.originator_topic
    values.update(zip(event_type.read_attributes, event_type.read_fields(record), strict=True))
    for attribute, convert, nullable in event_type.conversions:
        value = values[attribute]
        if convert is _free_text and not value:
            values[attribute] = _earlier_free_text(record, attribute, value, nullable)
        elif value is not None or not nullable:
            values[attribute] = convert(value)
    return values


def domain_event(record: Mapping[str, Any]) -> Event:
    """The domain event a record was made from (equal to it, bar the ``contact`` defaults)."""
    event_type = event_types()[record["event_type"]]
    event: Event = event_type.cls(**domain_values(record))
    return event


def _uuid(value: Any) -> UUID:
    return value if isinstance(value, UUID) else UUID(value)


_COMPONENT_FIELDS: tuple[tuple[str, str], ...] = tuple((key, f"{key}_minor") for key in MONEY_COMPONENTS)


def _components(value: Any) -> dict[str, Decimal]:
    return {key: from_minor_units(value[field_name]) for key, field_name in _COMPONENT_FIELDS}


def _installments(value: Any) -> list[dict[str, str]]:
    return [{"due": i["due"].isoformat(), "amount": str(from_minor_units(i["amount_minor"]))} for i in value]


def _waived_items(value: Any) -> list[dict[str, Any]]:
    return [
        {"command_id": i["command_id"], "kind": i["kind"], "amount": from_minor_units(i["amount_minor"]),
         "reason": i["reason"]}
        for i in value
    ]  # fmt: skip


def _contact(value: Any) -> dict[str, bool]:
    return {flag: value[flag] for flag in CONTACT_FLAGS}


def _free_text(value: str) -> str:
    return FREE_TEXT_PREFIX + value


def _earlier_free_text(record: Mapping[str, Any], attribute: str, value: Any, nullable: bool) -> Any:
    """A free text with an empty digest: from an event published before ADR 0023 (its bare SHA-256) or
    ADR 0028 (a payer's reference in clear), else as a digest would be."""
    if record.get(f"{attribute}_sha256"):
        return OLD_FREE_TEXT_PREFIX + record[f"{attribute}_sha256"]
    if record.get(attribute):
        return record[attribute]
    return value if value is None and nullable else _free_text(value)


_ONE_ORE = Decimal("0.01")


def from_minor_units(minor: int) -> Decimal:
    """``Decimal`` with two decimals from øre/öre: 3500 -> Decimal("35.00")."""
    return Decimal(minor) * _ONE_ORE  # the Decimal of .scaleb(-2) (exponent -2), without converting its -2 per call


_FROM_WIRE: dict[Kind, Callable[[Any], Any]] = {
    Kind.MONEY: from_minor_units,
    Kind.EXACT_DECIMAL: Decimal,
    Kind.UUID: _uuid,
    Kind.STRINGS: list,
    Kind.COMPONENTS: _components,
    Kind.INSTALLMENTS: _installments,
    Kind.WAIVED_ITEMS: _waived_items,
    Kind.POLICY_JSON: json.loads,
    Kind.CONTACT: _contact,
    Kind.FREE_TEXT: _free_text,
}
"""Per kind the wire value's domain value; a kind not here (string, long, boolean, date) travels as it is."""


# --- parties of events that do not name them --------------------------------------------------


class PartyIndex:
    """Creditor and debtor per aggregate, learnt from creation events as the log is read.

    Feed it every event in log order (``learn``) and pass it to ``event_record`` as ``parties``.
    After a restart in the middle of the log it has not seen the creation events of older
    aggregates: ``fallback`` (``stored_parties(app)``) answers those and the answer is kept. At most
    ``capacity`` aggregates are kept, least recently used dropped first.
    """

    def __init__(self, fallback: PartyLookup | None = None, *, capacity: int = 100_000) -> None:
        self._fallback = fallback
        self._capacity = capacity
        self._known: OrderedDict[str, Parties] = OrderedDict()
        """By the aggregate id's text: the publisher reads it so from the store (``of``)."""

    def learn(self, event: Event) -> None:
        """Remembers the parties of a creation event; other events teach it nothing."""
        named, creation = _parties_named_by(event)
        if creation and named is not None:
            case_id = str(event.originator_id)
            self._keep(case_id, named(vars(event), case_id))

    def __call__(self, aggregate_id: UUID) -> Parties | None:
        return self.of(str(aggregate_id), aggregate_id)

    def of(self, case_id: str, aggregate_id: UUID | None = None) -> Parties | None:
        """The parties of the aggregate whose id is ``case_id`` as text (``aggregate_id``: the same as a ``UUID``,
        made here only if the fallback is asked)."""
        known = self._known.get(case_id)
        if known is not None:
            self._known.move_to_end(case_id)
            return known
        if self._fallback is None:
            return None
        known = self._fallback(aggregate_id if aggregate_id is not None else UUID(case_id))
        if known is not None:
            self._keep(case_id, known)
        return known

    def __len__(self) -> int:
        return len(self._known)

    def __iter__(self) -> Iterator[UUID]:
        return (UUID(case_id) for case_id in self._known)

    def remember(self, case_id: str, known: Parties) -> None:
        """Keeps what an aggregate's creation event named (``learn`` without the event: ``StoredForm.record``)."""
        self._keep(case_id, known)

    def _keep(self, case_id: str, known: Parties) -> None:
        self._known[case_id] = known
        self._known.move_to_end(case_id)
        while len(self._known) > self._capacity:
            self._known.popitem(last=False)


def stored_parties(app: Application[UUID]) -> PartyLookup:
    """A ``PartyIndex`` fallback: reads an aggregate's first event from ``app``'s event store."""

    def lookup(aggregate_id: UUID) -> Parties | None:
        for first in app.events.get(aggregate_id, lte=1):
            return parties_of(first)
        return None

    return lookup
