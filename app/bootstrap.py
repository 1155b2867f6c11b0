"""Wiring in one place: the engine, migrations, file store, dispatcher and sender. The
`Runtime` is also what the channels are given of the bot (`app.host`, `channels.host`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from app.config import Settings
from app.host import HostSide
from channels.base import ChannelAdapter
from channels.ratelimit import Limits
from channels.sender import Sender, is_gone, worker_name
from handlers.dispatcher import Dispatcher
from handlers.inbox import LANES, ChatOf, Handle, Inbox
from storage import db
from storage.filestore import FileStore
from storage.sending import OutboxQueue


@dataclass
class Runtime(HostSide):
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
        return Sender(OutboxQueue(self.sessions, self.files), adapters, limits=limits,
                      on_refused=self.dispatcher.refused, on_moved=self.dispatcher.chat_moved)

    def inbox(self, channel: str, handle: Handle, clock: Callable[[], datetime],
              chat_of: ChatOf | None = None) -> Inbox:
        """The inbox of `channel` in this process; `handle` is its adapter's callback. On
        PostgreSQL, given `chat_of`, it handles `LANES` chats' updates at once; SQLite has
        one writer, so there one update is handled at a time."""
        lanes = LANES if self.engine.dialect.name == "postgresql" else 1
        return Inbox(self.dispatcher, channel, handle, worker_name(), is_gone, clock,
                     chat_of=chat_of, lanes=lanes)

    async def close(self) -> None:
        await self.engine.dispose()
