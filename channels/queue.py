"""What the sender needs of the outbox and of the shared rate-limit keys, and nothing more.
`storage.sending.OutboxQueue` implements it; the sender builds no SQL.

A claim is one transaction (`Queue.claiming`): lock the channel's key, select the rows that
wait, read their chats' keys, store the keys the claim moved and mark the rows claimed. A
handled event's replies get their slots the same way inside the event's own transaction
(`Queue.within`)."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Any, Protocol

from core.messages import OutgoingFile, Queued


class Addressed(Protocol):
    """What the slot reservation and the language lookup read of a row: a queued one or a
    handled event's reply not yet committed."""

    @property
    def chat_id(self) -> str: ...

    @property
    def is_group(self) -> bool: ...

    @property
    def member_id(self) -> int | None: ...

    @property
    def buttons(self) -> object: ...


class Claiming(Protocol):
    """One transaction of a claim (or of a handled event) on one channel."""

    async def channel_next(self) -> float:
        """Lock the channel's key until the transaction ends; its next free moment."""
        ...

    async def waiting(self, now: datetime, expired: datetime, limit: int,
                      skip: Collection[int]) -> list[Queued]:
        """Rows that may go now, replies first, but for those claimed after `expired` (a
        live lease), those in `skip` and those of members the platform refuses; locked
        without waiting for rows another claim holds."""
        ...

    async def next_free(self, keys: list[str]) -> dict[str, float]:
        """The next free moment of each key that has one (unknown keys are free)."""
        ...

    async def store(self, moved: Mapping[str, float]) -> None:
        """Move keys forward to these moments (never back)."""
        ...

    async def mark(self, ids: list[int], worker: str, now: datetime) -> None:
        """Mark rows claimed by `worker`."""
        ...

    async def languages(self, member_ids: list[int]) -> dict[int, str]:
        """The chosen language of each member."""
        ...


class Queue(Protocol):
    """The outbox as the sender sees it."""

    def claiming(self, channel: str) -> AbstractAsyncContextManager[Claiming]:
        """A claim's transaction, committed when the block ends."""
        ...

    def within(self, session: Any, channel: str) -> Claiming:
        """The same steps inside a handled event's transaction (`session`)."""
        ...

    async def record(self, sent: Mapping[datetime, Mapping[int, str]]) -> None:
        """Record rows as sent, in one transaction: at each moment, row id → message id."""
        ...

    async def release(self, row_id: int, error: str | None, failed: bool) -> None:
        """Give a claimed row back to the queue; `failed` counts an attempt."""
        ...

    async def release_all(self, row_ids: list[int]) -> None:
        """Give claimed rows back to the queue as they were (their slots were missed)."""
        ...

    async def give_up(self, row_id: int, error: str) -> None:
        """Never send the row again."""
        ...

    async def pause(self, channel: str, until: Mapping[str, float]) -> None:
        """A 429: lock the channel's key and move these keys (the channel's, a chat's)."""
        ...

    async def recover(self, gone: Callable[[str], bool]) -> None:
        """Release the claims of the workers that are `gone`."""
        ...

    async def languages(self, member_ids: list[int]) -> dict[int, str]:
        """The chosen language of each member, read outside any claim."""
        ...

    async def file_of(self, row: Queued) -> OutgoingFile:
        """The stored file the row carries, under the name it is sent with."""
        ...
