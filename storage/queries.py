"""Queries that several use cases share: the unit tree, a row read for a change."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from sqlalchemy import any_, bindparam
from sqlalchemy.dialects.postgresql import ARRAY
from sqlmodel import col, select

from storage.models import Unit

CHUNK = 500  # ids per IN (...) list: a bounded number of parameters per query


def subtree(roots: Any) -> Any:
    """Ids of the units selected by `roots` and of all units below them (a Phòng and its
    schools), through a recursive query over `Unit.parent_id`."""
    tree = select(col(Unit.id).label("id")).where(col(Unit.id).in_(roots)).cte(
        "tree", recursive=True)
    tree = tree.union(select(col(Unit.id)).join(tree, col(Unit.parent_id) == tree.c.id))
    return select(tree.c.id)


# Rows about to change are locked FOR NO KEY UPDATE on PostgreSQL (SQLite has one writer at a
# time anyway): two workers changing one row take turns, while other transactions may still
# insert rows that refer to it (a reminder's message, a submission), which a plain FOR UPDATE
# would hold up.
ROW_LOCK: dict[str, Any] = {"key_share": True}
_LOCKED = "locked rows"  # `Session.info` key: see `note_locked`


def note_locked(session: Any, table: str, ids: Iterable[int]) -> None:
    """Remember that the current transaction of `session` read these rows of `table` under
    `ROW_LOCK`, afresh (`for_change`): `locked` answers for them until it ends, and a change
    need not read them again. (Not for rows locked inside a savepoint: rolling it back
    releases their locks.)"""
    transaction = session.sync_session.get_transaction()
    held = session.info.get(_LOCKED)
    if held is None or held[0] is not transaction:
        held = session.info[_LOCKED] = (transaction, {})
    held[1].setdefault(table, set()).update(ids)


def locked(session: Any, table: str, row_id: int) -> bool:
    """Whether the current transaction of `session` holds the row's lock (`note_locked`)."""
    held = session.info.get(_LOCKED)
    return (held is not None and held[0] is session.sync_session.get_transaction()
            and row_id in held[1].get(table, ()))


def for_change(query: Any) -> Any:
    """`query` with its rows locked until the commit and read afresh (not from the session):
    a change is decided on the committed values, never on values read earlier."""
    return query.with_for_update(**ROW_LOCK).execution_options(populate_existing=True)


def dialect_of(session: Any) -> str:
    """The backend of `session` ("sqlite", "postgresql")."""
    return str(session.bind.dialect.name)


def reads_as_committed(session: Any) -> bool:
    """Whether what `session`'s write transaction read is as committed and stays so until
    it ends: on SQLite it holds the database's write lock from its first statement (`BEGIN
    IMMEDIATE`, `storage.db`), so no other transaction commits meanwhile. A row it read
    need not be read again under a row lock."""
    return dialect_of(session) == "sqlite"


def chunks_of(ids: Sequence[Any], dialect: str, chunk: int = CHUNK) -> list[list[Any]]:
    """`ids` in lists for one statement each: all of them at once on PostgreSQL, where
    `in_ids` passes them as one array parameter (looked up by the server in a hash of
    them: one scan of the table for the 50,000 units of a national task, where lists of
    500 scan it 100 times); `chunk` at a time on SQLite, a bounded number of parameters
    per statement. No list for no ids."""
    if dialect == "postgresql":
        return [list(ids)] if ids else []
    return [list(ids[start:start + chunk]) for start in range(0, len(ids), chunk)]


def in_ids(column: Any, ids: Sequence[Any], dialect: str) -> Any:
    """`column` is one of `ids` (a list of `chunks_of`): `= ANY(:ids)` on PostgreSQL,
    `IN (...)` on SQLite."""
    if dialect == "postgresql":
        return column == any_(bindparam(None, list(ids), type_=ARRAY(column.type)))
    return column.in_(ids)


def one_of(column: Any, ids: Sequence[Any], dialect: str, chunk: int = CHUNK) -> Iterator[Any]:
    """Conditions that together select the rows whose `column` is one of `ids`, one
    statement each (`chunks_of`)."""
    for these in chunks_of(ids, dialect, chunk):
        yield in_ids(column, these, dialect)
