"""`bot.py members import FILE.xlsx|csv`: the members an office already has on a list (name,
channel, id, role, unit), with the checks of `members add` on every row. One transaction:
every bad row is reported with its number and nothing is written. Written in bulk (a few
statements per thousand rows, never a query per row), so 150,000 members take seconds."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.admin import BULK_LOAD, AdminError, Table, audit
from core.member_rows import MemberProblem, MemberRow, header_map, to_row, validate
from core.roles import CHANNELS, ROLES
from storage import bulk
from storage.models import Member, Membership, Unit

Progress = Callable[[int, int], None]
CHUNK = 1000  # rows per INSERT statement (PostgreSQL takes at most 32,767 parameters)

PROBLEM_TEXT = {
    "missing_value": "row {row}: the column {value!r} is empty",
    "unknown_channel": "row {row}: unknown channel {value!r}: expected one of "
                       + ", ".join(CHANNELS),
    "needs_id": "row {row}: the id is empty; a {value} member needs their {value} user id",
    "unknown_role": "row {row}: unknown role {value!r}: expected one of " + ", ".join(ROLES),
    "needs_unit": "row {row}: {value!r} is a reporter and needs a unit",
    "unknown_unit": "row {row}: unknown unit {value!r}: see `bot.py units list`",
    "duplicate": "row {row}: the same as row {other} ({value!r}, same channel, id, role "
                 "and unit)",
    "other_name": "row {row}: this channel and id are {value!r} on row {other}; one person "
                  "has one name",
}


def member_rows(path: Path, table: Table) -> list[MemberRow]:
    """The member rows below the header (title rows above it are skipped)."""
    for index, cells in enumerate(table.rows[:20]):
        columns = header_map(cells)
        if columns:
            rows = [to_row(index + 2 + offset, list(cells), columns)
                    for offset, cells in enumerate(table.rows[index + 1:])
                    if any(str(c or "").strip() for c in cells)]
            if not rows:
                raise AdminError(f"{path}: the header is there but no member rows follow it")
            return rows
    raise AdminError(f"{path}: no header row with the columns name,channel,id,role,unit (or "
                     "họ tên, kênh, mã người dùng, vai trò, đơn vị); name, channel and role are "
                     "required")


def problem_text(problem: MemberProblem) -> str:
    return PROBLEM_TEXT[problem.code].format(row=problem.row, value=problem.value,
                                             other=problem.other)


@dataclass
class MembersReport:
    rows: int
    added: int  # new members
    updated: int  # members already there who got another role or unit
    roles: int  # memberships given
    unchanged: int  # rows that were already true


async def import_members(session: AsyncSession, rows: list[MemberRow], now: datetime,
                         language: str = "vi", progress: Progress | None = None,
                         source: str = "") -> MembersReport:
    """Add the members and memberships of `rows`; AdminError (nothing written) if any row
    is wrong."""
    units = {code.upper(): unit_id for unit_id, code in
             (await session.exec(select(Unit.id, Unit.code))).all()}
    problems = validate(rows, set(units))
    if problems:
        raise AdminError(f"nothing imported: {len({p.row for p in problems})} of {len(rows)} "
                         "rows are "
                         "wrong:\n" + "\n".join(problem_text(p) for p in problems))
    channels = sorted({row.channel_key for row in rows})
    accounts = await _accounts(session, channels)
    known = set(accounts.values())
    held = {(member_id, unit_id, role) for member_id, unit_id, role in (await session.exec(
        select(Membership.member_id, Membership.unit_id, Membership.role)
        .join(Member, col(Member.id) == col(Membership.member_id))
        .where(col(Member.channel).in_(channels)))).all()}
    new: dict[tuple[str, str], MemberRow] = {}
    for row in rows:
        if row.account not in accounts:
            new.setdefault(row.account, row)
    connection = await session.connection()
    total = len(new) + len(rows)  # members, then memberships (fewer if some are there)
    done = 0
    batch = list(new.items())
    for start in range(0, len(batch), CHUNK):
        await bulk.insert_rows(connection, Member.__table__, [  # type: ignore[attr-defined]
            {"display_name": row.name, "channel": channel, "channel_user_id": user_id,
             "chat_id": user_id, "language": language, "created_at": now}
            for (channel, user_id), row in batch[start:start + CHUNK]])
        done += len(batch[start:start + CHUNK])
        if progress:
            progress(done, total)
    if new:
        accounts = await _accounts(session, channels)
    memberships: list[dict[str, object]] = []
    updated: set[int] = set()
    for row in rows:
        member_id = accounts[row.account]
        unit_id = units.get(row.unit.upper()) if row.unit else None
        if (member_id, unit_id, row.role_key) in held:
            continue
        held.add((member_id, unit_id, row.role_key))
        memberships.append({"member_id": member_id, "unit_id": unit_id, "role": row.role_key})
        if member_id in known:
            updated.add(member_id)
    total = len(new) + len(memberships)
    for start in range(0, len(memberships), CHUNK):
        chunk = memberships[start:start + CHUNK]
        await bulk.insert_rows(connection, Membership.__table__, chunk)  # type: ignore[attr-defined]
        done += len(chunk)
        if progress:
            progress(done, total)
    report = MembersReport(len(rows), len(new), len(updated), len(memberships),
                           len(rows) - len(memberships))
    if len(new) + len(memberships) >= BULK_LOAD:
        await bulk.refresh_statistics(session, Member.__table__,  # type: ignore[attr-defined]
                                      Membership.__table__)  # type: ignore[attr-defined]
    if report.roles:  # a file imported again changes nothing, and logs nothing
        audit(session, now, "members_import", file=source, rows=report.rows,
              added=report.added, updated=report.updated, roles=report.roles,
              names=[row.name for row in list(new.values())[:20]])
    return report


async def _accounts(session: AsyncSession, channels: list[str]) -> dict[tuple[str, str], int]:
    """(channel, user id) → member id of every member on `channels`."""
    rows = (await session.exec(select(Member.id, Member.channel, Member.channel_user_id)
                               .where(col(Member.channel).in_(channels)))).all()
    return {(channel, user_id): member_id for member_id, channel, user_id in rows
            if member_id is not None}  # a stored row always has its id
