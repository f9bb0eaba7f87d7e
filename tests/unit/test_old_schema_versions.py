"""New readers read all old data: a message written with an earlier version of its schema reaches the
projections as the current version, its newer fields at their defaults, and folds like any other."""

from __future__ import annotations

from pathlib import Path

import pytest

from consumers.projector import Decoder
from consumers.wire.codec import AvroSchema, SchemaStore, encode
from consumers.wire.envelope import PartyIndex, event_record, stored_parties
from projections.casefold import rebuild
from tests.support.event_samples import sample_app, sample_positions

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"
STORE = SchemaStore.from_directory(SCHEMAS)


def _older_versions() -> list[tuple[str, Path]]:
    return [
        (folder.name, path)
        for folder in sorted((SCHEMAS / "history").iterdir())
        for path in sorted(folder.glob("v*.avsc"))
        if AvroSchema.load(path).fingerprint != STORE.latest(AvroSchema.load(path).name).fingerprint
    ]


def test_some_event_types_have_older_versions_to_read() -> None:
    assert {"ClaimInvoiced", "ClaimJudgmentRegistered"} <= {name for name, _ in _older_versions()}


@pytest.mark.parametrize(("name", "path"), _older_versions(), ids=lambda v: getattr(v, "stem", v))
def test_a_message_of_an_older_version_decodes_as_the_current_one_and_folds(name: str, path: Path) -> None:
    old = AvroSchema.load(path)
    position, event = sample_positions()[name]
    _, record = event_record(event, position=position, parties=PartyIndex(fallback=stored_parties(sample_app())))
    fields = {f["name"] for f in old.parsed["fields"]}
    written = encode({k: v for k, v in record.items() if k in fields}, old)

    projected = Decoder(STORE)(written)

    assert projected.event_type == name
    current = {f["name"] for f in STORE.latest(old.name).parsed["fields"]}
    assert current - fields, "the current version adds fields"
    rebuilt = rebuild(projected)
    assert type(rebuilt).__qualname__.endswith(type(event).__qualname__)
