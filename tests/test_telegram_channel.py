"""The Telegram channel through the real adapter and python-telegram-bot, against the local
Bot API emulator: every example transcript, and the Telegram-only cases."""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import io
import time
import types
from collections.abc import Callable, Mapping, Sized
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlmodel import col, select

from app import host as app_host
from app.bootstrap import Runtime
from app.cli import admin_runner
from app.config import ChannelSettings, Settings
from app.scratch import isolated_settings
from channels import sender as sender_module
from channels.console import user_event
from channels.telegram import TelegramAdapter, chat_of, keyboard
from core.messages import Button, Incoming, Outgoing
from scheduler.service import ReminderScheduler
from storage.models import Assignment, InboundUpdate, Outbox
from testing.emulators.telegram_api import TelegramEmulator
from testing.platform import Notes
from testing.telegram_session import TelegramSession
from tests.conftest import EXAMPLES
from tests.ports import on_free_port
from tests.transcripts import ConsoleOutputs, give_task, platform_bot

SCRIPTS = sorted(EXAMPLES.glob("*.chat"))


async def play_on_telegram(path: Path) -> tuple[int, str]:
    """Play a transcript through the Telegram adapter on a fresh database."""
    out = io.StringIO()
    with isolated_settings(Settings()) as settings:
        runtime = await Runtime.open(settings, migrate=True)
        try:
            code = await TelegramSession.play(runtime, path, out, admin_runner(settings))
        finally:
            await runtime.close()
    return code, out.getvalue()


@pytest.mark.parametrize("script", SCRIPTS, ids=[s.stem for s in SCRIPTS])
async def test_example_on_telegram_prints_what_the_console_prints(
        script: Path, console_outputs: ConsoleOutputs) -> None:
    code, out = await play_on_telegram(script)
    assert code == 0, out
    _, console = await console_outputs.get(script)
    # Only the admin command's own echo names the channel the members were added on.
    assert out.replace(" (telegram) as ", " (console) as ") == console


def telegram_bot() -> AbstractAsyncContextManager[tuple[TelegramSession, Runtime]]:
    """A Telegram transcript session with units, staff `vp_so` and reporter `ht_lhp`."""
    return platform_bot(TelegramSession)


def texts(session: TelegramSession, name: str) -> list[str]:
    return [m.text for m in session.delivered if m.to == name]


async def outbox(runtime: Runtime) -> list[Outbox]:
    async with runtime.sessions() as s:
        return list((await s.exec(select(Outbox))).all())


def test_rewrite_and_keyboard_shapes() -> None:
    session = TelegramSession.__new__(TelegramSession)
    session.ids, session.names = {"ht": 1001}, {1001: "ht"}
    args = ["members", "add", "ht", "--channel", "console", "--role", "reporter"]
    assert session.rewrite_admin(args) == [
        "members", "add", "ht", "--channel", "telegram", "--id", "1001", "--role", "reporter"]
    rows = keyboard([Button(str(i), f"p:{i}") for i in range(4)])
    assert rows is not None and [len(r) for r in rows.inline_keyboard] == [2, 2]
    one = keyboard([Button("A", "a"), Button("B", "b")])
    assert one is not None and len(one.inline_keyboard) == 1


async def test_forged_callback_is_refused_and_records_nothing() -> None:
    async with telegram_bot() as (session, runtime):
        await session.send(user_event(
            "vp_so", text="/giao Báo cáo thử | hạn 08/05/2099 | đơn vị THPT-LHP"))
        confirm = session.last_message_to("vp_so")
        assert confirm is not None and confirm.buttons
        uid = session.user_id("vp_so")
        query_id = await session.emulator.inject_callback(
            uid, int(confirm.message_id), "g:999999:send", check_button=False)
        await session.settle()
        assert query_id in session.emulator.answered_callbacks
        assert "không còn hiệu lực" in texts(session, "vp_so")[-1]
        shown = {m["message_id"]: m for m in session.emulator.bot_messages(uid)}
        assert shown[int(confirm.message_id)].get("reply_markup")  # keyboard untouched
        assert all(not row.pressed for row in await outbox(runtime))
        async with runtime.sessions() as s:
            assert (await s.exec(select(Assignment))).first() is None


async def test_a_real_press_answers_and_marks_the_message() -> None:
    async with telegram_bot() as (session, _):
        confirm = await give_task(session)
        uid = session.user_id("vp_so")
        edited = {m["message_id"]: m for m in session.emulator.bot_messages(uid)}
        message = edited[int(confirm.message_id)]
        assert "reply_markup" not in message and message["text"].endswith("✓ Gửi")
        assert session.emulator.answered_callbacks
        assert texts(session, "ht_lhp"), "the task reached the reporter"


async def test_sticker_and_voice_cannot_be_read() -> None:
    async with telegram_bot() as (session, _):
        uid = session.user_id("ht_lhp")
        await session.emulator.inject_sticker(uid)
        await session.settle()
        await session.emulator.inject_voice(uid)
        await session.settle()
        answers = texts(session, "ht_lhp")
        assert len(answers) == 2
        assert "chưa đọc được loại tin nhắn này (sticker)" in answers[0]
        assert "chưa đọc được loại tin nhắn này (voice)" in answers[1]


async def test_document_over_the_download_limit_is_explained() -> None:
    async with telegram_bot() as (session, runtime):
        uid = session.user_id("ht_lhp")
        big = b"%PDF-1.4\n" + bytes(21 * 1024 * 1024)
        await session.emulator.inject_document(uid, "bao-cao-lon.pdf", big, "application/pdf")
        await session.settle()
        answer = texts(session, "ht_lhp")[-1]
        assert "20 MB" in answer and "bao-cao-lon.pdf" in answer and "nén" in answer
        assert not any(c.method == "getFile" for c in session.emulator.calls)
        rows = await outbox(runtime)  # the answer went through the outbox, nothing else
        assert len(rows) == 1 and rows[0].sent_at is not None and rows[0].target_id is None
        assert rows[0].platform_message_id == session.delivered[-1].message_id


async def test_the_download_limit_is_explained_in_the_members_language() -> None:
    async with telegram_bot() as (session, runtime):
        uid = session.user_id("ht_lhp")
        await session.emulator.inject_text(uid, "/ngonngu en")
        await session.settle()
        big = b"%PDF-1.4\n" + bytes(21 * 1024 * 1024)
        await session.emulator.inject_document(uid, "report.pdf", big, "application/pdf")
        await session.settle()
        answer = texts(session, "ht_lhp")[-1]
        assert "can only download files up to 20 MB" in answer and "report.pdf" in answer


async def test_429_from_send_message_loses_nothing() -> None:
    async with telegram_bot() as (session, runtime):
        session.emulator.fail_next("sendMessage", "429", retry_after=1)
        await session.send(user_event("ht_lhp", text="/help"))
        calls = [c for c in session.emulator.calls if c.method == "sendMessage"]
        assert [c.status for c in calls] == [429, 200]
        assert len(texts(session, "ht_lhp")) == 1
        rows = await outbox(runtime)
        assert len(rows) == 1 and rows[0].sent_at is not None
        assert rows[0].platform_message_id == session.delivered[-1].message_id


async def test_webhook_with_a_wrong_secret_gets_403_and_changes_nothing() -> None:
    async with TelegramEmulator() as emu:
        emu.add_user(1001, "ht_lhp")
        with isolated_settings(Settings()) as settings:
            runtime = await Runtime.open(settings, migrate=True)

            notes = Notes()

            async def webhook_on(port: int) -> tuple[TelegramAdapter, int]:
                adapter = TelegramAdapter(runtime, ChannelSettings(
                    token=emu.token, base_url=emu.base_url, base_file_url=emu.base_file_url,
                    mode="webhook", webhook_listen="127.0.0.1", webhook_port=port,
                    webhook_url=f"http://127.0.0.1:{port}/tg", webhook_secret="dung-bi-mat",
                    per_chat_per_second=0, messages_per_second=0))
                adapter.watcher = notes
                try:
                    await adapter.start()
                except OSError:  # the port was taken: undo what start() did before listening
                    if adapter.app.running:
                        await adapter.app.stop()
                    await adapter.app.shutdown()
                    raise
                return adapter, port

            adapter, port = await on_free_port(webhook_on)
            try:
                assert emu.webhook_url.endswith("/tg")
                forged = {"update_id": 999, "message": {
                    "message_id": 50, "date": 0, "text": "/help",
                    "chat": {"id": 1001, "type": "private"},
                    "from": {"id": 1001, "is_bot": False, "first_name": "ht_lhp"}}}
                async with httpx.AsyncClient() as http:
                    answer = await http.post(
                        f"http://127.0.0.1:{port}/tg", json=forged,
                        headers={"X-Telegram-Bot-Api-Secret-Token": "sai"})
                assert answer.status_code == 403
                await emu.wait_idle()
                assert notes.updates == 0 and emu.bot_messages(1001) == []
                assert await outbox(runtime) == []

                await emu.inject_text(1001, "/help")  # the real API, with the right secret
                await emu.wait_for_call("sendMessage")
                assert emu.bot_messages(1001)
            finally:
                await adapter.stop()
                await runtime.close()


async def test_in_groups_only_commands_and_mentions_reach_the_core() -> None:
    async with telegram_bot() as (session, _):
        uid = session.user_id("ht_lhp")
        group = -100500
        session.emulator.add_group(group, "Tổ báo cáo")
        for text in ("chào cả nhà", "/help@other_bot", "/help@baocao_bot"):
            await session.emulator.inject_text(uid, text, chat_id=group)
            await session.settle()
        answers = [m for m in session.delivered if m.to == str(group)]
        assert len(answers) == 1 and "/viec" in answers[0].text


async def test_run_serves_telegram_with_its_command_menu(monkeypatch) -> None:
    from app.cli import serve_channels

    async with TelegramEmulator() as emu:
        emu.add_user(1001, "ht_lhp")
        with isolated_settings(Settings()) as settings:
            channel = ChannelSettings(token=emu.token, base_url=emu.base_url,
                                      base_file_url=emu.base_file_url)
            runtime = await Runtime.open(dataclasses.replace(settings, telegram=channel))
            stop = asyncio.Event()
            schedulers: list[ReminderScheduler] = []
            monkeypatch.setattr(ReminderScheduler, "start",
                                lambda self: schedulers.append(self) or None)
            task = asyncio.create_task(serve_channels(runtime, stop))
            try:
                await emu.wait_for_call("setMyCommands", timeout=10)
                await emu.inject_text(1001, "/help")
                call = await emu.wait_for_call("sendMessage", timeout=10)
                assert "/start" in call.params["text"]
                # The reminder waves are paced by the channel's limits, as replies are.
                (scheduler,) = schedulers
                assert scheduler.sender.limits["telegram"].per_second == 30
                assert emu.commands_for(None, "en") and emu.commands_for(None, "vi")
            finally:
                stop.set()
                await asyncio.wait_for(task, 15)
                await runtime.close()


def menu(emu: TelegramEmulator, scope: dict | None = None, language: str = "") -> list[str]:
    return [c["command"] for c in emu.commands_for(scope, language)]


async def test_command_menus_follow_roles() -> None:
    async with telegram_bot() as (session, _):
        emu = session.emulator
        assert menu(emu) == ["tiendo", "viec", "help", "ngonngu"]  # what reporters use
        assert menu(emu, {"type": "all_group_chats"}, "en") == ["tiendo", "help"]
        english = {c["command"]: c["description"] for c in emu.commands_for(None, "en")}
        assert english["viec"] == "Your unit's open tasks"
        staff, reporter = session.user_id("vp_so"), session.user_id("ht_lhp")
        for name in ("vp_so", "ht_lhp"):
            await session.send(user_event(name, text="/help"))
        assert menu(emu, {"type": "chat", "chat_id": staff}) == [
            "giao", "sua", "kehoach", "giaotiep", "nhac", "giahan", "mien", "dong", "mo", "huy",
            "tiendo", "tainop", "nhatky", "moi", "help", "ngonngu"]
        assert menu(emu, {"type": "chat", "chat_id": reporter}) == []  # the default applies


async def test_every_special_menu_is_published_a_page_at_a_time(monkeypatch) -> None:
    monkeypatch.setattr(app_host, "MENU_PAGE", 2)  # several pages of members
    async with telegram_bot() as (session, _):
        run_admin = admin_runner(session.runtime.settings)
        for name, role in (("ld_lhp", "leader"), ("ht_nt", "reporter"), ("vp_two", "staff")):
            code, output = await run_admin(session.rewrite_admin(
                ["members", "add", name, "--channel", "console", "--role", role, "--unit",
                 "THPT-LHP"]), EXAMPLES, session.now)
            assert code == 0, output
        assert session.adapter is not None
        await session.adapter.publish_menus()
        emu = session.emulator
        published = {name: menu(emu, {"type": "chat", "chat_id": session.user_id(name)})
                     for name in ("vp_so", "ht_lhp", "ld_lhp", "ht_nt", "vp_two")}
        assert published["vp_so"] == published["vp_two"] and "giao" in published["vp_so"]
        assert published["ld_lhp"] and "giao" not in published["ld_lhp"]
        assert published["ht_lhp"] == published["ht_nt"] == []  # the default applies


async def test_a_menu_is_published_once_across_processes_and_again_when_it_changes() -> None:
    async with telegram_bot() as (session, _):
        run_admin = admin_runner(session.runtime.settings)
        assert session.adapter is not None
        emu = session.emulator

        def chat_menus() -> list[str]:
            return [str(c.params.get("scope")) for c in emu.calls
                    if c.method == "setMyCommands" and "chat_id" in str(c.params.get("scope"))]

        await session.adapter.publish_menus()
        first = len(chat_menus())
        assert first >= 1  # vp_so's staff menu
        await session.adapter.publish_menus()  # a restart, or a second process on the database
        assert len(chat_menus()) == first
        # Recorded in the database, not in the adapter: another process claims none of them.
        menus = await session.runtime.special_menus("telegram")
        assert menus and await session.runtime.claim_menus("telegram", menus) == []
        code, output = await run_admin(session.rewrite_admin(
            ["members", "add", "ht_lhp", "--channel", "console", "--role", "leader", "--unit",
             "THPT-LHP"]), EXAMPLES, session.now)
        assert code == 0, output
        await session.adapter.publish_menus()  # only the menu that changed goes out
        assert len(chat_menus()) == first + 1
        assert str(session.user_id("ht_lhp")) in chat_menus()[-1]


async def test_a_long_text_is_split_with_the_buttons_on_the_last_piece() -> None:
    async with telegram_bot() as (session, _):
        uid = session.user_id("ht_lhp")
        lines = [f"{i:04d} Trường THCS số {i} — chưa nộp" for i in range(400)]
        text = "\n".join(lines)
        assert len(text) > 3 * 4096
        adapter = session.adapter
        assert adapter is not None
        last_id = await adapter.send(Outgoing(chat_id=str(uid), text=text,
                                              buttons=(Button("Trang sau", "t:p:2"),)))
        pieces = session.emulator.bot_messages(uid)
        assert len(pieces) == 4
        assert all(len(p["text"]) <= 4096 for p in pieces)
        assert "\n".join(p["text"] for p in pieces) == text  # cut at line ends, nothing lost
        assert [bool(p.get("reply_markup")) for p in pieces] == [False, False, False, True]
        assert str(pieces[-1]["message_id"]) == last_id


async def test_5xx_during_a_wave_loses_nothing_and_sends_nothing_twice() -> None:
    async with telegram_bot() as (session, runtime):
        reporters = {"ht_namtruc": "THPT-NAMTRUC", "pgd_namtruc": "PGD-NAMTRUC",
                     "pgd_yyen": "PGD-YYEN", "tt_namtruc": "TT-GDNN-NAMTRUC"}
        run_admin = admin_runner(runtime.settings)
        for name, unit in reporters.items():
            args = ["members", "add", name, "--channel", "console", "--role", "reporter",
                    "--unit", unit]
            code, output = await run_admin(session.rewrite_admin(args), EXAMPLES, session.now)
            assert code == 0, output
        await session.send(user_event(
            "vp_so", text="/giao Báo cáo thử | hạn 08/05/2099 | đơn vị @THPT, @PGD, "
                          "TT-GDNN-NAMTRUC"))
        confirm, button = session.find_button("vp_so", "Gửi")
        session.emulator.fail_next("sendMessage", "500", count=3)
        await session.send(user_event("vp_so", button=button.payload,
                                      button_message_id=confirm.message_id))
        failed = [c for c in session.emulator.calls if c.status == 500]
        assert len(failed) == 3
        await session.drain()  # the next round of the sender retries what failed
        for name in ("ht_lhp", *reporters):
            assert len([m for m in texts(session, name) if "#1" in m]) == 1, name
        rows = await outbox(runtime)
        assert all(row.sent_at is not None for row in rows)
        sent = [(row.chat_id, row.platform_message_id) for row in rows]
        assert len(set(sent)) == len(sent)  # each row is its own Telegram message


async def test_polling_resumes_after_the_api_server_restarts() -> None:
    async with telegram_bot() as (session, _):
        emu = session.emulator
        await emu.stop()
        polls = len([c for c in emu.calls if c.method == "getUpdates"])
        await asyncio.sleep(0.5)  # the polling loop meets a closed port meanwhile
        await emu.start()  # same port, same state: the adapter's polling loop reconnects
        await session.send(user_event("ht_lhp", text="/help"))
        assert "/viec" in texts(session, "ht_lhp")[-1]
        assert len([c for c in emu.calls if c.method == "getUpdates"]) > polls


async def test_chart_and_excel_buttons_stay_on_the_progress_message() -> None:
    async with telegram_bot() as (session, _):
        await give_task(session)
        await session.send(user_event("vp_so", text="/tiendo #1"))
        progress, chart = session.find_button("vp_so", "Biểu đồ")
        uid = session.user_id("vp_so")
        await session.send(user_event("vp_so", button=chart.payload,
                                      button_message_id=progress.message_id))
        shown = {m["message_id"]: m for m in session.emulator.bot_messages(uid)}
        assert shown[int(progress.message_id)].get("reply_markup")  # still there
        _, excel = session.find_button("vp_so", "Excel")
        await session.send(user_event("vp_so", button=excel.payload,
                                      button_message_id=progress.message_id))
        files = [m.file_name for m in session.delivered if m.to == "vp_so" and m.file_name]
        assert files[-2].endswith(".png") and files[-1].endswith(".xlsx")


async def test_report_files_are_not_posted_to_a_group() -> None:
    async with telegram_bot() as (session, _):
        await give_task(session)
        group = -100600
        session.emulator.add_group(group, "Văn phòng Sở")
        await session.emulator.inject_text(session.user_id("vp_so"), "/tainop@baocao_bot #1",
                                           chat_id=group)
        await session.settle()
        (answer,) = [m for m in session.delivered if m.to == str(group)]
        assert "tin nhắn riêng" in answer.text and answer.file_name is None


async def test_kehoach_sent_as_a_reply_to_a_plan_file_reads_that_file() -> None:
    async with telegram_bot() as (session, _):
        uid = session.user_id("vp_so")
        plan = "Các trường THPT gửi báo cáo sơ kết học kỳ I về Sở trước ngày 15/5/2099.".encode()
        sent = await session.emulator.inject_document(uid, "ke-hoach.txt", plan, "text/plain")
        await session.settle()
        await session.emulator.inject_text(uid, "/kehoach",
                                           reply_to_message_id=sent["message_id"])
        await session.settle()
        answer = texts(session, "vp_so")[-1]
        assert "Tìm thấy 1 việc cần giao trong «ke-hoach.txt»" in answer
        assert "2 đơn vị (Các trường THPT)" in answer


async def sent_rows(runtime: Runtime) -> list[tuple[str | None, bool]]:
    """Each outbox row's message id and whether it is recorded as sent, in order."""
    async with runtime.sessions() as s:
        rows = (await s.exec(select(Outbox).order_by(col(Outbox.id)))).all()
    return [(row.platform_message_id, row.sent_at is not None) for row in rows]


async def test_a_replys_acknowledgement_is_recorded_by_the_next_updates_transaction(
        monkeypatch) -> None:
    """In a burst of updates a reply costs no transaction of its own: the platform's
    acknowledgement is recorded in the transaction of the next update the process handles,
    and the last one on its own when nothing else comes (`ACK_HOLD`, here an hour, so only
    `recorded` commits it)."""
    monkeypatch.setattr(sender_module, "ACK_HOLD", 3600.0)
    async with telegram_bot() as (session, runtime):
        before = len(await sent_rows(runtime))
        await session.send(user_event("ht_lhp", text="/help"))
        assert (await sent_rows(runtime))[before:] == [(None, False)]  # sent, held
        await session.send(user_event("ht_lhp", text="/help"))
        first, second = (m.message_id for m in session.delivered[-2:])
        assert (await sent_rows(runtime))[before:] == [(first, True), (None, False)]
        assert session.adapter is not None
        await session.adapter.sender.recorded()
        assert (await sent_rows(runtime))[before:] == [(first, True), (second, True)]


async def test_an_acknowledgement_in_a_transaction_that_fails_is_recorded_all_the_same(
        monkeypatch) -> None:
    """The update whose transaction carried the earlier reply's acknowledgement fails: the
    acknowledgement is held again and committed on its own, so the reply is never sent
    twice; the failed update is answered with the apology."""
    from handlers import dispatcher

    take = dispatcher.Replies.take
    calls = {"n": 0}

    async def fails_the_second_time(self: Any, ctx: Any, freed: bool) -> None:
        await take(self, ctx, freed)
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("the database went away")

    monkeypatch.setattr(dispatcher.Replies, "take", fails_the_second_time)
    monkeypatch.setattr(sender_module, "ACK_HOLD", 3600.0)
    async with telegram_bot() as (session, runtime):
        before = len(await sent_rows(runtime))
        await session.send(user_event("ht_lhp", text="/help"))
        await session.send(user_event("ht_lhp", text="/help"))
        assert session.adapter is not None
        await session.adapter.sender.recorded()
        rows = (await sent_rows(runtime))[before:]
        assert rows == [(m.message_id, True) for m in session.delivered[-2:]]
        assert "đã có lỗi khi xử lý tin nhắn này" in texts(session, "ht_lhp")[-1]
        assert session.adapter.sender.acks.count >= 2


async def test_the_next_update_is_handled_while_a_reply_is_still_going_out() -> None:
    """A reply goes out beside the next update's handling: the platform slow to take one
    reply does not hold up the next update, and the chat's replies keep their order."""
    async with telegram_bot() as (session, runtime):
        uid = session.user_id("ht_lhp")
        emu = session.emulator
        emu.fail_next("sendMessage", "slow", delay=0.5)
        sent_before = sum(c.method == "sendMessage" and c.ok for c in emu.calls)
        await emu.inject_text(uid, "/help")
        await emu.inject_text(uid, "/ngonngu en")
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            async with runtime.sessions() as s:
                handled = (await s.exec(select(InboundUpdate).where(
                    col(InboundUpdate.handled_at).is_not(None)))).all()
            if len(handled) == 2:
                break
            await asyncio.sleep(0.01)
        assert len(handled) == 2  # both handled ...
        assert sum(c.method == "sendMessage" and c.ok for c in emu.calls) == sent_before
        await session.settle(2)  # ... while the first reply was still going out
        first, second = texts(session, "ht_lhp")[-2:]
        assert first.startswith("Bạn có thể dùng:") and second == "Switched to English."


def test_the_senders_record_of_acknowledgements_stays_bounded() -> None:
    """A bot running for months sends millions of messages: of the windows between an
    acknowledgement and its commit, the sender keeps the figures and the newest samples."""
    from channels.sender import AckWindows

    acks = AckWindows()
    for i in range(150_000):
        acks.add(i / 1000)
    assert acks.count == 150_000 and len(acks.samples) == 100_000


# --- a long-running bot ------------------------------------------------------------------


class StandIn:
    """The bot behind an adapter (`channels.host.Host`) at its thinnest: every event is
    handled at once, nothing is queued to send, and the inbox hands each update straight
    back, so that only the adapter's own memory is measured."""

    default_language = "vi"

    def __init__(self) -> None:
        self.events = 0

    def sender(self, adapters: Mapping[str, Any], limits: Any = None) -> Any:
        return self

    async def drain(self, now: datetime) -> int:
        return 0

    worker = "stand-in"

    async def reserve(self, session: Any, rows: list[Any]) -> list[Any]:
        return []

    async def recorded(self) -> None:
        return None

    def replies(self, sender: Any) -> Any:
        return types.SimpleNamespace(rows=[], rest=False)

    def inbox(self, channel: str, handle: Callable[[int, Any], Any], clock: Any,
              chat_of: Any = None) -> Any:
        return Straight(handle)

    async def handle(self, event: Incoming, now: datetime, replies: Any = None) -> bool:
        self.events += 1
        return True

    async def chat_moved(self, channel: str, old: str, new: str, now: datetime) -> None:
        return None

    async def special_menus(self, channel: str, chat_id: str | None = None) -> list[Any]:
        return []

    async def claim_menus(self, channel: str, menus: Any) -> list[Any]:
        return list(menus)

    async def forget_menu(self, channel: str, chat_id: str) -> None:
        return None

    def keeps_buttons(self, payload: str) -> bool:
        return False

    async def in_dialogue(self, channel: str, user_id: str) -> bool:
        return False

    async def latest_delivered(self, channel: str, chat_id: str,
                               with_buttons: bool = False) -> None:
        return None


class Straight:
    """An inbox that handles each update the moment it is received."""

    def __init__(self, handle: Callable[[int, Any], Any]) -> None:
        self.handle = handle
        self.last = 0

    async def receive(self, updates: list[tuple[str, Any]]) -> int:
        for _, payload in updates:
            self.last += 1
            await self.handle(self.last, payload)
        return len(updates)

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None


def long_containers(root: object, limit: int) -> list[str]:
    """The containers with `limit` items or more among the objects `root` holds (modules,
    classes, functions and the event loop are not followed)."""
    skip = (type, types.ModuleType, types.FunctionType, asyncio.AbstractEventLoop)
    seen: set[int] = set()
    stack = [root]
    found = []
    while stack:
        obj = stack.pop()
        if id(obj) in seen or isinstance(obj, skip):
            continue
        seen.add(id(obj))
        if isinstance(obj, (str, bytes, bytearray)):
            continue
        if isinstance(obj, Sized) and len(obj) >= limit:
            found.append(f"{type(obj).__name__} of {len(obj)}")
        stack.extend(gc.get_referents(obj))
    return found


async def test_ten_thousand_updates_leave_nothing_behind_in_the_telegram_adapter() -> None:
    """A bot runs for months: the adapter (and python-telegram-bot's `Application` in it)
    keeps no structure that grows with the updates it handles, such as a note per update
    or per message sent."""
    updates = 10_000
    async with TelegramEmulator(bot_username="baocao_bot") as emu:
        users = [1001 + n for n in range(20)]
        for uid in users:
            emu.add_user(uid, f"u{uid}")
        emu.add_group(-100700, "Tổ báo cáo")
        host = StandIn()
        adapter = TelegramAdapter(host, ChannelSettings(
            token=emu.token, base_url=emu.base_url, base_file_url=emu.base_file_url,
            messages_per_second=0, per_chat_per_second=0, per_group_per_minute=0))
        adapter.watcher = notes = Notes()
        await adapter.start()
        try:
            for n in range(updates):
                uid = users[n % len(users)]
                if n % 10 == 9:  # a group chat that is not for the bot
                    await emu.inject_text(uid, f"chào cả nhà {n}", chat_id=-100700)
                else:
                    await emu.inject_text(uid, f"đã nộp {n}")
            deadline = time.monotonic() + 300
            while notes.updates < updates:
                assert time.monotonic() < deadline, notes.updates
                await asyncio.sleep(0.05)
            assert host.events == updates - updates // 10
            assert long_containers(adapter, limit=1_000) == []
        finally:
            await adapter.stop()


def test_an_update_belongs_to_the_chat_it_was_written_or_pressed_in() -> None:
    """`chat_of`: the inbox keeps one chat's updates in order by it (and handles other
    chats' beside them on PostgreSQL)."""
    private = {"chat": {"id": 42, "type": "private"}, "from": {"id": 42}}
    group = {"chat": {"id": -100, "type": "group"}, "from": {"id": 42}}
    assert chat_of({"update_id": 1, "message": private}) == "42"
    assert chat_of({"update_id": 2, "edited_message": group}) == "-100"
    assert chat_of({"update_id": 3, "callback_query": {"from": {"id": 42},
                                                       "message": group}}) == "-100"
    assert chat_of({"update_id": 4, "callback_query": {"from": {"id": 42}}}) == "42"
    assert chat_of({"update_id": 5, "my_chat_member": {"chat": {"id": 7}}}) == "7"
    assert chat_of({"update_id": 6, "poll": {"id": "p"}}) == ""


_JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=5),
                     lambda inner: st.lists(inner, max_size=3)
                     | st.dictionaries(st.sampled_from(["chat", "id", "message", "from",
                                                        "callback_query", "edited_message"]),
                                       inner, max_size=3), max_leaves=12)


@hypothesis_settings(suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(["update_id", "message", "callback_query",
                                        "edited_message", "my_chat_member", "chat_member"]),
                       _JSON, max_size=4))
def test_any_payload_names_a_chat_or_none_without_failing(payload: dict[str, Any]) -> None:
    assert isinstance(chat_of(payload), str)
