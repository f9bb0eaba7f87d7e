"""One catalogue of stored events: complete, named as on the wire, read by envelope and case fold alike."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from consumers.wire.envelope import event_type_of, event_types
from domain.catalogue import AGGREGATES, BY_WIRE_NAME, EVENTS, stored_event, stored_event_classes
from domain.claim import Claim
from projections.base import ProjectedEvent
from projections.casefold import rebuild
from tests.support.event_samples import sample_events


def test_the_catalogue_lists_every_stored_event_class_of_every_aggregate_in_definition_order() -> None:
    defined = [(aggregate, cls) for aggregate in AGGREGATES for cls in stored_event_classes(aggregate)]
    assert [(e.aggregate, e.cls) for e in EVENTS] == defined


def test_wire_names_are_unique_and_start_with_the_aggregate_name() -> None:
    assert len(BY_WIRE_NAME) == len(EVENTS) == 47
    for e in EVENTS:
        assert e.wire_name == e.aggregate.__name__ + e.cls.__name__, e.wire_name


def test_envelope_and_schemas_cover_exactly_the_catalogue() -> None:
    assert list(event_types()) == [e.wire_name for e in EVENTS]
    assert all(event_types()[e.wire_name].stored is e for e in EVENTS)


def test_only_creation_events_are_creation_events() -> None:
    assert [e.wire_name for e in EVENTS if e.creation] == [
        "ClaimInvoiced",
        "CreditorRegistered",
        "DebtorRegistered",
        "PaymentReferenceAssigned",
        "SuspenseOpened",
        "BankFileOpened",
        "RefundRequested",
    ]


def test_an_abstract_event_base_is_not_in_the_catalogue() -> None:
    assert stored_event(Claim.InterestAccruing) is None and stored_event(Claim.Event) is None
    assert stored_event(Claim.NoticeSent) is BY_WIRE_NAME["ClaimNoticeSent"]


def projected(name: str, event: Any, attributes: Iterable[str]) -> ProjectedEvent:
    """A sampled event as the projector sees it, with the values of ``attributes``."""
    values = {a: getattr(event, a) for a in attributes}
    day = date(2025, 1, 1)
    return ProjectedEvent(
        event_id="e", event_type=name, case_id=str(event.originator_id), creditor_id=None, debtor_id=None,
        aggregate_version=event.originator_version, position=1, effective_date=day, recorded_date=day,
        recorded_at=event.timestamp, rule_version="", currency=None, values=values,
    )  # fmt: skip


def test_envelope_and_case_fold_find_the_same_class_for_every_sampled_event() -> None:
    for name, event in sample_events().items():
        wire = event_type_of(event)
        assert wire is not None and wire.name == name
        assert rebuild(projected(name, event, BY_WIRE_NAME[name].own_attributes)) == event


def test_the_case_fold_rebuilds_every_sampled_event_from_values_with_the_base_attributes_too() -> None:
    # as the decoder gives them (``domain_values``): every attribute, the envelope's ones included
    for name, event in sample_events().items():
        assert rebuild(projected(name, event, BY_WIRE_NAME[name].attributes)) == event
