"""Letters: each type says what the law requires (checked on the PDF's own text), the figures come
from the case's events, and rendering is deterministic."""

from __future__ import annotations

import io
from datetime import date
from functools import cache
from typing import Any

import pypdf
import pytest

from domain.application import CollectionApp
from letters.content import kinds, missing, rules_for
from letters.letterheads import Letterheads, NoLetterhead
from letters.render import CannotRender, money, plain_text, render_document, render_html
from letters.samples import Sample, samples

HEADS = Letterheads.load()


@cache
def _samples() -> dict[str, Sample]:
    return {f"{s.jurisdiction}-{s.kind}": s for s in samples()}


def _html(s: Sample) -> str:
    sender = HEADS.for_creditor(s.facts["creditor_id"], date.fromisoformat(s.facts["sent_on"]))
    return render_html(s.facts, recipient=s.recipient, sender=sender, creditor_name=s.creditor_name)


@cache
def _pdf(key: str) -> tuple[bytes, int]:
    return render_document(_html(_samples()[key]))


def _account(s: Sample) -> str:
    sender = HEADS.for_creditor(s.facts["creditor_id"], date.fromisoformat(s.facts["sent_on"]))
    return sender.account or sender.bankgiro or ""


def test_there_is_a_sample_of_every_letter_type_with_content_rules() -> None:
    assert {s.kind for s in _samples().values()} == set(kinds())


@pytest.mark.parametrize("key", sorted(_samples()))
def test_the_pdf_says_everything_its_letter_type_must(key: str) -> None:
    s = _samples()[key]
    pdf, pages = _pdf(key)
    text = "\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf)).pages)
    assert pages <= 2
    assert missing(s.facts, text, creditor=s.creditor_name, account=_account(s)) == []
    assert s.recipient.name in text
    for rule in rules_for(s.kind, s.jurisdiction):
        assert rule.source  # every requirement names its source


def test_a_letter_without_the_required_statement_is_caught() -> None:
    s = _samples()["NO-inkassovarsel"]
    text = plain_text(_html(s)).replace("vil vi sette i gang innkreving (inkasso)", "kan saken gå videre")
    broken = missing(s.facts, text, creditor=s.creditor_name, account=_account(s))
    assert [b.split(":")[0] for b in broken] == ["steps_follow"]


def test_a_deadline_shorter_than_the_law_allows_is_caught() -> None:
    s = _samples()["NO-betalingsoppfordring"]
    facts = {**s.facts, "deadline": s.facts["sent_on"]}
    broken = missing(facts, plain_text(_html(s)), creditor=s.creditor_name, account=_account(s))
    assert any(b.startswith("deadline_days: 0 days given, at least 14") for b in broken)


def test_rendering_the_same_letter_twice_gives_the_same_bytes() -> None:
    s = _samples()["SE-inkassokrav"]
    assert render_document(_html(s))[0] == _pdf("SE-inkassokrav")[0]


def test_the_letter_states_interest_to_the_sending_day_as_the_domain_computes_it() -> None:
    s = _samples()["NO-betalingsoppfordring"]
    from letters.samples import ALTA, NAMESPACE, _run

    app = CollectionApp(namespace=NAMESPACE)
    _run(app)
    claim = app.claim(ALTA, "250117")
    report: dict[str, Any] = app.claim_report(claim, date.fromisoformat(s.facts["sent_on"]))
    assert s.facts["amounts"]["interest"] == report["interest"]
    assert s.facts["total"] == report["balance"]
    assert s.facts["fee"] == "105.00" and s.facts["interest_from"] == "2025-02-21"
    assert [n["notice"] for n in s.facts["previous_notices"]] == ["purring", "inkassovarsel"]


def test_a_creditor_without_a_letterhead_gets_no_letter() -> None:
    with pytest.raises(NoLetterhead, match="no letterhead for creditor 9999"):
        HEADS.for_creditor("9999", date(2025, 1, 1))


def test_a_letter_type_without_a_template_is_refused() -> None:
    s = _samples()["NO-purring"]
    with pytest.raises(CannotRender, match="no nb template for a paminnelse letter"):
        render_html({**s.facts, "kind": "paminnelse"}, recipient=s.recipient, sender=HEADS.for_creditor("5601",
                    date(2025, 3, 1)), creditor_name="Alta kommune")  # fmt: skip


def test_an_english_speaking_debtor_gets_a_summary_in_english() -> None:
    s = _samples()["NO-inkassovarsel"]
    from letters.render import Recipient

    html = render_html(
        s.facts,
        recipient=Recipient(s.recipient.name, s.recipient.address, "en"),
        sender=HEADS.for_creditor("5601", date(2025, 3, 1)),
        creditor_name=s.creditor_name,
    )
    assert "In English:" in plain_text(html) and "debt collection warning" in plain_text(html)


def test_money_is_written_the_norwegian_and_the_swedish_way() -> None:
    assert money("1234.5", "nb") == "kr\u00a01\u00a0234,50"
    assert money("1234.5", "sv") == "1\u00a0234,50\u00a0kr"
