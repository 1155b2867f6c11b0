"""Commands as people type them (`core.commands`), and the suggestion for a near miss."""

from __future__ import annotations

import unicodedata
from datetime import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.config import Settings
from core.clock import LOCAL_TZ
from core.commands import Command, Suggestion, parse
from handlers.router import KNOWN
from tests.seed import seeded_bot

CASES = [
    ("/tiendo #1", Command("tiendo", "#1")),
    ("/tien do", Command("tiendo", "")),
    ("/tiến độ", Command("tiendo", "")),
    ("/tiendô", Command("tiendo", "")),
    ("/tiendo#1", Command("tiendo", "#1")),
    ("/TIENDO @THCS", Command("tiendo", "@THCS")),
    ("tiến độ", Command("tiendo", "")),
    ("tiendo", Command("tiendo", "")),
    ("tien do #1", Command("tiendo", "#1")),
    ("/progress #2", Command("tiendo", "#2")),
    ("/assign Báo cáo | hạn 08/05/2023", Command("giao", "Báo cáo | hạn 08/05/2023")),
    ("/giao@baocao_bot Tên | hạn 1/5", Command("giao", "Tên | hạn 1/5")),
    ("/giao Tiến độ dạy học | hạn 1/5", Command("giao", "Tiến độ dạy học | hạn 1/5")),
    ("/start ABCD2345", Command("start", "ABCD2345")),
    ("/giao tiep #1", Command("giaotiep", "#1")),
    ("/nhat ky #2", Command("nhatky", "#2")),
    ("/tiendp", Suggestion("tiendp", "tiendo", "")),
    ("/tiendoo #3", Suggestion("tiendoo", "tiendo", "#3")),
    ("/xyzxyz", Suggestion("xyzxyz", "", "")),
    ("tiến độ 50%", None),  # a status answer, not the command
    ("đã xong", None),
    ("giao", None),  # without the slash only a few command words are read as commands
    ("", None),
]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_commands_as_typed(text: str, expected: Command | Suggestion | None) -> None:
    assert parse(text, KNOWN) == expected
    assert parse(unicodedata.normalize("NFD", text), KNOWN) == expected


@settings(max_examples=2000, deadline=None)
@given(st.text(max_size=80))
def test_any_text_is_a_known_command_a_suggestion_or_nothing(text: str) -> None:
    found = parse(text, KNOWN)
    assert found is None or isinstance(found, Command | Suggestion)
    if isinstance(found, Command):
        assert found.name in KNOWN
    if isinstance(found, Suggestion):
        assert found.name in KNOWN or found.name == ""


async def test_a_near_miss_offers_the_command_and_its_button_runs_it(settings: Settings
                                                                      ) -> None:
    now = datetime(2023, 5, 2, 8, 0, tzinfo=LOCAL_TZ)
    bot = await seeded_bot(settings, now)
    try:
        await bot.say("lanhdao", now, "/tiendp")
        offer = [m for m in bot.recorder.sent if m.chat_id == "lanhdao"][-1]
        assert offer.text == "Không có lệnh /tiendp. Ý bạn là /tiendo?"
        assert [b.label for b in offer.buttons] == ["/tiendo"]
        await bot.press("lanhdao", now, "/tiendo")
        assert "Không có nhiệm vụ nào đang mở" in [
            m.text for m in bot.recorder.sent if m.chat_id == "lanhdao"][-1]
        await bot.say("lanhdao", now, "tiến độ")
        assert "Không có nhiệm vụ nào đang mở" in [
            m.text for m in bot.recorder.sent if m.chat_id == "lanhdao"][-1]
        await bot.say("lanhdao", now, "/qqqqzz")
        assert "Không có lệnh /qqqqzz. Gõ /help" in [
            m.text for m in bot.recorder.sent if m.chat_id == "lanhdao"][-1]
    finally:
        await bot.runtime.close()


async def test_a_unit_name_matching_several_offers_a_choice(settings: Settings) -> None:
    now = datetime(2023, 5, 2, 8, 0, tzinfo=LOCAL_TZ)
    bot = await seeded_bot(settings, now)
    try:
        await bot.say("lanhdao", now, "/tiendo truong")
        offer = [m for m in bot.recorder.sent if m.chat_id == "lanhdao"][-1]
        assert offer.text == "«truong» khớp với nhiều đơn vị; chọn một:"
        assert [b.label for b in offer.buttons] == ["Trường A", "Trường B"]
        await bot.press("lanhdao", now, "Trường B")
        assert "Tiến độ của Trường B (B)" in [
            m.text for m in bot.recorder.sent if m.chat_id == "lanhdao"][-1]
        await bot.say("ld_a", now, "/tiendo truong")  # school A's leader sees only A
        assert "Tiến độ của Trường A (A)" in [
            m.text for m in bot.recorder.sent if m.chat_id == "ld_a"][-1]
    finally:
        await bot.runtime.close()
