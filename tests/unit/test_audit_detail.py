"""The audit trail's ``detail``: orjson writes the JSON that ``json.dumps`` wrote, for every event type."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any
from uuid import UUID

import pytest

from consumers.projector import SCHEMAS_DIR, Decoder
from consumers.wire.codec import SchemaStore, encode
from consumers.wire.envelope import PartyIndex, event_record
from projections.audit_trail import SKIP_IN_DETAIL, _detail, _json_default
from tests.support.event_samples import sample_log


def _as_json_wrote_it(values: dict[str, Any]) -> str:
    """The detail as the projection wrote it before orjson (the same ``default``, no ASCII escapes)."""
    kept = {k: str(v) if type(v) in (date, datetime, Decimal, UUID) else v for k, v in values.items()}
    return json.dumps(
        {k: v for k, v in kept.items() if k not in SKIP_IN_DETAIL}, default=_json_default, ensure_ascii=False
    )


def _decoded_values() -> list[tuple[str, dict[str, Any]]]:
    schemas = SchemaStore.from_directory(SCHEMAS_DIR)
    decoder, parties, out = Decoder(schemas), PartyIndex(), []
    for position, event in sample_log():
        parties.learn(event)
        name, record = event_record(event, position=position, parties=parties)
        projected = decoder(encode(record, schemas.latest(name)))
        out.append((projected.event_type, projected.values))
    return out


def test_every_event_types_detail_is_the_json_that_json_dumps_wrote() -> None:
    seen = set()
    for event_type, values in _decoded_values():
        assert json.loads(_detail(values)) == json.loads(_as_json_wrote_it(values)), event_type
        seen.add(event_type)
    assert len(seen) >= 40  # every type of the samples, not a few


class _Channel(StrEnum):
    LETTER = "letter"


@pytest.mark.parametrize(
    "values",
    [
        {"amount": Decimal("1234.50"), "due": date(2026, 3, 1), "at": datetime(2026, 3, 1, 12, 30, tzinfo=UTC)},
        {"plan": [{"due": date(2026, 4, 1), "amount": Decimal("10.00")}], "who": UUID(int=7)},
        {"name": "Åse Ødegård", "channel": _Channel.LETTER, "count": 3, "ok": True, "none": None, "rate": 0.5},
        {"codes": {1: "a"}, "originator_id": UUID(int=1), "timestamp": datetime(2026, 1, 1, tzinfo=UTC)},
    ],
)
def test_odd_values_are_written_as_json_dumps_wrote_them(values: dict[str, Any]) -> None:
    assert json.loads(_detail(values)) == json.loads(_as_json_wrote_it(values))
    assert "originator_id" not in _detail(values)


def test_a_value_json_cannot_write_is_refused_by_name() -> None:
    with pytest.raises(TypeError, match="not JSON serializable: object"):
        _detail({"odd": object()})
