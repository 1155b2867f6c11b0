"""The sender drains the outbox: it claims unsent rows, hands them to their channel adapter,
and records the platform's message id so that a later reply maps back to its task."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Mapping
from datetime import datetime, timedelta

from sqlalchemy import or_, update
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from channels.base import ChannelAdapter, RetryLater
from core.messages import Outgoing, OutgoingFile
from handlers.context import buttons_of
from storage.filestore import FileStore
from storage.models import Member, Outbox, StoredFile

log = logging.getLogger(__name__)

CLAIM_TIMEOUT = timedelta(minutes=5)
MAX_ATTEMPTS = 10


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class Sender:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        files: FileStore,
        adapters: Mapping[str, ChannelAdapter],
        worker: str | None = None,
    ) -> None:
        self.sessions = sessions
        self.files = files
        self.adapters = adapters
        self.worker = worker or worker_name()

    async def _claim(self, now: datetime, limit: int) -> list[Outbox]:
        """Claim up to `limit` unsent rows (interactive replies first) for this worker."""
        async with self.sessions() as session, session.begin():
            query = (
                select(Outbox)
                .where(
                    col(Outbox.sent_at).is_(None),
                    col(Outbox.channel).in_(list(self.adapters)),
                    Outbox.attempts < MAX_ATTEMPTS,
                    or_(
                        col(Outbox.claimed_by).is_(None),
                        col(Outbox.claimed_at) < now - CLAIM_TIMEOUT,
                    ),
                )
                .order_by(col(Outbox.priority), col(Outbox.id))
                .limit(limit)
            )
            if session.bind.dialect.name == "postgresql":  # type: ignore[union-attr]
                query = query.with_for_update(skip_locked=True)
            rows = list((await session.exec(query)).all())
            if rows:
                await session.exec(
                    update(Outbox)
                    .where(col(Outbox.id).in_([r.id for r in rows]))
                    .values(claimed_by=self.worker, claimed_at=now, attempts=Outbox.attempts + 1)
                )
            return rows

    async def _render(self, row: Outbox) -> Outgoing:
        file = None
        if row.file_id is not None:
            async with self.sessions() as session:
                stored = await session.get(StoredFile, row.file_id)
            assert stored is not None
            file = OutgoingFile(
                name=row.file_name or stored.original_name,
                data=self.files.get(stored.sha256),
                mime_type=stored.mime_type,
            )
        extra = {}
        if row.buttons and row.member_id is not None:  # choices may be written out in words
            async with self.sessions() as session:
                member = await session.get(Member, row.member_id)
            if member is not None:
                extra["language"] = member.language
        return Outgoing(chat_id=row.chat_id, text=row.text, buttons=tuple(buttons_of(row)),
                        file=file, extra=extra)

    async def drain(self, now: datetime, limit: int = 100) -> int:
        """Send everything that is waiting; returns the number of messages sent."""
        sent = 0
        while True:
            rows = await self._claim(now, limit)
            if not rows:
                return sent
            for row in rows:
                try:
                    message_id = await self.adapters[row.channel].send(await self._render(row))
                except RetryLater as exc:
                    await self._release(row, str(exc))
                    await asyncio.sleep(min(exc.seconds, 30))
                    continue
                except Exception as exc:  # a platform failure must not stop the queue
                    log.exception("sending outbox row %s failed", row.id)
                    await self._release(row, repr(exc)[:500])
                    continue
                async with self.sessions() as session, session.begin():
                    await session.exec(
                        update(Outbox)
                        .where(col(Outbox.id) == row.id)
                        .values(sent_at=now, platform_message_id=message_id, error=None)
                    )
                sent += 1
            if len(rows) < limit:
                return sent

    async def _release(self, row: Outbox, error: str) -> None:
        async with self.sessions() as session, session.begin():
            await session.exec(
                update(Outbox)
                .where(col(Outbox.id) == row.id)
                .values(claimed_by=None, error=error)
            )
