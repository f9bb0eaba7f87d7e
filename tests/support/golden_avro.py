"""Golden Avro messages: one single-object encoded sample of every event type.

The pinned bytes live in ``tests/fixtures/avro/golden/<EventType>.hex`` (hex, 64 characters a
line). ``tests/unit/test_schemas.py`` only compares with them. After an intentional change to a
schema or to the sample events, refresh them and review the diff:

    python -m tests.support.golden_avro --regen   # rewrite the .hex files
    python -m tests.support.golden_avro           # list the event types whose bytes differ (exit 1)
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from consumers.wire.codec import SchemaStore, encode
from consumers.wire.envelope import PartyIndex, event_record, event_type_of
from tests.support.event_samples import sample_log

REPO = Path(__file__).resolve().parents[2]
SCHEMAS = REPO / "schemas"
GOLDEN = REPO / "tests" / "fixtures" / "avro" / "golden"
LINE = 64


def sample_records() -> dict[str, tuple[int, str, dict[str, Any]]]:
    """The first sample event of each type as ``(position, schema full name, record)``.

    The whole sample log is read in order through a ``PartyIndex``, as the publisher reads the
    notification log, so later claim events get their creditor and debtor.
    """
    parties = PartyIndex()
    records: dict[str, tuple[int, str, dict[str, Any]]] = {}
    for position, event in sample_log():
        parties.learn(event)
        event_type = event_type_of(event)
        if event_type is not None and event_type.name not in records:
            full_name, record = event_record(event, position=position, parties=parties)
            records[event_type.name] = (position, full_name, record)
    return records


def sample_messages(store: SchemaStore | None = None) -> dict[str, bytes]:
    """Each sample record encoded with its current schema from ``schemas/``."""
    store = store or SchemaStore.from_directory(SCHEMAS)
    return {name: encode(record, store.latest(full_name)) for name, (_, full_name, record) in sample_records().items()}


def golden_path(name: str) -> Path:
    return GOLDEN / f"{name}.hex"


def read_golden(name: str) -> bytes:
    return bytes.fromhex("".join(golden_path(name).read_text(encoding="ascii").split()))


def render(message: bytes) -> str:
    text = message.hex()
    return "".join(text[i : i + LINE] + "\n" for i in range(0, len(text), LINE))


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    messages = sample_messages()
    if args == ["--regen"]:
        GOLDEN.mkdir(parents=True, exist_ok=True)
        for stale in GOLDEN.glob("*.hex"):
            if stale.stem not in messages:
                stale.unlink()
        for name, message in messages.items():
            golden_path(name).write_text(render(message), encoding="ascii")
        print(f"wrote {len(messages)} golden messages to {GOLDEN}")
        return 0
    if args:
        print("usage: python -m tests.support.golden_avro [--regen]", file=sys.stderr)
        return 2
    differ = [n for n, m in messages.items() if not golden_path(n).is_file() or read_golden(n) != m]
    for name in differ:
        print(f"{golden_path(name)}: differs from the sample's bytes")
    return 1 if differ else 0


if __name__ == "__main__":
    raise SystemExit(main())
