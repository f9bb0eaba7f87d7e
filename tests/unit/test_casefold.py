"""Folding projected events with the domain's own apply code rebuilds exactly the domain's claims."""

from __future__ import annotations

import dataclasses
from datetime import date
from typing import Any

import pytest

from domain.application import CollectionApp
from domain.catalogue import BASE_ATTRIBUTES, BY_WIRE_NAME
from domain.claim import Claim
from domain.scenario import Scenario, run_scenario
from domain.suspense import Suspense
from projections.audit_trail import AuditTrail
from projections.base import ProjectedEvent
from projections.casefold import CaseFolder
from projections.ledger import Ledger, postings_for, suspense_postings
from projections.limitation import LimitationWatch
from projections.parties import Parties
from tests.scenario_files import scenario_files, scenario_params


def projected(event: Any, position: int) -> ProjectedEvent:
    name = type(event).__qualname__.replace(".", "")
    values = {f.name: getattr(event, f.name) for f in dataclasses.fields(event) if f.name not in BASE_ATTRIBUTES}
    day = values.get("effective") or values.get("recorded") or date(2000, 1, 1)
    return ProjectedEvent(
        event_id=f"e{position}",
        event_type=name,
        case_id=str(event.originator_id),
        creditor_id=None,
        debtor_id=None,
        aggregate_version=event.originator_version,
        position=position,
        effective_date=day,
        recorded_date=day,
        recorded_at=event.timestamp,
        rule_version="",
        currency=None,
        values=values,
    )


def all_projected(app: CollectionApp) -> list[ProjectedEvent]:
    notifications = app.recorder.select_notifications(start=1, limit=100_000)
    return [projected(app.mapper.to_domain_event(n), n.id) for n in notifications]


def test_every_stored_event_type_is_known_to_the_folder() -> None:
    assert {"ClaimInvoiced", "ClaimNoticeSent", "ClaimCostsWaived", "DebtorDied"} <= set(BY_WIRE_NAME)


@pytest.mark.parametrize("path", scenario_params())
def test_folded_claims_report_exactly_what_the_domain_reports(path: Any) -> None:
    scenario = Scenario.load(path)
    app = CollectionApp()
    report = run_scenario(scenario, app)
    folder = CaseFolder()
    for event in all_projected(app):
        folder.advance(event)
    day = date.fromisoformat(report["report_on"])
    for invoice, expected in report["invoices"].items():
        claim = app.claim(scenario.creditor, invoice)
        folded = folder.get(str(claim.id))
        assert isinstance(folded, Claim)
        assert app.claim_report(folded, day) == expected
        assert folded.audit() == claim.audit()


def test_a_cold_folder_warms_a_case_from_its_earlier_events() -> None:
    app = CollectionApp()
    scenario = Scenario.load(scenario_files()[0])
    report = run_scenario(scenario, app)
    events = all_projected(app)
    case = next(e.case_id for e in events if e.event_type == "ClaimInvoiced")
    mine = [e for e in events if e.case_id == case]
    folder = CaseFolder(maxsize=1)
    folder.warm(case, mine[:-1])
    before, after = folder.advance(mine[-1])
    assert before.version == mine[-2].aggregate_version
    assert after.version == mine[-1].aggregate_version
    day = date.fromisoformat(report["report_on"])
    assert app.claim_report(after, day) == report["invoices"][after.invoice]


@pytest.mark.parametrize("path", scenario_params())
def test_the_ledgers_view_of_the_state_before_posts_what_a_whole_copy_posts(path: Any) -> None:
    """The projector keeps of the state before an event only what the ledger reads (``before_view``):
    the postings from it equal the postings from a whole copy, event by event, claims and suspense alike."""
    app = CollectionApp()
    run_scenario(Scenario.load(path), app)
    ledger = Ledger()
    viewed, copied = CaseFolder(), CaseFolder()
    compared = 0
    for event in all_projected(app):
        view, after = viewed.step(event, ledger.before_view)
        whole, same = copied.advance(event)
        if isinstance(after, Claim):
            assert postings_for(view, after) == postings_for(whole, same)
            compared += 1
        elif isinstance(after, Suspense):
            assert suspense_postings(view, after) == suspense_postings(whole, same)
    assert compared > 0


def test_projections_that_never_read_the_state_before_keep_nothing_of_it() -> None:
    app = CollectionApp()
    run_scenario(Scenario.load(scenario_files()[0]), app)
    invoiced = next(e for e in all_projected(app) if e.event_type == "ClaimInvoiced")
    folder = CaseFolder()
    folder.advance(invoiced)
    claim = folder.get(invoiced.case_id)
    assert isinstance(claim, Claim)
    for projection in (LimitationWatch(), AuditTrail(), Parties()):
        assert projection.before_view(claim) is None
    view = Ledger().before_view(claim)
    assert view is not None and view.owed is not None


def test_the_limitation_watch_reads_every_jurisdictions_rules_when_it_is_made_ready(monkeypatch: Any) -> None:
    import domain.rules

    asked: list[str] = []  # ready() reads them through load_all_rules, which asks domain.rules' rules_for
    monkeypatch.setattr(domain.rules, "rules_for", lambda jurisdiction: asked.append(jurisdiction))
    LimitationWatch().ready()
    assert sorted(asked) == ["NO", "SE"]


def test_an_event_rebuilt_without_its_init_equals_the_stored_one_with_every_field_set() -> None:
    """``rebuild`` makes the event as eventsourcing's mapper does on replay (no ``__init__``): what it gives equals
    the domain's event and holds every field, as ``__init__`` would have set them, for every event type."""
    from projections.casefold import rebuild
    from tests.support.event_samples import sample_log

    seen = set()
    for position, event in sample_log():
        again = rebuild(projected(event, position))
        assert type(again) is type(event)
        assert again == event
        assert set(vars(again)) == {f.name for f in dataclasses.fields(event)}
        seen.add(type(event))
    assert len(seen) >= 40


def test_no_event_class_needs_its_init_run() -> None:
    """What ``rebuild`` skips would matter only for a class whose ``__init__`` does more than set its fields: the
    one ``__post_init__`` is eventsourcing's check that the originator id is a UUID, which ``rebuild`` makes it."""
    from eventsourcing.domain import DomainEvent

    for stored in BY_WIRE_NAME.values():
        checks = [k for k in stored.cls.__mro__ if "__post_init__" in vars(k)]
        assert checks == [DomainEvent], stored.wire_name
        assert all(f.init for f in dataclasses.fields(stored.cls)), stored.wire_name
