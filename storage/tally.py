"""Keeps `UnitTally` (each unit's history counters) up to date in the flush that changes a
target or cancels a task, so the counters commit or roll back with the change itself.

Every ORM write of a `Target` (added, changed, deleted) and of `Assignment.state` goes through
the session's `before_flush` event, whatever handler makes it: the previous values are read
back from the database (it still holds them before the flush) and each unit gets the
difference. A task crossing into or out of `cancelled` moves all of its targets: their counters
are summed by the database. Bulk SQL writes of targets would bypass this; the application
makes none (the benchmark fills its database before the migration that backfills the table).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from sqlalchemy import case, event, func, inspect, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from core.progress import SUBMITTED, History, history_of
from storage.models import Assignment, Target, UnitTally

CANCELLED = "cancelled"
CHUNK = 500
T = Target.__table__.c  # type: ignore[attr-defined]
A = Assignment.__table__.c  # type: ignore[attr-defined]
FIELDS = (T.id, T.unit_id, T.assignment_id, T.state, T.on_time, T.submitted_at, T.deadline)


def delay_days(dialect: str, submitted_at: Any, deadline: Any) -> Any:
    """Days from deadline to submission in SQL (each backend has its own date arithmetic)."""
    if dialect == "sqlite":
        return func.julianday(submitted_at) - func.julianday(deadline)
    return func.extract("epoch", submitted_at - deadline) / 86400.0


def sums(dialect: str) -> tuple[Any, ...]:
    """The `History` counters summed over targets, in SQL (the rules of `history_of`)."""
    submitted = T.state == SUBMITTED
    return (func.coalesce(func.sum(case((submitted & T.on_time.is_(True), 1), else_=0)), 0),
            func.coalesce(func.sum(case((submitted & T.on_time.is_not(True), 1), else_=0)), 0),
            func.coalesce(func.sum(case((submitted & T.on_time.is_(False),
                                         delay_days(dialect, T.submitted_at, T.deadline)),
                                        else_=0.0)), 0.0),
            func.coalesce(func.sum(case((T.state.in_(("pending", "in_progress")), 1),
                                        else_=0)), 0))


def _chunks(ids: list[Any]) -> Iterable[list[Any]]:
    for start in range(0, len(ids), CHUNK):
        yield ids[start:start + CHUNK]


def _history(row: Any) -> History:
    return history_of(row.state, row.on_time, row.submitted_at, row.deadline)


def _assignment_states(conn: Connection, ids: set[int], cancelling: set[int]) -> dict[int, str]:
    """The tasks' states before this flush. On PostgreSQL their rows stay locked until the
    commit, `cancelling` ones exclusively (before their targets are summed): a task being
    cancelled in another transaction waits for this one's answers, or they see it cancelled."""
    states: dict[int, str] = {}
    for chunk in _chunks(sorted(ids)):
        for lock, where in ((True, A.id.not_in(cancelling)), (False, A.id.in_(cancelling))):
            query = select(A.id, A.state).where(A.id.in_(chunk), where).with_for_update(
                read=lock)
            states.update({row.id: row.state for row in conn.execute(query)})
    return states


def _before_flush(session: Session, _context: Any, _instances: Any) -> None:
    targets = [o for o in (*session.new, *session.dirty, *session.deleted)
               if isinstance(o, Target)]
    assignments = [o for o in session.dirty if isinstance(o, Assignment)
                   and inspect(o).attrs.state.history.has_changes()]
    if not targets and not assignments:
        return
    conn = session.connection()
    dialect = conn.dialect.name
    cancelling = {a.id for a in assignments if a.id is not None}
    old_state = _assignment_states(
        conn, cancelling | {t.assignment_id for t in targets if t.assignment_id is not None},
        cancelling)
    # Previous values of the changed and deleted targets, as stored.
    stored_ids = [t.id for t in targets if t not in session.new and t.id is not None]
    before = {}
    for chunk in _chunks(stored_ids):
        before.update({row.id: row for row in conn.execute(select(*FIELDS).where(
            T.id.in_(chunk)))})
    new_state = old_state | {a.id: a.state for a in assignments}
    delta: dict[int, History] = defaultdict(History)
    for target in targets:
        old = before.get(target.id)  # type: ignore[arg-type]
        if old is not None and old_state.get(old.assignment_id) != CANCELLED:
            delta[old.unit_id] += -_history(old)
        if target not in session.deleted and new_state.get(target.assignment_id) != CANCELLED:
            delta[target.unit_id] += _history(target)
    for assignment in assignments:
        was = old_state.get(assignment.id)  # type: ignore[arg-type]
        if (was == CANCELLED) == (assignment.state == CANCELLED):
            continue
        sign = 1 if was == CANCELLED else -1
        # Its targets as stored, but for those changed in this flush (counted above).
        query = select(T.unit_id, *sums(dialect)).where(T.assignment_id == assignment.id)
        if stored_ids:
            query = query.where(T.id.not_in(stored_ids))
        for unit_id, *counts in conn.execute(query.group_by(T.unit_id)):
            on_time, late, delay, still_open = counts
            delta[unit_id] += History(sign * int(on_time), sign * int(late),
                                      sign * float(delay), sign * int(still_open))
    _apply(conn, delta)


def _apply(conn: Connection, delta: dict[int, History]) -> None:
    rows = [{"unit_id": unit_id, **h._asdict()} for unit_id, h in sorted(delta.items())
            if any(h)]
    if not rows:
        return
    insert = sqlite_insert if conn.dialect.name == "sqlite" else pg_insert
    statement = insert(UnitTally.__table__)  # type: ignore[attr-defined]
    table = UnitTally.__table__.c  # type: ignore[attr-defined]
    statement = statement.on_conflict_do_update(
        index_elements=[table.unit_id],
        set_={name: table[name] + statement.excluded[name] for name in History._fields})
    conn.execute(statement, rows)


def rebuild(conn: Connection) -> None:
    """Count every unit's counters again from its targets (after targets were written in
    bulk, bypassing the session: the benchmark's fill)."""
    conn.execute(UnitTally.__table__.delete())  # type: ignore[attr-defined]
    counted = (select(T.unit_id, *sums(conn.dialect.name))
               .select_from(Target.__table__.join(  # type: ignore[attr-defined]
                   Assignment.__table__, A.id == T.assignment_id))  # type: ignore[attr-defined]
               .where(A.state != CANCELLED).group_by(T.unit_id))
    conn.execute(UnitTally.__table__.insert().from_select(  # type: ignore[attr-defined]
        ["unit_id", *History._fields], counted))


def install() -> None:
    """Keep the counters in every session (idempotent)."""
    if not event.contains(Session, "before_flush", _before_flush):
        event.listen(Session, "before_flush", _before_flush)
