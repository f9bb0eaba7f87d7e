"""The world outside the collection office for `kravsak demo`: municipalities, their debtors, the
invoices they send over a year and how people pay — all from one seeded random generator.

The world only does what debtors, banks, caseworkers and probate courts do: invoices are issued,
payments arrive from the bank (a day or three after they were ordered), objections come in and are
decided, deferrals and payment plans are agreed, deaths and proklamas are registered, the office
reports claims to estates and writes off what is not worth collecting. Reminders, warnings,
demands and enforcement are *not* here: the process manager (``consumers.automate``) sends them.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from domain.application import CollectionApp
from domain.calendar import add_months, calendar_for
from domain.claim import Claim
from domain.errors import CommandRefused
from domain.money import to_cents
from domain.records import Installment
from domain.rules import rules_for
from kravsak.demo.bank import Bank, synthetic_account

OFFICE_NAME = "Vest-Finnmark kemnerkontor"
OFFICE = "vest-finnmark"
UNECONOMIC = Decimal("100.00")
"""A remnant below this (interest, a fee) is written off as not worth a further step."""


@dataclass(frozen=True)
class Municipality:
    number: str
    name: str
    jurisdiction: str
    office: str
    population: int

    @property
    def currency(self) -> str:
        return "NOK" if self.jurisdiction == "NO" else "SEK"


MUNICIPALITIES = (
    Municipality("5601", "Alta kommune", "NO", OFFICE, 21_600),
    Municipality("5603", "Hammerfest kommune", "NO", OFFICE, 11_400),
    Municipality("5618", "Måsøy kommune", "NO", OFFICE, 1_200),
    Municipality("5620", "Nordkapp kommune", "NO", OFFICE, 3_100),
    Municipality("1465", "Svenljunga kommun", "SE", "1465", 10_700),
)
NORWEGIAN = tuple(m for m in MUNICIPALITIES if m.jurisdiction == "NO")

# How a debtor tends to pay: the chance of each behaviour for one invoice.
PROFILES: dict[str, dict[str, float]] = {
    "reliable": {"on_time": 0.95, "late": 0.04, "principal_only": 0.01},
    "average": {
        "on_time": 0.72,
        "late": 0.10,
        "principal_only": 0.03,
        "after_reminder": 0.08,
        "after_warning": 0.02,
        "objection": 0.015,
        "deferral": 0.015,
        "plan": 0.01,
        "part": 0.01,
    },
    "struggling": {
        "on_time": 0.35,
        "late": 0.15,
        "principal_only": 0.04,
        "after_reminder": 0.14,
        "after_warning": 0.07,
        "after_demand": 0.04,
        "part": 0.05,
        "plan": 0.06,
        "deferral": 0.04,
        "objection": 0.02,
        "never": 0.04,
    },
    "non_payer": {
        "on_time": 0.10,
        "late": 0.05,
        "after_reminder": 0.10,
        "after_demand": 0.10,
        "plan": 0.05,
        "objection": 0.05,
        "never": 0.55,
    },
}
PROFILE_SHARES = {"reliable": 0.62, "average": 0.24, "struggling": 0.11, "non_payer": 0.03}
LEGACY = {
    "never": 0.30,
    "after_reminder": 0.10,
    "after_demand": 0.08,
    "objection": 0.12,
    "disputed": 0.20,
    "plan": 0.10,
    "deferral": 0.05,
    "part": 0.05,
}
"""Claims taken over from the old system: more contested, more never paid."""


@dataclass
class Debtor:
    ref: str
    kind: str
    home: Municipality
    profile: str
    contact: dict[str, bool]
    owner: bool = False
    second_home: Municipality | None = None
    kindergarten: Decimal | None = None
    after_school: Decimal | None = None
    culture_school: Decimal | None = None
    rent: Decimal | None = None
    care: Decimal | None = None
    water: Decimal = Decimal(0)
    waste: Decimal = Decimal(0)
    property_tax: Decimal = Decimal(0)
    died: date | None = None
    invoices: list[tuple[str, str]] = field(default_factory=list)
    account: str | None = None
    """The account the debtor pays from (synthetic): where a refund goes."""

    @property
    def jurisdiction(self) -> str:
        return self.home.jurisdiction

    @property
    def office(self) -> str:
        return self.home.office


@dataclass(order=True)
class Action:
    """Something the world does on a day: ``run(world, day)``; ``order`` keeps a day's actions stable."""

    order: tuple[float, int]
    what: str = field(compare=False)
    run: Callable[[World, date], None] = field(compare=False, repr=False)


@dataclass
class WorldStats:
    commands: Counter[str] = field(default_factory=Counter)
    refused: Counter[str] = field(default_factory=Counter)


class World:
    """Debtors, their invoices and behaviour; ``actions_on(day)`` runs what happens that day."""

    def __init__(
        self, app: CollectionApp, *, debtors: int, seed: int, tag: str, year: int = 2025, bank: Bank | None = None
    ) -> None:
        self.app, self.rng, self.tag, self.year = app, random.Random(seed), tag, year
        self.bank = bank if bank is not None else Bank(app, seed=seed)
        self.start, self.end = date(year, 1, 1), date(year, 12, 31)
        self.agenda: dict[date, list[Action]] = defaultdict(list)
        self.stats = WorldStats()
        self._seq = 0
        self._invoice_no = 0
        self.debtors = [self._draw_debtor(i) for i in range(debtors)]
        self.by_ref = {d.ref: d for d in self.debtors}
        self.remnants: set[tuple[str, str]] = set()
        self.legacy: set[tuple[str, str]] = set()
        self.reported: set[tuple[str, str]] = set()

    # --- population -------------------------------------------------------------------------

    def _draw_debtor(self, i: int) -> Debtor:
        rng = self.rng
        home = rng.choices(MUNICIPALITIES, weights=[m.population for m in MUNICIPALITIES])[0]
        kind = "organisation" if rng.random() < 0.12 else "person"
        profile = rng.choices(list(PROFILE_SHARES), weights=list(PROFILE_SHARES.values()))[0]
        if kind == "organisation" and profile in ("struggling", "non_payer"):
            profile = "average"
        contact = {
            "digital_mailbox": rng.random() < (0.85 if home.jurisdiction == "NO" else 0.55),
            "efaktura_consent": rng.random() < 0.45,
            "avtalegiro_consent": rng.random() < 0.15,
            "email": rng.random() < 0.5,
            "has_postal_address": True,
        }
        ref = f"{self.tag}-{'P' if kind == 'person' else 'O'}{i:05d}"
        d = Debtor(ref, kind, home, profile, contact)
        d.account = synthetic_account(self.bank.rng, home.jurisdiction)
        no = home.jurisdiction == "NO"
        d.owner = rng.random() < (0.80 if kind == "organisation" else 0.52)
        if d.owner:
            d.water = Decimal(rng.randrange(1_400, 3_200 if no else 2_600))
            d.waste = Decimal(rng.randrange(700, 1_300 if no else 900))
            d.property_tax = Decimal(rng.randrange(1_200, 9_000 if kind == "person" else 40_000))
            if no and kind == "person" and rng.random() < 0.06:
                d.second_home = rng.choice([m for m in NORWEGIAN if m != home])
        if kind == "person":
            if rng.random() < 0.11:
                d.kindergarten = Decimal(rng.choice((1_200, 1_200, 1_500, 2_000) if no else (560, 1_100, 1_700)))
            if rng.random() < 0.08:
                d.after_school = Decimal(rng.randrange(1_500, 3_300)) if no else None
            if rng.random() < 0.05:
                d.culture_school = Decimal(rng.choice((1_650, 1_900, 2_400) if no else (600, 850)))
            if rng.random() < 0.03:
                d.rent = Decimal(rng.randrange(6_500, 11_500) if no else rng.randrange(5_200, 8_900))
            if rng.random() < 0.025:
                d.care = Decimal(rng.randrange(250, 3_500))
        elif rng.random() < 0.15:
            d.rent = Decimal(rng.randrange(9_000, 28_000))  # premises rented from the municipality
        return d

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def schedule(self, day: date, what: str, run: Callable[[World, date], None], *, priority: float = 5) -> None:
        if day <= self.end + timedelta(days=60):
            self.agenda[day].append(Action((priority, self._next_seq()), what, run))

    def actions_on(self, day: date) -> Iterator[Action]:
        """The day's actions in a stable order; actions may schedule more (also for the same day)."""
        while self.agenda.get(day):
            todo = sorted(self.agenda.pop(day))
            yield from todo

    # --- the year's plan --------------------------------------------------------------------

    def plan_year(self) -> None:
        """Register parties at the start and lay out every invoice of the year."""
        start = self.start
        for m in MUNICIPALITIES:
            self.schedule(start, "register creditor", _register_creditor(m), priority=0)
        for d in self.debtors:
            self.schedule(start, "register debtor", _register_debtor(d), priority=1)
        for d in self.debtors:
            for issue_on, creditor, claim_type, amount, due in self._invoices_for(d):
                self.schedule(issue_on, "invoice", _issue(d, creditor, claim_type, amount, due), priority=2)
            if self.rng.random() < (0.08 if d.profile in ("struggling", "non_payer") else 0.03):
                self._legacy_claim(d)
            if d.kind == "person" and self.rng.random() < 0.006:
                died = start + timedelta(days=self.rng.randrange(20, 330))
                self.schedule(died + timedelta(days=self.rng.randrange(4, 21)), "death", _death(d, died), priority=1)

    def _invoices_for(self, d: Debtor) -> Iterator[tuple[date, Municipality, str, Decimal, date]]:
        y, rng, no = self.year, self.rng, d.jurisdiction == "NO"

        def vary(amount: Decimal, spread: float = 0.0) -> Decimal:
            factor = Decimal(str(round(1 + rng.uniform(-spread, spread), 3)))
            return to_cents(amount * factor)

        def bill(due: date, lead_days: int = 21) -> date:
            return max(due - timedelta(days=lead_days), self.start)

        for month in range(1, 13):
            if d.kindergarten is not None and month != 7:
                due = date(y, month, 20) if no else _last_day(y, month)
                yield bill(due), d.home, "barnehage" if no else "barnomsorg", d.kindergarten, due
            if d.after_school is not None and month not in (7,):
                due = date(y, month, 20)
                yield bill(due), d.home, "sfo", d.after_school, due
            if d.rent is not None:
                due = date(y, month, 1) if no else _last_day(y, month) - timedelta(days=0)
                kind = "husleie" if no else ("hyra" if d.kind == "person" else "lokalhyra")
                yield bill(due, 16), d.home, kind, d.rent, due
            if d.care is not None and rng.random() < 0.5:
                due = date(y, month, 25)
                yield bill(due, 18), d.home, "helse_omsorg" if no else "vard_omsorg", vary(d.care, 0.4), due
        if d.owner:
            for quarter_due in (date(y, 2, 20), date(y, 5, 20), date(y, 8, 20), date(y, 11, 20)):
                if no:
                    yield bill(quarter_due), d.home, "kommunale_avgifter", vary(d.water + d.waste, 0.08), quarter_due
                else:
                    due = quarter_due.replace(day=28)
                    yield bill(due), d.home, "va", vary(d.water, 0.15), due
                    yield bill(due), d.home, "renhallning", d.waste, due
            if no:
                for tax_due in (date(y, 3, 20), date(y, 9, 20)):
                    yield bill(tax_due), d.home, "eiendomsskatt", to_cents(d.property_tax / 2), tax_due
            if d.second_home is not None:
                for tax_due in (date(y, 3, 20), date(y, 9, 20)):
                    yield bill(tax_due), d.second_home, "eiendomsskatt", Decimal(rng.randrange(800, 2_400)), tax_due
                for quarter_due in (date(y, 5, 20), date(y, 11, 20)):
                    yield (
                        bill(quarter_due),
                        d.second_home,
                        "kommunale_avgifter",
                        Decimal(rng.randrange(900, 1_900)),
                        quarter_due,
                    )
        if d.culture_school is not None:
            for due in (date(y, 2, 15), date(y, 9, 15)):
                yield bill(due), d.home, "kulturskole" if no else "musikskola", d.culture_school, due
        if not no and rng.random() < 0.04:  # small one-off charges: a copy fee, a library fine
            due = date(y, rng.randrange(2, 12), 28)
            yield bill(due), d.home, "other", Decimal(rng.choice((25, 30, 40, 45, 60, 120))), due
        if no and rng.random() < 0.03:
            due = date(y, rng.randrange(2, 12), 15)
            yield bill(due), d.home, "other", Decimal(rng.randrange(150, 2_500)), due

    def _legacy_claim(self, d: Debtor) -> None:
        """A claim taken over from the old system on the first working day: due in 2022 or early 2023."""
        rng = self.rng
        creditor = d.home
        due = date(self.year - 3, 1, 10) + timedelta(days=rng.randrange(0, 700))
        claim_type = rng.choice(
            ("helse_omsorg", "husleie", "other", "kommunale_avgifter")
            if d.jurisdiction == "NO"
            else ("vard_omsorg", "hyra", "other", "va")
        )
        amount = Decimal(rng.randrange(600, 14_000))
        on = calendar_for(d.jurisdiction).next_working_day(date(self.year, 1, 2))
        self.schedule(on, "legacy claim", _issue(d, creditor, claim_type, amount, due, legacy=True), priority=2)

    # --- helpers the actions use --------------------------------------------------------------

    def invoice_number(self) -> str:
        self._invoice_no += 1
        return f"{self.tag}-{self._invoice_no:06d}"

    def claim(self, creditor: str, invoice: str) -> Claim:
        return self.app.claim(creditor, invoice)

    def is_open(self, claim: Claim) -> bool:
        return claim.closed_on is None and claim.write_off_reason is None

    def balance_on(self, claim: Claim, day: date) -> Decimal:
        exact, _ = claim.interest_exact_on(day, rules_for(claim.jurisdiction.value))
        return to_cents(claim.account.balance(exact))

    def owed_on_bank_day(self, claim: Claim, ordered: date) -> Decimal:
        """What the payer saw owed on the day their bank received the order: interest through that
        day, and only the fees and costs of steps taken by then — a reminder sent while the money
        was on its way is not in the amount paid."""
        taken = {n.command_id: n.sent_on for n in claim.facts.notices}
        taken.update({e.command_id: e.requested_on for e in claim.facts.enforcements})
        later = sum(
            (
                item.amount
                for command, item in claim.cost_items.items()
                if command not in claim.waived and taken.get(command, ordered) > ordered
            ),
            Decimal(0),
        )
        return max(self.balance_on(claim, ordered) - later, Decimal(0))

    def do(self, verb: str, **kwargs: Any) -> bool:
        """Run one command; a refusal is counted, not raised (the world does not know the rules)."""
        try:
            getattr(self.app, verb)(**kwargs)
        except CommandRefused as refused:
            self.stats.refused[f"{verb}:{refused.code.value}"] += 1
            return False
        self.stats.commands[verb] += 1
        return True

    def bank_transfer(
        self,
        day: date,
        d: Debtor,
        claim: Claim,
        amount: Decimal,
        ordered: date,
        *,
        after: Callable[[], None] | None = None,
    ) -> None:
        """The debtor's bank sends ``amount`` to the claim's KID; the creditor's bank reports it in the evening's
        file, which the office imports (``bank files``, after the day's payments and before anything else)."""
        first_of_the_day = self.bank.pay(
            day, creditor=claim.creditor_id, invoice=claim.invoice, kid=claim.kid, amount=amount, ordered=ordered,
            payer_account=d.account, after=after,
        )  # fmt: skip
        if first_of_the_day:
            self.schedule(day, "bank files", _deliver_bank_files, priority=3.5)

    def bank_day(self, ordered: date, jurisdiction: str) -> date:
        """The day a payment ordered on ``ordered`` reaches the creditor's account statement."""
        cal = calendar_for(jurisdiction)
        return cal.next_working_day(ordered + timedelta(days=self.rng.choice((1, 1, 1, 2, 3))))

    def pay(
        self,
        d: Debtor,
        creditor: str,
        invoice: str,
        ordered: date,
        *,
        amount: Decimal | None = None,
        fraction: float | None = None,
        remnant_ok: bool = False,
    ) -> None:
        """Schedule a payment ordered on ``ordered``: ``amount``, a ``fraction`` of the balance, or the balance."""

        def run(world: World, day: date) -> None:
            if d.died is not None and d.died < ordered:
                return
            claim = world.claim(creditor, invoice)
            if not world.is_open(claim):
                return
            owed = world.owed_on_bank_day(claim, ordered) - world.bank.pending(creditor, invoice, day)
            paying = amount if amount is not None else owed
            if fraction is not None:
                paying = to_cents(owed * Decimal(str(fraction)))
            paying = min(paying, owed) if paying > owed and self.rng.random() < 0.97 else paying
            if paying <= 0:
                return

            def after() -> None:
                if remnant_ok or world.is_open(world.claim(creditor, invoice)):  # a remnant stays open
                    world.remnants.add((creditor, invoice))

            world.bank_transfer(day, d, claim, paying, ordered, after=after)
            if world.bank.pays_twice():  # the paper giro paid as well as the eFaktura: a refund, or suspense
                cal = calendar_for(d.jurisdiction)
                again = cal.next_working_day(day + timedelta(days=world.bank.rng.randrange(3, 12)))
                twice = paying

                def second(world: World, on: date) -> None:
                    world.bank_transfer(on, d, claim, twice, on)

                world.schedule(again, "payment", second, priority=3)

        self.schedule(self.bank_day(ordered, d.jurisdiction), "payment", run, priority=3)


def _last_day(year: int, month: int) -> date:
    return add_months(date(year, month, 1), 1) - timedelta(days=1)


# --- actions -------------------------------------------------------------------------------------


def _register_creditor(m: Municipality) -> Callable[[World, date], None]:
    def run(world: World, day: date) -> None:
        world.do(
            "register_creditor",
            creditor=m.number,
            name=m.name,
            jurisdiction=m.jurisdiction,
            on=day,
            command_id=f"setup/{m.number}",
            office=m.office,
        )

    return run


def _register_debtor(d: Debtor) -> Callable[[World, date], None]:
    def run(world: World, day: date) -> None:
        world.do(
            "register_debtor",
            office=d.office,
            ref=d.ref,
            kind=d.kind,
            jurisdiction=d.jurisdiction,
            on=day,
            command_id=f"setup/{d.ref}",
            contact=d.contact,
        )

    return run


def _issue(
    d: Debtor, m: Municipality, claim_type: str, amount: Decimal, due: date, *, legacy: bool = False
) -> Callable[[World, date], None]:
    def run(world: World, day: date) -> None:
        if d.died is not None:
            return  # the estate is billed by other means; no new invoices to the deceased
        invoice = world.invoice_number()
        if not world.do(
            "issue_invoice",
            creditor=m.number,
            invoice=invoice,
            amount=amount,
            due=due,
            claim_type=claim_type,
            debtor_ref=d.ref,
            on=day,
            command_id=f"issue/{invoice}",
        ):
            return
        d.invoices.append((m.number, invoice))
        if legacy:
            world.legacy.add((m.number, invoice))
        _behave(world, d, m, invoice, amount, max(due, day), legacy=legacy)

    return run


def _behave(
    world: World, d: Debtor, m: Municipality, invoice: str, amount: Decimal, due: date, *, legacy: bool
) -> None:
    """Draw what this debtor does with this invoice and schedule it."""
    rng = world.rng
    table = LEGACY if legacy else PROFILES[d.profile]
    behaviour = rng.choices(list(table), weights=list(table.values()))[0]
    cn = m.number

    def day(n: int) -> date:
        """``n`` days after the due date."""
        return due + timedelta(days=n)

    if behaviour == "on_time":
        world.pay(d, cn, invoice, day(-rng.randrange(0, 8)), amount=amount)
    elif behaviour == "late":
        world.pay(d, cn, invoice, day(rng.randrange(2, 13)))
    elif behaviour == "principal_only":  # pays the invoice amount late: interest stays behind
        world.pay(d, cn, invoice, day(rng.randrange(3, 12)), amount=amount, remnant_ok=True)
    elif behaviour == "after_reminder":
        only_principal = rng.random() < 0.25
        world.pay(
            d,
            cn,
            invoice,
            day(rng.randrange(17, 28)),
            amount=amount if only_principal else None,
            remnant_ok=only_principal,
        )
    elif behaviour == "after_warning":
        world.pay(d, cn, invoice, day(rng.randrange(32, 44)))
    elif behaviour == "after_demand":
        world.pay(d, cn, invoice, day(rng.randrange(48, 60)))
    elif behaviour == "part":
        world.pay(d, cn, invoice, day(rng.randrange(5, 25)), fraction=rng.choice((0.3, 0.4, 0.5, 0.6)))
        if rng.random() < 0.6:
            world.pay(d, cn, invoice, day(rng.randrange(40, 70)))
    elif behaviour in ("objection", "disputed"):
        _object(world, d, cn, invoice, due, legacy, outcome="maintained" if behaviour == "disputed" else None)
    elif behaviour == "deferral":
        asked = day(-rng.randrange(0, 5)) if not legacy else world.start + timedelta(days=rng.randrange(8, 30))
        until = asked + timedelta(days=rng.randrange(25, 70))
        world.schedule(asked, "deferral", _defer(cn, invoice, until), priority=4)
        if rng.random() < 0.75:
            world.pay(d, cn, invoice, until - timedelta(days=rng.randrange(0, 6)))
    elif behaviour == "plan":
        agreed = day(rng.randrange(20, 38)) if not legacy else world.start + timedelta(days=rng.randrange(10, 40))
        world.schedule(
            agreed, "payment plan", _plan(d, cn, invoice, rng.randrange(3, 7), rng.random() < 0.35), priority=4
        )
    # "never": nothing; the process manager escalates and the enforcement route collects some of it
    if behaviour == "never" and m.jurisdiction == "SE":
        world.schedule(day(rng.randrange(85, 110)), "utslag", _utslag(cn, invoice), priority=4)
    if behaviour == "never" and rng.random() < 0.4:
        for k in range(3):  # utleggstrekk / löneutmätning: the employer withholds from salary monthly
            world.pay(d, cn, invoice, day(130 + 30 * k), fraction=0.34 if k < 2 else None)


def _utslag(creditor: str, invoice: str) -> Callable[[World, date], None]:
    """Kronofogden decides the betalningsföreläggande (utslag) and the office asks for verkställighet."""

    def run(world: World, day: date) -> None:
        claim = world.claim(creditor, invoice)
        if world.is_open(claim) and claim.facts.enforcements and claim.facts.judgment_on is None:
            decided = max(claim.facts.enforcements[-1].requested_on + timedelta(days=28), claim.effective_due)
            if decided <= day and world.do(
                "register_judgment",
                creditor=creditor,
                invoice=invoice,
                on=day,
                decided=decided,
                command_id=f"utslag/{invoice}",
            ):
                world.do(
                    "request_enforcement",
                    creditor=creditor,
                    invoice=invoice,
                    route="verkstallighet",
                    on=day,
                    command_id=f"verkstallighet/{invoice}",
                )

    return run


def _object(
    world: World, d: Debtor, creditor: str, invoice: str, due: date, legacy: bool, *, outcome: str | None = None
) -> None:
    rng = world.rng
    registered = (
        (due + timedelta(days=rng.randrange(-8, 24)))
        if not legacy
        else world.start + timedelta(days=rng.randrange(3, 40))
    )
    received = registered - timedelta(days=rng.choice((0, 0, 1, 2, 5)))
    outcome = outcome or rng.choices(("upheld", "maintained", "unfounded"), weights=(0.3, 0.2, 0.5))[0]
    decided = registered + timedelta(days=rng.randrange(10, 45))

    def register(world: World, day: date) -> None:
        if world.do(
            "register_objection",
            creditor=creditor,
            invoice=invoice,
            on=day,
            received=min(received, day),
            command_id=f"objection/{invoice}",
            text="Debtor disputes the claim (letter scanned)",
        ):
            world.schedule(decided, "objection decided", resolve, priority=4)

    def resolve(world: World, day: date) -> None:
        amount = None
        if outcome == "upheld" and rng.random() < 0.4:  # partly upheld: half the principal credited
            claim = world.claim(creditor, invoice)
            amount = to_cents(claim.account.principal_outstanding / 2) or None
        world.do(
            "resolve_objection",
            creditor=creditor,
            invoice=invoice,
            outcome=outcome,
            on=day,
            amount=amount,
            command_id=f"objection/{invoice}/decided",
        )
        if outcome == "unfounded" and rng.random() < 0.6 or amount is not None:
            world.pay(d, creditor, invoice, day + timedelta(days=rng.randrange(5, 20)))

    world.schedule(registered, "objection", register, priority=4)


def _defer(creditor: str, invoice: str, until: date) -> Callable[[World, date], None]:
    def run(world: World, day: date) -> None:
        if until > day:
            world.do(
                "grant_deferral",
                creditor=creditor,
                invoice=invoice,
                until=until,
                on=day,
                command_id=f"deferral/{invoice}",
            )

    return run


def _plan(d: Debtor, creditor: str, invoice: str, count: int, breaks: bool) -> Callable[[World, date], None]:
    def run(world: World, day: date) -> None:
        claim = world.claim(creditor, invoice)
        if not world.is_open(claim) or claim.disputed:
            return
        balance = world.balance_on(claim, day)
        if balance < 300:
            return
        share = to_cents(balance / count)
        dues = [day + timedelta(days=14 + 30 * k) for k in range(count)]
        plan = [
            Installment(due, share if k < count - 1 else balance - share * (count - 1)) for k, due in enumerate(dues)
        ]
        if not world.do(
            "agree_payment_plan",
            creditor=creditor,
            invoice=invoice,
            installments=plan,
            on=day,
            command_id=f"plan/{invoice}",
        ):
            return
        kept = len(plan) if not breaks else world.rng.randrange(0, count - 1)
        for k, inst in enumerate(plan[:kept]):
            last = k == len(plan) - 1
            world.pay(
                d,
                creditor,
                invoice,
                inst.due - timedelta(days=world.rng.randrange(0, 4)),
                amount=None if last else inst.amount,
                remnant_ok=last,
            )

    return run


def _death(d: Debtor, died: date) -> Callable[[World, date], None]:
    def run(world: World, day: date) -> None:
        if not world.do(
            "register_death", office=d.office, debtor_ref=d.ref, died=died, on=day, command_id=f"death/{d.ref}"
        ):
            return
        d.died = died
        published = day + timedelta(days=world.rng.randrange(14, 40))
        world.schedule(published, "proklama", _proklama(d, published), priority=4)

    return run


def _proklama(d: Debtor, published: date) -> Callable[[World, date], None]:
    def run(world: World, day: date) -> None:
        if not world.do(
            "register_proklama",
            office=d.office,
            debtor_ref=d.ref,
            published=published,
            on=day,
            command_id=f"proklama/{d.ref}",
        ):
            return
        deadline = day + timedelta(weeks=6)
        for creditor, invoice in d.invoices:
            if world.rng.random() < 0.85:  # most claims reach the estate in time
                report_on = day + timedelta(days=world.rng.randrange(5, 35))
                world.schedule(report_on, "report to estate", _report(d, creditor, invoice), priority=4)
            world.schedule(
                deadline + timedelta(days=world.rng.randrange(20, 60)),
                "estate settles",
                _estate_settles(d, creditor, invoice),
                priority=4,
            )

    return run


def _report(d: Debtor, creditor: str, invoice: str) -> Callable[[World, date], None]:
    def run(world: World, day: date) -> None:
        claim = world.claim(creditor, invoice)
        if world.is_open(claim) and world.do(
            "report_to_estate", creditor=creditor, invoice=invoice, on=day, command_id=f"estate/{invoice}"
        ):
            world.reported.add((creditor, invoice))

    return run


def _estate_settles(d: Debtor, creditor: str, invoice: str) -> Callable[[World, date], None]:
    def run(world: World, day: date) -> None:
        claim = world.claim(creditor, invoice)
        if not world.is_open(claim):
            return
        if (creditor, invoice) in world.reported and world.rng.random() < 0.6:
            balance = world.balance_on(claim, day) - world.bank.pending(creditor, invoice, day)
            if balance > 0:
                world.bank_transfer(day, d, claim, balance, day)
        elif not claim.lien_secured:  # precluded, or the estate had nothing: written off
            world.do(
                "write_off",
                creditor=creditor,
                invoice=invoice,
                reason="deceased",
                on=day,
                command_id=f"estate/{invoice}/written-off",
            )

    return run


def _deliver_bank_files(world: World, day: date) -> None:
    """The evening's bank files arrive and are imported; caseworkers place what waited in suspense."""
    for report in world.bank.deliver(day):
        world.stats.commands["import_payments"] += 1
        world.stats.commands["bank_payment_matched"] += report.counts["matched"]
        world.stats.commands["bank_payment_unmatched"] += report.counts["unmatched"]
    world.bank.place_suspense(day)


def month_end_sweep(world: World, day: date) -> None:
    """The office's month-end run: uneconomic remnants and time-barred claims are written off."""
    for creditor, invoice in sorted(world.remnants):
        claim = world.claim(creditor, invoice)
        if not world.is_open(claim):
            world.remnants.discard((creditor, invoice))
            continue
        if world.balance_on(claim, day) < UNECONOMIC and not claim.disputed and (day - claim.effective_due).days > 30:
            if world.do(
                "write_off",
                creditor=creditor,
                invoice=invoice,
                reason="uneconomic",
                on=day,
                command_id=f"sweep/{invoice}/{day}",
            ):
                world.remnants.discard((creditor, invoice))
    for creditor, invoice in sorted(world.legacy):
        claim = world.claim(creditor, invoice)
        if not world.is_open(claim):
            world.legacy.discard((creditor, invoice))
        elif day > claim.limitation_date:
            if world.do(
                "write_off",
                creditor=creditor,
                invoice=invoice,
                reason="time_barred",
                on=day,
                command_id=f"sweep/{invoice}/{day}",
            ):
                world.legacy.discard((creditor, invoice))
    world.bank.month_end_refunds(day)


def is_month_end(day: date) -> bool:
    """The last working day of the month in Norway (the office's calendar)."""
    cal = calendar_for("NO")
    if not cal.is_working_day(day):
        return False
    nxt = day + timedelta(days=1)
    while not cal.is_working_day(nxt):
        nxt += timedelta(days=1)
    return nxt.month != day.month


__all__ = ["MUNICIPALITIES", "OFFICE", "OFFICE_NAME", "Municipality", "World", "is_month_end", "month_end_sweep"]
