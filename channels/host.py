"""What a chat adapter needs of the bot that runs it, and nothing more: events in, the
sender and the inbox, and a few answers about a chat. `app.bootstrap.Runtime` implements it;
a test may pass a stand-in. The adapters import neither `app` nor `storage`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from channels.base import ChannelAdapter, WebSettings
from channels.ratelimit import Limits
from channels.sender import Sender
from core.files import FileProblem
from core.i18n import Translator
from core.messages import Button, Incoming

# The adapter's callback for a recorded update: True when the update went through the
# dispatcher (which marked it handled with its effects).
Handle = Callable[[int, Any], Awaitable[bool]]
ChatOf = Callable[[Any], str]  # the chat of an update's payload: its updates keep their order
# (chat id, language, command names) of a chat whose menu is not the default one.
Menu = tuple[str, str, tuple[str, ...]]


@dataclass(frozen=True)
class SentMessage:
    """A bot message the sender delivered: its platform id and its buttons."""

    message_id: str
    buttons: tuple[Button, ...] = ()


class Inbox(Protocol):
    """A channel's durable inbox (`handlers.inbox.Inbox`)."""

    async def receive(self, updates: Sequence[tuple[str, Any]]) -> int: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class Replies(Protocol):
    """An event's replies handed to this process's sender (`Host.replies`): claimed in the
    event's transaction with their slots (`rows`), sent right after its commit; `rest`: other
    messages were queued, which the normal drain sends."""

    rows: list[tuple[Any, float]]
    rest: bool


class Host(Protocol):
    """What the Telegram and Zalo adapters use of the bot."""

    @property
    def default_language(self) -> str: ...

    def sender(self, adapters: Mapping[str, ChannelAdapter],
               limits: Mapping[str, Limits] | None = None) -> Sender: ...

    def inbox(self, channel: str, handle: Handle, clock: Callable[[], datetime],
              chat_of: ChatOf | None = None) -> Inbox:
        """The channel's inbox; with `chat_of`, updates of different chats may be handled
        side by side (`handle` must then keep no state of one update on the adapter)."""
        ...

    async def handle(self, event: Incoming, now: datetime,
                     replies: Replies | None = None) -> bool:
        """Run one user action; False when its update or `once_key` was handled before.
        With `replies` (from `replies`), its replies are handed to the caller's sender."""
        ...

    def replies(self, sender: Sender) -> Replies:
        """A hand-off of an event's replies to `sender` for `handle`."""
        ...

    async def reply_once(self, event: Incoming, render: Callable[[Translator], str],
                         now: datetime) -> bool:
        """Answer the event with the adapter's own words, rendered in the sender's language,
        through the outbox, and mark it handled; False when it was handled before."""
        ...

    async def chat_moved(self, channel: str, old: str, new: str, now: datetime) -> None: ...

    async def special_menus(self, channel: str, chat_id: str | None = None) -> list[Menu]:
        """The chats (all, or only `chat_id`) whose members' roles call for their own menu."""
        ...

    async def claim_menus(self, channel: str, menus: Sequence[Menu]) -> list[Menu]:
        """Those of `menus` not published as they are now: recorded as published, so that
        no other process (and no restart) publishes them again."""
        ...

    async def forget_menu(self, channel: str, chat_id: str) -> None:
        """A claimed menu the platform refused: to be published at the next look."""
        ...

    def keeps_buttons(self, payload: str) -> bool:
        """Whether a pressed button leaves its message's buttons in place."""
        ...

    async def in_dialogue(self, channel: str, user_id: str) -> bool:
        """Whether the member with this channel identity is in a guided conversation."""
        ...

    async def latest_delivered(self, channel: str, chat_id: str,
                               with_buttons: bool = False) -> SentMessage | None:
        """The bot's latest message delivered to `chat_id` (with buttons, if asked)."""
        ...


class ConsoleHost(Host, Protocol):
    """The console also runs the bot's clock: it sweeps reminders itself."""

    async def sweep(self, now: datetime) -> int: ...

    async def next_due(self, after: datetime) -> datetime | None: ...

    def translator(self, language: str | None = None) -> Translator: ...

    async def adopt_first_user(self, channel: str, user: str, now: datetime) -> bool:
        """On a database with no members yet, make `user` admin, staff and leader; True
        when it did."""
        ...


@dataclass(frozen=True)
class Uploader:
    """A member as the upload page knows them."""

    member_id: int
    channel: str
    user_id: str
    chat_id: str
    display_name: str
    language: str


class PageSettings(Protocol):
    """The settings the web server reads (`app.config.Settings` has them)."""

    @property
    def web(self) -> WebSettings: ...

    @property
    def secret_key(self) -> str: ...

    @property
    def default_language(self) -> str: ...

    @property
    def max_file_mb(self) -> int: ...

    @property
    def max_file_bytes(self) -> int: ...


class Files(Protocol):
    """The content-addressed file store: bytes in, a digest out, and back."""

    def put(self, data: bytes) -> str: ...

    def get(self, sha256: str) -> bytes: ...


class UploadHost(Protocol):
    """What the web server (the upload page, links to files) uses of the bot."""

    @property
    def settings(self) -> PageSettings: ...

    @property
    def files(self) -> Files: ...

    async def handle(self, event: Incoming, now: datetime) -> bool: ...

    async def tell(self, member_id: int, text: str, now: datetime) -> None:
        """Queue `text` to the member's chat through the outbox (a channel then drains)."""
        ...

    async def uploader(self, channel: str, user_id: str) -> Uploader | None:
        """The member with this channel identity, None for a stranger."""
        ...

    async def uploader_by_id(self, member_id: int) -> Uploader | None:
        """The member, None when there is none or they were removed."""
        ...

    async def replied_target(self, channel: str, chat_id: str, message_id: str) -> int | None:
        """The target the bot's message `message_id` in `chat_id` was about, if any."""
        ...

    async def once_used(self, channel: str, key: str) -> bool:
        """Whether an event with this `once_key` was handled already."""
        ...

    async def task_line(self, t: Translator, target_id: int) -> str:
        """«#N «title»» of the task of the target, "" when there is none."""
        ...

    def problem_text(self, t: Translator, name: str, problem: FileProblem) -> str:
        """What to tell the user about a refused file."""
        ...
