"""`bot.py export`: the progress workbook of one task or of every task, as the `[Excel]`
button sends it, written to a file."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from sqlmodel.ext.asyncio.session import AsyncSession

from app.admin import AdminError
from core.i18n import Translator
from core.scope import Scope
from reports.excel import build_workbook
from reports.load import assignments_with_targets, task_report
from reports.rows import TaskReport
from services.scope import sees_task, task_target_filter
from storage.repositories import task_by_number

Step = Callable[[TaskReport], None]


async def read_reports(session: AsyncSession, task: int | None, step: Step,
                       announce: Callable[[int], None], scope: Scope | None = None
                       ) -> list[TaskReport]:
    """Task `task` (or every task with units when None), read one by one: `announce(count)`
    first, then `step(report)` after each; as a member with `scope` sees them, if given.
    Raises `AdminError` when there is nothing to export."""
    if task is None:
        assignments = await assignments_with_targets(session)
        if scope is not None:
            assignments = [a for a in assignments if await sees_task(session, scope, a)]
        if not assignments:
            raise AdminError("there are no tasks with units yet; nothing to export")
    else:
        assignment = await task_by_number(session, task)
        if assignment is not None and scope is not None and not await sees_task(
                session, scope, assignment):
            assignment = None
        if assignment is None:
            raise AdminError(f"there is no task #{task}; see the numbers with /tiendo")
        assignments = [assignment]
    announce(len(assignments))
    reports = []
    for assignment in assignments:
        report = await task_report(session, assignment, None if scope is None
                                   else await task_target_filter(session, scope, assignment))
        if not report.rows:
            raise AdminError(f"task #{assignment.number} has no units to answer it; "
                             "nothing to export")
        reports.append(report)
        step(report)
    return reports


def write_workbook(path: Path, reports: list[TaskReport], language: str, now: datetime,
                   step: Step) -> int:
    """Write the workbook to `path`; returns its size in bytes."""
    data = build_workbook(reports, Translator(language), now, step)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return len(data)
