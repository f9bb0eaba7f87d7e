"""A debtor is registered, invoiced, warned by letter and put on the debtor stream; the claim is paid;
the office may not forget the person while the claim is open nor while the books must be kept, and
then does: the key is destroyed. Afterwards a dump of the whole database, every Kafka topic read from
the beginning, the logs of the run and the outbox hold the name and national id in no form."""

from __future__ import annotations

import json
import os
import random
import subprocess
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import uuid4

import psycopg
import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from consumers.kafka_access import client_args
from consumers.projector import RunnerOptions, plug_projection, project_once
from consumers.topics import case_events_spec, debtors_spec, ensure_topics_at
from domain.application import CollectionApp, OfficeSecretMissing
from domain.notes import ERASED
from kravsak import logs
from kravsak.settings import Settings
from kravsak.stack import ServiceState
from letters.outbox import Dispatcher, archived_pdf, forget_debtor
from letters.projection import Letters
from personal.enrolment import register_person
from personal.erasure import REQUEST, RETENTION_EXPIRED, ErasureRefused, erase
from personal.keys import LocalKeyProvider
from personal.model import parse_person
from personal.notes import SealedNotes
from personal.register import DebtorErased, DebtorRegister
from personal.stream import AccessDenied, KeyRelease, open_record, publish_pending
from personal.synthetic import no_person
from projections.base import schema_name
from tests.integration.test_projector import produce_events

pytestmark = pytest.mark.integration
ALTA = "5601"


def forms(name: str, number: str) -> list[bytes]:
    """Every spelling the name and national id could be found in: as text, upper/lower case, JSON
    escaped, each part of the name alone, the number compact and formatted, and all of these also as
    the hex pg_dump writes bytea in."""
    texts = {name, name.upper(), name.lower(), *name.split()}
    texts |= {json.dumps(t)[1:-1] for t in set(texts)}  # \\u00f8 style
    texts |= {number, f"{number[:6]} {number[6:]}", f"{number[:6]}-{number[6:]}"}
    out = {t.encode() for t in texts} | {t.encode("latin-1", "ignore") for t in texts}
    out |= {t.encode().hex().encode() for t in texts}
    return sorted(b for b in out if len(b) >= 6)


def found_in(blob: bytes, needles: list[bytes]) -> list[bytes]:
    low = blob.lower()
    return [n for n in needles if n.lower() in low]


def test_the_scan_finds_every_form_it_looks_for() -> None:
    needles = forms("Ærlig Glemsæterqx", "01817012345")
    assert found_in(b'{"name": "\\u00c6rlig Glems\\u00e6terqx"}', needles)
    assert found_in(b"\\x" + "Glemsæterqx".encode().hex().encode(), needles)
    assert found_in(b"id 018170 12345", needles)
    assert not found_in(b"nothing here", needles)


def test_an_application_that_stores_events_refuses_opaque_ids_without_the_office_secret(
    settings: Settings, pg_dsn: str
) -> None:
    app = CollectionApp(settings.eventsourcing_env(), namespace=uuid4())
    try:
        with pytest.raises(OfficeSecretMissing, match="office_secret"):
            app.register_debtor(
                office="5601", ref="R", kind="person", jurisdiction="NO", on=date(2025, 1, 2), command_id="c"
            )
    finally:
        app.close()


def read_all_topics(bootstrap: str) -> bytes:
    consumer = KafkaConsumer(**client_args(bootstrap), group_id=None, enable_auto_commit=False)
    chunks: list[bytes] = []
    try:
        for topic in sorted(consumer.topics()):
            partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
            consumer.assign(partitions)
            consumer.seek_to_beginning(*partitions)
            ends = consumer.end_offsets(partitions)
            while any(consumer.position(tp) < ends[tp] for tp in partitions):
                for records in consumer.poll(timeout_ms=1000, max_records=5000).values():
                    for r in records:
                        chunks += [r.key or b"", r.value or b"", *(v for _, v in r.headers or [])]
    finally:
        consumer.close()
    return b"\n".join(chunks)


def test_after_erasure_nothing_readable_of_the_person_remains(
    settings: Settings,
    stack: list[ServiceState],
    pg_dsn: str,
    kafka_bootstrap: str,
    unique: Callable[[str], str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    logs.configure("json")
    plug_projection("letters", Letters)
    rng = random.Random(os.urandom(8))
    token = "".join(rng.choice("bcdfghjklmnpqrstvwxz") for _ in range(8))
    name, number = f"Ærlig Glemsæter{token}", no_person(rng)
    keys = LocalKeyProvider(os.urandom(32))
    event_store = "kravsak_es_" + uuid4().hex[:10]
    register_schema = "kravsak_personal_" + uuid4().hex[:10]
    suffix = "_" + uuid4().hex[:10]
    events_topic, debtors_topic = unique("case-events"), unique("debtors")
    with psycopg.connect(pg_dsn, autocommit=True) as c:
        c.execute(f'CREATE SCHEMA "{event_store}"')
    ensure_topics_at(kafka_bootstrap, [case_events_spec(events_topic, partitions=3), debtors_spec(debtors_topic)])
    notes = SealedNotes(lambda: psycopg.connect(pg_dsn), keys, keys.office_secret(), schema=register_schema)
    app = CollectionApp(
        settings.eventsourcing_env(POSTGRES_SCHEMA=event_store),
        namespace=uuid4(),
        office_secret=keys.office_secret(),
        notes=notes,
    )
    conn = psycopg.connect(pg_dsn)
    register = DebtorRegister(conn, keys, keys.office_secret(), schema=register_schema)
    producer = KafkaProducer(**client_args(kafka_bootstrap), acks="all", enable_idempotence=True)
    try:
        # Register: the person goes to the register, the case side gets an opaque debtor.
        person = parse_person(
            {
                "national_id": number,
                "kind": "person",
                "jurisdiction": "NO",
                "name": name,
                "address": {"lines": ["Glemselsveien 1"], "postcode": "9510", "city": "Alta"},
                "mailbox": "reserved",
            },
            allow_synthetic=True,
        )
        app.register_creditor(creditor=ALTA, name="Alta kommune", jurisdiction="NO", on=date(2025, 1, 2),
                              command_id="c", office="vf")  # fmt: skip
        debtor = register_person(app, register, office="vf", ref="R1", person=person, on=date(2025, 1, 2),
                                 command_id="d")  # fmt: skip
        assert register.read(debtor, purpose="test").person.name == name
        inv = {"creditor": ALTA, "invoice": "INV-1"}
        app.issue_invoice(**inv, amount=Decimal("1200.00"), due=date(2025, 1, 20), claim_type="barnehage",
                          debtor_ref="R1", on=date(2025, 1, 2), command_id="i")  # fmt: skip
        app.send_notice(**inv, notice="inkassovarsel", on=date(2025, 2, 10), command_id="n")
        # A caseworker's credit note names the person (ADR 0028): the event keeps the code, the text is a note
        # sealed under the debtor's key, for those who may read it.
        written = f"{name} ({number}) was billed twice"
        conn.commit()  # the register's entry (and the debtor's key) as another connection sees them
        app.credit_invoice(**inv, amount=Decimal("10.00"), reason=written, on=date(2025, 2, 11), command_id="cr")
        case = app.claim(ALTA, "INV-1").id
        assert app.reason_notes(case) == {"cr": written}

        # The case events reach Kafka; the letters projection queues the letter; the dispatcher renders it.
        produce_events(app, kafka_bootstrap, events_topic)
        options = RunnerOptions(
            topic=events_topic, group=unique("letters"), projections=("letters",), schema_suffix=suffix
        )
        project_once(pg_dsn, kafka_bootstrap, options)
        dispatcher = Dispatcher(
            conn, register, tmp_path / "outbox", letters_schema=schema_name("letters", suffix=suffix)
        )
        report = dispatcher.dispatch(where="AND l.case_id = %s", params=(str(app.claim(ALTA, "INV-1").id),))
        assert report.dispatched == 1 and report.batches[0][0] == "paper"  # reserved: by post
        letter_id = json.loads((Path(report.batches[0][1]) / "manifest.json").read_text())["letters"][0]["letter_id"]
        assert archived_pdf(conn, register, letter_id)[:5] == b"%PDF-"

        # The debtor stream: sealed for everyone but a granted consumer.
        assert publish_pending(conn, producer, debtors_topic, schema=register_schema) == 1
        release = KeyRelease(register)
        release.grant("print-shop", "print")
        with pytest.raises(AccessDenied):
            release.release("someone-else", debtor)
        value = next(v for v in _values(kafka_bootstrap, debtors_topic) if v is not None)
        assert open_record(value, release.release("print-shop", debtor))["name"] == name

        # Not while the claim is open, nor while the books must be kept.
        with pytest.raises(ErasureRefused, match=r"INV-1 .* is open: GDPR art. 17\(3\)\(b\) and \(e\)"):
            erase(app, register, debtor, ground=REQUEST, today=date(2025, 2, 12))
        app.register_payment(**inv, amount=Decimal("1300.00"), on=date(2025, 2, 20), command_id="p")
        with pytest.raises(ErasureRefused, match=r"kept until 2030-12-31 \(bokføringsloven § 13"):
            erase(app, register, debtor, ground=REQUEST, today=date(2030, 12, 31))

        # The day after the retention: the key is destroyed, the letter withdrawn, the tombstone sent.
        erase(app, register, debtor, ground=RETENTION_EXPIRED, today=date(2031, 1, 1), hooks=[forget_debtor])
        register.vacuum()
        assert publish_pending(conn, producer, debtors_topic, schema=register_schema) == 1
        assert _values(kafka_bootstrap, debtors_topic)[-1] is None  # tombstone
        with pytest.raises(DebtorErased):
            register.read(debtor, purpose="test")
        with pytest.raises(DebtorErased):
            archived_pdf(conn, register, letter_id)
        with pytest.raises(LookupError):
            release.release("print-shop", debtor)
        assert app.claim(ALTA, "INV-1").closed_on is not None  # the case events stay valid and replayable
        assert app.reason_notes(case) == {"cr": ERASED}  # the note went with the key

        # Nothing readable remains.
        needles = forms(name, number)
        dump = subprocess.run(
            [str(settings.pg_bin / "pg_dump"), "--dbname", pg_dsn, "--format=plain"], capture_output=True, check=True
        ).stdout
        assert len(dump) > 10_000 and register_schema.encode() in dump
        assert found_in(dump, needles) == []
        assert found_in(read_all_topics(kafka_bootstrap), needles) == []
        log_files = [s.log_file for s in stack if s.log_file is not None and s.log_file.is_file()]
        run_logs = capsys.readouterr()
        assert "debtor erased" in run_logs.err
        assert found_in((run_logs.out + run_logs.err).encode(), needles) == []
        for log_file in log_files:
            assert found_in(log_file.read_bytes(), needles) == [], log_file
        outbox_files = [p for p in (tmp_path / "outbox").rglob("*") if p.is_file()]
        assert all(not p.name.endswith(".pdf") for p in outbox_files)  # the letter was withdrawn
        for p in outbox_files:
            assert found_in(p.read_bytes(), needles) == [], p
    finally:
        producer.close()
        conn.close()
        app.close()
        with psycopg.connect(pg_dsn, autocommit=True) as c:
            for schema in (
                event_store,
                register_schema,
                schema_name("letters", suffix=suffix),
                f"kravsak_cases{suffix}",
            ):
                c.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def _values(bootstrap: str, topic: str) -> list[Any]:
    consumer = KafkaConsumer(**client_args(bootstrap), group_id=None, enable_auto_commit=False)
    try:
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        ends = consumer.end_offsets(partitions)
        out: list[tuple[int, Any]] = []
        while any(consumer.position(tp) < ends[tp] for tp in partitions):
            for records in consumer.poll(timeout_ms=1000).values():
                out += [(r.timestamp, r.value) for r in records]
        return [v for _, v in sorted(out, key=lambda x: x[0])]
    finally:
        consumer.close()
