"""What the channels are given of the bot (`channels.host`): `Runtime` takes these methods,
so an adapter is handed the runtime and sees only the protocol it declares."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.admin import add_member
from app.config import Settings
from channels.host import Menu, SentMessage, Uploader
from channels.host import Replies as HostReplies
from channels.sender import Sender
from core.files import FileProblem
from core.i18n import Translator
from core.messages import Incoming, buttons_from_json
from handlers import router, start
from handlers.common import task_line
from handlers.dispatcher import Dispatcher, Replies
from handlers.files import problem_text
from storage import chats, repositories
from storage.filestore import FileStore
from storage.models import Member

MENU_PAGE = 500  # members whose menus are read at a time (a national registry: 150,000)


class HostSide:
    """`channels.host.ConsoleHost` and `UploadHost` over the runtime's pieces."""

    settings: Settings
    sessions: async_sessionmaker[AsyncSession]
    files: FileStore
    dispatcher: Dispatcher

    @property
    def default_language(self) -> str:
        return self.settings.default_language

    async def handle(self, event: Incoming, now: datetime,
                     replies: HostReplies | None = None) -> bool:
        assert replies is None or isinstance(replies, Replies)  # made by `replies` below
        return await self.dispatcher.handle(event, now, replies)

    def replies(self, sender: Sender) -> Replies:
        return self.dispatcher.replies(sender)

    async def reply_once(self, event: Incoming, render: Callable[[Translator], str],
                         now: datetime) -> bool:
        return await self.dispatcher.reply_once(event, render, now)

    async def tell(self, member_id: int, text: str, now: datetime) -> None:
        await self.dispatcher.tell(member_id, text, now)

    async def chat_moved(self, channel: str, old: str, new: str, now: datetime) -> None:
        await self.dispatcher.chat_moved(channel, old, new, now)

    async def special_menus(self, channel: str, chat_id: str | None = None) -> list[Menu]:
        if chat_id is not None:
            async with self.sessions() as session:
                return await start.special_menus(session, channel, chat_id)
        menus: list[Menu] = []
        after: int | None = 0
        while after is not None:  # a page of members at a time, each in a short session
            async with self.sessions() as session:
                page, after = await start.special_menus_page(session, channel, after,
                                                             MENU_PAGE)
            menus += page
        return menus

    async def claim_menus(self, channel: str, menus: Sequence[Menu]) -> list[Menu]:
        wanted = {chat: f"{language}:{','.join(names)}" for chat, language, names in menus}
        async with self.sessions() as session, session.begin():
            claimed = await chats.claim_menus(session, channel, wanted)
        return [menu for menu in menus if menu[0] in claimed]

    async def forget_menu(self, channel: str, chat_id: str) -> None:
        async with self.sessions() as session, session.begin():
            await chats.forget_menu(session, channel, chat_id)

    def keeps_buttons(self, payload: str) -> bool:
        return router.keeps_buttons(payload)

    async def in_dialogue(self, channel: str, user_id: str) -> bool:
        async with self.sessions() as session:
            return await chats.in_dialogue(session, channel, user_id)

    async def latest_delivered(self, channel: str, chat_id: str,
                               with_buttons: bool = False) -> SentMessage | None:
        async with self.sessions() as session:
            row = await chats.latest_delivered(session, channel, chat_id, with_buttons)
        if row is None or row.platform_message_id is None:
            return None
        return SentMessage(row.platform_message_id, tuple(buttons_from_json(row.buttons)))

    # --- the console runs the clock

    async def sweep(self, now: datetime) -> int:
        return await self.dispatcher.sweep(now)

    async def next_due(self, after: datetime) -> datetime | None:
        return await self.dispatcher.next_due(after)

    def translator(self, language: str | None = None) -> Translator:
        return self.dispatcher.translator(language)

    async def adopt_first_user(self, channel: str, user: str, now: datetime) -> bool:
        async with self.sessions() as session, session.begin():
            if (await session.exec(select(Member).limit(1))).first() is not None:
                return False
            for role in ("admin", "staff", "leader"):
                await add_member(session, user, channel, role, now)
        return True

    # --- the upload page

    async def uploader(self, channel: str, user_id: str) -> Uploader | None:
        async with self.sessions() as session:
            member = await repositories.member_by_identity(session, channel, user_id)
        return _uploader(member) if member is not None else None

    async def uploader_by_id(self, member_id: int) -> Uploader | None:
        async with self.sessions() as session:
            member = await session.get(Member, member_id)
        if member is None or member.channel_user_id.startswith("removed:"):
            return None
        return _uploader(member)

    async def replied_target(self, channel: str, chat_id: str, message_id: str) -> int | None:
        async with self.sessions() as session:
            return await chats.replied_target(session, channel, chat_id, message_id)

    async def once_used(self, channel: str, key: str) -> bool:
        async with self.sessions() as session:
            return await chats.once_used(session, channel, key)

    async def task_line(self, t: Translator, target_id: int) -> str:
        async with self.sessions() as session:
            assignment = await chats.assignment_of(session, target_id)
        return task_line(t, assignment) if assignment is not None else ""

    def problem_text(self, t: Translator, name: str, problem: FileProblem) -> str:
        return problem_text(t, name, problem)


def _uploader(member: Member) -> Uploader:
    assert member.id is not None
    return Uploader(member.id, member.channel, member.channel_user_id, member.chat_id,
                    member.display_name, member.language)
