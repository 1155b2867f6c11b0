"""Roll-over of recurring tasks: when a new period opens (`reminders.period_lead_days` before
its deadline), each unit of the task gets a target for it, labelled with the period, with its
own reminders. Past periods' targets stay as they are: they are the task's history (a unit
that never answered stays missing there), but their reminders stop: the new period's
reminders take over, so a unit gets at most one reminder a day for the task."""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import partial

from core.deadlines import Recurrence
from core.i18n import Translator
from core.periods import current_period, next_opening
from core.states import AssignmentState
from handlers.context import Context
from handlers.giao import open_targets, task_line
from services import targets
from storage import reminders as reminder_rows
from storage import tasks
from storage.models import Assignment, Member, StoredFile, ident
from storage.units import units_by_id


def _lead(ctx: Context) -> timedelta:
    return timedelta(days=ctx.settings.reminders.period_lead_days)


async def _recurring(ctx: Context) -> list[Assignment]:
    return await tasks.recurring_tasks(ctx.session)


async def roll_over(ctx: Context, now: datetime) -> int:
    """Open the period that has come, for every active recurring task; returns how many
    periods were opened. After downtime only the newest period opens, not the missed ones."""
    opened = 0
    for assignment in await _recurring(ctx):
        rule = Recurrence.from_rule(assignment.recurrence or "")
        due = current_period(rule, assignment.deadline, now, _lead(ctx))
        period = rule.period_label(due)
        if await _opened(ctx, assignment, period):
            continue
        # Another worker's sweep may be opening it at the same moment: the task's row is
        # locked and the question asked again, so the period opens once.
        await targets.lock_task(ctx.session, assignment)
        if assignment.state != AssignmentState.ACTIVE or await _opened(ctx, assignment, period):
            continue
        # The units of the current period: those added since come along, those taken off
        # (`/sua`) do not.
        unit_ids = await tasks.unit_ids_on_task(ctx.session, ident(assignment),
                                                assignment.period)
        units = await units_by_id(ctx.session, unit_ids)
        plan = await ctx.session.get(StoredFile, assignment.file_id) \
            if assignment.file_id else None
        await _withdraw_past_reminders(ctx, assignment, period)
        recipients, _ = await open_targets(ctx, assignment, units, due, period,
                                           plan.original_name if plan else None, rolled=True)
        staff = await ctx.session.get(Member, assignment.assigned_by)
        if staff is not None:
            await ctx.send(staff, partial(_opened_text, assignment=assignment, period=period,
                                          deadline=due, units=len(units), people=recipients),
                           priority=1, assignment_id=assignment.id)
        await ctx.audit("roll_over", assignment.id, number=assignment.number, period=period,
                  units=len(units))
        opened += 1
    return opened


def _opened_text(t: Translator, assignment: Assignment, period: str, deadline: datetime,
                 units: int, people: int) -> str:
    return t("🔁 Đã mở kỳ {period} của nhiệm vụ {task}: hạn {deadline}, {units} đơn vị "
             "({people} người nhận).", period=period, task=task_line(t, assignment),
             deadline=t.moment(deadline), units=units, people=people)


async def _opened(ctx: Context, assignment: Assignment, period: str) -> bool:
    return await tasks.period_opened(ctx.session, ident(assignment), period)


async def _withdraw_past_reminders(ctx: Context, assignment: Assignment, period: str) -> None:
    """Past periods' reminders stop, but for targets whose (extended) deadline is still
    ahead: those are chased until it."""
    await reminder_rows.skip_past_periods(ctx.session, ident(assignment),
                                          period, ctx.now)


async def next_opening_after(ctx: Context, after: datetime) -> datetime | None:
    """The next moment after `after` when a recurring task opens a period."""
    moments = [
        next_opening(Recurrence.from_rule(a.recurrence or ""), a.deadline, after, _lead(ctx))
        for a in await _recurring(ctx)
    ]
    return min(moments, default=None)

