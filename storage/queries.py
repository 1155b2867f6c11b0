"""Queries that several use cases share: the unit tree."""

from __future__ import annotations

from typing import Any

from sqlmodel import col, select

from storage.models import Unit


def subtree(roots: Any) -> Any:
    """Ids of the units selected by `roots` and of all units below them (a Phòng and its
    schools), through a recursive query over `Unit.parent_id`."""
    tree = select(col(Unit.id).label("id")).where(col(Unit.id).in_(roots)).cte(
        "tree", recursive=True)
    tree = tree.union(select(col(Unit.id)).join(tree, col(Unit.parent_id) == tree.c.id))
    return select(tree.c.id)
