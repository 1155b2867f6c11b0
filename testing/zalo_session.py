"""`.chat` transcripts played through the real Zalo adapter against the local Zalo Bot API
emulator: each console user becomes a Zalo user with a private chat. `@press` is typed as
the numbered answer, `@file` of a picture is an image event, and `@file` of a document is an
unsupported event followed by an upload through the signed link, as a browser would do it.
The printed lines are the console's: choices lines become `[button]` rows again, file links
become `📎 name`, and the link offers (Zalo only) are not printed."""

from __future__ import annotations

import mimetypes
import re
from datetime import datetime
from typing import Any, TextIO

import httpx

from app.bootstrap import Runtime
from app.config import ChannelSettings
from channels.console import Delivered, ScriptError
from channels.web import WebServer
from channels.zalo import CHANNEL, ZaloAdapter
from core.choices import split_choices
from core.i18n import LANGUAGES, Translator
from core.messages import Button, Incoming
from testing.emulators.zalo_api import ZaloEmulator
from testing.platform import PlatformSession, rewrite_members_add

FILE_LINE = re.compile(r"^📎 (.+): (https?://\S+)$")


class ZaloSession(PlatformSession):
    """The transcript session protocol of `channels.console.Player`, over Zalo."""

    platform = "Zalo"

    def __init__(self, runtime: Runtime, out: TextIO, start: datetime | None = None) -> None:
        super().__init__(runtime, out, start)
        self.emulator = ZaloEmulator()
        self.web = WebServer(runtime, clock=lambda: self.now, port=0)
        self.adapter: ZaloAdapter | None = None
        self.http = httpx.AsyncClient(timeout=30)
        self.ids: dict[str, str] = {}
        self.names: dict[str, str] = {}
        self._seen = 0  # bot messages already turned into Delivered lines
        self._pieces: list[str] = []  # the first parts of a split text

    async def start(self) -> None:
        await self.emulator.start()
        await self.web.start()
        settings = ChannelSettings(
            token=self.emulator.token, base_url=self.emulator.base_url,
            # no sending limits in transcripts, so that tests stay fast
            messages_per_second=0, per_chat_per_second=0, per_group_per_minute=0)
        self.adapter = ZaloAdapter(self.runtime, settings, self.web, clock=lambda: self.now,
                                   poll_seconds=5)
        self.adapter.watcher = self.notes
        await self.adapter.start()

    async def stop(self) -> None:
        await self.emulator.stop()  # answers the adapter's long poll first
        if self.adapter is not None:
            await self.adapter.stop()
        await self.web.stop()
        await self.http.aclose()

    def user_id(self, name: str) -> str:
        """The stable Zalo id of console user `name` (in order of appearance)."""
        if name not in self.ids:
            uid = str(1001 + len(self.ids))
            self.ids[name] = uid
            self.names[uid] = name
            self.emulator.add_user(uid, name)
        return self.ids[name]

    def rewrite_admin(self, args: list[str]) -> list[str]:
        return rewrite_members_add(args, CHANNEL, self.user_id)

    # --- the session protocol the Player drives

    async def send(self, event: Incoming) -> None:
        """Play a console user's action as the Zalo app would."""
        uid = self.user_id(event.user_id)
        emu = self.emulator
        if event.button is not None:
            await emu.inject_text(uid, self._number(event.user_id, event))
        elif event.file is not None and event.file.is_photo:
            await emu.inject_image(uid, event.file.data, caption=event.text or None)
        elif event.file is not None:
            offered = len(self.offers())
            await emu.inject_unsupported(uid)
            await self.settle()
            if len(self.offers()) == offered:
                raise ScriptError("the bot offered no upload link for the file")
            await self.upload(self.offers()[-1], event.file.name, event.file.data, event.text)
            self.collect()
            return
        else:
            await emu.inject_text(uid, event.text)
        await self.settle()

    def _number(self, user: str, event: Incoming) -> str:
        """The numbered answer for a press: only the latest choices can be answered."""
        latest = next((m for m in reversed(self.delivered) if m.to == user and m.buttons), None)
        if latest is None or latest.message_id != event.button_message_id:
            raise ScriptError("on Zalo only the choices of the latest message with choices "
                              "can be answered by number")
        return str(event.button)

    async def upload(self, url: str, name: str, data: bytes, note: str = "") -> httpx.Response:
        """Open the upload page and send the form, as a browser would."""
        page = await self.http.get(url)
        if page.status_code != 200 or 'name="file"' not in page.text:
            raise ScriptError(f"the upload page answered {page.status_code}")
        mime = mimetypes.guess_type(name)[0] or "application/octet-stream"
        return await self.http.post(url, files={"file": (name, data, mime)},
                                    data={"note": note})

    def collect(self) -> None:
        """Print the bot's new messages as the console shows them."""
        assert self.adapter is not None
        messages = self.emulator.bot_messages()
        for message in messages[self._seen:]:
            item = self._delivered(message)
            if item is None:
                continue
            self.delivered.append(item)
            for line in item.lines():
                print(line, file=self.out)
        self._seen = len(messages)

    def offers(self) -> list[str]:
        """The upload links the bot has offered so far, oldest first."""
        return [url for message in self.emulator.bot_messages()
                if (url := self._offered(message)) is not None]

    def _offered(self, message: dict[str, Any]) -> str | None:
        """The upload link a bot message offers, if it is a link offer."""
        found = re.search(rf"{re.escape(self.web.base_url)}/u/\S+", message.get("text") or "")
        return found.group(0) if found else None

    def _delivered(self, message: dict[str, Any]) -> Delivered | None:
        message_id, chat_id = str(message["message_id"]), str(message["chat_id"])
        if self._offered(message) is not None:
            return None
        file_name = None
        if message["type"] == "photo":
            file_name = self.notes.photos.get((chat_id, message_id), "photo.jpg")
            text = message.get("caption") or ""
        else:
            text = message.get("text") or ""
        if (chat_id, message_id) in self.notes.pieces:
            self._pieces.append(text)
            return None
        text, self._pieces = "\n".join([*self._pieces, text]), []
        labels: list[str] = []
        for language in LANGUAGES:
            text, labels = split_choices(Translator(language), text)
            if labels:
                break
        body, _, last = text.rpartition("\n")
        link = FILE_LINE.match(last)
        if link is not None:
            file_name, text = link.group(1), body
        return Delivered(
            message_id=message_id,
            to=self.names.get(chat_id, chat_id),
            at=self.now, text=text, file_name=file_name,
            buttons=tuple(Button(label, str(n)) for n, label in enumerate(labels, start=1)),
        )
