"""What the channels ask the bot about a chat (through `channels.host`): who writes, whether
they are in a guided conversation, the bot's latest message delivered there, what a message
was about, whether a one-time link was used, which command menus are to be published."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage import repositories
from storage.models import Assignment, Dialogue, Outbox, PublishedMenu, SeenEvent, Target


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


async def claim_menus(session: AsyncSession, channel: str, menus: Mapping[str, str]) -> set[str]:
    """Of `menus` (chat id → menu), the chats whose published menu is another: recorded as
    published in this transaction, so that no other process publishes them too; the caller
    publishes them (and `forget_menu`s one the platform refuses)."""
    if not menus:
        return set()
    dialect = session.bind.dialect.name  # type: ignore[union-attr]
    insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(PublishedMenu)
    statement = insert.values([{"channel": channel, "chat_id": chat, "menu": menu}
                               for chat, menu in sorted(menus.items())])
    changed = statement.on_conflict_do_update(
        index_elements=["channel", "chat_id"], set_={"menu": statement.excluded.menu},
        where=col(PublishedMenu.menu) != statement.excluded.menu,
    ).returning(col(PublishedMenu.chat_id))
    return {chat for chat, in (await session.exec(changed)).all()}


async def forget_menu(session: AsyncSession, channel: str, chat_id: str) -> None:
    """The menu of `chat_id` was not published after all: the next look publishes it."""
    await session.exec(delete(PublishedMenu).where(
        col(PublishedMenu.channel) == channel, col(PublishedMenu.chat_id) == chat_id))
