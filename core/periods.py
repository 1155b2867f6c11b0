"""Periods of a recurring task: which one is open at a given moment, and when the next opens.

The periods of a task are the deadlines of its recurrence, from its first deadline on. A
period opens `lead` before its deadline, but never before the previous period's deadline, so
at most one period lies ahead of a deadline that has not passed (a weekly task with a 30-day
lead opens each week when the previous week's deadline passes).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime, timedelta

from core.clock import to_local
from core.deadlines import Recurrence
from core.text import fold

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


def _label_forms(label: str) -> tuple[str, ...]:
    """How a period label may be written in a caption: «năm học 2023-2024» also as
    «2023-2024»."""
    folded = fold(label)
    return (folded, folded.removeprefix("nam hoc ").strip()) if folded.startswith("nam hoc ") \
        else (folded,)


def _written(form: str, text: str) -> bool:
    """`form` in `text` as a whole: «2023» is not inside «2023-2024» nor «12/2023»."""
    return re.search(rf"(?<![\w/-]){re.escape(form)}(?![\w/-])", text) is not None


def named_periods(text: str, labels: Iterable[str]) -> list[str]:
    """The period labels that `text` names (a caption «báo cáo năm 2023 nộp bổ sung» names
    «2023»), the longest kept where one contains another."""
    folded = fold(text)
    found = [label for label in labels if label
             and any(_written(form, folded) for form in _label_forms(label))]
    return [label for label in found
            if not any(label != other and fold(label) in fold(other) for other in found)]


def names_a_year(text: str) -> bool:
    """Whether `text` names a year on its own (not inside a date): «bổ sung năm 2022»."""
    return re.search(r"(?<![\w/-])(19|20)\d\d(?![\w/])", fold(text)) is not None
