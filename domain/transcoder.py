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
"""

from __future__ import annotations

import math
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any
from uuid import UUID

import orjson
from eventsourcing.persistence import JSONTranscoder, TranscodingNotRegisteredError

_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_SUBCLASS
_PLAIN = frozenset({str, int, bool, type(None), Decimal, date, datetime})
"""Types a value may have for ``_tagged`` to leave it alone (orjson or ``default`` write them). Not float:
orjson writes NaN and infinities as null, so ``_tagged`` looks at each float."""
_TAG = "_type_"
_DECODED = frozenset({dict, list, float})
"""What ``_untagged`` looks into: containers, and floats, which orjson also makes of integers beyond 64 bits."""


class _NotForOrjson(Exception):
    """A value orjson would write otherwise than Python's json."""


class OrjsonTranscoder(JSONTranscoder):
    """eventsourcing's JSON transcoder with orjson underneath; registered transcodings work as there."""

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

    def _default(self, o: Any) -> Any:
        transcoding = self.types.get(type(o))
        if transcoding is not None:
            data = transcoding.encode(o)
            return {_TAG: transcoding.name, "_data_": data if type(data) is str else self._tagged(data)}
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
        if kind is dict:
            for v in value.values():
                if type(v) not in _PLAIN:
                    return {k: v if type(v) in _PLAIN else self._tagged(v) for k, v in value.items()}
            return value
        if kind is list or kind is tuple:
            for v in value:
                if type(v) not in _PLAIN:
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
