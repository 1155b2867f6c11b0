"""Cascade rules: a task handed down by an office to the units below it."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from core.clock import LOCAL_TZ
from core.states import TargetState
from core.workcal import WorkCalendar


def working_days_before(calendar: WorkCalendar, day: date, days: int) -> date:
    """The working day `days` working days before `day` (days off are skipped; `day` itself
    need not be a working day)."""
    for _ in range(days):
        day = calendar.previous_working_day(day - timedelta(days=1))
    return day


def hand_down_deadline(calendar: WorkCalendar, office_deadline: datetime, lead_days: int,
                       now: datetime) -> datetime:
    """The default deadline of a hand-down: `lead_days` working days before the office's own
    deadline for the parent, at the same time of day; never before `now` (then the office's
    own deadline)."""
    local = office_deadline.astimezone(LOCAL_TZ)
    day = working_days_before(calendar, local.date(), lead_days)
    due = datetime.combine(day, local.timetz())
    return due if due > now else office_deadline


def answered(states: list[str]) -> bool:
    """Every unit of a hand-down has answered: submitted or excused (a unit taken off the
    task owes nothing)."""
    states = [state for state in states if state != TargetState.REMOVED]
    return bool(states) and all(state in (TargetState.SUBMITTED, TargetState.EXCUSED)
                                for state in states)
