"""`bot.py reminders list|pause|resume` on SQLite and PostgreSQL, under the virtual clock."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import col, select

from app.bootstrap import Runtime
from app.config import Settings
from core.clock import LOCAL_TZ
from storage.models import Assignment, Outbox, Reminder
from tests.seed import Bot, seeded_bot

START = datetime(2023, 5, 2, 8, 0, tzinfo=LOCAL_TZ)  # Tuesday; the deadline is Friday 12/05


async def _task(settings: Settings) -> Bot:
    bot = await seeded_bot(settings, START)
    await bot.assign(START, "Thi đua | hạn 12/05/2023 | đơn vị A, B")
    return bot


async def _state(runtime: Runtime) -> tuple[list[tuple], list[bool]]:
    async with runtime.sessions() as session:
        reminders = [(r.target_id, r.due_at, r.kind, r.state) for r in (await session.exec(
            select(Reminder).order_by(col(Reminder.id)))).all()]
        paused = [a.reminders_paused for a in (await session.exec(select(Assignment))).all()]
    return reminders, paused


async def _reminders_sent(runtime: Runtime) -> list[Outbox]:
    async with runtime.sessions() as session:
        return list((await session.exec(select(Outbox).where(
            col(Outbox.reminder_id).is_not(None)))).all())


async def test_list_shows_a_table_and_due_narrows_it(settings: Settings) -> None:
    bot = await _task(settings)
    runtime = bot.runtime
    try:
        code, out = await bot.admin(START, "reminders", "list")
        lines = out.splitlines()
        assert code == 0
        assert lines[0].split() == ["when", "task", "unit", "recipients", "kind"]
        assert lines[1].split() == ["2023-05-05", "08:00", "#1", "A", "ht_a", "before"]
        assert len(lines) == 1 + 2 * 5  # 7, 3, 1 days before, on the day, first overdue
        assert lines[-1].split()[-1] == "overdue"
        code, out = await bot.admin(START, "reminders", "list", "--due", "72h")
        assert [line.split()[3] for line in out.splitlines()[1:]] == ["A", "B"]
        code, out = await bot.admin(START, "reminders", "list", "--due", "1h")
        assert out == "No reminders planned within 1h.\n"
    finally:
        await runtime.close()


async def test_pause_stops_reminders_and_resume_replans_without_a_burst(
        settings: Settings) -> None:
    bot = await _task(settings)
    runtime = bot.runtime
    try:
        code, out = await bot.admin(START, "reminders", "pause", "#1")
        assert code == 0 and "10 planned reminders withdrawn" in out
        await bot.say("staff", START, "/nhac #1 5,2")  # a new schedule is kept, not planned
        code, out = await bot.admin(START, "reminders", "list")
        assert out == "No reminders planned.\n"
        for day in range(1, 13):  # through the deadline and four overdue days
            await runtime.dispatcher.sweep(START + timedelta(days=day))
        assert await _reminders_sent(runtime) == []

        later = START + timedelta(days=13)  # Monday 15/05 08:00, overdue since Friday
        code, out = await bot.admin(later, "reminders", "resume", "1")
        assert code == 0 and "2 units re-planned" in out and "2023-05-16 08:00" in out
        assert await runtime.dispatcher.sweep(later) == 0  # nothing missed is sent at once
        assert await runtime.dispatcher.sweep(later + timedelta(days=1)) == 2  # one per unit
        code, out = await bot.admin(later, "reminders", "resume", "#1")
        assert code == 0 and "already running; nothing changed" in out
    finally:
        await runtime.close()


async def test_bad_pause_resume_and_due_change_nothing(settings: Settings) -> None:
    bot = await _task(settings)
    runtime = bot.runtime
    try:
        before = await _state(runtime)
        for args, message in (
            (("reminders", "pause", "#9"), "Error: no task '#9': give a task number such as "
                                           "#3 (staff see them with /tiendo); nothing changed"),
            (("reminders", "resume", "abc"), "Error: no task 'abc'"),
            (("reminders", "list", "--due", "soon"),
             "Error: --due: expected a duration such as 24h, 3d or 1d12h, got 'soon'"),
            (("reminders", "list", "--due", "0h"), "Error: --due"),
        ):
            code, out = await bot.admin(START, *args)
            assert code == 1 and out.startswith(message), (args, out)
        await bot.say("staff", START, "/huy #1")
        code, out = await bot.admin(START, "reminders", "pause", "#1")
        assert code == 1 and "task #1 is cancelled" in out
        assert await _state(runtime) == before
    finally:
        await runtime.close()
