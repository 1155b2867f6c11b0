"""The Zalo channel through the real adapter against the local Zalo Bot API emulator: every
example transcript (same lines as on the console), and the Zalo-only cases."""

from __future__ import annotations

import dataclasses
import io
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlmodel import select

from app.bootstrap import Runtime
from app.cli import admin_runner
from app.config import Settings
from app.scratch import isolated_settings
from channels.console import user_event
from core.messages import IncomingFile
from storage.models import InboundUpdate, Outbox, SeenEvent, Submission
from testing.platform import Notes
from testing.zalo_session import ZaloSession
from tests.conftest import EXAMPLES
from tests.ports import on_free_port
from tests.transcripts import ConsoleOutputs, give_task, platform_bot

SCRIPTS = sorted(EXAMPLES.glob("*.chat"))
NOW = datetime(2023, 5, 2, 1, 0, tzinfo=UTC)
PLAN = (EXAMPLES / "files" / "ke-hoach-nq29.pdf").read_bytes()


async def play_on_zalo(path: Path) -> tuple[int, str]:
    """Play a transcript through Zalo on a fresh database."""
    out = io.StringIO()
    with isolated_settings(Settings()) as settings:
        runtime = await Runtime.open(settings, migrate=True)
        try:
            code = await ZaloSession.play(runtime, path, out, admin_runner(settings))
        finally:
            await runtime.close()
    return code, out.getvalue()


@pytest.mark.parametrize("script", SCRIPTS, ids=[s.stem for s in SCRIPTS])
async def test_example_on_zalo_prints_what_the_console_prints(
        script: Path, console_outputs: ConsoleOutputs) -> None:
    code, out = await play_on_zalo(script)
    assert code == 0, out
    _, console = await console_outputs.get(script)
    # Only the admin command's own echo names the channel the members were added on.
    assert out.replace(" (zalo) as ", " (console) as ") == console


def zalo_bot(**changes: object) -> AbstractAsyncContextManager[tuple[ZaloSession, Runtime]]:
    """A Zalo transcript session with units, staff `vp_so` and reporter `ht_lhp`."""
    return platform_bot(ZaloSession, **changes)


def texts(session: ZaloSession, name: str) -> list[str]:
    return [m.text for m in session.delivered if m.to == name]


async def rows(runtime: Runtime, model: type) -> list:
    async with runtime.sessions() as s:
        return list((await s.exec(select(model))).all())


async def test_choices_are_numbered_and_a_number_presses_the_button() -> None:
    async with zalo_bot() as (session, runtime):
        await session.send(user_event(
            "vp_so", text="/giao Báo cáo thử | hạn 08/05/2099 | đơn vị THPT-LHP"))
        uid = session.user_id("vp_so")
        raw = session.emulator.bot_messages(uid)[-1]["text"]
        assert raw.endswith("\nTrả lời 1 = Gửi, 2 = Sửa, 3 = Huỷ")
        await session.emulator.inject_text(uid, "1")
        await session.settle()
        assert "Đã giao nhiệm vụ #1" in texts(session, "vp_so")[-1]
        reminder = session.emulator.bot_messages(session.user_id("ht_lhp"))[-1]["text"]
        assert "Trả lời 1 = Đã nộp, 2 = Đang làm, 3 = Cần hỗ trợ, 4 = Xin gia hạn" in reminder
        pressed = [r for r in await rows(runtime, Outbox) if r.pressed]
        assert len(pressed) == 1 and "g:" in pressed[0].pressed


async def test_a_misfiled_answer_is_moved_by_its_number() -> None:
    """On Zalo a message answers the bot's latest message: a status sent after the second
    task's announcement goes to it, and its acknowledgement lists the number that moves it."""
    async with zalo_bot() as (session, runtime):
        await give_task(session, "Báo cáo một | hạn 08/05/2099 | đơn vị THPT-LHP")
        await give_task(session, "Báo cáo hai | hạn 09/05/2099 | đơn vị THPT-LHP")
        uid = session.user_id("ht_lhp")
        await session.emulator.inject_text(uid, "đã xong")
        await session.settle()
        ack = session.emulator.bot_messages(uid)[-1]["text"]
        assert "đã nộp nhiệm vụ #2 «Báo cáo hai»" in ack
        assert ack.endswith("Trả lời 1 = Nộp nhầm, 2 = Chuyển sang #1")
        await session.emulator.inject_text(uid, "2")
        await session.settle()
        moved = session.emulator.bot_messages(uid)[-1]["text"]
        assert "từ nhiệm vụ #2 «Báo cáo hai» sang nhiệm vụ #1 «Báo cáo một»" in moved
        assert "Trả lời 1 = Nộp nhầm, 2 = Chuyển sang #2" in moved
        kept = await rows(runtime, Submission)
        assert [(s.target_id, s.withdrawn_at is not None) for s in kept] == [(2, True), (1, False)]


async def test_a_redelivered_update_is_recorded_once() -> None:
    async with zalo_bot() as (session, runtime):
        await give_task(session)
        uid = session.user_id("ht_lhp")
        await session.emulator.inject_text(uid, "đang làm 60%")
        await session.settle()
        session.emulator.redeliver_last()
        await session.settle()
        assert len([r for r in await rows(runtime, Submission) if r.kind == "progress"]) == 1
        assert sum("60%" in text for text in texts(session, "ht_lhp")) == 1
        assert len(await rows(runtime, InboundUpdate)) >= 2


async def test_long_text_is_split_at_2000_characters() -> None:
    async with zalo_bot() as (session, _):
        assert session.adapter is not None
        from core.messages import Outgoing

        uid = session.user_id("ht_lhp")
        await session.adapter.send(Outgoing(chat_id=uid, text="\n".join(["x" * 99] * 45)))
        sent = session.emulator.bot_messages(uid)
        assert len(sent) == 3 and all(len(m["text"]) <= 2000 for m in sent)
        assert sum(len(m["text"]) for m in sent) == 45 * 99 + 42  # two cuts at line ends


async def test_a_document_gets_an_upload_link_and_a_picture_is_taken_directly() -> None:
    async with zalo_bot() as (session, runtime):
        await give_task(session)
        uid = session.user_id("ht_lhp")
        await session.emulator.inject_unsupported(uid)
        await session.settle()
        assert len(session.offers()) == 1
        offer = session.emulator.bot_messages(uid)[-1]["text"]
        assert "/u/" in offer and "một lần" in offer
        session.emulator.redeliver_last()
        await session.settle()
        assert len(session.offers()) == 1  # a re-delivered file event: no second link
        png = (EXAMPLES.parent / "tests" / "data" / "tiny.png")
        data = png.read_bytes() if png.exists() else _png()
        await session.emulator.inject_image(uid, data, caption="bảng tổng hợp")
        await session.settle()
        assert "Đã nhận tệp «anh-" in texts(session, "ht_lhp")[-1]
        files = [r for r in await rows(runtime, Submission) if r.kind == "file"]
        assert len(files) == 1 and files[0].text == "bảng tổng hợp"


def _png() -> bytes:
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(
            ">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00")) + chunk(b"IEND", b""))


# --- the webhook -------------------------------------------------------------------------


async def test_webhook_with_a_wrong_secret_gets_403_and_records_nothing() -> None:
    from app.config import ChannelSettings
    from channels.web import WebServer
    from channels.zalo import ZaloAdapter
    from testing.emulators.zalo_api import ZaloEmulator

    async with ZaloEmulator() as emu:
        emu.add_user("1001", "ht_lhp")
        with isolated_settings(Settings()) as settings:
            runtime = await Runtime.open(settings, migrate=True)

            notes = Notes()

            async def serve_on(port: int) -> tuple[WebServer, ZaloAdapter, str]:
                # The webhook's URL, with its port, is set before the server starts.
                web = WebServer(runtime, port=port)
                url = f"http://127.0.0.1:{port}/zalo-hook"
                adapter = ZaloAdapter(runtime, ChannelSettings(
                    token=emu.token, base_url=emu.base_url, mode="webhook", webhook_url=url,
                    webhook_secret="dung-bi-mat-123"), web)
                adapter.watcher = notes
                adapter.add_routes(web.app)
                try:
                    await web.start()
                except OSError:  # the port was taken
                    await adapter.stop()
                    raise
                return web, adapter, url

            web, adapter, url = await on_free_port(serve_on)
            await adapter.start()
            try:
                assert emu.webhook_url == url
                forged = {"event_name": "message.text.received", "message": {
                    "message_id": "f" * 20, "date": 0, "text": "/help",
                    "from": {"id": "1001", "display_name": "ht_lhp", "is_bot": False},
                    "chat": {"id": "1001", "chat_type": "PRIVATE"}}}
                async with httpx.AsyncClient() as http:
                    for headers in ({"X-Bot-Api-Secret-Token": "sai"}, {}):
                        answer = await http.post(url, json=forged, headers=headers)
                        assert answer.status_code == 403
                assert notes.updates == 0 and emu.bot_messages("1001") == []
                assert await rows(runtime, Outbox) == []
                assert await rows(runtime, InboundUpdate) == []

                emu.wrap_webhook_body = True  # {ok, result} is read as well as the bare update
                await emu.inject_text("1001", "/help")
                await emu.wait_for_call("sendMessage")
                await emu.wait_idle()
                assert emu.webhook_deliveries[-1]["status"] == 200
                assert len(emu.bot_messages("1001")) == 1
            finally:
                await adapter.stop()
                await web.stop()
                await runtime.close()


# --- the upload page ---------------------------------------------------------------------


async def offered_link(session: ZaloSession) -> str:
    uid = session.user_id("ht_lhp")
    await session.emulator.inject_text(uid, "Gửi tệp")
    await session.settle()
    assert session.adapter is not None
    return session.offers()[-1]


PDF = (EXAMPLES / "files" / "bao-cao-nq29-namtruc.pdf").read_bytes()


async def test_upload_link_records_the_file_once_then_says_it_was_used() -> None:
    async with zalo_bot() as (session, runtime):
        await give_task(session)
        url = await offered_link(session)
        form = await session.http.get(url)
        assert form.status_code == 200 and "Báo cáo thử" in form.text
        assert 'name="viewport"' in form.text
        done = await session.upload(url, "bao-cao.pdf", PDF, "bản ký")
        assert done.status_code == 200 and "bao-cao.pdf" in done.text
        session.collect()
        assert "Đã nhận tệp «bao-cao.pdf»" in texts(session, "ht_lhp")[-1]
        again = await session.http.post(url, files={"file": ("b.pdf", PDF, "application/pdf")})
        assert again.status_code == 410 and "đã được dùng" in again.text
        assert (await session.http.get(url)).status_code == 410
        files = [r for r in await rows(runtime, Submission) if r.kind == "file"]
        assert len(files) == 1 and files[0].text == "bản ký"


async def test_the_link_offer_goes_through_the_outbox_and_the_next_answer_is_for_the_task(
) -> None:
    async with zalo_bot() as (session, runtime):
        await give_task(session)
        task_message = [r for r in await rows(runtime, Outbox) if r.target_id][-1]
        url = await offered_link(session)
        offer = next(r for r in await rows(runtime, Outbox) if url in r.text)
        assert offer.platform_message_id is not None  # recorded, as every message the bot sends
        assert offer.target_id == task_message.target_id  # about the task it answered
        await session.emulator.inject_text(session.user_id("ht_lhp"), "đã gửi qua email")
        await session.settle()
        session.collect()
        answers = [r for r in await rows(runtime, Submission) if r.kind != "file"]
        assert [a.target_id for a in answers] == [task_message.target_id]


async def test_expired_and_tampered_links_are_refused_with_a_reason() -> None:
    from datetime import timedelta

    async with zalo_bot() as (session, runtime):
        await give_task(session)
        url = await offered_link(session)
        body, _, mac = url.rpartition("/")[2].partition(".")
        forged = url.replace(mac, ("A" if mac[0] != "A" else "B") + mac[1:])
        page = await session.http.get(forged)
        assert page.status_code == 403 and "không đúng" in page.text
        page = await session.http.post(url.replace(body, body[:-2] + "xy"),
                                       files={"file": ("b.pdf", PDF, "application/pdf")})
        assert page.status_code == 403
        session.now += timedelta(minutes=31)
        page = await session.http.post(url, files={"file": ("b.pdf", PDF, "application/pdf")})
        assert page.status_code == 410 and "hết hạn" in page.text
        assert [r for r in await rows(runtime, Submission) if r.kind == "file"] == []


async def test_malformed_and_absurd_upload_tokens_get_the_invalid_link_page() -> None:
    """Tokens nobody signed, or signed with absurd fields (an expiry in the year 10^12, an
    id beyond the database's integers): a 403 page, never a 500."""
    import json

    from core.links import _b64, _mac

    async with zalo_bot() as (session, runtime):
        await give_task(session)
        url = await offered_link(session)
        base = url.rpartition("/")[0]
        secret = runtime.settings.secret_key

        def signed(fields: list) -> str:
            body = _b64(json.dumps(fields).encode())
            return f"{body}.{_mac(secret, body)}"

        tokens = [
            signed(["u", 10**20, 1, 0, "", "n"]), signed(["u", -(10**15), 1, 0, "", "n"]),
            signed(["u", "2099", 1, 0, "", "n"]), signed(["u", 4102444800, 10**30, 0, "", "n"]),
            signed(["u", 4102444800, 1, -5, "", "n"]), signed(["u", 4102444800, 1]),
            signed({"u": 1}), "é.é", "%25%00", "x" * 5000, "abc.", ".abc",
        ]
        for token in tokens:
            for call in (session.http.get, session.http.post):
                page = await call(f"{base}/{token}")
                assert page.status_code == 403, (token, page.status_code)
                assert "Liên kết không hợp lệ" in page.text
        assert [r for r in await rows(runtime, Submission) if r.kind == "file"] == []


async def test_an_upload_with_two_files_is_refused_and_the_link_still_works() -> None:
    async with zalo_bot() as (session, runtime):
        await give_task(session)
        url = await offered_link(session)
        page = await session.http.post(url, files=[
            ("file", ("a.pdf", PDF, "application/pdf")),
            ("file", ("b.pdf", PDF, "application/pdf"))])
        assert page.status_code == 400
        assert "Mỗi lần chỉ gửi được một tệp; chưa có tệp nào được nhận" in page.text
        assert [r for r in await rows(runtime, Submission) if r.kind == "file"] == []
        done = await session.upload(url, "bao-cao.pdf", PDF)
        assert done.status_code == 200
        files = [r for r in await rows(runtime, Submission) if r.kind == "file"]
        assert len(files) == 1 and len(files[0].text) == 0


async def test_oversized_and_wrong_type_uploads_are_refused_and_the_link_still_works() -> None:
    async with zalo_bot(max_file_mb=1) as (session, runtime):
        await give_task(session)
        url = await offered_link(session)
        big = b"%PDF-1.4\n" + bytes(1024 * 1024 + 10)
        page = await session.upload(url, "lon.pdf", big)
        assert page.status_code == 413 and "quá giới hạn 1 MB" in page.text
        page = await session.upload(url, "chuong-trinh.exe", b"MZ\x90\x00" + bytes(100))
        assert page.status_code == 415 and "không phải loại được nhận" in page.text
        page = await session.http.post(url, data={"note": "quên tệp"})
        assert page.status_code == 400 and "chọn một tệp" in page.text
        session.collect()
        answers = texts(session, "ht_lhp")
        assert "quá giới hạn" in answers[-2] and "không phải loại" in answers[-1]
        assert [r for r in await rows(runtime, Submission) if r.kind == "file"] == []
        assert (await session.upload(url, "bao-cao.pdf", PDF)).status_code == 200


async def test_telegram_file_over_the_download_limit_gets_the_upload_page() -> None:
    from channels.web import WebServer
    from testing.telegram_session import TelegramSession

    with isolated_settings(Settings()) as settings:
        runtime = await Runtime.open(settings, migrate=True)
        session = TelegramSession(runtime, io.StringIO())
        await session.start()
        web = WebServer(runtime, clock=lambda: session.now, port=0)
        await web.start()
        assert session.adapter is not None
        session.adapter.upload_links = web
        web.adapters["telegram"] = session.adapter
        run_admin = admin_runner(settings)
        try:
            for args in (["units", "import", "units.csv"],
                         ["members", "add", "ht_lhp", "--channel", "console", "--role",
                          "reporter", "--unit", "THPT-LHP"]):
                assert (await run_admin(session.rewrite_admin(args), EXAMPLES, session.now))[0] == 0
            uid = session.user_id("ht_lhp")
            big = b"%PDF-1.4\n" + bytes(21 * 1024 * 1024)
            await session.emulator.inject_document(uid, "bao-cao-lon.pdf", big, "application/pdf")
            await session.settle()
            answer = [m.text for m in session.delivered if m.to == "ht_lhp"][-1]
            assert "20 MB" in answer and "/u/" in answer
            url = answer.rsplit(" ", 1)[-1]
            async with httpx.AsyncClient() as http:
                page = await http.post(url, files={"file": ("bao-cao.pdf", PDF, "application/pdf")})
            assert page.status_code == 200
            session.collect()
            assert "Đơn vị bạn không còn nhiệm vụ nào" in [
                m.text for m in session.delivered if m.to == "ht_lhp"][-1]
        finally:
            await web.stop()
            await session.stop()
            await runtime.close()


async def test_run_serves_zalo_and_the_upload_page() -> None:
    import asyncio

    from app.cli import serve_channels
    from app.config import ChannelSettings, WebSettings
    from testing.emulators.zalo_api import ZaloEmulator

    async with ZaloEmulator() as emu:
        emu.add_user("1001", "ht_lhp")
        with isolated_settings(Settings()) as settings:
            runtime = await Runtime.open(dataclasses.replace(
                settings, zalo=ChannelSettings(token=emu.token, base_url=emu.base_url),
                web=WebSettings(port=0)))
            stop = asyncio.Event()
            task = asyncio.create_task(serve_channels(runtime, stop))
            try:
                await emu.wait_for_call("getUpdates", timeout=10)
                await emu.inject_text("1001", "/help")
                call = await emu.wait_for_call("sendMessage", timeout=10)
                assert "/viec" in call.params["text"] or "/start" in call.params["text"]
            finally:
                stop.set()
                await emu.stop()
                await asyncio.wait_for(task, 15)
                await runtime.close()


async def test_an_update_delivered_twice_records_once_on_both_backends(settings) -> None:
    """The de-duplication is the event's own transaction, on SQLite and PostgreSQL."""
    from app.admin import add_member

    runtime = await Runtime.open(settings)
    try:
        async with runtime.sessions() as s, s.begin():
            await add_member(s, "ht_lhp", "zalo", "staff", NOW, "1001")
        event = user_event("1001", text="/help")
        event = dataclasses.replace(event, channel="zalo", once_key="message.text.received:ab")
        assert await runtime.dispatcher.handle(event, NOW) is True
        assert await runtime.dispatcher.handle(event, NOW) is False
        other = dataclasses.replace(event, once_key="message.text.received:cd")
        assert await runtime.dispatcher.handle(other, NOW) is True
        assert len(await rows(runtime, Outbox)) == 2
        assert len(await rows(runtime, SeenEvent)) == 2
    finally:
        await runtime.close()


async def test_429_on_send_loses_nothing_and_a_failed_poll_is_retried() -> None:
    async with zalo_bot() as (session, runtime):
        assert session.adapter is not None
        session.adapter.retry_seconds = 0.01
        session.emulator.fail_next("getUpdates", "500")
        session.emulator.fail_next("sendMessage", "429", retry_after=1)
        await session.send(user_event("ht_lhp", text="/help"))
        calls = [c for c in session.emulator.calls if c.method == "sendMessage"]
        assert [c.error_code for c in calls] == [429, None]
        assert len(texts(session, "ht_lhp")) == 1
        sent = await rows(runtime, Outbox)
        assert len(sent) == 1 and sent[0].platform_message_id == session.delivered[-1].message_id


async def test_files_the_bot_sends_are_links_that_download_the_same_bytes() -> None:
    async with zalo_bot() as (session, _):
        await session.send(user_event(
            "vp_so", text="/giao Kế hoạch | hạn 08/05/2099 | đơn vị THPT-LHP",
            file=IncomingFile("ke-hoach-nq29.pdf", PLAN)))
        confirm, button = session.find_button("vp_so", "Gửi")
        await session.send(user_event("vp_so", button=button.payload,
                                      button_message_id=confirm.message_id))
        task = [m for m in session.delivered if m.to == "ht_lhp"][-1]
        assert task.file_name == "ke-hoach-nq29.pdf" and [b.label for b in task.buttons][0] \
            == "Đã nộp"
        raw = session.emulator.bot_messages(session.user_id("ht_lhp"))[-1]["text"]
        url = next(w for w in raw.split() if "/f/" in w)
        got = await session.http.get(url)
        assert got.status_code == 200 and got.content == PLAN
        assert got.headers["content-type"] == "application/pdf"
        assert (await session.http.get(url[:-3] + "abc")).status_code == 404


async def test_strangers_and_groups() -> None:
    async with zalo_bot() as (session, _):
        emu = session.emulator
        await emu.inject_unsupported("9999")  # a stranger's file: the help, no link
        await session.settle()
        await emu.inject_text("9999", "gửi tệp")
        await session.settle()
        assert session.offers() == []
        assert len(emu.bot_messages("9999")) == 2
        uid = session.user_id("ht_lhp")
        for text in ("chào cả nhà", "1", "/help"):  # in groups only commands are answered
            await emu.inject_text(uid, text, chat_id="g-1", group=True)
            await session.settle()
        await emu.inject_unsupported(uid, chat_id="g-1", group=True)
        await session.settle()
        assert len(emu.bot_messages("g-1")) == 1  # the answer to /help only


@pytest.mark.xdist_group("serial")  # each reply within 4 s, paced by the clock
async def test_replies_in_a_zalo_group_are_spaced_by_the_group_interval() -> None:
    """Zalo group ids look like any other id: the rows say they are groups, and the sender
    keeps the configured group rate (here 120/min: 0.5 s) rather than the private one."""
    from app.admin import add_member
    from app.config import ChannelSettings
    from channels.web import WebServer
    from channels.zalo import ZaloAdapter
    from testing.emulators.zalo_api import ZaloEmulator

    group, private = "5b7d9e0c2a41f386", "1001"
    async with ZaloEmulator() as emu:
        emu.add_user(private, "tp_gd")
        with isolated_settings(Settings()) as settings:
            runtime = await Runtime.open(settings, migrate=True)
            async with runtime.sessions() as s, s.begin():
                await add_member(s, "tp_gd", "zalo", "leader", NOW, private)
            web = WebServer(runtime, port=0)
            adapter = ZaloAdapter(runtime, ChannelSettings(
                token=emu.token, base_url=emu.base_url, messages_per_second=30,
                per_chat_per_second=20, per_group_per_minute=120), web, poll_seconds=1)
            await web.start()
            await adapter.start()
            try:
                for chat, in_group in ((group, True), (group, True), (private, False),
                                       (private, False)):
                    await emu.inject_text(private, "/tiendo", chat_id=chat, group=in_group)
                sent = [await emu.wait_for_call("sendMessage", lambda c: c.error_code is None,
                                                timeout=4) for _ in range(4)]
                at = {chat: [c.time for c in sent if c.params["chat_id"] == chat]
                      for chat in (group, private)}
                assert len(at[group]) == 2 and len(at[private]) == 2
                assert at[group][1] - at[group][0] >= 60 / 120
                flags = {(r.chat_id, r.is_group) for r in await rows(runtime, Outbox)}
                assert flags == {(group, True), (private, False)}
            finally:
                await adapter.stop()
                await web.stop()
                await runtime.close()


async def test_an_answer_goes_to_the_task_of_the_latest_message() -> None:
    """No quoted replies on Zalo: with two tasks open, a status typed under one task's
    message is for that task; typed under something else, the bot asks which."""
    async with zalo_bot() as (session, runtime):
        await give_task(session)
        await give_task(session,
                        "Thống kê | hạn 09/05/2099 | đơn vị THPT-LHP | nộp: trạng thái")
        await session.send(user_event("ht_lhp", text="đang làm 50%"))
        assert "Thống kê" in texts(session, "ht_lhp")[-1]
        await session.send(user_event("ht_lhp", text="/viec"))
        await session.send(user_event("ht_lhp", text="đang làm 70%"))
        assert "nhiệm vụ nào" in texts(session, "ht_lhp")[-1]
        progress = [r for r in await rows(runtime, Submission) if r.kind == "progress"]
        assert len(progress) == 1


async def test_stopping_finishes_the_update_being_handled() -> None:
    """Stopping the adapter cancels a long poll but not an update being handled: cancelling
    inside a database call can leave a connection that never closes (and a shutdown that
    never ends), and the user's message would be lost."""
    import asyncio

    async with zalo_bot() as (session, runtime):
        assert session.adapter is not None
        entered, release = asyncio.Event(), asyncio.Event()
        handle = runtime.dispatcher.handle

        async def held(event, now, *rest):  # noqa: ANN001, ANN002, ANN202
            entered.set()
            await release.wait()
            return await handle(event, now, *rest)

        runtime.dispatcher.handle = held
        await session.emulator.inject_text(session.user_id("ht_lhp"), "/help")
        await asyncio.wait_for(entered.wait(), 10)
        stopping = asyncio.ensure_future(session.adapter.stop())
        await asyncio.sleep(0.1)
        assert not stopping.done()
        release.set()
        await asyncio.wait_for(stopping, 10)
        assert len(await rows(runtime, Outbox)) == 1  # the reply was written and sent
