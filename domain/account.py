"""The money of one claim: what is owed per component, what was paid to each, and any surplus.

``balance = principal + interest + fees + costs − paid`` holds by construction, and no component is
ever paid beyond what it owes, so the balance never goes negative: money beyond the balance is a
``surplus`` to refund. Allocation order (version-1 decision): costs, then fees, then interest, then
principal, unless the debtor designated the payment to the principal.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from domain.money import ZERO, to_cents

COMPONENTS = ("costs", "fees", "interest", "principal")  # ``Account.balance`` adds them in this order
DESIGNATED_ORDER = ("principal", "costs", "fees", "interest")


@dataclass
class Account:
    principal: Decimal = ZERO
    fees: Decimal = ZERO
    costs: Decimal = ZERO
    interest_exact: Decimal = ZERO  # accrued interest, unrounded, through ``interest_through``
    interest_through: date | None = None
    paid: dict[str, Decimal] = field(default_factory=lambda: dict.fromkeys(COMPONENTS, ZERO))
    surplus: Decimal = ZERO

    @property
    def interest(self) -> Decimal:
        return to_cents(self.interest_exact)

    def owed(self, component: str, interest_exact: Decimal | None = None) -> Decimal:
        if component == "interest":
            return to_cents(self.interest_exact if interest_exact is None else interest_exact)
        value: Decimal = getattr(self, component)
        return value

    def outstanding(self, component: str, interest_exact: Decimal | None = None) -> Decimal:
        return self.owed(component, interest_exact) - self.paid[component]

    @property
    def principal_outstanding(self) -> Decimal:
        return self.principal - self.paid["principal"]

    @property
    def total_paid(self) -> Decimal:
        return sum(self.paid.values(), ZERO)

    def balance(self, interest_exact: Decimal | None = None) -> Decimal:
        # what owed() sums over COMPONENTS, in that order, written out: every payment asks (_close_if_settled)
        interest = to_cents(self.interest_exact if interest_exact is None else interest_exact)
        owed = ZERO + self.costs + self.fees + interest + self.principal
        return owed - sum(self.paid.values(), ZERO)

    def paid_after(self) -> dict[str, Decimal]:
        return {**self.paid, "surplus": self.surplus}

    def set_paid(self, moved: dict[str, Decimal]) -> None:
        for c in COMPONENTS:
            self.paid[c] = moved[c]
        self.surplus = moved["surplus"]
