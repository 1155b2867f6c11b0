"""A member's scope as queries: the one place that says which units, targets and tasks a
member may see and which tasks they may change (the rules are `core.scope`).

Every read of a task's targets by staff, leaders and reporters goes through
`target_filter` / `task_target_filter`; every change of a task through `check_change`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum
from functools import cache
from typing import Any

from sqlalchemy import ColumnElement, false, or_, union
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from core.scope import OFFICE_ROLES, Scope, scope_of
from core.text import fold
from storage import events
from storage.events import Held
from storage.models import Assignment, Target, Unit
from storage.queries import subtree
from storage.repositories import task_by_ref


async def load_scope(session: AsyncSession, member_id: int,
                     department_kinds: tuple[str, ...]) -> Scope:
    """The scope of member `member_id`, from their memberships."""
    return scope_from(await events.memberships_of(session, member_id), department_kinds)


def scope_from(held: Iterable[Held], department_kinds: tuple[str, ...]) -> Scope:
    """The scope of a member who holds `held` (`storage.events`): a staff or leader
    membership of a department counts for the office above it."""
    held = list(held)
    kinds = _folded(department_kinds)
    office_of = {row.unit.id: row.unit.parent_id for row in held
                 if row.role in OFFICE_ROLES and row.unit is not None and row.unit.id
                 and row.unit.parent_id is not None and fold(row.unit.kind) in kinds}
    return scope_of([(row.role, row.unit_id) for row in held], office_of)


@cache
def _folded(kinds: tuple[str, ...]) -> frozenset[str]:
    return frozenset(fold(kind) for kind in kinds)


def visible_units(scope: Scope) -> Any:
    """The units whose targets the member sees in any task (their offices' subtrees and the
    units they report for), as a query of ids; None for the whole registry."""
    if scope.whole_registry:
        return None
    parts = []
    if scope.offices:
        parts.append(subtree(sorted(scope.offices)))
    if scope.reporting:
        parts.append(select(col(Unit.id)).where(col(Unit.id).in_(sorted(scope.reporting))))
    if not parts:
        return select(col(Unit.id)).where(false())
    return parts[0] if len(parts) == 1 else select(union(*parts).subquery().c.id)


def own_tasks(scope: Scope) -> Any:
    """The tasks whose every target the member sees (their offices' tasks), or None."""
    if not scope.offices:
        return None
    return select(col(Assignment.id)).where(col(Assignment.office_id).in_(sorted(scope.offices)))


def target_filter(scope: Scope) -> ColumnElement[bool] | None:
    """The targets, of any task, that the member sees; None for every target."""
    units = visible_units(scope)
    if units is None:
        return None
    seen = col(Target.unit_id).in_(units)
    tasks = own_tasks(scope)
    return seen if tasks is None else or_(seen, col(Target.assignment_id).in_(tasks))


async def task_target_filter(session: AsyncSession, scope: Scope, assignment: Assignment
                             ) -> ColumnElement[bool] | None:
    """The targets of `assignment` that the member sees; None for all of them: the tasks of
    their offices and of every office below them (a Sở sees all of a Phòng's tasks)."""
    if scope.sees_all_of(assignment.office_id) or await _office_below(
            session, assignment.office_id, scope.offices):
        return None
    return col(Target.unit_id).in_(visible_units(scope))


async def _office_below(session: AsyncSession, office_id: int | None,
                        offices: frozenset[int]) -> bool:
    """Whether unit `office_id` lies below one of `offices` (walking up its parents)."""
    seen: set[int] = set()
    unit_id = office_id
    while unit_id is not None and offices and unit_id not in seen:
        if unit_id in offices:
            return True
        seen.add(unit_id)
        unit_id = (await session.exec(select(Unit.parent_id).where(Unit.id == unit_id))).first()
    return False


async def sees_task(session: AsyncSession, scope: Scope, assignment: Assignment) -> bool:
    """Whether the task exists for this member: it has a target they see (or is theirs)."""
    if scope.sees_all_of(assignment.office_id) or scope.owns(assignment.office_id):
        return True
    where = await task_target_filter(session, scope, assignment)
    query = select(Target.id).where(Target.assignment_id == assignment.id)
    if where is not None:
        query = query.where(where)
    return (await session.exec(query.limit(1))).first() is not None


async def find_task(session: AsyncSession, scope: Scope, ref: str) -> Assignment | None:
    """Task `#N` if it exists for this member, else None (an unknown task and a task outside
    the scope get the same answer)."""
    assignment = await task_by_ref(session, ref)
    if assignment is None or not await sees_task(session, scope, assignment):
        return None
    return assignment


class Access(Enum):
    ALLOWED = "allowed"
    UNKNOWN = "unknown"  # the task does not exist for this member
    NOT_OWNER = "not_owner"  # they see it, but another office assigned it


@dataclass(frozen=True)
class ChangeCheck:
    access: Access
    office: str = ""  # the owning office's name, for NOT_OWNER ("" for the whole registry)


async def check_change(session: AsyncSession, scope: Scope, assignment: Assignment
                       ) -> ChangeCheck:
    """May this member change `assignment` (cancel, nudge, re-plan, excuse, decide)?"""
    if scope.owns(assignment.office_id):
        return ChangeCheck(Access.ALLOWED)
    if not await sees_task(session, scope, assignment):
        return ChangeCheck(Access.UNKNOWN)
    return ChangeCheck(Access.NOT_OWNER, await office_name(session, assignment.office_id))


async def office_name(session: AsyncSession, office_id: int | None) -> str:
    if office_id is None:
        return ""
    unit = await session.get(Unit, office_id)
    return unit.name if unit else ""


def assignable_units(scope: Scope) -> Any:
    """The units this member may assign to (their staff offices' subtrees); None for all."""
    if scope.assigns_everywhere:
        return None
    if not scope.staff_offices:
        return select(col(Unit.id)).where(false())
    return subtree(sorted(scope.staff_offices))


def directly_below(scope: Scope) -> ColumnElement[bool]:
    """`@tructhuoc`: the units directly below the member's offices (below nothing: the top
    of the registry, for admins and staff of the whole registry)."""
    if not scope.staff_offices:
        return col(Unit.parent_id).is_(None)
    return col(Unit.parent_id).in_(sorted(scope.staff_offices))
