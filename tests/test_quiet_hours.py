"""Quiet hours for everything that is not a reply: task announcements, nudges, period
openings and escalations written in quiet hours or on a day off wait for the end of quiet
hours on a working day; the answer to what a user just wrote goes at once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.config import Settings
from core.clock import LOCAL_TZ
from core.policy import Policy, bulk_wait
from core.workcal import WorkCalendar
from tests.seed import seeded_bot

MONDAY_2215 = datetime(2024, 3, 4, 22, 15, tzinfo=LOCAL_TZ)


@pytest.mark.parametrize(("now", "goes"), [
    ("2024-03-04 09:00", None),  # a working Monday morning: at once
    ("2024-03-04 22:15", "2024-03-05 07:00"),
    ("2024-03-05 03:00", "2024-03-05 07:00"),
    ("2024-03-09 22:00", "2024-03-11 07:00"),  # Saturday night: Sunday is off
    ("2024-03-10 10:00", "2024-03-11 07:00"),  # Sunday
    ("2024-04-29 10:00", "2024-05-02 07:00"),  # 30/4 and 1/5 are public holidays
])
def test_when_bulk_may_go(now: str, goes: str | None) -> None:
    moment = datetime.fromisoformat(now).replace(tzinfo=LOCAL_TZ)
    expected = datetime.fromisoformat(goes).replace(tzinfo=LOCAL_TZ) if goes else None
    assert bulk_wait(moment, Policy(), WorkCalendar()) == expected


def texts_to(bot, chat: str) -> list[str]:
    return [m.text for m in bot.recorder.sent if m.chat_id == chat]


async def test_a_task_sent_at_night_waits_for_the_morning(settings: Settings) -> None:
    now = MONDAY_2215.astimezone(UTC)
    bot = await seeded_bot(settings, now)
    try:
        await bot.say("staff", now, "/giao Báo cáo thử | hạn 08/03/2024 | đơn vị A, B")
        preview = texts_to(bot, "staff")[-1]
        assert ("• Ngoài giờ làm việc: tin giao việc sẽ được gửi lúc Thứ Ba, 05/03/2024 07:00."
                in preview)
        await bot.press("staff", now, "Gửi")
        done = texts_to(bot, "staff")[-1]  # the answer to the staff member goes at once
        assert done.startswith("✅ Đã giao nhiệm vụ #1") and "07:00" in done
        assert texts_to(bot, "ht_a") == [] and texts_to(bot, "ht_b") == []

        await bot.say("staff", now + timedelta(minutes=45), "/nhac #1")  # 23:00
        assert texts_to(bot, "staff")[-1]  # answered at once
        assert texts_to(bot, "ht_a") == []

        assert await bot.runtime.dispatcher.next_due(now) == datetime(
            2024, 3, 5, 7, 0, tzinfo=LOCAL_TZ)
        await bot.sender.drain(datetime(2024, 3, 5, 6, 59, tzinfo=LOCAL_TZ))
        assert texts_to(bot, "ht_a") == []
        await bot.sender.drain(datetime(2024, 3, 5, 7, 0, tzinfo=LOCAL_TZ))
        got = texts_to(bot, "ht_a")
        assert got[0].startswith("📋 Nhiệm vụ mới #1") and len(got) == 2
        assert texts_to(bot, "ht_b")[0].startswith("📋 Nhiệm vụ mới #1")
    finally:
        await bot.runtime.close()


async def test_a_reply_in_quiet_hours_goes_at_once(settings: Settings) -> None:
    now = MONDAY_2215.astimezone(UTC)
    bot = await seeded_bot(settings, now)
    try:
        await bot.say("ht_a", now, "/help")
        assert texts_to(bot, "ht_a")
    finally:
        await bot.runtime.close()


async def test_a_task_sent_in_working_hours_says_nothing_of_waiting(settings: Settings) -> None:
    now = datetime(2024, 3, 4, 9, 0, tzinfo=LOCAL_TZ).astimezone(UTC)
    bot = await seeded_bot(settings, now)
    try:
        await bot.assign(now, "Báo cáo thử | hạn 08/03/2024 | đơn vị A")
        assert not any("Ngoài giờ" in text for text in texts_to(bot, "staff"))
        assert texts_to(bot, "ht_a")[0].startswith("📋 Nhiệm vụ mới #1")
    finally:
        await bot.runtime.close()
