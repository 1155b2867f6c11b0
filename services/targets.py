"""The one place where a target or a task changes state, and where the counters that
`/tiendo` reads move with it (`storage.tally`).

Two workers may handle two answers for the same target at the same moment (two principals of
one school, a double tap reaching two bot processes). So every change is applied to rows
read under a lock, never to values read earlier: `lock` takes the target's row
(`SELECT ... FOR NO KEY UPDATE` on PostgreSQL; SQLite has one writer at a time) and reads it
and its task again, so the second answer sees the first one committed and counts as a
re-submission. The counters move by increments in the same transaction (`tally.shift`).

A task cancelled takes its row and then its targets' rows, in that order, the same order as
an answer (target) followed by a read of its task: a cancel waits for the answers in hand,
and an answer that waited for a cancel sees the task cancelled.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import false, insert, literal, null
from sqlalchemy import select as core_select
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from core import transitions
from core.states import TargetState
from storage import tally, tasks
from storage.models import Assignment, Submission, Target, Unit, ident
from storage.queries import ROW_LOCK, locked, one_of, reads_as_committed

ID_CHUNK = 5000  # ids per IN (...) list on SQLite (PostgreSQL gets them as one array)


@dataclass(frozen=True)
class Counted:
    """What the counters know of a target: the fields `storage.tally` counts by."""

    unit_id: int
    assignment_id: int
    period: str
    state: str
    on_time: bool | None
    submitted_at: datetime | None
    deadline: datetime
    extension_granted: bool
    nil_report: bool


def counted(target: Target) -> Counted:
    return Counted(target.unit_id, target.assignment_id, target.period, target.state,
                   target.on_time, target.submitted_at, target.deadline,
                   bool(target.extension_granted), bool(target.nil_report))


async def _in_history(session: AsyncSession, assignment_id: int) -> bool:
    """Whether the task's targets count in their units' history (it is not cancelled), as
    committed now: read again, not from the session, since a cancel may have committed while
    this transaction waited for a target's lock."""
    state = (await session.exec(select(Assignment.state).where(
        Assignment.id == assignment_id))).one()
    return transitions.in_history(state)


async def _shift(session: AsyncSession, before: list[Counted], after: list[Counted]) -> None:
    if before == after:
        return
    in_history = await _in_history(session, (after or before)[0].assignment_id)
    await session.run_sync(lambda sync: tally.shift(sync.connection(), before, after,
                                                    in_history))


async def get(session: AsyncSession, target_id: int) -> Target | None:
    """The target `target_id`, its row locked until the commit and read afresh."""
    await session.flush()  # changes not yet written are not lost to the re-read
    return await session.get(Target, target_id, with_for_update=ROW_LOCK,
                             populate_existing=True)


async def lock(session: AsyncSession, target: Target) -> Assignment:
    """Lock `target`'s row and read it again, then its task: a change decided from them
    sees every change committed before it. Returns the task. `target` was read in this
    transaction: where that read is as committed (SQLite), neither is read again; where it
    was read under its lock (`storage.queries.note_locked`), only the task is, after it."""
    if reads_as_committed(session):
        assignment = await session.get(Assignment, target.assignment_id)
        assert assignment is not None
        return assignment
    if not locked(session, "target", ident(target)):
        await get(session, ident(target))
    assignment = await session.get(Assignment, target.assignment_id, populate_existing=True)
    assert assignment is not None
    return assignment


async def change(session: AsyncSession, target: Target, **values: Any) -> None:
    """Set `values` on `target` (read under `lock`) and move the counters to match."""
    before = counted(target)
    for name, value in values.items():
        setattr(target, name, value)
    session.add(target)
    await _shift(session, [before], [counted(target)])


async def add(session: AsyncSession, target: Target) -> Target:
    """A new target of a task, counted (it gets its id)."""
    session.add(target)
    await session.flush()
    await _shift(session, [], [counted(target)])
    return target


async def add_all(session: AsyncSession, assignment_id: int, unit_ids: Sequence[int],
                  period: str, deadline: datetime) -> list[int]:
    """New targets of one task's `period`, one per unit of `unit_ids`, all due at `deadline`,
    counted together; returns their ids in the order of `unit_ids` (units of the registry,
    by code). Written by an INSERT ... SELECT from the units (per chunk of ids on SQLite)
    and read back by (task, unit, period), with one move of the counters: no row passes
    through Python on the way in, and no ORM object is built (50,000 of them cost seconds)."""
    if not unit_ids:
        return []
    table = Target.__table__  # type: ignore[attr-defined]
    unit = Unit.__table__.c  # type: ignore[attr-defined]
    connection = await session.connection()
    for of_units in one_of(unit.id, unit_ids, connection.dialect.name, ID_CHUNK):
        await connection.execute(insert(table).from_select(
            ["assignment_id", "unit_id", "period", "deadline", "state", "percent",
             "submitted_at", "on_time", "nil_report", "extension_granted"],
            core_select(literal(assignment_id), unit.id, literal(period),
                        literal(deadline, table.c.deadline.type),
                        literal(TargetState.PENDING.value), null(),
                        null(), null(), false(), false())
            .where(of_units)
            .order_by(unit.code)))  # the ids in the order of codes, as the units come
    ids: dict[int, int] = dict((await connection.execute(core_select(
        table.c.unit_id, table.c.id).where(
            table.c.assignment_id == assignment_id, table.c.period == period))).all())
    await _shift(session, [], [Counted(unit_id, assignment_id, period, TargetState.PENDING,
                                       None, None, deadline, False, False)
                                for unit_id in unit_ids])
    return [ids[unit_id] for unit_id in unit_ids]


# --- the transitions (their rules: `core.transitions`) ------------------------------------


def facts(target: Target) -> transitions.Facts:
    """The facts of `target` that the rules read."""
    return transitions.Facts(TargetState(target.state), target.deadline, target.submitted_at,
                             target.on_time, target.percent, bool(target.extension_granted),
                             bool(target.nil_report))


async def _apply(session: AsyncSession, target: Target, after: transitions.Facts) -> None:
    """Write the facts that changed onto `target` (read under `lock`), moving the counters."""
    await change(session, target, **{name: getattr(after, name) for name in transitions.FIELDS
                                     if getattr(after, name) != getattr(target, name)})


async def submit(session: AsyncSession, target: Target, now: datetime,
                 nil: bool = False) -> bool:
    """A report (or «nothing to report», `nil`) for `target`. Returns True when this was a
    re-submission (the first one's time still counts)."""
    after, again = transitions.submit(facts(target), now, nil)
    await _apply(session, target, after)
    return again


async def progress(session: AsyncSession, target: Target, percent: int | None) -> None:
    await _apply(session, target, transitions.progress(facts(target), percent))


async def excuse(session: AsyncSession, target: Target) -> None:
    await _apply(session, target, transitions.excuse(facts(target)))


async def take_back_excuse(session: AsyncSession, target: Target, percent: int | None) -> None:
    await _apply(session, target, transitions.take_back_excuse(facts(target), percent))


async def extend(session: AsyncSession, target: Target, until: datetime) -> None:
    await _apply(session, target, transitions.extend(facts(target), until))


async def remove(session: AsyncSession, target: Target) -> None:
    """The unit taken off the task (`/sua`): the target and its answers stay as history."""
    await _apply(session, target, transitions.remove(facts(target)))


async def owe_again(session: AsyncSession, target: Target, deadline: datetime) -> None:
    """A unit taken off the task and added again (`/sua`)."""
    await _apply(session, target, transitions.owe_again(facts(target), deadline))


async def move_deadline(session: AsyncSession, target: Target, due: datetime) -> None:
    """The task's deadline moved to `due` (`/sua`)."""
    await _apply(session, target, transitions.move_deadline(facts(target), due))


async def recount(session: AsyncSession, target: Target, requires: str) -> None:
    """Set `target`'s state (read under `lock`) from its submissions that are not withdrawn
    ([Nộp nhầm]), as they would have left it (`core.transitions.recount`)."""
    await session.flush()
    rows = (await session.exec(select(Submission).where(
        Submission.target_id == target.id, col(Submission.withdrawn_at).is_(None))
        .order_by(col(Submission.created_at), col(Submission.id)))).all()
    answers = [transitions.Answer(row.kind, row.created_at, row.percent) for row in rows]
    await _apply(session, target, transitions.recount(facts(target), answers, requires))


async def lock_task(session: AsyncSession, assignment: Assignment) -> Assignment:
    """Lock the task's row and read it again (before deciding to cancel, close or reopen)."""
    await session.flush()
    locked = await session.get(Assignment, assignment.id, with_for_update=ROW_LOCK,
                               populate_existing=True)
    assert locked is not None
    return locked


async def set_task_state(session: AsyncSession, assignment: Assignment, state: str) -> None:
    """Cancel, close or reopen a task (read under `lock_task`). Crossing into or out of
    «cancelled» moves its targets out of or into their units' history: their rows are
    locked first, so no answer is in hand while they are summed."""
    was = assignment.state
    assignment.state = state
    session.add(assignment)
    sign = transitions.history_move(was, state)
    if not sign:
        return
    await tasks.locked_targets(session, Target.assignment_id == assignment.id)
    await session.flush()
    await session.run_sync(lambda sync: tally.move_task(sync.connection(),
                                                        assignment.id, sign))  # type: ignore[arg-type]
