"""Reads a task's targets, units, groups and latest answers into a `TaskReport`: the one
place the chart, workbook and archive builders get their data from the database."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from core.progress import figures
from core.states import AssignmentState, RequestState, TargetState
from core.text import fold
from reports.rows import TargetRow, TaskReport, TreeRow
from storage.models import (
    Assignment,
    ExcuseRequest,
    Member,
    StoredFile,
    Submission,
    Target,
    Unit,
    UnitGroup,
)


async def assignments_with_targets(session: AsyncSession) -> list[Assignment]:
    """Every task that has units to answer it, by number."""
    query = (select(Assignment)
             .where(col(Assignment.id).in_(select(Target.assignment_id).distinct()))
             .order_by(col(Assignment.number)))
    return list((await session.exec(query)).all())


async def task_report(session: AsyncSession, assignment: Assignment,
                      seen: ColumnElement[bool] | None = None) -> TaskReport:
    """The task's current period (the one opened last; a one-off task has only one), as
    `/tiendo #N` shows it: past periods of a recurring task are its history, not part of
    today's figures; only the targets meeting `seen` (the reader's scope), if given. Columns
    rather than model objects: a task may have tens of thousands of units."""
    of_task = and_(col(Target.assignment_id) == assignment.id,
                   col(Target.period) == assignment.period,
                   col(Target.state) != TargetState.REMOVED)  # a unit taken off: history only
    if seen is not None:
        of_task = and_(of_task, seen)
    rows = (await _rows(session, of_task)).get(assignment.id or 0, [])
    hand_downs, tree = await _hand_downs(session, assignment, of_task)
    return TaskReport(number=assignment.number, title=assignment.title,
                      deadline=_deadline(rows, assignment), state=assignment.state, rows=rows,
                      period=assignment.period, hand_downs=hand_downs, tree=tree)


def _deadline(rows: list[TargetRow], assignment: Assignment) -> datetime:
    return min((row.deadline for row in rows), default=assignment.deadline)


def _current(tasks: list[Assignment]) -> ColumnElement[bool]:
    """The targets of `tasks` in each one's current period, but units taken off: grouped by
    period, as tasks handed down together mostly share one."""
    periods: dict[str, list[int]] = defaultdict(list)
    for task in tasks:
        periods[task.period].append(task.id or 0)
    return and_(or_(*(and_(col(Target.assignment_id).in_(ids), col(Target.period) == period)
                      for period, ids in periods.items())),
                col(Target.state) != TargetState.REMOVED)


async def _rows(session: AsyncSession, of_task: ColumnElement[bool]
                ) -> dict[int, list[TargetRow]]:
    """The rows of the targets meeting `of_task` (of one task or several), per task id,
    sorted by unit code and period: four queries whatever their number."""
    groups: dict[int, list[str]] = defaultdict(list)
    for unit_id, name in (await session.exec(
            select(UnitGroup.unit_id, UnitGroup.name)
            .where(col(UnitGroup.unit_id).in_(select(Target.unit_id).where(of_task)))
            .order_by(col(UnitGroup.id)))).all():
        groups[unit_id].append(name)
    latest: dict[int, tuple[str, str]] = {}  # target id: (reporter, text)
    routes: dict[int, str] = {}  # target id: the latest answer's route, when sent another way
    latest_file: dict[int, tuple[str, str, str, int]] = {}  # target: (name, sha, type, size)
    for target_id, text, route, reporter, name, sha256, mime, size in (await session.exec(
            select(Submission.target_id, Submission.text, Submission.route, Member.display_name,  # type: ignore[call-overload]
                   StoredFile.original_name, StoredFile.sha256, StoredFile.mime_type,
                   StoredFile.size)
            .join(Target, col(Target.id) == col(Submission.target_id))
            .join(Member, col(Member.id) == col(Submission.member_id))
            .outerjoin(StoredFile, col(StoredFile.id) == col(Submission.file_id))
            .where(of_task, col(Submission.withdrawn_at).is_(None))  # not filed by mistake
            .order_by(col(Submission.id)))).all():
        latest[target_id] = (reporter, text)
        routes[target_id] = route or ""
        if sha256 is not None:
            latest_file[target_id] = (name, sha256, mime, size)
    for target_id, reason, asker in (await session.exec(  # an excused unit: why, and who asked
            select(ExcuseRequest.target_id, ExcuseRequest.reason, Member.display_name)
            .join(Target, col(Target.id) == col(ExcuseRequest.target_id))
            .join(Member, col(Member.id) == col(ExcuseRequest.member_id))
            .where(of_task, Target.state == TargetState.EXCUSED,
                   ExcuseRequest.state == RequestState.GRANTED)
            .order_by(col(ExcuseRequest.id)))).all():
        latest[target_id] = (asker, reason)
        routes[target_id] = ""
    rows: dict[int, list[TargetRow]] = defaultdict(list)
    for (target_id, assignment_id, unit_id, code, name, deadline, state, period, submitted_at,
         on_time, extended, percent, nil) in (await session.exec(
            select(Target.id, Target.assignment_id, Target.unit_id, Unit.code, Unit.name,  # type: ignore[call-overload]
                   Target.deadline, Target.state, Target.period, Target.submitted_at,
                   Target.on_time, Target.extension_granted, Target.percent,
                   Target.nil_report)
            .join(Unit, col(Unit.id) == col(Target.unit_id))
            .where(of_task))).all():
        reporter, text = latest.get(target_id, ("", ""))
        file_name, sha256, mime, size = latest_file.get(target_id, ("", None, "", 0))
        rows[assignment_id].append(TargetRow(
            code=code, name=name, deadline=deadline, state=state,
            groups=tuple(sorted(groups[unit_id], key=fold)), period=period,
            submitted_at=submitted_at, on_time=on_time, extension_granted=extended,
            percent=percent, nil_report=nil, reporter=reporter, status_text=text,
            route=routes.get(target_id, ""), file_name=file_name, file_sha256=sha256,
            file_mime=mime, file_size=size))
    for task_rows in rows.values():
        task_rows.sort(key=lambda r: (r.code, r.period))
    return rows


async def _hand_downs(session: AsyncSession, assignment: Assignment, of_task: Any
                      ) -> tuple[dict[str, str], list[TreeRow]]:
    """The hand-downs made from the office targets read (`of_task`), and every unit below
    them, level after level: a few queries per level, not per hand-down (a Sở's task handed
    down by 700 Phòng)."""
    below: dict[int, list[tuple[Assignment, str, str]]] = {}  # task id: its hand-downs
    rows: dict[int, list[TargetRow]] = {}
    level, offices = [assignment.id or 0], select(Target.id).where(of_task)
    seen = set(level)
    while level:
        found = (await session.exec(
            select(Assignment, Unit.code, Unit.name)
            .join(Target, col(Target.id) == col(Assignment.parent_target_id))
            .join(Unit, col(Unit.id) == col(Target.unit_id))
            .where(col(Assignment.parent_id).in_(level),
                   Assignment.state != AssignmentState.CANCELLED,
                   col(Assignment.parent_target_id).in_(offices))
            .order_by(col(Unit.code)))).all()
        tasks = []
        for child, code, name in found:
            if child.id not in seen:  # a task is read once, whatever its links
                seen.add(child.id or 0)
                below.setdefault(child.parent_id or 0, []).append((child, code, name))
                tasks.append(child)
        level = [task.id or 0 for task in tasks]
        if tasks:
            of_level = _current(tasks)
            rows.update(await _rows(session, of_level))
            offices = select(Target.id).where(of_level)

    def tree(task_id: int) -> list[TreeRow]:
        out: list[TreeRow] = []
        for child, code, name in below.get(task_id, []):
            out += [TreeRow(code, name, child.number, row)
                    for row in rows.get(child.id or 0, [])]
            out += tree(child.id or 0)
        return out

    hand_downs: dict[str, str] = {}
    for child, code, _ in below.get(assignment.id or 0, []):
        child_rows = rows.get(child.id or 0, [])
        f = figures(child_rows, _deadline(child_rows, child))  # counts not depending on time
        hand_downs[code] = f"#{child.number}: {f.submitted}/{f.expected}"
    return hand_downs, tree(assignment.id or 0)
