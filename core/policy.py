"""The reminder policy: when reminders are owed for a deadline.

Reminders fall at fixed times of day: some days before the deadline, on the day, then each
working day while overdue. One that would fall on a day off or in quiet hours moves to the
previous working morning, or to the next one when that would already be past. Deadlines
themselves never move with the calendar.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from core.clock import LOCAL_TZ, to_local
from core.states import ReminderKind
from core.workcal import WorkCalendar


@dataclass(frozen=True)
class Policy:
    offsets_days: tuple[int, ...] = (7, 3, 1)
    before_time: time = time(8, 0)
    on_day_time: time = time(7, 30)
    overdue_time: time = time(8, 0)
    overdue_max: int = 10
    quiet_start: time = time(21, 0)
    quiet_end: time = time(7, 0)


@dataclass(frozen=True)
class PlannedReminder:
    due_at: datetime
    kind: ReminderKind


def _in_quiet_hours(at: time, policy: Policy) -> bool:
    if policy.quiet_start > policy.quiet_end:  # spans midnight, e.g. 21:00–07:00
        return at >= policy.quiet_start or at < policy.quiet_end
    return policy.quiet_start <= at < policy.quiet_end


def _at(day: date, at: time) -> datetime:
    return datetime.combine(day, at, tzinfo=LOCAL_TZ)


def place(moment: datetime, now: datetime, policy: Policy, calendar: WorkCalendar) \
        -> datetime | None:
    """Where a reminder meant for `moment` is actually sent (None: not at all)."""
    local = to_local(moment)
    day, at = local.date(), local.timetz().replace(tzinfo=None)
    if _in_quiet_hours(at, policy):
        if at >= policy.quiet_start and policy.quiet_start > policy.quiet_end:
            day += timedelta(days=1)
        at = policy.quiet_end
    if not calendar.is_day_off(day):
        return _at(day, at)
    earlier = _at(calendar.previous_working_day(day), at)
    if earlier > now:
        return earlier
    later = _at(calendar.next_working_day(day), at)
    return later if later > now else None


def bulk_wait(now: datetime, policy: Policy, calendar: WorkCalendar) -> datetime | None:
    """When a message that answers nobody (a task announcement, a nudge, a period opening,
    an escalation) may go out if it is written at `now`: None for at once; in quiet hours or
    on a day off, the end of quiet hours on the next working day."""
    local = to_local(now)
    day, at = local.date(), local.timetz().replace(tzinfo=None)
    quiet = _in_quiet_hours(at, policy)
    if not quiet and not calendar.is_day_off(day):
        return None
    if quiet and at >= policy.quiet_start and policy.quiet_start > policy.quiet_end:
        day += timedelta(days=1)  # late evening: tomorrow morning
    elif not quiet or at >= policy.quiet_end:
        day += timedelta(days=1)  # a day off after its quiet hours: a later day
    return _at(calendar.next_working_day(day), policy.quiet_end)


def plan(deadline: datetime, now: datetime, policy: Policy, calendar: WorkCalendar) \
        -> list[PlannedReminder]:
    """The reminders before and on the day of `deadline`, planned at `now`, one a day at
    most. Overdue reminders are planned one at a time by `next_overdue`."""
    local_deadline = to_local(deadline)
    wanted = [
        (_at(local_deadline.date() - timedelta(days=d), policy.before_time), ReminderKind.BEFORE)
        for d in policy.offsets_days
    ]
    wanted.append((_at(local_deadline.date(), policy.on_day_time), ReminderKind.ON_DAY))
    planned: dict[date, PlannedReminder] = {}
    for nominal, kind in wanted:
        if nominal <= now or nominal >= deadline:
            continue
        moment = place(nominal, now, policy, calendar)
        if moment is None or moment <= now or moment >= deadline:
            continue
        day = to_local(moment).date()
        planned.setdefault(day, PlannedReminder(moment, kind))
    return sorted(planned.values(), key=lambda r: r.due_at)


def next_overdue(deadline: datetime, after: datetime, sent: int, policy: Policy,
                 calendar: WorkCalendar) -> PlannedReminder | None:
    """The next overdue reminder strictly after `after` (and after the deadline), unless
    `sent` overdue reminders already went out."""
    if sent >= policy.overdue_max:
        return None
    start = max(to_local(after), to_local(deadline))
    day = start.date()
    while True:
        day = calendar.next_working_day(day)
        moment = _at(day, policy.overdue_time)
        if moment > start:
            return PlannedReminder(moment, ReminderKind.OVERDUE)
        day += timedelta(days=1)
