"""Local emulator of the Zalo Bot Platform API (bot.zapps.me / bot.zaloplatforms.com).

The emulator is an aiohttp server on 127.0.0.1 that answers the bot's HTTP calls the way the
real platform does, lets a test play the users (``inject_text`` and friends), records every
call, and can inject faults. It is written for our tests and the transcript runner only.

What the public material says (and the emulator follows)
--------------------------------------------------------
* Calls go to ``<base>/bot<TOKEN>/<method>`` (real base ``https://bot-api.zaloplatforms.com``,
  formerly ``https://bot-api.zapps.me``), POST with a JSON body (GET works for getMe in the
  official curl examples). Replies are ``{"ok": true, "result": ...}`` or
  ``{"ok": false, "error_code": <int>, "description": <str>}``.
* Methods: getMe, getUpdates (long polling, ``timeout`` in seconds, often sent as a string),
  setWebhook (``url``, ``secret_token`` of 8-256 characters), deleteWebhook, getWebhookInfo,
  sendMessage (``chat_id``, ``text`` of 1-2000 characters), sendPhoto (``chat_id``, ``photo``
  as a URL, optional ``caption``), sendSticker (``chat_id``, ``sticker``), sendChatAction
  (``chat_id``, ``action`` "typing" or "upload_photo").
* getMe's result has ``id``, ``account_name`` (a handle like ``bot.VDKyGxQvc``),
  ``account_type`` and ``can_join_groups``.
* getUpdates returns ONE update object as ``result``, not a list as Telegram does. When the
  long poll ends with nothing new the platform answers ``ok: false`` with ``error_code`` 408
  and the description "Request timeout"; clients treat that as "poll again".
* getUpdates and the webhook are mutually exclusive.
* Updates are ``{"event_name": ..., "message": {...}}`` with event names
  ``message.text.received``, ``message.image.received``, ``message.sticker.received`` and
  ``message.unsupported.received`` (documents, voice, video... are only "unsupported").
  The message has ``message_id`` (a string), ``date``, ``from`` {``id``, ``display_name``,
  ``is_bot``}, ``chat`` {``id``, ``chat_type`` "PRIVATE" or "GROUP"}, and ``text``, or
  ``photo_url`` and ``caption``, or ``sticker``. There is no ``update_id``; clients
  de-duplicate on ``event_name`` + ``message_id``.
* The webhook POSTs the bare update (not wrapped in ``{"ok", "result"}``) as JSON with the
  secret in the ``X-Bot-Api-Secret-Token`` header.

What the emulator assumes where the material is silent or unclear
-----------------------------------------------------------------
* ``date`` is Unix time in milliseconds (one SDK divides it by 1000); ids are strings.
  Message ids are 20 lowercase hex characters, like the platform's samples.
* Errors other than the 408 poll timeout use the error code as the HTTP status too
  (Telegram-like): 400 bad request, 401 wrong token ("Unauthorized"), 404 unknown method,
  409 getUpdates while a webhook is set, 429 with ``parameters.retry_after`` and a
  ``Retry-After`` header, 500. The 408 poll timeout comes with HTTP 200.
* Text length is counted in Python characters (code points); captions share the 2000 limit.
* A user who blocked the bot (``set_blocked``): sends to their chat answer 403 "Forbidden:
  the user has blocked the bot" (the public material names no code; Telegram's is assumed).
* setWebhook accepts ``http://`` URLs (the real one wants HTTPS) so a local receiver works.
  A delivery counts as done on any 2xx answer; otherwise it is retried
  ``webhook_max_attempts`` times and then dropped (see ``webhook_deliveries``).
* getMe adds ``display_name`` (the bot's name) to the documented fields; getWebhookInfo
  adds ``pending_update_count``; sendMessage/sendPhoto/sendSticker return
  ``{"message_id", "date"}``; sendChatAction returns ``true``.
* ``wrap_webhook_body = True`` sends ``{"ok": true, "result": update}`` instead of the bare
  update, and ``updates_as_list = True`` makes getUpdates Telegram-like (a list, and ``[]``
  on timeout), so a bot can be checked against both readings.
* A sticker update also carries ``url`` (a small PNG the emulator serves); inbound photos
  are served by the emulator at ``<base_url>/media/<name>`` and need no token.
* Sending to a chat the emulator never saw is accepted unless ``strict_chat_ids`` is True.
* A user injected without ``add_user`` is registered with their id as display name; a group
  message without ``chat_id`` goes to chat ``"group-<user_id>"``.
* ``stop()`` answers long polls in progress with the 408 timeout, then closes the port;
  an update a poller abandoned (client gone) stays queued for the next poll.

Test API, in short
------------------
``start()`` / ``stop()`` / ``base_url``; ``add_user``; ``inject_text`` / ``inject_image`` /
``inject_sticker`` / ``inject_unsupported`` (each returns the update dict); ``redeliver_last``;
``calls`` (``RecordedCall``: method, params, time, error_code, fault); ``bot_messages``;
``wait_for_call``; ``wait_idle``; ``fail_next``; ``wrap_webhook_body``;
``webhook_deliveries``; ``pending_updates``.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import logging
import secrets
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

import aiohttp
from aiohttp import web

__all__ = ["FaultKind", "RecordedCall", "ZaloEmulator"]

log = logging.getLogger(__name__)

FaultKind = Literal["429", "500", "malformed", "slow"]
_FAULT_KINDS: frozenset[str] = frozenset({"429", "500", "malformed", "slow"})

SECRET_HEADER = "X-Bot-Api-Secret-Token"
MAX_TEXT_LENGTH = 2000
CHAT_ACTIONS = frozenset({"typing", "upload_photo"})
_POLL_STEP = 0.005

# A 1x1 transparent PNG, served as the picture of injected stickers.
_STICKER_PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082"
)


@dataclass
class RecordedCall:
    """One authenticated API call the bot made.

    ``error_code`` is None when the call succeeded; ``fault`` names the injected fault, if any.
    """

    method: str
    params: dict[str, Any]
    time: float
    error_code: int | None = None
    fault: str | None = None


@dataclass
class _Fault:
    method: str | None
    kind: str
    remaining: int
    retry_after: int
    delay: float


class _ApiError(Exception):
    """An error answer for the current call."""

    def __init__(self, code: int, description: str) -> None:
        super().__init__(description)
        self.code = code
        self.description = description


def _now_ms() -> int:
    return int(time.time() * 1000)


def _sniff_image(data: bytes) -> tuple[str, str]:
    """Return (extension, content type) for image bytes; JPEG when unknown."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png", "image/png"
    if data.startswith(b"GIF8"):
        return "gif", "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp", "image/webp"
    return "jpg", "image/jpeg"


class ZaloEmulator:
    """A fake Zalo Bot Platform server with hooks for tests (see the module docstring)."""

    def __init__(
        self,
        token: str = "1234567890:TESTZALO",
        bot_name: str = "Bao cao bot",
        *,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.token = token
        self.bot_name = bot_name
        self.bot_id = token.split(":", 1)[0]
        self.host = host
        self.port = port
        # Switches a test may flip at any time.
        self.wrap_webhook_body = False
        self.updates_as_list = False
        self.strict_chat_ids = False
        self.max_text_length = MAX_TEXT_LENGTH
        self.webhook_max_attempts = 3
        self.webhook_retry_delay = 0.1
        self.webhook_timeout = 10.0
        # Recorded state, kept across stop()/start().
        self.users: dict[str, str] = {}
        self.calls: list[RecordedCall] = []
        self.unauthorized_calls: list[RecordedCall] = []
        self.webhook_deliveries: list[dict[str, Any]] = []
        self.webhook_url: str | None = None
        self.webhook_secret: str | None = None
        self._webhook_updated_at = 0
        self._known_chats: set[str] = set()
        self._blocked: set[str] = set()
        self._pending: deque[dict[str, Any]] = deque()
        self._sent: dict[str, list[dict[str, Any]]] = {}
        self._sent_order: list[dict[str, Any]] = []
        self._media: dict[str, tuple[bytes, str]] = {}
        self._faults: list[_Fault] = []
        self._last_update: dict[str, Any] | None = None
        self._consumed_calls: set[int] = set()
        # Run-time machinery.
        self._changed = asyncio.Event()
        self._inflight = 0
        self._busy = 0
        self._polls = 0
        self._last_activity = time.monotonic()
        self._closing = False
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._delivery_task: asyncio.Task[None] | None = None

    # ------------------------------------------------------------------ lifecycle

    @property
    def base_url(self) -> str:
        """Root URL of the emulator; the bot calls ``f"{base_url}/bot{token}/{method}"``."""
        if not self.port:
            raise RuntimeError("the emulator has not been started yet")
        return f"http://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        """True between start() and stop()."""
        return self._runner is not None

    async def start(self) -> None:
        """Serve on ``host``; a free port the first time, the same port after a stop()."""
        if self._runner is not None:
            return
        self._closing = False
        self._changed = asyncio.Event()
        app = web.Application(client_max_size=16 * 1024 * 1024)
        app.router.add_get("/media/{name}", self._handle_media)
        app.router.add_route("*", "/{bot_token}/{method}", self._handle_api)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port or 0)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        if not self.port:
            self.port = int(runner.addresses[0][1])
        self._runner = runner
        self._session = aiohttp.ClientSession()
        self._delivery_task = asyncio.create_task(self._delivery_loop(), name="zalo-webhook")

    async def stop(self) -> None:
        """Stop serving; state (users, queue, calls, messages, webhook) is kept."""
        if self._runner is None:
            return
        self._closing = True
        self._signal()
        # Let long polls in progress answer (408) before the connections go away.
        for _ in range(int(1.0 / _POLL_STEP)):
            if not self._polls:
                break
            await asyncio.sleep(_POLL_STEP)
        await asyncio.sleep(_POLL_STEP)
        if self._delivery_task is not None:
            self._delivery_task.cancel()
            await asyncio.wait({self._delivery_task})
            self._delivery_task = None
        if self._session is not None:
            await self._session.close()
            self._session = None
        runner, self._runner = self._runner, None
        await runner.cleanup()

    async def __aenter__(self) -> ZaloEmulator:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # ------------------------------------------------------------------ users and updates

    def set_blocked(self, chat_id: str, blocked: bool = True) -> None:
        """Make sends to a chat fail with 403 (the user blocked the bot); a user who writes
        to the bot again unblocks it."""
        if blocked:
            self._blocked.add(chat_id)
        else:
            self._blocked.discard(chat_id)

    def add_user(self, user_id: str, display_name: str) -> None:
        """Register a Zalo user (their private chat id is their user id)."""
        self.users[str(user_id)] = display_name
        self._known_chats.add(str(user_id))

    async def inject_text(
        self, user_id: str, text: str, *, chat_id: str | None = None, group: bool = False
    ) -> dict[str, Any]:
        """Queue a ``message.text.received`` update from the user; return the update."""
        message = self._base_message(user_id, chat_id, group)
        message["text"] = text
        return self._push("message.text.received", message)

    async def inject_image(
        self,
        user_id: str,
        data: bytes,
        *,
        caption: str | None = None,
        chat_id: str | None = None,
        group: bool = False,
    ) -> dict[str, Any]:
        """Queue a ``message.image.received`` update; the picture is served at ``photo_url``."""
        message = self._base_message(user_id, chat_id, group)
        message["photo_url"] = self.add_media(data)
        if caption is not None:
            message["caption"] = caption
        return self._push("message.image.received", message)

    async def inject_sticker(
        self,
        user_id: str,
        sticker_id: str = "d063f44dc80821567819",
        *,
        chat_id: str | None = None,
        group: bool = False,
    ) -> dict[str, Any]:
        """Queue a ``message.sticker.received`` update."""
        message = self._base_message(user_id, chat_id, group)
        message["sticker"] = sticker_id
        message["url"] = self.add_media(_STICKER_PNG)
        return self._push("message.sticker.received", message)

    async def inject_unsupported(
        self, user_id: str, *, chat_id: str | None = None, group: bool = False
    ) -> dict[str, Any]:
        """Queue a ``message.unsupported.received`` update (a file, voice note, video...)."""
        message = self._base_message(user_id, chat_id, group)
        return self._push("message.unsupported.received", message)

    def redeliver_last(self) -> dict[str, Any]:
        """Queue the last injected update again, unchanged (same ``message_id``)."""
        if self._last_update is None:
            raise RuntimeError("no update has been injected yet")
        self._pending.append(copy.deepcopy(self._last_update))
        self._touch()
        self._signal()
        return copy.deepcopy(self._last_update)

    def add_media(self, data: bytes, content_type: str | None = None) -> str:
        """Serve ``data`` from the emulator; return its URL (valid across restarts)."""
        ext, sniffed = _sniff_image(data)
        name = f"{secrets.token_hex(10)}.{ext}"
        self._media[name] = (bytes(data), content_type or sniffed)
        return f"{self.base_url}/media/{name}"

    @property
    def pending_updates(self) -> list[dict[str, Any]]:
        """Updates injected but not taken yet (copies)."""
        return copy.deepcopy(list(self._pending))

    # ------------------------------------------------------------------ what the bot did

    def bot_messages(self, chat_id: str | None = None) -> list[dict[str, Any]]:
        """Messages the bot sent to ``chat_id`` (all chats when None), oldest first.

        Each is ``{"message_id", "chat_id", "type": "text"|"photo"|"sticker", "date"}`` plus
        ``text``, or ``photo`` and ``caption``, or ``sticker``.
        """
        source = self._sent_order if chat_id is None else self._sent.get(str(chat_id), [])
        return copy.deepcopy(source)

    async def wait_for_call(
        self,
        method: str,
        predicate: Callable[[RecordedCall], bool] | None = None,
        timeout: float = 5.0,  # noqa: ASYNC109 - part of the test API
    ) -> RecordedCall:
        """Wait for a call of ``method`` (matching ``predicate``) and return it.

        Each recorded call is handed out at most once, oldest first, so successive waits for
        "sendMessage" return successive messages, including ones already made.
        """
        deadline = time.monotonic() + timeout
        while True:
            for index, call in enumerate(self.calls):
                if index in self._consumed_calls or call.method != method:
                    continue
                if predicate is None or predicate(call):
                    self._consumed_calls.add(index)
                    return call
            if time.monotonic() >= deadline:
                raise TimeoutError(f"no {method} call within {timeout}s")
            await asyncio.sleep(_POLL_STEP)

    async def wait_idle(self, quiet: float = 0.05, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Wait until every injected update was taken and no call came for ``quiet`` s."""
        deadline = time.monotonic() + timeout
        while True:
            now = time.monotonic()
            idle = not self._pending and self._inflight == 0 and self._busy == 0
            if idle and now - self._last_activity >= quiet:
                return
            if now >= deadline:
                raise TimeoutError(
                    f"not idle after {timeout}s: {len(self._pending)} update(s) pending, "
                    f"{self._inflight} webhook delivery(ies) and {self._busy} call(s) running"
                )
            await asyncio.sleep(_POLL_STEP)

    def fail_next(
        self,
        method: str | None,
        kind: FaultKind = "500",
        count: int = 1,
        retry_after: int = 1,
        delay: float = 2.0,
    ) -> None:
        """Make the next ``count`` calls of ``method`` (any method when None) misbehave.

        ``"429"``: Too Many Requests with ``retry_after``; ``"500"``: server error;
        ``"malformed"``: HTTP 200 with a body that is not JSON; ``"slow"``: answer normally
        after ``delay`` seconds. Faults are used in the order they were added.
        """
        if kind not in _FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}")
        if count < 1:
            raise ValueError("count must be at least 1")
        self._faults.append(_Fault(method, kind, count, retry_after, delay))

    def clear_faults(self) -> None:
        """Forget faults not used yet."""
        self._faults.clear()

    # ------------------------------------------------------------------ internals: state

    def _signal(self) -> None:
        """Wake everything waiting for a change of state."""
        old, self._changed = self._changed, asyncio.Event()
        old.set()

    def _touch(self) -> None:
        self._last_activity = time.monotonic()

    def _new_message_id(self) -> str:
        return secrets.token_hex(10)

    def _base_message(self, user_id: str, chat_id: str | None, group: bool) -> dict[str, Any]:
        user_id = str(user_id)
        if user_id not in self.users:
            self.add_user(user_id, user_id)
        if chat_id is None:
            chat_id = f"group-{user_id}" if group else user_id
        chat_id = str(chat_id)
        self._known_chats.add(chat_id)
        if not group:
            self._blocked.discard(chat_id)
        return {
            "from": {"id": user_id, "display_name": self.users[user_id], "is_bot": False},
            "chat": {"id": chat_id, "chat_type": "GROUP" if group else "PRIVATE"},
            "message_id": self._new_message_id(),
            "date": _now_ms(),
        }

    def _push(self, event_name: str, message: dict[str, Any]) -> dict[str, Any]:
        update = {"event_name": event_name, "message": message}
        self._last_update = copy.deepcopy(update)
        self._pending.append(update)
        self._touch()
        self._signal()
        return copy.deepcopy(update)

    def _take_fault(self, method: str) -> _Fault | None:
        for fault in self._faults:
            if fault.method is None or fault.method == method:
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self._faults.remove(fault)
                return fault
        return None

    def _record_sent(self, chat_id: str, kind: str, **fields: Any) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "message_id": self._new_message_id(),
            "chat_id": chat_id,
            "type": kind,
            "date": _now_ms(),
        }
        entry.update(fields)
        self._sent.setdefault(chat_id, []).append(entry)
        self._sent_order.append(entry)
        return {"message_id": entry["message_id"], "date": entry["date"]}

    # ------------------------------------------------------------------ internals: HTTP

    @staticmethod
    def _json(
        payload: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None
    ) -> web.Response:
        return web.Response(
            status=status,
            text=json.dumps(payload, ensure_ascii=False),
            content_type="application/json",
            headers=headers,
        )

    def _error(
        self, code: int, description: str, *, http_status: int | None = None, **extra: Any
    ) -> web.Response:
        payload: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
        payload.update(extra)
        return self._json(payload, status=http_status or code)

    @staticmethod
    async def _read_params(request: web.Request) -> dict[str, Any]:
        params: dict[str, Any] = dict(request.query)
        if request.method != "POST" or not request.body_exists:
            return params
        ctype = request.content_type
        if ctype in ("application/x-www-form-urlencoded", "multipart/form-data"):
            form = await request.post()
            params.update({k: v for k, v in form.items() if isinstance(v, str)})
            return params
        raw = await request.read()
        if not raw.strip():
            return params
        try:
            data = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise _ApiError(400, "Bad Request: can't parse JSON body") from exc
        if not isinstance(data, dict):
            raise _ApiError(400, "Bad Request: the JSON body must be an object")
        params.update(data)
        return params

    async def _handle_media(self, request: web.Request) -> web.StreamResponse:
        item = self._media.get(request.match_info["name"])
        if item is None:
            raise web.HTTPNotFound()
        data, content_type = item
        return web.Response(body=data, content_type=content_type)

    async def _handle_api(self, request: web.Request) -> web.StreamResponse:
        bot_token = request.match_info["bot_token"]
        method = request.match_info["method"]
        if not bot_token.startswith("bot"):
            return self._error(404, "Not Found")
        if request.method not in ("GET", "POST"):
            return self._error(405, "Method Not Allowed")
        self._touch()
        if bot_token[3:] != self.token:
            self.unauthorized_calls.append(RecordedCall(method, {}, time.time(), 401))
            return self._error(401, "Unauthorized")
        long_poll = method == "getUpdates"
        if not long_poll:
            self._busy += 1
        try:
            return await self._answer(request, method)
        finally:
            if not long_poll:
                self._busy -= 1
            self._touch()

    async def _answer(self, request: web.Request, method: str) -> web.StreamResponse:
        call = RecordedCall(method, {}, time.time())
        try:
            call.params = await self._read_params(request)
        except _ApiError as err:
            call.error_code = err.code
            self.calls.append(call)
            return self._error(err.code, err.description)
        self.calls.append(call)
        self._signal()

        fault = self._take_fault(method)
        if fault is not None:
            call.fault = fault.kind
            if fault.kind == "429":
                call.error_code = 429
                return self._json(
                    {
                        "ok": False,
                        "error_code": 429,
                        "description": f"Too Many Requests: retry after {fault.retry_after}",
                        "parameters": {"retry_after": fault.retry_after},
                    },
                    status=429,
                    headers={"Retry-After": str(fault.retry_after)},
                )
            if fault.kind == "500":
                call.error_code = 500
                return self._error(500, "Internal Server Error")
            if fault.kind == "malformed":
                return web.Response(
                    status=200, text='{"ok": true, "result": {', content_type="application/json"
                )
            await asyncio.sleep(fault.delay)  # "slow": answer normally, late

        try:
            if method == "getUpdates":
                self._polls += 1
                try:
                    return await self._get_updates(request, call)
                finally:
                    self._polls -= 1
            handler = self._methods.get(method)
            if handler is None:
                raise _ApiError(404, f"Not Found: method {method} not found")
            result = await handler(self, call.params)
        except _ApiError as err:
            call.error_code = err.code
            return self._error(err.code, err.description)
        return self._json({"ok": True, "result": result})

    # ------------------------------------------------------------------ API methods

    def _chat_id(self, params: dict[str, Any]) -> str:
        chat_id = params.get("chat_id")
        if chat_id is None or str(chat_id).strip() == "":
            raise _ApiError(400, "Bad Request: chat_id is required")
        chat_id = str(chat_id)
        if self.strict_chat_ids and chat_id not in self._known_chats:
            raise _ApiError(400, "Bad Request: chat not found")
        if chat_id in self._blocked and params.get("action") is None:
            raise _ApiError(403, "Forbidden: the user has blocked the bot")
        return chat_id

    def _checked_text(self, value: Any, field: str, *, required: bool) -> str | None:
        if value is None:
            if required:
                raise _ApiError(400, f"Bad Request: {field} is required")
            return None
        if not isinstance(value, str):
            raise _ApiError(400, f"Bad Request: {field} must be a string")
        if required and not value.strip():
            raise _ApiError(400, f"Bad Request: {field} is empty")
        if len(value) > self.max_text_length:
            raise _ApiError(
                400,
                f"Bad Request: {field} is too long ({len(value)} > "
                f"{self.max_text_length} characters)",
            )
        return value

    async def _get_me(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": self.bot_id,
            "account_name": f"bot.{self.bot_id}",
            "account_type": "BASIC",
            "can_join_groups": True,
            "display_name": self.bot_name,
        }

    def _poll_ready(self) -> bool:
        return self._closing or (self.webhook_url is None and bool(self._pending))

    def _poll_timeout(self) -> web.Response:
        if self.updates_as_list:
            return self._json({"ok": True, "result": []})
        return self._error(408, "Request timeout", http_status=200)

    async def _get_updates(self, request: web.Request, call: RecordedCall) -> web.Response:
        if self.webhook_url is not None:
            raise _ApiError(409, "Conflict: can't use getUpdates while a webhook is set")
        try:
            timeout = float(call.params.get("timeout", 0) or 0)
        except (TypeError, ValueError) as exc:
            raise _ApiError(400, "Bad Request: timeout must be a number") from exc
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(0.0, timeout)
        while not self._poll_ready():
            remaining = deadline - loop.time()
            if remaining <= 0:
                call.error_code = None if self.updates_as_list else 408
                return self._poll_timeout()
            changed = self._changed
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), remaining)
        if self._closing:
            call.error_code = None if self.updates_as_list else 408
            return self._poll_timeout()
        transport = request.transport
        if transport is None or transport.is_closing():
            # The bot gave up on this poll; keep the update for the next one.
            return self._poll_timeout()
        update = self._pending.popleft()
        self._touch()
        self._signal()
        result: Any = [update] if self.updates_as_list else update
        return self._json({"ok": True, "result": result})

    async def _set_webhook(self, params: dict[str, Any]) -> dict[str, Any]:
        url = params.get("url")
        secret = params.get("secret_token")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise _ApiError(400, "Bad Request: url must be an http(s) URL")
        if not isinstance(secret, str) or not 8 <= len(secret) <= 256:
            raise _ApiError(400, "Bad Request: secret_token must be 8-256 characters")
        self.webhook_url = url
        self.webhook_secret = secret
        self._webhook_updated_at = _now_ms()
        self._signal()
        return {"url": url, "updated_at": self._webhook_updated_at}

    async def _delete_webhook(self, params: dict[str, Any]) -> dict[str, Any]:
        self.webhook_url = None
        self.webhook_secret = None
        self._webhook_updated_at = _now_ms()
        self._signal()
        return {"url": "", "updated_at": self._webhook_updated_at}

    async def _get_webhook_info(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "url": self.webhook_url or "",
            "updated_at": self._webhook_updated_at,
            "has_custom_certificate": False,
            "pending_update_count": len(self._pending),
        }

    async def _send_message(self, params: dict[str, Any]) -> dict[str, Any]:
        chat_id = self._chat_id(params)
        text = self._checked_text(params.get("text"), "text", required=True)
        return self._record_sent(chat_id, "text", text=text)

    async def _send_photo(self, params: dict[str, Any]) -> dict[str, Any]:
        chat_id = self._chat_id(params)
        photo = params.get("photo")
        if not isinstance(photo, str) or not photo.startswith(("http://", "https://")):
            raise _ApiError(400, "Bad Request: photo must be an http(s) URL")
        caption = self._checked_text(params.get("caption"), "caption", required=False)
        return self._record_sent(chat_id, "photo", photo=photo, caption=caption)

    async def _send_sticker(self, params: dict[str, Any]) -> dict[str, Any]:
        chat_id = self._chat_id(params)
        sticker = params.get("sticker")
        if not isinstance(sticker, str) or not sticker:
            raise _ApiError(400, "Bad Request: sticker is required")
        return self._record_sent(chat_id, "sticker", sticker=sticker)

    async def _send_chat_action(self, params: dict[str, Any]) -> bool:
        self._chat_id(params)
        if params.get("action") not in CHAT_ACTIONS:
            raise _ApiError(400, "Bad Request: action must be 'typing' or 'upload_photo'")
        return True

    # getUpdates is not here: it needs the request and is answered by _get_updates.
    _methods: dict[str, Callable[[ZaloEmulator, dict[str, Any]], Awaitable[Any]]] = {
        "getMe": _get_me,
        "setWebhook": _set_webhook,
        "deleteWebhook": _delete_webhook,
        "getWebhookInfo": _get_webhook_info,
        "sendMessage": _send_message,
        "sendPhoto": _send_photo,
        "sendSticker": _send_sticker,
        "sendChatAction": _send_chat_action,
    }

    # ------------------------------------------------------------------ webhook delivery

    def _delivery_ready(self) -> bool:
        return self._closing or (self.webhook_url is not None and bool(self._pending))

    async def _delivery_loop(self) -> None:
        """POST queued updates, one at a time and in order, while a webhook is set."""
        while True:
            while not self._delivery_ready():
                await self._changed.wait()
            if self._closing:
                return
            update = self._pending.popleft()
            url, secret = self.webhook_url, self.webhook_secret
            assert url is not None and secret is not None
            self._inflight += 1
            delivered = False
            try:
                delivered = await self._post_update(url, secret, update)
            except asyncio.CancelledError:
                self._pending.appendleft(update)
                raise
            finally:
                self._inflight -= 1
                self._touch()
                self._signal()
            if not delivered:
                log.warning("zalo emulator: dropped %s after failed webhook deliveries", update)

    async def _post_update(self, url: str, secret: str, update: dict[str, Any]) -> bool:
        assert self._session is not None
        body = {"ok": True, "result": update} if self.wrap_webhook_body else update
        headers = {SECRET_HEADER: secret, "Content-Type": "application/json"}
        data = json.dumps(body, ensure_ascii=False).encode()
        timeout = aiohttp.ClientTimeout(total=self.webhook_timeout)
        for attempt in range(1, self.webhook_max_attempts + 1):
            record: dict[str, Any] = {
                "url": url,
                "attempt": attempt,
                "event_name": update.get("event_name"),
                "message_id": update.get("message", {}).get("message_id"),
                "status": None,
                "error": None,
                "time": time.time(),
            }
            try:
                async with self._session.post(
                    url, data=data, headers=headers, timeout=timeout
                ) as response:
                    await response.read()
                    record["status"] = response.status
            except (aiohttp.ClientError, TimeoutError) as exc:
                record["error"] = repr(exc)
            self.webhook_deliveries.append(record)
            self._touch()
            status = record["status"]
            if status is not None and 200 <= status < 300:
                return True
            if attempt < self.webhook_max_attempts:
                await asyncio.sleep(self.webhook_retry_delay)
        return False
