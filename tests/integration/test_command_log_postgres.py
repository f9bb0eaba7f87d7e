"""The PostgreSQL recorder's save (ADR 0030: one pipeline, BEGIN and COMMIT as statements in it) is all or
nothing: a command id recorded before, or an expectation that no longer holds, leaves no event, no command
id and no debtor-claim link of that save, and the connection serves the next save."""

from __future__ import annotations

import uuid

import pytest
from eventsourcing.persistence import IntegrityError, StoredEvent

from domain.application import CollectionApp
from domain.command_log import CommandEntry, Expect, ExpectationFailed, PostgresRecorder

pytestmark = pytest.mark.integration


def _event(ident: uuid.UUID, version: int) -> StoredEvent:
    return StoredEvent(ident, version, "tests:Event", b"{}")


def _entry(namespace: str, command_id: str) -> CommandEntry:
    return CommandEntry(namespace, "creditor:5601", command_id, "issue_invoice", "d")


def test_a_refused_save_leaves_nothing_and_the_next_one_is_stored(pg_env: dict[str, str]) -> None:
    app = CollectionApp(pg_env, namespace=uuid.uuid4(), office_secret=b"k" * 32)
    recorder = app.recorder
    assert isinstance(recorder, PostgresRecorder)
    ns, debtor, first, second = str(app.namespace), uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    ids = recorder.insert_events(
        [_event(first, 1), _event(first, 2)], commands=[_entry(ns, "a")], links=[(debtor, first)]
    )
    assert ids is not None and len(ids) == 2 and ids[1] == ids[0] + 1
    top = recorder.max_notification_id()

    with pytest.raises(IntegrityError):  # the command id "a" is taken: nothing of this save stays
        recorder.insert_events(
            [_event(second, 1)], commands=[_entry(ns, "b"), _entry(ns, "a")], links=[(debtor, second)]
        )
    with pytest.raises(ExpectationFailed):  # the debtor has one claim, not none
        recorder.insert_events([_event(second, 1)], commands=[_entry(ns, "c")], expect=[Expect("claims", debtor, 0)])
    with pytest.raises(IntegrityError):  # version 2 of ``first`` is stored
        recorder.insert_events([_event(first, 2)], commands=[_entry(ns, "d")])

    assert recorder.max_notification_id() == top
    assert recorder.claims_of(debtor) == [first]
    assert [recorder.find_command(ns, "creditor:5601", c) for c in "bcd"] == [None, None, None]
    assert recorder.select_events(second) == []

    ids = recorder.insert_events([_event(second, 1)], commands=[_entry(ns, "b")], links=[(debtor, second)],
                                 expect=[Expect("claims", debtor, 1), Expect("version", first, 2)])  # fmt: skip
    assert ids is not None and len(ids) == 1 and top is not None and ids[0] > top
    assert recorder.claims_of(debtor) == [first, second]
    assert recorder.find_command(ns, "creditor:5601", "b") is not None
    app.close()
