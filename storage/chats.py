"""What a chat adapter asks the bot about a chat (through `channels.host.Host`): whether the
member writing is in a guided conversation, and the bot's latest message delivered there."""

from __future__ import annotations

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import Dialogue, Member, Outbox


async def in_dialogue(session: AsyncSession, channel: str, user_id: str) -> bool:
    """Whether the member with this channel identity has a guided conversation open."""
    member = (await session.exec(select(Member).where(
        Member.channel == channel, Member.channel_user_id == user_id))).first()
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
