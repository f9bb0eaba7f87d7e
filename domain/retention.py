"""How long the office must keep a debtor's identity after the debtor's claims are closed.

A closed claim's accounting documentation (the invoice, the payments, the notices: primary
documentation that names the debtor) must be kept for a number of years after the end of the fiscal
year in which it was last posted — bokføringsloven § 13 (2) in Norway, lag (2018:597) om kommunal
bokföring och redovisning 3 kap. in Sweden (``accounting_retention_years``). Until then the debtor
register keeps the person; from the next day the person may be erased.

Readings recorded (ADR 0014):

- the fiscal year is the calendar year (municipal accounts in both countries);
- the period that applies is the one in force at the end of the fiscal year in which the claim closed
  (as Swedish archives apply the 2019 change: material from 2019 seven years, older ten);
- a debtor's retention runs from the *latest* closing among all the debtor's claims;
- archive law (arkivlova, arkivlagen) may oblige a municipality to keep records longer or to decide
  the culling (gallringsbeslut) itself: erasure is therefore offered, never done behind the office's
  back (``kravsak debtors erasable`` lists, ``kravsak debtors erase`` acts).
"""

from __future__ import annotations

from datetime import date

from domain.rules import rules_for


def retention_years(jurisdiction: str, fiscal_year: int) -> int:
    """The retention period in force at the end of ``fiscal_year``."""
    return int(rules_for(jurisdiction).params.value("accounting_retention_years", date(fiscal_year, 12, 31)))


def retention_end(jurisdiction: str, closed_on: date) -> date:
    """The last day the documentation of a claim closed on ``closed_on`` must be kept."""
    return date(closed_on.year + retention_years(jurisdiction, closed_on.year), 12, 31)
