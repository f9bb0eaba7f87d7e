"""Generated collection workloads: deterministic streams of commands for benchmarks and the demo.

``norwegian_claims(n, seed)`` yields, per claim, a short realistic life: invoice, then (by a seeded
random draw) payment on time, a late payment after a reminder, or escalation through inkassovarsel
and betalingsoppfordring with a part payment. Every command carries its own id.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from domain.application import CollectionApp

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
