"""What `/giao` reads and writes of a task as it assigns or cancels one: the new task's
number, a hand-down already made, the targets of a task."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from core.states import AssignmentState
from storage.models import Assignment, Target

NUMBER_TRIES = 5  # a task's number taken by a concurrent [Gửi]: try the next one


async def numbered(session: AsyncSession, build: Callable[[int], Assignment]) -> Assignment:
    """The new task `build(number)` stored with the next free number. Two staff sending at
    the same moment read the same highest number: the second insert waits for the first
    and fails on the unique number, so it takes the next one (in a savepoint, so nothing
    else of the event is undone)."""
    for attempt in range(NUMBER_TRIES):
        number = ((await session.exec(select(func.max(Assignment.number)))).first() or 0) + 1
        try:
            async with session.begin_nested():
                assignment = build(number)
                session.add(assignment)
                await session.flush()
            return assignment
        except IntegrityError:
            if attempt == NUMBER_TRIES - 1:
                raise
    raise AssertionError("unreachable")


async def hand_down_number(session: AsyncSession, parent_target_id: int) -> int | None:
    """The number of the task (not cancelled) handed down from office target
    `parent_target_id`, if there is one."""
    return (await session.exec(select(Assignment.number).where(
        Assignment.parent_target_id == parent_target_id,
        Assignment.state != AssignmentState.CANCELLED))).first()


async def targets_of(session: AsyncSession, assignment_id: int) -> Sequence[Target]:
    """Every target of the task, of every period."""
    return (await session.exec(select(Target).where(
        Target.assignment_id == assignment_id))).all()
