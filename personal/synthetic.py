"""Synthetic identity numbers that pass python-stdnum's checks and can never belong to a real person.

- Norway: fødselsnummer whose month is + 80 — Skatteetaten's test norm (the Tenor test register);
  ``domain.identity`` accepts them only where synthetic identities are allowed (tests, the demo).
- Sweden: personnummer whose month is + 20 (months 21–32 never occur in a personnummer or a
  samordningsnummer), with a correct Luhn digit. Skatteverket's own test numbers are a published
  list rather than a rule, so kravsak uses this impossible-month convention of its own.
- Organisations: organisation numbers with valid control digits (organisations are no natural
  persons; the numbers may coincide with a real organisation's, the names never do).
"""

from __future__ import annotations

import random
from datetime import date

from stdnum import luhn
from stdnum.no import fodselsnummer
from stdnum.no import orgnr as no_orgnr


def no_person(rng: random.Random, born: date | None = None) -> str:
    """An 11-digit Tenor-style synthetic fødselsnummer (month + 80)."""
    born = born or date(rng.randrange(1940, 2006), rng.randrange(1, 13), rng.randrange(1, 29))
    while True:
        base = f"{born.day:02d}{born.month + 80:02d}{born.year % 100:02d}{rng.randrange(0, 1000):03d}"
        k1 = fodselsnummer.calc_check_digit1(base)
        if len(k1) != 1:
            continue
        k2 = fodselsnummer.calc_check_digit2(base + k1)
        if len(k2) == 1:
            return base + k1 + k2


def se_person(rng: random.Random, born: date | None = None) -> str:
    """A 12-digit synthetic personnummer YYYYMMDDNNNC with an impossible month (+ 20)."""
    born = born or date(rng.randrange(1940, 2006), rng.randrange(1, 13), rng.randrange(1, 29))
    ten = f"{born.year % 100:02d}{born.month + 20:02d}{born.day:02d}{rng.randrange(0, 1000):03d}"
    return f"{born.year // 100:02d}{ten}{luhn.calc_check_digit(ten)}"


def no_organisation(rng: random.Random) -> str:
    while True:
        base = f"9{rng.randrange(0, 10**7):07d}"
        for check in "0123456789":
            if no_orgnr.checksum(base + check) == 0:
                return base + check


def se_organisation(rng: random.Random) -> str:
    base = f"55{rng.randrange(2, 10)}{rng.randrange(0, 10**6):06d}"
    return base + luhn.calc_check_digit(base)


def national_id(rng: random.Random, *, jurisdiction: str, kind: str) -> str:
    if kind == "organisation":
        return no_organisation(rng) if jurisdiction == "NO" else se_organisation(rng)
    return no_person(rng) if jurisdiction == "NO" else se_person(rng)
