"""The fast figures over time (per-unit counters kept in each change's transaction, plus the
open targets not yet due) against the full count over every target, on both databases: over
the hand-computed fixture of test_progress, and over random sequences of events."""

from __future__ import annotations

import io
import itertools
from collections.abc import Iterable
from dataclasses import replace
from datetime import timedelta

import hypothesis
import pytest
from hypothesis import strategies as st
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.bootstrap import Runtime
from app.cli import admin_runner
from channels.console import play_script
from core.progress import DAY_SECONDS, Figures, figures
from handlers.context import Context
from services import targets as changes
from storage import db, tally
from storage.figures import Units, histories, history, most_late, tallies
from storage.models import (
    Assignment,
    GroupUnit,
    Member,
    ProgressTally,
    Target,
    Unit,
    UnitGroup,
    UnitTally,
)
from storage.queries import subtree
from storage.tally import sums
from tests.conftest import EXAMPLES
from tests.test_progress import NOW, seed

HISTORY = ("expected", "submitted", "on_time", "late", "missing", "overdue")
HOUR = timedelta(hours=1)


def history_of(f: Figures) -> tuple:
    """The fields a history has (the fast path leaves the others at 0)."""
    return tuple(getattr(f, name) for name in HISTORY)


def late_days(targets: Iterable[Target]) -> float:
    """The summed delay of the late submissions, as the counters keep it (not clamped)."""
    return sum((t.submitted_at - t.deadline).total_seconds() / DAY_SECONDS for t in targets
               if t.state == "submitted" and t.on_time is False and t.submitted_at)


async def targets_of(ctx: Context, unit_ids: list[int]) -> list[tuple[Target, str]]:
    return [(target, state) for target, state in (await ctx.session.exec(
        select(Target, Assignment.state).join(Assignment, col(Assignment.id) == col(
            Target.assignment_id)).where(col(Target.unit_id).in_(unit_ids)))).all()]


async def assert_same(ctx: Context, unit_ids: list[int], group: str | None = None) -> None:
    """The figures read from the counters against the rules of `core.progress` applied to
    every target of `unit_ids` (which are the units of `group`, when given): over time,
    summed and per unit, the units most often late, and per task and period."""
    rows = await targets_of(ctx, unit_ids)
    kept = [target for target, state in rows if state != "cancelled"]
    ways = [Units.given(unit_ids)] + ([Units(group=group)] if group is not None else [])
    # Over time, all together and per unit.
    expected = figures(kept, ctx.now)
    for units in ways:
        got = await history(ctx.session, ctx.now, units)
        assert history_of(got) == history_of(expected), units
        assert got.delay_days == pytest.approx(late_days(kept), abs=1e-6)
    per_unit = {unit_id: [t for t in kept if t.unit_id == unit_id] for unit_id in unit_ids}
    expected_per_unit = {u: figures(ts, ctx.now) for u, ts in per_unit.items()}
    got_per_unit = await histories(ctx.session, ctx.now, unit_ids)
    for unit_id, f in expected_per_unit.items():
        got = got_per_unit.get(unit_id, Figures())
        assert history_of(got) == history_of(f), unit_id
        assert got.delay_days == pytest.approx(late_days(per_unit[unit_id]), abs=1e-6)
    # The units most often late.
    ranked = sorted((u for u, f in expected_per_unit.items() if f.late + f.overdue),
                    key=lambda u: (-(expected_per_unit[u].late + expected_per_unit[u].overdue),
                                   u))
    for units in ways:
        assert await most_late(ctx.session, ctx.now, units) == ranked[:10], units
    # Per task and period, cancelled tasks included (the views filter tasks themselves).
    by_task: dict[tuple, list[Target]] = {}
    for target, _ in rows:
        by_task.setdefault((target.assignment_id, target.period), []).append(target)
    for units in ways:
        got_tasks = await tallies(ctx.session, ctx.now, units)
        assert {key: (item.figures, item.earliest) for key, item in got_tasks.items()} == {
            key: (replace(figures(ts, ctx.now), delay_days=0.0), min(t.deadline for t in ts))
            for key, ts in by_task.items()}, units


async def assert_every_group(ctx: Context) -> None:
    """Each group against its units (the units in it and those below them), and every
    unit against all of them."""
    for key in set((await ctx.session.exec(select(UnitGroup.key))).all()):
        roots = select(UnitGroup.unit_id).where(UnitGroup.key == key)
        await assert_same(ctx, list((await ctx.session.exec(subtree(roots))).all()), key)
    await assert_same(ctx, list((await ctx.session.exec(select(Unit.id))).all()), "")


def context(runtime: Runtime, session, now) -> Context:  # noqa: ANN001
    return Context(session=session, now=now, settings=runtime.settings, files=runtime.files)


async def test_fixture_figures_are_the_full_count(settings) -> None:
    runtime = await Runtime.open(settings)
    try:
        await seed(runtime)
        async with runtime.sessions() as session:
            units = (await session.exec(select(Unit.id))).all()
            for now in (NOW - 40 * 24 * HOUR, NOW, NOW + 30 * 24 * HOUR):
                ctx = context(runtime, session, now)
                await assert_every_group(ctx)
                for unit_id in units:  # each unit with the units below it
                    await assert_same(ctx, list((await session.exec(subtree([unit_id]))).all()))
    finally:
        await runtime.close()


async def stored(runtime: Runtime) -> list:
    """Every counter row, in a stable order."""
    async with runtime.sessions() as session:
        return [sorted(map(tuple, (await session.exec(select(table))).all()))
                for table in (UnitTally, ProgressTally, GroupUnit)]


async def test_migration_backfills_the_counters(settings) -> None:
    """Targets written before the tables existed are counted by the upgrades (and by
    `tally.rebuild`); the counters survive downgrade → upgrade."""
    runtime = await Runtime.open(settings)
    try:
        await seed(runtime)
        kept = await stored(runtime)
        assert all(kept)
        await db.downgrade(runtime.engine, "0004")
        await db.upgrade(runtime.engine)
        assert await stored(runtime) == kept
        async with runtime.engine.begin() as conn:  # as the benchmark does after its fill
            await conn.run_sync(tally.rebuild)
        assert await stored(runtime) == kept
        async with runtime.sessions() as session:
            await assert_every_group(context(runtime, session, NOW))
        await db.downgrade(runtime.engine)
        await db.upgrade(runtime.engine)
    finally:
        await runtime.close()


# --- random sequences of events -------------------------------------------------------------

UNITS = 4
steps = st.one_of(
    st.tuples(st.just("giao"), st.sets(st.integers(0, UNITS - 1), min_size=1),
              st.integers(-48, 96)),
    *(st.tuples(st.just(kind), st.integers(0, 50), st.integers(0, 50))
      for kind in ("answer", "progress", "excuse", "extend", "cancel", "close", "reopen",
                   "cancel_and_answer")),
    st.tuples(st.just("advance"), st.integers(1, 72), st.just(0)),
    st.tuples(st.just("regroup"), st.integers(0, UNITS - 1), st.integers(0, UNITS - 1)),
)
counter = itertools.count()


async def regroup(session: AsyncSession, unit_ids: list[int], moved: int, parent: int,
                  group: str) -> None:
    """As an import that moves a unit under another (or to the top, rather than into a
    cycle) and puts it in or out of `group`."""
    unit = await session.get(Unit, unit_ids[moved])
    above, new_parent = unit_ids[parent], unit_ids[parent]
    while above is not None:
        if above == unit.id:
            new_parent = None
            break
        above = (await session.get(Unit, above)).parent_id
    unit.parent_id = new_parent
    member = (await session.exec(select(UnitGroup).where(
        UnitGroup.unit_id == unit.id, UnitGroup.key == group))).first()
    if member is None:
        session.add(UnitGroup(unit_id=unit.id, name=group, key=group))
    else:
        await session.delete(member)
    await session.flush()
    await session.run_sync(lambda sync: tally.regroup(sync.connection()))


async def play(runtime: Runtime, member_id: int, unit_ids: list[int], events: list,
               group: str) -> None:
    now = NOW
    tasks: list[int] = []
    for kind, a, b in events:
        async with runtime.sessions() as session, session.begin():
            targets = (await session.exec(select(Target).where(
                col(Target.assignment_id).in_(tasks)).order_by(col(Target.id)))).all()
            pick = a if isinstance(a, int) else 0
            target = targets[pick % len(targets)] if targets else None
            task = await session.get(Assignment, tasks[pick % len(tasks)]) if tasks else None
            if kind == "giao":
                number = next(counter) + 1000
                deadline = now + b * HOUR
                assignment = Assignment(number=number, title="t", deadline=deadline,
                                        assigned_by=member_id, created_at=now)
                session.add(assignment)
                await session.flush()
                tasks.append(assignment.id)
                for i in sorted(a):
                    await changes.add(session, Target(
                        assignment_id=assignment.id, unit_id=unit_ids[i], deadline=deadline))
            elif kind == "advance":
                now += a * HOUR
            elif kind == "regroup":
                await regroup(session, unit_ids, a, b, group)
            elif target is not None and kind in ("answer", "cancel_and_answer"):
                await changes.lock(session, target)
                await changes.submit(session, target, now)
                if kind == "cancel_and_answer" and task is not None:
                    await changes.set_task_state(session, await changes.lock_task(
                        session, task), "cancelled")
            elif target is not None and kind == "progress" and target.state == "pending":
                await changes.progress(session, target, None)
            elif target is not None and kind == "excuse" and target.state != "submitted":
                await changes.excuse(session, target)
            elif target is not None and kind == "extend":
                await changes.extend(session, target, max(target.deadline, now) + b * HOUR)
            elif task is not None and kind in ("cancel", "close", "reopen"):
                await changes.set_task_state(session, await changes.lock_task(session, task), {
                    "cancel": "cancelled", "close": "closed", "reopen": "active"}[kind])
        if kind in ("advance", "regroup") or not b % 7:
            async with runtime.sessions() as session:
                await assert_every_group(context(runtime, session, now))
    async with runtime.sessions() as session:
        await assert_every_group(context(runtime, session, now))


@hypothesis.settings(max_examples=15, deadline=None, database=None,
                     suppress_health_check=[hypothesis.HealthCheck.function_scoped_fixture])
@hypothesis.given(events=st.lists(steps, min_size=1, max_size=25))
async def test_random_events_keep_the_counters_exact(settings, events: list) -> None:
    """Each example on its own units and tasks, in the test's database."""
    run = next(counter)
    runtime = await Runtime.open(settings)
    try:
        async with runtime.sessions() as session, session.begin():
            member = Member(display_name="vp", channel="console", channel_user_id=f"vp{run}",
                            chat_id="vp", created_at=NOW)
            units = [Unit(code=f"R{run}-{i}", name=f"R{run}-{i}", name_key=f"r{run}-{i}")
                     for i in range(UNITS)]
            session.add_all([member, *units])
            await session.flush()
            unit_ids = [u.id for u in units]
            units[1].parent_id = units[0].id
            session.add_all([UnitGroup(unit_id=unit_ids[i], name=key, key=key)
                             for i, key in ((0, f"ga{run}"), (2, f"ga{run}"), (3, f"gb{run}"))])
            await session.flush()
            await session.run_sync(lambda sync: tally.regroup(sync.connection()))
        await play(runtime, member.id, unit_ids, events, f"gb{run}")
    finally:
        await runtime.close()


# --- through the handlers -------------------------------------------------------------------

SCRIPTS = ("wrong_inputs", "extension", "excuse", "yearly_rollover", "edit_and_correct")


def rounded(rows: Iterable) -> dict:
    return {row[0]: (int(row[1]), int(row[2]), round(float(row[3]), 6), int(row[4]))
            for row in rows if any(row[1:])}


async def recount(runtime: Runtime) -> tuple[dict, dict]:
    """(the counters, the same counted from every target of tasks not cancelled)."""
    async with runtime.sessions() as session:
        dialect = session.bind.dialect.name
        full_count = (await session.exec(
            select(Target.unit_id, *sums(dialect)).join(
                Assignment, col(Assignment.id) == col(Target.assignment_id))
            .where(Assignment.state != "cancelled").group_by(col(Target.unit_id)))).all()
        kept = (await session.exec(select(UnitTally))).all()
    return (rounded((t.unit_id, t.on_time, t.late, t.delay_days, t.open) for t in kept),
            rounded(full_count))


async def test_counters_after_real_conversations(settings) -> None:
    """Tasks given, answered, extended, cancelled and rolled over by the handlers (example
    transcripts): the counters are what a full recount gives."""
    counted_any = False
    for name in SCRIPTS:
        runtime = await Runtime.open(settings)
        try:
            code = await play_script(runtime, EXAMPLES / f"{name}.chat", io.StringIO(),
                                     admin_runner(settings))
            assert code == 0, name
            kept, counted = await recount(runtime)
            assert kept == counted, name
            counted_any = counted_any or bool(counted)
            # The task and group counters, against the same counted again from the targets.
            rows = (await stored(runtime))[1:]
            async with runtime.engine.begin() as conn:
                await conn.run_sync(tally.rebuild)
            assert rows == (await stored(runtime))[1:] and rows[0], name
        finally:
            await runtime.close()
        await db.downgrade(runtime.engine)
    assert counted_any
