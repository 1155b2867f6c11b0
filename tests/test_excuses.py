"""Excuses through the dispatcher, on both databases: the decision is recorded (who asked, who
decided, why), an excused unit gets no reminders and shows its reason in the workbook, taking
the excuse back plans its reminders again, and a request overtaken by a report is not
granted. examples/excuse.chat plays the conversation itself."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlmodel import col, select

from app.config import Settings
from core.clock import LOCAL_TZ
from handlers.excuses import is_withdrawal
from reports.load import task_report
from storage.models import Assignment, ExcuseRequest, Member, Reminder, Target
from tests.seed import Bot, seeded_bot

START = datetime(2023, 5, 2, 8, 0, tzinfo=LOCAL_TZ)


def last_text(bot: Bot, user: str) -> str:
    return [m.text for m in bot.recorder.sent if m.chat_id == user][-1]


async def state_of(bot: Bot) -> tuple[Target, list[ExcuseRequest], int]:
    """Unit B's target, its excuse records in order, and its reminders not sent yet."""
    async with bot.runtime.sessions() as session:
        target = (await session.exec(select(Target).order_by(col(Target.unit_id).desc()))
                  ).first()
        assert target is not None
        records = list((await session.exec(select(ExcuseRequest).where(
            ExcuseRequest.target_id == target.id).order_by(col(ExcuseRequest.id)))).all())
        planned = len((await session.exec(select(Reminder).where(
            Reminder.target_id == target.id, Reminder.state == "planned"))).all())
    return target, records, planned


async def test_an_excuse_is_recorded_silences_reminders_and_can_be_taken_back(
        settings: Settings) -> None:
    bot = await seeded_bot(settings, START)
    try:
        await bot.assign(START, "Thống kê khuyết tật | hạn 08/05/2023 | đơn vị A, B")
        assert (await state_of(bot))[2] > 0
        await bot.say("ht_b", START, "xin miễn nộp vì trường không có học sinh khuyết tật")
        assert "Trường B xin miễn nộp nhiệm vụ #1" in last_text(bot, "staff")
        target, (asked,), planned = await state_of(bot)
        assert asked.state == "pending" and target.state == "pending" and planned > 0

        decided = START + timedelta(hours=2)
        await bot.press("staff", decided, "Đồng ý")
        target, (asked,), planned = await state_of(bot)
        async with bot.runtime.sessions() as session:
            staff = (await session.exec(select(Member).where(Member.display_name == "staff"))
                     ).one()
            reporter = (await session.exec(select(Member).where(
                Member.display_name == "ht_b"))).one()
            report = await task_report(session, (await session.exec(select(Assignment))).one())
        assert (asked.state, asked.member_id, asked.decided_by, asked.decided_at) == (
            "granted", reporter.id, staff.id, decided)
        assert target.state == "excused" and planned == 0
        row = next(r for r in report.rows if r.code == "B")
        assert (row.state, row.status_text, row.reporter) == (
            "excused", "trường không có học sinh khuyết tật", "ht_b")
        assert "đồng ý miễn nộp nhiệm vụ #1" in last_text(bot, "ht_b")

        await bot.say("lanhdao", decided, "/tiendo #1")
        assert "Đã nộp 0/1 (đúng hạn 0, muộn 0), chưa nộp 1, miễn 1" in last_text(bot, "lanhdao")
        await bot.say("ld_a", decided, "/tiendo #1")  # school A's leader sees school A only
        assert "Đã nộp 0/1 (đúng hạn 0, muộn 0), chưa nộp 1\n" in last_text(bot, "ld_a")
        assert "Trường B" not in last_text(bot, "ld_a")
        assert await bot.sweep(datetime(2023, 5, 9, 9, 0, tzinfo=LOCAL_TZ)) > 0
        assert "Quá hạn" not in last_text(bot, "ht_b")  # A is chased, B is not

        await bot.say("staff", decided, "/mien #1 B | bỏ")
        assert "Đã bỏ miễn nộp nhiệm vụ #1" in last_text(bot, "staff")
        target, records, planned = await state_of(bot)
        assert target.state == "pending" and planned > 0
        assert [(r.state, r.member_id, r.decided_by) for r in records] == [
            ("granted", reporter.id, staff.id), ("withdrawn", staff.id, staff.id)]
        assert "cần nộp trước Thứ Hai, 08/05/2023 17:00" in last_text(bot, "ht_b")
    finally:
        await bot.runtime.close()


async def test_a_request_overtaken_by_a_report_is_not_granted(settings: Settings) -> None:
    bot = await seeded_bot(settings, START)
    try:
        await bot.assign(START, "Thống kê khuyết tật | hạn 08/05/2023 | đơn vị A, B")
        await bot.say("ht_b", START, "xin miễn vì sáp nhập")
        await bot.say("ht_b", START, "đã xong")
        await bot.press("staff", START, "Đồng ý")
        assert "đã nộp nhiệm vụ #1" in last_text(bot, "staff")
        target, (asked,), _ = await state_of(bot)
        assert target.state == "submitted" and asked.state == "withdrawn"
        await bot.say("ht_b", START, "xin miễn vì sáp nhập")
        assert "không còn nhiệm vụ nào đang mở" in last_text(bot, "ht_b")
        await bot.say("staff", START, "/mien #1 A, B | sáp nhập")
        assert last_text(bot, "staff") == (
            "Đã miễn nộp nhiệm vụ #1 «Thống kê khuyết tật» cho 1 đơn vị: Trường A; các đơn vị "
            "đã được báo.\nĐã nộp, không miễn: Trường B.")
    finally:
        await bot.runtime.close()


async def test_only_staff_excuse_and_a_cancelled_task_lists_nobody_as_owing(
        settings: Settings) -> None:
    bot = await seeded_bot(settings, START)
    try:
        await bot.assign(START, "Thống kê khuyết tật | hạn 08/05/2023 | đơn vị A, B")
        for user in ("ld_a", "ht_a"):
            await bot.say(user, START, "/mien #1 B | sáp nhập")
            assert "Chỉ chuyên viên văn phòng" in last_text(bot, user)
        await bot.say("staff", START, "/huy #1")
        await bot.say("ld_a", START, "/tiendo #1")
        shown = last_text(bot, "ld_a")
        assert "(đã huỷ)" in shown and "không cần nộp nữa" in shown
        assert "Chưa nộp (" not in shown  # nobody is listed as owing a cancelled task
        await bot.say("staff", START, "/mien #1 B | sáp nhập")
        assert "đã được huỷ; không cần miễn" in last_text(bot, "staff")
        target, records, _ = await state_of(bot)
        assert target.state == "pending" and records == []
    finally:
        await bot.runtime.close()


@pytest.mark.parametrize("text", ["bỏ", "bỏ miễn nộp", "Hủy bỏ", "huỷ miễn", "thu hồi",
                                  "remove", "Undo exemption", "gỡ"])
def test_words_that_take_an_excuse_back(text: str) -> None:
    assert is_withdrawal(text)


@pytest.mark.parametrize("text", ["", "bỏ học nhiều, trường đã giải thể", "sáp nhập",
                                  "huỷ tuyển sinh năm nay"])
def test_reasons_are_not_taken_for_a_take_back(text: str) -> None:
    assert not is_withdrawal(text)


async def test_decisions_overtaken_by_events_say_so(settings: Settings) -> None:
    """An extension asked before an excuse is not granted after it; a refusal after the unit
    reported closes the request without telling the unit to report; taking an excuse back
    after the deadline says the deadline has passed."""
    bot = await seeded_bot(settings, START)
    try:
        await bot.assign(START, "Thống kê khuyết tật | hạn 08/05/2023 | đơn vị A, B")
        await bot.say("ht_b", START, "xin gia hạn đến 12/5 vì chờ số liệu")
        await bot.say("staff", START, "/mien #1 B | sáp nhập")
        await bot.press("staff", START, "Đồng ý")  # the extension's button
        assert last_text(bot, "staff") == (
            "Trường B đã được miễn nộp nhiệm vụ #1 «Thống kê khuyết tật»; không cần gia hạn.")
        assert "gia hạn" not in last_text(bot, "ht_b")

        await bot.say("ht_a", START, "xin miễn vì sáp nhập")
        await bot.say("ht_a", START, "đã xong")
        told = len([m for m in bot.recorder.sent if m.chat_id == "ht_a"])
        await bot.press("staff", START, "Từ chối")
        assert "Trường A đã nộp nhiệm vụ #1" in last_text(bot, "staff")
        assert len([m for m in bot.recorder.sent if m.chat_id == "ht_a"]) == told
        async with bot.runtime.sessions() as session:
            states = {r.state for r in (await session.exec(select(ExcuseRequest))).all()}
        assert states == {"granted", "withdrawn"}

        late = datetime(2023, 5, 9, 9, 0, tzinfo=LOCAL_TZ)
        await bot.say("staff", late, "/mien #1 B | Hủy bỏ")
        assert "hạn nộp Thứ Hai, 08/05/2023 17:00 đã qua, đơn vị hãy nộp ngay" in last_text(
            bot, "ht_b")
    finally:
        await bot.runtime.close()


async def test_a_member_of_two_units_picks_by_unit(settings: Settings) -> None:
    bot = await seeded_bot(settings, START)
    try:
        await bot.admin(START, "members", "add", "ht_b", "--role", "reporter", "--unit", "A")
        await bot.assign(START, "Thống kê khuyết tật | hạn 08/05/2023 | đơn vị A, B")
        await bot.say("ht_b", START, "xin miễn vì sáp nhập")
        labels = [b.label for b in bot.recorder.sent[-1].buttons]
        assert labels == ["#1 Trường A", "#1 Trường B"]
        await bot.say("ht_b", START, "/viec")
        assert "#1 «Thống kê khuyết tật» — Trường B — hạn" in last_text(bot, "ht_b")
    finally:
        await bot.runtime.close()
