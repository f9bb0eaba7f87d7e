"""Speed work on the ingest path changes no event: the standard workload of a fixed seed stores the same
events, in the same order, as before it (issue 15 point 1, ADR 0030).

The digest below is of the decoded event stream (aggregate, version, topic, every attribute but the
wall-clock ``timestamp``) that main at 0addebf stored for ``workload_app(3000)``. A change that means to
change the workload's events (a new attribute, another rule) recomputes it with ``stream_digest`` and
says so in its commit.
"""

from __future__ import annotations

import hashlib

from domain.application import CollectionApp
from kravsak.bench.workload import workload_app

STANDARD_WORKLOAD_EVENTS = 3095
STANDARD_WORKLOAD_DIGEST = "76fcc778f39f71ca4ed9951542845a4c127779ef776da2ed591968b61b00c8c0"


def stream_digest(app: CollectionApp) -> tuple[int, str]:
    """How many events ``app`` stored and a SHA-256 of them as decoded, in notification order."""
    digest, count = hashlib.sha256(), 0
    for note in app.recorder.select_notifications(start=1, limit=10**9):
        state = dict(vars(app.mapper.to_domain_event(note)))
        state.pop("timestamp")
        digest.update(repr((note.originator_id, note.originator_version, note.topic, sorted(state.items()))).encode())
        count += 1
    return count, digest.hexdigest()


def test_the_standard_workload_stores_the_events_it_stored_before_the_speed_work() -> None:
    assert stream_digest(workload_app(3000)) == (STANDARD_WORKLOAD_EVENTS, STANDARD_WORKLOAD_DIGEST)
