"""The inbox's queries: platform updates recorded as they arrive, claimed by one worker,
marked handled with their effects (`storage.models.InboundUpdate`).

Claims are conditional updates (`claimed_by` empty or its lease run out) and, on
PostgreSQL, the candidates are read with `FOR UPDATE SKIP LOCKED`, so two workers never
take the same update; marking it handled is conditional too (`handled_at IS NULL`), in the
transaction of its effects, so an update is handled once even if two workers got it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, delete, or_, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage import sending
from storage.models import InboundUpdate

MAX_ATTEMPTS = 5  # failed handlings of one update before it is given up
KEY_LENGTH = 128


def _dialect(session: AsyncSession) -> str:
    return session.bind.dialect.name  # type: ignore[union-attr]


async def record(session: AsyncSession, channel: str, updates: Sequence[tuple[str, Any]],
                 now: datetime, worker: str) -> list[int | None]:
    """Record `updates` (key, JSON-able payload) claimed by `worker`; returns the id of
    each, None for one recorded before (it records nothing). One statement for the batch
    (a getUpdates answer holds up to 100): it holds the write lock the updates' handling
    waits for."""
    keys = [key[:KEY_LENGTH] for key, _ in updates]
    rows = [dict(channel=channel, key=key, received_at=now, attempts=0,
                 payload=json.dumps(payload, ensure_ascii=False), claimed_by=worker,
                 claimed_at=now) for key, (_, payload) in zip(keys, updates, strict=True)]
    insert = pg_insert if _dialect(session) == "postgresql" else sqlite_insert
    table = InboundUpdate.__table__  # type: ignore[attr-defined]
    statement = insert(table).on_conflict_do_nothing(index_elements=["channel", "key"]
                                                     ).returning(table.c.key, table.c.id)
    connection = await session.connection()
    new: dict[str, int] = dict((await connection.execute(statement, rows)).all())
    ids: list[int | None] = []
    for key in keys:  # a key twice in one batch: the second is a duplicate too
        ids.append(new.pop(key, None))
    return ids


async def claim(session: AsyncSession, channel: str, worker: str, now: datetime,
                lease: timedelta, limit: int = 50) -> list[InboundUpdate]:
    """Claim unhandled updates of `channel` that nobody holds (or whose holder's lease ran
    out), oldest first. `worker`'s own claims are in its queue already."""
    free = or_(col(InboundUpdate.claimed_by).is_(None),
               and_(col(InboundUpdate.claimed_at) < now - lease,
                    col(InboundUpdate.claimed_by) != worker))
    candidates = select(InboundUpdate.id).where(
        col(InboundUpdate.handled_at).is_(None), InboundUpdate.channel == channel,
        InboundUpdate.attempts < MAX_ATTEMPTS, free,
    ).order_by(col(InboundUpdate.id)).limit(limit)
    if _dialect(session) == "postgresql":
        candidates = candidates.with_for_update(skip_locked=True)
    ids = list((await session.exec(candidates)).all())
    if not ids:
        return []
    claimed = (await session.exec(
        update(InboundUpdate)
        .where(col(InboundUpdate.id).in_(ids), col(InboundUpdate.handled_at).is_(None), free)
        .values(claimed_by=worker, claimed_at=now)
        .returning(col(InboundUpdate.id)))).all()
    taken = sorted(int(row[0]) for row in claimed)
    rows = (await session.exec(select(InboundUpdate).where(
        col(InboundUpdate.id).in_(taken)).order_by(col(InboundUpdate.id)))).all()
    return list(rows)


# Built once: it runs for every update (an ORM update statement is built, keyed for the
# statement cache and evaluated against the session each time).
_TABLE = InboundUpdate.__table__  # type: ignore[attr-defined]
_MARK_HANDLED = (update(_TABLE)
                 .where(_TABLE.c.id == bindparam("update_id"), _TABLE.c.handled_at.is_(None))
                 .values(handled_at=bindparam("now", type_=_TABLE.c.handled_at.type)))


# On PostgreSQL, with the acknowledgements of the replies sent meanwhile (one moment's):
# one statement, not two, in every handled update's transaction.
_MARK_HANDLED_RECORDING = text(
    f"WITH recorded AS ({sending.RECORD_POSTGRESQL}) "
    "UPDATE inbound_update SET handled_at = :now "
    "WHERE inbound_update.id = :update_id AND inbound_update.handled_at IS NULL").bindparams(
        bindparam("at", type_=_TABLE.c.handled_at.type),
        bindparam("now", type_=_TABLE.c.handled_at.type))


async def mark_handled(session: AsyncSession, update_id: int, now: datetime,
                       sent: Mapping[datetime, Mapping[int, str]] | None = None) -> bool:
    """Mark the update handled in the current transaction; False if it was already (on
    PostgreSQL a second transaction waits here for the first one's commit). `sent`: outbox
    rows to record as sent in the same transaction (`sending.record`)."""
    connection = await session.connection()
    if sent and len(sent) == 1 and _dialect(session) == "postgresql":
        [(at, messages)] = sent.items()
        result = await connection.execute(_MARK_HANDLED_RECORDING, {
            "update_id": update_id, "now": now, "at": at, "ids": list(messages),
            "message_ids": list(messages.values())})
        return bool(result.rowcount)
    if sent:
        await sending.record(session, sent)
    result = await connection.execute(_MARK_HANDLED, {"update_id": update_id, "now": now})
    return bool(result.rowcount)


async def unmark_handled(session: AsyncSession, update_id: int) -> None:
    """Undo `mark_handled` in the current transaction: the update's handling goes on after
    the commit and marks it again when it ends (a report file built outside the transaction),
    so a process that dies meanwhile leaves it to be handled again."""
    await session.exec(
        update(InboundUpdate).where(col(InboundUpdate.id) == update_id)
        .values(handled_at=None))


async def release(session: AsyncSession, ids: Sequence[int], worker: str,
                  failed: bool = False) -> None:
    """Give back `worker`'s claims of the unhandled updates `ids` (for any worker to take),
    counting a failed attempt if `failed`. A process killed while handling counts none:
    what it held is handled by the next one, however often that happens."""
    if ids:
        values: dict[str, Any] = {"claimed_by": None}
        if failed:
            values["attempts"] = InboundUpdate.attempts + 1
        await session.exec(
            update(InboundUpdate)
            .where(col(InboundUpdate.id).in_(list(ids)), col(InboundUpdate.claimed_by) == worker,
                   col(InboundUpdate.handled_at).is_(None))
            .values(**values))


async def release_gone(session: AsyncSession, channel: str,
                       is_gone: Callable[[str], bool]) -> int:
    """Give back the claims of workers that no longer run (`is_gone`); returns how many
    workers that was."""
    workers = (await session.exec(select(InboundUpdate.claimed_by).where(
        col(InboundUpdate.handled_at).is_(None), InboundUpdate.channel == channel,
        col(InboundUpdate.claimed_by).is_not(None)).distinct())).all()
    gone = [w for w in workers if w and is_gone(w)]
    if gone:
        await session.exec(
            update(InboundUpdate)
            .where(col(InboundUpdate.claimed_by).in_(gone),
                   col(InboundUpdate.handled_at).is_(None))
            .values(claimed_by=None))
    return len(gone)


async def forget(session: AsyncSession, before: datetime) -> None:
    """Delete the updates handled before `before` (a platform re-delivers within hours)."""
    await session.exec(delete(InboundUpdate).where(
        col(InboundUpdate.handled_at) < before))


__all__ = ["MAX_ATTEMPTS", "claim", "forget", "mark_handled", "record", "release",
           "release_gone", "unmark_handled"]
