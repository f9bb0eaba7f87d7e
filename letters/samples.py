"""One sample letter of each type, made the way real ones are: commands run through the domain (in
memory), the case folded to each letter's event, ``letter_facts`` taken from it. Used by the content
tests and to draw the pictures in ``docs/letters/`` (``kravsak letters samples``).

Swedish ``avstangningsvarsel`` has no command in this version of the domain yet: its sample is the
inkassokrav's facts with the kind changed, so the template is checked until the notice exists.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import NAMESPACE_URL, uuid5

from domain.application import CollectionApp
from domain.records import Installment
from letters.facts import LETTER_EVENTS, letter_facts
from letters.render import Recipient

NAMESPACE = uuid5(NAMESPACE_URL, "https://kravsak.no/letters/samples")
ALTA, SVENLJUNGA = "5601", "1465"
RECIPIENTS = {
    "NO": Recipient("Kari Nordmann", ("Storgata 12 B", "9510 ALTA"), "nb"),
    "SE": Recipient("Anna Andersson", ("Storgatan 4", "512 50 SVENLJUNGA"), "sv"),
}
CREDITOR_NAMES = {ALTA: "Alta kommune", SVENLJUNGA: "Svenljunga kommun"}


@dataclass(frozen=True)
class Sample:
    kind: str
    jurisdiction: str
    facts: dict[str, Any]
    creditor_name: str
    recipient: Recipient


def _d(y: int, m: int, d: int) -> date:
    return date(y, m, d)


def _run(app: CollectionApp) -> None:
    on = _d(2025, 1, 2)
    app.register_creditor(creditor=ALTA, name="Alta kommune", jurisdiction="NO", on=on, command_id="c1", office="vf")
    app.register_creditor(creditor=SVENLJUNGA, name="Svenljunga kommun", jurisdiction="SE", on=on, command_id="c2")
    app.register_debtor(office="vf", ref="P1", kind="person", jurisdiction="NO", on=on, command_id="d1")
    app.register_debtor(office="vf", ref="P2", kind="person", jurisdiction="NO", on=on, command_id="d2")
    app.register_debtor(office=SVENLJUNGA, ref="S1", kind="person", jurisdiction="SE", on=on, command_id="d3")
    no: dict[str, Any] = {"creditor": ALTA}
    app.issue_invoice(**no, invoice="250117", amount=Decimal("2490.00"), due=_d(2025, 2, 20), claim_type="barnehage",
                      debtor_ref="P1", on=_d(2025, 1, 30), command_id="i1")  # fmt: skip
    app.send_notice(**no, invoice="250117", notice="purring", on=_d(2025, 3, 7), command_id="n1")
    app.send_notice(**no, invoice="250117", notice="inkassovarsel", on=_d(2025, 3, 24), command_id="n2")
    app.send_notice(**no, invoice="250117", notice="betalingsoppfordring", on=_d(2025, 4, 10), command_id="n3")
    app.issue_invoice(**no, invoice="250342", amount=Decimal("6850.00"), due=_d(2025, 3, 20),
                      claim_type="kommunale_avgifter", debtor_ref="P2", on=_d(2025, 2, 27),
                      command_id="i2")  # fmt: skip
    app.send_notice(**no, invoice="250342", notice="varsel_4_18", on=_d(2025, 4, 3), command_id="n4")
    app.agree_payment_plan(**no, invoice="250342", on=_d(2025, 4, 22), command_id="p1",
                           installments=[Installment(_d(2025, 5, 20), Decimal("2300.00")),
                                         Installment(_d(2025, 6, 20), Decimal("2300.00")),
                                         Installment(_d(2025, 7, 21), Decimal("2327.41"))])  # fmt: skip
    se: dict[str, Any] = {"creditor": SVENLJUNGA}
    app.issue_invoice(**se, invoice="88104", amount=Decimal("1845.00"), due=_d(2025, 2, 28), claim_type="va",
                      debtor_ref="S1", on=_d(2025, 1, 31), command_id="i3")  # fmt: skip
    app.send_notice(**se, invoice="88104", notice="paminnelse", on=_d(2025, 3, 10), command_id="n5")
    app.send_notice(**se, invoice="88104", notice="inkassokrav", on=_d(2025, 3, 24), command_id="n6")
    app.agree_payment_plan(**se, invoice="88104", on=_d(2025, 4, 14), command_id="p2",
                           installments=[Installment(_d(2025, 4, 30), Decimal("700.00")),
                                         Installment(_d(2025, 5, 30), Decimal("700.00")),
                                         Installment(_d(2025, 6, 30), Decimal("648.88"))])  # fmt: skip


def samples() -> list[Sample]:
    """One sample per letter type, in a stable order."""
    app = CollectionApp(namespace=NAMESPACE)
    _run(app)
    out: list[Sample] = []
    for notification in app.recorder.select_notifications(start=1, limit=1000):
        event: Any = app.mapper.to_domain_event(notification)
        name = type(event).__qualname__.replace(".", "")
        if name not in LETTER_EVENTS:
            continue
        claim: Any = app.repository.get(event.originator_id, version=event.originator_version)
        values = dict(vars(event))
        facts = letter_facts(
            event_id=str(uuid5(NAMESPACE, f"{event.originator_id}:{event.originator_version}")),
            event_type=name,
            case_id=str(event.originator_id),
            values=values,
            sent_on=event.effective,
            claim=claim,
        )
        j = facts["jurisdiction"]
        out.append(Sample(facts["kind"], j, facts, CREDITOR_NAMES[facts["creditor_id"]], RECIPIENTS[j]))
        if facts["kind"] == "inkassokrav":
            warned = {**facts, "kind": "avstangningsvarsel", "letter_id": facts["letter_id"][:-4] + "a001"}
            out.append(Sample("avstangningsvarsel", j, warned, CREDITOR_NAMES[facts["creditor_id"]], RECIPIENTS[j]))
    return out
