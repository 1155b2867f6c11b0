"""What every channel adapter offers the sender."""

from __future__ import annotations

from typing import Protocol

from core.messages import Outgoing


class ChannelAdapter(Protocol):
    name: str

    async def send(self, message: Outgoing) -> str:
        """Deliver `message`; return the platform's id of the (first) message sent."""
        ...


class RetryLater(Exception):
    """The platform asked to slow down (429 retry_after) or failed for now."""

    def __init__(self, seconds: float, reason: str = "") -> None:
        super().__init__(reason or f"retry after {seconds}s")
        self.seconds = seconds


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
