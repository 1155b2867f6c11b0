"""Durable inbound: a channel's updates are recorded before the platform is told they
arrived, then handled by the process that recorded them.

`Inbox.receive` records a batch in one commit (Telegram confirms the polling offset, a
webhook answers 200, only after it returns) and queues the new updates; an update recorded
before (the platform delivered it twice) records nothing and is not queued. The handling
callback translates an update and runs it through the dispatcher with the update's
`inbox_id`, which marks it handled in the transaction of its effects: a process killed in
between leaves it unhandled, and the next process (or another worker, once the claim is
released or its lease runs out) handles it.

Updates are handled in the order received, one chat's one after another. Given `chat_of`
(the chat of an update's payload) and `lanes` > 1, updates of different chats are handled
side by side, up to `lanes` at once: on PostgreSQL one update's statements wait for the
database while another's run. (On SQLite, with its one writer, `bot.py` keeps one lane.)
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from handlers.dispatcher import Dispatcher
from storage import inbox
from storage.db import short

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=5)  # a claim older than this is taken by any worker
RECOVER_EVERY = 5.0  # seconds between two looks for updates nobody handles
KEEP = timedelta(days=7)  # handled updates are kept this long (re-deliveries come sooner)
LANES = 4  # updates of different chats in hand at once, where the database allows it

# The adapter's callback: True when the update went through the dispatcher (which marked it
# handled with its effects).
Handle = Callable[[int, Any], Awaitable[bool]]
ChatOf = Callable[[Any], str]  # the chat of an update's payload (its updates keep their order)


class Inbox:
    """One channel's inbox in this process. `handle(inbox_id, payload)` is the adapter's:
    it translates the update and hands the event (with `inbox_id`) to the dispatcher."""

    def __init__(self, dispatcher: Dispatcher, channel: str, handle: Handle, worker: str,
                 is_gone: Callable[[str], bool], clock: Callable[[], datetime],
                 lease: timedelta = LEASE, recover_every: float = RECOVER_EVERY,
                 chat_of: ChatOf | None = None, lanes: int = 1) -> None:
        self.dispatcher = dispatcher
        self.channel = channel
        self.handle = handle
        self.worker = worker
        self.is_gone = is_gone
        self.clock = clock
        self.lease = lease
        self.recover_every = recover_every
        self.chat_of = chat_of
        self.lanes = lanes if chat_of is not None else 1
        self.duplicates = 0  # updates the platform delivered again (recorded nothing)
        self._waiting: deque[tuple[int, Any, str]] = deque()  # (id, payload, chat)
        self._in_hand: dict[int, str] = {}  # updates being handled: id → chat
        self._changed = asyncio.Event()  # an update was queued or finished, or stopping
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False
        self._quiet = asyncio.Event()  # nothing queued and nothing in hand
        self._quiet.set()
        self._recovering = False
        self._last_recovery = 0.0
        self._last_forget = 0.0

    @property
    def sessions(self):  # noqa: ANN201
        return self.dispatcher.sessions

    async def receive(self, updates: Sequence[tuple[str, Any]]) -> int:
        """Record `updates` (key, payload) in one commit and queue the new ones; returns how
        many were new."""
        if not updates:
            return 0
        async with self.sessions() as session, short(session):
            ids = await inbox.record(session, self.channel, updates, self.clock(), self.worker)
        for row_id, (_, payload) in zip(ids, updates, strict=True):
            if row_id is None:
                self.duplicates += 1
            else:
                self._put(row_id, payload)
        return sum(row_id is not None for row_id in ids)

    def _put(self, row_id: int, payload: Any) -> None:
        chat = self.chat_of(payload) if self.chat_of is not None else ""
        self._waiting.append((row_id, payload, chat))
        self._quiet.clear()
        self._changed.set()

    async def start(self) -> None:
        """Queue what earlier processes left unhandled, then start handling."""
        await self.recover()
        self._stopping = False
        self._tasks = [asyncio.create_task(self._work(), name=f"{self.channel}-inbox-{lane}")
                       for lane in range(self.lanes)]

    async def stop(self) -> None:
        """Stop after the updates in hand; the queued ones are given back (recorded, they are
        handled by the next process or another worker)."""
        tasks, self._tasks = self._tasks, []
        self._stopping = True
        self._changed.set()
        if tasks:
            await asyncio.wait(tasks)
        left = [row_id for row_id, _, _ in self._waiting]
        self._waiting.clear()
        if left:
            async with self.sessions() as session, session.begin():
                await inbox.release(session, left, self.worker)

    async def settled(self) -> None:
        """Wait until every queued update was handled (for tests and transcripts)."""
        await self._quiet.wait()

    async def recover(self) -> int:
        """Claim the updates left unhandled by workers that are gone (or whose lease ran
        out) and queue them; returns how many."""
        now = self.clock()
        self._last_recovery = time.monotonic()
        async with self.sessions() as session, session.begin():
            await inbox.release_gone(session, self.channel,
                                     lambda w: w != self.worker and self.is_gone(w))
            rows = await inbox.claim(session, self.channel, self.worker, now, self.lease)
            if time.monotonic() - self._last_forget > 3600:
                self._last_forget = time.monotonic()
                await inbox.forget(session, now - KEEP)
        # Never one this worker holds (`inbox.claim`), but maybe one it gave back while still
        # in hand (its handling failed): queued again, it waits behind it for its chat.
        for row in rows:
            assert row.id is not None
            self._put(row.id, json.loads(row.payload))
        if rows:
            log.info("%s: %d update(s) left unhandled are handled now", self.channel, len(rows))
        return len(rows)

    def _take(self) -> tuple[int, Any, str] | None:
        """The first queued update whose chat has none in hand."""
        busy = set(self._in_hand.values())
        for index, item in enumerate(self._waiting):
            if item[2] not in busy:
                del self._waiting[index]
                self._in_hand[item[0]] = item[2]
                return item
        return None

    async def _work(self) -> None:
        while not self._stopping:
            item = self._take()
            if item is None:
                self._changed.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), self.recover_every)
            else:
                try:
                    await self._one(item[0], item[1])
                finally:
                    del self._in_hand[item[0]]
                    self._changed.set()
            if not self._waiting and not self._in_hand:
                self._quiet.set()
            if time.monotonic() - self._last_recovery > self.recover_every \
                    and not self._recovering and not self._stopping:
                self._recovering = True
                try:
                    await self.recover()
                except Exception:  # the database away for a moment: look again later
                    log.exception("%s: looking for unhandled updates failed", self.channel)
                finally:
                    self._recovering = False

    async def _one(self, row_id: int, payload: Any) -> None:
        """Handle one update; one the adapter answered without the dispatcher (or not at
        all) is marked handled here. One whose handling raised is given back to be tried
        again (up to `inbox.MAX_ATTEMPTS` times)."""
        try:
            dispatched = await self.handle(row_id, payload)
        except Exception:
            log.exception("%s: update %d failed; it will be tried again", self.channel, row_id)
            with contextlib.suppress(Exception):
                async with self.sessions() as session, short(session):
                    await inbox.release(session, [row_id], self.worker, failed=True)
            return
        if dispatched:
            return
        try:
            async with self.sessions() as session, short(session):
                await inbox.mark_handled(session, row_id, self.clock())
        except Exception:  # left unhandled: the next look takes it again
            log.exception("%s: marking update %d handled failed", self.channel, row_id)
            with contextlib.suppress(Exception):
                async with self.sessions() as session, short(session):
                    await inbox.release(session, [row_id], self.worker, failed=True)


__all__ = ["Inbox"]
