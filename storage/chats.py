"""What the channels ask the bot about a chat (through `channels.host`): who writes, whether
they are in a guided conversation, the bot's latest message delivered there, what a message
was about, whether a one-time link was used."""

from __future__ import annotations

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage import repositories
from storage.models import Assignment, Dialogue, Outbox, SeenEvent, Target


async def in_dialogue(session: AsyncSession, channel: str, user_id: str) -> bool:
    """Whether the member with this channel identity has a guided conversation open."""
    member = await repositories.member_by_identity(session, channel, user_id)
    return member is not None and await session.get(Dialogue, member.id) is not None


async def latest_delivered(session: AsyncSession, channel: str, chat_id: str,
                           with_buttons: bool = False) -> Outbox | None:
    """The bot's latest message delivered to `chat_id` (with buttons, if asked)."""
    query = select(Outbox).where(
        Outbox.channel == channel, Outbox.chat_id == chat_id,
        col(Outbox.platform_message_id).is_not(None))
    if with_buttons:
        query = query.where(Outbox.buttons != "")
    return (await session.exec(query.order_by(col(Outbox.id).desc()).limit(1))).first()


async def replied_target(session: AsyncSession, channel: str, chat_id: str,
                         message_id: str) -> int | None:
    """The target the bot's message `message_id` in `chat_id` was about, if any."""
    row = await repositories.bot_message(session, channel, chat_id, message_id)
    return row.target_id if row is not None else None


async def once_used(session: AsyncSession, channel: str, key: str) -> bool:
    """Whether an event with this `once_key` (or update key) was handled already."""
    return (await session.exec(select(SeenEvent).where(
        SeenEvent.channel == channel, SeenEvent.key == key))).first() is not None


async def assignment_of(session: AsyncSession, target_id: int) -> Assignment | None:
    target = await session.get(Target, target_id)
    return await session.get(Assignment, target.assignment_id) if target is not None else None
