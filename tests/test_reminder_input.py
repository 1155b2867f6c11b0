"""Bad reminder-policy input gets a clear message and changes nothing (SQLite, PostgreSQL);
a policy never reminds a unit twice on one day."""

from __future__ import annotations

from datetime import date, datetime

from sqlmodel import col, select

from app.bootstrap import Runtime
from app.config import Settings
from core.clock import LOCAL_TZ
from core.giao_line import parse_offsets, repeated_offsets
from core.policy import Policy, plan
from core.workcal import WorkCalendar
from storage.models import Assignment, Outbox, Reminder
from tests.seed import seeded_bot

START = datetime(2023, 5, 2, 8, 0, tzinfo=LOCAL_TZ)


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=LOCAL_TZ)


def test_offsets_that_meet_on_one_day_after_the_calendar_give_one_reminder() -> None:
    # Deadline Wednesday 17/05/2023: 4 days before is Saturday 13/05, 3 days before is
    # Sunday 14/05, which moves back to Saturday: one reminder that day, not two.
    planned = plan(local(2023, 5, 17, 17, 0), START, Policy(offsets_days=(4, 3)), WorkCalendar())
    assert [(r.due_at, r.kind) for r in planned] == [
        (local(2023, 5, 13, 8, 0), "before"), (local(2023, 5, 17, 7, 30), "on_day")]
    days = [r.due_at.date() for r in planned]
    assert len(days) == len(set(days)) and date(2023, 5, 14) not in days


def test_a_day_count_written_twice_is_refused_not_shortened() -> None:
    assert repeated_offsets("1,1") and repeated_offsets("7, 3, 03")
    assert not repeated_offsets("7,3,1") and not repeated_offsets("không")
    assert parse_offsets("1,1") == [1]  # readable; the handlers refuse it with a message


async def _snapshot(runtime: Runtime) -> tuple[list, list]:
    async with runtime.sessions() as session:
        reminders = [(r.id, r.due_at, r.state) for r in (await session.exec(
            select(Reminder).order_by(col(Reminder.id)))).all()]
        tasks = [(a.number, a.reminder_offsets, a.reminders_paused) for a in (
            await session.exec(select(Assignment))).all()]
    return reminders, tasks


async def _outbox(runtime: Runtime) -> list[tuple[str, str]]:
    async with runtime.sessions() as session:
        return [(o.chat_id, o.text) for o in (await session.exec(
            select(Outbox).order_by(col(Outbox.id)))).all()]


BAD_INPUT = [
    ("ht_a", "/nhac #1", "Chỉ chuyên viên văn phòng mới nhắc việc được."),
    ("ht_a", "/nhac #1 1", "Chỉ chuyên viên văn phòng mới nhắc việc được."),
    ("staff", "/nhac #1 abc", "Chưa hiểu lịch nhắc «abc». Ghi các số ngày trước hạn, ví dụ: "
                              "/nhac #1 7,3,1."),
    ("staff", "/nhac #1 5,0", "Chưa hiểu lịch nhắc «5,0»"),
    ("staff", "/nhac #1 1,1", "Lịch nhắc «1,1» sẽ nhắc hơn một lần một ngày; mỗi số ngày chỉ "
                              "ghi một lần."),
    ("staff", "/nhac #9 3", "Không có nhiệm vụ «#9»."),
    ("staff", "/giao Khác | hạn 20/05/2023 | đơn vị A | nhắc: 2,2",
     "Lịch nhắc «2,2» sẽ nhắc hơn một lần một ngày"),
    ("staff", "/giao Khác | hạn 20/05/2023 | đơn vị A | nhắc: sớm",
     "Phần «nhắc:» cần các số ngày trước hạn, ví dụ: nhắc: 7,3,1."),
]


async def test_bad_reminder_input_changes_nothing(settings: Settings) -> None:
    bot = await seeded_bot(settings, START)
    runtime = bot.runtime
    try:
        await bot.assign(START, "Thi đua | hạn 12/05/2023 | đơn vị A, B")
        before = await _snapshot(runtime)
        for user, text, message in BAD_INPUT:
            sent = await _outbox(runtime)
            await bot.say(user, START, text)
            assert await _snapshot(runtime) == before, text
            after = await _outbox(runtime)
            assert after[:len(sent)] == sent and len(after) == len(sent) + 1, text
            assert after[-1][0] == user and after[-1][1].startswith(message), after[-1]
    finally:
        await runtime.close()
