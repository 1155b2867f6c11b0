"""Who may do what. Roles: admin, staff (assigns), leader (follows progress), reporter."""

from __future__ import annotations

from collections.abc import Iterable

ROLES = ("admin", "staff", "leader", "reporter")


def can_assign(roles: Iterable[str]) -> bool:
    return bool({"admin", "staff"} & set(roles))


def can_see_all_progress(roles: Iterable[str]) -> bool:
    return bool({"admin", "staff", "leader"} & set(roles))


def can_decide_extensions(roles: Iterable[str]) -> bool:
    return can_assign(roles)
