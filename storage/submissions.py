"""What a unit owes and what it submitted: its open and submitted targets of active tasks,
the periods of a task it has, the submissions of a target."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import bindparam
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from core.states import OPEN_TARGET_STATES, AssignmentState, SubmissionKind, TargetState
from storage.models import Assignment, Submission, Target, ident
from storage.queries import ROW_LOCK, note_locked, reads_as_committed


async def current_periods(session: AsyncSession, assignment_ids: Iterable[int]
                          ) -> dict[int, str]:
    """The period each of the tasks is in now (the one it opened last)."""
    return dict((await session.exec(select(Assignment.id, Assignment.period).where(
        col(Assignment.id).in_(assignment_ids)))).all())  # type: ignore[arg-type]


# Built once, with bind parameters: every answer reads it (see `storage.events`).
_OPEN_TARGETS = (
    select(Target, Assignment)
    .join(Assignment, col(Assignment.id) == col(Target.assignment_id))
    .where(col(Target.unit_id).in_(bindparam("unit_ids", expanding=True)),
           col(Target.state).in_(OPEN_TARGET_STATES),
           Assignment.state == AssignmentState.ACTIVE)
    .order_by(col(Target.deadline), col(Assignment.number))
)


# ... with the targets' rows locked and read afresh (not their tasks': every answer to a
# national task would take turns on its row).
_OPEN_TARGETS_LOCKED = _OPEN_TARGETS.with_for_update(of=Target, **ROW_LOCK).execution_options(
    populate_existing=True)


async def open_targets_of(session: AsyncSession, unit_ids: Iterable[int], locked: bool = False
                          ) -> list[tuple[Target, Assignment]]:
    """The open targets of active tasks of `unit_ids`, of every period, the earliest
    deadline first. `locked`: their rows locked for a change (an answer to one of them), so
    that `services.targets.lock` need not read them again."""
    if locked and not reads_as_committed(session):
        rows = (await session.exec(_OPEN_TARGETS_LOCKED,
                                   params={"unit_ids": list(unit_ids)})).all()
        note_locked(session, "target", [ident(t) for t, _ in rows])
    else:
        rows = (await session.exec(_OPEN_TARGETS, params={"unit_ids": list(unit_ids)})).all()
    return [(t, a) for t, a in rows]


async def submitted_targets_of(session: AsyncSession, unit_ids: Iterable[int]
                               ) -> list[tuple[Target, Assignment]]:
    """The submitted targets of active tasks of `unit_ids`, of every period, the most
    recently submitted first."""
    return list((await session.exec(
        select(Target, Assignment)
        .join(Assignment, col(Assignment.id) == col(Target.assignment_id))
        .where(col(Target.unit_id).in_(unit_ids), Target.state == TargetState.SUBMITTED,
               Assignment.state == AssignmentState.ACTIVE)
        .order_by(col(Target.submitted_at).desc(), col(Assignment.number)))).all())


async def tasks_owed_by(session: AsyncSession, unit_ids: list[int]) -> list[Assignment]:
    """The active tasks for which any of `unit_ids` has an open target, by number."""
    return list((await session.exec(
        select(Assignment).join(Target, col(Target.assignment_id) == col(Assignment.id))
        .where(col(Target.unit_id).in_(unit_ids), col(Target.state).in_(OPEN_TARGET_STATES),
               Assignment.state == AssignmentState.ACTIVE)
        .distinct().order_by(col(Assignment.number)))).all())


async def unit_targets_of_task(session: AsyncSession, assignment_id: int | None,
                               unit_id: int) -> list[Target]:
    """The unit's targets of the task, of every period, but those it was taken off."""
    return list((await session.exec(select(Target).where(
        Target.assignment_id == assignment_id, Target.unit_id == unit_id,
        Target.state != TargetState.REMOVED))).all())


_WRITE = Submission.__table__.insert().returning(  # type: ignore[attr-defined]
    Submission.__table__.c.id)  # type: ignore[attr-defined]


async def write(session: AsyncSession, row: Submission) -> Submission:
    """Write a new submission as a Core statement (every status answer writes one; an ORM
    object would cost it a flush of its own); returns it with its id, outside the session."""
    connection = await session.connection()
    values = row.model_dump(exclude={"id"})
    row.id = (await connection.execute(_WRITE, values)).scalar_one()
    return row


async def live_submissions(session: AsyncSession, target_id: int | None) -> list[Submission]:
    """The submissions of the target that were not withdrawn (nor moved)."""
    return list((await session.exec(select(Submission).where(
        Submission.target_id == target_id, col(Submission.withdrawn_at).is_(None)))).all())


async def latest_progress(session: AsyncSession, target_id: int | None) -> int | None:
    """The percent of the target's latest progress report (None when there is none or it
    gave none)."""
    return (await session.exec(select(Submission.percent).where(
        Submission.target_id == target_id, Submission.kind == SubmissionKind.PROGRESS)
        .order_by(col(Submission.id).desc()))).first()

