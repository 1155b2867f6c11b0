"""Joining a unit through an invite code, as a reporter on the console would."""

from __future__ import annotations

import asyncio
import io
from datetime import UTC, datetime, timedelta

from app.bootstrap import Runtime
from app.cli import invoke
from channels.console import ConsoleSession, user_event
from tests.conftest import EXAMPLES, sqlite_settings

NOW = datetime(2023, 5, 2, 1, 0, tzinfo=UTC)


async def test_join_with_an_invite_then_expired_and_used_up_codes(tmp_path) -> None:
    settings = sqlite_settings(tmp_path)
    runtime = await Runtime.open(settings)
    try:
        def admin(*args: str) -> str:
            code, out = invoke(list(args), settings, tmp_path, NOW)
            assert code == 0, out
            return out

        await asyncio.to_thread(admin, "units", "import", str(EXAMPLES / "units.csv"))
        out = await asyncio.to_thread(admin, "invites", "create", "--unit", "THPT-LHP",
                                      "--uses", "1", "--expires", "2d")
        code = out.split("\t")[2].strip()
        session = ConsoleSession(runtime, io.StringIO(), start=NOW)

        async def say(user: str, text: str) -> str:
            before = len(session.adapter.delivered)
            await session.send(user_event(user, text=text))
            return "\n".join(m.text for m in session.adapter.delivered[before:])

        assert "Bạn chưa tham gia" in await say("ht_moi", "/viec")
        welcome = await say("ht_moi", f"/start {code.lower()}")
        assert "Chào mừng ht_moi" in welcome and "THPT chuyên Lê Hồng Phong" in welcome
        assert "/viec" in welcome
        assert "không còn nhiệm vụ" in await say("ht_moi", "/viec")
        assert "dùng hết lượt" in await say("nguoi_khac", f"/start {code}")
        out = await asyncio.to_thread(admin, "invites", "create", "--unit", "THPT-LHP",
                                      "--expires", "1h")
        session.now = NOW + timedelta(hours=2)
        assert "hết hạn" in await say("nguoi_khac", f"/start {out.split(chr(9))[2].strip()}")
        assert "Bạn chưa tham gia" in await say("nguoi_khac", "/viec")
    finally:
        await runtime.close()


async def test_an_oversized_report_is_refused_with_the_limit(tmp_path) -> None:
    import dataclasses

    from core.messages import IncomingFile

    settings = dataclasses.replace(sqlite_settings(tmp_path), max_file_mb=1)
    runtime = await Runtime.open(settings)
    try:
        for args in (("units", "import", str(EXAMPLES / "units.csv")),
                     ("members", "add", "vp", "--role", "staff"),
                     ("members", "add", "ht", "--role", "reporter", "--unit", "THPT-LHP")):
            assert (await asyncio.to_thread(invoke, list(args), settings, tmp_path, NOW))[0] == 0
        session = ConsoleSession(runtime, io.StringIO(), start=NOW)
        await session.send(user_event("vp", text="/giao B | hạn 08/05/2023 | đơn vị THPT-LHP"))
        await session.send(user_event("vp", button="g:send", button_message_id="1"))
        big = IncomingFile("bao-cao.pdf", b"%PDF-1.7\n" + b"0" * (3 * 1024 * 1024 // 2))
        await session.send(user_event("ht", text="", file=big))
        answer = session.adapter.delivered[-1].text
        assert "1,5 MB" in answer and "giới hạn 1 MB" in answer
        await session.send(user_event("vp", text="/tiendo #1"))
        assert "Đã nộp 0/1" in session.adapter.delivered[-1].text
    finally:
        await runtime.close()
