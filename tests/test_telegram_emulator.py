"""Tests of the Telegram Bot API emulator, driven through python-telegram-bot's real HTTP stack."""

from __future__ import annotations

import asyncio
import contextlib
import struct
import time
import zlib
from collections.abc import AsyncIterator

import httpx
import pytest
from aiohttp import web
from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeChat,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    Update,
)
from telegram.error import (
    BadRequest,
    Conflict,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
)
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from testing.emulators.telegram_api import RecordedCall, TelegramEmulator
from tests.ports import listening_socket, port_of

TOKEN = "123456:TEST-token"
USER = 1001
OTHER = 1002
GROUP = -100200


def tiny_png(width: int, height: int) -> bytes:
    """A valid RGB PNG of the given size."""

    def chunk(tag: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(tag + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", crc)

    rows = b"".join(b"\x00" + b"\x10\x80\xf0" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


@pytest.fixture
async def emu() -> AsyncIterator[TelegramEmulator]:
    emulator = TelegramEmulator(token=TOKEN, bot_username="baocao_bot")
    await emulator.start()
    emulator.add_user(USER, "Lan", "lan_thcs")
    emulator.add_user(OTHER, "Minh")
    try:
        yield emulator
    finally:
        await emulator.stop()


@pytest.fixture
async def bot(emu: TelegramEmulator) -> AsyncIterator[Bot]:
    async with Bot(TOKEN, base_url=emu.base_url, base_file_url=emu.base_file_url) as client:
        yield client


def build_app(emu: TelegramEmulator) -> Application:
    return (
        Application.builder()
        .token(TOKEN)
        .base_url(emu.base_url)
        .base_file_url(emu.base_file_url)
        .build()
    )


# ------------------------------------------------------------------ plain Bot API calls


async def test_get_me_auth_and_http_shapes(emu: TelegramEmulator, bot: Bot) -> None:
    me = await bot.get_me()
    assert (me.id, me.is_bot, me.username) == (123456, True, "baocao_bot")

    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{emu.port}") as http:
        wrong = await http.get("/bot123456:WRONG/getMe")
        assert wrong.status_code == 401
        assert wrong.json() == {"ok": False, "error_code": 401, "description": "Unauthorized"}
        unknown = await http.post(f"/bot{TOKEN}/sendTelepathy", json={})
        assert unknown.status_code == 404 and unknown.json()["error_code"] == 404
        via_get = await http.get(f"/bot{TOKEN}/getme")  # method names are case-insensitive
        assert via_get.json()["result"]["username"] == "baocao_bot"
        as_json = await http.post(f"/bot{TOKEN}/sendMessage", json={"chat_id": USER, "text": "a"})
        as_form = await http.post(f"/bot{TOKEN}/sendMessage", data={"chat_id": USER, "text": "b"})
        as_query = await http.get(f"/bot{TOKEN}/sendMessage", params={"chat_id": USER, "text": "c"})
    ids = [r.json()["result"]["message_id"] for r in (as_json, as_form, as_query)]
    assert ids == [1, 2, 3]
    assert [c.params["chat_id"] for c in emu.calls if c.method == "sendMessage"] == [USER] * 3

    with pytest.raises(InvalidToken):
        async with Bot("123456:WRONG", base_url=emu.base_url):
            pass


async def test_send_message_with_inline_keyboard(emu: TelegramEmulator, bot: Bot) -> None:
    keyboard = InlineKeyboardMarkup(
        [
            [InlineKeyboardButton("Nộp báo cáo", callback_data="submit:7")],
            [InlineKeyboardButton("Hướng dẫn", url="https://example.org/hd")],
        ]
    )
    sent = await bot.send_message(
        USER, "  <b>Báo cáo</b> tuần 👋 &lt;12&gt;\n", parse_mode="HTML", reply_markup=keyboard
    )
    assert sent.text == "Báo cáo tuần 👋 <12>"
    assert sent.entities[0].type == "bold" and (
        sent.entities[0].offset,
        sent.entities[0].length,
    ) == (0, 7)
    assert sent.reply_markup == keyboard
    assert sent.from_user.id == 123456 and sent.chat.type == "private"

    reply = await bot.send_message(
        USER, "*đậm* và \\.", parse_mode="MarkdownV2", reply_to_message_id=sent.message_id
    )
    assert reply.text == "đậm và ." and reply.reply_to_message.message_id == sent.message_id
    assert reply.reply_to_message.reply_markup == keyboard

    call = await emu.wait_for_call("sendMessage")
    assert call.params["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "submit:7"
    stored = emu.bot_messages(USER)
    assert [m["message_id"] for m in stored] == [1, 2]
    assert stored[0]["raw_text"].startswith("  <b>") and stored[0]["parse_mode"] == "HTML"

    with pytest.raises(BadRequest, match="(?i)can't parse entities"):
        await bot.send_message(USER, "<b>không đóng", parse_mode="HTML")
    assert emu.calls[-1].result["description"].startswith("Bad Request: can't parse entities:")
    with pytest.raises(BadRequest, match="(?i)reserved"):
        await bot.send_message(USER, "Hạn 12.5", parse_mode="MarkdownV2")
    with pytest.raises(BadRequest, match="(?i)button_data_invalid"):
        await bot.send_message(
            USER,
            "x",
            reply_markup=InlineKeyboardMarkup(
                [[InlineKeyboardButton("x", callback_data="d" * 65)]]
            ),
        )
    with pytest.raises(BadRequest, match="(?i)chat not found"):
        await bot.send_message(999, "ai đó")
    emu.set_blocked(OTHER)
    with pytest.raises(Forbidden):
        await bot.send_message(OTHER, "chào")


async def test_send_document_get_file_and_download(emu: TelegramEmulator, bot: Bot) -> None:
    payload = b"ma_truong,so_hs\nTHCS01,420\n"
    sent = await bot.send_document(
        USER, InputFile(payload, filename="bao_cao.csv"), caption="Tuần 12"
    )
    assert sent.document.file_name == "bao_cao.csv"
    assert sent.document.mime_type == "text/csv" and sent.document.file_size == len(payload)
    assert sent.caption == "Tuần 12"

    tg_file = await bot.get_file(sent.document.file_id)
    assert tg_file.file_size == len(payload)
    assert bytes(await tg_file.download_as_bytearray()) == payload
    assert emu.bot_messages(USER)[0]["document_bytes"] == payload
    assert emu.calls[-2].files["document"] == payload

    again = await bot.send_document(USER, sent.document.file_id)  # resend by file_id
    assert again.document.file_unique_id == sent.document.file_unique_id

    png = tiny_png(1000, 500)
    photo = await bot.send_photo(USER, png, caption="<i>biểu đồ</i>", parse_mode="HTML")
    assert [(p.width, p.height) for p in photo.photo] == [
        (90, 45),
        (320, 160),
        (800, 400),
        (1000, 500),
    ]
    assert photo.caption == "biểu đồ" and photo.caption_entities[0].type == "italic"
    biggest = await bot.get_file(photo.photo[-1].file_id)
    assert bytes(await biggest.download_as_bytearray()) == png
    assert emu.bot_messages(USER)[-1]["photo_bytes"] == png
    with pytest.raises(BadRequest, match="(?i)image_process_failed"):
        await bot.send_photo(USER, b"not an image")
    with pytest.raises(BadRequest, match="(?i)invalid file_id"):
        await bot.get_file("nope")


async def test_edit_message_text_and_markup(emu: TelegramEmulator, bot: Bot) -> None:
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("OK", callback_data="ok")]])
    sent = await bot.send_message(USER, "Bản nháp", reply_markup=keyboard)

    edited = await bot.edit_message_text(
        "<b>Bản cuối</b>",
        chat_id=USER,
        message_id=sent.message_id,
        parse_mode="HTML",
        reply_markup=keyboard,
    )
    assert edited.text == "Bản cuối" and edited.edit_date is not None
    assert edited.reply_markup == keyboard
    with pytest.raises(BadRequest, match="(?i)message is not modified"):
        await bot.edit_message_text(
            "<b>Bản cuối</b>",
            chat_id=USER,
            message_id=sent.message_id,
            parse_mode="HTML",
            reply_markup=keyboard,
        )
    # Without reply_markup the real API removes the inline keyboard.
    await bot.edit_message_text("Xong", chat_id=USER, message_id=sent.message_id)
    state = emu.bot_messages(USER)[0]
    assert state["text"] == "Xong" and "reply_markup" not in state

    await bot.edit_message_reply_markup(USER, sent.message_id, reply_markup=keyboard)
    assert emu.bot_messages(USER)[0]["reply_markup"]["inline_keyboard"][0][0]["text"] == "OK"
    with pytest.raises(BadRequest, match="(?i)message to edit not found"):
        await bot.edit_message_text("x", chat_id=USER, message_id=99)
    user_msg = await emu.inject_text(USER, "tin của người dùng")
    with pytest.raises(BadRequest, match="(?i)can't be edited"):
        await bot.edit_message_text("x", chat_id=USER, message_id=user_msg["message_id"])


async def test_faults_surface_as_ptb_errors(emu: TelegramEmulator, bot: Bot) -> None:
    emu.fail_next("sendMessage", "429", retry_after=3)
    with pytest.raises(RetryAfter) as info:
        await bot.send_message(USER, "a")
    assert "3 seconds" in str(info.value)
    assert emu.calls[-1].result == {
        "ok": False,
        "error_code": 429,
        "description": "Too Many Requests: retry after 3",
        "parameters": {"retry_after": 3},
    }

    emu.fail_next("sendMessage", "500")
    with pytest.raises(NetworkError):
        await bot.send_message(USER, "b")

    emu.fail_next(None, "malformed")
    with pytest.raises(TelegramError, match="Invalid server response"):
        await bot.send_message(USER, "c")

    emu.fail_next("sendMessage", "slow", delay=0.3)
    started = time.monotonic()
    ok = await bot.send_message(USER, "d")
    assert time.monotonic() - started >= 0.3 and ok.text == "d"

    statuses = [c.status for c in emu.calls if c.method == "sendMessage"]
    assert statuses == [429, 500, 200, 200]
    assert [m["text"] for m in emu.bot_messages(USER)] == ["d"]  # failed calls had no effect


async def test_wait_for_call_hands_out_each_successful_call_once(
    emu: TelegramEmulator, bot: Bot
) -> None:
    emu.fail_next("sendMessage", "500")
    with pytest.raises(NetworkError):
        await bot.send_message(USER, "lỗi")
    for text in ("một", "hai", "ba"):
        await bot.send_message(USER, text)
    await bot.get_me()

    def text_of(call: RecordedCall) -> str:
        return str(call.params["text"])

    assert text_of(await emu.wait_for_call("sendMessage", lambda c: c.params["text"] == "hai")) \
        == "hai"
    assert [text_of(await emu.wait_for_call("sendMessage")) for _ in range(2)] == ["một", "ba"]
    assert (await emu.wait_for_call("getMe")).method == "getMe"
    with pytest.raises(TimeoutError):
        await emu.wait_for_call("sendMessage", timeout=0.05)  # the failed call is not one

    task = asyncio.create_task(bot.send_message(USER, "bốn"))  # made while the wait waits
    assert text_of(await emu.wait_for_call("sendMessage")) == "bốn"
    await task
    emu.clear_calls()
    await bot.send_message(USER, "năm")
    assert text_of(await emu.wait_for_call("sendMessage")) == "năm"


@pytest.mark.xdist_group("serial")  # the second send must come within the limit's second
async def test_rate_limits(emu: TelegramEmulator, bot: Bot) -> None:
    emu.enforce_limits(per_chat_per_s=1, global_per_s=30, per_group_per_min=20)
    await bot.send_message(USER, "1")
    await bot.send_message(OTHER, "other chat is fine")
    with pytest.raises(RetryAfter):
        await bot.send_message(USER, "2")
    assert emu.rejected_429 == 1
    emu.disable_limits()
    await bot.send_message(USER, "3")


@pytest.mark.xdist_group("serial")  # the long poll answers within 2 s
async def test_get_updates_long_poll_offsets_and_commands(emu: TelegramEmulator, bot: Bot) -> None:
    assert await bot.get_updates(timeout=0) == ()

    async def later() -> None:
        await asyncio.sleep(0.2)
        await emu.inject_text(USER, "/start ma_moi", chat_id=GROUP, chat_type="group")

    task = asyncio.create_task(later())
    started = time.monotonic()
    updates = await bot.get_updates(timeout=5)
    await task
    assert 0.15 < time.monotonic() - started < 2
    message = updates[0].message
    assert message.chat.id == GROUP and message.chat.type == "group"
    assert message.entities[0].type == "bot_command" and message.text == "/start ma_moi"

    await emu.inject_text(OTHER, "hai", reply_to_message_id=None)
    again = await bot.get_updates(timeout=0)
    assert [u.update_id for u in again] == [updates[0].update_id, updates[0].update_id + 1]
    confirmed = await bot.get_updates(offset=again[-1].update_id + 1, timeout=0)
    assert confirmed == () and emu.pending_updates == []

    scope = BotCommandScopeChat(USER)
    await bot.set_my_commands([BotCommand("start", "Bắt đầu")])
    await bot.set_my_commands([BotCommand("nop", "Nộp")], scope=scope, language_code="vi")
    assert [c.command for c in await bot.get_my_commands()] == ["start"]
    assert [c.command for c in await bot.get_my_commands(scope=scope, language_code="vi")] == [
        "nop"
    ]
    assert await bot.get_my_commands(scope=scope) == ()
    assert emu.commands_for({"type": "chat", "chat_id": USER}, "vi")[0]["command"] == "nop"
    await bot.delete_my_commands()
    assert await bot.get_my_commands() == ()
    with pytest.raises(BadRequest, match="(?i)bot_command_invalid"):
        await bot.set_my_commands([BotCommand("Bad-Name", "x")])


# ------------------------------------------------------------------ Application end to end


async def _echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await update.message.reply_text(f"echo: {update.message.text}")


async def _start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await update.effective_chat.send_action("typing")
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Nộp", callback_data="submit:7")]])
    await update.message.reply_text("Chọn việc:", reply_markup=keyboard)


async def _button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    await query.answer("Đã nhận")
    await query.edit_message_text(f"Bạn chọn {query.data}")


async def _document(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    document = update.message.document
    data = await (await document.get_file()).download_as_bytearray()
    await update.message.reply_text(f"got {document.file_name} {len(data)} bytes", do_quote=True)


def _add_handlers(app: Application) -> None:
    app.add_handler(CommandHandler("start", _start))
    app.add_handler(CallbackQueryHandler(_button))
    app.add_handler(MessageHandler(filters.Document.ALL, _document))
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, _echo))


@contextlib.asynccontextmanager
async def polling_app(emu: TelegramEmulator) -> AsyncIterator[Application]:
    app = build_app(emu)
    _add_handlers(app)
    await app.initialize()
    await app.start()
    await app.updater.start_polling(poll_interval=0)
    try:
        yield app
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()


async def test_application_polling_end_to_end(emu: TelegramEmulator) -> None:
    async with polling_app(emu):
        await emu.inject_text(USER, "/start")
        await emu.wait_idle()
        menu = emu.bot_messages(USER)[-1]
        assert menu["text"] == "Chọn việc:" and menu["message_id"] == 2
        assert any(c.method == "sendChatAction" for c in emu.calls)

        query_id = await emu.inject_callback(USER, menu["message_id"], "submit:7")
        await emu.wait_idle()
        assert emu.answered_callbacks[query_id]["text"] == "Đã nhận"
        menu = emu.bot_messages(USER)[-1]
        assert menu["text"] == "Bạn chọn submit:7" and "reply_markup" not in menu

        await emu.inject_text(USER, "xin chào")
        await emu.wait_idle()
        assert emu.bot_messages(USER)[-1]["text"] == "echo: xin chào"

        doc = await emu.inject_document(
            USER, "bao_cao.xlsx", b"PK\x03\x04data", "application/vnd.ms-excel", caption="tuần 12"
        )
        await emu.wait_idle()
        answer = emu.bot_messages(USER)[-1]
        assert answer["text"] == "got bao_cao.xlsx 8 bytes"
        assert answer["reply_to_message"]["message_id"] == doc["message_id"]
        assert answer["reply_to_message"]["document"]["file_name"] == "bao_cao.xlsx"

        emu.add_group(GROUP, "Tổ Toán")
        await emu.inject_text(OTHER, "/start@baocao_bot", chat_id=GROUP)
        await emu.wait_idle()
        assert emu.bot_messages(GROUP)[0]["chat"]["title"] == "Tổ Toán"
        assert [m["message_id"] for m in emu.chat_history(GROUP)] == [1, 2]
        assert emu.pending_updates == []


async def test_polling_resumes_after_emulator_restart(emu: TelegramEmulator) -> None:
    async with polling_app(emu):
        await emu.inject_text(USER, "một")
        await emu.wait_for_call("sendMessage")
        port = emu.port
        await emu.stop()
        await emu.inject_text(USER, "hai")  # queued while the server is down
        await emu.start()
        assert emu.port == port
        await emu.wait_for_call("sendMessage", timeout=8)
        await emu.wait_idle()
        assert [m["text"] for m in emu.bot_messages(USER)] == ["echo: một", "echo: hai"]


# ------------------------------------------------------------------ webhook mode


async def test_webhook_delivery_with_secret(emu: TelegramEmulator, bot: Bot) -> None:
    received: asyncio.Queue[tuple[str | None, dict]] = asyncio.Queue()
    failures = {"left": 1}

    async def receive(request: web.Request) -> web.Response:
        if failures["left"]:
            failures["left"] -= 1
            return web.Response(status=500)
        body = await request.json()
        await received.put((request.headers.get("X-Telegram-Bot-Api-Secret-Token"), body))
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/hook", receive)
    runner = web.AppRunner(app)
    await runner.setup()
    sock = listening_socket()
    port = port_of(sock)
    await web.SockSite(runner, sock).start()
    try:
        url = f"http://127.0.0.1:{port}/hook"
        assert await bot.set_webhook(url, secret_token="bi-mat_123")
        with pytest.raises(Conflict):
            await bot.get_updates(timeout=0)

        sent = await emu.inject_text(USER, "qua webhook")
        secret, body = await asyncio.wait_for(received.get(), 5)
        assert secret == "bi-mat_123"
        assert body["message"]["text"] == "qua webhook"
        assert body["message"]["message_id"] == sent["message_id"]
        await emu.wait_idle()
        info = await bot.get_webhook_info()
        assert info.url == url and info.pending_update_count == 0
        assert "500" in (info.last_error_message or "")  # the first attempt was refused

        assert await bot.delete_webhook()
        await emu.inject_text(USER, "lại polling")
        assert (await bot.get_updates(timeout=0))[0].message.text == "lại polling"
    finally:
        await runner.cleanup()


async def test_application_webhook_mode(emu: TelegramEmulator) -> None:
    app = build_app(emu)
    _add_handlers(app)
    sock = listening_socket()  # `unix` also takes a bound socket: tornado serves on it as is
    port = port_of(sock)
    await app.initialize()
    await app.start()
    await app.updater.start_webhook(
        unix=sock,
        url_path="tg",
        webhook_url=f"http://127.0.0.1:{port}/tg",
        secret_token="s3cr3t",
    )
    try:
        assert emu.webhook_url.endswith("/tg")
        await emu.inject_text(USER, "webhook echo")
        call = await emu.wait_for_call("sendMessage")
        assert call.params["text"] == "echo: webhook echo"
        await emu.wait_idle()
        assert emu.pending_updates == []
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()


async def test_injected_media_idle_and_fault_targeting(emu: TelegramEmulator, bot: Bot) -> None:
    photo = await emu.inject_photo(USER, b"\xff\xd8fake-jpeg", caption="ảnh")
    assert len(photo["photo"]) == 4 and photo["photo"][-1]["width"] == 1280
    voice = await emu.inject_voice(USER, b"OggS-voice")
    sticker = await emu.inject_sticker(USER)
    with pytest.raises(TimeoutError):  # nobody is polling: the updates are not taken
        await emu.wait_idle(timeout=0.2)

    emu.fail_next(None, "500")  # None skips getUpdates...
    updates = await bot.get_updates(timeout=0)
    assert [u.message.message_id for u in updates] == [1, 2, 3]
    with pytest.raises(NetworkError):  # ...and hits the next other call
        await bot.get_file(voice["voice"]["file_id"])
    downloaded = await (await bot.get_file(voice["voice"]["file_id"])).download_as_bytearray()
    assert bytes(downloaded) == b"OggS-voice"
    assert updates[2].message.sticker.emoji == "👍"
    assert sticker["sticker"]["file_id"] in {u.message.sticker.file_id for u in updates[2:]}

    await bot.get_updates(offset=updates[-1].update_id + 1, timeout=0)
    await emu.wait_idle()
    reply = await bot.send_message(USER, "đã nhận ảnh", reply_to_message_id=photo["message_id"])
    assert reply.reply_to_message.caption == "ảnh"
    with pytest.raises(ValueError):
        await emu.inject_callback(USER, photo["message_id"], "x")  # not the bot's message
