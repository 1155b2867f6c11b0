"""The fast figures over time (per-unit counters kept in each change's transaction, plus the
open targets not yet due) against the full count over every target, on both databases: over
the hand-computed fixture of test_progress, and over random sequences of events."""

from __future__ import annotations

import io
import itertools
from collections.abc import Iterable
from datetime import timedelta

import hypothesis
import pytest
from hypothesis import strategies as st
from sqlmodel import col, select

from app.bootstrap import Runtime
from app.cli import admin_runner
from channels.console import play_script
from core.progress import Figures
from handlers.context import Context
from handlers.tiendo import NOT_CANCELLED, _subtree, _tallies, histories, most_late
from storage import db, tally
from storage.models import Assignment, Member, Target, Unit, UnitTally
from storage.tally import sums
from tests.conftest import EXAMPLES
from tests.test_progress import NOW, seed

HISTORY = ("expected", "submitted", "on_time", "late", "missing", "overdue")
HOUR = timedelta(hours=1)


def history(f: Figures) -> tuple:
    """The fields a history has (the fast path leaves the others at 0)."""
    return tuple(getattr(f, name) for name in HISTORY)


async def full(ctx: Context, unit_ids: list[int], per_unit: bool) -> dict:
    """The figures by the full query over every target, keyed like `histories`."""
    by = (col(Target.unit_id),) if per_unit else ()
    tallies = await _tallies(ctx, [NOT_CANCELLED, col(Target.unit_id).in_(unit_ids)], by,
                             delay=True)
    return {(key[0] if per_unit else None): item.figures for key, item in tallies.items()}


async def assert_same(ctx: Context, unit_ids: list[int]) -> None:
    """Per unit, summed, and the ranking of the units most often late."""
    for per_unit in (False, True):
        fast = await histories(ctx, unit_ids, len(unit_ids), per_unit)
        slow = await full(ctx, unit_ids, per_unit)
        assert {k: history(f) for k, f in fast.items() if any(history(f))} == \
            {k: history(f) for k, f in slow.items() if any(history(f))}
        for key, f in slow.items():
            assert fast.get(key, Figures()).delay_days == pytest.approx(f.delay_days, abs=1e-6)
    slow = await full(ctx, unit_ids, True)
    ranked = sorted((u for u, f in slow.items() if f.late + f.overdue),
                    key=lambda u: (-(slow[u].late + slow[u].overdue), u))
    assert await most_late(ctx, unit_ids, len(unit_ids)) == ranked[:10]


def context(runtime: Runtime, session, now) -> Context:  # noqa: ANN001
    return Context(session=session, now=now, settings=runtime.settings, files=runtime.files)


async def test_fixture_figures_over_time_are_the_full_count(settings) -> None:
    runtime = await Runtime.open(settings)
    try:
        await seed(runtime)
        async with runtime.sessions() as session:
            units = (await session.exec(select(Unit.id))).all()
            for now in (NOW - 40 * 24 * HOUR, NOW, NOW + 30 * 24 * HOUR):
                ctx = context(runtime, session, now)
                await assert_same(ctx, list(units))
                for unit_id in units:  # each unit with the units below it
                    tree = list((await session.exec(_subtree([unit_id]))).all())
                    await assert_same(ctx, tree)
    finally:
        await runtime.close()


async def test_migration_backfills_the_counters(settings) -> None:
    """Targets written before the table existed are counted by the upgrade (and by
    `tally.rebuild`); the counters survive downgrade → upgrade."""
    runtime = await Runtime.open(settings)
    try:
        await seed(runtime)
        async with runtime.sessions() as session:
            kept = sorted(map(tuple, (await session.exec(select(UnitTally))).all()))
        await db.downgrade(runtime.engine, "0004")
        await db.upgrade(runtime.engine)
        async with runtime.sessions() as session:
            rebuilt = (await session.exec(select(UnitTally))).all()
            assert sorted(map(tuple, rebuilt)) == kept and kept
        async with runtime.engine.begin() as conn:  # as the benchmark does after its fill
            await conn.run_sync(tally.rebuild)
        async with runtime.sessions() as session:
            rebuilt = (await session.exec(select(UnitTally))).all()
            assert sorted(map(tuple, rebuilt)) == kept
            units = list((await session.exec(select(Unit.id))).all())
            await assert_same(context(runtime, session, NOW), units)
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
                   "delete", "cancel_and_answer")),
    st.tuples(st.just("advance"), st.integers(1, 72), st.just(0)),
)
counter = itertools.count()


async def play(runtime: Runtime, member_id: int, unit_ids: list[int], events: list) -> None:
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
                tasks.append(assignment.id)  # type: ignore[arg-type]
                for i in sorted(a):
                    session.add(Target(assignment_id=assignment.id, unit_id=unit_ids[i],  # type: ignore[arg-type]
                                       deadline=deadline))
            elif kind == "advance":
                now += a * HOUR
            elif target is not None and kind in ("answer", "cancel_and_answer"):
                # As handlers/answers.py: the first submission's time counts.
                target.state = "submitted"
                if target.submitted_at is None:
                    target.submitted_at = now
                    target.on_time = now <= target.deadline
                if kind == "cancel_and_answer" and task is not None:
                    task.state = "cancelled"
            elif target is not None and kind == "progress" and target.state == "pending":
                target.state = "in_progress"
            elif target is not None and kind == "excuse" and target.state != "submitted":
                target.state = "excused"
            elif target is not None and kind == "extend":
                target.deadline = max(target.deadline, now) + b * HOUR
                target.extension_granted = True
            elif target is not None and kind == "delete":
                await session.delete(target)
            elif task is not None and kind in ("cancel", "close", "reopen"):
                task.state = {"cancel": "cancelled", "close": "closed",
                              "reopen": "active"}[kind]
        if kind == "advance" or not b % 7:
            async with runtime.sessions() as session:
                await assert_same(context(runtime, session, now), unit_ids)
    async with runtime.sessions() as session:
        await assert_same(context(runtime, session, now), unit_ids)


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
        await play(runtime, member.id, unit_ids, events)  # type: ignore[arg-type]
    finally:
        await runtime.close()


# --- through the handlers -------------------------------------------------------------------

SCRIPTS = ("wrong_inputs", "extension", "yearly_rollover")


def rounded(rows: Iterable) -> dict:
    return {row[0]: (int(row[1]), int(row[2]), round(float(row[3]), 6), int(row[4]))
            for row in rows if any(row[1:])}


async def recount(runtime: Runtime) -> tuple[dict, dict]:
    """(the counters, the same counted from every target of tasks not cancelled)."""
    async with runtime.sessions() as session:
        dialect = session.bind.dialect.name  # type: ignore[union-attr]
        full_count = (await session.exec(  # type: ignore[call-overload]
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
        finally:
            await runtime.close()
        await db.downgrade(runtime.engine)
    assert counted_any
