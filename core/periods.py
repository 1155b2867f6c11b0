"""Periods of a recurring task: which one is open at a given moment, and when the next opens.

The periods of a task are the deadlines of its recurrence, from its first deadline on. A
period opens `lead` before its deadline, but never before the previous period's deadline, so
at most one period lies ahead of a deadline that has not passed (a weekly task with a 30-day
lead opens each week when the previous week's deadline passes).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from core.clock import to_local
from core.deadlines import Recurrence

_LONGEST_PERIOD = timedelta(days=400)  # a year, with room to spare


def opens_at(previous_due: datetime, due: datetime, lead: timedelta) -> datetime:
    return max(due - lead, previous_due)


def current_period(rule: Recurrence, first_due: datetime, now: datetime,
                   lead: timedelta) -> datetime:
    """The deadline of the newest period that is open at `now` (the first one at the
    latest)."""
    due = to_local(first_due)
    start = to_local(now) - lead - _LONGEST_PERIOD
    if start > due:  # skip whole years of history; still a deadline of the same rule
        due = max(due, rule.next_due(start))
    while True:
        following = rule.next_due(due)
        if opens_at(due, following, lead) > now:
            return due
        due = following


def next_opening(rule: Recurrence, first_due: datetime, now: datetime,
                 lead: timedelta) -> datetime:
    """When the period after the one open at `now` opens (always later than `now`)."""
    due = current_period(rule, first_due, now, lead)
    return opens_at(due, rule.next_due(due), lead)
