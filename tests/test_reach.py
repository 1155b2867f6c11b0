"""People the bot cannot reach: a permanent refusal of the platform marks the member
unreachable (no retries), the assigning staff are told once, `/tiendo` and `members list`
show it, and the waiting messages go out when the person writes again. Also a Telegram group
upgraded to a supergroup keeps working under its new id."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlmodel import select

from app.config import Settings
from bench.wave import Recorder
from channels.base import Unreachable
from channels.console import user_event
from core.messages import Outgoing
from storage.models import Member, Outbox
from testing.telegram_session import TelegramSession
from testing.zalo_session import ZaloSession
from tests.seed import seeded_bot
from tests.transcripts import give_task, platform_bot

NOW = datetime(2024, 3, 4, 2, 0, tzinfo=UTC)  # Monday 09:00 in Hà Nội


class Refusing(Recorder):
    """A console channel whose platform refuses some chats for good."""

    def __init__(self, refused: set[str]) -> None:
        super().__init__()
        self.refused = refused
        self.tries: list[str] = []

    async def send(self, message: Outgoing) -> str:
        if message.chat_id in self.refused:
            self.tries.append(message.chat_id)
            raise Unreachable("blocked", "Forbidden: bot was blocked by the user")
        return await super().send(message)


def texts_to(recorder: Recorder, chat: str) -> list[str]:
    return [m.text for m in recorder.sent if m.chat_id == chat]


async def test_a_refused_member_is_tried_once_staff_told_once_and_served_on_return(
        settings: Settings) -> None:
    bot = await seeded_bot(settings, NOW)
    channel = Refusing({"ht_a"})
    bot.recorder = channel
    try:
        await bot.assign(NOW, "Báo cáo thử | hạn 08/03/2024 | đơn vị A, B")
        assert channel.tries == ["ht_a"]  # no retry
        assert any("#1" in text for text in texts_to(channel, "ht_b"))
        told = [t for t in texts_to(channel, "staff") if "Không liên lạc được" in t]
        assert len(told) == 1
        assert "ht_a (Trường A) trên console: người này đã chặn bot" in told[0]
        assert "#1" in told[0] and "bot.py invites create --unit A" in told[0]

        await bot.sender.drain(NOW + timedelta(minutes=5))  # nothing is tried again
        await bot.assign(NOW, "Báo cáo thứ hai | hạn 08/03/2024 | đơn vị A")
        assert channel.tries == ["ht_a"]
        assert len([t for t in texts_to(channel, "staff") if "Không liên lạc được" in t]) == 1

        await bot.say("staff", NOW, "/tiendo #1")
        progress = texts_to(channel, "staff")[-1]
        assert "• Trường A — không liên lạc được" in progress
        assert "• Trường B\n" in progress + "\n"
        code, listing = await bot.admin(NOW, "members", "list")
        line = next(row for row in listing.splitlines() if row.startswith("ht_a"))
        assert "unreachable since 2024-03-04 09:00 (blocked)" in line

        # Reminders pile up meanwhile; only the latest of each target waits.
        await bot.sweep(NOW + timedelta(days=3))
        await bot.sweep(NOW + timedelta(days=4))
        channel.refused.clear()  # they unblocked the bot and write to it
        await bot.say("ht_a", NOW + timedelta(days=4, hours=1), "/viec")
        got = texts_to(channel, "ht_a")
        assert got[0].startswith("Nhiệm vụ còn mở")  # the answer to what they wrote first
        assert [text.splitlines()[0] for text in got[1:]] == [
            "📋 Nhiệm vụ mới #1 «Báo cáo thử»", "📋 Nhiệm vụ mới #2 «Báo cáo thứ hai»",
            "⏰ Nhắc việc #1 «Báo cáo thử»", "⏰ Nhắc việc #2 «Báo cáo thứ hai»"]
        await bot.say("staff", NOW + timedelta(days=4, hours=2), "/tiendo #1")
        assert "không liên lạc được" not in texts_to(channel, "staff")[-1]
        async with bot.runtime.sessions() as session:
            waiting = (await session.exec(select(Outbox).where(
                Outbox.chat_id == "ht_a", Outbox.sent_at == None))).all()  # noqa: E711
            member = (await session.exec(select(Member).where(
                Member.display_name == "ht_a"))).one()
        assert waiting == [] and member.unreachable_since is None
    finally:
        await bot.runtime.close()


async def test_telegram_403_marks_the_member_and_staff_see_why() -> None:
    async with platform_bot(TelegramSession) as (session, runtime):
        emu = session.emulator
        uid = session.user_id("ht_lhp")
        emu.set_blocked(uid, never_started=True)
        await give_task(session)
        refused = [c for c in emu.calls if c.method == "sendMessage" and c.status == 403]
        assert len(refused) == 1
        assert "can't initiate conversation" in refused[0].result["description"]
        staff = [m.text for m in session.delivered if m.to == "vp_so"]
        assert any("Không liên lạc được với ht_lhp (THPT chuyên Lê Hồng Phong) trên Telegram: "
                   "người này chưa mở bot" in text for text in staff)
        await session.drain()
        assert len([c for c in emu.calls if c.status == 403]) == 1  # no retry

        await session.send(user_event("ht_lhp", text="/start"))  # opens the bot
        mine = [m.text for m in session.delivered if m.to == "ht_lhp"]
        assert any("Báo cáo thử" in text for text in mine)


async def test_zalo_403_marks_the_member_unreachable() -> None:
    async with platform_bot(ZaloSession) as (session, runtime):
        emu = session.emulator
        emu.set_blocked(session.user_id("ht_lhp"))
        await give_task(session)
        staff = [m.text for m in session.delivered if m.to == "vp_so"]
        assert any("trên Zalo: người này đã chặn bot" in text for text in staff)
        await session.drain()
        async with runtime.sessions() as s:
            member = (await s.exec(select(Member).where(Member.display_name == "ht_lhp"))).one()
        assert member.unreachable_reason == "blocked"


async def test_a_group_upgraded_to_a_supergroup_keeps_working() -> None:
    async with platform_bot(TelegramSession) as (session, runtime):
        emu = session.emulator
        uid = session.user_id("vp_so")
        group, supergroup = -4001, -1004001
        emu.add_group(group, "Văn phòng Sở")
        await emu.inject_text(uid, "/help@baocao_bot", chat_id=group)
        await session.settle()
        # Upgraded while a message to the group still waits: the 400 names the new id.
        async with runtime.sessions() as s, s.begin():
            s.add(Outbox(channel="telegram", chat_id=str(group), is_group=True,
                         text="tin chờ gửi", created_at=session.now))
        emu._migrated[group] = supergroup
        emu.add_group(supergroup, "Văn phòng Sở", "supergroup")
        await session.drain()
        moved = [c for c in emu.calls if c.status == 400]
        assert moved and moved[0].result["parameters"] == {"migrate_to_chat_id": supergroup}
        assert [m["text"] for m in emu.bot_messages(supergroup)] == ["tin chờ gửi"]
        async with runtime.sessions() as s:
            chats = {row.chat_id for row in (await s.exec(select(Outbox).where(
                Outbox.is_group == True))).all()}  # noqa: E712
        assert chats == {str(supergroup)}  # the earlier answers too: their buttons work


async def test_the_migration_service_message_moves_the_chat() -> None:
    async with platform_bot(TelegramSession) as (session, runtime):
        emu = session.emulator
        uid = session.user_id("vp_so")
        group, supergroup = -4002, -1004002
        emu.add_group(group, "Tổ báo cáo")
        await emu.inject_text(uid, "/help@baocao_bot", chat_id=group)
        await session.settle()
        await emu.migrate_group(group, supergroup, uid)
        await session.settle(updates=2)
        async with runtime.sessions() as s:
            chats = {row.chat_id for row in (await s.exec(select(Outbox).where(
                Outbox.is_group == True))).all()}  # noqa: E712
        assert chats == {str(supergroup)}
        await emu.inject_text(uid, "/help@baocao_bot", chat_id=supergroup)
        await session.settle()
        assert len(emu.bot_messages(supergroup)) == 1
        assert not [c for c in emu.calls if c.status and c.status >= 400]
