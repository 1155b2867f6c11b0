"""The Vietnamese working calendar: Sundays (and optionally Saturdays), public holidays
including the Tết window, and extra days off from the config."""

from __future__ import annotations

from datetime import date, timedelta
from functools import cache

import holidays


@cache
def _vietnam_holidays(year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays("VN", years=[year]).keys())


class WorkCalendar:
    def __init__(
        self,
        saturday_off: bool = False,
        public_holidays: bool = True,
        extra_days_off: tuple[date, ...] = (),
    ) -> None:
        self.saturday_off = saturday_off
        self.public_holidays = public_holidays
        self.extra = frozenset(extra_days_off)

    def is_day_off(self, day: date) -> bool:
        if day.weekday() == 6 or (self.saturday_off and day.weekday() == 5):
            return True
        if day in self.extra:
            return True
        return self.public_holidays and day in _vietnam_holidays(day.year)

    def previous_working_day(self, day: date) -> date:
        while self.is_day_off(day):
            day -= timedelta(days=1)
        return day

    def next_working_day(self, day: date) -> date:
        while self.is_day_off(day):
            day += timedelta(days=1)
        return day
