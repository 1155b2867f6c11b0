"""Members and their memberships: who reports for or staffs a unit, invites, the command
menus of members, and what the bot knows of reaching them (an unreachable member's units,
the messages that wait for them, a chat that moved)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, update
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import Invite, Member, Membership, Outbox, Unit
from storage.queries import dialect_of, for_change, one_of

# --- who reports for or staffs a unit ------------------------------------------------------


async def members_with_role(session: AsyncSession, unit_id: int, role: str) -> list[Member]:
    """The members who have `role` in unit `unit_id`, by id."""
    query = (
        select(Member)
        .join(Membership, col(Membership.member_id) == col(Member.id))
        .where(Membership.unit_id == unit_id, Membership.role == role)
        .order_by(col(Member.id))
    )
    return list((await session.exec(query)).unique().all())


async def role_holders_in(session: AsyncSession, unit_ids: list[int], role: str
                          ) -> list[tuple[int, int, str, str, str]]:
    """(unit id, member id, channel, chat id, language) of the members who have `role` in
    any of `unit_ids`: plain rows, by member id within each chunk of units (all of them at
    once on PostgreSQL, `one_of`)."""
    rows: list[tuple[int, int, str, str, str]] = []
    for of_units in one_of(col(Membership.unit_id), unit_ids, dialect_of(session)):
        rows.extend((await session.exec(
            select(Membership.unit_id, Member.id, Member.channel,  # type: ignore[call-overload]
                   Member.chat_id, Member.language)
            .join(Member, col(Membership.member_id) == col(Member.id))
            .where(of_units, Membership.role == role)
            .order_by(col(Member.id)))).all())
    return rows


async def staff_in(session: AsyncSession, unit_ids: list[int]) -> list[tuple[int, Member]]:
    """(unit id, member) of the staff attached to any of `unit_ids` (the ids in chunks on
    SQLite, at once on PostgreSQL, `one_of`)."""
    rows: list[tuple[int, Member]] = []
    for of_units in one_of(col(Membership.unit_id), unit_ids, dialect_of(session)):
        rows.extend((await session.exec(
            select(Membership.unit_id, Member)
            .join(Member, col(Membership.member_id) == col(Member.id))
            .where(of_units, Membership.role == "staff"))).all())  # type: ignore[arg-type]
    return rows


async def staff_of_units(session: AsyncSession, unit_ids: list[int]) -> list[Member]:
    """The staff attached to any of `unit_ids`, each once, by id."""
    return list((await session.exec(
        select(Member).join(Membership, col(Membership.member_id) == col(Member.id))
        .where(col(Membership.unit_id).in_(unit_ids),
               Membership.role == "staff").order_by(col(Member.id)))).unique().all())


# --- invites and joining ---------------------------------------------------------------


async def is_invite(session: AsyncSession, code: str) -> bool:
    """Whether `code` (in capitals) is an invite's code."""
    return (await session.exec(select(Invite.id).where(
        func.upper(Invite.code) == code))).first() is not None


async def invite_to_use(session: AsyncSession, code: str) -> Invite | None:
    """The invite of `code` (in capitals), its row locked and read afresh: two people
    joining with a single-use code at the same moment take turns."""
    return (await session.exec(for_change(select(Invite).where(
        func.upper(Invite.code) == code)))).first()


async def membership(session: AsyncSession, member_id: int | None, unit_id: int | None,
                     role: str) -> Membership | None:
    """The member's membership of the unit in `role`, if they have it."""
    return (await session.exec(select(Membership).where(
        Membership.member_id == member_id, Membership.unit_id == unit_id,
        Membership.role == role))).first()


# --- command menus -----------------------------------------------------------------------

MenuRow = tuple[int | None, str, str, str]  # member id, chat id, language, role


async def menu_rows_in_chat(session: AsyncSession, channel: str, chat_id: str
                            ) -> Sequence[MenuRow]:
    """(member id, chat id, language, role) of each role of the members of a chat."""
    return (await session.exec(select(Member.id, Member.chat_id, Member.language,
                                      Membership.role)
                               .join(Membership, col(Membership.member_id) == Member.id)
                               .where(Member.channel == channel,
                                      Member.chat_id == chat_id))).all()


async def member_ids_after(session: AsyncSession, channel: str, after: int,
                           limit: int) -> Sequence[int | None]:
    """The ids of the next `limit` members on `channel` after member `after`, by id."""
    return (await session.exec(select(Member.id).where(
        Member.channel == channel, col(Member.id) > after).order_by(col(Member.id))
        .limit(limit))).all()


async def menu_rows_between(session: AsyncSession, channel: str, after: int,
                            last: int) -> Sequence[MenuRow]:
    """`menu_rows_in_chat` of the members on `channel` with ids after `after` up to
    `last`."""
    return (await session.exec(select(Member.id, Member.chat_id, Member.language,
                                      Membership.role)
                               .join(Membership, col(Membership.member_id) == Member.id)
                               .where(Member.channel == channel, col(Member.id) > after,
                                      col(Member.id) <= last))).all()


# --- reaching members --------------------------------------------------------------------


async def reporter_units(session: AsyncSession, member_id: int | None) -> list[Unit]:
    """The units the member reports for, by code."""
    return list((await session.exec(
        select(Unit).join(Membership, col(Membership.unit_id) == col(Unit.id))
        .where(Membership.member_id == member_id, Membership.role == "reporter")
        .order_by(col(Unit.code)))).all())


async def reporters_reach(session: AsyncSession, unit_ids: list[int]
                          ) -> Sequence[tuple[int, datetime | None]]:
    """(unit id, unreachable since) of each reporter of `unit_ids`."""
    return (await session.exec(
        select(Membership.unit_id, Member.unreachable_since)
        .join(Member, col(Member.id) == col(Membership.member_id))
        .where(col(Membership.unit_id).in_(unit_ids),
               Membership.role == "reporter"))).all()  # type: ignore[return-value]


async def waiting_reminders(session: AsyncSession, member_id: int | None
                            ) -> Sequence[tuple[int | None, int | None]]:
    """(outbox id, target id) of the reminders still waiting to be sent to the member in
    private, in the order they were queued: what piled up while they were unreachable."""
    return (await session.exec(
        select(Outbox.id, Outbox.target_id).where(
            Outbox.member_id == member_id, col(Outbox.sent_at).is_(None),
            col(Outbox.reminder_id).is_not(None), col(Outbox.is_group).is_(False))
        .order_by(col(Outbox.id)))).all()


async def drop_waiting(session: AsyncSession, outbox_ids: list[int | None]) -> None:
    """Delete the waiting outbox rows `outbox_ids` (reminders superseded by later ones)."""
    await session.exec(delete(Outbox).where(col(Outbox.id).in_(outbox_ids)))


async def readdress_waiting(session: AsyncSession, member_id: int | None,
                            chat_id: str) -> None:
    """Send the member's waiting private messages to `chat_id`, their chat now."""
    await session.exec(update(Outbox).where(
        col(Outbox.member_id) == member_id, col(Outbox.sent_at).is_(None),
        col(Outbox.is_group).is_(False)).values(chat_id=chat_id))


async def move_chat(session: AsyncSession, channel: str, old: str, new: str) -> None:
    """The chat `old` on `channel` is `new` now: its messages, sent or not, and the members
    whose chat it was follow it."""
    await session.exec(update(Outbox).where(
        col(Outbox.channel) == channel, col(Outbox.chat_id) == old).values(chat_id=new))
    await session.exec(update(Member).where(
        col(Member.channel) == channel, col(Member.chat_id) == old).values(chat_id=new))
