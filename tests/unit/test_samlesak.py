"""Samlesak in the automatic case flow: a debtor's claims of one creditor due for the same step on the
same day go in one letter or one enforcement request, with one fee or court fee (domain.merging,
domain.caseflow.run_days, CollectionApp.run_policies)."""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta
from decimal import Decimal

import pytest

from domain import caseflow
from domain.application import CollectionApp
from domain.errors import CommandRefused, ErrorCode
from domain.merging import cases_digest, merge, priced_alone
from domain.policy import NORWEGIAN_DEFAULT, SWEDISH_MUNICIPAL_DEFAULT, CollectionPolicy, PolicyStep
from domain.rules import rules_for

ALTA, SVENLJUNGA = "5601", "1465"
# The Norwegian default policy for invoices due Monday 2025-01-20, left unpaid:
#   purring 2025-02-03 (deadline 02-17), inkassovarsel 02-18 (03-04), betalingsoppfordring 03-05 (03-19),
#   utleggsbegjæring 03-20. Fees 2025: purring and inkassovarsel 35.00 each, betalingsoppfordring 105.00;
#   utleggsbegjæring floor(1.21 × R 1314) = 1589.
DUE = date(2025, 1, 20)


def office(policy: CollectionPolicy | None = None, jurisdiction: str = "NO") -> CollectionApp:
    app = CollectionApp()
    creditor = ALTA if jurisdiction == "NO" else SVENLJUNGA
    app.register_creditor(
        creditor=creditor, name="Kommune", jurisdiction=jurisdiction, on=date(2025, 1, 1), command_id="c", policy=policy
    )
    for ref in ("P1", "P2"):
        app.register_debtor(
            office=creditor, ref=ref, kind="person", jurisdiction=jurisdiction, on=date(2025, 1, 1), command_id=ref
        )
    return app


def invoice(
    app: CollectionApp, number: str, amount: str, *, due: date = DUE, debtor: str = "P1", claim_type: str = "barnehage"
) -> None:
    app.issue_invoice(
        creditor=ALTA if claim_type != "va" else SVENLJUNGA,
        invoice=number,
        amount=Decimal(amount),
        due=due,
        claim_type=claim_type,
        debtor_ref=debtor,
        on=date(2025, 1, 2),
        command_id=f"i-{number}",
    )


def notices(app: CollectionApp, number: str, creditor: str = ALTA) -> list[tuple[str, date, Decimal, str]]:
    return [(n.notice, n.sent_on, n.fee, n.command_id) for n in app.claim(creditor, number).facts.notices]


def test_two_claims_of_one_debtor_due_the_same_day_get_one_letter_with_one_fee() -> None:
    app = office()
    invoice(app, "BH-1", "1800.00")
    invoice(app, "SFO-1", "2400.00")

    runs = app.run_policies(
        creditor=ALTA, invoices=["BH-1", "SFO-1"], start=date(2025, 2, 3), until=date(2025, 2, 3), command_id="flow"
    )

    bh, sfo = app.claim(ALTA, "BH-1"), app.claim(ALTA, "SFO-1")
    letter_id = caseflow.combined_command_id("flow", [sfo.id, bh.id], "purring", date(2025, 2, 3))
    assert [(r.invoice, r.action.name, r.command_id, r.letter) for r in runs] == [
        ("BH-1", "purring", letter_id, ("BH-1", "SFO-1")),
        ("SFO-1", "purring", letter_id, ("BH-1", "SFO-1")),
    ]
    assert [(n.fee, n.letter) for n in bh.facts.notices] == [(Decimal("35.00"), ("BH-1", "SFO-1"))]
    assert [(n.fee, n.letter) for n in sfo.facts.notices] == [(Decimal("0.00"), ("BH-1", "SFO-1"))]
    assert "one fee per combined letter, charged on invoice BH-1" in sfo.facts.notices[0].fee_reason


def test_the_letter_lists_the_oldest_claim_first_so_the_fee_falls_on_it() -> None:
    app = office()
    invoice(app, "A-NEW", "1800.00")
    invoice(app, "Z-OLD", "900.00", due=date(2025, 1, 17))  # due Friday: its purring is due from 01-31
    app.run_policies(
        creditor=ALTA, invoices=["A-NEW", "Z-OLD"], start=date(2025, 2, 3), until=date(2025, 2, 3), command_id="flow"
    )
    # both are due for the purring on Monday 02-03 (Z-OLD since Friday, the first run), one letter
    assert notices(app, "Z-OLD")[0][2] == Decimal("35.00")
    assert notices(app, "A-NEW")[0][2] == Decimal("0.00")


def test_with_merging_switched_off_each_claim_gets_its_own_letter_and_fee() -> None:
    app = office(dataclasses.replace(NORWEGIAN_DEFAULT, merge_claims=False))
    invoice(app, "BH-1", "1800.00")
    invoice(app, "SFO-1", "2400.00")

    runs = app.run_policies(
        creditor=ALTA, invoices=["BH-1", "SFO-1"], start=date(2025, 2, 3), until=date(2025, 2, 3), command_id="flow"
    )

    assert [(r.invoice, r.letter) for r in runs] == [("BH-1", ()), ("SFO-1", ())]
    assert [n[2] for n in notices(app, "BH-1") + notices(app, "SFO-1")] == [Decimal("35.00"), Decimal("35.00")]


def test_claims_of_two_debtors_or_for_two_different_steps_are_not_merged() -> None:
    app = office()
    invoice(app, "P1-A", "1800.00")
    invoice(app, "P2-A", "1800.00", debtor="P2")
    invoice(app, "P1-B", "1800.00", due=date(2025, 1, 6))  # a fortnight ahead: the inkassovarsel is due 02-04

    app.run_policies(
        creditor=ALTA,
        invoices=["P1-A", "P2-A", "P1-B"],
        start=date(2025, 1, 20),
        until=date(2025, 2, 4),
        command_id="flow",
    )

    assert [(n, d, f) for n, d, f, _ in notices(app, "P1-A")] == [("purring", date(2025, 2, 3), Decimal("35.00"))]
    assert [(n, d, f) for n, d, f, _ in notices(app, "P2-A")] == [("purring", date(2025, 2, 3), Decimal("35.00"))]
    assert [n for n, _, _, _ in notices(app, "P1-B")] == ["purring", "inkassovarsel"]
    assert all(n.letter is None for i in ("P1-A", "P2-A", "P1-B") for n in app.claim(ALTA, i).facts.notices)


def test_a_whole_escalation_merged_charges_one_fee_per_letter_and_one_court_fee() -> None:
    app = office()
    invoice(app, "BH-1", "1800.00")
    invoice(app, "SFO-1", "2400.00")

    app.run_policies(creditor=ALTA, invoices=["BH-1", "SFO-1"], start=DUE, until=date(2025, 3, 31), command_id="flow")

    bh, sfo = app.claim(ALTA, "BH-1"), app.claim(ALTA, "SFO-1")
    assert [n.notice for n in bh.facts.notices] == ["purring", "inkassovarsel", "betalingsoppfordring"]
    assert [(e.route, e.cost, e.request) for e in bh.facts.enforcements] == [
        ("utleggsbegjaering", Decimal("1589.00"), ("BH-1", "SFO-1"))
    ]
    assert [(e.route, e.cost) for e in sfo.facts.enforcements] == [("utleggsbegjaering", Decimal("0.00"))]
    assert (bh.account.fees, sfo.account.fees) == (Decimal("175.00"), Decimal("0.00"))
    # every step interrupted nothing it should not have, and both claims' limitation moved with the request
    assert bh.limitation_date == sfo.limitation_date == date(2028, 3, 20)

    # priced alone: each claim would have carried the three fees and its own court fee
    charges = [priced_alone(c, fees_enabled=True, reminder_fee_agreed=False) for c in (bh, sfo)]
    assert [(c.fees, c.fees_alone, c.costs, c.costs_alone, c.combined) for c in charges] == [
        (Decimal("175.00"), Decimal("175.00"), Decimal("1589.00"), Decimal("1589.00"), 4),
        (Decimal("0.00"), Decimal("175.00"), Decimal("0.00"), Decimal("1589.00"), 4),
    ]


def test_priced_alone_counts_the_fees_a_claim_would_have_carried_against_its_own_fee_cap() -> None:
    """A claim that carried no purring fee in a combined letter would, alone, have carried it — and then its
    own inkassovarsel fee: priced alone, the cap counts the purring fee it would have carried."""
    app = office()
    invoice(app, "BH-1", "1800.00")
    invoice(app, "SFO-1", "2400.00")
    app.send_combined_notice(
        creditor=ALTA, invoices=["BH-1", "SFO-1"], notice="purring", on=date(2025, 2, 3), command_id="letter"
    )
    # the inkassovarsel went to SFO-1 alone: it carried the fee the letter had not given it
    app.send_notice(creditor=ALTA, invoice="SFO-1", notice="inkassovarsel", on=date(2025, 2, 18), command_id="iv")

    sfo = app.claim(ALTA, "SFO-1")
    assert [n.fee for n in sfo.facts.notices] == [Decimal("0.00"), Decimal("35.00")]
    charges = priced_alone(sfo, fees_enabled=True, reminder_fee_agreed=False)
    assert (charges.fees, charges.fees_alone, charges.combined) == (Decimal("35.00"), Decimal("70.00"), 1)


def test_a_claim_its_own_rules_refuse_is_left_out_and_the_others_still_go() -> None:
    """A policy that sends its purring on the due date: on the due date of one claim (not yet collectable:
    not_due) the older claim of the same debtor is due too; the older one goes alone, the other is refused."""
    early = dataclasses.replace(
        NORWEGIAN_DEFAULT, steps=(PolicyStep(after_days=0, notice="purring", deadline_days=14),)
    )
    app = office(early)
    invoice(app, "OLD", "1800.00", due=date(2025, 1, 13))
    invoice(app, "NEW", "1800.00", due=date(2025, 1, 20))
    policy = CollectionPolicy.from_dict(app.creditor(ALTA).policy)

    done = caseflow.run_days(
        app, creditor=ALTA, claims=[("OLD", 0), ("NEW", 0)], day=date(2025, 1, 20), policy=policy, prefix="auto"
    )

    old, new = done
    assert old.step is not None and old.step.accepted and old.step.letter == ()
    assert old.step.command_id == caseflow.command_id("auto", old.claim.id, "purring", date(2025, 1, 20))
    assert new.step is not None and new.step.refused is not None and new.step.refused.code == ErrorCode.NOT_DUE
    assert (old.refusals, new.refusals) == (0, 1)
    assert new.claim.facts.notices == []


def test_running_the_day_again_sends_the_combined_letter_once() -> None:
    app = office()
    invoice(app, "BH-1", "1800.00")
    invoice(app, "SFO-1", "2400.00")
    policy = CollectionPolicy.from_dict(app.creditor(ALTA).policy)

    def day() -> list[caseflow.CaseDay]:
        return caseflow.run_days(
            app, creditor=ALTA, claims=[("SFO-1", 0), ("BH-1", 0)], day=date(2025, 2, 3), policy=policy, prefix="auto"
        )

    first = day()
    again = day()  # a restart: the same day once more

    assert [d.step is not None and d.step.accepted for d in first] == [True, True]
    assert [d.step for d in again] == [None, None]
    assert len(notices(app, "BH-1")) == len(notices(app, "SFO-1")) == 1
    # the same id, whatever order the claims come in; a repeat of the command changes nothing (ADR 0024)
    ids = [d.claim.id for d in first]
    assert first[0].step is not None
    assert first[0].step.command_id == caseflow.combined_command_id("auto", reversed(ids), "purring", date(2025, 2, 3))
    assert cases_digest(ids) == cases_digest(list(reversed(ids)))
    deadline = app.claim(ALTA, "BH-1").facts.notices[0].deadline
    repeat = {"creditor": ALTA, "notice": "purring", "on": date(2025, 2, 3), "command_id": first[0].step.command_id}
    app.send_combined_notice(invoices=["BH-1", "SFO-1"], deadline=deadline, **repeat)
    assert len(notices(app, "BH-1")) == len(notices(app, "SFO-1")) == 1
    # the same id with other content is refused, naming the id, and changes nothing either
    with pytest.raises(CommandRefused, match="command_id") as refused:
        app.send_combined_notice(invoices=["BH-1", "SFO-1"], deadline=deadline + timedelta(days=7), **repeat)
    assert refused.value.code is ErrorCode.INVALID_INPUT and first[0].step.command_id in refused.value.message
    assert len(notices(app, "BH-1")) == 1


def test_swedish_va_and_waste_claims_share_one_inkassokrav_fee() -> None:
    app = office(jurisdiction="SE")
    for number, claim_type in (("VA-1", "va"), ("RH-1", "renhallning")):
        app.issue_invoice(
            creditor=SVENLJUNGA,
            invoice=number,
            amount=Decimal("900.00"),
            due=date(2025, 2, 28),
            claim_type=claim_type,
            debtor_ref="P1",
            on=date(2025, 2, 1),
            command_id=f"i-{number}",
        )

    runs = app.run_policies(
        creditor=SVENLJUNGA,
        invoices=["VA-1", "RH-1"],
        start=date(2025, 3, 1),
        until=date(2025, 3, 31),
        command_id="flow",
    )

    # påminnelse Fri 03-07 (7 days after due, no fee: none agreed), inkassokrav Tue 03-18 (one 180 SEK fee),
    # betalningsföreläggande Sat 03-29 is no working day: Mon 03-31, one application fee
    assert sorted({(r.day, r.action.name, r.letter) for r in runs}) == [
        (date(2025, 3, 7), "paminnelse", ("RH-1", "VA-1")),
        (date(2025, 3, 18), "inkassokrav", ("RH-1", "VA-1")),
        (date(2025, 3, 31), "betalningsforelaggande", ("RH-1", "VA-1")),
    ]
    fees = [app.claim(SVENLJUNGA, i).account.fees for i in ("RH-1", "VA-1")]
    costs = [app.claim(SVENLJUNGA, i).account.costs for i in ("RH-1", "VA-1")]
    assert sorted(fees) == [Decimal("0.00"), Decimal("180.00")]
    assert sorted(costs) == [Decimal("0.00"), Decimal("300.00")]


def test_merge_groups_by_debtor_step_deadline_and_purpose_oldest_claim_first() -> None:
    app = office()
    invoice(app, "B", "1000.00")
    invoice(app, "A", "1000.00", due=date(2025, 1, 10))
    invoice(app, "C", "1000.00", debtor="P2")
    claims = {i: app.claim(ALTA, i) for i in "ABC"}
    purring = caseflow.PlannedAction("notice", "purring", date(2025, 2, 17), DUE)

    groups = merge([(claims["B"], purring), (claims["C"], purring), (claims["A"], purring)], NORWEGIAN_DEFAULT)

    assert [[c.invoice for c, _ in g] for g in groups] == [["A", "B"], ["C"]]
    monitoring = dataclasses.replace(purring, monitoring=True)
    later = dataclasses.replace(purring, deadline=date(2025, 2, 18))
    apart = merge([(claims["A"], purring), (claims["B"], monitoring), (claims["B"], later)], NORWEGIAN_DEFAULT)
    assert len(apart) == 3


def test_a_policy_recorded_before_samlesak_merges_and_monitors_by_default() -> None:
    old = NORWEGIAN_DEFAULT.as_dict()
    del old["merge_claims"], old["monitoring_days_before_limitation"]

    policy = CollectionPolicy.from_dict(old)

    assert policy.merge_claims is True
    assert policy.monitoring_days_before_limitation == 60
    assert CollectionPolicy.from_dict(SWEDISH_MUNICIPAL_DEFAULT.as_dict()) == SWEDISH_MUNICIPAL_DEFAULT


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("merge_claims", "yes"),
        ("monitoring_days_before_limitation", 0),
        ("monitoring_days_before_limitation", "60"),
        ("monitoring_days_before_limitation", True),
    ],
)
def test_a_policy_value_of_the_wrong_kind_is_invalid_input_naming_it(key: str, value: object) -> None:
    with pytest.raises(CommandRefused) as refused:
        CollectionPolicy.from_dict({**NORWEGIAN_DEFAULT.as_dict(), key: value})
    assert refused.value.code == ErrorCode.INVALID_INPUT
    assert f"policy.{key}" in refused.value.message


def test_rules_price_a_request_as_decide_enforcement_does() -> None:
    rules = rules_for("NO")
    assert rules.enforcement_cost("utleggsbegjaering", date(2025, 3, 20))[0] == Decimal("1589")
    assert rules.enforcement_cost("utleggstrekk", date(2025, 3, 20))[0] == Decimal("0")
    assert rules_for("SE").enforcement_cost("betalningsforelaggande", date(2025, 3, 20))[0] == Decimal("300.00")
