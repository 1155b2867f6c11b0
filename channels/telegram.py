"""The Telegram channel: a thin adapter on python-telegram-bot's `Application`.

It only translates: Telegram updates become `Incoming` events for the dispatcher, and the
sender's `Outgoing` messages become Bot API calls. Updates are received by a polling loop of
its own around `Bot.get_updates` (PTB's updater confirms an offset before the updates below
it are handled) or by a webhook route of its own; either records them in the inbox
(`handlers.inbox`) before Telegram is told they arrived (the next offset, or HTTP 200), and
the inbox feeds them to the `Application`'s handlers.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import dataclasses
import hmac
import json
import logging
import warnings
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

from aiohttp import web
from telegram import (
    BotCommand,
    BotCommandScopeAllGroupChats,
    BotCommandScopeChat,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    ReplyParameters,
    Update,
)
from telegram.error import ChatMigrated, Forbidden, RetryAfter, TelegramError
from telegram.ext import Application, CallbackQueryHandler, ContextTypes, MessageHandler, filters

from channels.base import ChannelSettings, ChatMoved, RetryLater, Unreachable, Watcher, split_text
from channels.bot_api_http import AiohttpRequest
from channels.host import Host, Replies
from channels.ratelimit import Limits
from channels.sender import Sender
from core import roles
from core.clock import utc_now
from core.files import IMAGE_TYPES
from core.i18n import LANGUAGES, N_, Translator
from core.messages import Button, Incoming, IncomingFile, Outgoing

if TYPE_CHECKING:
    from channels.web import WebServer

log = logging.getLogger(__name__)

CHANNEL = "telegram"
MAX_TEXT = 4096
MAX_CAPTION = 1024
PUBLIC_DOWNLOAD_MB = 20
POLL_SECONDS = 10  # the long poll of getUpdates
# The chats' menus are published a moment after the start: reading them (150,000 members at
# national size) took the event loop from the first updates' replies for about a second.
MENUS_AFTER = 3.0
MENUS_PER_SECOND = 20  # chats' own menus published at start (a national registry: 50,000)
MENUS_PER_CLAIM = 20  # ... claimed from the database this many at a time
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
T = TypeVar("T")

COMMANDS = {
    "giao": N_("Giao nhiệm vụ cho các đơn vị"),
    "sua": N_("Sửa nhiệm vụ đã giao (hạn, đơn vị, tên, nội dung)"),
    "kehoach": N_("Đọc kế hoạch (tệp hoặc nội dung dán vào), soạn sẵn các việc cần giao"),
    "nhac": N_("Nhắc ngay hoặc đổi lịch nhắc của một nhiệm vụ"),
    "mien": N_("Miễn nộp cho đơn vị, hoặc bỏ miễn"),
    "huy": N_("Huỷ nhiệm vụ hoặc thao tác đang làm dở"),
    "tiendo": N_("Xem tiến độ các nhiệm vụ"),
    "tainop": N_("Tải các tệp đã nộp của một nhiệm vụ (tệp nén)"),
    "nhatky": N_("Nhật ký thay đổi của một nhiệm vụ"),
    "moi": N_("Tạo mã mời (thẻ mời PDF) cho đơn vị"),
    "giaotiep": N_("Giao tiếp nhiệm vụ cho các đơn vị trực thuộc"),
    "giahan": N_("Gia hạn cho đơn vị"),
    "dong": N_("Đóng nhiệm vụ (thôi nhắc)"),
    "mo": N_("Mở lại nhiệm vụ đã đóng"),
    "viec": N_("Các nhiệm vụ của đơn vị còn mở"),
    "help": N_("Hướng dẫn sử dụng"),
    "ngonngu": N_("Đổi ngôn ngữ (vi/en)"),
}
TOO_LARGE = N_(
    "Tệp «{name}» nặng {size} MB. Bot trên Telegram (Bot API công khai) chỉ được tải về tệp "
    "tối đa 20 MB, nên bot chưa nhận được tệp này. Hãy nén tệp (ZIP) hoặc gửi bản nhỏ hơn "
    "20 MB."
)
UNSUPPORTED_KINDS = (
    "sticker", "voice", "video_note", "video", "audio", "animation", "location", "venue",
    "contact", "poll", "dice", "game", "story",
)


@dataclasses.dataclass
class _InHand:
    """The recorded update being handled. Kept per task, not on the adapter: updates of
    different chats are handled side by side (`chat_of`)."""

    inbox_id: int
    failed: Exception | None = None  # its translation failed: tried again later
    dispatched: bool = False  # it reached the dispatcher, which marked it handled


_IN_HAND: contextvars.ContextVar[_InHand | None] = contextvars.ContextVar(
    "telegram_update_in_hand", default=None)


def _inbox_id() -> int | None:
    in_hand = _IN_HAND.get()
    return in_hand.inbox_id if in_hand is not None else None


def chat_of(payload: Any) -> str:
    """The chat of an update's payload (as recorded: the Bot API's JSON); "" if it names
    none. The inbox handles one chat's updates one after another."""
    for kind in ("message", "edited_message", "callback_query", "my_chat_member",
                 "chat_member"):
        part = payload.get(kind)
        if not isinstance(part, dict):
            continue
        if kind == "callback_query":  # pressed on a message in a chat, or inline
            message = part.get("message")
            part = message if isinstance(message, dict) else {"chat": part.get("from")}
        chat = part.get("chat")
        if isinstance(chat, dict) and chat.get("id") is not None:
            return str(chat["id"])
    return ""


class _Polled(dict):
    """A polled update's payload, recorded as it is, that keeps the update as parsed."""

    __slots__ = ("parsed",)

    def __init__(self, update: Update) -> None:
        super().__init__(update.to_dict())
        self.parsed = update


def keyboard(buttons: Sequence[Button]) -> InlineKeyboardMarkup | None:
    """One row of buttons, or two rows when there are more than three."""
    if not buttons:
        return None
    keys = [InlineKeyboardButton(b.label, callback_data=b.payload) for b in buttons]
    if len(keys) <= 3:
        return InlineKeyboardMarkup([keys])
    half = (len(keys) + 1) // 2
    return InlineKeyboardMarkup([keys[:half], keys[half:]])


def refusal_kind(description: str) -> str:
    """What a 403 says: the person blocked the bot, never opened it, or the chat is gone."""
    text = description.lower()
    if "blocked" in text:
        return "blocked"
    if "initiate" in text:
        return "not_started"
    return "gone"


def retry_seconds(exc: RetryAfter) -> float:
    """The wait asked by a 429, in seconds (PTB 22 gives an int or a timedelta)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value: Any = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


class TelegramAdapter:
    """Translates between python-telegram-bot and the channel-agnostic core."""

    name = CHANNEL
    upload_links: WebServer | None = None  # offers the upload page for files over the limit

    def __init__(self, host: Host, settings: ChannelSettings,
                 clock: Callable[[], datetime] = utc_now) -> None:
        self.host = host
        self.settings = settings
        self.clock = clock
        builder = (Application.builder().token(settings.token).updater(None)
                   .request(AiohttpRequest()).get_updates_request(AiohttpRequest(1)))
        if settings.base_url:
            builder = builder.base_url(settings.base_url)
        if settings.base_file_url:
            builder = builder.base_file_url(settings.base_file_url)
        self.app: Application = builder.build()
        self.app.add_handler(CallbackQueryHandler(self._on_callback))
        self.app.add_handler(MessageHandler(filters.UpdateType.MESSAGE, self._on_message))
        self.app.add_error_handler(self._on_error)
        self.sender: Sender = host.sender({CHANNEL: self}, {CHANNEL: Limits.of(settings)})
        self.watcher: Watcher = Watcher()  # the transcript sessions put theirs here
        self.inbox = host.inbox(CHANNEL, self._handle_recorded, clock, chat_of=chat_of)
        self.poll_seconds = POLL_SECONDS
        self.retry_seconds = 1.0  # pause after a failed getUpdates
        self._poller: asyncio.Task[None] | None = None
        self._waiting_for_updates = False  # the poller is in a long poll, safe to cancel
        self._webhook: web.AppRunner | None = None
        self._inbox_started = False
        self._running = False
        self._looked_up: set[str] = set()  # private chats whose menu this process checked
        self._publishing: asyncio.Task | None = None  # the chats' menus, after the start
        # The last handled update's replies going out, beside the next update's handling.
        self._replying: asyncio.Task[None] | None = None

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Initialise the bot, publish the command menus, handle what earlier processes left
        unhandled, and start polling or the webhook. The menus of single chats (one call each,
        tens of thousands at national scale) are published in the background, so that updates
        are answered from the start."""
        await self.app.initialize()
        await self.set_commands(chats=False)
        await self.app.start()
        if self.settings.mode == "webhook":
            await self._listen()  # a port in use fails here, before anything else runs
            await self._start_inbox()
            await self.app.bot.set_webhook(url=self.settings.webhook_url,
                                           secret_token=self.settings.webhook_secret or None)
        else:
            await self._start_inbox()
            await self.app.bot.delete_webhook()
            self._poller = asyncio.create_task(self._poll(), name="telegram-poll")
        self._running = True
        self._publishing = asyncio.create_task(self._publish_all())

    async def _start_inbox(self) -> None:
        await self.inbox.start()
        self._inbox_started = True

    async def stop(self) -> None:
        """Stop receiving updates, finish the one being handled (the queued ones stay
        recorded for the next process) and close the bot's connections (also after a start
        that failed half-way, e.g. on a webhook port in use)."""
        self._running = False
        if self._publishing is not None:
            self._publishing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._publishing
        poller, self._poller = self._poller, None
        if poller is not None:
            if self._waiting_for_updates:
                poller.cancel()
            await asyncio.wait({poller})  # unlike awaiting it, keeps a cancel of our own
        if self._webhook is not None:
            await self._webhook.cleanup()
            self._webhook = None
        if self._inbox_started:
            self._inbox_started = False
            await self.inbox.stop()
        await self._replied()
        await self.sender.recorded()
        if self.app.running:
            await self.app.stop()
        await self.app.shutdown()

    # ------------------------------------------------------------------ receiving

    async def _poll(self) -> None:
        """getUpdates in a loop: the offset that confirms a batch is sent only after the
        batch was recorded, so an update is never confirmed and then lost."""
        offset: int | None = None
        while self._poller is not None:
            self._waiting_for_updates = True
            try:
                updates = await self.app.bot.get_updates(offset=offset,
                                                         timeout=self.poll_seconds)
            except RetryAfter as exc:
                await asyncio.sleep(retry_seconds(exc))
                continue
            except TelegramError as exc:  # network, 409 conflict, 5xx: poll again soon
                if self._poller is None:
                    return
                log.warning("telegram getUpdates failed: %s", exc)
                await asyncio.sleep(self.retry_seconds)
                continue
            finally:
                self._waiting_for_updates = False
            if not updates:
                continue
            try:
                await self._receive([(str(u.update_id), _Polled(u)) for u in updates])
            except Exception:  # not recorded, so not confirmed: Telegram sends them again
                log.exception("recording %d telegram update(s) failed", len(updates))
                await asyncio.sleep(self.retry_seconds)
                continue
            offset = updates[-1].update_id + 1

    async def _receive(self, updates: list[tuple[str, Any]]) -> None:
        new = await self.inbox.receive(updates)
        self.watcher.handled(len(updates) - new)  # delivered again: handled or queued

    async def _listen(self) -> None:
        path = "/" + (urlsplit(self.settings.webhook_url).path.strip("/") or "telegram")
        app = web.Application(client_max_size=8 * 1024 * 1024)
        app.router.add_post(path, self._on_webhook)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        try:
            await web.TCPSite(runner, self.settings.webhook_listen,
                              self.settings.webhook_port).start()
        except BaseException:
            await runner.cleanup()
            raise
        self._webhook = runner

    async def _on_webhook(self, request: web.Request) -> web.Response:
        """An update posted by Telegram: 200 once it is recorded (an error answer makes
        Telegram post it again)."""
        secret = request.headers.get(SECRET_HEADER, "")
        expected = self.settings.webhook_secret
        if not expected or not hmac.compare_digest(secret.encode(), expected.encode()):
            return web.Response(status=403, text="forbidden")
        try:
            body = json.loads(await request.read())
        except ValueError:
            return web.Response(status=400, text="bad JSON")
        if not isinstance(body, dict) or not isinstance(body.get("update_id"), int):
            return web.Response(status=400, text="not an update")
        await self._receive([(str(body["update_id"]), body)])
        return web.Response(status=200)

    async def _handle_recorded(self, inbox_id: int, payload: Any) -> bool:
        """The inbox's callback: one recorded update through the Application's handlers;
        True when it reached the dispatcher (which marked it handled)."""
        # Polled by this process: handled as parsed then, not read again from the payload.
        update = payload.parsed if isinstance(payload, _Polled) else Update.de_json(
            payload, self.app.bot)
        in_hand = _InHand(inbox_id)
        token = _IN_HAND.set(in_hand)
        try:
            await self.app.process_update(update)
        finally:
            _IN_HAND.reset(token)
        if in_hand.failed is not None:
            raise in_hand.failed
        return in_hand.dispatched

    @staticmethod
    def _menu(names: Sequence[str], language: str) -> list[BotCommand]:
        t = Translator(language)
        return [BotCommand(name, t(COMMANDS[name])) for name in names]

    async def set_commands(self, chats: bool = True) -> None:
        """The command menus, in Vietnamese (default and `vi`) and English: the reporters'
        menu for private chats, a short one for groups, and (with `chats`) their own menu in
        the chats of staff and leaders."""
        private = roles.menu_commands(roles.DEFAULT_MENU_ROLES)
        for language in ("", *LANGUAGES):
            code = language or None
            await self.app.bot.set_my_commands(self._menu(private, language or "vi"),
                                               language_code=code)
            await self.app.bot.set_my_commands(self._menu(roles.GROUP_MENU, language or "vi"),
                                               scope=BotCommandScopeAllGroupChats(),
                                               language_code=code)
        if chats:
            await self.publish_menus()

    async def _publish_all(self) -> None:
        await asyncio.sleep(MENUS_AFTER)
        try:
            await self.publish_menus()
        except Exception:  # the menus are a convenience: never the end of the process
            log.exception("publishing the command menus failed")

    async def publish_menus(self, chat_id: str | None = None) -> None:
        """Publish the menu of every member whose roles differ from a reporter's (or of the
        member in `chat_id`), for their chat alone: only the menus not published as they are
        now (by this process, another one or before a restart), claimed a page at a time and
        sent at `MENUS_PER_SECOND`, beside the messages, which matter more. A process that
        dies in the middle leaves at most a page recorded but not published; those chats keep
        the reporters' menu until their roles change (typed commands still work)."""
        menus = [menu for menu in await self.host.special_menus(CHANNEL, chat_id)
                 if menu[0].lstrip("-").isdigit()]
        pause = 0.0 if chat_id is not None else 1 / MENUS_PER_SECOND
        for start in range(0, len(menus), MENUS_PER_CLAIM):
            for chat, language, names in await self.host.claim_menus(
                    CHANNEL, menus[start:start + MENUS_PER_CLAIM]):
                try:
                    await self.app.bot.set_my_commands(self._menu(names, language),
                                                       scope=BotCommandScopeChat(int(chat)))
                except TelegramError as exc:
                    log.warning("could not publish the command menu of chat %s: %s", chat, exc)
                    await self.host.forget_menu(CHANNEL, chat)
                await asyncio.sleep(pause)

    async def drain(self, now: datetime | None = None) -> int:
        """Send the waiting outbox; the sender waits out a 429 and sends the row again."""
        return await self.sender.drain(now or self.clock())

    # ------------------------------------------------------------------ updates → Incoming

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        log.error("telegram update %s failed", update, exc_info=context.error)

    async def _run(self, event: Incoming) -> bool:
        """Handle the event (False if its update was handled before) and send the replies:
        handed over by the dispatcher, claimed in the event's transaction; the sender's
        normal drain only when the event queued more. They go out beside the next
        update's handling (`_reply`)."""
        in_hand = _IN_HAND.get()
        event = dataclasses.replace(event, inbox_id=in_hand.inbox_id if in_hand else None)
        if event.button or event.reply_to:  # it names a message: its id must be recorded
            await self._replied()
            await self.sender.recorded()
        now = self.clock()
        replies = self.host.replies(self.sender)
        handled = await self.host.handle(event, now, replies)
        if in_hand is not None:
            in_hand.dispatched = True
        if not handled:
            return False
        if replies.rows or replies.rest:
            self._replying = asyncio.create_task(self._reply(replies, now, self._replying))
        if not event.is_group and event.chat_id not in self._looked_up:
            self._looked_up.add(event.chat_id)  # looked up once per chat and process
            await self.publish_menus(event.chat_id)
        return True

    async def _reply(self, replies: Replies, now: datetime,
                     before: asyncio.Task[None] | None) -> None:
        """Send a handled update's replies once the previous update's went out (so a chat's
        messages keep their order), while the next update is handled. A reply not sent
        now (a 429, a failure) was released by the sender for the normal drain."""
        if before is not None:
            await asyncio.wait({before})
        try:
            sent = await self.sender.send_claimed(CHANNEL, replies.rows, now) \
                if replies.rows else 0
            if replies.rest or sent < len(replies.rows):
                await self.drain()
        except Exception:  # the next drain sends what is left
            log.exception("sending the replies of a telegram update failed")

    async def _replied(self) -> None:
        """Wait until the replies of the updates handled so far went out."""
        if self._replying is not None:
            await asyncio.wait({self._replying})

    def _when_replied(self, then: Callable[[], None]) -> None:
        """Call `then` once the replies of the updates handled so far went out."""
        replying = self._replying
        if replying is None or replying.done():
            then()
        else:
            replying.add_done_callback(lambda _: then())

    def _mentions_bot(self, message: Message) -> bool:
        username = (self.app.bot.username or "").lower()
        text = (message.text or message.caption or "").lower()
        replied = message.reply_to_message
        return bool(username and f"@{username}" in text) or bool(
            replied and replied.from_user and replied.from_user.id == self.app.bot.id)

    async def _on_message(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        try:
            message = update.message
            if message is None:
                return
            if message.migrate_to_chat_id or message.migrate_from_chat_id:
                await self._moved(message)
                return
            if message.from_user is None:
                return
            try:
                event = await self.incoming(message)
            except Exception as exc:  # e.g. the file could not be downloaded
                if (in_hand := _IN_HAND.get()) is not None:
                    in_hand.failed = exc
                raise
            if event is not None:
                await self._run(event)
        finally:
            self._when_replied(self.watcher.handled)

    async def _moved(self, message: Message) -> None:
        """A group upgraded to a supergroup: its messages live on under the new id (Telegram
        sends this to both chats; the second is a no-op)."""
        if message.migrate_to_chat_id:
            old, new = message.chat.id, message.migrate_to_chat_id
        elif message.migrate_from_chat_id:
            old, new = message.migrate_from_chat_id, message.chat.id
        else:
            return  # not a move
        await self.host.chat_moved(CHANNEL, str(old), str(new), self.clock())

    async def incoming(self, message: Message) -> Incoming | None:
        """The event for a user's message, or None when it is not for the core."""
        user = message.from_user
        assert user is not None
        chat = message.chat
        is_group = chat.type != "private"
        text = message.text or message.caption or ""
        if is_group:  # only commands and messages that mention the bot reach the core
            username = self.app.bot.username or ""
            head = text.split(maxsplit=1)[0] if text.strip() else ""
            if head.startswith("/"):
                target = head.partition("@")[2]
                if target and target.lower() != username.lower():
                    return None  # a command for another bot
            elif not self._mentions_bot(message):
                return None
            elif username:
                text = text.replace(f"@{username}", "").strip()
        replied = message.reply_to_message
        reply_to = None
        if replied is not None and replied.from_user and replied.from_user.id == self.app.bot.id:
            reply_to = str(replied.message_id)
        base = Incoming(channel=CHANNEL, user_id=str(user.id), chat_id=str(chat.id),
                        display_name=user.full_name, text=text, reply_to=reply_to,
                        is_group=is_group)
        limit = self.settings.max_download_mb or PUBLIC_DOWNLOAD_MB
        document = message.document
        if document is None and replied is not None and text.lstrip().startswith("/"):
            document = replied.document  # `/kehoach` sent as a reply to a file brings the file
        if document is not None:
            name = document.file_name or f"tep-{message.message_id}"
            size = document.file_size or 0
            if size > limit * 1024 * 1024:
                offer = (await self.upload_links.offer(CHANNEL, str(user.id), reply_to)
                         if self.upload_links is not None else None)

                def too_large(t: Translator) -> str:
                    text = t(TOO_LARGE, name=name, size=t.number(round(size / 1048576, 1)))
                    return f"{text}\n{offer.text}" if offer else text

                if await self.host.reply_once(dataclasses.replace(base, inbox_id=_inbox_id()),
                                              too_large, self.clock()):
                    await self.drain()
                return None
            data = bytes(await (await document.get_file()).download_as_bytearray())
            return dataclasses.replace(base, file=IncomingFile(name, data, is_photo=False))
        if message.photo:
            photo = message.photo[-1]
            data = bytes(await (await photo.get_file()).download_as_bytearray())
            name = f"anh-{message.message_id}.jpg"
            return dataclasses.replace(base, file=IncomingFile(name, data, is_photo=True))
        for kind in UNSUPPORTED_KINDS:
            if getattr(message, kind, None):
                return dataclasses.replace(base, unsupported=kind)
        if not text:
            return None if is_group else dataclasses.replace(base, unsupported="other")
        return base

    async def _on_callback(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        try:
            if query is None:
                return
            with contextlib.suppress(TelegramError):
                await query.answer()
            message = query.message
            if not isinstance(message, Message) or query.data is None:
                return
            label = next(
                (key.text for row in (message.reply_markup.inline_keyboard
                                      if message.reply_markup else ())
                 for key in row if key.callback_data == query.data),
                None,
            )
            handled = await self._run(Incoming(
                channel=CHANNEL,
                user_id=str(query.from_user.id),
                chat_id=str(message.chat.id),
                display_name=query.from_user.full_name,
                button=query.data,
                button_message_id=str(message.message_id),
                is_group=message.chat.type != "private",
            ))
            if handled and label is not None and not self.host.keeps_buttons(query.data):
                await self._mark_chosen(message, label)
        except Exception:  # a button press must never leave the query unanswered or crash
            log.exception("callback query failed")
        finally:
            self._when_replied(self.watcher.handled)

    async def _mark_chosen(self, message: Message, label: str) -> None:
        """Take the keyboard off the pressed message and show what was chosen."""
        mark = f"\n\n✓ {label}"
        try:
            if message.text is not None and len(message.text) + len(mark) <= MAX_TEXT:
                await message.edit_text(message.text + mark, reply_markup=None)
            elif message.caption is not None and len(message.caption) + len(mark) <= MAX_CAPTION:
                await message.edit_caption(message.caption + mark, reply_markup=None)
            else:
                await message.edit_reply_markup(reply_markup=None)
        except TelegramError as exc:
            log.warning("could not mark the pressed message: %s", exc)

    # ------------------------------------------------------------------ Outgoing → Bot API

    async def _call(self, work: Callable[[], Awaitable[T]], first: bool) -> T:
        """One sending call (the sender keeps to the rate limits); a 429 on the first part
        becomes RetryLater (the sender retries the row), on a later part it is waited out
        here (no duplicates)."""
        for _ in range(5):
            try:
                return await work()
            except RetryAfter as exc:
                if first:
                    raise RetryLater(retry_seconds(exc), str(exc)) from exc
                await asyncio.sleep(retry_seconds(exc))
            except Forbidden as exc:  # 403: blocked, never opened, or left the group
                raise Unreachable(refusal_kind(exc.message), exc.message) from exc
            except ChatMigrated as exc:  # a group upgraded to a supergroup
                raise ChatMoved(str(exc.new_chat_id)) from exc
        raise RetryLater(1.0, "too many 429 answers")

    async def send(self, message: Outgoing) -> str:
        """Send `message`; returns the id of the message that carries its buttons."""
        bot = self.app.bot
        chat_id = int(message.chat_id)
        markup = keyboard(message.buttons)
        reply = (ReplyParameters(int(message.reply_to), allow_sending_without_reply=True)
                 if message.reply_to and message.reply_to.isdigit() else None)
        text = message.text
        if message.file is not None:
            file = message.file
            caption = text if len(text) <= MAX_CAPTION else None
            is_image = file.mime_type in IMAGE_TYPES
            extra = {"reply_markup": markup} if caption is not None else {}

            async def send_file() -> Message:
                if is_image:
                    return await bot.send_photo(chat_id, file.data, caption=caption or None,
                                                filename=file.name, reply_parameters=reply,
                                                **extra)
                return await bot.send_document(chat_id, file.data, filename=file.name,
                                               caption=caption or None,
                                               reply_parameters=reply, **extra)

            sent = await self._call(send_file, first=True)
            if is_image:
                self.watcher.sent_photo(message.chat_id, str(sent.message_id), file.name)
            if caption is not None:
                return str(sent.message_id)
            first = False
        else:
            first = True
        pieces = split_text(text, MAX_TEXT)
        last_id = ""
        for index, piece in enumerate(pieces):
            is_last = index == len(pieces) - 1

            async def send_piece(piece: str = piece, is_last: bool = is_last,
                                 quote: bool = first and index == 0) -> Message:
                return await bot.send_message(
                    chat_id, piece, reply_markup=markup if is_last else None,
                    reply_parameters=reply if quote else None)

            sent_message = await self._call(send_piece, first=first and index == 0)
            last_id = str(sent_message.message_id)
        return last_id


__all__ = ["TelegramAdapter"]
