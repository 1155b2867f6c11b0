"""The read model behind `/tiendo`: its figures, read from the counters kept with every change
(`storage.tally`) so that a view costs a few rows per task, whatever the number of units.

Whose figures is a `Units`: every unit, a group (its units and those below them, rolled up
through the unit tree), or given units (a reporter's own, a unit with those below it). The
first two are read from `ProgressTally` and `UnitTally`; given units, few by nature, from their
targets, by the same rules (tests/test_unit_tally.py checks that both agree).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, literal, or_, text
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from core.progress import Figures, Group, History, history_figures, tally
from core.states import OPEN_TARGET_STATES, AssignmentState, TargetState
from storage.models import (
    OPEN_TARGET,
    Assignment,
    GroupUnit,
    ProgressTally,
    Target,
    Unit,
    UnitTally,
)
from storage.tally import ALL_UNITS

MOST_LATE = 10
CANDIDATES = 200  # units read at a time while ranking the most often late


@dataclass(frozen=True)
class Units:
    """Whose figures: `group` "" (every unit) or a group's key; or `ids`, a set of unit ids
    or a query of them, and then also every target of the `tasks` (a query of task ids: an
    office sees all of its own tasks, wherever their units are)."""

    group: str | None = ALL_UNITS
    ids: Any = None
    tasks: Any = None

    @classmethod
    def given(cls, ids: Any, tasks: Any = None) -> Units:
        return cls(group=None, ids=ids, tasks=tasks)

    def targets(self, table: Any = Target) -> ColumnElement[bool]:
        """The condition on `table` (targets) for given units."""
        seen = col(table.unit_id).in_(self.ids)
        return seen if self.tasks is None else or_(seen, col(table.assignment_id).in_(self.tasks))

    def unit_ids(self) -> Any:
        """The units as something `IN` takes."""
        if self.group is None:
            return self.ids
        return select(GroupUnit.unit_id).where(GroupUnit.key == self.group)


EVERY_UNIT = Units()


@dataclass(frozen=True)
class Tally:
    figures: Figures
    earliest: datetime  # the earliest deadline among the targets


def aware(moment: datetime) -> datetime:
    """SQLite hands back aggregated times without their zone; they are UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def active() -> ColumnElement[bool]:
    return col(Assignment.state) == AssignmentState.ACTIVE


def not_cancelled() -> ColumnElement[bool]:
    return col(Assignment.state) != AssignmentState.CANCELLED


def tasks(column: Any, *conditions: ColumnElement[bool]) -> ColumnElement[bool]:
    """`column IN (the tasks meeting conditions)`: a subquery rather than a join, so the
    database reads the rows of just those tasks."""
    return col(column).in_(select(Assignment.id).where(*conditions))


# --- per task and period --------------------------------------------------------------------


def _source(units: Units) -> tuple[Any, Any, list[ColumnElement[bool]]]:
    """Where `units`' targets are counted: (table, what one row counts for, conditions). A
    group or every unit: the counters; given units: their targets, one each."""
    if units.group is not None:
        return (ProgressTally, ProgressTally.n,
                [col(ProgressTally.scope) == units.group, col(ProgressTally.n) > 0])
    return Target, literal(1), [units.targets()]


async def tallies(session: AsyncSession, now: datetime, units: Units,
                  *task_filter: ColumnElement[bool], assignment_id: int | None = None,
                  ) -> dict[tuple[int, str], Tally]:
    """Figures per (task, period) of the tasks meeting `task_filter` (conditions on
    `Assignment`), or of one task."""
    source, weight, where = _source(units)
    if assignment_id is not None:
        where.append(source.assignment_id == assignment_id)
    if task_filter:
        where.append(tasks(source.assignment_id, *task_filter))
    fields = (source.assignment_id, source.period, source.state, source.on_time,
              source.extension_granted, source.nil_report)
    counts = (func.sum(weight), func.sum(case((source.deadline < now, weight), else_=0)))
    query = select(*fields, *counts, func.min(source.deadline)).where(*where).group_by(*fields)  # type: ignore[call-overload]
    groups: dict[tuple[int, str], list[Group]] = defaultdict(list)
    earliest: dict[tuple[int, str], datetime] = {}
    for row in (await session.exec(query)).all():
        assignment, period, state, on_time, extended, nil, count, overdue, first = row
        key = (assignment, period)
        if state == TargetState.REMOVED:  # taken off the task: counts nowhere
            continue
        groups[key].append(Group(state, on_time, bool(extended), bool(nil), int(count),
                                 int(overdue)))
        earliest[key] = min(earliest.get(key, aware(first)), aware(first))
    return {key: Tally(tally(g), earliest[key]) for key, g in groups.items()}


# --- late and overdue, in pages --------------------------------------------------------------


def late_or_overdue(source: Any, now: datetime) -> ColumnElement[bool]:
    """Submitted late, or not submitted and past the deadline (of a target or a counter)."""
    return or_(and_(source.state == TargetState.SUBMITTED, col(source.on_time).is_not(True)),
               and_(col(source.state).in_(OPEN_TARGET_STATES), col(source.deadline) < now))


async def late_page(session: AsyncSession, now: datetime, units: Units, offset: int, limit: int
                    ) -> tuple[int, list[tuple[Assignment, str, Target]]]:
    """Late and overdue targets of the active tasks, by deadline, task and unit code: how
    many, and (task, unit name, target) from `offset`. The counters give how many share each
    deadline and task; only the targets of the page are read."""
    source, weight, where = _source(units)
    buckets = (await session.exec(
        select(source.deadline, Assignment.number, source.period, source.assignment_id,  # type: ignore[call-overload]
               func.sum(weight))
        .join(Assignment, col(Assignment.id) == source.assignment_id)
        .where(*where, active(), late_or_overdue(source, now))
        .group_by(source.deadline, Assignment.number, source.period, source.assignment_id)
        .order_by(source.deadline, Assignment.number, source.period))).all()
    total = sum(int(row[-1]) for row in buckets)
    rows: list[tuple[Assignment, str, Target]] = []
    for deadline, _, period, assignment_id, count in buckets:
        if offset >= count:
            offset -= count
            continue
        in_bucket = [Target.assignment_id == assignment_id, Target.period == period,
                     Target.deadline == aware(deadline), late_or_overdue(Target, now)]
        if units.group is None:
            in_bucket.append(units.targets())
        elif units.group != ALL_UNITS:
            in_bucket.append(col(Target.unit_id).in_(units.unit_ids()))
        rows += (await session.exec(
            select(Assignment, Unit.name, Target)
            .join(Target, col(Assignment.id) == col(Target.assignment_id))
            .join(Unit, col(Unit.id) == col(Target.unit_id)).where(*in_bucket)
            .order_by(col(Unit.code)).offset(offset).limit(limit - len(rows)))).all()
        offset = 0
        if len(rows) >= limit:
            break
    return total, rows


# --- over time --------------------------------------------------------------------------------


# The condition of ix_target_open_unit, word for word: SQLite (and PostgreSQL's generic plans)
# use a partial index only for a query that states its condition with the same values.
OPEN_TARGET_SQL = text(f"target.{OPEN_TARGET}")


def _not_due(now: datetime) -> list[Any]:
    """Open targets of tasks not cancelled, not due yet: the part of a history that depends
    on `now`."""
    return [OPEN_TARGET_SQL, col(Target.deadline) >= now,
            tasks(Target.assignment_id, not_cancelled())]


async def _not_due_count(session: AsyncSession, now: datetime, units: Units) -> int:
    if units.group is not None:
        query = select(func.coalesce(func.sum(ProgressTally.n), 0)).where(
            ProgressTally.scope == units.group, col(ProgressTally.state).in_(OPEN_TARGET_STATES),
            col(ProgressTally.deadline) >= now,
            tasks(ProgressTally.assignment_id, not_cancelled()))
    else:
        query = select(func.count()).select_from(Target).where(
            *_not_due(now), col(Target.unit_id).in_(units.ids))
    return int((await session.exec(query)).one())


async def _not_due_by_unit(session: AsyncSession, now: datetime,
                           ids: Sequence[int]) -> dict[int, int]:
    return dict((await session.exec(
        select(Target.unit_id, func.count()).where(
            *_not_due(now), col(Target.unit_id).in_(ids)).group_by(col(Target.unit_id)))).all())


COUNTERS = (func.coalesce(func.sum(UnitTally.on_time), 0),
            func.coalesce(func.sum(UnitTally.late), 0),
            func.coalesce(func.sum(UnitTally.delay_days), 0.0),
            func.coalesce(func.sum(UnitTally.open), 0))


def _tally_of(units: Units) -> list[ColumnElement[bool]]:
    return [] if units.group == ALL_UNITS else [col(UnitTally.unit_id).in_(units.unit_ids())]


def _history(row: Sequence[Any], not_due: int) -> Figures:
    on_time, late, delay, still_open = row
    return history_figures(History(int(on_time), int(late), float(delay), int(still_open)),
                           not_due)


async def history(session: AsyncSession, now: datetime, units: Units) -> Figures:
    """Figures over time of `units` together: their `UnitTally` counters (tasks not
    cancelled) less their open targets not yet due. The same figures as a count over every
    target of theirs, without reading their whole history."""
    row = (await session.exec(
        select(*COUNTERS).where(*_tally_of(units)))).one()
    return _history(row, await _not_due_count(session, now, units))


async def histories(session: AsyncSession, now: datetime, ids: Sequence[int]) -> dict[int, Figures]:
    """Figures over time of each of the units `ids`."""
    rows = (await session.exec(
        select(UnitTally.unit_id, *COUNTERS).where(col(UnitTally.unit_id).in_(ids))  # type: ignore[call-overload]
        .group_by(col(UnitTally.unit_id)))).all()
    not_due = await _not_due_by_unit(session, now, ids)
    return {row[0]: _history(row[1:], not_due.get(row[0], 0)) for row in rows}


async def most_late(session: AsyncSession, now: datetime, units: Units) -> list[int]:
    """Ids of the (at most MOST_LATE) units most often late or missing over time: late +
    overdue, most first, then by id. A unit's late + open counters bound that figure from
    above (open counts the targets not due yet too), so the units are read in that order,
    a batch at a time, until no unit left can reach the last place."""
    bound = (col(UnitTally.late) + col(UnitTally.open)).label("bound")
    query = select(UnitTally.unit_id, bound).where(bound > 0, *_tally_of(units))
    best: list[tuple[int, int]] = []  # (-times, unit id), best first
    after: tuple[int, int] | None = None
    while True:
        page = query
        if after is not None:
            page = page.where(or_(bound < after[1], and_(
                bound == after[1], col(UnitTally.unit_id) > after[0])))
        rows: list[tuple[int, int]] = [(row[0], row[1]) for row in (await session.exec(
            page.order_by(bound.desc(), col(UnitTally.unit_id)).limit(CANDIDATES))).all()]
        if not rows:
            break
        not_due = await _not_due_by_unit(session, now, [unit_id for unit_id, _ in rows])
        best = sorted(best + [(not_due.get(unit_id, 0) - times, unit_id)
                              for unit_id, times in rows
                              if times > not_due.get(unit_id, 0)])[:MOST_LATE]
        after = rows[-1]
        if len(rows) < CANDIDATES or (len(best) == MOST_LATE and -best[-1][0] > after[1]):
            break
    return [unit_id for _, unit_id in best]


# --- the rows behind a view -------------------------------------------------------------------


async def tasks_by_id(session: AsyncSession, ids: Collection[int]) -> dict[int, Assignment]:
    return {a.id: a for a in (await session.exec(  # type: ignore[misc]
        select(Assignment).where(col(Assignment.id).in_(ids)))).all()}


def _in_period(assignment_id: int, period: str, seen: Any) -> list[Any]:
    """The targets of a task's period that the member sees (`seen`: a condition on
    `Target`, None for all of them)."""
    where = [Target.assignment_id == assignment_id, Target.period == period]
    if seen is not None:
        where.append(seen)
    return where


async def missing_page(session: AsyncSession, assignment_id: int, period: str, seen: Any,
                       offset: int, limit: int) -> Sequence[Any]:
    """The targets of a task's period still owed, by unit code, from `offset`: (unit name,
    state, percent, deadline, target id, unit id)."""
    return (await session.exec(
        select(Unit.name, Target.state, Target.percent, Target.deadline, Target.id,  # type: ignore[call-overload]
               Unit.id)
        .join(Unit, col(Unit.id) == col(Target.unit_id))
        .where(*_in_period(assignment_id, period, seen),
               col(Target.state).in_(OPEN_TARGET_STATES))
        .order_by(col(Unit.code)).offset(offset).limit(limit))).all()


async def late_names(session: AsyncSession, assignment_id: int, period: str, seen: Any,
                     limit: int) -> Sequence[str]:
    """The names of the first `limit` units by code that submitted a task's period late."""
    return (await session.exec(
        select(Unit.name).join(Target, col(Unit.id) == col(Target.unit_id))
        .where(*_in_period(assignment_id, period, seen), Target.state == TargetState.SUBMITTED,
               col(Target.on_time).is_(False))
        .order_by(col(Unit.code)).limit(limit))).all()


def _unit_tasks(unit_id: int) -> list[ColumnElement[bool]]:
    """The targets of a unit in the active tasks."""
    return [Target.unit_id == unit_id, col(Target.assignment_id).in_(  # type: ignore[list-item]
        select(Assignment.id).where(active()))]


async def unit_task_count(session: AsyncSession, unit_id: int) -> int:
    """How many targets the unit has in the active tasks."""
    return (await session.exec(select(func.count()).select_from(Target).where(
        *_unit_tasks(unit_id)))).one()


async def unit_task_page(session: AsyncSession, unit_id: int, offset: int, limit: int
                         ) -> Sequence[tuple[Target, Assignment]]:
    """The unit's targets in the active tasks with their tasks, by deadline and number, from
    `offset`."""
    return (await session.exec(
        select(Target, Assignment).join(Assignment, col(Assignment.id) == col(Target.assignment_id))
        .where(*_unit_tasks(unit_id)).order_by(col(Target.deadline), col(Assignment.number))
        .offset(offset).limit(limit))).all()
