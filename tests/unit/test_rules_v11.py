"""The legal corrections of version 1.1, each on the day before and the day of its boundary.

Every expected date and figure is worked out by hand here from the statute (ADR 0012), not read
back from the parameter files.
"""

from __future__ import annotations

from datetime import date

import holidays
import pytest

from domain.calendar import SWEDISH_EVES, calendar_for, midsommarafton
from domain.rules import rules_for

# --- Sweden: lag (1930:173) 2 § — the three eves ----------------------------------------------


@pytest.mark.parametrize(
    ("year", "eve"),
    [(2024, date(2024, 6, 21)), (2025, date(2025, 6, 20)), (2026, date(2026, 6, 19)), (2027, date(2027, 6, 25))],
)
def test_midsommarafton_is_the_friday_between_19_and_25_june(year: int, eve: date) -> None:
    assert midsommarafton(year) == eve
    assert eve.weekday() == 4


def test_the_three_eves_are_the_ones_the_holidays_library_calls_de_facto_holidays() -> None:
    for year in range(2019, 2031):
        ours = {day_of(year) for day_of in SWEDISH_EVES.values()}
        theirs = set(holidays.country_holidays("SE", years=[year], categories=("de_facto",)))
        assert ours == theirs, year


@pytest.mark.parametrize(
    ("start", "end"),
    [
        # julafton 2027 is a Friday: 25, 26 (weekend + holidays) -> Monday 27 December
        (date(2024, 12, 24), date(2027, 12, 27)),
        # the day before julafton is an ordinary Thursday: it stays
        (date(2024, 12, 23), date(2027, 12, 23)),
        # nyårsafton 2025 is a Wednesday; 1 January is a holiday -> Friday 2 January 2026
        (date(2022, 12, 31), date(2026, 1, 2)),
        (date(2022, 12, 30), date(2025, 12, 30)),
        # midsommarafton 2026 is Friday 19 June; Saturday is midsommardagen -> Monday 22 June
        (date(2023, 6, 19), date(2026, 6, 22)),
        (date(2023, 6, 18), date(2026, 6, 18)),
    ],
)
def test_swedish_three_year_period_ending_on_an_eve_moves_to_the_next_working_day(start: date, end: date) -> None:
    assert rules_for("SE").period_end(start, 3) == end


def test_norway_does_not_move_a_period_off_christmas_eve() -> None:
    # foreldelsesloven § 29 names Saturdays, Sundays and holidays only: 24 December 2027 is a Friday
    assert rules_for("NO").period_end(date(2024, 12, 24), 3) == date(2027, 12, 24)
    assert calendar_for("NO").is_working_day(date(2027, 12, 24))
    assert not calendar_for("SE").is_working_day(date(2027, 12, 24))
    assert calendar_for("SE").holiday_name(date(2027, 12, 24)) == "Julafton"
