"""Keeps the counters that `/tiendo` reads up to date in the transaction that changes a target
or cancels a task, so they commit or roll back with the change itself:
- `UnitTally`, each unit's history counters (tasks not cancelled);
- `ProgressTally`, the targets of each task's period counted by the fields their figures
  depend on, over every unit and over each group (`GroupUnit`, the groups' units with the
  units below them, recomputed by `regroup` when an import moves or regroups units).

They are moved by `shift` (a target added or changed) and `move_task` (a task cancelled or
brought back), called by `services.targets` in the transaction that changes the target, as
increments of the stored counters (never a value computed from a read). Bulk SQL writes of
targets bypass them; `rebuild` counts everything again (the benchmark fills its database so).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC
from typing import Any

from sqlalchemy import bindparam, case, func, literal, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection

from core.progress import SUBMITTED, History, history_of  # SUBMITTED: once per target
from core.states import OPEN_TARGET_STATES, AssignmentState, TargetState
from storage import bulk
from storage.models import Assignment, GroupUnit, ProgressTally, Target, Unit, UnitGroup, UnitTally
from storage.queries import CHUNK, one_of

T = Target.__table__.c  # type: ignore[attr-defined]
A = Assignment.__table__.c  # type: ignore[attr-defined]
P = ProgressTally.__table__.c  # type: ignore[attr-defined]
G = GroupUnit.__table__.c  # type: ignore[attr-defined]
KEY_FIELDS = (T.assignment_id, T.period, T.state, T.on_time, T.extension_granted, T.nil_report,
              T.deadline)
ALL_UNITS = ""  # the scope of ProgressTally rows over every unit
# ProgressTally's key, from a target: on time only for a submission on time.
KEY = ("assignment_id", "period", "state", "on_time", "extension_granted", "nil_report",
       "deadline")


def delay_days(dialect: str, submitted_at: Any, deadline: Any) -> Any:
    """Days from deadline to submission in SQL (each backend has its own date arithmetic)."""
    if dialect == "sqlite":
        return func.julianday(submitted_at) - func.julianday(deadline)
    return func.extract("epoch", submitted_at - deadline) / 86400.0


def sums(dialect: str) -> tuple[Any, ...]:
    """The `History` counters summed over targets, in SQL (the rules of `history_of`)."""
    submitted = T.state == TargetState.SUBMITTED
    return (func.coalesce(func.sum(case((submitted & T.on_time.is_(True), 1), else_=0)), 0),
            func.coalesce(func.sum(case((submitted & T.on_time.is_not(True), 1), else_=0)), 0),
            func.coalesce(func.sum(case((submitted & T.on_time.is_(False),
                                         delay_days(dialect, T.submitted_at, T.deadline)),
                                        else_=0.0)), 0.0),
            func.coalesce(func.sum(case((T.state.in_(OPEN_TARGET_STATES), 1),
                                        else_=0)), 0))


def _chunks(ids: list[Any]) -> Iterable[list[Any]]:
    for start in range(0, len(ids), CHUNK):
        yield ids[start:start + CHUNK]


def _history(row: Any) -> History:
    return history_of(row.state, row.on_time, row.submitted_at, row.deadline)


def shift(conn: Connection, before: Iterable[Any], after: Iterable[Any],
          in_history: bool = True) -> None:
    """Move the counters from the targets `before` (as they were, or none for new ones) to the
    same targets `after` (as they are now): the progress rows always, the units' history
    when the task is not cancelled (`in_history`). Each counter moves by an increment
    (`n = n + d`), so concurrent changes of other targets add up instead of overwriting."""
    delta: dict[int, History] = defaultdict(History)
    counted: dict[tuple, int] = defaultdict(int)  # ProgressTally key without scope, unit → n
    for sign, rows in ((-1, before), (1, after)):
        for row in rows:
            counted[(*progress_key(row), row.unit_id)] += sign
            if in_history:
                history = _history(row)
                delta[row.unit_id] += history if sign > 0 else -history
    _apply(conn, delta)
    _count(conn, counted)


def move_task(conn: Connection, assignment_id: int, sign: int) -> None:
    """A task cancelled (`sign` -1) or brought back (+1): its targets, as stored, leave or
    join their units' history. The caller holds the task's row and its targets' rows locked
    (`services.targets.set_task_state`), so no answer changes them meanwhile."""
    query = select(T.unit_id, *sums(conn.dialect.name)).where(T.assignment_id == assignment_id)
    delta: dict[int, History] = defaultdict(History)
    for unit_id, *counts in conn.execute(query.group_by(T.unit_id)):
        on_time, late, delay, still_open = counts
        delta[unit_id] += History(sign * int(on_time), sign * int(late), sign * float(delay),
                                  sign * int(still_open))
    _apply(conn, delta)


def progress_key(target: Any) -> tuple:
    """A target's `ProgressTally` key (`KEY`), scope apart."""
    deadline = target.deadline if target.deadline.tzinfo else target.deadline.replace(
        tzinfo=UTC)
    return (target.assignment_id, target.period, target.state,
            target.state == SUBMITTED and bool(target.on_time),
            bool(target.extension_granted), bool(target.nil_report), deadline)


def _group_sizes(conn: Connection, unit_ids: list[int]) -> dict[str, int]:
    """How many of `unit_ids` each group holds (counted by the database: a national task's
    50,000 units are in 250,000 (group, unit) pairs)."""
    sizes: dict[str, int] = defaultdict(int)
    for of_units in one_of(G.unit_id, unit_ids, conn.dialect.name):
        for key, n in conn.execute(select(G.key, func.count()).where(of_units)
                                   .group_by(G.key)):
            sizes[key] += n
    return sizes


def _count(conn: Connection, counted: dict[tuple, int]) -> None:
    """Add `counted` ((*key, unit id) → n) to the tally of every unit and of the units'
    groups: the units of one key and increment are counted per group at once."""
    units: dict[tuple, list[int]] = defaultdict(list)  # (key, n) → units
    for (*key, unit_id), n in counted.items():
        if n:
            units[(tuple(key), n)].append(unit_id)
    sizes: dict[tuple[int, ...], dict[str, int]] = {}  # the same units: counted once
    delta: dict[tuple, int] = defaultdict(int)
    for (key, n), unit_ids in units.items():
        these = tuple(sorted(set(unit_ids)))
        if these not in sizes:
            sizes[these] = _group_sizes(conn, list(these))
        delta[(ALL_UNITS, *key)] += n * len(these)
        for group, size in sizes[these].items():
            delta[(group, *key)] += n * size
    _add_counts(conn, delta)


def _add_counts(conn: Connection, delta: dict[tuple, int]) -> None:
    """Add `delta` ((scope, *KEY) → n) to ProgressTally; rows that fall to 0 are deleted."""
    rows = [{"scope": key[0], **dict(zip(KEY, key[1:], strict=True)), "n": n}
            for key, n in sorted(delta.items(), key=lambda item: repr(item[0])) if n]
    if not rows:
        return
    insert = sqlite_insert if conn.dialect.name == "sqlite" else pg_insert
    statement = insert(ProgressTally.__table__)  # type: ignore[attr-defined]
    statement = statement.on_conflict_do_update(
        index_elements=[P.assignment_id, P.period, P.scope, *(P[name] for name in KEY[2:])],
        set_={"n": P.n + statement.excluded.n})
    conn.execute(statement, rows)
    emptied = {row["assignment_id"] for row in rows if row["n"] < 0}  # a row may fall to 0
    for chunk in _chunks(sorted(emptied)):
        conn.execute(ProgressTally.__table__.delete().where(  # type: ignore[attr-defined]
            P.assignment_id.in_(chunk), P.n == 0))


def _apply(conn: Connection, delta: dict[int, History]) -> None:
    """Add `delta` to the units' history counters; the units that move by the same
    increment (every unit of a new task: one more open) in one statement per chunk of them."""
    units: dict[History, list[int]] = defaultdict(list)
    for unit_id, h in sorted(delta.items()):
        if any(h):
            units[h].append(unit_id)
    insert = sqlite_insert if conn.dialect.name == "sqlite" else pg_insert
    table = UnitTally.__table__  # type: ignore[attr-defined]
    unit = Unit.__table__.c  # type: ignore[attr-defined]
    for h, unit_ids in units.items():
        for these in one_of(unit.id, unit_ids, conn.dialect.name):
            statement = insert(table).from_select(
                ["unit_id", *History._fields],
                select(unit.id, *(literal(value) for value in h)).where(these))
            conn.execute(statement.on_conflict_do_update(
                index_elements=[table.c.unit_id],
                set_={name: table.c[name] + statement.excluded[name]
                      for name in History._fields}))


def group_closure(conn: Connection) -> set[tuple[str, int]]:
    """(group key, unit id) for every unit in a group or below a unit in it."""
    parent = dict(conn.execute(select(Unit.__table__.c.id, Unit.__table__.c.parent_id)).all())  # type: ignore[attr-defined]
    own: dict[int, set[str]] = defaultdict(set)
    for unit_id, key in conn.execute(select(UnitGroup.__table__.c.unit_id,  # type: ignore[attr-defined]
                                            UnitGroup.__table__.c.key)):  # type: ignore[attr-defined]
        own[unit_id].add(key)
    keys: dict[int, frozenset[str]] = {}

    def keys_of(unit_id: int | None) -> frozenset[str]:
        chain = []  # walked up iteratively: a deep tree must not hit the recursion limit
        seen = set()
        while unit_id is not None and unit_id not in keys and unit_id not in seen:
            seen.add(unit_id)
            chain.append(unit_id)
            unit_id = parent.get(unit_id)
        above = keys.get(unit_id, frozenset()) if unit_id is not None else frozenset()
        for below in reversed(chain):
            above = keys[below] = above | own.get(below, set())
        return keys[chain[0]] if chain else above

    return {(key, unit_id) for unit_id in parent for key in keys_of(unit_id)}


def regroup(conn: Connection) -> int:
    """Bring `GroupUnit` up to date with the units' groups and parents, and move the
    targets of the units that joined or left a group in its `ProgressTally`; returns how
    many (group, unit) pairs changed. Run in the transaction that changed the units."""
    wanted = group_closure(conn)
    stored = set(map(tuple, conn.execute(select(G.key, G.unit_id)).all()))
    removed, added = sorted(stored - wanted), sorted(wanted - stored)
    table = GroupUnit.__table__  # type: ignore[attr-defined]
    if removed:
        conn.execute(table.delete().where(G.key == bindparam("k"), G.unit_id == bindparam("u")),
                     [{"k": key, "u": unit_id} for key, unit_id in removed])
    # COPY on PostgreSQL: a national registry's 100,000 pairs by `executemany` took 5.6 s
    bulk.insert_rows_sync(conn, table, [{"key": key, "unit_id": unit_id}
                                        for key, unit_id in added])
    keys: dict[int, list[tuple[str, int]]] = defaultdict(list)  # unit → (group, ±1)
    for pairs, sign in ((removed, -1), (added, 1)):
        for key, unit_id in pairs:
            keys[unit_id].append((key, sign))
    delta: dict[tuple, int] = defaultdict(int)
    for chunk in _chunks(sorted(keys)):
        for row in conn.execute(select(T.unit_id, *KEY_FIELDS, func.count()).where(
                T.unit_id.in_(chunk)).group_by(T.unit_id, *KEY_FIELDS)):
            for key, sign in keys[row.unit_id]:
                delta[(key, *progress_key(row))] += sign * row[-1]
    _add_counts(conn, delta)
    return len(added) + len(removed)


def rebuild(conn: Connection) -> None:
    """Count every counter again from the targets (after targets were written in bulk,
    bypassing the session: the benchmark's fill)."""
    _rebuild_progress(conn)
    conn.execute(UnitTally.__table__.delete())  # type: ignore[attr-defined]
    counted = (select(T.unit_id, *sums(conn.dialect.name))
               .select_from(Target.__table__.join(  # type: ignore[attr-defined]
                   Assignment.__table__, A.id == T.assignment_id))  # type: ignore[attr-defined]
               .where(A.state != AssignmentState.CANCELLED).group_by(T.unit_id))
    conn.execute(UnitTally.__table__.insert().from_select(  # type: ignore[attr-defined]
        ["unit_id", *History._fields], counted))


def _rebuild_progress(conn: Connection) -> None:
    conn.execute(GroupUnit.__table__.delete())  # type: ignore[attr-defined]
    conn.execute(ProgressTally.__table__.delete())  # type: ignore[attr-defined]
    pairs = sorted(group_closure(conn))
    bulk.insert_rows_sync(conn, GroupUnit.__table__, [  # type: ignore[attr-defined]
        {"key": key, "unit_id": unit_id} for key, unit_id in pairs])
    on_time = (T.state == TargetState.SUBMITTED) & T.on_time.is_(True)
    fields = (T.assignment_id, T.period, T.state, on_time, T.extension_granted, T.nil_report,
              T.deadline)
    columns = ["scope", *KEY, "n"]
    table = ProgressTally.__table__  # type: ignore[attr-defined]
    conn.execute(table.insert().from_select(columns, select(
        literal(ALL_UNITS), *fields, func.count()).group_by(*fields)))
    conn.execute(table.insert().from_select(columns, select(
        G.key, *fields, func.count()).select_from(Target.__table__.join(  # type: ignore[attr-defined]
            GroupUnit.__table__, G.unit_id == T.unit_id))  # type: ignore[attr-defined]
        .group_by(G.key, *fields)))
