"""Rows of a members file (`bot.py members import`): name, channel, id, role, unit, with
English or Vietnamese headers, and the checks `members add` makes on each. Pure, so every
rule is unit-tested; the import reads the units and members it checks against."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache

from core.roles import CHANNELS, ROLES
from core.text import fold
from core.unit_rows import find_columns

REQUIRED = ("name", "channel", "role")
HEADER_ALIASES = {
    "name": "name", "ten": "name", "ho ten": "name", "ho va ten": "name",
    "channel": "channel", "kenh": "channel",
    "id": "id", "user id": "id", "ma nguoi dung": "id", "ma": "id",
    "role": "role", "vai tro": "role",
    "unit": "unit", "don vi": "unit", "ma don vi": "unit",
}
ROLE_ALIASES = {
    "admin": "admin", "quan tri": "admin",
    "staff": "staff", "chuyen vien": "staff",
    "leader": "leader", "lanh dao": "leader",
    "reporter": "reporter", "dau moi": "reporter", "dau moi bao cao": "reporter",
}


@lru_cache(maxsize=1024)
def _key(text: str) -> str:
    """`fold`, remembered: a file of 150,000 rows has a handful of channels and roles."""
    return fold(text)


@dataclass(frozen=True)
class MemberRow:
    row: int  # row number in the file, as a spreadsheet shows it
    name: str
    channel: str  # as written
    user_id: str
    role: str  # as written
    unit: str
    channel_key: str = ""  # the channel and role as known names (`of` reads them)
    role_key: str = ""

    @classmethod
    def of(cls, row: int, name: str, channel: str, user_id: str, role: str,
           unit: str) -> MemberRow:
        return cls(row, name, channel, user_id, role, unit, _key(channel),
                   ROLE_ALIASES.get(_key(role), _key(role)))

    @property
    def account(self) -> tuple[str, str]:
        """(channel, user id): a console member's id is their name, as in `members add`."""
        return self.channel_key, self.user_id or (self.name if self.channel_key == "console"
                                                  else "")


@dataclass(frozen=True)
class MemberProblem:
    row: int
    code: str  # missing_value | unknown_channel | needs_id | unknown_role | needs_unit |
    #            unknown_unit | duplicate | other_name
    value: str
    other: int = 0  # the other row (duplicate, other_name)


def header_map(cells: Iterable[object]) -> dict[str, int] | None:
    """Column index per field when `cells` is a members header row."""
    return find_columns(cells, HEADER_ALIASES, REQUIRED)


def cell_text(value: object) -> str:
    """A cell as text: a spreadsheet's 123456789.0 (a Telegram id typed as a number) is
    `123456789`."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def to_row(number: int, cells: list[object], columns: Mapping[str, int]) -> MemberRow:
    def cell(name: str) -> str:
        index = columns.get(name)
        return cell_text(cells[index]) if index is not None and index < len(cells) else ""

    return MemberRow.of(number, cell("name"), cell("channel"), cell("id"), cell("role"),
                        cell("unit"))


def validate(rows: list[MemberRow], units: set[str]) -> list[MemberProblem]:
    """Every problem of every row, by row; `units` are the unit codes (upper-cased). An
    account on several rows (a principal who is also a leader) must keep one name."""
    problems: list[MemberProblem] = []
    seen: dict[tuple[str, str, str, str], int] = {}
    names: dict[tuple[str, str], tuple[str, int]] = {}
    for row in rows:
        found = len(problems)
        for field in REQUIRED:
            if not getattr(row, field):
                problems.append(MemberProblem(row.row, "missing_value", field))
        if len(problems) > found:
            continue
        if row.channel_key not in CHANNELS:
            problems.append(MemberProblem(row.row, "unknown_channel", row.channel))
        elif not row.account[1]:
            problems.append(MemberProblem(row.row, "needs_id", row.channel_key))
        if row.role_key not in ROLES:
            problems.append(MemberProblem(row.row, "unknown_role", row.role))
        elif row.role_key == "reporter" and not row.unit:
            problems.append(MemberProblem(row.row, "needs_unit", row.name))
        if row.unit and row.unit.upper() not in units:
            problems.append(MemberProblem(row.row, "unknown_unit", row.unit))
        if len(problems) > found:
            continue
        key = (*row.account, row.role_key, row.unit.upper())
        if key in seen:
            problems.append(MemberProblem(row.row, "duplicate", row.name, seen[key]))
            continue
        seen[key] = row.row
        earlier = names.get(row.account)
        if earlier and fold(earlier[0]) != fold(row.name):
            problems.append(MemberProblem(row.row, "other_name", earlier[0], earlier[1]))
            continue
        names.setdefault(row.account, (row.name, row.row))
    return problems
