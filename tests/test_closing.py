"""`/dong`, `/mo` and `/giahan`: closing a task stops its reminders and keeps late answers;
reopening plans them again from now; staff extend units without a request."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import func, select

from app.config import Settings
from core.clock import LOCAL_TZ
from storage.models import Assignment, Reminder, Target
from tests.seed import Bot, seeded_bot

START = datetime(2023, 5, 2, 8, 0, tzinfo=LOCAL_TZ)


def last(bot: Bot, user: str) -> str:
    return [m.text for m in bot.recorder.sent if m.chat_id == user][-1]


async def planned(bot: Bot) -> int:
    async with bot.runtime.sessions() as session:
        return (await session.exec(select(func.count()).select_from(Reminder).where(
            Reminder.state == "planned"))).one()


async def test_close_stops_reminders_keeps_late_answers_and_reopen_replans(
        settings: Settings) -> None:
    bot = await seeded_bot(settings, START)
    try:
        await bot.assign(START, "Thi đua | hạn 05/05/2023 | đơn vị A, B")
        assert await planned(bot) > 0
        for user in ("ht_a", "ld_a"):
            await bot.say(user, START, "/dong #1")
            assert "Chỉ chuyên viên văn phòng" in last(bot, user)
        await bot.say("staff", START, "/dong #1")
        assert "Đã đóng nhiệm vụ #1 «Thi đua»: bot thôi nhắc 2 đơn vị" in last(bot, "staff")
        assert await planned(bot) == 0
        await bot.say("staff", START, "/dong #1")
        assert "đã đóng rồi" in last(bot, "staff")
        later = datetime(2023, 5, 8, 9, 0, tzinfo=LOCAL_TZ)
        assert await bot.sweep(later) == 0  # no reminder, no escalation
        await bot.say("lanhdao", later, "/tiendo #1")
        assert "(đã đóng)" in last(bot, "lanhdao")
        # A late answer, replying to the task message, is still recorded and marked late.
        message = next(i for i, m in enumerate(bot.recorder.sent)
                       if m.chat_id == "ht_b" and "#1" in m.text)
        from core.messages import Incoming

        await bot.runtime.dispatcher.handle(Incoming(
            "console", "ht_b", "ht_b", text="đã xong", reply_to=str(message + 1)), later)
        await bot.sender.drain(later)
        assert "muộn" in last(bot, "ht_b")
        await bot.say("staff", later, "/mo #1")
        assert "Đã mở lại nhiệm vụ #1" in last(bot, "staff") and "1 đơn vị" in last(bot, "staff")
        async with bot.runtime.sessions() as session:
            due = (await session.exec(select(func.min(Reminder.due_at)).where(
                Reminder.state == "planned"))).one()
            assert (await session.exec(select(Assignment.state))).one() == "active"
        assert due is not None and due.replace(tzinfo=due.tzinfo or LOCAL_TZ) >= later - \
            timedelta(hours=8)
    finally:
        await bot.runtime.close()


async def test_staff_extend_units_without_a_request(settings: Settings) -> None:
    bot = await seeded_bot(settings, START)
    try:
        await bot.assign(START, "Thi đua | hạn 05/05/2023 | đơn vị A, B")
        await bot.say("ht_a", START, "/giahan #1 B | đến 12/05/2023")
        assert "Chỉ chuyên viên văn phòng mới gia hạn" in last(bot, "ht_a")
        await bot.say("staff", START, "/giahan #1 B")
        assert "Cách dùng: /giahan" in last(bot, "staff")
        await bot.say("staff", START, "/giahan #1 B | đến 04/05/2023")
        assert "không sau hạn hiện tại" in last(bot, "staff")
        await bot.say("staff", START, "/giahan #1 Z | đến 12/05/2023")
        assert "Chưa thay đổi gì" in last(bot, "staff")
        await bot.say("staff", START, "/giahan #1 B | đến 12/05/2023")
        assert "Đã gia hạn nhiệm vụ #1 «Thi đua» cho 1 đơn vị đến Thứ Sáu, 12/05/2023 17:00" \
            in last(bot, "staff")
        assert "gia hạn nhiệm vụ #1 «Thi đua» cho Trường B đến Thứ Sáu, 12/05/2023" in \
            last(bot, "ht_b")
        async with bot.runtime.sessions() as session:
            deadlines = {t.unit_id: (t.deadline, t.extension_granted)
                         for t in (await session.exec(select(Target))).all()}
        assert sorted(d[1] for d in deadlines.values()) == [False, True]
        await bot.say("lanhdao", START, "/tiendo #1")
        assert "gia hạn 1" in last(bot, "lanhdao")
    finally:
        await bot.runtime.close()
