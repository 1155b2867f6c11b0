"""Reminders are rows planned from the policy when a task is sent or a deadline moves; the
sweep turns the due ones into outbox messages in the same transaction."""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import partial

from core import policy as reminder_policy
from core.clock import to_local
from core.i18n import Translator
from core.states import (
    SETTLED_TARGET_STATES,
    AssignmentState,
    ReminderKind,
    ReminderState,
    TargetState,
)
from handlers.common import (
    calendar_of,
    members_with_role,
    members_with_role_in,
    policy_of,
    status_buttons,
    task_line,
    unit_name,
)
from handlers.context import Context
from storage import reminders as reminder_rows
from storage import tasks
from storage.db import Session
from storage.figures import aware
from storage.models import Assignment, AuditLog, Member, Reminder, Target, ident
from storage.units import unit_names

STALE_AFTER = timedelta(days=1)  # a reminder missed by longer is not sent late


def _planned(ctx: Context, deadline: datetime, assignment: Assignment) -> list:
    policy = policy_of(ctx.settings, assignment)
    calendar = calendar_of(ctx.settings)
    planned = reminder_policy.plan(deadline, ctx.now, policy, calendar)
    overdue = reminder_policy.next_overdue(deadline, ctx.now, 0, policy, calendar)
    return [*planned, *([overdue] if overdue else [])]


def plan_target(ctx: Context, target: Target, assignment: Assignment) -> None:
    """Plan the reminders of `target` from now on (before, on the day, first overdue);
    nothing while the task's reminders are paused (resuming plans them)."""
    if assignment.reminders_paused:
        return
    for item in _planned(ctx, target.deadline, assignment):
        ctx.session.add(Reminder(target_id=ident(target), due_at=item.due_at, kind=item.kind))


async def plan_period(ctx: Context, assignment: Assignment, deadline: datetime) -> None:
    """`plan_target` for every target of the task's current period, all new and due at
    `deadline` (`open_targets` opens a period): the plan is worked out once and each
    reminder of it written for all the targets by one INSERT ... SELECT, so the rows of a
    national task (250,000) never pass through Python."""
    if assignment.reminders_paused:
        return
    await reminder_rows.plan_for_period(ctx.session, assignment.id,  # type: ignore[arg-type]
                                        assignment.period, _planned(ctx, deadline, assignment))


async def unplan_target(ctx: Context, target: Target) -> None:
    """Drop the reminders of `target` not sent yet."""
    await reminder_rows.unplan(ctx.session, target.id)  # type: ignore[arg-type]


async def replan_target(ctx: Context, target: Target, assignment: Assignment) -> None:
    await unplan_target(ctx, target)
    plan_target(ctx, target, assignment)


async def next_due(session: Session) -> datetime | None:
    """The earliest planned reminder (one already due is the next thing to do)."""
    return await reminder_rows.next_due(session)


def reminder_text(t: Translator, ctx: Context, assignment: Assignment, target: Target,
                  unit: str) -> str:
    overdue = ctx.now > target.deadline
    head = (t("⚠️ Quá hạn nộp báo cáo {task}", task=task_line(t, assignment)) if overdue
            else t("⏰ Nhắc việc {task}", task=task_line(t, assignment)))
    lines = [
        head,
        t("Đơn vị: {unit}", unit=unit),
        t("Hạn nộp: {deadline} — {left}", deadline=t.moment(target.deadline),
          left=t.time_left(ctx.now, target.deadline)),
    ]
    if target.period:
        lines.append(t("Kỳ báo cáo: {period}", period=target.period))
    if target.state == TargetState.IN_PROGRESS:
        lines.append(t("Đơn vị đã báo đang làm ({percent}%); nhớ gửi báo cáo khi xong.",
                       percent=target.percent if target.percent is not None else "?"))
    lines.append(t("Trả lời tin này kèm tệp báo cáo, hoặc bấm một nút bên dưới."))
    return "\n".join(lines)


async def send_reminder(ctx: Context, target: Target, assignment: Assignment,
                        reminder_id: int | None) -> int:
    """Queue the reminder to every reporter of the target's unit; returns how many."""
    unit = await unit_name(ctx, target.unit_id)
    reporters = await members_with_role(ctx, target.unit_id, "reporter")
    for member in reporters:
        await ctx.send(member, lambda t: reminder_text(t, ctx, assignment, target, unit),
                       status_buttons(target.id), priority=1, target_id=target.id,  # type: ignore[arg-type]
                       assignment_id=assignment.id, reminder_id=reminder_id)
    return len(reporters)


async def claim_due(ctx: Context, now: datetime, limit: int | None = None) -> list[Reminder]:
    """The planned reminders due by `now` of up to `limit` targets, claimed for this
    transaction (`storage.reminders.claim_due` says how workers split them)."""
    return await reminder_rows.claim_due(ctx.session, now, limit)


async def sweep(ctx: Context, now: datetime, limit: int | None = None) -> tuple[int, int]:
    """Send the planned reminders due by `now` of up to `limit` targets; returns (reminders
    claimed, reminders sent). After downtime only the most recent missed reminder of each
    target goes out, and only when it is less than `STALE_AFTER` late (a restart on an old
    database, e.g. the console demo's, sends nothing from years ago); the others are marked
    skipped and the next overdue reminder is planned from now."""
    due = await claim_due(ctx, now, limit)
    latest: dict[int, Reminder] = {}
    for reminder in due:
        latest[reminder.target_id] = reminder
    # Everything the batch needs, read in a few queries (not three per target).
    ids = sorted(latest)
    by_id = await tasks.targets_by_id(ctx.session, ids)
    unit_ids = sorted({t.unit_id for t in by_id.values()})
    names = await unit_names(ctx.session, unit_ids)
    reporters_of = await members_with_role_in(ctx, unit_ids, "reporter")
    sent = 0
    for reminder in due:
        reminder.state = ReminderState.SKIPPED
        if latest[reminder.target_id] is reminder:
            target = by_id.get(reminder.target_id)
            assignment = await ctx.session.get(Assignment, target.assignment_id) if target else None
            stale = aware(reminder.due_at) < now - STALE_AFTER
            if target and assignment and assignment.state == AssignmentState.ACTIVE \
                    and not assignment.reminders_paused \
                    and target.state not in SETTLED_TARGET_STATES:
                reporters = [] if stale else reporters_of.get(target.unit_id, [])
                unit = names.get(target.unit_id, "?")
                for member in reporters:
                    ctx.send_bulk(member, partial(reminder_text, ctx=ctx, assignment=assignment,
                                                  target=target, unit=unit),
                                  status_buttons(ident(target)), priority=1,
                                  target_id=target.id, assignment_id=assignment.id,
                                  reminder_id=reminder.id)
                if reporters:
                    reminder.state = ReminderState.SENT
                    reminder.sent_at = now
                    sent += 1
                if reminder.kind == ReminderKind.OVERDUE:
                    count = await _plan_next_overdue(ctx, target, assignment)
                    if not stale:
                        await _escalate(ctx, target, assignment, count)
        ctx.session.add(reminder)
    await ctx.write_queued()
    return len(due), sent


async def _plan_next_overdue(ctx: Context, target: Target, assignment: Assignment) -> int:
    """Plan the next overdue reminder; returns how many overdue reminders went out so far."""
    count = await reminder_rows.overdue_reminders_out(ctx.session, target.id)  # type: ignore[arg-type]
    follow = reminder_policy.next_overdue(target.deadline, ctx.now, count,
                                          policy_of(ctx.settings, assignment),
                                          calendar_of(ctx.settings))
    if follow:
        ctx.session.add(Reminder(target_id=ident(target), due_at=follow.due_at,
                                 kind=ReminderKind.OVERDUE))
    return count


LEADER_AFTER = 2  # overdue reminders: the 2nd comes after one whole overdue working day
STAFF_AFTER = 4  # ... and the 4th after three


async def _escalate(ctx: Context, target: Target, assignment: Assignment, count: int) -> None:
    """After one overdue working day the unit's leaders hear of it; after three, the
    assigning staff get the list of units still missing (once a day per task)."""
    unit = await unit_name(ctx, target.unit_id)
    if count == LEADER_AFTER:
        for leader in await members_with_role(ctx, target.unit_id, "leader"):
            ctx.send_bulk(leader, lambda t: t("⚠️ {unit} chưa nộp nhiệm vụ {task}; hạn là "
                                              "{deadline} ({left}).", unit=unit,
                                              task=task_line(t, assignment),
                                              deadline=t.moment(target.deadline),
                                              left=t.time_left(ctx.now, target.deadline)),
                          priority=1, target_id=target.id, assignment_id=assignment.id)
    if count != STAFF_AFTER:
        return
    day = to_local(ctx.now).date().isoformat()
    marker = f"escalate:{assignment.id}:{target.period}:{day}"
    already = await tasks.logged(ctx.session, "escalate", marker)
    staff = await ctx.session.get(Member, assignment.assigned_by)
    if already or staff is None:
        return
    ctx.session.add(AuditLog(at=ctx.now, actor="system", action="escalate", detail=marker))
    missing = await tasks.units_missing(ctx.session, assignment.id,  # type: ignore[arg-type]
                                        target.period, ctx.now)
    names = "\n".join(f"• {u.name}" for u in missing[:30])
    ctx.send_bulk(staff, lambda t: t("⚠️ Nhiệm vụ {task} đã quá hạn 3 ngày làm việc; {n} đơn vị vẫn "
                                     "chưa nộp:\n{names}\nNhắc ngay: /nhac #{number}",
                                     task=task_line(t, assignment), n=len(missing), names=names,
                                     number=assignment.number),
                  priority=1, assignment_id=assignment.id)
