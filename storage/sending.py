"""The outbox queue as the sender sees it (`channels.queue.Queue`): claims of a channel's
waiting rows, the shared rate-limit keys (`rate_limit`, see `channels.ratelimit`), what
became of each row sent, and the stored file a row carries.

A claim's rows are taken with `FOR UPDATE SKIP LOCKED` on PostgreSQL (SQLite serialises
writers with `BEGIN IMMEDIATE`); the channel's key is locked first, so the reservations of
all processes are serialised."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Collection, Mapping
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, or_, text, update
from sqlalchemy import select as select_columns
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from core.messages import OutgoingFile, Queued, buttons_from_json
from storage.db import Sessions, short
from storage.filestore import FileStore
from storage.models import Member, Outbox, RateLimit, StoredFile

MAX_ATTEMPTS = 10  # failed sending attempts before a row is given up


def _is_postgresql(session: AsyncSession) -> bool:
    return session.bind.dialect.name == "postgresql"  # type: ignore[union-attr]


def _insert(session: AsyncSession):
    return (postgresql.insert if _is_postgresql(session) else sqlite.insert)(RateLimit)


async def lock_channel(session: AsyncSession, channel: str) -> float:
    """Lock the channel's key for this transaction; returns its next free moment."""
    await session.exec(_insert(session).values(key=channel, next_at=0.0)
                       .on_conflict_do_nothing(index_elements=["key"]))
    row = (await session.exec(select(RateLimit).where(RateLimit.key == channel)
                              .with_for_update())).one()
    return row.next_at


async def next_free(session: AsyncSession, keys: list[str]) -> dict[str, float]:
    """The next free moment of each key that has one (unknown keys are free)."""
    if not keys:
        return {}
    rows = await session.exec(select(RateLimit).where(col(RateLimit.key).in_(keys)))
    return {row.key: row.next_at for row in rows.all()}


# Moving the keys of a claim (a lane's, and one per chat: 1,000 at national size) is one
# statement of one shape whatever their number: the rows go as one parameter. A VALUES list
# compiled anew for each count, and every count was kept in the statement cache, its
# parameters objects that each full pass of the collector walked.
_STORE = {
    "postgresql": text(
        "INSERT INTO rate_limit (key, next_at) "
        "SELECT * FROM unnest(CAST(:keys AS VARCHAR[]), CAST(:ats AS DOUBLE PRECISION[])) "
        "ON CONFLICT (key) DO UPDATE "
        "SET next_at = greatest(rate_limit.next_at, excluded.next_at)"),
    "sqlite": text(
        "INSERT INTO rate_limit (key, next_at) "
        "SELECT value ->> 0, value ->> 1 FROM json_each(:rows) WHERE true "
        "ON CONFLICT (key) DO UPDATE SET next_at = max(rate_limit.next_at, excluded.next_at)"),
}


_SENT_AT = bindparam("at", type_=Outbox.__table__.c.sent_at.type)  # type: ignore[attr-defined]
RECORD_POSTGRESQL = (  # `storage.inbox` runs it with an update's mark as handled
    "UPDATE outbox SET sent_at = :at, error = NULL, platform_message_id = m.message_id "
    "FROM unnest(CAST(:ids AS BIGINT[]), CAST(:message_ids AS VARCHAR[])) "
    "AS m(id, message_id) WHERE outbox.id = m.id")
_RECORD = {
    "postgresql": text(RECORD_POSTGRESQL).bindparams(_SENT_AT),
    "sqlite": text(
        "UPDATE outbox SET sent_at = :at, error = NULL, platform_message_id = m.value ->> 1 "
        "FROM json_each(:rows) AS m WHERE outbox.id = m.value ->> 0").bindparams(_SENT_AT),
}


async def store(session: AsyncSession, values: Mapping[str, float]) -> None:
    """Set keys to these moments (a key only moves forward)."""
    if not values:
        return
    items = sorted(values.items())
    if _is_postgresql(session):
        params: dict[str, object] = {"keys": [key for key, _ in items],
                                     "ats": [at for _, at in items]}
        statement = _STORE["postgresql"]
    else:
        params = {"rows": json.dumps(items)}
        statement = _STORE["sqlite"]
    await session.exec(statement, params=params)  # type: ignore[call-overload]


async def record(session: AsyncSession, sent: Mapping[datetime, Mapping[int, str]]) -> None:
    """Record rows as sent (at each moment, row id → the platform's message id)."""
    # One statement per moment, not one per row (SQLite's driver steps each row of an
    # executemany with the GIL taken again, slow in a busy process), and of one shape
    # whatever the number of rows (`_STORE`).
    on_postgresql = _is_postgresql(session)
    for at, messages in sent.items():
        if on_postgresql:
            params: dict[str, object] = {"ids": list(messages),
                                         "message_ids": list(messages.values())}
        else:
            params = {"rows": json.dumps(list(messages.items()))}
        await session.exec(_RECORD["postgresql" if on_postgresql else "sqlite"],
                           params={"at": at, **params})  # type: ignore[call-overload]


def queued(row: Any) -> Queued:
    """The sender's view of an outbox row: the ORM object, or its `_QUEUED` columns."""
    assert row.id is not None
    return Queued(id=row.id, channel=row.channel, chat_id=row.chat_id, is_group=row.is_group,
                  member_id=row.member_id, text=row.text,
                  buttons=buttons_from_json(row.buttons), file_id=row.file_id,
                  file_name=row.file_name, error=row.error, priority=row.priority)


_QUEUED = [Outbox.__table__.c[name] for name in (  # type: ignore[attr-defined]
    "id", "channel", "chat_id", "is_group", "member_id", "text", "buttons", "file_id",
    "file_name", "error", "priority")]  # the columns `queued` reads


async def _languages(session: AsyncSession, member_ids: list[int]) -> dict[int, str]:
    query = select(Member.id, Member.language).where(col(Member.id).in_(member_ids))
    return dict((await session.exec(query)).all())  # type: ignore[arg-type]


class Claiming:
    """One transaction of a claim, or of a handled event, on one channel."""

    def __init__(self, session: AsyncSession, channel: str) -> None:
        self.session = session
        self.channel = channel

    async def channel_next(self) -> float:
        return await lock_channel(self.session, self.channel)

    async def waiting(self, now: datetime, expired: datetime, limit: int,
                      skip: Collection[int]) -> list[Queued]:
        # Plain columns, not ORM objects: a claim holds the channel's key (and on SQLite the
        # database's write lock) while it reads, and a national claim reads 1,000 rows.
        query = select_columns(*_QUEUED).where(
            col(Outbox.sent_at).is_(None),
            col(Outbox.channel) == self.channel,
            col(Outbox.attempts) < MAX_ATTEMPTS,
            or_(col(Outbox.not_before).is_(None), col(Outbox.not_before) <= now),
            or_(col(Outbox.claimed_by).is_(None), col(Outbox.claimed_at) < expired),
            # A member the platform refuses gets nothing until they write again (a group
            # row that answered them is the group's).
            or_(col(Outbox.member_id).is_(None), col(Outbox.is_group).is_(True),
                col(Outbox.member_id).not_in(
                    select(Member.id).where(col(Member.unreachable_since).is_not(None)))),
        )
        if skip:
            query = query.where(col(Outbox.id).not_in(skip))
        query = query.order_by(col(Outbox.priority), col(Outbox.id)).limit(limit)
        if _is_postgresql(self.session):
            query = query.with_for_update(skip_locked=True)
        return [queued(row) for row in await (await self.session.connection()).execute(query)]

    async def next_free(self, keys: list[str]) -> dict[str, float]:
        return await next_free(self.session, keys)

    async def store(self, moved: Mapping[str, float]) -> None:
        await store(self.session, moved)

    async def mark(self, ids: list[int], worker: str, now: datetime) -> None:
        await self.session.exec(
            update(Outbox)
            .where(col(Outbox.id).in_(ids))
            .values(claimed_by=worker, claimed_at=now)
        )

    async def languages(self, member_ids: list[int]) -> dict[int, str]:
        return await _languages(self.session, member_ids)


class OutboxQueue:
    """The outbox of one database, and the file store its rows' files are kept in."""

    def __init__(self, sessions: Sessions, files: FileStore) -> None:
        self.sessions = sessions
        self.files = files

    @asynccontextmanager
    async def claiming(self, channel: str) -> AsyncIterator[Claiming]:
        async with self.sessions() as session, session.begin():
            yield Claiming(session, channel)

    def within(self, session: AsyncSession, channel: str) -> Claiming:
        return Claiming(session, channel)

    async def record(self, sent: Mapping[datetime, Mapping[int, str]]) -> None:
        async with self.sessions() as session, short(session):
            await record(session, sent)

    async def release(self, row_id: int, error: str | None, failed: bool) -> None:
        values: dict[str, object] = {"claimed_by": None, "error": error}
        if failed:
            values["attempts"] = Outbox.attempts + 1
        async with self.sessions() as session, short(session):
            await session.exec(update(Outbox).where(col(Outbox.id) == row_id).values(**values))

    async def release_all(self, row_ids: list[int]) -> None:
        async with self.sessions() as session, short(session):
            await session.exec(update(Outbox).where(col(Outbox.id).in_(row_ids))
                               .values(claimed_by=None))

    async def give_up(self, row_id: int, error: str) -> None:
        async with self.sessions() as session, short(session):
            await session.exec(update(Outbox).where(col(Outbox.id) == row_id).values(
                claimed_by=None, error=error, attempts=MAX_ATTEMPTS))

    async def pause(self, channel: str, until: Mapping[str, float]) -> None:
        async with self.sessions() as session, session.begin():
            await lock_channel(session, channel)
            await store(session, until)

    async def recover(self, gone: Callable[[str], bool]) -> None:
        async with self.sessions() as session, session.begin():
            workers = (await session.exec(
                select(Outbox.claimed_by).where(
                    col(Outbox.sent_at).is_(None), col(Outbox.claimed_by).is_not(None))
                .distinct()
            )).all()
            dead = [w for w in workers if w and gone(w)]
            if dead:
                await session.exec(
                    update(Outbox)
                    .where(col(Outbox.claimed_by).in_(dead), col(Outbox.sent_at).is_(None))
                    .values(claimed_by=None)
                )

    async def languages(self, member_ids: list[int]) -> dict[int, str]:
        async with self.sessions() as session:
            return await _languages(session, member_ids)

    async def file_of(self, row: Queued) -> OutgoingFile:
        async with self.sessions() as session:
            stored = await session.get(StoredFile, row.file_id)
        assert stored is not None
        return OutgoingFile(name=row.file_name or stored.original_name,
                            data=self.files.get(stored.sha256), mime_type=stored.mime_type)
