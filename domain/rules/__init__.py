"""Rules per jurisdiction: ``rules_for("NO")`` and ``rules_for("SE")``."""

from __future__ import annotations

from functools import lru_cache

from domain.records import Jurisdiction
from domain.rules.base import EnforcementDecision, LimitationStep, NoticeDecision, Rules
from domain.rules.norway import NorwegianRules
from domain.rules.sweden import SwedishRules

__all__ = ["EnforcementDecision", "LimitationStep", "NoticeDecision", "Rules", "load_all_rules", "rules_for"]


@lru_cache(maxsize=4)
def rules_for(jurisdiction: str) -> Rules:
    j = Jurisdiction(jurisdiction)
    return NorwegianRules() if j == Jurisdiction.NO else SwedishRules()


def load_all_rules() -> None:
    """Every jurisdiction's rules, their parameter files and holiday calendars read now (``rules_for`` keeps them):
    a service calls this when it starts, so its first command does not pay for the reading (tens of ms)."""
    for jurisdiction in Jurisdiction:
        rules_for(jurisdiction.value)
