"""The Zalo channel on the Zalo Bot Platform API: a thin httpx client and the adapter.

The API is Telegram-like (`<base_url>/bot<TOKEN>/<method>`, answers `{ok, result}`), with
differences the adapter absorbs: getUpdates returns one update (or a 408 "timeout" when the
long poll ends empty) and hands it out once, so each is recorded in the inbox
(`handlers.inbox`) in a commit of its own the moment it arrives (a webhook post is answered
200 after that commit); updates have no `update_id` (the inbox keys them on event name +
message id, so one delivered twice is handled once), there are no buttons (choices become
numbered answers), no quoted replies (a message answers the bot's latest message in that
chat), texts stop at 2,000 characters, photos are sent by URL and documents are never
delivered to the bot (the user gets a signed link to the upload page instead).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import hmac
import json
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

import httpx
from aiohttp import web

from channels.base import ChannelSettings, RetryLater, Unreachable, Watcher, split_text
from channels.host import Host
from channels.ratelimit import Limits
from channels.sender import Sender
from channels.web import WebServer
from core.choices import chosen_index, with_choices
from core.clock import utc_now
from core.files import IMAGE_TYPES, sniff_type
from core.i18n import Translator
from core.messages import Incoming, IncomingFile, Outgoing
from core.text import fold, small_number

log = logging.getLogger(__name__)

CHANNEL = "zalo"
DEFAULT_BASE_URL = "https://bot-api.zaloplatforms.com"
SECRET_HEADER = "X-Bot-Api-Secret-Token"
MAX_TEXT = 2000
POLL_SECONDS = 30
# What a user types to ask for the upload page (folded: no case, no diacritics).
UPLOAD_WORDS = ("gui tep", "nop tep", "gui file", "nop file", "gui bao cao", "nop bao cao",
                "tai tep", "upload", "send file", "send a file", "upload file")


class ZaloApiError(Exception):
    def __init__(self, code: int, description: str, retry_after: float = 0.0) -> None:
        super().__init__(f"{code} {description}")
        self.code = code
        self.description = description
        self.retry_after = retry_after


def update_key(update: dict[str, Any]) -> str:
    """The inbox key of an update: its event name and message id (or a digest of it)."""
    message_id = (update.get("message") or {}).get("message_id")
    if message_id:
        return f"{update.get('event_name', '')}:{message_id}"
    return "sha256:" + hashlib.sha256(json.dumps(update, sort_keys=True).encode()).hexdigest()


def updates_of(body: Any) -> list[dict[str, Any]]:
    """The updates in a getUpdates answer or a webhook body: bare or wrapped in
    `{ok, result}`, one update or a list."""
    if isinstance(body, dict) and "result" in body and "event_name" not in body:
        body = body["result"]
    if isinstance(body, dict):
        return [body] if "event_name" in body else []
    if isinstance(body, list):
        return [u for u in body if isinstance(u, dict) and "event_name" in u]
    return []


class ZaloClient:
    """The Bot API methods the bot uses, as plain async calls."""

    def __init__(self, token: str, base_url: str = "", timeout: float = POLL_SECONDS + 15) -> None:
        self.url = f"{(base_url or DEFAULT_BASE_URL).rstrip('/')}/bot{token}"
        self.http = httpx.AsyncClient(timeout=timeout)

    async def close(self) -> None:
        await self.http.aclose()

    async def call(self, method: str, **params: Any) -> Any:
        answer = await self.http.post(f"{self.url}/{method}", json=params)
        try:
            body = answer.json()
        except ValueError as exc:
            raise ZaloApiError(answer.status_code or 502, "not a JSON answer") from exc
        if not isinstance(body, dict) or not body.get("ok"):
            body = body if isinstance(body, dict) else {}
            retry = float((body.get("parameters") or {}).get("retry_after") or 0)
            raise ZaloApiError(int(body.get("error_code") or answer.status_code),
                               str(body.get("description") or ""), retry)
        return body.get("result")

    async def get_me(self) -> dict[str, Any]:
        return await self.call("getMe")

    async def get_updates(self, wait_seconds: int = POLL_SECONDS) -> list[dict[str, Any]]:
        try:
            return updates_of(await self.call("getUpdates", timeout=str(wait_seconds)))
        except ZaloApiError as exc:
            if exc.code == 408:  # the long poll ended with nothing new
                return []
            raise

    async def set_webhook(self, url: str, secret_token: str) -> Any:
        return await self.call("setWebhook", url=url, secret_token=secret_token)

    async def delete_webhook(self) -> Any:
        return await self.call("deleteWebhook")

    async def get_webhook_info(self) -> dict[str, Any]:
        return await self.call("getWebhookInfo")

    async def send_message(self, chat_id: str, text: str) -> dict[str, Any]:
        return await self.call("sendMessage", chat_id=chat_id, text=text)

    async def send_photo(self, chat_id: str, photo: str, caption: str = "") -> dict[str, Any]:
        params = {"caption": caption} if caption else {}
        return await self.call("sendPhoto", chat_id=chat_id, photo=photo, **params)

    async def send_chat_action(self, chat_id: str, action: str = "typing") -> Any:
        return await self.call("sendChatAction", chat_id=chat_id, action=action)


class ZaloAdapter:
    """Translates between the Zalo Bot API and the channel-agnostic core."""

    name = CHANNEL

    def __init__(self, host: Host, settings: ChannelSettings, web_server: WebServer,
                 clock: Callable[[], datetime] = utc_now, poll_seconds: int = POLL_SECONDS
                 ) -> None:
        self.host = host
        self.settings = settings
        self.web = web_server
        self.clock = clock
        self.poll_seconds = poll_seconds
        self.retry_seconds = 1.0  # pause after a failed getUpdates
        self.client = ZaloClient(settings.token, settings.base_url)
        self.sender: Sender = host.sender({CHANNEL: self}, {CHANNEL: Limits.of(settings)})
        web_server.adapters[CHANNEL] = self
        self.watcher: Watcher = Watcher()  # the transcript sessions put theirs here
        self.inbox = host.inbox(CHANNEL, self.process, clock)
        self._inbox_started = False
        self._poller: asyncio.Task[None] | None = None
        self._waiting_for_updates = False  # the poller is in a long poll, safe to cancel

    # ------------------------------------------------------------------ lifecycle

    @property
    def webhook_path(self) -> str:
        from urllib.parse import urlsplit

        return "/" + (urlsplit(self.settings.webhook_url).path.strip("/") or "zalo")

    def add_routes(self, app: web.Application) -> None:
        """The webhook route, on the bot's web server (before it starts)."""
        app.router.add_post(self.webhook_path, self._on_webhook)

    async def start(self) -> None:
        """Check the token, handle what earlier processes left unhandled, then receive
        updates by webhook or long polling."""
        await self.client.get_me()
        await self.inbox.start()
        self._inbox_started = True
        if self.settings.mode == "webhook":
            await self.client.set_webhook(self.settings.webhook_url, self.settings.webhook_secret)
        else:
            with contextlib.suppress(ZaloApiError):
                await self.client.delete_webhook()
            self._poller = asyncio.create_task(self._poll(), name="zalo-poll")

    async def stop(self) -> None:
        """Stop polling: a long poll in progress is cancelled, an update being handled is
        finished first (cancelling it inside a database call could leave a connection that
        never closes)."""
        poller, self._poller = self._poller, None
        if poller is not None:
            if self._waiting_for_updates:
                poller.cancel()
            await asyncio.wait({poller})  # unlike awaiting it, keeps a cancel of our own
        if self._inbox_started:
            self._inbox_started = False
            await self.inbox.stop()
        await self.client.close()

    async def drain(self, now: datetime | None = None) -> int:
        """Send the waiting outbox; the sender waits out a 429 and sends the row again."""
        return await self.sender.drain(now or self.clock())

    # ------------------------------------------------------------------ updates → Incoming

    async def _poll(self) -> None:
        while self._poller is not None:
            self._waiting_for_updates = True
            try:
                updates = await self.client.get_updates(self.poll_seconds)
            except (ZaloApiError, httpx.HTTPError) as exc:
                if self._poller is None:
                    return
                log.warning("zalo getUpdates failed: %s", exc)
                await asyncio.sleep(self.retry_seconds)
                continue
            finally:
                self._waiting_for_updates = False
            for update in updates:
                await self._record(update)

    async def _record(self, update: dict[str, Any]) -> None:
        """Record a polled update: Zalo will not hand it out again, so a failure to record
        is tried again while the process runs."""
        while True:
            try:
                await self._receive([update])
                return
            except Exception:
                log.exception("recording a zalo update failed; trying again")
                await asyncio.sleep(self.retry_seconds)

    async def _receive(self, updates: list[dict[str, Any]]) -> None:
        new = await self.inbox.receive([(update_key(u), u) for u in updates])
        self.watcher.handled(len(updates) - new)  # delivered again: handled or queued

    async def _on_webhook(self, request: web.Request) -> web.Response:
        secret = request.headers.get(SECRET_HEADER, "")
        expected = self.settings.webhook_secret
        if not expected or not hmac.compare_digest(secret.encode(), expected.encode()):
            return web.json_response({"ok": False, "description": "forbidden"}, status=403)
        try:
            body = json.loads(await request.read())
        except ValueError:
            return web.json_response({"ok": False, "description": "bad JSON"}, status=400)
        await self._receive(updates_of(body))  # an error answer: Zalo posts it again
        return web.json_response({"ok": True})

    async def process(self, inbox_id: int | None, update: dict[str, Any]) -> bool:
        """Handle one recorded update (the inbox's callback); never raises. True when it went
        through the dispatcher (which marked it handled)."""
        dispatched = False
        try:
            event = await self.incoming(update, inbox_id)
            if event is not None:
                await self.host.handle(event, self.clock())
                dispatched = True
                await self.drain()
        except Exception:
            log.exception("zalo update %s failed", update)
        finally:
            self.watcher.handled()
        return dispatched

    async def _implied_reply(self, user_id: str, chat_id: str) -> str | None:
        """Zalo tells a bot nothing about quoted messages, so a message is taken as a reply
        to the bot's latest message in the chat (what the user sees above it), unless the
        user is in a guided conversation, which gets the answer as on other channels."""
        if await self.host.in_dialogue(CHANNEL, user_id):
            return None
        latest = await self.host.latest_delivered(CHANNEL, chat_id)
        return latest.message_id if latest else None

    async def incoming(self, update: dict[str, Any],
                       inbox_id: int | None = None) -> Incoming | None:
        """The event for an update, or None when it was answered here or is not for the core.
        The event's `inbox_id` marks its recorded update handled with its effects."""
        name = str(update.get("event_name", ""))
        message = update.get("message") or {}
        sender = message.get("from") or {}
        chat = message.get("chat") or {}
        user_id, chat_id = str(sender.get("id", "")), str(chat.get("id", ""))
        if not user_id or not chat_id or sender.get("is_bot"):
            return None
        is_group = str(chat.get("chat_type", "PRIVATE")).upper() != "PRIVATE"
        base = Incoming(
            channel=CHANNEL, user_id=user_id, chat_id=chat_id, text="",
            display_name=str(sender.get("display_name") or user_id), is_group=is_group,
            inbox_id=inbox_id,
            reply_to=None if is_group else await self._implied_reply(user_id, chat_id),
        )
        if name == "message.text.received":
            text = str(message.get("text") or "")
            if not is_group:
                choice = await self._choice(chat_id, text)
                if choice is not None:
                    return dataclasses.replace(base, reply_to=None, button=choice[0],
                                               button_message_id=choice[1])
                if fold(text).strip(" .!?") in UPLOAD_WORDS and await self._offer(base):
                    return None
            return dataclasses.replace(base, text=text)
        if name == "message.image.received" and message.get("photo_url"):
            data = (await self.client.http.get(str(message["photo_url"]))).content
            # Zalo names no picture: call it after what its bytes are (a PNG is no .jpg).
            extension = {"image/png": "png", "image/gif": "gif"}.get(sniff_type(data), "jpg")
            file = IncomingFile(f"anh-{str(message.get('message_id', ''))[:8]}.{extension}",
                                data, is_photo=True)
            return dataclasses.replace(base, text=str(message.get("caption") or ""), file=file)
        if name == "message.unsupported.received" and not is_group and await self._offer(base):
            return None
        kind = name.removeprefix("message.").removesuffix(".received") or "other"
        return dataclasses.replace(base, unsupported=kind)

    async def _choice(self, chat_id: str, text: str) -> tuple[str, str] | None:
        """(payload, message id) when `text` is a number listed under the latest choices."""
        if small_number(text.strip().rstrip(".)")) is None:
            return None
        source = await self.host.latest_delivered(CHANNEL, chat_id, with_buttons=True)
        if source is None:
            return None
        index = chosen_index(text, len(source.buttons))
        return None if index is None else (source.buttons[index].payload, source.message_id)

    async def _offer(self, event: Incoming) -> bool:
        """Answer a member who wants to send a file with an upload link, through the outbox
        and once per update; False for others. `event` is the update's event without its
        text; the link is for the task of the message it answers (Zalo: the latest one)."""
        offer = await self.web.offer(CHANNEL, event.user_id, event.reply_to)
        if offer is None:
            return False
        if await self.host.reply_once(event, lambda _t: offer.text, self.clock()):
            await self.drain()
        return True

    # ------------------------------------------------------------------ Outgoing → Bot API

    async def _call(self, first: bool, method: str, **params: Any) -> dict[str, Any]:
        """One sending call; a 429 on the first part becomes RetryLater (the sender retries
        the row), on a later part it is waited out here (no duplicates)."""
        for _ in range(5):
            try:
                return await self.client.call(method, **params)
            except ZaloApiError as exc:
                if exc.code == 403:  # the user blocked the bot: no retry
                    raise Unreachable("blocked", exc.description) from exc
                if exc.code != 429:
                    raise
                if first:
                    raise RetryLater(exc.retry_after or 1.0, str(exc)) from exc
                await asyncio.sleep(exc.retry_after or 1.0)
        raise RetryLater(1.0, "too many 429 answers")

    async def send(self, message: Outgoing) -> str:
        """Send `message`; returns the id of the message that lists its choices."""
        chat_id = message.chat_id
        t = Translator(message.extra.get("language", self.host.default_language))
        labels = [b.label for b in message.buttons]
        text = with_choices(t, message.text, labels)
        first = True
        if message.file is not None:
            url = self.web.file_url(message.file)
            if message.file.mime_type in IMAGE_TYPES:
                caption = text if len(text) <= MAX_TEXT else ""
                sent = await self._call(True, "sendPhoto", chat_id=chat_id, photo=url,
                                        **({"caption": caption} if caption else {}))
                self.watcher.sent_photo(chat_id, str(sent["message_id"]), message.file.name)
                if caption or not text:
                    return str(sent["message_id"])
                first = False
            else:
                link = f"📎 {message.file.name}: {url}"
                body = f"{message.text}\n{link}" if message.text else link
                text = with_choices(t, body, labels)
        last_id = ""
        for piece in split_text(text, MAX_TEXT):
            if last_id:
                self.watcher.sent_piece(chat_id, last_id)
            sent = await self._call(first, "sendMessage", chat_id=chat_id, text=piece)
            first = False
            last_id = str(sent["message_id"])
        return last_id


__all__ = ["ZaloAdapter", "ZaloApiError", "ZaloClient", "update_key", "updates_of"]
