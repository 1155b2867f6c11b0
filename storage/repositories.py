"""The lookups that several use cases make: a task by its number, a member by their channel
identity, a bot message by its platform id. One definition each, so that every caller reads
the same rows the same way."""

from __future__ import annotations

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from core.text import small_number
from storage.models import Assignment, Member, Outbox
from storage.queries import for_change


async def task_by_number(session: AsyncSession, number: int) -> Assignment | None:
    return (await session.exec(select(Assignment).where(Assignment.number == number))).first()


async def task_by_ref(session: AsyncSession, ref: str) -> Assignment | None:
    """Task `#N` (or `N`) as a user writes it; None for anything else or an unknown number.
    Who may see it is the scope service's question (`services.scope.find_task`)."""
    number = small_number(ref.strip().lstrip("#"))
    return await task_by_number(session, number) if number is not None else None


async def member_by_identity(session: AsyncSession, channel: str,
                             user_id: str) -> Member | None:
    """The member who is `user_id` on `channel` (one account per person and channel)."""
    return (await session.exec(select(Member).where(
        Member.channel == channel, Member.channel_user_id == user_id))).first()


async def bot_message(session: AsyncSession, channel: str, chat_id: str,
                      platform_message_id: str, *, lock: bool = False) -> Outbox | None:
    """The outbox row of the bot message `platform_message_id` in a chat (the message a user
    replied to or pressed a button under); with `lock`, its row locked and read afresh."""
    query = select(Outbox).where(
        Outbox.channel == channel, Outbox.chat_id == chat_id,
        Outbox.platform_message_id == platform_message_id).order_by(col(Outbox.id)).limit(1)
    return (await session.exec(for_change(query) if lock else query)).first()
