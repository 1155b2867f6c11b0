"""Units as users name them: by code, by name (accents and case aside), by group or kind; the
groups' units; counts and first names of a list of units for a preview.

`within` limits a lookup to the units a member may see or assign to: a query of unit ids or a
list of them (`services.scope` gives them), None for every unit. `entity` is what is read of
each unit: `Unit` objects (`UNIT_OBJECTS`), or plain rows (`UNIT_COLUMNS`) where thousands of
units are read at once (`/giao ... | đơn vị tất cả` at national size)."""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from sqlalchemy import ColumnElement, func, text
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import GroupUnit, Unit, UnitGroup
from storage.queries import dialect_of, in_ids, one_of

UNIT_OBJECTS: tuple[Any, ...] = (Unit,)
UNIT_COLUMNS: tuple[Any, ...] = (Unit.id, Unit.code, Unit.name, Unit.name_key)


def _among(within: Any) -> list[ColumnElement[bool]]:
    return [] if within is None else [col(Unit.id).in_(within)]


# --- what a user typed -------------------------------------------------------------------


async def units_among(session: AsyncSession, within: Any, *conditions: Any,
                      entity: tuple[Any, ...] = UNIT_OBJECTS) -> Sequence[Any]:
    """The units among `within` meeting `conditions` (a scope predicate such as
    `services.scope.directly_below`), by code."""
    return (await session.exec(select(*entity).where(*conditions, *_among(within)).order_by(
        col(Unit.code)))).all()


async def units_of_group(session: AsyncSession, key: str, within: Any,
                         entity: tuple[Any, ...] = UNIT_OBJECTS) -> Sequence[Any]:
    """The units that carry the group `key` (a folded name), by code."""
    return (await session.exec(
        select(*entity).join(UnitGroup, col(UnitGroup.unit_id) == col(Unit.id))
        .where(UnitGroup.key == key, *_among(within)).order_by(col(Unit.code)))).unique().all()


async def units_of_kind(session: AsyncSession, kind: str, within: Any,
                        entity: tuple[Any, ...] = UNIT_OBJECTS) -> Sequence[Any]:
    """The units of a kind (THCS, Phòng...), case aside."""
    return (await session.exec(select(*entity).where(
        func.lower(Unit.kind) == kind.lower(), *_among(within)))).all()


async def units_by_code(session: AsyncSession, code: str, within: Any = None,
                        entity: tuple[Any, ...] = UNIT_OBJECTS) -> Sequence[Any]:
    """The unit with code `code`, case aside (one at most: codes are unique)."""
    return (await session.exec(select(*entity).where(
        func.upper(Unit.code) == code.upper(), *_among(within)))).all()


async def units_by_name(session: AsyncSession, key: str, within: Any,
                        entity: tuple[Any, ...] = UNIT_OBJECTS) -> Sequence[Any]:
    """The units whose whole name is `key` (folded: accents and case aside)."""
    return (await session.exec(select(*entity).where(
        Unit.name_key == key, *_among(within)))).all()


async def units_named(session: AsyncSession, key: str, within: Any, limit: int,
                      entity: tuple[Any, ...] = UNIT_OBJECTS) -> list[Any]:
    """The first `limit` units by code whose name contains `key` (folded); of those, the
    ones where it is a whole word when there are any."""
    found = list((await session.exec(
        select(*entity).where(col(Unit.name_key).contains(key), *_among(within))
        .order_by(col(Unit.code)).limit(limit))).all())
    words = [u for u in found if re.search(rf"\b{re.escape(key)}\b", u.name_key)]
    return words or found


async def is_within(session: AsyncSession, unit_id: int, within: Any) -> bool:
    """Whether unit `unit_id` is among `within`."""
    return (await session.exec(select(Unit.id).where(
        col(Unit.id) == unit_id, *_among(within)))).first() is not None


async def group_or_kind_exists(session: AsyncSession, key: str, kind: str) -> bool:
    """Whether the group `key` or the unit kind `kind` exists anywhere in the registry."""
    return bool((await session.exec(select(UnitGroup.id).where(
        UnitGroup.key == key).limit(1))).first() or (await session.exec(select(
            Unit.id).where(func.lower(Unit.kind) == kind.lower()).limit(1))).first())


# --- groups -------------------------------------------------------------------------------


def group_roots(key: str, within: Any = None) -> Any:
    """Ids of the units that carry the group `key` (among `within`), as a query."""
    query = select(UnitGroup.unit_id).where(UnitGroup.key == key)
    return query if within is None else query.where(col(UnitGroup.unit_id).in_(within))


def group_units(key: str, within: Any = None) -> Any:
    """Ids of the group's units and of every unit below them (among `within`), as a query."""
    query = select(GroupUnit.unit_id).where(GroupUnit.key == key)
    return query if within is None else query.where(col(GroupUnit.unit_id).in_(within))


async def group_name(session: AsyncSession, key: str) -> str | None:
    """The group `key` as written in the units' import."""
    return (await session.exec(select(func.min(UnitGroup.name)).where(
        UnitGroup.key == key))).one()


async def group_names(session: AsyncSession, within: Any) -> Sequence[tuple[int, str]]:
    """(unit id, group name) of every group of the units among `within`."""
    return (await session.exec(select(UnitGroup.unit_id, UnitGroup.name).where(
        *([] if within is None else [col(UnitGroup.unit_id).in_(within)])))).all()


async def count_of(session: AsyncSession, ids: Any) -> int:
    """How many rows a query of unit ids (`group_roots`, `storage.queries.subtree`...)
    selects."""
    return (await session.exec(select(func.count()).select_from(ids.subquery()))).one()


async def any_of(session: AsyncSession, ids: Any) -> bool:
    """Whether a query of unit ids selects any."""
    return (await session.exec(ids.limit(1))).first() is not None


# --- lists of units -------------------------------------------------------------------------


async def units_within(session: AsyncSession, within: Any) -> Sequence[Unit]:
    """Every unit among `within`, in no particular order."""
    return (await session.exec(select(Unit).where(*_among(within)))).all()


async def units_by_id(session: AsyncSession, ids: Collection[int]) -> list[Unit]:
    """The units `ids`, by code."""
    return list((await session.exec(select(Unit).where(col(Unit.id).in_(ids))
                                    .order_by(col(Unit.code)))).all())


async def unit_names(session: AsyncSession, ids: Collection[int]) -> dict[int, str]:
    """The names of the units `ids`, by id."""
    return dict((await session.exec(  # type: ignore[arg-type]
        select(Unit.id, Unit.name).where(col(Unit.id).in_(ids)))).all())


async def unit_ids_within(session: AsyncSession, ids: Collection[int], within: Any
                          ) -> Sequence[int]:
    """Those of the units `ids` that are among `within` (that still exist, for None)."""
    return (await session.exec(select(Unit.id).where(  # type: ignore[return-value]
        in_ids(col(Unit.id), list(ids), dialect_of(session)), *_among(within)))).all()


async def code_and_name_rows(session: AsyncSession, ids: Collection[int], by_code: bool = True
                             ) -> Sequence[tuple[int, str, str]]:
    """(id, code, name) of the units `ids`, by code unless `by_code` is False."""
    query = select(Unit.id, Unit.code, Unit.name).where(
        in_ids(col(Unit.id), list(ids), dialect_of(session)))
    return (await session.exec(  # type: ignore[return-value]
        query.order_by(col(Unit.code)) if by_code else query)).all()


async def count_units(session: AsyncSession, ids: Collection[int]) -> int:
    """How many of the units `ids` exist, counted by the database."""
    return (await session.exec(select(func.count()).where(col(Unit.id).in_(ids)))).one()


async def first_names(session: AsyncSession, ids: Collection[int], limit: int) -> list[str]:
    """The names of the first `limit` of the units `ids` by code."""
    return list((await session.exec(select(Unit.name).where(col(Unit.id).in_(ids)).order_by(
        col(Unit.code)).limit(limit))).all())


async def first_codes_and_names(session: AsyncSession, ids: Collection[int], limit: int
                                ) -> list[tuple[str, str]]:
    """(code, name) of the first `limit` of the units `ids` by code."""
    return list((await session.exec(select(Unit.code, Unit.name).where(
        col(Unit.id).in_(ids)).order_by(col(Unit.code)).limit(limit))).all())


# --- offices and the units below them ------------------------------------------------------


async def units_with_units_below(session: AsyncSession, unit_ids: list[int]) -> set[int]:
    """Those of `unit_ids` that have units below them."""
    found: set[int] = set()
    for below in one_of(col(Unit.parent_id), unit_ids, dialect_of(session)):
        found.update((await session.exec(select(Unit.parent_id).where(
            below).distinct())).all())  # type: ignore[arg-type]
    return found


async def units_below_of(session: AsyncSession, unit_ids: list[int]
                         ) -> list[tuple[int, int, str]]:
    """(unit id, parent id, kind) of the units right below any of `unit_ids`."""
    rows: list[tuple[int, int, str]] = []
    for below in one_of(col(Unit.parent_id), unit_ids, dialect_of(session)):
        rows.extend((await session.exec(select(Unit.id, Unit.parent_id, Unit.kind).where(
            below))).all())  # type: ignore[arg-type]
    return rows


async def units_below(session: AsyncSession, unit_id: int) -> list[Unit]:
    """The units right below unit `unit_id`."""
    return list((await session.exec(select(Unit).where(Unit.parent_id == unit_id))).all())


async def unit_ids_below(session: AsyncSession, office_id: int) -> list[int]:
    """The units directly below an office, by code."""
    return list((await session.exec(select(Unit.id).where(
        Unit.parent_id == office_id).order_by(col(Unit.code)))).all())  # type: ignore[arg-type]


# --- a registry's import -------------------------------------------------------------------

# The parents of a whole registry in one statement (50,000 UPDATEs by `executemany` took 3.3 s
# on PostgreSQL), the pairs as one parameter, as `storage.sending` records messages.
_SET_PARENTS = {
    "postgresql": text(
        "UPDATE unit SET parent_id = m.parent_id "
        "FROM unnest(CAST(:ids AS INTEGER[]), CAST(:parents AS INTEGER[])) AS m(id, parent_id) "
        "WHERE unit.id = m.id"),
    "sqlite": text(
        "UPDATE unit SET parent_id = m.value ->> 1 "
        "FROM json_each(:rows) AS m WHERE unit.id = m.value ->> 0"),
}


async def set_parents(session: AsyncSession, parents: Mapping[int, int | None]) -> None:
    """Set the parent of each unit (unit id → the parent's id, None for a root) in the
    database. The session's `Unit` objects are not told: the caller sets theirs as loaded."""
    if not parents:
        return
    if dialect_of(session) == "postgresql":
        params: dict[str, Any] = {"ids": list(parents), "parents": list(parents.values())}
        statement = _SET_PARENTS["postgresql"]
    else:
        params = {"rows": json.dumps(list(parents.items()))}
        statement = _SET_PARENTS["sqlite"]
    await session.exec(statement, params=params)  # type: ignore[call-overload]


async def unit_ids_by_code(session: AsyncSession, codes: Collection[str]) -> dict[str, int]:
    """The ids of the units of these codes, by code in upper case (as an import matches)."""
    if not codes:
        return {}
    wanted = {code.upper() for code in codes}
    rows = await session.exec(select(Unit.code, Unit.id))
    return {code.upper(): unit_id for code, unit_id in rows.all()  # type: ignore[misc]
            if code.upper() in wanted}

