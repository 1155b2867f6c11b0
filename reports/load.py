"""Reads a task's targets, units, groups and latest answers into a `TaskReport`: the one
place the chart, workbook and archive builders get their data from the database."""

from __future__ import annotations

from collections import defaultdict

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from core.text import fold
from reports.rows import TargetRow, TaskReport
from storage.models import Assignment, Member, StoredFile, Submission, Target, Unit, UnitGroup


async def assignment_by_number(session: AsyncSession, number: int) -> Assignment | None:
    return (await session.exec(select(Assignment).where(Assignment.number == number))).first()


async def assignments_with_targets(session: AsyncSession) -> list[Assignment]:
    """Every task that has units to answer it, by number."""
    query = (select(Assignment)
             .where(col(Assignment.id).in_(select(Target.assignment_id).distinct()))
             .order_by(col(Assignment.number)))
    return list((await session.exec(query)).all())


async def task_report(session: AsyncSession, assignment: Assignment) -> TaskReport:
    targets = (await session.exec(
        select(Target, Unit).join(Unit, col(Unit.id) == col(Target.unit_id))
        .where(Target.assignment_id == assignment.id))).all()
    groups: dict[int, list[str]] = defaultdict(list)
    for unit_id, name in (await session.exec(
            select(UnitGroup.unit_id, UnitGroup.name)
            .where(col(UnitGroup.unit_id).in_(
                select(Target.unit_id).where(Target.assignment_id == assignment.id)))
            .order_by(col(UnitGroup.id)))).all():
        groups[unit_id].append(name)
    latest: dict[int, tuple[Submission, str]] = {}
    latest_file: dict[int, StoredFile] = {}
    answers = (await session.exec(
        select(Submission, Member.display_name, StoredFile)
        .join(Target, col(Target.id) == col(Submission.target_id))
        .join(Member, col(Member.id) == col(Submission.member_id))
        .outerjoin(StoredFile, col(StoredFile.id) == col(Submission.file_id))
        .where(Target.assignment_id == assignment.id)
        .order_by(col(Submission.id)))).all()
    for submission, reporter, stored in answers:
        latest[submission.target_id] = (submission, reporter)
        if stored is not None:
            latest_file[submission.target_id] = stored
    rows = []
    for target, unit in targets:
        answer, reporter = latest.get(target.id, (None, ""))  # type: ignore[arg-type]
        stored = latest_file.get(target.id)  # type: ignore[arg-type]
        rows.append(TargetRow(
            code=unit.code, name=unit.name, deadline=target.deadline, state=target.state,
            groups=tuple(sorted(groups[unit.id], key=fold)),  # type: ignore[index]
            period=target.period, submitted_at=target.submitted_at, on_time=target.on_time,
            extension_granted=target.extension_granted, percent=target.percent,
            nil_report=target.nil_report, reporter=reporter,
            status_text=answer.text if answer else "",
            file_name=stored.original_name if stored else "",
            file_sha256=stored.sha256 if stored else None,
            file_mime=stored.mime_type if stored else ""))
    rows.sort(key=lambda r: (r.code, r.period))
    return TaskReport(number=assignment.number, title=assignment.title,
                      deadline=assignment.deadline, state=assignment.state, rows=rows)
