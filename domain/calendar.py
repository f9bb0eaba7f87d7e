"""Business calendars per jurisdiction, from the ``holidays`` library.

A working day is a weekday that is not a public holiday. Norway: foreldelsesloven § 29 and
domstolloven § 149 move a period ending on a Saturday, Sunday or holiday to the next working day.
Sweden: lag (1930:173) om beräkning av lagstadgad tid 2 § does the same for a period ending on a
Saturday, Sunday, other public holiday, *midsommarafton, julafton or nyårsafton* — three eves that
are no public holidays, so the ``holidays`` SE calendar lacks them; ``SWEDISH_EVES`` adds them here,
the one place every Swedish date roll reads from (https://lagen.nu/1930:173 2 §, wording in force
since SFS 1987:1212; the engine's calendar starts in 1990). Norway's § 29 names no eves.
"""

from __future__ import annotations

import calendar as _cal
from collections.abc import Callable
from datetime import date, timedelta
from functools import lru_cache

import holidays

YEARS = range(1990, 2061)


def midsommarafton(year: int) -> date:
    """The Friday between 19 and 25 June (midsommardagen is the Saturday after it)."""
    day = date(year, 6, 19)
    return day + timedelta(days=(4 - day.weekday()) % 7)


SWEDISH_EVES: dict[str, Callable[[int], date]] = {
    "Midsommarafton": midsommarafton,
    "Julafton": lambda year: date(year, 12, 24),
    "Nyårsafton": lambda year: date(year, 12, 31),
}
"""Lag (1930:173) 2 §: days a period's last day moves off, beside weekends and public holidays."""


class BusinessCalendar:
    """Working days of one country."""

    def __init__(self, country: str) -> None:
        self.country = country
        public = holidays.country_holidays(country, years=YEARS)
        self._holidays: dict[date, str] = {d: str(n) for d, n in public.items()}
        if country == "SE":
            for name, day_of in SWEDISH_EVES.items():
                for year in YEARS:
                    self._holidays.setdefault(day_of(year), name)

    def is_holiday(self, day: date) -> bool:
        return day in self._holidays

    def is_working_day(self, day: date) -> bool:
        return day.weekday() < 5 and day not in self._holidays

    def next_working_day(self, day: date) -> date:
        """``day`` itself when it is a working day, else the first working day after it."""
        while not self.is_working_day(day):
            day += timedelta(days=1)
        return day

    def holiday_name(self, day: date) -> str | None:
        return self._holidays.get(day)


@lru_cache(maxsize=4)
def calendar_for(country: str) -> BusinessCalendar:
    return BusinessCalendar(country)


def add_years(day: date, years: int) -> date:
    """Same calendar date ``years`` later; 29 February becomes the last day of February."""
    target_year = day.year + years
    last = _cal.monthrange(target_year, day.month)[1]
    return date(target_year, day.month, min(day.day, last))


def add_months(day: date, months: int) -> date:
    """Same day-of-month ``months`` later, clamped to the month's last day."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    last = _cal.monthrange(year, month)[1]
    return date(year, month, min(day.day, last))
