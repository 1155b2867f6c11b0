"""Offices and scope: what a member may see and change, from their memberships.

An office is a unit that has staff or leaders. A staff or leader membership names its office,
and the member's scope is that unit and every unit below it (a Phòng: its schools; the Sở:
the whole province). A membership at an internal department of an office (Văn phòng Sở, a
«Phòng thuộc Sở»: a unit of a kind listed in `offices.department_kinds`) acts for the office
above it. A staff or leader membership with no unit, and the admin role, reach the whole
registry. Reporters see their own units.

This module holds the rules; `services.scope` turns a scope into queries.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

OFFICE_ROLES = ("staff", "leader")


@dataclass(frozen=True)
class Scope:
    """A member's reach. `offices` are the units their staff and leader memberships name (as
    offices: a department already replaced by the office above it); `staff_offices` those
    where they are staff; `reporting` the units they report for."""

    is_admin: bool = False
    whole_registry: bool = False  # sees every unit (admin, or staff/leader with no unit)
    registry_staff: bool = False  # staff with no unit: assigns over, and owns, the registry
    offices: frozenset[int] = frozenset()
    staff_offices: frozenset[int] = frozenset()
    reporting: frozenset[int] = frozenset()

    @property
    def assigns_everywhere(self) -> bool:
        return self.is_admin or self.registry_staff

    @property
    def sees_offices(self) -> bool:
        """Sees by office (staff or leader), not only as a reporter."""
        return self.whole_registry or bool(self.offices)

    def owns(self, office_id: int | None) -> bool:
        """Whether this member may change a task that `office_id` assigned (None: a task of
        the whole registry)."""
        if self.is_admin:
            return True
        if office_id is None:
            return self.registry_staff
        return office_id in self.staff_offices

    def sees_all_of(self, office_id: int | None) -> bool:
        """Whether this member sees every target of a task that `office_id` assigned."""
        if self.whole_registry:
            return True
        return office_id is not None and office_id in self.offices

    def office_for_new_task(self) -> int | None:
        """The office a new task of this member belongs to: their staff office when they have
        exactly one, else the whole registry (admins, staff with no unit)."""
        if len(self.staff_offices) == 1 and not self.registry_staff:
            return next(iter(self.staff_offices))
        return None


def scope_of(memberships: Iterable[tuple[str, int | None]],
             office_of: dict[int, int] | None = None) -> Scope:
    """The scope of a member with `memberships` (role, unit id). `office_of` maps a
    department's unit id to the office above it."""
    office_of = office_of or {}
    is_admin = whole = registry_staff = False
    offices: set[int] = set()
    staff: set[int] = set()
    reporting: set[int] = set()
    for role, unit_id in memberships:
        if role == "admin":
            is_admin = whole = True
        elif role in OFFICE_ROLES:
            if unit_id is None:
                whole = True
                registry_staff = registry_staff or role == "staff"
                continue
            office = office_of.get(unit_id, unit_id)
            offices.add(office)
            if role == "staff":
                staff.add(office)
        elif role == "reporter" and unit_id is not None:
            reporting.add(unit_id)
    return Scope(is_admin, whole, registry_staff, frozenset(offices), frozenset(staff),
                 frozenset(reporting))
