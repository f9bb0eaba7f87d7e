"""Format 1.1 on the real servers: a KID is unique per creditor because the PostgreSQL event store
refuses a second creation of its index aggregate, and the suspense account reaches the ledger through
the publisher, Kafka and the projection runner."""

from __future__ import annotations

import os
from datetime import date
from decimal import Decimal
from uuid import UUID, uuid4

import psycopg
import pytest
from eventsourcing.persistence import IntegrityError

from domain.application import CollectionApp
from domain.errors import CommandRefused
from domain.references import PaymentReference, reference_id
from domain.suspense import suspense_id
from kravsak.pipeline import catch_up_projections, drain_publisher
from kravsak.settings import Settings
from projections import ledger
from projections.base import schema_name

pytestmark = pytest.mark.integration
CREDITOR = "4601"
OFFICE_SECRET = os.urandom(32)
"""One office secret for every application of this module: two writers of one office share it."""


def desk(env: dict[str, str], namespace: UUID) -> CollectionApp:
    app = CollectionApp(env, namespace=namespace, office_secret=OFFICE_SECRET)
    app.register_creditor(creditor=CREDITOR, name="T", jurisdiction="NO", on=date(2025, 1, 1), command_id="c")
    app.register_debtor(office=CREDITOR, ref="D1", kind="person", jurisdiction="NO", on=date(2025, 1, 1),
                        command_id="d")  # fmt: skip
    return app


def issue(app: CollectionApp, invoice: str, kid: str | None = None) -> None:
    app.issue_invoice(creditor=CREDITOR, invoice=invoice, amount=Decimal("1000.00"), due=date(2025, 3, 3),
                      claim_type="barnehage", debtor_ref="D1", on=date(2025, 2, 1), command_id=f"i-{invoice}",
                      kid=kid)  # fmt: skip


def test_a_kid_taken_by_another_writer_is_refused_by_the_event_store(pg_env: dict[str, str]) -> None:
    namespace = uuid4()
    first, second = desk(pg_env, namespace), CollectionApp(pg_env, namespace=namespace, office_secret=OFFICE_SECRET)
    try:
        issue(first, "A", kid="12344")
        # a second application sees the KID as taken
        with pytest.raises(CommandRefused) as refused:
            issue(second, "B", kid="12344")
        assert refused.value.code.value == "invalid_input"
        # two writers that both checked before either saved: the store takes one creation only
        ident = reference_id(namespace, CREDITOR, "55555")
        racers = [
            PaymentReference._create(
                PaymentReference.Assigned,
                id=ident,
                command_id=f"race-{n}",
                effective=date(2025, 2, 1),
                recorded=date(2025, 2, 1),
                creditor_id=CREDITOR,
                debtor_id="x",
                reference="55555",
                claim_id=uuid4(),
                invoice=f"R{n}",
                check_digit="MOD10",
                printed=True,
            )  # fmt: skip
            for n in (1, 2)
        ]
        first.save(racers[0])
        with pytest.raises(IntegrityError):
            second.save(racers[1])
        assert second.claim_by_reference(CREDITOR, "12344").invoice == "A"
    finally:
        first.close()
        second.close()


def test_suspense_reaches_the_ledger_through_kafka(settings: Settings, stack: object) -> None:
    namespace = uuid4()
    app = desk(settings.eventsourcing_env(), namespace)
    try:
        issue(app, "A")
        for cid, ref, amount in (("r1", "777", "300.00"), ("r2", "888", "40.00")):
            app.receive_unmatched_payment(creditor=CREDITOR, reference=ref, amount=Decimal(amount),
                                          on=date(2025, 3, 10), ordered=date(2025, 3, 7), source="ocr",
                                          command_id=cid)  # fmt: skip
        app.allocate_suspense(creditor=CREDITOR, reference="777", invoice="A", on=date(2025, 3, 12), command_id="a1")
        claim_case = str(app.claim(CREDITOR, "A").id)
        held = app.suspense(CREDITOR)
        assert held is not None
        references = {i.item: i.reference for i in held.items.values()}  # the event store's, for the desk
    finally:
        app.close()
    drain_publisher(settings)
    catch_up_projections(settings)
    schema = schema_name("ledger")
    account = str(suspense_id(namespace, CREDITOR))
    with psycopg.connect(settings.pg_dsn) as conn, conn.cursor() as cur:
        # the stream carries the payer's reference only as its keyed digest (ADR 0028) ...
        [streamed] = ledger.suspense_view(cur, schema, account)
        assert streamed["reference"].startswith("hmac:") and "888" not in streamed["reference"]
        assert (streamed["amount"], streamed["ordered"]) == ("40.00", "2025-03-07")
        # ... and whoever may see it reads it from the event store
        assert ledger.suspense_view(cur, schema, account, references) == [
            {"reference": "888", "amount": "40.00", "ordered": "2025-03-07"}
        ]
        cur.execute(
            f'SELECT account, sum(debit - credit) FROM "{schema}".postings WHERE case_id = %s GROUP BY 1 ORDER BY 1',
            (account,),
        )
        assert {a: Decimal(v) for a, v in cur.fetchall()} == {"bank": Decimal("40.00"), "suspense": Decimal("-40.00")}
        view = ledger.claim_view(cur, schema, claim_case, date(2025, 3, 12))
        assert view is not None and view["paid"] == "300.00"
