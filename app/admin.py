"""Admin operations behind the command line (`bot.py ...`) and `@admin` transcript lines.

Each function runs in one transaction and raises `AdminError` with a message that names the
row or value and what to do; nothing is written then.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import delete, func
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.config import Settings
from core.encodings import UnreadableText, decode_table
from core.roles import ROLES
from core.scope import Scope
from core.states import OPEN_TARGET_STATES, AssignmentState, ReminderState
from core.text import fold
from core.unit_rows import UnitRow, header_map, to_row, validate
from handlers.common import current_periods
from handlers.context import Context
from handlers.reminders import replan_target
from services import invites
from services.scope import load_scope
from storage import bulk, repositories, tally
from storage.filestore import FileStore
from storage.models import (
    CHANNELS,
    Assignment,
    AuditLog,
    Dialogue,
    GroupUnit,
    Invite,
    Member,
    Membership,
    Reminder,
    Target,
    Unit,
    UnitGroup,
)
from storage.units import set_parents, unit_ids_by_code

Progress = Callable[[int, int], None]
# Rows written by an import from which the tables' statistics are refreshed at its end
# (`storage.bulk.refresh_statistics`): a registry's import, not a correction of a few rows.
BULK_LOAD = 1_000


class AdminError(Exception):
    """Bad input to an admin command; nothing was written."""


CLI_CHANNEL = "cli"  # the audit log's channel for changes made on the admin command line


def audit(session: AsyncSession, now: datetime, action: str, assignment_id: int | None = None,
          **detail: object) -> None:
    """Record a change made on the command line (or an `@admin` transcript line)."""
    session.add(AuditLog(at=now, actor="admin", channel=CLI_CHANNEL, assignment_id=assignment_id,
                         action=action,
                         detail=json.dumps(detail, ensure_ascii=False, default=str)))


PROBLEM_TEXT = {
    "duplicate_code": "row {row}: unit code {value!r} appears twice in the file",
    "unknown_parent": "row {row}: parent {value!r} is neither in the file nor in the database",
    "parent_cycle": "row {row}: unit {value!r} would be its own ancestor (parent cycle)",
    "missing_value": "row {row}: the column {value!r} is empty",
}


@dataclass
class Table:
    """The cells of a file's first sheet, and how its text was decoded (None for .xlsx)."""

    rows: list[list[object]]
    encoding: str | None = None

    @property
    def note(self) -> str:
        """A line telling which legacy encoding a CSV file was read in, or ""."""
        if self.encoding in (None, "UTF-8", "UTF-8 (BOM)"):
            return ""
        return f"read as {self.encoding} (not UTF-8)"


def read_table(path: Path) -> Table:
    """The rows of a `.csv` (in any encoding `core.encodings` reads) or `.xlsx` file."""
    if not path.is_file():
        raise AdminError(f"{path}: file not found")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        raw = path.read_bytes()
        if not raw.strip():
            raise AdminError(f"{path}: the file is empty")
        try:
            decoded = decode_table(raw)
        except UnreadableText as exc:
            raise AdminError(
                f"{path}: cannot read the file's text: {exc}. Nothing imported: save it as "
                "«CSV UTF-8» (Excel: File › Save As › CSV UTF-8) or as .xlsx, then import "
                "it again") from exc
        text = decoded.text
        dialect = csv.Sniffer().sniff(text[:2048], delimiters=",;\t") if text.strip() \
            else csv.excel
        table = Table([list(r) for r in csv.reader(io.StringIO(text, newline=""), dialect)],
                      decoded.encoding)
    elif suffix == ".xlsx":
        from openpyxl import load_workbook

        try:
            sheet = load_workbook(path, read_only=True, data_only=True).worksheets[0]
            table = Table([list(r) for r in sheet.iter_rows(values_only=True)])
        except Exception as exc:
            raise AdminError(f"{path}: not a readable .xlsx file ({exc})") from exc
    else:
        raise AdminError(f"{path}: expected a .csv or .xlsx file, got {suffix or 'no extension'}")
    if not any(any(str(c or "").strip() for c in r) for r in table.rows):
        raise AdminError(f"{path}: the file is empty")
    return table


def read_unit_file(path: Path) -> list[UnitRow]:
    """Rows of a `.csv` or `.xlsx` file; title rows above the header are skipped."""
    return unit_rows(path, read_table(path))


def unit_rows(path: Path, table: Table) -> list[UnitRow]:
    for index, cells in enumerate(table.rows[:20]):
        columns = header_map(cells)
        if columns:
            rows = [
                to_row(index + 2 + offset, list(cells), columns)
                for offset, cells in enumerate(table.rows[index + 1 :])
                if any(str(c or "").strip() for c in cells)
            ]
            if not rows:
                raise AdminError(f"{path}: the header is there but no unit rows follow it")
            return rows
    raise AdminError(
        f"{path}: no header row with the columns code,name,kind,parent,groups "
        "(or mã, tên, loại, đơn vị cấp trên, nhóm); code and name are required"
    )


@dataclass
class ImportReport:
    created: list[UnitRow]
    updated: list[UnitRow]
    unchanged: list[UnitRow]


async def import_units(
    session: AsyncSession, rows: list[UnitRow], progress: Progress | None = None
) -> ImportReport:
    """Upsert `rows` by code: running the same file twice changes nothing."""
    existing = {u.code.upper(): u for u in (await session.exec(select(Unit))).all()}
    by_id = {u.id: u for u in existing.values()}
    parents = {
        code: (by_id[u.parent_id].code.upper() if u.parent_id in by_id else None)
        for code, u in existing.items()
    }
    problems = validate(rows, parents)
    if problems:
        raise AdminError(
            "nothing imported:\n" + "\n".join(
                PROBLEM_TEXT[p.code].format(row=p.row, value=p.value) for p in problems
            )
        )
    groups: dict[int | None, set[str]] = {}  # by unit id
    for group in (await session.exec(select(UnitGroup))).all():
        groups.setdefault(group.unit_id, set()).add(group.name)
    report = ImportReport([], [], [])
    unit_ids: dict[str, int] = {}  # code (upper case) → unit id, of every unit in the file
    created: list[dict[str, str]] = []
    for row in rows:
        unit = existing.get(row.code.upper())
        if unit is None:
            created.append({"code": row.code, "name": row.name, "name_key": fold(row.name),
                            "kind": row.kind})
            report.created.append(row)
            continue
        if (unit.name, unit.kind) != (row.name, row.kind) or groups.get(unit.id, set()) != set(
            row.groups
        ):
            unit.name, unit.name_key, unit.kind = row.name, fold(row.name), row.kind
            report.updated.append(row)
        else:
            report.unchanged.append(row)
        assert unit.id is not None
        unit_ids[row.code.upper()] = unit.id
    await session.flush()
    # New units are written as rows (COPY on PostgreSQL) and their ids read back: an object
    # per unit of a national registry cost seconds to build and to flush.
    await bulk.insert_rows(await session.connection(),
                           Unit.__table__, created)  # type: ignore[attr-defined]
    unit_ids.update(await unit_ids_by_code(session, [unit["code"] for unit in created]))
    regrouped: dict[int, list[str]] = {}  # unit id → its new groups
    moved: list[UnitRow] = []
    new_parents: dict[int, int | None] = {}  # unit id → its new parent's
    for done, row in enumerate(rows, start=1):
        unit_id = unit_ids[row.code.upper()]
        parent = row.parent.upper()
        new_parent = unit_ids.get(parent) or (existing[parent].id if parent in existing else None)
        old = existing.get(row.code.upper())
        if (old.parent_id if old else None) != new_parent:
            moved.append(row)
            new_parents[unit_id] = new_parent
        if groups.get(unit_id, set()) != set(row.groups):
            regrouped[unit_id] = list(dict.fromkeys(row.groups))
        if progress:
            progress(done, len(rows))
    await set_parents(session, new_parents)  # one statement, not an UPDATE per unit
    for unit in existing.values():
        if unit.id in new_parents:
            set_committed_value(unit, "parent_id", new_parents[unit.id])
    if moved:  # a unit whose only change is its parent is updated, not unchanged
        moved_codes = {row.code.upper() for row in moved}
        report.updated.extend(r for r in report.unchanged if r.code.upper() in moved_codes)
        report.unchanged[:] = [r for r in report.unchanged if r.code.upper() not in moved_codes]
    # Groups are replaced in bulk: one statement per chunk, not one per unit (each statement
    # would flush the whole session again, which made big imports quadratic).
    ids = [unit_id for unit_id in regrouped if unit_id in groups]
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        await session.exec(delete(UnitGroup).where(col(UnitGroup.unit_id).in_(chunk)))
    # Written as rows in bulk (COPY on PostgreSQL): an object per group (100,000 for a
    # national registry) cost seconds to build and to flush, an INSERT per row 4.2 s more.
    await bulk.insert_rows(await session.connection(), UnitGroup.__table__, [  # type: ignore[attr-defined]
        {"unit_id": unit_id, "name": name, "key": fold(name)}
        for unit_id, names in regrouped.items() for name in names])
    if moved or regrouped:  # the groups' units (with the units below them) and their counters
        await session.flush()
        await session.run_sync(lambda sync: tally.regroup(sync.connection()))
    if len(created) + len(moved) + len(regrouped) >= BULK_LOAD:
        await bulk.refresh_statistics(session, *(model.__table__  # type: ignore[union-attr]
                                                 for model in (Unit, UnitGroup, GroupUnit)))
    return report


async def units_in_group(session: AsyncSession, group: str) -> list[Unit]:
    key = fold(group.lstrip("@"))
    query = (
        select(Unit)
        .join(UnitGroup, col(UnitGroup.unit_id) == col(Unit.id))
        .where(UnitGroup.key == key)
        .order_by(col(Unit.code))
    )
    return list((await session.exec(query)).all())


async def unit_by_code(session: AsyncSession, code: str) -> Unit:
    unit = (await session.exec(select(Unit).where(func.upper(Unit.code) == code.upper()))).first()
    if unit is None:
        raise AdminError(f"unknown unit {code!r}: see `bot.py units list`")
    return unit


async def add_member(
    session: AsyncSession,
    name: str,
    channel: str,
    role: str,
    now: datetime,
    channel_user_id: str | None = None,
    unit_code: str | None = None,
    language: str = "vi",
) -> tuple[Member, bool]:
    """Add `name` (or give an existing member another role/unit). Returns (member, created)."""
    if channel not in CHANNELS:
        raise AdminError(f"unknown channel {channel!r}: expected one of {', '.join(CHANNELS)}")
    if role not in ROLES:
        raise AdminError(f"unknown role {role!r}: expected one of {', '.join(ROLES)}")
    user_id = channel_user_id or (name if channel == "console" else None)
    if not user_id:
        raise AdminError(f"--id is required for {channel} members (their {channel} user id)")
    if role == "reporter" and not unit_code:
        raise AdminError("a reporter needs --unit CODE")
    unit = await unit_by_code(session, unit_code) if unit_code else None
    member = await repositories.member_by_identity(session, channel, user_id)
    created = member is None
    if member is None:
        member = Member(display_name=name, channel=channel, channel_user_id=user_id,
                        chat_id=user_id, language=language, created_at=now)
        session.add(member)
        await session.flush()
    exists = (
        await session.exec(
            select(Membership).where(
                Membership.member_id == member.id,
                Membership.role == role,
                Membership.unit_id == (unit.id if unit else None),
            )
        )
    ).first()
    if not exists:
        assert member.id is not None
        session.add(Membership(member_id=member.id, unit_id=unit.id if unit else None, role=role))
        audit(session, now, "member_add", name=name, channel=channel, role=role,
              unit=unit.code if unit else None)
    return member, created


async def find_members(session: AsyncSession, name: str) -> list[Member]:
    members = (await session.exec(select(Member))).all()
    return [m for m in members if fold(m.display_name) == fold(name) or m.channel_user_id == name]


async def remove_member(session: AsyncSession, name: str, now: datetime) -> int:
    found = await find_members(session, name)
    if not found:
        raise AdminError(f"no member called {name!r}: see `bot.py members list`")
    for member in found:
        await session.exec(delete(Membership).where(col(Membership.member_id) == member.id))
        await session.exec(delete(Dialogue).where(col(Dialogue.member_id) == member.id))
        member.channel_user_id = f"removed:{member.id}:{member.channel_user_id}"
        member.display_name = f"{member.display_name} (removed)"
        session.add(member)
    audit(session, now, "member_remove", name=name, accounts=len(found))
    return len(found)


async def member_scope(session: AsyncSession, name: str, settings: Settings) -> Scope:
    """The scope of the member called `name` (for commands run on their behalf)."""
    found = [m for m in await find_members(session, name)
             if not m.channel_user_id.startswith("removed:")]
    if len(found) != 1:
        raise AdminError(f"no member called {name!r}: see `bot.py members list`" if not found
                         else f"{len(found)} members are called {name!r}; give their user id")
    return await load_scope(session, found[0].id,  # type: ignore[arg-type]
                            settings.department_kinds)


async def create_invites(
    session: AsyncSession,
    units: list[Unit],
    role: str,
    now: datetime,
    expires: timedelta | None,
    uses: int,
    confirmed: bool = False,
) -> list[tuple[Unit, Invite]]:
    """One invite per unit. An admin invite needs `confirmed` (`--yes`): whoever joins with
    it reaches the whole registry, whatever unit is printed on the card."""
    if role not in ROLES:
        raise AdminError(f"unknown role {role!r}: expected one of {', '.join(ROLES)}")
    if uses < 1:
        raise AdminError("--uses must be at least 1")
    if role == "admin" and not confirmed:
        where = units[0].code if len(units) == 1 else f"{len(units)} units"
        raise AdminError(
            f"an admin invite makes whoever joins with it an admin of the whole registry "
            f"(every unit and task, not only {where}); reporters join with --role reporter "
            "(the default). Add --yes if an admin invite is really meant; nothing created")
    result = invites.create_invites(session, units, role, now, expires, uses)
    audit(session, now, "invites_create", role=role, uses=uses, units=len(units),
          codes=[unit.code for unit in units[:20]])
    return result


# --- reminders ---------------------------------------------------------------------------


@dataclass
class DueReminder:
    due_at: datetime
    number: int
    unit: str
    recipients: list[str]
    kind: str


async def due_reminders(session: AsyncSession, until: datetime | None) -> list[DueReminder]:
    """The planned reminders that will go out (by `until`, or all): active, not paused
    tasks and targets that still owe an answer."""
    query = (
        select(Reminder, Target, Assignment, Unit)
        .join(Target, col(Target.id) == col(Reminder.target_id))
        .join(Assignment, col(Assignment.id) == col(Target.assignment_id))
        .join(Unit, col(Unit.id) == col(Target.unit_id))
        .where(Reminder.state == ReminderState.PLANNED, Assignment.state == AssignmentState.ACTIVE,
               col(Assignment.reminders_paused).is_(False),
               col(Target.state).in_(OPEN_TARGET_STATES))
        .order_by(col(Reminder.due_at), col(Assignment.number), col(Unit.code))
    )
    if until is not None:
        query = query.where(col(Reminder.due_at) <= until)
    rows = (await session.exec(query)).all()
    reporters: dict[int, list[str]] = {}
    unit_ids = {unit.id for *_, unit in rows}
    for membership, member in (await session.exec(
            select(Membership, Member).join(Member, col(Member.id) == col(Membership.member_id))
            .where(col(Membership.unit_id).in_(unit_ids), Membership.role == "reporter")
            .order_by(col(Member.id)))).all():
        reporters.setdefault(membership.unit_id, []).append(member.display_name)  # type: ignore[arg-type]
    return [DueReminder(reminder.due_at, assignment.number, unit.code,
                        reporters.get(unit.id, []), reminder.kind)  # type: ignore[arg-type]
            for reminder, _target, assignment, unit in rows]


async def task_by_ref(session: AsyncSession, ref: str) -> Assignment:
    task = await repositories.task_by_ref(session, ref)
    if task is None:
        raise AdminError(f"no task {ref!r}: give a task number such as #3 (staff see them "
                         "with /tiendo)")
    if task.state != AssignmentState.ACTIVE:
        raise AdminError(f"task #{task.number} is {task.state}: it has no reminders to pause "
                         "or resume")
    return task


@dataclass
class PauseReport:
    task: Assignment
    changed: bool
    count: int  # reminders withdrawn (pause) or units re-planned (resume)
    next_due: datetime | None = None


async def set_reminders_paused(session: AsyncSession, settings: Settings, ref: str,
                               paused: bool, now: datetime) -> PauseReport:
    """Pause: withdraw the task's planned reminders (escalations stop with them). Resume:
    plan every open target's reminders again from `now`, so the ones missed while paused
    are not all sent at once."""
    task = await task_by_ref(session, ref)
    if task.reminders_paused == paused:
        return PauseReport(task, False, 0)
    task.reminders_paused = paused
    session.add(task)
    target_ids = select(Target.id).where(Target.assignment_id == task.id)
    if paused:
        withdrawn = (await session.exec(select(func.count()).select_from(Reminder).where(
            Reminder.state == ReminderState.PLANNED,
            col(Reminder.target_id).in_(target_ids)))).one()
        await session.exec(delete(Reminder).where(
            col(Reminder.state) == ReminderState.PLANNED, col(Reminder.target_id).in_(target_ids)))
        report = PauseReport(task, True, withdrawn)
    else:
        ctx = Context(session=session, now=now, settings=settings,
                      files=FileStore(settings.files_dir))
        # Only the current period is chased: past periods of a recurring task stay missing
        # in its history, as they do when a new period opens.
        current = (await current_periods(ctx, {task.id})).get(task.id, "")  # type: ignore[arg-type]
        targets = (await session.exec(select(Target).where(
            Target.assignment_id == task.id, Target.period == current,
            col(Target.state).in_(OPEN_TARGET_STATES)))).all()
        for target in targets:
            await replan_target(ctx, target, task)
        await session.flush()
        upcoming = (await session.exec(select(func.min(Reminder.due_at)).where(
            Reminder.state == ReminderState.PLANNED,
            col(Reminder.target_id).in_(target_ids)))).first()
        report = PauseReport(task, True, len(targets), upcoming)
    audit(session, now, "reminders_pause" if paused else "reminders_resume", task.id,
          number=task.number, count=report.count)
    return report


# --- audit log ---------------------------------------------------------------------------


@dataclass
class AuditEntry:
    at: datetime
    actor: str
    channel: str
    action: str
    number: int | None  # the task's number, if the change concerns one
    detail: str


async def audit_entries(session: AsyncSession, task: str | None = None,
                        member: str | None = None, since: datetime | None = None,
                        limit: int = 1000) -> list[AuditEntry]:
    """The audit log, oldest first: every change, or those of one task, one member (by
    name, accents and case aside) or since a moment; the latest `limit` of them."""
    query = select(AuditLog, Assignment.number).outerjoin(
        Assignment, col(Assignment.id) == col(AuditLog.assignment_id))
    if task is not None:
        found = await repositories.task_by_ref(session, task)
        if found is None:
            raise AdminError(f"no task {task!r}: give a task number such as #3")
        query = query.where(AuditLog.assignment_id == found.id)
    if since is not None:
        query = query.where(col(AuditLog.at) >= since)
    rows = (await session.exec(query.order_by(col(AuditLog.id).desc()))).all()
    if member is not None:
        rows = [(entry, n) for entry, n in rows if fold(entry.actor) == fold(member)]
    return [AuditEntry(entry.at, entry.actor, entry.channel, entry.action, n, entry.detail)
            for entry, n in reversed(rows[:limit])]
