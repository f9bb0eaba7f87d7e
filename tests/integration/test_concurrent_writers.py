"""Two OS processes write to the PostgreSQL event store at the same instant (ADR 0024).

Each process has its own application and connections. Released together by a barrier, they issue
invoices on different claims of the SAME debtor (no write to the debtor: no conflict), register
payments on the SAME claim (each save races the other's: retried), send the same command under the same
id (stored once) and the same id with other content (one wins, the other is ``invalid_input``), while
one of them registers the death of a debtor the other keeps invoicing (the death must reach every
claim). Afterwards every accepted command is in the store, no raw database error surfaced, and every
refusal carries a contract code.
"""

from __future__ import annotations

import multiprocessing
import os
import traceback
from collections import Counter
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import pytest

from domain.application import CollectionApp
from domain.errors import CommandRefused

pytestmark = pytest.mark.integration

ALTA, ON = "5601", date(2025, 1, 2)
INVOICES_EACH = 25
PAYMENTS_EACH = 25
SHARED_AMOUNT = Decimal("1000000.00")


def _app(env: dict[str, str], namespace: UUID, secret: bytes) -> CollectionApp:
    return CollectionApp(env, namespace=namespace, office_secret=secret)


def _invoice(
    app: CollectionApp, number: str, debtor: str, command_id: str, amount: Decimal = Decimal("100.00")
) -> None:
    app.issue_invoice(
        creditor=ALTA, invoice=number, amount=amount, due=date(2025, 1, 31), claim_type="sfo", debtor_ref=debtor,
        on=ON, command_id=command_id,
    )  # fmt: skip


def _worker(k: int, env: dict[str, str], namespace: UUID, secret: bytes, barrier: Any, out: Any) -> None:
    """Process ``k``'s commands; puts ``(k, outcomes, retried)`` on ``out``: per command id ``accepted``, the
    refusal's code, or ``raw:<exception type>`` for anything else; and how often its save was tried again."""
    outcomes: dict[str, str] = {}
    retried: dict[str, int] = {}
    try:
        app = _app(env, namespace, secret)
    except Exception as e:  # starting at the same instant as the other must work too: report it, do not hang
        outcomes["start"] = f"raw:{type(e).__name__}: {e}"
        traceback.print_exc()
        barrier.abort()
        out.put((k, outcomes, retried))
        return

    def run(command_id: str, act: Any) -> None:
        before = app.conflicts
        try:
            act()
            outcomes[command_id] = "accepted"
        except CommandRefused as refused:
            outcomes[command_id] = refused.code.value
        except Exception as e:  # what must not happen: a raw error from the store
            outcomes[command_id] = f"raw:{type(e).__name__}: {e}"
            traceback.print_exc()
        retried[command_id] = app.conflicts - before

    try:
        barrier.wait(timeout=60)
        for i in range(max(INVOICES_EACH, PAYMENTS_EACH)):
            if i < INVOICES_EACH:  # different claims, one debtor
                run(f"inv-{k}-{i}", lambda i=i: _invoice(app, f"W{k}-{i}", "SHARED", f"inv-{k}-{i}"))
            if i < PAYMENTS_EACH:  # one claim
                run(
                    f"pay-{k}-{i}",
                    lambda i=i: app.register_payment(
                        creditor=ALTA, invoice="S-1", amount=Decimal("10.00"), on=ON, command_id=f"pay-{k}-{i}"
                    ),
                )
            if k == 1 and i < 10:  # keeps invoicing the debtor whose death process 0 registers meanwhile
                run(f"dying-{i}", lambda i=i: _invoice(app, f"DD-{i}", "DYING", f"dying-{i}"))
            if k == 0 and i == 5:
                run(
                    "death",
                    lambda: app.register_death(
                        office=ALTA, debtor_ref="DYING", died=date(2025, 1, 1), on=ON, command_id="death"
                    ),
                )
            if i == 10:  # the same command from both at once: stored once
                run("same", lambda: _invoice(app, "SAME", "SHARED", "same"))
                # the same id with other content from each: one is stored, the other refused
                run("clash", lambda: _invoice(app, f"CLASH-{k}", "SHARED", "clash"))
    finally:
        out.put((k, outcomes, retried))
        app.close()


def test_two_processes_at_the_same_instant_lose_nothing_and_surface_no_raw_error(pg_env: dict[str, str]) -> None:
    namespace, secret = uuid4(), os.urandom(32)
    app = _app(pg_env, namespace, secret)
    app.register_creditor(creditor=ALTA, name="Alta kommune", jurisdiction="NO", on=ON, command_id="setup-c")
    for ref in ("SHARED", "DYING"):
        app.register_debtor(office=ALTA, ref=ref, kind="person", jurisdiction="NO", on=ON, command_id=f"setup-{ref}")
    _invoice(app, "S-1", "SHARED", "setup-S-1", amount=SHARED_AMOUNT)
    debtor_version = app.debtor(ALTA, "SHARED").version

    context = multiprocessing.get_context("spawn")
    barrier, out = context.Barrier(2), context.Queue()
    workers = [context.Process(target=_worker, args=(k, pg_env, namespace, secret, barrier, out)) for k in (0, 1)]
    for w in workers:
        w.start()
    results = [out.get(timeout=300) for _ in workers]
    for w in workers:
        w.join(timeout=60)
    outcomes: dict[int, dict[str, str]] = {k: o for k, o, _ in results}
    retried = Counter(cid.split("-", 1)[0] for _, _, r in results for cid, n in r.items() for _ in range(n))
    conflicts = sum(retried.values())
    everything = [(k, cid, outcome) for k, o in outcomes.items() for cid, outcome in o.items()]
    tally = Counter(outcome for _, _, outcome in everything)
    print(
        f"\nconcurrent writers: {len(everything)} commands from 2 processes, {conflicts} conflicting saves retried, "
        f"outcomes {dict(tally)}, retries by command {dict(retried)}"
    )
    assert retried["inv"] == 0  # invoices on one debtor's claims never conflict: the debtor is not written

    raw = [(k, cid, outcome) for k, cid, outcome in everything if outcome.startswith("raw:")]
    assert raw == []
    assert set(tally) <= {"accepted", "invalid_input", "concurrent_change"}

    fresh = _app(pg_env, namespace, secret)
    # every accepted invoice is stored, listed for its debtor, and the debtor was never written
    accepted_invoices = [f"W{k}-{cid.rsplit('-', 1)[1]}" for k, cid, o in everything if cid.startswith("inv-")
                         and o == "accepted"]  # fmt: skip
    assert len(accepted_invoices) == tally["accepted"] - sum(
        1 for _, cid, o in everything if o == "accepted" and not cid.startswith("inv-")
    )
    for number in accepted_invoices:
        assert fresh.claim(ALTA, number).invoice == number
    listed = {fresh.claim_by_id(c).invoice for c in fresh.debtor_claims(ALTA, "SHARED")}
    assert set(accepted_invoices) | {"S-1", "SAME"} <= listed
    assert fresh.debtor(ALTA, "SHARED").version == debtor_version
    # every accepted payment on the one claim is stored exactly once
    payments = [cid for _, cid, o in everything if cid.startswith("pay-") and o == "accepted"]
    facts = fresh.claim(ALTA, "S-1").facts
    assert sorted(p.command_id for p in facts.payments) == sorted(payments)
    # the same command from both: both answered as accepted, stored once
    assert outcomes[0]["same"] == outcomes[1]["same"] == "accepted"
    assert fresh.claim(ALTA, "SAME").invoice == "SAME"
    # the same id with other content: exactly one stored, the other refused naming nothing else
    assert sorted(o["clash"] for o in outcomes.values()) == ["accepted", "invalid_input"]
    winner = next(k for k, o in outcomes.items() if o["clash"] == "accepted")
    assert fresh.claim(ALTA, f"CLASH-{winner}").invoice == f"CLASH-{winner}"
    with pytest.raises(CommandRefused, match="unknown_invoice"):
        fresh.claim(ALTA, f"CLASH-{1 - winner}")
    # the death reached every claim of the dying debtor, however the saves interleaved
    assert outcomes[0]["death"] == "accepted"
    dying = [fresh.claim_by_id(c) for c in fresh.debtor_claims(ALTA, "DYING")]
    assert len(dying) == sum(1 for cid, o in outcomes[1].items() if cid.startswith("dying-") and o == "accepted")
    assert all(c.facts.died == date(2025, 1, 1) for c in dying), [c.invoice for c in dying if c.facts.died is None]
    fresh.close()
    app.close()
