"""Applications that start at the same instant on a fresh event store all start: the tables are created by one
of them at a time (``PostgresRecorder.create_table``'s advisory lock), never racing in PostgreSQL's catalogue."""

from __future__ import annotations

import threading
from uuid import uuid4

import psycopg
import pytest

from domain.application import CollectionApp
from kravsak.bench.scratch import drop_event_store
from kravsak.settings import Settings

pytestmark = pytest.mark.integration


def test_eight_applications_starting_together_on_a_fresh_schema_all_start(
    settings: Settings, pg_env: dict[str, str]
) -> None:
    schema = f"at_once_{uuid4().hex[:10]}"
    with psycopg.connect(settings.pg_dsn, autocommit=True) as conn:
        conn.execute(psycopg.sql.SQL("CREATE SCHEMA {}").format(psycopg.sql.Identifier(schema)))
    ready = threading.Barrier(8)
    failures: list[BaseException] = []
    apps: list[CollectionApp] = []

    def start() -> None:
        ready.wait(timeout=60)
        try:
            apps.append(CollectionApp({**pg_env, "POSTGRES_SCHEMA": schema}))
        except BaseException as e:  # what the lock prevents: "tuple concurrently updated"
            failures.append(e)

    threads = [threading.Thread(target=start) for _ in range(8)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert failures == [] and len(apps) == 8
        assert apps[0].recorder.max_notification_id() in (None, 0)
    finally:
        for app in apps:
            app.close()
        drop_event_store(settings.pg_dsn, schema)
