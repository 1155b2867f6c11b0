"""What every channel adapter offers the sender."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from core.messages import Outgoing


@dataclass(frozen=True)
class ChannelSettings:
    """A chat platform's settings (`[telegram]`, `[zalo]` in `app.config`)."""

    token: str = ""
    base_url: str = ""
    base_file_url: str = ""
    mode: str = "polling"  # polling | webhook
    webhook_listen: str = "127.0.0.1"
    webhook_port: int = 8443
    webhook_url: str = ""
    webhook_secret: str = ""
    messages_per_second: float = 30.0
    per_chat_per_second: float = 1.0
    per_group_per_minute: float = 20.0
    max_download_mb: int = 20


@dataclass(frozen=True)
class WebSettings:
    """The bot's web server (`[web]`): the upload page and links to files."""

    listen: str = "127.0.0.1"
    port: int = 8080
    public_url: str = ""  # how users reach it, e.g. https://baocao.example.vn
    link_minutes: int = 30  # lifetime of an upload link
    file_link_days: int = 30  # lifetime of a link to a file the bot sends on Zalo


class ChannelAdapter(Protocol):
    name: str

    async def send(self, message: Outgoing) -> str:
        """Deliver `message`; return the platform's id of the (first) message sent."""
        ...


class Watcher:
    """Told what an adapter did beyond what the outbox records. A running bot keeps this
    default, which ignores it all, so that the adapter keeps nothing of its updates or sends;
    the transcript sessions (`testing`) watch to know when an injected update is done and
    how to print what was sent."""

    def handled(self, updates: int = 1) -> None:
        """`updates` more updates were handled, or found handled before (sent again)."""

    def sent_photo(self, chat_id: str, message_id: str, name: str) -> None:
        """A file went out as a photo, which the platform shows without its name."""

    def sent_piece(self, chat_id: str, message_id: str) -> None:
        """A piece of a text too long for one message: the next message carries on."""


class RetryLater(Exception):
    """The platform asked to slow down (429 retry_after) or failed for now."""

    def __init__(self, seconds: float, reason: str = "") -> None:
        super().__init__(reason or f"retry after {seconds}s")
        self.seconds = seconds


class Unreachable(Exception):
    """The platform refuses for good to deliver to this chat: the person blocked the bot or
    never opened it (a bot may not write first), or the bot left the group. Sending again
    is pointless until the person writes to the bot."""

    def __init__(self, kind: str, reason: str = "") -> None:
        super().__init__(reason or kind)
        self.kind = kind  # blocked | not_started | gone
        self.reason = reason


class ChatMoved(Exception):
    """The chat lives on under another id (a Telegram group upgraded to a supergroup)."""

    def __init__(self, new_chat_id: str) -> None:
        super().__init__(f"the chat moved to {new_chat_id}")
        self.new_chat_id = new_chat_id


def split_text(text: str, limit: int) -> list[str]:
    """`text` in pieces of at most `limit` characters, cut at line ends when possible."""
    pieces: list[str] = []
    while len(text) > limit:
        cut = text.rfind("\n", 0, limit + 1)
        if cut <= 0:
            cut = limit
        pieces.append(text[:cut])
        text = text[cut:].lstrip("\n")
    if text or not pieces:
        pieces.append(text)
    return pieces
