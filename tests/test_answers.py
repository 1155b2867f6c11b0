"""Answers after answers: what a later report does to an earlier one, through the dispatcher
on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import select

from app.config import Settings
from core.clock import LOCAL_TZ
from core.messages import Incoming, IncomingFile
from storage.models import Target
from tests.conftest import EXAMPLES
from tests.seed import seeded_bot

START = datetime(2023, 5, 2, 8, 0, tzinfo=LOCAL_TZ)
PDF = (EXAMPLES / "files" / "ke-hoach-nq29.pdf").read_bytes()


async def test_a_file_after_nothing_to_report_is_a_real_report_on_its_first_time(
        settings: Settings) -> None:
    bot = await seeded_bot(settings, START)
    try:
        await bot.assign(START, "Thi đua | hạn 05/05/2023 | đơn vị A")
        await bot.say("ht_a", START, "không có số liệu")
        ack = max(i for i, m in enumerate(bot.recorder.sent, start=1) if m.chat_id == "ht_a")
        later = START + timedelta(days=8)  # after the deadline
        await bot.runtime.dispatcher.handle(Incoming(  # a reply to the acknowledgement
            "console", "ht_a", "ht_a", file=IncomingFile("bao-cao.pdf", PDF),
            reply_to=str(ack)), later)
        await bot.sender.drain(later)
        acknowledged = bot.recorder.sent[-1].text
        # The first answer was on time and stays the one that counts, as the figures say.
        assert "nộp đúng hạn" in acknowledged and "bản nộp lại" in acknowledged
        async with bot.runtime.sessions() as session:
            target = (await session.exec(select(Target))).one()
        assert target.on_time and not target.nil_report
    finally:
        await bot.runtime.close()
