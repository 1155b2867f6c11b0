"""The reminders of targets as rows: planning them for a whole period at once, dropping the
ones not sent yet, and the sweep's reads of the due ones."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import insert, literal, null
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from core.policy import PlannedReminder
from core.states import ReminderState
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
