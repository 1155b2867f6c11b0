"""Reminder rules through the dispatcher under the virtual clock, on SQLite and PostgreSQL:
escalation after overdue working days, the re-plan of a granted extension, quiet hours."""

from __future__ import annotations

import dataclasses
from datetime import datetime, time, timedelta

from app.config import Settings
from core.clock import LOCAL_TZ
from tests.seed import Bot, seeded_bot

START = datetime(2023, 5, 2, 8, 0, tzinfo=LOCAL_TZ)  # Tuesday


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=LOCAL_TZ)


def received(bot: Bot, user: str, since: int = 0) -> list[str]:
    return [m.text for m in bot.recorder.sent[since:] if m.chat_id == user]


async def _day_by_day(bot: Bot, first: datetime, last: datetime) -> dict[str, list[str]]:
    """Sweep at 09:00 each day from `first` to `last`; who received what, by day."""
    log: dict[str, list[str]] = {}
    day = first
    while day <= last:
        mark = len(bot.recorder.sent)
        await bot.sweep(day)
        log[day.strftime("%a %d/%m")] = [f"{m.chat_id}: {m.text.splitlines()[0]}"
                                         for m in bot.recorder.sent[mark:]]
        day += timedelta(days=1)
    return log


async def test_escalation_to_leaders_after_one_working_day_and_to_staff_after_three(
        settings: Settings) -> None:
    bot = await seeded_bot(settings, START)
    try:
        await bot.assign(START, "Thi đua | hạn 05/05/2023 | đơn vị A, B | nhắc: 2")
        await bot.say("ht_b", START, "đã xong")
        log = await _day_by_day(bot, local(2023, 5, 6, 9, 0), local(2023, 5, 11, 9, 0))
        assert log == {
            "Sat 06/05": ["ht_a: ⚠️ Quá hạn nộp báo cáo #1 «Thi đua»"],
            "Sun 07/05": [],
            "Mon 08/05": ["ht_a: ⚠️ Quá hạn nộp báo cáo #1 «Thi đua»",
                          "ld_a: ⚠️ Trường A chưa nộp nhiệm vụ #1 «Thi đua»; hạn là Thứ Sáu, "
                          "05/05/2023 17:00 (quá hạn 2 ngày)."],
            "Tue 09/05": ["ht_a: ⚠️ Quá hạn nộp báo cáo #1 «Thi đua»"],
            "Wed 10/05": ["ht_a: ⚠️ Quá hạn nộp báo cáo #1 «Thi đua»",
                          "staff: ⚠️ Nhiệm vụ #1 «Thi đua» đã quá hạn 3 ngày làm việc; 1 đơn vị "
                          "vẫn chưa nộp:"],
            "Thu 11/05": ["ht_a: ⚠️ Quá hạn nộp báo cáo #1 «Thi đua»"],
        }
        assert "• Trường A" in received(bot, "staff")[-1]
        assert "Trường B" not in received(bot, "staff")[-1]
    finally:
        await bot.runtime.close()


async def test_a_granted_extension_replans_only_that_target(settings: Settings) -> None:
    bot = await seeded_bot(settings, START)
    try:
        await bot.assign(START, "Thi đua | hạn 05/05/2023 | đơn vị A, B | nhắc: 2")
        await bot.say("ht_b", START, "xin gia hạn đến 12/5 vì chờ số liệu")
        await bot.press("staff", START, "Đồng ý")
        assert "đồng ý gia hạn" in received(bot, "ht_b")[-1]
        log = await _day_by_day(bot, local(2023, 5, 3, 9, 0), local(2023, 5, 13, 9, 0))
        reporters = {day: sorted(x for x in lines if x.startswith("ht_"))
                     for day, lines in log.items()}
        before, overdue = "⏰ Nhắc việc #1 «Thi đua»", "⚠️ Quá hạn nộp báo cáo #1 «Thi đua»"
        # A keeps its 05/05 deadline (2 days before is 03/05, a 2023 holiday, and the working
        # morning before it is past: Thursday 04/05). B's reminders are planned again for
        # Friday 12/05: 2 days before (Wed 10/05), on the day, then overdue from Saturday.
        assert {day: lines for day, lines in reporters.items() if lines} == {
            "Thu 04/05": [f"ht_a: {before}"],
            "Fri 05/05": [f"ht_a: {before}"],
            "Sat 06/05": [f"ht_a: {overdue}"],
            "Mon 08/05": [f"ht_a: {overdue}"],
            "Tue 09/05": [f"ht_a: {overdue}"],
            "Wed 10/05": [f"ht_a: {overdue}", f"ht_b: {before}"],
            "Thu 11/05": [f"ht_a: {overdue}"],
            "Fri 12/05": [f"ht_a: {overdue}", f"ht_b: {before}"],
            "Sat 13/05": [f"ht_a: {overdue}", f"ht_b: {overdue}"],
        }
    finally:
        await bot.runtime.close()


async def test_quiet_hours_move_a_reminder_to_the_morning(settings: Settings) -> None:
    settings = dataclasses.replace(settings, reminders=dataclasses.replace(
        settings.reminders, before_time=time(22, 0)))
    bot = await seeded_bot(settings, START)
    try:
        await bot.assign(START, "Thi đua | hạn 12/05/2023 | đơn vị A | nhắc: 2")
        hours = {}
        moment = local(2023, 5, 10, 20, 0)
        while moment <= local(2023, 5, 11, 8, 0):  # 2 days before, 22:00, is in quiet hours
            hours[moment.strftime("%d/%m %H:%M")] = await bot.sweep(moment)
            moment += timedelta(hours=1)
        assert {hour: n for hour, n in hours.items() if n} == {"11/05 07:00": 1}
    finally:
        await bot.runtime.close()


async def test_the_staff_list_names_each_late_unit_once_per_period(settings: Settings) -> None:
    """November is still missing when December's period is three working days overdue: the
    list for December names each unit once (not once per overdue period)."""
    settings = dataclasses.replace(settings, reminders=dataclasses.replace(
        settings.reminders, period_lead_days=10))
    start = local(2024, 10, 28, 8, 0)
    bot = await seeded_bot(settings, start)
    try:
        await bot.assign(start, "Sĩ số | hạn ngày 5 hàng tháng | đơn vị A, B")
        log = await _day_by_day(bot, local(2024, 11, 1, 9, 0), local(2024, 12, 16, 9, 0))
        lists = [text for text in received(bot, "staff") if "3 ngày làm việc" in text]
        assert len(lists) == 2, log  # one for November, one for December
        for text in lists:
            assert text.count("• Trường A") == 1 and text.count("• Trường B") == 1, text
            assert "2 đơn vị vẫn chưa nộp" in text
    finally:
        await bot.runtime.close()


async def test_a_new_period_takes_over_the_reminders_of_the_past_ones(settings: Settings) -> None:
    """A weekly task nobody answers: each unit gets at most one reminder a day for it, about
    the current week; the past weeks stay missing in the history."""
    start = local(2024, 11, 4, 8, 0)  # Monday
    bot = await seeded_bot(settings, start)
    try:
        await bot.assign(start, "Báo cáo tuần | hạn thứ sáu hàng tuần | đơn vị A")
        log = await _day_by_day(bot, local(2024, 11, 5, 9, 0), local(2024, 11, 26, 9, 0))
        to_a = {day: [line for line in lines if line.startswith("ht_a: ")]
                for day, lines in log.items()}
        assert all(len(lines) <= 1 for lines in to_a.values()), to_a
        # Each week opens when the previous deadline passes, and its reminders replace the
        # overdue ones of the week before.
        assert to_a["Sat 16/11"] == ["ht_a: 📋 Kỳ báo cáo mới 18/11/2024 của nhiệm vụ #1 "
                                     "«Báo cáo tuần»"]
        assert to_a["Tue 19/11"] == ["ht_a: ⏰ Nhắc việc #1 «Báo cáo tuần»"]
        assert not any("Quá hạn" in line for lines in to_a.values() for line in lines)
    finally:
        await bot.runtime.close()
