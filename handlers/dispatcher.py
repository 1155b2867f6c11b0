"""The application's entry points for channels and the scheduler: `handle(event, now)` runs
one user action in one transaction; `sweep(now)` turns due reminders into messages."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from app.config import Settings
from core.i18n import Translator
from core.messages import Incoming
from handlers import reminders, router
from handlers.context import Context
from storage.filestore import FileStore
from storage.models import Outbox

log = logging.getLogger(__name__)
SWEEP_BATCH = 20  # targets per sweep transaction (short, so senders can commit between)


class Dispatcher:
    def __init__(
        self,
        settings: Settings,
        sessions: async_sessionmaker[AsyncSession],
        files: FileStore,
    ) -> None:
        self.settings = settings
        self.sessions = sessions
        self.files = files

    def context(self, session: AsyncSession, now: datetime, event: Incoming | None = None):
        return Context(session=session, now=now, settings=self.settings, files=self.files,
                       event=event)

    async def handle(self, event: Incoming, now: datetime) -> None:
        """Run one incoming event. Its changes and the messages it causes commit together;
        if anything fails, nothing is written and the user gets a short apology."""
        try:
            async with self.sessions() as session, session.begin():
                ctx = self.context(session, now, event)
                await ctx.load_member()
                await router.route(ctx)
        except Exception:
            log.exception("handling %s failed", event)
            async with self.sessions() as session, session.begin():
                ctx = self.context(session, now, event)
                await ctx.load_member()
                session.add(
                    Outbox(
                        member_id=ctx.member.id if ctx.member else None,
                        channel=event.channel,
                        chat_id=event.chat_id,
                        text=ctx.t("Xin lỗi, đã có lỗi khi xử lý tin nhắn này; chưa có gì được "
                                   "ghi lại. Vui lòng thử lại sau."),
                        created_at=now,
                    )
                )

    async def sweep(self, now: datetime) -> int:
        """Send every reminder due at `now`; returns how many were turned into messages.
        Each batch of targets is one transaction, so other bot processes share a wave."""
        sent = 0
        while True:
            async with self.sessions() as session, session.begin():
                claimed, batch_sent = await reminders.sweep(self.context(session, now), now,
                                                            limit=SWEEP_BATCH)
            sent += batch_sent
            if not claimed:
                return sent

    async def next_due(self, after: datetime) -> datetime | None:
        """The next moment after `after` when the sweep has work (for the virtual clock and
        the precise wake-up)."""
        async with self.sessions() as session:
            return await reminders.next_due(session, after)

    def translator(self, language: str | None = None) -> Translator:
        return Translator(language or self.settings.default_language)
