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
