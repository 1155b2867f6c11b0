"""The queries of an event's own bookkeeping: whether it was handled before (`once_key`s), who
sent it (the member, their memberships, the units they hold them in and whether they have a
dialogue open, read together), and their dialogue."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, delete, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import Dialogue, Member, Membership, SeenEvent, Unit
from storage.queries import ROW_LOCK

KEY_LENGTH = 128  # `SeenEvent.key`


@dataclass(frozen=True)
class Held:
    """A membership as the member's load reads it: the role and its unit (None for a
    membership of the whole registry), whose kind and parent tell their scope."""

    role: str
    unit_id: int | None  # the membership's own (None: the whole registry)
    unit: Unit | None


class AlreadySeen(Exception):
    """The event's `once_key` is recorded already: it was handled before (or is being
    handled right now by another worker)."""


async def record_once(session: AsyncSession, channel: str, key: str, now: datetime) -> None:
    """Record the `once_key` of an event in the current transaction; raises `AlreadySeen`
    if it was recorded before, or is by a concurrent transaction (the unique key)."""
    key = key[:KEY_LENGTH]
    seen = (await session.exec(select(SeenEvent).where(
        SeenEvent.channel == channel, SeenEvent.key == key))).first()
    if seen is not None:
        raise AlreadySeen(key)
    try:
        async with session.begin_nested():
            session.add(SeenEvent(channel=channel, key=key, seen_at=now))
    except IntegrityError as exc:  # the same update handled concurrently by another worker
        raise AlreadySeen(key) from exc


async def forget_once(session: AsyncSession, channel: str, key: str) -> None:
    """Undo `record_once` in the current transaction."""
    await session.exec(delete(SeenEvent).where(
        col(SeenEvent.channel) == channel, col(SeenEvent.key) == key[:KEY_LENGTH]))


@dataclass(frozen=True)
class MemberLoad:
    """Who sent an event, as `member_with_memberships` reads it."""

    member: Member | None
    held: list[Held]
    in_dialogue: bool  # a dialogue row existed when read (not locked: `locked_dialogue`)


# Built once, with bind parameters: it runs for every event (a statement built anew is keyed
# for the statement cache each time).
_MEMBER_LOAD = (
    select(Member, Membership.role, Membership.unit_id, Unit,  # type: ignore[call-overload]
           Dialogue.member_id)
    .outerjoin(Membership, col(Membership.member_id) == col(Member.id))
    .outerjoin(Unit, col(Unit.id) == col(Membership.unit_id))
    .outerjoin(Dialogue, col(Dialogue.member_id) == col(Member.id))
    .where(col(Member.channel) == bindparam("channel"),
           col(Member.channel_user_id) == bindparam("user_id")))


async def member_with_memberships(session: AsyncSession, channel: str, user_id: str
                                  ) -> MemberLoad:
    """The member who is `user_id` on `channel` (one account per person and channel), what
    they hold and whether they have a dialogue open, in one query. While `held` is kept,
    its units are in the session: a reporter's answer names its unit with no query."""
    rows = (await session.exec(_MEMBER_LOAD, params={
        "channel": channel, "user_id": user_id})).all()
    if not rows:
        return MemberLoad(None, [], False)
    held = [Held(role, unit_id, unit) for _, role, unit_id, unit, _ in rows if role is not None]
    return MemberLoad(rows[0][0], held, rows[0][4] is not None)


async def memberships_of(session: AsyncSession, member_id: int) -> list[Held]:
    """What member `member_id` holds."""
    rows = (await session.exec(
        select(Membership.role, Membership.unit_id, Unit)
        .outerjoin(Unit, col(Unit.id) == col(Membership.unit_id))
        .where(Membership.member_id == member_id))).all()
    return [Held(role, unit_id, unit) for role, unit_id, unit in rows]


async def locked_dialogue(session: AsyncSession, member_id: int) -> Dialogue | None:
    """The member's open dialogue, its row locked and read afresh (after a flush, so its
    changes not yet written are not lost to the re-read)."""
    await session.flush()
    return await session.get(Dialogue, member_id, with_for_update=ROW_LOCK,
                             populate_existing=True)


__all__ = ["AlreadySeen", "Held", "MemberLoad", "forget_once", "locked_dialogue",
           "member_with_memberships", "memberships_of", "record_once"]
