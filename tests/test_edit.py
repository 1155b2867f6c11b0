"""`/sua #N`: editing a sent task, guided and in one line, and every wrong input with the
message the clerk sees, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import datetime

from sqlmodel import col, func, select

from app.config import Settings
from core.clock import LOCAL_TZ
from storage.models import Assignment, AuditLog, Outbox, Reminder, Submission, Target, Unit
from tests.seed import Bot, seeded_bot

START = datetime(2023, 5, 2, 8, 0, tzinfo=LOCAL_TZ)


def last(bot: Bot, user: str) -> str:
    return [m.text for m in bot.recorder.sent if m.chat_id == user][-1]


def count(bot: Bot, user: str) -> int:
    return sum(1 for m in bot.recorder.sent if m.chat_id == user)


async def targets(bot: Bot) -> dict[str, Target]:
    async with bot.runtime.sessions() as session:
        return {code: target for target, code in (await session.exec(
            select(Target, Unit.code).join(Unit, col(Unit.id) == col(Target.unit_id)))).all()}


async def test_wrong_inputs_get_a_message_and_change_nothing(settings: Settings) -> None:
    bot = await seeded_bot(settings, START)
    try:
        await bot.assign(START, "Thi đua | hạn 05/05/2023 | đơn vị A")
        cases = [
            ("ht_a", "/sua #1 | hạn 12/05/2023", "Chỉ chuyên viên văn phòng mới sửa được"),
            ("staff", "/sua", "Cách dùng: /sua #N"),
            ("staff", "/sua #9 | hạn 12/05/2023", "Không có nhiệm vụ «#9»"),
            ("staff", "/sua #1 | hạn 05/05/2023", "đã là Thứ Sáu, 05/05/2023 17:00"),
            ("staff", "/sua #1 | hạn 01/05/2023", "đã qua"),
            ("staff", "/sua #1 | hạn 31/02/2023", "không có trong lịch"),
            ("staff", "/sua #1 | hạn hàng năm 30/11", "cần một ngày cụ thể"),
            ("staff", "/sua #1 | thêm A", "Đã thuộc nhiệm vụ #1 «Thi đua»: Trường A"),
            ("staff", "/sua #1 | thêm Z", "Không tìm thấy đơn vị «Z»"),
            ("staff", "/sua #1 | bớt B", "Không thuộc nhiệm vụ #1 «Thi đua»: Trường B"),
            ("staff", "/sua #1 | bớt A", "Không bớt được mọi đơn vị"),
            ("staff", "/sua #1 | tên Thi đua", "đã là «Thi đua»"),
            ("staff", "/sua #1 | tên " + "x" * 501, "quá 500"),
            ("staff", "/sua #1 | nộp: ảnh", "chỉ nhận: tệp, trạng thái hoặc cả hai"),
            ("staff", "/sua #1 | nộp: tệp hoặc trạng thái", "đã yêu cầu nộp"),
            ("staff", "/sua #1 | màu xanh", "Không hiểu phần «màu xanh»"),
        ]
        for user, text, expected in cases:
            await bot.say(user, START, text)
            assert expected in last(bot, user), (text, last(bot, user))
        assert "Chưa thay đổi gì" in last(bot, "staff")
        await bot.say("staff", START, "/huy #1")
        await bot.say("staff", START, "/sua #1 | hạn 12/05/2023")
        assert "đã được huỷ; không sửa được" in last(bot, "staff")
        async with bot.runtime.sessions() as session:
            assert (await session.exec(select(func.count()).select_from(AuditLog).where(
                AuditLog.action == "edit"))).one() == 0
    finally:
        await bot.runtime.close()


async def test_a_closed_task_and_a_stale_preview(settings: Settings) -> None:
    bot = await seeded_bot(settings, START)
    try:
        await bot.assign(START, "Thi đua | hạn 05/05/2023 | đơn vị A")
        await bot.say("staff", START, "/dong #1")
        await bot.say("staff", START, "/sua #1")
        assert "đã đóng; mở lại bằng /mo #1 rồi sửa" in last(bot, "staff")
        await bot.say("staff", START, "/mo #1")
        await bot.say("staff", START, "/sua #1 | hạn 04/05/2023 08:00")
        assert "Xin xác nhận sửa nhiệm vụ #1" in last(bot, "staff")
        later = datetime(2023, 5, 4, 9, 0, tzinfo=LOCAL_TZ)
        await bot.press("staff", later, "Gửi")
        assert "đã qua trong lúc chờ xác nhận; chưa thay đổi gì" in last(bot, "staff")
        await bot.press("staff", later, "Huỷ")
        assert "Bản sửa này không còn nữa" in last(bot, "staff")
    finally:
        await bot.runtime.close()


async def test_guided_edit_of_title_details_and_requires(settings: Settings) -> None:
    bot = await seeded_bot(settings, START)
    try:
        await bot.assign(START, "Thi đua | hạn 05/05/2023 | đơn vị A, B")
        await bot.say("staff", START, "/sua #1")
        assert "Sửa gì ở nhiệm vụ #1 «Thi đua»?" in last(bot, "staff")
        await bot.press("staff", START, "Tên")
        await bot.say("staff", START, "x" * 501)
        assert "quá 500" in last(bot, "staff")
        await bot.say("staff", START, "Thi đua khen thưởng")
        assert "• Tên: «Thi đua» → «Thi đua khen thưởng»" in last(bot, "staff")
        await bot.say("staff", START, "gì đó")
        assert "Bản sửa đang chờ xác nhận" in last(bot, "staff")
        await bot.press("staff", START, "Huỷ")
        assert "Đã huỷ bản sửa; nhiệm vụ vẫn như cũ" in last(bot, "staff")
        before = count(bot, "ht_a")
        await bot.say("staff", START, "/sua #1 | tên Thi đua khen thưởng | nộp: tệp | "
                      "chi tiết: Theo mẫu 02")
        await bot.press("staff", START, "Gửi")
        assert "Đã sửa nhiệm vụ #1 «Thi đua khen thưởng»; đã báo cho 2 người nhận" in \
            last(bot, "staff")
        told = last(bot, "ht_a")
        assert count(bot, "ht_a") == before + 1
        assert "Tên mới: Thi đua khen thưởng" in told and "Chi tiết: Theo mẫu 02" in told
        assert "Cần nộp: tệp báo cáo" in told
        async with bot.runtime.sessions() as session:
            task = (await session.exec(select(Assignment))).one()
            audit = (await session.exec(select(AuditLog).where(
                AuditLog.action == "edit"))).one()
        assert (task.title, task.requires, task.details) == (
            "Thi đua khen thưởng", "file", "Theo mẫu 02")
        assert json.loads(audit.detail)["title"] == "Thi đua khen thưởng"
    finally:
        await bot.runtime.close()


async def test_deadline_units_and_reminders(settings: Settings) -> None:
    bot = await seeded_bot(settings, START)
    try:
        await bot.assign(START, "Thi đua | hạn 05/05/2023 | đơn vị A")
        await bot.say("staff", START, "/giahan #1 A | đến 20/05/2023")
        await bot.say("ht_a", START, "đã xong")
        await bot.say("staff", START, "/sua #1 | hạn 12/05/2023 | thêm B")
        await bot.press("staff", START, "Gửi")
        got = await targets(bot)
        # A's extension runs past the new deadline: kept; B gets the new one and the task.
        assert got["A"].deadline.day == 20 and got["B"].deadline.day == 12
        assert "Nhiệm vụ mới #1 «Thi đua»" in last(bot, "ht_b")
        async with bot.runtime.sessions() as session:
            planned = (await session.exec(select(Reminder.target_id).where(
                Reminder.state == "planned"))).all()
        assert got["B"].id in set(planned)
        # A is taken off: its answer stays, it leaves the figures; added again, it owes anew.
        await bot.say("staff", START, "/sua #1 | bớt A")
        await bot.press("staff", START, "Gửi")
        assert "Trường A không còn phải nộp nhiệm vụ #1" in last(bot, "ht_a")
        await bot.say("lanhdao", START, "/tiendo #1")
        assert "Đã nộp 0/1" in last(bot, "lanhdao")
        await bot.say("ht_a", START, "/viec")
        assert "không còn nhiệm vụ nào" in last(bot, "ht_a")
        async with bot.runtime.sessions() as session:
            assert (await session.exec(select(func.count()).select_from(Submission))).one() == 1
        await bot.say("staff", START, "/sua #1 | thêm A")
        await bot.press("staff", START, "Gửi")
        assert "Nhiệm vụ mới #1" in last(bot, "ht_a")
        got = await targets(bot)
        assert got["A"].state == "pending" and got["A"].deadline.day == 12
        await bot.say("lanhdao", START, "/tiendo #1")
        assert "Đã nộp 0/2" in last(bot, "lanhdao")
    finally:
        await bot.runtime.close()


async def test_requests_of_a_unit_taken_off_are_not_decided(settings: Settings) -> None:
    bot = await seeded_bot(settings, START)
    try:
        await bot.assign(START, "Thi đua | hạn 05/05/2023 | đơn vị A, B")
        await bot.say("ht_b", START, "xin gia hạn đến 10/05/2023 vì chờ số liệu")
        await bot.say("ht_a", START, "xin miễn nộp vì sáp nhập")
        await bot.say("staff", START, "/sua #1 | bớt A, B")
        assert "Không bớt được mọi đơn vị" in last(bot, "staff")
        await bot.say("staff", START, "/sua #1 | bớt B")
        await bot.press("staff", START, "Gửi")
        await bot.press("staff", START, "Đồng ý")  # the latest request: A's excuse
        await bot.say("staff", START, "/sua #1 | thêm B | bớt A")
        assert "Thêm 1 đơn vị: Trường B" in last(bot, "staff")
        await bot.press("staff", START, "Huỷ")
        got = await targets(bot)
        assert (got["A"].state, got["B"].state) == ("excused", "removed")
        async with bot.runtime.sessions() as session:
            rows = (await session.exec(select(Outbox).where(Outbox.chat_id == "staff")
                                       .order_by(col(Outbox.id).desc()))).all()
        ext = next(r for r in rows if r.extension_id)
        from core.messages import Incoming

        await bot.runtime.dispatcher.handle(Incoming(
            "console", "staff", "staff", button=f"x:{ext.extension_id}:ok",
            button_message_id=ext.platform_message_id), START)
        await bot.sender.drain(START)
        assert "Trường B không còn thuộc nhiệm vụ #1 «Thi đua»; không cần gia hạn." in \
            last(bot, "staff")
        assert (await targets(bot))["B"].deadline.day == 5
    finally:
        await bot.runtime.close()
