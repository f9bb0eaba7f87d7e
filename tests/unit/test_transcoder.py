"""The orjson transcoder writes and reads eventsourcing's stored form: every value round-trips as with
eventsourcing's JSON transcoder, events stored by either decode with the other, and what was refused
before is refused still."""

from __future__ import annotations

from collections import OrderedDict
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from enum import Enum, IntEnum
from typing import Any, NamedTuple
from uuid import UUID, uuid4

import orjson
import pytest
from eventsourcing.persistence import JSONTranscoder, Mapper, Transcoding, TranscodingNotRegisteredError
from hypothesis import given
from hypothesis import strategies as st

from domain.application import CollectionApp
from domain.records import Stage
from domain.transcoder import EventMapper, OrjsonTranscoder
from kravsak.bench.workload import workload_app


def _transcoders() -> tuple[JSONTranscoder, OrjsonTranscoder]:
    app = CollectionApp()
    old, new = JSONTranscoder(), OrjsonTranscoder()
    app.register_transcodings(old)
    app.register_transcodings(new)
    return old, new


OLD, NEW = _transcoders()


class Colour(Enum):
    RED = "red"


class Level(IntEnum):
    HIGH = 3


class Pair(NamedTuple):
    left: int
    right: str


EVERY_TYPE: dict[str, Any] = {
    "uuid": UUID("6a1b0e7e-8f0c-4d51-9c3a-2f7e4a1b9c10"),
    "decimal": Decimal("1234.50"),
    "negative_zero": Decimal("-0.00"),
    "exponent": Decimal("1E+3"),
    "date": date(2025, 1, 6),
    "datetime": datetime(2025, 1, 6, 12, 30, 1, 123456, tzinfo=UTC),
    "datetime_offset": datetime(2025, 1, 6, 12, 30, tzinfo=timezone(timedelta(hours=2))),
    "naive_datetime": datetime(2025, 1, 6, 12, 30),
    "text": 'Ærlig øre, å — \u2028 "quoted" \\ \x00',
    "int": -(2**63),
    "big_int": 2**80,
    "float": 0.1,
    "bool": True,
    "none": None,
    "list": [1, "a", None, [Decimal("2"), date(2024, 2, 29)]],
    "tuple": (UUID(int=1), "b"),
    "nested": {"inner": {"id": UUID(int=2), "amounts": (Decimal("0.01"),)}},
    "empty": {},
    "stage": Stage.INVOICED,
    "level": Level.HIGH,
    "named": Pair(1, "x"),
    "ordered": OrderedDict(a=UUID(int=3)),
    "looks_tagged": {"_type_": "not a transcoding name, one key more", "_data_": 1, "x": 2},
}


def test_every_type_round_trips_as_with_eventsourcings_transcoder() -> None:
    stored_new, stored_old = NEW.encode(EVERY_TYPE), OLD.encode(EVERY_TYPE)
    assert NEW.decode(stored_new) == OLD.decode(stored_old)
    assert NEW.decode(stored_old) == OLD.decode(stored_old)
    assert OLD.decode(stored_new) == OLD.decode(stored_old)


def test_values_come_back_with_their_types() -> None:
    back = NEW.decode(NEW.encode(EVERY_TYPE))
    for key in (
        "uuid",
        "decimal",
        "negative_zero",
        "exponent",
        "date",
        "datetime",
        "datetime_offset",
        "naive_datetime",
    ):
        assert back[key] == EVERY_TYPE[key]
        assert type(back[key]) is type(EVERY_TYPE[key]), key
    assert str(back["decimal"]) == "1234.50"  # the exponent is kept, not only the value
    assert str(back["negative_zero"]) == "-0.00"
    assert back["nested"] == {"inner": {"id": UUID(int=2), "amounts": [Decimal("0.01")]}}
    assert back["tuple"] == [UUID(int=1), "b"]  # a tuple comes back a list, as with eventsourcing's transcoder
    assert back["stage"] == Stage.INVOICED.value and back["level"] == 3
    assert back["big_int"] == 2**80 and back["int"] == -(2**63)


def test_a_date_stays_a_date_and_a_datetime_a_datetime() -> None:
    back = NEW.decode(NEW.encode({"d": date(2025, 3, 1), "t": datetime(2025, 3, 1, tzinfo=UTC)}))
    assert type(back["d"]) is date
    assert type(back["t"]) is datetime


def test_nan_stored_by_pythons_json_still_decodes() -> None:
    assert NEW.decode(b'{"x":NaN}')["x"] != NEW.decode(b'{"x":NaN}')["x"]  # NaN, read by the fallback


@pytest.mark.parametrize(
    "value",
    [{"colour": Colour.RED}, {"when": {1, 2}}, {"thing": object()}, {"id": [uuid4(), Colour.RED]}],
    ids=["plain enum", "set", "object", "enum in a list"],
)
def test_what_eventsourcings_transcoder_refuses_is_refused(value: dict[str, Any]) -> None:
    with pytest.raises(TranscodingNotRegisteredError):
        OLD.encode(value)
    with pytest.raises(TranscodingNotRegisteredError):
        NEW.encode(value)


def test_the_standard_workload_is_stored_byte_for_byte_as_before() -> None:
    app = workload_app(2_000)
    assert isinstance(app.mapper.transcoder, OrjsonTranscoder)
    notifications = list(app.recorder.select_notifications(start=1, limit=10**9))
    assert len(notifications) >= 2_000
    for n in notifications:
        state = OLD.decode(n.state)
        assert n.state == OLD.encode(state)  # what the app stored is what eventsourcing's transcoder writes
        assert NEW.decode(n.state) == state
        event = app.mapper.to_domain_event(n)
        assert event.originator_id == n.originator_id


def test_a_date_written_again_is_written_as_the_first_time_and_as_eventsourcing_writes_it() -> None:
    day = date(2025, 3, 1)
    state = {"a": day, "b": [day, {"c": day}], "amount": Decimal("0.00"), "deep": {"x": {"y": [UUID(int=5)]}}}
    assert NEW.encode(state) == NEW.encode(state) == OLD.encode(state)


class _DecimalAsText(Transcoding):
    type = Decimal
    name = "decimal_text"

    def encode(self, obj: Decimal) -> str:
        return f"D{obj}"

    def decode(self, data: str) -> Decimal:
        return Decimal(data[1:])


class _DateAsOrdinal(Transcoding):
    type = date
    name = "date_ordinal"

    def encode(self, obj: date) -> int:
        return obj.toordinal()

    def decode(self, data: int) -> date:
        return date.fromordinal(data)


def test_a_transcoding_registered_later_for_a_type_is_the_one_used() -> None:
    transcoder = OrjsonTranscoder()
    CollectionApp().register_transcodings(transcoder)
    state = {"amount": Decimal("1.50"), "day": date(2025, 1, 6)}
    assert transcoder.encode(state) == OLD.encode(state)  # the date's tagged object is remembered now
    transcoder.register(_DecimalAsText())
    transcoder.register(_DateAsOrdinal())
    assert orjson.loads(transcoder.encode(state)) == {
        "amount": {"_type_": "decimal_text", "_data_": "D1.50"},
        "day": {"_type_": "date_ordinal", "_data_": date(2025, 1, 6).toordinal()},
    }
    assert transcoder.decode(transcoder.encode(state)) == state


def test_the_event_mapper_stores_what_eventsourcings_mapper_stores() -> None:
    app = workload_app(300)
    assert type(app.mapper) is EventMapper
    plain: Mapper[UUID] = Mapper(transcoder=app.mapper.transcoder)
    for n in app.recorder.select_notifications(start=1, limit=2_000):
        event = app.mapper.to_domain_event(n)
        ours = app.mapper.to_stored_event(event)
        assert ours == plain.to_stored_event(event)
        assert (ours.originator_id, ours.originator_version, ours.topic, ours.state) == (
            n.originator_id, n.originator_version, n.topic, n.state,
        )  # fmt: skip


def test_an_environment_naming_another_mapper_keeps_it() -> None:
    app = CollectionApp({"MAPPER_TOPIC": "eventsourcing.persistence:Mapper"})
    assert type(app.mapper) is Mapper


def test_an_environment_naming_another_transcoder_keeps_it() -> None:
    app = CollectionApp({"TRANSCODER_TOPIC": "eventsourcing.persistence:JSONTranscoder"})
    assert type(app.mapper.transcoder) is JSONTranscoder


_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.text()
    | st.uuids()
    | st.decimals(allow_nan=False, allow_infinity=False)
    | st.dates()
    | st.datetimes(timezones=st.none() | st.just(UTC))
    | st.floats(allow_nan=False)
)
_values = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.tuples(inner, inner) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


@given(st.dictionaries(st.text(max_size=10), _values, max_size=8))
def test_any_event_state_decodes_the_same_with_either_transcoder(state: dict[str, Any]) -> None:
    expected = OLD.decode(OLD.encode(state))
    assert NEW.decode(NEW.encode(state)) == expected
    assert OLD.decode(NEW.encode(state)) == expected
    assert NEW.decode(OLD.encode(state)) == expected


@pytest.mark.parametrize(
    "text",
    [
        b'{"a":{"_type_":"decimal_str","_data_":"12.50"},"b":[{"_type_":"date_iso","_data_":"2025-01-31"}]}',
        b'{"a":{"_type_":"uuid_hex","_data_":"8490edbe875a5a57ad4514cef6c75bf7"}}',
        b'{"a":{"_type_":"datetime_iso","_data_":"2026-12-07T07:18:44.133674+00:00"}}',
        b'{"a":{"_type_":"decimal_str","_data_":"12.50","extra":1}}',  # three keys: an ordinary object
        b'{"a":{"_type_":"decimal_str","_data_":12}}',  # data not text: as eventsourcing decodes it
        b'{"a":{"_type_":["decimal_str"],"_data_":"12"}}',  # a name not text
        b'{"a":{"_type_":"decimal_str","_other_":"12"}}',  # no data: an ordinary object
        b'{"a":{"_type_":"date_iso","_data_":{"_type_":"decimal_str","_data_":"1"}}}',  # data tagged itself
        b'{"_type_":"decimal_str","_data_":"7"}',  # the whole state one tagged object
    ],
)
def test_tagged_objects_decode_as_eventsourcing_decodes_them(text: bytes) -> None:
    """A tagged object of text data is decoded at once by its transcoding (``_decoders``); any other shape goes the
    general way. Either way the value, or the error, is eventsourcing's."""

    def outcome(transcoder: JSONTranscoder) -> Any:
        try:
            return transcoder.decode(text)
        except Exception as exc:  # the same error, by type and message
            return (type(exc), str(exc))

    assert outcome(NEW) == outcome(OLD)


def test_a_tagged_object_of_an_unregistered_name_is_refused_with_eventsourcings_error() -> None:
    text = b'{"a":{"_type_":"not_registered","_data_":"x"}}'
    with pytest.raises(TranscodingNotRegisteredError) as new:
        NEW.decode(text)
    with pytest.raises(TranscodingNotRegisteredError) as old:
        OLD.decode(text)
    assert str(new.value) == str(old.value)
