"""The publisher's way from a stored row to its record (``envelope.StoredForm``, ADR 0041): the same bytes as the
way through the domain event for every event type, and that way taken wherever the stored JSON might say otherwise."""

from __future__ import annotations

from decimal import Decimal
from functools import cache
from typing import Any
from uuid import UUID

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from consumers.preparer import Failed, Preparer, Row, notification_of
from consumers.publisher import SCHEMAS_DIR
from consumers.wire import envelope
from consumers.wire.codec import SchemaStore
from domain.application import CollectionApp
from kravsak.bench.workload import workload_app
from tests.support.event_samples import sample_app

KEY = b"a digest key"


@cache
def _schemas() -> SchemaStore:
    return SchemaStore.from_directory(SCHEMAS_DIR)


def _preparer(app: CollectionApp, parties: envelope.PartyIndex | None = None) -> Preparer:
    return Preparer(app.mapper, _schemas(), envelope.PartyIndex() if parties is None else parties, KEY)


def _rows(app: CollectionApp) -> list[Row]:
    return [
        (n.id, str(n.originator_id), n.originator_version, n.topic, n.state)
        for n in app.recorder.select_notifications(start=1, limit=10**6)
    ]


def _straight(preparer: Preparer, row: Row) -> tuple[envelope.EventType, envelope.Record] | None:
    position, case_id, version, topic, state = row
    return preparer.stored.record(topic, state, case_id, version, position, preparer.parties)


@pytest.mark.parametrize("log", ["every event type", "workload"])
def test_each_stored_event_straight_from_its_json_gives_the_bytes_of_the_domain_event_way(log: str) -> None:
    app = sample_app() if log == "every event type" else workload_app(400)
    straight, through = _preparer(app), _preparer(app)
    taken: set[str] = set()
    for row in _rows(app):
        found = _straight(straight, row)
        assert found is not None, f"{row[3]} at {row[0]} went the domain event's way"
        taken.add(found[0].name)
        assert straight.prepare_row(row) == through.prepare(notification_of(row)), row[3]
    if log == "every event type":
        assert taken == set(envelope.event_types())


def test_an_event_stored_by_an_earlier_class_version_goes_through_the_domain_event_and_its_upcast() -> None:
    app = sample_app()
    rows = _rows(app)
    invoiced = next(r for r in rows if r[3].endswith("Claim.Invoiced"))
    state = orjson.loads(invoiced[4])
    assert state.pop("class_version") == 2
    state.pop("arose")  # version 1 had no arose: the upcast makes it None
    old: Row = (*invoiced[:4], orjson.dumps(state))
    here = _preparer(app)

    assert _straight(here, old) is None
    prepared = here.prepare_row(old)
    assert prepared == _preparer(app).prepare(notification_of(old))
    assert _schemas().decode_current(prepared.value)["arose"] is None


@pytest.mark.parametrize(
    ("change", "why", "straight"),
    [
        (lambda s: s | {"amount": 12.5}, "a float: only eventsourcing's transcoder reads JSON with one right", False),
        (lambda s: s | {"amount": {"_type_": "decimal_str", "_data_": "12.505"}}, "a fraction of an øre", False),
        (lambda s: s | {"amount": {"_type_": "decimal_str", "_data_": "1E+3"}}, "an amount in another notation", True),
        (lambda s: s | {"due": "2025-03-18"}, "a date as plain text (the domain event's way reads it too)", True),
        (lambda s: s | {"due": {"_type_": "datetime_iso", "_data_": "2025-03-18T00:00:00+00:00"}}, "a time", False),
        (lambda s: {k: v for k, v in s.items() if k != "kid"}, "a field missing", False),
        (lambda s: s | {"lien_secured": 1}, "a number for a boolean", False),
        (lambda s: s | {"timestamp": {"_type_": "datetime_iso", "_data_": "2025-01-02T10:00"}}, "a naive time", False),
    ],
)
def test_a_value_of_another_shape_has_the_outcome_of_the_domain_event_way(
    change: Any, why: str, straight: bool
) -> None:
    app = sample_app()
    invoiced = next(r for r in _rows(app) if r[3].endswith("Claim.Invoiced"))
    odd: Row = (*invoiced[:4], orjson.dumps(change(orjson.loads(invoiced[4]))))
    here = _preparer(app)

    assert (_straight(here, odd) is not None) == straight, why
    assert here.outcome_row(odd) == _preparer(app).outcome(notification_of(odd)), why


def test_a_claim_event_whose_parties_no_one_knows_is_left_to_the_domain_event_way() -> None:
    app = sample_app()
    later = next(r for r in _rows(app) if r[3].endswith("Claim.NoticeSent"))
    here = _preparer(app)  # has not seen the claim's Invoiced event, no fallback

    assert _straight(here, later) is None
    outcome = here.outcome_row(later)
    assert isinstance(outcome, Failed) and "creditor and debtor" in outcome.error


def test_parties_learnt_straight_from_the_json_are_those_learn_takes_from_the_event() -> None:
    app = sample_app()
    rows = _rows(app)
    straight, through = envelope.PartyIndex(), envelope.PartyIndex()
    here = _preparer(app, straight)
    for row in rows:
        assert _straight(here, row) is not None
        through.learn(app.mapper.to_domain_event(notification_of(row)))
    assert set(straight) == set(through) and len(straight) > 5  # (the order is of use: looking up moves a case on)
    assert all(straight(aggregate) == through(aggregate) for aggregate in list(through))


@given(st.uuids(), st.integers(min_value=1, max_value=2**31))
def test_the_event_id_as_text_is_the_uuid5_of_the_aggregate_and_version(aggregate: UUID, version: int) -> None:
    assert envelope.event_id_text(str(aggregate), version) == str(envelope.event_id_of(str(aggregate), version))


AMOUNT_TEXTS = ["0.00", "-0.00", "3463.53", "-12.50", "007.00", "12.5", "12", "1E+2", "1.234", "0.10", "-1.5E-1"]


@pytest.mark.parametrize("text", AMOUNT_TEXTS)
def test_an_amount_read_from_its_text_is_minor_units_of_its_decimal_or_refused_alike(text: str) -> None:
    form = envelope.StoredForm(CollectionApp().mapper, KEY)
    tagged = {"_type_": "decimal_str", "_data_": text}
    try:
        expected: int | None = envelope.minor_units(Decimal(text))
    except envelope.UnmappableEvent:
        expected = None
    if expected is None:
        with pytest.raises(envelope.UnmappableEvent):
            form._minor_units(tagged)
    else:
        assert form._minor_units(tagged) == expected
        assert form._minor_units(tagged) == expected  # remembered by its text: the same again


@given(st.decimals(allow_nan=False, allow_infinity=False, places=2, min_value=-(10**12), max_value=10**12))
def test_any_two_decimal_amount_reads_as_its_minor_units(amount: Decimal) -> None:
    form = envelope.StoredForm(CollectionApp().mapper, KEY)
    assert form._minor_units({"_type_": "decimal_str", "_data_": str(amount)}) == envelope.minor_units(amount)
