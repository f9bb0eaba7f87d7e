"""No personal data on the stream, on a real topic (issue 16 point 7, ADR 0023).

Every event type, with a name, a national id and health words in every field a person may write (the reasons
of write-downs, credit notes and refunds, an objection's text), is stored in an event store of its own and
published by the real publisher, keyed by the office's digest key, to a topic of its own. Then every byte of
the topic — keys, values, headers — is searched for the words: none is there. The objection's digest on the
topic is the keyed one, not the text's bare SHA-256 a dictionary would reverse."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import pytest

from consumers.publisher import PublisherOptions, run_publisher
from consumers.wire.envelope import event_types, free_text_digest
from kravsak.settings import Settings
from tests.integration.test_publisher_faults import read_topic
from tests.support.personal_text import PERSONAL, personal_log, telltales_in
from tests.support.stack import app_for, scratch_event_store, scratch_topics

pytestmark = pytest.mark.integration
OFFICE_KEY = b"the office's digest key, 32 bytes or more"


def test_personal_text_in_every_free_text_field_never_reaches_the_topic(
    settings: Settings, unique: Callable[[str], str], pg_dsn: str
) -> None:
    topic = unique("personal-case-events")
    log = personal_log()
    with (
        scratch_event_store(settings, unique("personal").replace("-", "_")) as schema,
        scratch_topics(settings, topic, f"{topic}-schemas"),
    ):
        app = app_for(settings, schema)
        try:
            app.recorder.insert_events([app.mapper.to_stored_event(event) for _, event in log])
        finally:
            app.close()
        options = PublisherOptions(
            topic=topic, schemas_topic=f"{topic}-schemas", pg_schema=schema, partitions=2, digest_key=OFFICE_KEY
        )
        report = run_publisher(settings, once=True, options=options)
        messages = read_topic(settings.kafka_bootstrap, topic)

    assert report.published == len(log) == len(messages)
    assert {m.headers["event-type"] for m in messages} == set(event_types())
    found = {
        m.headers["event-type"]: telltales_in(m.value + (m.key or b"") + repr(m.headers).encode()) for m in messages
    }
    assert {name: words for name, words in found.items() if words} == {}
    topic_bytes = b"".join(m.value for m in messages)
    assert free_text_digest(PERSONAL, OFFICE_KEY).encode() in topic_bytes  # the objection, keyed
    assert hashlib.sha256(PERSONAL.encode()).hexdigest().encode() not in topic_bytes  # no bare digest
