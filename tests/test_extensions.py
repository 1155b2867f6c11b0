"""Extensions decided by staff, through the dispatcher: a date that does not move the deadline
later is refused with a clear answer (the request stays open), and an extension granted after
a late report judges that report against the moved deadline, in every figure."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import col, select

from app.config import Settings
from core.clock import LOCAL_TZ
from core.messages import Incoming
from storage.models import ExtensionRequest, Outbox, Target
from tests.seed import Bot, seeded_bot

START = datetime(2023, 5, 2, 8, 0, tzinfo=LOCAL_TZ)


def last_text(bot: Bot, user: str) -> str:
    return [m.text for m in bot.recorder.sent if m.chat_id == user][-1]


async def reply_to_request(bot: Bot, now: datetime, text: str) -> None:
    """The staff member answers the extension request message by quoting it."""
    async with bot.runtime.sessions() as session:
        request = (await session.exec(select(Outbox).where(
            Outbox.chat_id == "staff", col(Outbox.extension_id).is_not(None))
            .order_by(col(Outbox.id).desc()))).first()
    assert request is not None
    await bot.runtime.dispatcher.handle(Incoming(
        "console", "staff", "staff", text=text, reply_to=request.platform_message_id), now)
    await bot.sender.drain(now)


async def test_an_extension_to_an_earlier_date_is_refused_and_the_request_stays_open(
        settings: Settings) -> None:
    bot = await seeded_bot(settings, START)
    try:
        await bot.assign(START, "Thi đua | hạn 05/05/2023 | đơn vị A, B")
        await bot.say("ht_b", START, "xin gia hạn đến 10/5 vì chờ số liệu")
        await reply_to_request(bot, START, "đồng ý đến 3/5")
        assert last_text(bot, "staff").startswith(
            "Ngày gia hạn (Thứ Tư, 03/05/2023 17:00) không sau hạn hiện tại (Thứ Sáu, "
            "05/05/2023 17:00).")
        async with bot.runtime.sessions() as session:
            (ext,) = (await session.exec(select(ExtensionRequest))).all()
            target = await session.get(Target, ext.target_id)
            assert ext.state == "pending" and target is not None
            assert not target.extension_granted and target.deadline == datetime(
                2023, 5, 5, 17, tzinfo=LOCAL_TZ)
        assert not any("gia hạn" in m.text for m in bot.recorder.sent if m.chat_id == "ht_b"
                       and m.text.startswith("✅"))
        await reply_to_request(bot, START, "đồng ý đến 9/5")  # a later date is granted
        assert "đến Thứ Ba, 09/05/2023 17:00" in last_text(bot, "ht_b")
    finally:
        await bot.runtime.close()


async def test_an_extension_granted_after_a_late_report_makes_it_on_time(
        settings: Settings) -> None:
    bot = await seeded_bot(settings, START)
    try:
        await bot.assign(START, "Thi đua | hạn 05/05/2023 | đơn vị A, B")
        asked = datetime(2023, 5, 5, 16, 0, tzinfo=LOCAL_TZ)
        await bot.say("ht_b", asked, "xin gia hạn đến 08/05/2023 vì chờ số liệu")
        await bot.say("ht_b", asked + timedelta(hours=17), "đã xong")  # 16 hours late
        assert "muộn" in last_text(bot, "ht_b")
        decided = asked + timedelta(hours=18)
        await bot.press("staff", decided, "Đồng ý")
        await bot.say("lanhdao", decided, "/tiendo #1")
        assert "Đã nộp 1/2 (đúng hạn 1, muộn 0)" in last_text(bot, "lanhdao")
        await bot.say("lanhdao", decided, "/tiendo tre-han")
        assert "Trường B" not in last_text(bot, "lanhdao")
        await bot.say("lanhdao", decided, "/tiendo B")
        assert "đúng hạn 100% (1/1), muộn 0" in last_text(bot, "lanhdao")
        assert "trễ trung bình" not in last_text(bot, "lanhdao")
    finally:
        await bot.runtime.close()
