"""The events' JSON, written and read with orjson in the stored form eventsourcing's ``JSONTranscoder`` has.

A stored event's state is JSON in which every value JSON has no type for is an object
``{"_type_": <transcoding name>, "_data_": <its encoding>}`` (UUID ``uuid_hex``, Decimal ``decimal_str``,
datetime ``datetime_iso``, date ``date_iso``). ``OrjsonTranscoder`` writes and reads exactly that form,
so events stored by either transcoder decode with the other to equal values (``tests/unit/test_transcoder.py``):

- orjson writes UUIDs as plain strings of its own, so they are tagged before (``_tagged``); datetimes and
  dates are handed to the registered transcodings (``OPT_PASSTHROUGH_DATETIME``), Decimal and any other
  type too (``default``), each by its exact type as eventsourcing looks them up;
- subclasses of str, int, float, dict and list are written as the base type (``OPT_PASSTHROUGH_SUBCLASS``
  and ``default``), as Python's json does (a ``str`` enum as its value); tuples and named tuples as lists;
- what orjson cannot write, or would write otherwise (an int beyond 64 bits, a key not a string, NaN and
  infinities, which it writes as null), and stored text it cannot read (NaN) or that holds a float (orjson
  reads an integer beyond 64 bits as a float) go through
  eventsourcing's own transcoder: the same answer, at its speed.

A dataclass, a set or an enum that is not also a str, int or float is refused as before
(``TranscodingNotRegisteredError``): orjson would write them, and the stored form would then not read back
as what was saved. ``CollectionApp`` uses it unless its environment names another ``TRANSCODER_TOPIC``.

A payment's two events hand ``default`` about twenty values (twelve amounts, dates, the timestamp), so it is
kept short (ADR 0029): the transcoding of each type is looked up once when it is registered, eventsourcing's
own Decimal and datetime transcodings are called as the C functions they amount to (``str``,
``datetime.isoformat``), and a date's tagged object is made once per distinct date (an import has a few dozen)
and handed to orjson again — the same bytes, a third of the cost.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any
from uuid import UUID

import orjson
from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import (
    Cipher,
    Compressor,
    DatetimeAsISO,
    DecimalAsStr,
    JSONTranscoder,
    Mapper,
    StoredEvent,
    Transcoder,
    Transcoding,
    TranscodingNotRegisteredError,
)
from eventsourcing.utils import get_topic

_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_SUBCLASS
_PLAIN = frozenset({str, int, bool, type(None), Decimal, date, datetime})
"""Types a value may have for ``_tagged`` to leave it alone (orjson or ``default`` write them). Not float:
orjson writes NaN and infinities as null, so ``_tagged`` looks at each float."""
_TAG = "_type_"
_DATA = "_data_"
_DECODED = frozenset({dict, list, float})
"""What ``_untagged`` looks into: containers, and floats, which orjson also makes of integers beyond 64 bits."""
_SAME_AS: dict[type[Transcoding], Callable[[Any], str]] = {DecimalAsStr: str, DatetimeAsISO: datetime.isoformat}
"""eventsourcing's transcodings whose ``encode`` is exactly this C function: called without the method around it."""
_DATES_KEPT = 4096
"""At most this many dates' tagged objects are remembered (an import's events have a few dozen distinct dates)."""


class _NotForOrjson(Exception):
    """A value orjson would write otherwise than Python's json."""


class OrjsonTranscoder(JSONTranscoder):
    """eventsourcing's JSON transcoder with orjson underneath; registered transcodings work as there."""

    def __init__(self) -> None:
        super().__init__()
        self._encoders: dict[type, tuple[str, Callable[[Any], Any]]] = {}  # by exact type: name, encode
        self._dates: dict[date, dict[str, Any]] = {}  # a date's tagged object, made once (never changed)
        self._decimal_str: str | None = None  # the name of eventsourcing's Decimal transcoding, when registered
        self._decoders: dict[str, Callable[[Any], Any]] = {}  # by name: decode, for a tagged object of text data

    def register(self, transcoding: Transcoding) -> None:
        super().register(transcoding)
        self._encoders[transcoding.type] = (transcoding.name, _SAME_AS.get(type(transcoding), transcoding.encode))
        self._decoders[transcoding.name] = transcoding.decode
        self._dates.clear()
        if transcoding.type is Decimal:
            self._decimal_str = transcoding.name if type(transcoding) is DecimalAsStr else None

    def encode(self, obj: Any) -> bytes:
        try:
            return orjson.dumps(self._tagged(obj), default=self._default, option=_OPTIONS)
        except orjson.JSONEncodeError as e:
            if isinstance(e.__cause__, TranscodingNotRegisteredError):
                raise e.__cause__ from None
            return super().encode(obj)  # what orjson cannot write: an int beyond 64 bits, a key not a string
        except _NotForOrjson:
            return super().encode(obj)

    def decode(self, data: bytes) -> Any:
        try:
            return self._untagged(orjson.loads(data))
        except (orjson.JSONDecodeError, _NotForOrjson):  # NaN, Infinity; a float, which may be a long integer
            return super().decode(data)

    def decoded(self, value: Any) -> Any:
        """One value of the stored JSON as read by ``orjson.loads``, as ``decode`` gives it within the whole (its
        tagged objects decoded). Raises for a float, which only eventsourcing's own reading gets right (it may be
        an integer beyond 64 bits): the caller reads the whole through ``decode``."""
        return self._untagged(value)

    def _default(self, o: Any) -> Any:
        kind = type(o)
        if kind is Decimal and self._decimal_str is not None:  # the most frequent by far: amounts
            return {_TAG: self._decimal_str, "_data_": str(o)}
        if kind is date:
            tagged = self._dates.get(o)  # a date's encoding depends on its value alone; orjson only reads it
            if tagged is not None:
                return tagged
            if len(self._dates) >= _DATES_KEPT:
                self._dates.clear()
        found = self._encoders.get(kind)
        if found is not None:
            data = found[1](o)
            tagged = {_TAG: found[0], "_data_": data if type(data) is str else self._tagged(data)}
            if kind is date:
                self._dates[o] = tagged
            return tagged
        if isinstance(o, str):
            return str.__str__(o)  # a str subclass (a str enum) as its text, as Python's json writes it
        if isinstance(o, float) and not math.isfinite(o):
            raise _NotForOrjson
        for base in (int, float):  # bool cannot be subclassed
            if isinstance(o, base):
                return base(o)
        if isinstance(o, dict):
            return self._tagged(dict(o))
        if isinstance(o, (list, tuple)):  # a list subclass, a named tuple
            return self._tagged(list(o))
        return self._encode_obj(o)  # raises TranscodingNotRegisteredError with eventsourcing's message

    def _tagged(self, value: Any) -> Any:
        """``value`` with its UUIDs (at any depth in dicts, lists and tuples) as their transcoding's objects, which
        orjson would write as plain strings; the same object when there is nothing to change."""
        kind = type(value)
        if kind is dict:  # copied only when something inside changes (an event's amounts by component do not)
            for v in value.values():
                if type(v) not in _PLAIN and self._tagged(v) is not v:
                    return {k: v if type(v) in _PLAIN else self._tagged(v) for k, v in value.items()}
            return value
        if kind is list or kind is tuple:
            for v in value:
                if type(v) not in _PLAIN and self._tagged(v) is not v:
                    return [v if type(v) in _PLAIN else self._tagged(v) for v in value]
            return value
        if kind is UUID:
            return self._default(value)
        if kind is float and not math.isfinite(value):
            raise _NotForOrjson  # Python's json writes NaN and Infinity; orjson would write null
        if isinstance(value, Enum) and not isinstance(value, (str, int, float)):
            return self._encode_obj(value)  # orjson would write its value; Python's json refuses it, so do we
        return value

    def _untagged(self, value: Any) -> Any:
        """``value`` with every ``{"_type_": …, "_data_": …}`` object decoded, innermost first
        (``JSONTranscoder._decode_obj``, as Python's json calls it for every object). A float raises
        ``_NotForOrjson``: orjson reads an integer beyond 64 bits as one (floats are rare in events)."""
        kind = type(value)
        if kind is dict:
            if len(value) == 2 and type(name := value.get(_TAG)) is str and type(data := value.get(_DATA)) is str:
                decode = self._decoders.get(name)  # a tagged object of text data (all four above): decoded at once
                if decode is not None:
                    return decode(data)
            for v in value.values():
                if type(v) in _DECODED:
                    value = {k: v if type(v) not in _DECODED else self._untagged(v) for k, v in value.items()}
                    break
            if len(value) == 2 and _TAG in value:
                return self._decode_obj(value)
            return value
        if kind is list:
            return [v if type(v) not in _DECODED else self._untagged(v) for v in value]
        if kind is float:
            raise _NotForOrjson
        return value


class EventMapper(Mapper[UUID]):
    """eventsourcing's ``Mapper`` with each event class's topic and class version looked up once, not per event
    (``to_stored_event`` is otherwise eventsourcing's, step for step). ``CollectionApp`` uses it unless its
    environment names another ``MAPPER_TOPIC``."""

    def __init__(self, transcoder: Transcoder, compressor: Compressor | None = None, cipher: Cipher | None = None):
        super().__init__(transcoder, compressor, cipher)
        self._classes: dict[type, tuple[str, int]] = {}

    def to_stored_event(self, domain_event: DomainEventProtocol[UUID]) -> StoredEvent:
        kind = domain_event.__class__
        known = self._classes.get(kind)
        if known is None:
            known = self._classes[kind] = (get_topic(kind), getattr(kind, "class_version", 1))
        event_state = dict(vars(domain_event))
        originator_id = event_state.pop("originator_id")
        originator_version = event_state.pop("originator_version")
        if known[1] > 1:
            event_state["class_version"] = known[1]
        stored_state = self.transcoder.encode(event_state)
        if self.compressor:
            stored_state = self.compressor.compress(stored_state)
        if self.cipher:
            stored_state = self.cipher.encrypt(stored_state)
        return StoredEvent(originator_id, originator_version, known[0], stored_state)
