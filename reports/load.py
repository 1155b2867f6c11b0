"""Reads a task's targets, units, groups and latest answers into a `TaskReport`: the one
place the chart, workbook and archive builders get their data from the database."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import ColumnElement, and_
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


async def assignment_by_number(session: AsyncSession, number: int) -> Assignment | None:
    return (await session.exec(select(Assignment).where(Assignment.number == number))).first()


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
    period = assignment.period
    of_task = and_(Target.assignment_id == assignment.id, Target.period == period,
                   Target.state != TargetState.REMOVED)  # a unit taken off: history only
    if seen is not None:
        of_task = and_(of_task, seen)
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
            select(Submission.target_id, Submission.text, Submission.route, Member.display_name,
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
    rows = []
    for (target_id, unit_id, code, name, deadline, state, period, submitted_at, on_time,
         extended, percent, nil) in (await session.exec(
            select(Target.id, Target.unit_id, Unit.code, Unit.name, Target.deadline,
                   Target.state, Target.period, Target.submitted_at, Target.on_time,
                   Target.extension_granted, Target.percent, Target.nil_report)
            .join(Unit, col(Unit.id) == col(Target.unit_id))
            .where(of_task))).all():
        reporter, text = latest.get(target_id, ("", ""))
        file_name, sha256, mime, size = latest_file.get(target_id, ("", None, "", 0))
        rows.append(TargetRow(
            code=code, name=name, deadline=deadline, state=state,
            groups=tuple(sorted(groups[unit_id], key=fold)), period=period,
            submitted_at=submitted_at, on_time=on_time, extension_granted=extended,
            percent=percent, nil_report=nil, reporter=reporter, status_text=text,
            route=routes.get(target_id, ""), file_name=file_name, file_sha256=sha256,
            file_mime=mime, file_size=size))
    rows.sort(key=lambda r: (r.code, r.period))
    deadline = min((row.deadline for row in rows), default=assignment.deadline)
    hand_downs, tree = await _hand_downs(session, assignment, of_task)
    return TaskReport(number=assignment.number, title=assignment.title, deadline=deadline,
                      state=assignment.state, rows=rows, period=period,
                      hand_downs=hand_downs, tree=tree)


async def _hand_downs(session: AsyncSession, assignment: Assignment, of_task: Any
                      ) -> tuple[dict[str, str], list[TreeRow]]:
    """The hand-downs made from the office targets read (`of_task`), and every unit below
    them, level after level."""
    found = (await session.exec(
        select(Assignment, Unit.code, Unit.name)
        .join(Target, col(Target.id) == col(Assignment.parent_target_id))
        .join(Unit, col(Unit.id) == col(Target.unit_id))
        .where(Assignment.parent_id == assignment.id, Assignment.state != AssignmentState.CANCELLED,
               col(Assignment.parent_target_id).in_(select(Target.id).where(of_task)))
        .order_by(col(Unit.code)))).all()
    hand_downs: dict[str, str] = {}
    tree: list[TreeRow] = []
    for child, code, name in found:
        report = await task_report(session, child)
        f = figures(report.rows, report.deadline)  # counts that do not depend on the time
        hand_downs[code] = f"#{child.number}: {f.submitted}/{f.expected}"
        tree += [TreeRow(code, name, child.number, row) for row in report.rows]
        tree += report.tree
    return hand_downs, tree
