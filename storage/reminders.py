"""The reminders of targets as rows: planning them for a whole period at once, dropping the
ones not sent yet, and the sweep's reads of the due ones."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import delete, func, insert, literal, null, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from core.policy import PlannedReminder
from core.states import ReminderKind, ReminderState
from storage.models import Reminder, Target


async def plan_for_period(session: AsyncSession, assignment_id: int, period: str,
                          planned: Iterable[PlannedReminder]) -> None:
    """Each reminder of `planned` for every target of the task's `period`, by one
    INSERT ... SELECT per reminder (no target row passes through Python)."""
    table = Reminder.__table__  # type: ignore[attr-defined]
    connection = await session.connection()
    for item in planned:
        await connection.execute(insert(table).from_select(
            ["target_id", "due_at", "kind", "state", "sent_at"],
            select(col(Target.id), literal(item.due_at, table.c.due_at.type),  # type: ignore[call-overload]
                   literal(str(item.kind)), literal(ReminderState.PLANNED.value), null())
            .where(Target.assignment_id == assignment_id, Target.period == period)))


async def unplan(session: AsyncSession, target_id: int) -> None:
    """Drop the reminders of target `target_id` not sent yet."""
    await session.exec(delete(Reminder).where(
        col(Reminder.target_id) == target_id, col(Reminder.state) == ReminderState.PLANNED))


async def skip_past_periods(session: AsyncSession, assignment_id: int, period: str,
                            now: datetime) -> None:
    """Mark skipped the planned reminders of the task's targets of periods other than
    `period` whose deadline has passed by `now`."""
    past = select(Target.id).where(Target.assignment_id == assignment_id,
                                   Target.period != period, col(Target.deadline) < now)
    await session.exec(update(Reminder).where(
        col(Reminder.state) == ReminderState.PLANNED, col(Reminder.target_id).in_(past))
        .values(state=ReminderState.SKIPPED))


async def next_due(session: AsyncSession) -> datetime | None:
    """The earliest planned reminder (one already due is the next thing to do)."""
    return (await session.exec(
        select(func.min(Reminder.due_at)).where(Reminder.state == ReminderState.PLANNED)
    )).first()


async def claim_due(session: AsyncSession, now: datetime,
                    limit: int | None = None) -> list[Reminder]:
    """The planned reminders due by `now` of up to `limit` targets, claimed for this
    transaction. The claim locks the targets: on PostgreSQL with `FOR UPDATE SKIP LOCKED`,
    so several bot processes sweeping at once split the targets between them and never turn
    the same reminder into two messages; on SQLite every write transaction starts with
    `BEGIN IMMEDIATE` (storage.db), so sweeps run one after another. Locking targets, not
    reminders, keeps all due reminders of a target in one sweep (only the latest is sent)."""
    due_targets = select(Reminder.target_id).where(
        Reminder.state == ReminderState.PLANNED, col(Reminder.due_at) <= now)
    query = select(Target.id).where(col(Target.id).in_(due_targets)).order_by(col(Target.id))
    if limit is not None:
        query = query.limit(limit)
    if session.bind.dialect.name == "postgresql":  # type: ignore[union-attr]
        query = query.with_for_update(skip_locked=True)
    targets = list((await session.exec(query)).all())
    if not targets:
        return []
    # A new statement sees what a worker that held a lock committed meanwhile.
    return list((await session.exec(
        select(Reminder).where(col(Reminder.target_id).in_(targets),
                               Reminder.state == ReminderState.PLANNED, col(Reminder.due_at) <= now)
        .order_by(col(Reminder.due_at), col(Reminder.id))
    )).all())


async def overdue_reminders_out(session: AsyncSession, target_id: int) -> int:
    """How many overdue reminders of target `target_id` went out (sent or skipped)."""
    return (await session.exec(select(func.count()).select_from(Reminder).where(
        Reminder.target_id == target_id, Reminder.kind == ReminderKind.OVERDUE,
        col(Reminder.state).in_((ReminderState.SENT, ReminderState.SKIPPED))))).one()
