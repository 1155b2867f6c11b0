"""Buttons and commands in group chats: the one who sent a command decides on its buttons,
joining is refused, and buttons that only work in a private chat are not shown."""

from __future__ import annotations

from datetime import datetime

from app.config import Settings
from core.clock import LOCAL_TZ
from core.messages import Incoming
from tests.seed import Bot, seeded_bot

NOW = datetime(2023, 5, 2, 8, 0, tzinfo=LOCAL_TZ)
GROUP = "-100200"


async def in_group(bot: Bot, user: str, **event: object) -> list:
    start = len(bot.recorder.sent)
    await bot.runtime.dispatcher.handle(Incoming("console", user, GROUP, is_group=True,
                                                 **event), NOW)
    await bot.sender.drain(NOW)
    return bot.recorder.sent[start:]


async def test_only_the_sender_of_a_command_decides_on_its_buttons(settings: Settings) -> None:
    bot = await seeded_bot(settings, NOW)
    try:
        preview = await in_group(bot, "staff", text="/giao Thi đua | hạn 08/05/2023 | đơn vị A")
        assert [b.label for b in preview[-1].buttons] == ["Gửi", "Sửa", "Huỷ"]
        message = str(len(bot.recorder.sent))
        refused = await in_group(bot, "ld_a", button="g:send", button_message_id=message)
        assert [m.text for m in refused] == ["Nút «Gửi» dành cho người đã gửi lệnh này."]
        sent = await in_group(bot, "staff", button="g:send", button_message_id=message)
        assert "Đã giao nhiệm vụ #1" in sent[0].text and sent[0].chat_id == GROUP
        assert any(m.chat_id == "ht_a" and "Nhiệm vụ mới #1" in m.text for m in sent)
        again = await in_group(bot, "staff", button="g:send", button_message_id=message)
        assert "đã bấm «Gửi»" in again[0].text
        # Free text in a group is not for the bot; /start there is refused.
        assert await in_group(bot, "ht_a", text="đã xong") == []
        joined = await in_group(bot, "ht_b", text="/start ABCD2345")
        assert joined[0].text == ("Hãy gửi /start kèm mã mời trong tin nhắn riêng với bot, "
                                  "không gửi trong nhóm.")
        # /tiendo #1 in a group has no chart or Excel button (they are sent privately only).
        shown = await in_group(bot, "lanhdao", text="/tiendo #1")
        assert "Nhiệm vụ #1" in shown[0].text and not shown[0].buttons
        await bot.say("lanhdao", NOW, "/tiendo #1")
        private = [m for m in bot.recorder.sent if m.chat_id == "lanhdao"][-1]
        assert [b.label for b in private.buttons] == ["Biểu đồ", "Excel"]
    finally:
        await bot.runtime.close()
