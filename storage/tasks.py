"""The lookups of the task lifecycle: a task's targets and their units, its hand-downs (the
child tasks an office made from its target of a parent task), recurring tasks and their
periods, and the audit log."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from core.states import OPEN_TARGET_STATES, AssignmentState, TargetState
from storage.figures import EVERY_UNIT, Tally, tallies
from storage.models import Assignment, AuditLog, Target, Unit
from storage.queries import for_change

# A condition on `Target` that a caller passes through without building it (a scope's).
TargetCondition = ColumnElement[bool]

# --- targets and their units ---------------------------------------------------------------


async def locked_targets(session: AsyncSession, *conditions: Any) -> list[Target]:
    """The targets that meet `conditions`, their rows locked and read afresh, in id order:
    every lock of several targets is taken in that order, so two workers never wait for
    each other crosswise."""
    return list((await session.exec(for_change(
        select(Target).where(*conditions).order_by(col(Target.id))))).all())


async def locked_targets_by_id(session: AsyncSession, ids: Sequence[int | None]
                               ) -> list[Target]:
    """`locked_targets` of the targets `ids`."""
    return await locked_targets(session, col(Target.id).in_(ids))


async def locked_targets_of_units(session: AsyncSession, assignment_id: int | None,
                                  period: str, unit_ids: Sequence[int | None]) -> list[Target]:
    """`locked_targets` of the task's `period` for `unit_ids`, but those taken off the task
    (what `/mien` and `/giahan` decide on)."""
    return await locked_targets(session, Target.assignment_id == assignment_id,
                                Target.period == period, Target.state != TargetState.REMOVED,
                                col(Target.unit_id).in_(unit_ids))


async def period_targets(session: AsyncSession, assignment_id: int, period: str, *,
                         lock: bool = False) -> list[Target]:
    """The targets of a task's `period`, those taken off included, by id; with `lock`, their
    rows locked and read afresh (before they are changed)."""
    conditions = (Target.assignment_id == assignment_id, Target.period == period)
    if lock:
        return await locked_targets(session, *conditions)
    return list((await session.exec(select(Target).where(*conditions)
                                    .order_by(col(Target.id)))).all())


async def open_targets(session: AsyncSession, assignment_id: int,
                       period: str | None = None) -> list[Target]:
    """The targets of a task that have not answered, of `period` (None: of every period)."""
    query = select(Target).where(Target.assignment_id == assignment_id)
    if period is not None:
        query = query.where(Target.period == period)
    query = query.where(col(Target.state).in_(OPEN_TARGET_STATES))
    return list((await session.exec(query)).all())


async def first_target_of(session: AsyncSession, assignment_id: int, period: str,
                          unit_ids: Sequence[int]) -> Target | None:
    """The first (by id) target of a task's `period` among the units `unit_ids`."""
    return (await session.exec(select(Target).where(
        Target.assignment_id == assignment_id, Target.period == period,
        col(Target.unit_id).in_(unit_ids)).order_by(col(Target.id)))).first()


async def targets_by_id(session: AsyncSession, ids: Sequence[int]) -> dict[int, Target]:
    """The targets `ids`, by id (not locked: `locked_targets_by_id`)."""
    return {t.id: t for t in (await session.exec(  # type: ignore[misc]
        select(Target).where(col(Target.id).in_(ids)))).all()}


async def target_states(session: AsyncSession, assignment_id: int, period: str) -> list[str]:
    """The state of each target of a task's `period`."""
    return list((await session.exec(select(Target.state).where(
        Target.assignment_id == assignment_id, Target.period == period))).all())


async def earliest_deadline(session: AsyncSession, assignment_id: int) -> datetime | None:
    """The earliest deadline of any target of a task."""
    return (await session.exec(select(func.min(Target.deadline)).where(
        Target.assignment_id == assignment_id))).one()


async def unit_ids_on_task(session: AsyncSession, assignment_id: int, period: str) -> set[int]:
    """The units of a task's `period` but those taken off."""
    return set((await session.exec(select(Target.unit_id).where(
        Target.assignment_id == assignment_id, Target.period == period,
        Target.state != TargetState.REMOVED))).all())


async def units_missing(session: AsyncSession, assignment_id: int, period: str,
                        now: datetime) -> list[Unit]:
    """The units of a task's `period` that have not answered by their deadline, by code."""
    return list((await session.exec(
        select(Unit).join(Target, col(Target.unit_id) == col(Unit.id))
        .where(Target.assignment_id == assignment_id, Target.period == period,
               col(Target.state).in_(OPEN_TARGET_STATES),
               col(Target.deadline) < now)
        .order_by(col(Unit.code)))).all())


# --- hand-downs ----------------------------------------------------------------------------


async def hand_down_of(session: AsyncSession, target_id: int) -> Assignment | None:
    """The hand-down (not cancelled) made from office target `target_id`."""
    return (await session.exec(select(Assignment).where(
        Assignment.parent_target_id == target_id, Assignment.state != AssignmentState.CANCELLED)
        .order_by(col(Assignment.id)))).first()


async def active_hand_downs(session: AsyncSession, parent_id: int) -> list[Assignment]:
    """The active hand-downs of task `parent_id` (one level down)."""
    return list((await session.exec(select(Assignment).where(
        Assignment.parent_id == parent_id, Assignment.state == AssignmentState.ACTIVE))).all())


async def hand_downs_seen(session: AsyncSession, parent_id: int, period: str,
                          seen: TargetCondition | None) -> list[Assignment]:
    """The hand-downs (not cancelled) of task `parent_id` made from its office targets of
    `period` that meet `seen` (None for all)."""
    office_targets = select(Target.id).where(Target.assignment_id == parent_id,
                                             Target.period == period)
    if seen is not None:
        office_targets = office_targets.where(seen)
    return list((await session.exec(select(Assignment).where(
        Assignment.parent_id == parent_id, Assignment.state != AssignmentState.CANCELLED,
        col(Assignment.parent_target_id).in_(office_targets)))).all())


async def hand_down_tallies(session: AsyncSession, now: datetime,
                            parent_id: int) -> dict[tuple[int, str], Tally]:
    """The figures over all units of every hand-down (not cancelled) of task `parent_id`,
    in one read of the counters."""
    return await tallies(session, now, EVERY_UNIT,
                         col(Assignment.parent_id) == parent_id,
                         col(Assignment.state) != AssignmentState.CANCELLED)


def _told_of_hand_down() -> Any:
    """The tasks whose hand-down office was told it is done or due."""
    return select(AuditLog.assignment_id).where(
        col(AuditLog.action).in_(("handed_down_done", "handed_down_due")),
        col(AuditLog.assignment_id).is_not(None))


async def hand_downs_due_untold(session: AsyncSession, now: datetime) -> list[Assignment]:
    """The active hand-downs due by `now` whose office was not told yet."""
    return list((await session.exec(select(Assignment).where(
        col(Assignment.parent_id).is_not(None), Assignment.state == AssignmentState.ACTIVE,
        col(Assignment.deadline) <= now,
        col(Assignment.id).not_in(_told_of_hand_down())))).all())


async def hand_down_told(session: AsyncSession, assignment_id: int) -> bool:
    """Whether the office of hand-down `assignment_id` was told it is done or due."""
    return (await session.exec(_told_of_hand_down().where(
        AuditLog.assignment_id == assignment_id).limit(1))).first() is not None


# --- recurring tasks and their periods -----------------------------------------------------


async def recurring_tasks(session: AsyncSession) -> list[Assignment]:
    """The active recurring tasks, by number."""
    return list((await session.exec(
        select(Assignment).where(Assignment.state == AssignmentState.ACTIVE,
                                 col(Assignment.recurrence).is_not(None))
        .order_by(col(Assignment.number)))).all())


async def period_opened(session: AsyncSession, assignment_id: int, period: str) -> bool:
    """Whether the task has targets of `period`."""
    return (await session.exec(select(Target.id).where(
        Target.assignment_id == assignment_id, Target.period == period).limit(1))).first() \
        is not None


# --- the audit log -------------------------------------------------------------------------


async def logged(session: AsyncSession, action: str, detail: str) -> bool:
    """Whether the audit log has an entry of `action` with `detail` (a once-only marker)."""
    return (await session.exec(select(AuditLog.id).where(
        AuditLog.action == action, AuditLog.detail == detail))).first() is not None


_WRITE_AUDIT = AuditLog.__table__.insert()  # type: ignore[attr-defined]


async def write_audit(session: AsyncSession, row: dict[str, Any]) -> None:
    """One audit log entry (its columns), as a Core statement: every answer writes one, and
    an ORM object would cost it a flush of its own."""
    connection = await session.connection()
    await connection.execute(_WRITE_AUDIT, row)


async def latest_audit_entries(session: AsyncSession, assignment_id: int,
                               limit: int) -> list[AuditLog]:
    """The latest `limit` audit log entries of a task, oldest first."""
    return list(reversed((await session.exec(
        select(AuditLog).where(AuditLog.assignment_id == assignment_id)
        .order_by(col(AuditLog.id).desc()).limit(limit))).all()))
