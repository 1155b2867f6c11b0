"""Wiring in one place: the engine, migrations, file store, dispatcher and sender. The
`Runtime` is also what the channel adapters are given of the bot (`channels.host.Host`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.admin import add_member
from app.config import Settings
from channels.base import ChannelAdapter
from channels.host import SentMessage
from channels.ratelimit import Limits
from channels.sender import Sender, is_gone, worker_name
from core.i18n import Translator
from core.messages import Incoming
from handlers import router, start
from handlers.context import buttons_of
from handlers.dispatcher import Dispatcher
from handlers.inbox import Handle, Inbox
from storage import chats, db
from storage.filestore import FileStore
from storage.models import Member


@dataclass
class Runtime:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    files: FileStore
    dispatcher: Dispatcher

    @classmethod
    async def open(cls, settings: Settings, *, migrate: bool = True) -> Runtime:
        engine = db.create_engine(settings.database_url)
        if migrate:
            await db.upgrade(engine)
        sessions = db.session_factory(engine)
        files = FileStore(settings.files_dir)
        return cls(settings, engine, sessions, files, Dispatcher(settings, sessions, files))

    def sender(self, adapters: Mapping[str, ChannelAdapter],
               limits: Mapping[str, Limits] | None = None) -> Sender:
        return Sender(self.sessions, self.files, adapters, limits=limits,
                      on_refused=self.dispatcher.refused, on_moved=self.dispatcher.chat_moved)

    def inbox(self, channel: str, handle: Handle, clock: Callable[[], datetime]) -> Inbox:
        """The inbox of `channel` in this process; `handle` is its adapter's callback."""
        return Inbox(self.dispatcher, channel, handle, worker_name(), is_gone, clock)

    async def close(self) -> None:
        await self.engine.dispose()

    # ------------------------------------------------ what the adapters use (channels.host)

    @property
    def default_language(self) -> str:
        return self.settings.default_language

    async def handle(self, event: Incoming, now: datetime) -> bool:
        return await self.dispatcher.handle(event, now)

    async def claim_once(self, event: Incoming, now: datetime) -> bool:
        return await self.dispatcher.claim_once(event, now)

    async def chat_moved(self, channel: str, old: str, new: str, now: datetime) -> None:
        await self.dispatcher.chat_moved(channel, old, new, now)

    async def special_menus(self, channel: str,
                            chat_id: str | None = None) -> list[tuple[str, str, tuple[str, ...]]]:
        async with self.sessions() as session:
            return await start.special_menus(session, channel, chat_id)

    def keeps_buttons(self, payload: str) -> bool:
        return router.keeps_buttons(payload)

    async def in_dialogue(self, channel: str, user_id: str) -> bool:
        async with self.sessions() as session:
            return await chats.in_dialogue(session, channel, user_id)

    async def latest_delivered(self, channel: str, chat_id: str,
                               with_buttons: bool = False) -> SentMessage | None:
        async with self.sessions() as session:
            row = await chats.latest_delivered(session, channel, chat_id, with_buttons)
        if row is None or row.platform_message_id is None:
            return None
        return SentMessage(row.platform_message_id, tuple(buttons_of(row)))

    async def sweep(self, now: datetime) -> int:
        return await self.dispatcher.sweep(now)

    async def next_due(self, after: datetime) -> datetime | None:
        return await self.dispatcher.next_due(after)

    def translator(self, language: str | None = None) -> Translator:
        return self.dispatcher.translator(language)

    async def adopt_first_user(self, channel: str, user: str, now: datetime) -> bool:
        async with self.sessions() as session, session.begin():
            if (await session.exec(select(Member).limit(1))).first() is not None:
                return False
            for role in ("admin", "staff", "leader"):
                await add_member(session, user, channel, role, now)
        return True
