"""The PostgreSQL event store, through eventsourcing, with the environment kravsak's settings give."""

from __future__ import annotations

from collections.abc import Callable
from uuid import UUID

import psycopg
import pytest
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import IntegrityError

pytestmark = pytest.mark.integration


class Tab(Aggregate):
    """A tiny test aggregate: a reference and the payments recorded against it."""

    @event("Opened")
    def __init__(self, reference: str) -> None:
        self.reference = reference
        self.payments: list[int] = []

    @event("PaymentRecorded")
    def record_payment(self, amount_minor: int) -> None:
        self.payments.append(amount_minor)


class TabApplication(Application[UUID]):
    name = "KravsakTestTabs"


def test_saved_aggregate_is_read_back_by_a_fresh_application(
    pg_env: dict[str, str], pg_dsn: str, unique: Callable[[str], str]
) -> None:
    tab = Tab(reference=unique("tab"))
    tab.record_payment(amount_minor=12_500)
    tab.record_payment(amount_minor=7_500)
    with TabApplication(env=pg_env) as writer:
        recordings = writer.save(tab)

    with TabApplication(env=pg_env) as reader:
        copy: Tab = reader.repository.get(tab.id)
        notifications = reader.notification_log.select(start=recordings[0].notification.id, limit=3)

    assert copy.reference == tab.reference
    assert copy.payments == [12_500, 7_500]
    assert copy.version == 3
    assert [n.originator_id for n in notifications] == [tab.id] * 3
    with psycopg.connect(pg_dsn) as conn:
        row = conn.execute("SELECT count(*) FROM kravsaktesttabs_events WHERE originator_id = %s", (tab.id,)).fetchone()
    assert row is not None and row[0] == 3


def test_two_writers_of_the_same_version_conflict(pg_env: dict[str, str], unique: Callable[[str], str]) -> None:
    with TabApplication(env=pg_env) as app:
        tab = Tab(reference=unique("tab"))
        app.save(tab)
        first: Tab = app.repository.get(tab.id)
        second: Tab = app.repository.get(tab.id)
        first.record_payment(amount_minor=100)
        second.record_payment(amount_minor=200)
        app.save(first)
        with pytest.raises(IntegrityError):
            app.save(second)
        assert app.repository.get(tab.id).payments == [100]
