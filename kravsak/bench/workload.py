"""The standard workload: deterministic streams of collection commands for the benchmarks and the
integration tests.

``norwegian_claims(n, seed)`` yields, per claim, a short realistic life: invoice, then (by a seeded
random draw) payment on time, a late payment after a reminder, or escalation through inkassovarsel
and betalingsoppfordring with a part payment. Every command carries its own id. ``workload_app`` and
``workload_notifications`` run it in memory: one creditor (``CREDITOR``), a debtor per four claims.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Notification

from domain.application import CollectionApp

CREDITOR = "4601"
EVENTS_PER_CLAIM = 4.3
"""About how many events `norwegian_claims` stores per claim (with its debtor's ClaimAttached)."""

NO_TYPES = ("barnehage", "sfo", "kulturskole", "husleie", "helse_omsorg", "kommunale_avgifter", "eiendomsskatt")


@dataclass(frozen=True, slots=True)
class Command:
    verb: str
    kwargs: dict[str, Any]


def setup(app: CollectionApp, creditor: str, debtors: int, on: date) -> None:
    app.register_creditor(
        creditor=creditor, name=f"Kommune {creditor}", jurisdiction="NO", on=on, command_id=f"setup-{creditor}"
    )
    for d in range(debtors):
        app.register_debtor(
            office=creditor,
            ref=f"D{d}",
            kind="person",
            jurisdiction="NO",
            on=on,
            command_id=f"setup-{creditor}-D{d}",
            contact={"digital_mailbox": d % 3 != 0},
        )


def norwegian_claims(
    creditor: str, n: int, debtors: int, seed: int = 7, start: date = date(2025, 1, 6)
) -> Iterator[Command]:
    rng = random.Random(seed)
    for i in range(n):
        invoice = f"{i:08d}"
        issued = start + timedelta(days=rng.randrange(0, 120))
        due = issued + timedelta(days=30)
        amount = Decimal(rng.randrange(300_00, 12_000_00)) / 100
        base = {"creditor": creditor, "invoice": invoice}
        yield Command(
            "issue_invoice",
            {
                **base,
                "amount": amount,
                "due": due,
                "claim_type": rng.choice(NO_TYPES),
                "debtor_ref": f"D{rng.randrange(debtors)}",
                "on": issued,
                "command_id": f"w{i}-0",
            },
        )
        roll = rng.random()
        if roll < 0.6:
            yield Command(
                "register_payment", {**base, "amount": amount, "on": due - timedelta(days=2), "command_id": f"w{i}-1"}
            )
            continue
        purring = due + timedelta(days=14)
        yield Command("send_notice", {**base, "notice": "purring", "on": purring, "command_id": f"w{i}-1"})
        if roll < 0.8:
            yield Command(
                "register_payment",
                {
                    **base,
                    "amount": amount + Decimal("35.00"),
                    "on": purring + timedelta(days=10),
                    "command_id": f"w{i}-2",
                },
            )
            continue
        warned = purring + timedelta(days=15)
        yield Command("send_notice", {**base, "notice": "inkassovarsel", "on": warned, "command_id": f"w{i}-2"})
        demanded = warned + timedelta(days=15)
        yield Command(
            "send_notice", {**base, "notice": "betalingsoppfordring", "on": demanded, "command_id": f"w{i}-3"}
        )
        yield Command(
            "register_payment",
            {
                **base,
                "amount": (amount / 2).quantize(Decimal("0.01")),
                "on": demanded + timedelta(days=5),
                "command_id": f"w{i}-4",
            },
        )


def execute(app: CollectionApp, command: Command) -> None:
    getattr(app, command.verb)(**command.kwargs)


def preload(app: CollectionApp, commands: Sequence[Command]) -> None:
    """Inside a unit of work: read every aggregate ``commands`` touch in one go (``CollectionApp.preload``)
    and whether their command ids were recorded (``preload_commands``), as the API's bulk intake does."""
    issued = [c.kwargs for c in commands if c.verb == "issue_invoice"]
    others = [c.kwargs for c in commands if c.verb != "issue_invoice"]
    app.preload(
        invoices=[(k["creditor"], k["invoice"], k["debtor_ref"]) for k in issued],
        claims=[(k["creditor"], k["invoice"]) for k in others],
    )
    app.preload_commands("creditor", [(c.kwargs["creditor"], c.kwargs["command_id"]) for c in commands])


def workload_app(events: int, *, seed: int = 7, progress: Callable[[int], None] | None = None) -> CollectionApp:
    """An in-memory app holding at least ``events`` events of the standard workload; ``progress`` is
    told every 1000 commands."""
    return _run(max(int(events / EVENTS_PER_CLAIM) + 1, 1), seed, progress)


def workload_notifications(claims: int, *, seed: int = 7, namespace: UUID | None = None) -> list[Notification]:
    """The notification log of ``claims`` claims of the standard workload, made in memory (fast); in id
    ``namespace`` (default kravsak's), so two offices' workloads share no aggregate."""
    return list(_run(claims, seed, None, namespace).recorder.select_notifications(start=1, limit=10**9))


def _run(
    claims: int, seed: int, progress: Callable[[int], None] | None, namespace: UUID | None = None
) -> CollectionApp:
    app = CollectionApp() if namespace is None else CollectionApp(namespace=namespace)
    debtors = max(claims // 4, 1)
    setup(app, CREDITOR, debtors, date(2025, 1, 1))
    for i, command in enumerate(norwegian_claims(CREDITOR, claims, debtors, seed=seed)):
        execute(app, command)
        if progress is not None and i % 1000 == 999:
            progress(1000)
    return app
