"""The content checklist: what each letter type must say (``content_rules.yaml``, with sources).

``missing(facts, text, ...)`` lists the rules a letter's text breaks. The dispatcher runs it on every
letter's HTML text before sending (a letter that misses a required statement is held, not sent); the
tests run it on the text pypdf extracts from the PDF.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from letters.render import LANGUAGE, day, money, pct

RULES_FILE = Path(__file__).resolve().parent / "content_rules.yaml"


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    what: str
    source: str
    must: tuple[str, ...]
    must_any: tuple[str, ...]
    must_not: tuple[str, ...]
    when: str | None


@cache
def _doc() -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load(RULES_FILE.read_text(encoding="utf-8"))
    return doc


def _rule(raw: dict[str, Any]) -> Rule:
    return Rule(
        str(raw["id"]),
        str(raw["what"]),
        str(raw["source"]),
        tuple(raw.get("must", ())),
        tuple(raw.get("must_any", ())),
        tuple(raw.get("must_not", ())),
        raw.get("when"),
    )


def kinds() -> dict[str, dict[str, Any]]:
    return dict(_doc()["kinds"])


def rules_for(kind: str, jurisdiction: str) -> list[Rule]:
    spec = _doc()["kinds"].get(kind)
    if spec is None:
        raise KeyError(f"no content rules for a {kind} letter")
    skip = set(spec.get("skip_common", ()))
    common = [_rule(r) for r in _doc()["common"][jurisdiction] if r["id"] not in skip]
    return common + [_rule(r) for r in spec["rules"]]


def normalise(text: str) -> str:
    return " ".join(text.replace("\u00a0", " ").replace("\u202f", " ").split()).casefold()


def placeholders(facts: dict[str, Any], *, creditor: str, account: str) -> dict[str, str]:
    lang = LANGUAGE[str(facts["jurisdiction"])]
    values = {
        "deadline": day(facts["deadline"], lang),
        "due": day(facts["due"], lang),
        "sent_on": day(facts["sent_on"], lang),
        "interest_from": day(facts["interest_from"], lang),
        "total": money(facts["total"], lang),
        "fee": money(facts["fee"], lang),
        "principal": money(facts["amounts"]["principal"], lang),
        "interest": money(facts["amounts"]["interest"], lang),
        "rate": pct(facts["rate_now"]),
        "kid": facts["kid"]
        if lang == "sv"
        else " ".join(facts["kid"][i : i + 5] for i in range(0, len(facts["kid"]), 5)),
        "account": account,
        "creditor": creditor,
        "invoice": str(facts["invoice"]),
    }
    if facts.get("installments"):
        values["first_due"] = day(facts["installments"][0]["due"], lang)
        values["plan_total"] = money(facts["plan_total"], lang)
    return values


def missing(facts: dict[str, Any], text: str, *, creditor: str, account: str) -> list[str]:
    """The rules the letter breaks, as "id: what (source)"; empty when it says all it must."""
    kind, jurisdiction = str(facts["kind"]), str(facts["jurisdiction"])
    spec = _doc()["kinds"][kind]
    values = placeholders(facts, creditor=creditor, account=account)
    have = normalise(text)
    broken: list[str] = []
    for rule in rules_for(kind, jurisdiction):
        if rule.when == "fee" and facts.get("fee") in (None, "0.00"):
            continue
        ok = all(normalise(p.format(**values)) in have for p in rule.must)
        if rule.must_any:
            ok = ok and any(normalise(p.format(**values)) in have for p in rule.must_any)
        ok = ok and not any(normalise(p.format(**values)) in have for p in rule.must_not)
        if not ok:
            broken.append(f"{rule.id}: {rule.what} ({rule.source})")
    least = spec.get("deadline_days")
    if least is not None:
        given = (date.fromisoformat(str(facts["deadline"])) - date.fromisoformat(str(facts["sent_on"]))).days
        if given < int(least):
            broken.append(f"deadline_days: {given} days given, at least {least} required")
    if re.search(r"\{[a-z_]+\}", have):
        broken.append("template: an unfilled placeholder")
    return broken
