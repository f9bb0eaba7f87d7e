"""Fold a case's events with the domain's own ``apply`` code, so read models agree with the domain.

Projections never re-implement a rule: for every event they rebuild the domain event object from
its values and mutate the case's aggregate exactly as the event store would on replay. The ledger
then posts the *differences* between the account before and after the event, the limitation watch
reads the interruptions, and the audit trail asks the domain's pure audit for findings.
"""

from __future__ import annotations

import copy
import dataclasses
from collections import OrderedDict
from collections.abc import Callable, Iterable
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from enum import Enum
from typing import Any
from uuid import UUID

from eventsourcing.utils import get_topic

from domain.catalogue import BY_WIRE_NAME
from projections.base import ProjectedEvent


def rebuild(event: ProjectedEvent) -> Any:
    """The domain event object for a projected event (its class from ``domain.catalogue``)."""
    plan = _PLANS.get(event.event_type) or _plan(event)
    values = event.values
    if values.keys() == plan.attributes:  # as the decoder gives them (``domain_values``): all, nothing else
        kwargs = values.copy()
    else:
        kwargs = {name: values[name] for name in plan.own_attributes}
    case = values.get("originator_id")  # the decoder's UUID of the case: not parsed a second time
    kwargs["originator_id"] = case if isinstance(case, UUID) else UUID(event.case_id)
    kwargs["originator_version"] = event.aggregate_version
    kwargs["timestamp"] = event.recorded_at
    if plan.originator_topic is not None:
        kwargs["originator_topic"] = plan.originator_topic
    # made as eventsourcing's mapper makes a stored event on replay: no ``__init__`` (a frozen dataclass's sets each
    # field through ``object.__setattr__``), the attributes as its ``__dict__``. Every one is there (a missing one
    # raised above), and the one ``__post_init__`` of the event classes, eventsourcing's check that the originator
    # id is a ``UUID``, holds: it is made one above (``tests/unit/test_casefold.py``)
    event = _new(plan.cls)
    _set_dict(event, "__dict__", kwargs)
    return event


_new = object.__new__
_set_dict = object.__setattr__


@dataclasses.dataclass(frozen=True, slots=True)
class _Rebuild:
    """What ``rebuild`` needs of an event type, worked out once per type, not per event."""

    cls: type[Any]
    attributes: frozenset[str]
    """Every attribute of the class (the keys of a decoded event's values)."""
    own_attributes: tuple[str, ...]
    originator_topic: str | None
    """The aggregate's topic for the event that creates it, None for the others."""


_PLANS: dict[str, _Rebuild] = {}


def _plan(event: ProjectedEvent) -> _Rebuild:
    stored = BY_WIRE_NAME.get(event.event_type)
    if stored is None:
        raise LookupError(f"unknown event type {event.event_type!r} at position {event.position}")
    topic = get_topic(stored.aggregate) if stored.creation else None
    plan = _PLANS[event.event_type] = _Rebuild(stored.cls, frozenset(stored.attributes), stored.own_attributes, topic)
    return plan


_SHARE, _LIST, _DICT, _SET, _TUPLE, _OBJECT, _DEEP = range(7)
_IMMUTABLE = (str, int, float, bool, bytes, Decimal, date, datetime, time, timedelta, UUID, Enum, type(None), frozenset)
_CONTAINERS: dict[type, int] = {list: _LIST, dict: _DICT, set: _SET, tuple: _TUPLE}
_KINDS: dict[type, int] = {}
_SLOTS: dict[type, tuple[str, ...]] = {}


def _kind(cls: type) -> int:
    if issubclass(cls, _IMMUTABLE):
        kind = _SHARE
    elif dataclasses.is_dataclass(cls) and cls.__dataclass_params__.frozen:  # type: ignore[attr-defined]
        kind = _SHARE  # the domain's records are values: a frozen record is never changed in place
    elif cls in _CONTAINERS:
        kind = _CONTAINERS[cls]
    elif (
        issubclass(cls, (list, dict, set, tuple))
        or hasattr(cls, "__copy__")
        or hasattr(cls, "__deepcopy__")
        or cls.__reduce_ex__ is not object.__reduce_ex__
        or cls.__reduce__ is not object.__reduce__
        or cls.__getstate__ is not object.__getstate__
        or hasattr(cls, "__setstate__")
    ):
        kind = _DEEP  # copies itself its own way
    else:
        kind = _OBJECT
        slots = (k.__dict__.get("__slots__", ()) for k in cls.__mro__)
        _SLOTS[cls] = tuple(
            n
            for names in slots
            for n in ((names,) if isinstance(names, str) else names)
            if n not in ("__dict__", "__weakref__")
        )
    _KINDS[cls] = kind
    return kind


def snapshot(value: Any) -> Any:
    """A copy of ``value`` that later in-place changes to ``value`` do not reach, like ``deepcopy``,
    but sharing immutable values (scalars, enums, frozen dataclasses) instead of copying them: a
    claim's snapshot costs a fifth of its deepcopy, and the runner takes one per event."""
    cls = type(value)
    kind = _KINDS.get(cls)
    if kind is None:
        kind = _kind(cls)
    if kind == _SHARE:
        return value
    if kind == _LIST:
        return [snapshot(v) for v in value]
    if kind == _DICT:
        return {k: snapshot(v) for k, v in value.items()}
    if kind == _SET:
        return set(value)  # members are hashable, so values
    if kind == _TUPLE:
        return tuple(snapshot(v) for v in value)
    if kind == _OBJECT:
        new = copy.copy(value)
        for name in _SLOTS[cls]:
            if hasattr(value, name):
                object.__setattr__(new, name, snapshot(getattr(value, name)))
        state = getattr(new, "__dict__", None)
        if state is not None:
            for k, v in state.items():
                state[k] = snapshot(v)
        return new
    return copy.deepcopy(value)


class CaseFolder:
    """Aggregates folded from projected events, kept in an LRU so hot cases stay cheap.

    ``load`` is called on a miss with the case id and must return the case's earlier events (from
    the projection's own store), so a restarted runner rebuilds the state it needs.
    """

    def __init__(self, maxsize: int = 50_000) -> None:
        self.maxsize = maxsize
        self._cases: OrderedDict[str, Any] = OrderedDict()

    def get(self, case_id: str) -> Any | None:
        aggregate = self._cases.get(case_id)
        if aggregate is not None:
            self._cases.move_to_end(case_id)
        return aggregate

    def warm(self, case_id: str, events: Iterable[ProjectedEvent]) -> Any | None:
        aggregate = None
        for e in events:
            aggregate = rebuild(e).mutate(aggregate)
        if aggregate is not None:
            self._put(case_id, aggregate)
        return aggregate

    def advance(self, event: ProjectedEvent) -> tuple[Any | None, Any]:
        """Apply ``event``; returns (a copy of the state before, the state after)."""
        return self.step(event, snapshot)

    def step(self, event: ProjectedEvent, keep: Callable[[Any], Any]) -> tuple[Any | None, Any]:
        """Apply ``event``; returns (``keep`` of the state before, the state after). ``keep`` reads the
        state before the event changes it in place and returns what a caller needs of it (``advance``
        keeps a whole copy; the projector keeps only what its projections read)."""
        current = self.get(event.case_id)
        before = keep(current) if current is not None else None
        after = rebuild(event).mutate(current)
        self._put(event.case_id, after)
        return before, after

    def forget(self, case_id: str) -> None:
        self._cases.pop(case_id, None)

    def clear(self) -> None:
        self._cases.clear()

    def _put(self, case_id: str, aggregate: Any) -> None:
        self._cases[case_id] = aggregate
        self._cases.move_to_end(case_id)
        while len(self._cases) > self.maxsize:
            self._cases.popitem(last=False)
