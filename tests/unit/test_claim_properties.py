"""Property tests: random case histories through the real application, checked after every step.

Hypothesis invents one invoice and then a history of commands on a moving business clock —
payments (sometimes ordered days before they are registered, sometimes designated), credit
notes, notices with random deadlines, objections and their resolutions, deferrals, payment plans,
enforcement requests, judgments, a death, write-offs, complaints. Each command goes through
``CollectionApp``; a refusal is caught. After every step:

* the books balance: ``balance == principal + interest + fees + costs − paid`` and ``balance ≥ 0``;
* no component is paid beyond what it owes, and every krone received is either paid to a
  component or held as surplus;
* a refused command leaves the stored claim exactly as it was (same version, same report);
* replaying the stored events gives the same claim as the object the command worked on;
* fees and costs are exactly the steps' amounts less those that fell away, and every step the
  audit finds unrecoverable has fallen away; the status says ``paid`` exactly when nothing is owed;
* the fee caps hold (NO: two fee-bearing notices before the betalingsoppfordring, the second only
  after the first's 14-day deadline was missed, one demand fee; SE: one inkassokrav fee);
* interest never decreases as time passes.

Half the histories first climb the lawful ladder (warning, demand, enforcement), so that later
steps meet a claim in every stage.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from domain.account import COMPONENTS
from domain.application import CollectionApp
from domain.claim import Claim
from domain.errors import CommandRefused
from domain.records import Installment

CREDITOR = "4601"
DEBTOR = "D1"
INVOICE = "INV-1"
ZERO = Decimal("0.00")

NOTICES = {
    "NO": ["purring", "inkassovarsel", "betalingsoppfordring", "varsel_4_18"],
    "SE": ["paminnelse", "inkassokrav"],
}
ROUTES = {
    "NO": ["forliksklage", "utleggsbegjaering", "utleggstrekk", "utleggsforretning"],
    "SE": ["betalningsforelaggande", "verkstallighet"],
}
CLAIM_TYPES = {"NO": ["barnehage", "kommunale_avgifter", "eiendomsskatt", "other"], "SE": ["barnomsorg", "va", "other"]}


class RecordingApp(CollectionApp):
    """Remembers the claim objects it saved, to compare them with a fresh replay."""

    def __init__(self) -> None:
        super().__init__()
        self.saved: dict[UUID, Claim] = {}

    def save(self, *objs: Any, **kwargs: Any) -> Any:
        for obj in objs:
            if isinstance(obj, Claim):
                self.saved[obj.id] = obj
        return super().save(*objs, **kwargs)


@dataclass(frozen=True)
class Step:
    kind: str
    gap: int  # days the business clock moves before the command
    args: dict[str, Any]


def money(low: str, high: str) -> st.SearchStrategy[Decimal]:
    return st.integers(int(Decimal(low) * 100), int(Decimal(high) * 100)).map(lambda c: Decimal(c) / 100)


def steps(jurisdiction: str) -> st.SearchStrategy[Step]:
    gap = st.integers(0, 45)

    def step(kind: str, **args: st.SearchStrategy[Any]) -> st.SearchStrategy[Step]:
        return st.builds(lambda g, a: Step(kind, g, a), gap, st.fixed_dictionaries(args))

    return st.one_of(
        step(
            "pay",
            amount=money("0.01", "3000.00"),
            ordered_back=st.integers(0, 12),
            designation=st.sampled_from([None, None, "principal"]),
        ),
        step("credit", amount=money("0.01", "1500.00")),
        step(
            "notice",
            notice=st.sampled_from(NOTICES[jurisdiction]),
            deadline_days=st.one_of(st.none(), st.integers(1, 30)),
        ),
        step("object", received_back=st.integers(0, 40)),
        step(
            "resolve",
            outcome=st.sampled_from(["upheld", "maintained", "unfounded"]),
            amount=st.one_of(st.none(), money("0.01", "800.00")),
        ),
        step(
            "object_and_resolve",
            received_back=st.integers(0, 40),
            outcome=st.sampled_from(["upheld", "maintained", "unfounded"]),
            amount=st.one_of(st.none(), money("0.01", "800.00")),
        ),
        step("defer", days=st.integers(1, 60), by_debtor=st.booleans()),
        step(
            "plan",
            first_in=st.integers(0, 20),
            every=st.integers(1, 40),
            amounts=st.lists(money("1.00", "900.00"), min_size=1, max_size=3),
        ),
        step("enforce", route=st.sampled_from(ROUTES[jurisdiction])),
        step("judgment", decided_back=st.integers(0, 10)),
        step("death", died_back=st.integers(0, 60)),
        step("write_off", reason=st.sampled_from(["time_barred", "deceased", "uneconomic", "other"])),
        step("complain", received_back=st.integers(0, 5)),
        step("decide_complaint", outcome=st.sampled_from(["breach", "no_breach"])),
        step("complain_and_decide", outcome=st.sampled_from(["breach", "no_breach"])),
    )


LADDER = {  # from the issue day (30 days before due)
    "NO": [
        Step("notice", 45, {"notice": "inkassovarsel", "deadline_days": None}),
        Step("notice", 15, {"notice": "betalingsoppfordring", "deadline_days": None}),
        Step("enforce", 15, {"route": "utleggsbegjaering"}),
    ],
    "SE": [
        Step("notice", 45, {"notice": "inkassokrav", "deadline_days": None}),
        Step("enforce", 9, {"route": "betalningsforelaggande"}),
    ],
}


@st.composite
def histories(draw: st.DrawFn) -> tuple[str, str, Decimal, date, list[Step]]:
    jurisdiction = draw(st.sampled_from(["NO", "SE"]))
    claim_type = draw(st.sampled_from(CLAIM_TYPES[jurisdiction]))
    amount = draw(money("1.00", "20000.00"))
    due = date(2020, 1, 1) + timedelta(days=draw(st.integers(0, 6 * 365)))
    history = draw(st.lists(steps(jurisdiction), max_size=14))
    if draw(st.booleans()):  # half the cases first climb the lawful ladder, so later steps meet a demand
        history = LADDER[jurisdiction] + history
    return jurisdiction, claim_type, amount, due, history


def then_also(app: CollectionApp, command: Callable[[], None]) -> None:
    """The second half of a compound step; its refusal must change nothing either."""
    version = app.claim(CREDITOR, INVOICE).version
    try:
        command()
    except CommandRefused:
        assert app.claim(CREDITOR, INVOICE).version == version


def apply(app: CollectionApp, step: Step, on: date, n: int) -> None:
    cid, a = f"step-{n}", step.args
    claim = {"creditor": CREDITOR, "invoice": INVOICE, "on": on, "command_id": cid}
    match step.kind:
        case "pay":
            app.register_payment(
                **claim,
                amount=a["amount"],
                ordered=on - timedelta(days=a["ordered_back"]),
                designation=a["designation"],
            )
        case "credit":
            app.credit_invoice(**claim, amount=a["amount"])
        case "notice":
            deadline = on + timedelta(days=a["deadline_days"]) if a["deadline_days"] else None
            app.send_notice(**claim, notice=a["notice"], deadline=deadline)
        case "object":
            app.register_objection(**claim, received=on - timedelta(days=a["received_back"]), text="not mine")
        case "resolve":
            app.resolve_objection(**claim, outcome=a["outcome"], amount=a["amount"])
        case "object_and_resolve":  # a caseworker registers an objection and decides it the same day
            app.register_objection(**claim, received=on - timedelta(days=a["received_back"]), text="paid")
            then_also(
                app,
                lambda: app.resolve_objection(
                    **{**claim, "command_id": f"{cid}/resolve"}, outcome=a["outcome"], amount=a["amount"]
                ),
            )
        case "defer":
            app.grant_deferral(**claim, until=on + timedelta(days=a["days"]), requested_by_debtor=a["by_debtor"])
        case "plan":
            first = on + timedelta(days=a["first_in"])
            plan = [
                Installment(first + timedelta(days=i * a["every"]), amount) for i, amount in enumerate(a["amounts"])
            ]
            app.agree_payment_plan(**claim, installments=plan)
        case "enforce":
            app.request_enforcement(**claim, route=a["route"])
        case "judgment":
            app.register_judgment(**claim, decided=on - timedelta(days=a["decided_back"]))
        case "death":
            app.register_death(
                office=CREDITOR, debtor_ref=DEBTOR, died=on - timedelta(days=a["died_back"]), on=on, command_id=cid
            )
        case "write_off":
            app.write_off(**claim, reason=a["reason"])
        case "complain":
            app.file_complaint(**claim, received=on - timedelta(days=a["received_back"]))
        case "decide_complaint":
            app.decide_complaint(**claim, outcome=a["outcome"])
        case "complain_and_decide":
            app.file_complaint(**claim)
            then_also(
                app, lambda: app.decide_complaint(**{**claim, "command_id": f"{cid}/decide"}, outcome=a["outcome"])
            )
        case _:
            raise AssertionError(step.kind)


def amounts(report: dict[str, Any]) -> dict[str, Decimal]:
    keys = ("principal", "interest", "fees", "costs", "paid", "balance", "surplus")
    return {k: Decimal(report[k]) for k in keys}


def assert_books_balance(app: CollectionApp, claim: Claim, day: date) -> None:
    r = amounts(app.claim_report(claim, day))
    assert r["balance"] == r["principal"] + r["interest"] + r["fees"] + r["costs"] - r["paid"], r
    assert r["balance"] >= 0, r
    assert min(r["principal"], r["interest"], r["fees"], r["costs"], r["paid"], r["surplus"]) >= 0, r
    account = claim.account
    for component in COMPONENTS:
        assert ZERO <= account.paid[component] <= account.owed(component), (component, account)
    received = sum((p.amount for p in claim.facts.payments), ZERO)
    assert account.total_paid + account.surplus == received, (account, received)


def assert_costs_follow_the_trail(app: CollectionApp, claim: Claim, day: date) -> None:
    """Fees and costs are the steps' amounts less those that fell away, and every step the audit
    finds unrecoverable has fallen away; the status says paid exactly when nothing is owed."""
    notices, steps_ = claim.facts.notices, claim.facts.enforcements
    assert claim.account.fees == sum((n.fee for n in notices if n.command_id not in claim.waived), ZERO)
    assert claim.account.costs == sum((e.cost for e in steps_ if e.command_id not in claim.waived), ZERO)
    unrecoverable = {
        cid for cid in claim.audit().non_recoverable if cid in claim.cost_items and claim.cost_items[cid].amount > 0
    }
    assert unrecoverable <= set(claim.waived), (unrecoverable, claim.waived)
    r = app.claim_report(claim, day)
    if r["status"] != "written_off":
        assert (r["status"] == "paid") == (Decimal(r["balance"]) == 0), r


def assert_fee_caps_hold(claim: Claim) -> None:
    """NO: at most two fee-bearing notices before the betalingsoppfordring, one betalingsoppfordring
    fee, no notice fee after it. SE: one inkassokrav fee, no påminnelse fee without an agreement."""
    charged = [n for n in claim.facts.notices if n.fee > 0]
    kinds = [n.notice for n in charged]
    if claim.jurisdiction.value == "NO":
        assert kinds.count("betalingsoppfordring") <= 1, kinds
        before_demand = [n for n in charged if n.notice in ("purring", "inkassovarsel")]
        assert len(before_demand) <= 2, kinds
        assert kinds.count("inkassovarsel") <= 1, kinds
        assert all((n.sent_on - claim.effective_due).days >= 14 for n in before_demand), before_demand
        if len(before_demand) == 2:
            first, second = before_demand
            assert first.deadline_days >= 14 and first.deadline < second.sent_on, before_demand
        demands = [n.sent_on for n in claim.facts.notices if n.notice == "betalingsoppfordring"]
        if demands:
            assert all(n.sent_on <= min(demands) for n in before_demand), kinds
        assert "varsel_4_18" not in kinds
    else:
        assert kinds.count("inkassokrav") <= 1 and "paminnelse" not in kinds, kinds


def invoiced(history: tuple[str, str, Decimal, date, list[Step]]) -> tuple[RecordingApp, date, list[Step]]:
    """A municipality, its debtor and the invoice, issued 30 days before it falls due."""
    jurisdiction, claim_type, amount, due, steps_ = history
    app = RecordingApp()
    issued = due - timedelta(days=30)
    app.register_creditor(
        creditor=CREDITOR, name="Testkommune", jurisdiction=jurisdiction, on=issued, command_id="creditor"
    )
    app.register_debtor(
        office=CREDITOR, ref=DEBTOR, kind="person", jurisdiction=jurisdiction, on=issued, command_id="debtor"
    )
    app.issue_invoice(
        creditor=CREDITOR,
        invoice=INVOICE,
        amount=amount,
        due=due,
        claim_type=claim_type,
        debtor_ref=DEBTOR,
        on=issued,
        command_id="issue",
    )
    return app, issued, steps_


def snapshot(claim: Claim) -> tuple[Any, ...]:
    return (
        claim.version,
        claim.account,
        claim.facts,
        claim.stage,
        claim.waived,
        claim.closed_on,
        claim.write_off_reason,
        claim.estate_deadline,
        claim.limitation_years,
        claim.plan_breached,
    )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(histories())
def test_any_case_history_keeps_the_books_balanced_and_replays_to_the_same_claim(
    history: tuple[str, str, Decimal, date, list[Step]],
) -> None:
    app, on, steps_ = invoiced(history)
    assert_books_balance(app, app.claim(CREDITOR, INVOICE), on)

    for n, step in enumerate(steps_):
        on += timedelta(days=step.gap)
        before = app.claim(CREDITOR, INVOICE)
        report_before = app.claim_report(before, on)
        app.saved.clear()
        try:
            apply(app, step, on, n)
        except CommandRefused as refused:
            event(f"{step.kind} refused: {refused.code}")
            after = app.claim(CREDITOR, INVOICE)
            assert after.version == before.version, step
            assert len(list(app.events.get(after.id))) == before.version
            assert app.claim_report(after, on) == report_before
            assert not app.saved
        else:
            event(f"{step.kind} accepted")
            fresh = app.claim(CREDITOR, INVOICE)
            worked_on = app.saved.get(fresh.id)
            if worked_on is not None:
                assert snapshot(fresh) == snapshot(worked_on), step
                assert app.claim_report(fresh, on) == app.claim_report(worked_on, on)
                assert app.claim_report(fresh, on + timedelta(days=90)) == app.claim_report(
                    worked_on, on + timedelta(days=90)
                )
        fresh = app.claim(CREDITOR, INVOICE)
        assert_books_balance(app, fresh, on)
        assert_books_balance(app, fresh, on + timedelta(days=90))
        assert_costs_follow_the_trail(app, fresh, on)
        assert_fee_caps_hold(fresh)
        later = app.claim_report(fresh, on + timedelta(days=90))
        assert Decimal(later["interest"]) >= Decimal(app.claim_report(fresh, on)["interest"])


@settings(max_examples=40, deadline=None)
@given(histories())
def test_repeating_every_command_of_a_history_changes_nothing(
    history: tuple[str, str, Decimal, date, list[Step]],
) -> None:
    app, on, steps_ = invoiced(history)
    for n, step in enumerate(steps_):
        on += timedelta(days=step.gap)
        try:
            apply(app, step, on, n)
        except CommandRefused:
            continue
        done = app.claim(CREDITOR, INVOICE)
        if step.kind == "death":
            continue  # a debtor-level command: repeating it is checked in the use cases
        apply(app, step, on, n)  # the same command id again, e.g. redelivered by the broker
        assert app.claim(CREDITOR, INVOICE).version == done.version, step
