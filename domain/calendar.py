"""Business calendars per jurisdiction, from the ``holidays`` library.

A working day is a weekday that is not a public holiday. Norway: foreldelsesloven § 29 and
domstolloven § 149 move a period ending on a Saturday, Sunday or holiday to the next working day.
Sweden: lag (1930:173) om beräkning av lagstadgad tid does the same.
"""

from __future__ import annotations

import calendar as _cal
from datetime import date, timedelta
from functools import lru_cache

import holidays


class BusinessCalendar:
    """Working days of one country."""

    def __init__(self, country: str) -> None:
        self.country = country
        self._holidays = holidays.country_holidays(country, years=range(1990, 2061))

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
        name = self._holidays.get(day)
        return str(name) if name is not None else None


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
