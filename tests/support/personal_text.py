"""Events of every type carrying personal-looking text in every field a person may have written: what the
stream must never show (ADR 0023). Used by the unit test (bytes the publisher would send) and the integration
test (bytes on a real topic)."""

from __future__ import annotations

import dataclasses
from typing import Any

from eventsourcing.domain import DomainEvent

from consumers.wire.envelope import Kind, event_type_of
from tests.support.event_samples import sample_log

PERSONAL = "Ola Nordmann 01017012345 diabetes innlagt psykiatrisk"
"""A name, a national id and health words: none of them may reach the stream."""
TELLTALES = (b"Nordmann", b"01017012345", b"diabetes", b"psykiatrisk")
FREE_KINDS = (Kind.REASON, Kind.FREE_TEXT)


def personal_log() -> list[tuple[int, DomainEvent]]:
    """The sample log (every event type), each free-text attribute replaced by ``PERSONAL``."""
    out: list[tuple[int, DomainEvent]] = []
    for position, event in sample_log():
        event_type = event_type_of(event)
        change: dict[str, Any] = {}
        if event_type is not None:
            change = {s.attribute: PERSONAL for s in event_type.fields if s.kind in FREE_KINDS}
        out.append((position, dataclasses.replace(event, **change) if change else event))  # type: ignore[type-var]
    return out


def telltales_in(data: bytes) -> list[bytes]:
    return [t for t in TELLTALES if t in data]
