"""The queries of the outbox's writing side: the rows events queue, and when the earliest
row held back (quiet hours, a day off) may go. The sender's side is `storage.sending`."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import insert, update
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from core.messages import Queued, buttons_from_json
from storage import bulk
from storage.models import Outbox

_TABLE = Outbox.__table__  # type: ignore[attr-defined]
_WRITE = insert(_TABLE).returning(_TABLE.c.id)


async def write(session: AsyncSession, values: dict[str, Any]) -> Queued:
    """Write one outbox row (a Core INSERT ... RETURNING id: no ORM object, no flush) and
    return it as the sender sees it."""
    connection = await session.connection()
    row_id = (await connection.execute(_WRITE, values)).scalar_one()
    return Queued(id=row_id, channel=values["channel"], chat_id=values["chat_id"],
                  is_group=values.get("is_group", False), member_id=values.get("member_id"),
                  text=values["text"], buttons=buttons_from_json(values.get("buttons", "")),
                  file_id=values.get("file_id"), file_name=values.get("file_name"),
                  error=None, priority=values.get("priority", 0))


async def unclaim(session: AsyncSession, row_ids: Sequence[int]) -> None:
    """Give rows written claimed (`write`) back to the normal drain, in their transaction."""
    if row_ids:
        await session.exec(update(Outbox).where(col(Outbox.id).in_(row_ids))
                           .values(claimed_by=None, claimed_at=None))


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
