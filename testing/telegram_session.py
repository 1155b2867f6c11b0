"""`.chat` transcripts played through the real Telegram adapter (python-telegram-bot's HTTP
stack) against the local Bot API emulator: each console user becomes a Telegram user with a
private chat."""

from __future__ import annotations

import mimetypes
from datetime import datetime
from typing import Any, TextIO

from app.bootstrap import Runtime
from app.config import ChannelSettings
from channels.console import Delivered
from channels.telegram import CHANNEL, TelegramAdapter
from core.messages import Button, Incoming
from testing.emulators.telegram_api import TelegramEmulator
from testing.platform import PlatformSession, rewrite_members_add


class TelegramSession(PlatformSession):
    """The transcript session protocol of `channels.console.Player`, over Telegram."""

    platform = "Telegram"

    def __init__(self, runtime: Runtime, out: TextIO, start: datetime | None = None) -> None:
        super().__init__(runtime, out, start)
        self.emulator = TelegramEmulator(bot_username="baocao_bot")
        self.adapter: TelegramAdapter | None = None
        self.ids: dict[str, int] = {}
        self.names: dict[int, str] = {}
        self._seen = 0  # emulator calls already turned into Delivered lines

    async def start(self) -> None:
        await self.emulator.start()
        settings = ChannelSettings(
            token=self.emulator.token, base_url=self.emulator.base_url,
            base_file_url=self.emulator.base_file_url,
            # no sending limits in transcripts, so that tests stay fast
            messages_per_second=0, per_chat_per_second=0, per_group_per_minute=0,
        )
        self.adapter = TelegramAdapter(self.runtime, settings, clock=lambda: self.now)
        self.adapter.watcher = self.notes
        await self.adapter.start()
        self._seen = len(self.emulator.calls)

    async def stop(self) -> None:
        if self.adapter is not None:
            await self.adapter.stop()
        await self.emulator.stop()

    def user_id(self, name: str) -> int:
        """The stable Telegram id of console user `name` (in order of appearance)."""
        if name not in self.ids:
            uid = 1001 + len(self.ids)
            self.ids[name] = uid
            self.names[uid] = name
            self.emulator.add_user(uid, name)
        return self.ids[name]

    def rewrite_admin(self, args: list[str]) -> list[str]:
        return rewrite_members_add(args, CHANNEL, lambda name: str(self.user_id(name)))

    # --- the session protocol the Player drives

    async def send(self, event: Incoming) -> None:
        """Play a console user's action as the Telegram client would."""
        uid = self.user_id(event.user_id)
        emu = self.emulator
        reply = int(event.reply_to) if event.reply_to else None
        if event.button is not None:
            message_id = int(event.button_message_id or 0)
            current = {m["message_id"]: m for m in emu.bot_messages(uid)}
            # A button already taken off its message (pressed before) is a double tap whose
            # second callback reaches Telegram before the edit, as happens with real clients.
            await emu.inject_callback(uid, message_id, event.button,
                                      check_button=_shown(current.get(message_id)))
        elif event.file is not None:
            caption = event.text or None
            if event.file.is_photo:
                await emu.inject_photo(uid, event.file.data, caption=caption,
                                       reply_to_message_id=reply)
            else:
                mime = mimetypes.guess_type(event.file.name)[0] or "application/octet-stream"
                await emu.inject_document(uid, event.file.name, event.file.data, mime,
                                          caption=caption, reply_to_message_id=reply)
        else:
            await emu.inject_text(uid, event.text, reply_to_message_id=reply)
        await self.settle()

    def collect(self) -> None:
        """Print the bot's new messages (edits of earlier ones print nothing)."""
        calls = self.emulator.calls
        for call in calls[self._seen:]:
            if call.method not in ("sendMessage", "sendDocument", "sendPhoto") or not call.ok:
                continue
            message = call.result
            chat_id = message["chat"]["id"]
            markup = message.get("reply_markup", {}).get("inline_keyboard", [])
            file_name = None
            if "document" in message:
                file_name = message["document"].get("file_name")
            elif "photo" in message:
                file_name = self.notes.photos.get((str(chat_id), str(message["message_id"])),
                                                  "photo.jpg")
            item = Delivered(
                message_id=str(message["message_id"]),
                to=self.names.get(chat_id, str(chat_id)),
                at=self.now,
                text=message.get("text") or message.get("caption") or "",
                buttons=tuple(Button(b["text"], b.get("callback_data", ""))
                              for row in markup for b in row),
                file_name=file_name,
            )
            self.delivered.append(item)
            for line in item.lines():
                print(line, file=self.out)
        self._seen = len(calls)


def _shown(message: dict[str, Any] | None) -> bool:
    """Whether the bot's message still shows an inline keyboard."""
    return bool(message and message.get("reply_markup", {}).get("inline_keyboard"))
