"""What every channel adapter offers the sender."""

from __future__ import annotations

from collections import OrderedDict
from typing import Generic, Protocol, TypeVar

from core.messages import Outgoing


class ChannelAdapter(Protocol):
    name: str

    async def send(self, message: Outgoing) -> str:
        """Deliver `message`; return the platform's id of the (first) message sent."""
        ...


K = TypeVar("K")
V = TypeVar("V")
RECENT = 2_000  # what an adapter remembers of its latest sends, for transcript printing


class Recent(OrderedDict[K, V], Generic[K, V]):
    """A map that keeps only its `limit` newest entries: what an adapter notes about messages
    it sent (a photo's file name, an offered upload link) is read back moments later by the
    transcript printer, and a bot running for months must not keep it for every message."""

    def __init__(self, limit: int = RECENT) -> None:
        super().__init__()
        self.limit = limit

    def __setitem__(self, key: K, value: V) -> None:
        super().__setitem__(key, value)
        self.move_to_end(key)
        while len(self) > self.limit:
            self.popitem(last=False)


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
