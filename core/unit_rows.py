"""Validation of unit rows from an import file: pure, so every rule is unit-tested."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from core.text import fold

REQUIRED = ("code", "name")
HEADER_ALIASES = {
    "code": "code", "ma": "code", "ma don vi": "code",
    "name": "name", "ten": "name", "ten don vi": "name",
    "kind": "kind", "loai": "kind", "loai hinh": "kind",
    "parent": "parent", "don vi cap tren": "parent", "cap tren": "parent",
    "groups": "groups", "nhom": "groups",
}


@dataclass(frozen=True)
class UnitRow:
    row: int  # row number in the file, as a spreadsheet shows it
    code: str
    name: str
    kind: str
    parent: str
    groups: tuple[str, ...]


@dataclass(frozen=True)
class RowProblem:
    row: int
    code: str  # duplicate_code | unknown_parent | parent_cycle | missing_value
    value: str


def find_columns(cells: Iterable[object], aliases: Mapping[str, str],
                 required: Iterable[str]) -> dict[str, int] | None:
    """Column index per field when `cells` is a header row whose (folded) titles `aliases`
    names; None when a required field has no column (the row is data, not a header)."""
    found: dict[str, int] = {}
    for index, cell in enumerate(cells):
        key = aliases.get(fold(str(cell or "")))
        if key and key not in found:
            found[key] = index
    return found if all(k in found for k in required) else None


def header_map(cells: Iterable[object]) -> dict[str, int] | None:
    """Column index per field when `cells` is a units header row (English or Vietnamese)."""
    return find_columns(cells, HEADER_ALIASES, REQUIRED)


def to_row(number: int, cells: list[object], columns: Mapping[str, int]) -> UnitRow:
    def cell(name: str) -> str:
        index = columns.get(name)
        if index is None or index >= len(cells) or cells[index] is None:
            return ""
        return str(cells[index]).strip()

    groups = tuple(g.strip() for g in cell("groups").replace(",", ";").split(";") if g.strip())
    return UnitRow(number, cell("code"), cell("name"), cell("kind"), cell("parent"), groups)


def validate(rows: list[UnitRow], existing_parents: Mapping[str, str | None]) -> list[RowProblem]:
    """Problems that stop the whole import. `existing_parents` maps the codes already in the
    database (upper-cased) to their parent's code, so cycles through them are found too."""
    problems: list[RowProblem] = []
    seen: dict[str, int] = {}
    parents: dict[str, str | None] = dict(existing_parents)
    for row in rows:
        for name in REQUIRED:
            if not getattr(row, name):
                problems.append(RowProblem(row.row, "missing_value", name))
        key = row.code.upper()
        if key and key in seen:
            problems.append(RowProblem(row.row, "duplicate_code", row.code))
        seen[key] = row.row
        if key:
            parents[key] = row.parent.upper() or None
    for row in rows:
        parent = row.parent.upper()
        if parent and parent not in parents:
            problems.append(RowProblem(row.row, "unknown_parent", row.parent))
    for row in rows:
        code, steps = row.code.upper(), 0
        current = parents.get(code)
        while current and steps <= len(parents):
            if current == code:
                problems.append(RowProblem(row.row, "parent_cycle", row.code))
                break
            current, steps = parents.get(current), steps + 1
    return sorted(problems, key=lambda p: p.row)
