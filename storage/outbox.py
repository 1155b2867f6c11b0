"""The queries of the outbox's writing side: the rows events queue, and when the earliest
row held back (quiet hours, a day off) may go. The sender's side is `storage.sending`."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage import bulk
from storage.models import Outbox


async def write_queued(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Write outbox rows given as plain values (every column that is not null) in bulk
    (`storage.bulk`: COPY on PostgreSQL, one executemany on SQLite): an ORM object per
    message of a wave costs more than the message."""
    if rows:
        await bulk.insert_rows(await session.connection(),
                               Outbox.__table__, rows)  # type: ignore[attr-defined]


async def earliest_waiting(session: AsyncSession, after: datetime) -> datetime | None:
    """When the earliest unsent row held back to a moment after `after` may go."""
    return (await session.exec(select(func.min(Outbox.not_before)).where(
        col(Outbox.sent_at).is_(None), col(Outbox.not_before) > after))).first()
