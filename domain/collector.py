"""Python's cyclic garbage collector while a batch is worked: run less often (ADR 0029, 0038).

A batch of work — a unit of work of commands, a bank file's batch, a projector's batch of records, a publisher's
batch of events — allocates hundreds of objects per event, almost none of them in reference cycles: they are freed
by their reference count the moment they are dropped, whatever the collector does. At Python's default thresholds
(700, 10, 10) the collector still runs every 700 net allocations, and each of its full collections walks every live
container object: the aggregates a unit of work or a bank file keeps warm, the cases a projector has folded. That
was an eighth of a bank-file import's CPU and a fifth of a projector's, growing with what the process holds.

``fewer_collections()`` raises the thresholds while at least one batch runs in the process (threads and nesting
count), then puts back what was there; ``batch_process()`` sets them for good in a process that does nothing but
batches (the publisher's preparing process, the bank-file check process). Only garbage in cycles waits longer for
its collection; peak memory was unchanged where measured (the import's 100 000-transaction file, the projector's
and the publisher's RSS in the bench).
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

BATCH_THRESHOLDS = (50_000, 20, 100)
"""The collector's thresholds while a batch runs (Python's default: 700, 10, 10)."""

LOOP_THRESHOLDS = (500_000, 20, 100)
"""The collector's thresholds over a Kafka runner's whole loop, batch after batch (``consumers.runner.Runner.run``;
ADR 0046). Between two batches the thresholds no longer drop to the default, which set off a collection of every
young object at once — the next batch's records, prefetched and decoded, among them: 22–24 collections over 15
batches of a projector. And the first generation is collected after 500 000 more objects rather than 50 000: more
than a batch's objects alive at a time, so most of a batch's are freed by their reference count before any collection
walks them. Garbage in cycles waits longer: almost none of a runner's is."""

_lock = threading.Lock()
_users = 0
_before: tuple[int, int, int] = gc.get_threshold()


@contextmanager
def fewer_collections(thresholds: tuple[int, int, int] | None = None) -> Iterator[None]:
    """``thresholds`` (``BATCH_THRESHOLDS`` by default) while at least one batch runs in this process, then the
    thresholds before; nested, the outermost's hold until the last one ends."""
    global _users, _before
    with _lock:
        if _users == 0:
            _before = gc.get_threshold()
            gc.set_threshold(*(thresholds or BATCH_THRESHOLDS))
        _users += 1
    try:
        yield
    finally:
        with _lock:
            _users -= 1
            if _users == 0:
                gc.set_threshold(*_before)


def batch_process() -> None:
    """``BATCH_THRESHOLDS`` for the rest of this process's life: for a process that works batch after batch and
    nothing else (``fewer_collections`` puts back what was there after a batch)."""
    gc.set_threshold(*BATCH_THRESHOLDS)
