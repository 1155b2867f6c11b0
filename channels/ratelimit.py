"""Sending limits shared by every bot process, kept in the database.

Design: slot reservation. The table `rate_limit` holds, per key, the wall-clock moment
(Unix seconds) when the next message may go out: one key per channel (the overall limit,
e.g. 30 messages/s) and one per chat (1/s for a person, 20/min for a group; each outbox row
says whether its chat is a group). A sender claims a batch of outbox rows and, in the same
transaction, gives each row a send slot and moves the keys forward. The channel's key is
locked first (`SELECT ... FOR UPDATE` on PostgreSQL; SQLite's `BEGIN IMMEDIATE` takes the
whole database), so reservations of all processes are serialised and never overlap: N
processes together keep to the limit, and each sends at the moments it reserved. Only about
one second of slots (`HORIZON`) is reserved at a time, so an interactive reply, claimed
before bulk rows (`Outbox.priority`), waits at most that long behind a reminder wave. A 429
moves the channel's and the chat's keys to `now + retry_after`, so every process obeys it.

The adapters stay thin: they send and turn a 429 into `RetryLater`; nothing in them counts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import func
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from channels.base import ChannelSettings
from storage.models import RateLimit

HORIZON = 1.0  # seconds of slots a sender reserves ahead
HEADROOM = 0.97  # keep this far under a limit, so network jitter does not cross it


@dataclass(frozen=True)
class Limits:
    """A channel's limits; 0 switches one off."""

    per_second: float = 0.0
    per_chat_per_second: float = 0.0
    per_group_per_minute: float = 0.0

    @classmethod
    def of(cls, settings: ChannelSettings) -> Limits:
        return cls(settings.messages_per_second, settings.per_chat_per_second,
                   settings.per_group_per_minute)

    @property
    def active(self) -> bool:
        return bool(self.per_second or self.per_chat_per_second or self.per_group_per_minute)

    @property
    def interval(self) -> float:
        """Seconds between two messages of the channel."""
        return 1 / (self.per_second * HEADROOM) if self.per_second else 0.0

    def chat_interval(self, chat_id: str, is_group: bool = False) -> float:
        """Seconds between two messages to one chat. A chat is a group when its row says so
        (`Outbox.is_group`, decided from the event that caused the row). An id starting with
        "-" is paced as a group as well: on Telegram only groups and channels have such ids,
        and rows queued before the flag existed say "private". When the two disagree the
        group pace wins: a wrong guess costs a wait, the other way round a 429."""
        group = is_group or chat_id.startswith("-")
        rate = self.per_group_per_minute / 60 if group else self.per_chat_per_second
        return 1 / (rate * HEADROOM) if rate else 0.0

    def batch_size(self, cap: int) -> int:
        """How many rows one reservation may take: about `HORIZON` seconds of sending."""
        return max(1, min(cap, int(self.per_second * HORIZON))) if self.per_second else cap


def chat_key(channel: str, chat_id: str) -> str:
    return f"{channel}:{chat_id}"


def _insert(session: AsyncSession):  # type: ignore[no-untyped-def]
    dialect = session.bind.dialect.name  # type: ignore[union-attr]
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(RateLimit)


async def lock_channel(session: AsyncSession, channel: str) -> float:
    """Lock the channel's key for this transaction; returns its next free moment."""
    await session.exec(_insert(session).values(key=channel, next_at=0.0)  # type: ignore[call-overload]
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


async def store(session: AsyncSession, values: Mapping[str, float]) -> None:
    """Set keys to these moments (a key only moves forward)."""
    if not values:
        return
    insert = _insert(session)
    rows = [{"key": key, "next_at": at} for key, at in sorted(values.items())]
    statement = insert.values(rows)
    await session.exec(statement.on_conflict_do_update(  # type: ignore[call-overload]
        index_elements=["key"],
        set_={"next_at": _greatest(session, statement.excluded.next_at)},
    ))


def _greatest(session: AsyncSession, new):  # type: ignore[no-untyped-def]
    dialect = session.bind.dialect.name  # type: ignore[union-attr]
    pick = func.greatest if dialect == "postgresql" else func.max
    return pick(RateLimit.__table__.c.next_at, new)  # type: ignore[attr-defined]


async def pause(session: AsyncSession, channel: str, chat_id: str, until: float) -> None:
    """A 429: nothing more on this channel and chat before `until`, in every process."""
    await lock_channel(session, channel)
    await store(session, {channel: until, chat_key(channel, chat_id): until})
