"""Durable inbound: a channel's updates are recorded before the platform is told they
arrived, then handled one after another by the process that recorded them.

`Inbox.receive` records a batch in one commit (Telegram confirms the polling offset, a
webhook answers 200, only after it returns) and queues the new updates; an update recorded
before (the platform delivered it twice) records nothing and is not queued. The handling
callback translates an update and runs it through the dispatcher with the update's
`inbox_id`, which marks it handled in the transaction of its effects: a process killed in
between leaves it unhandled, and the next process (or another worker, once the claim is
released or its lease runs out) handles it. Updates are handled in the order received.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
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

# The adapter's callback: True when the update went through the dispatcher (which marked it
# handled with its effects).
Handle = Callable[[int, Any], Awaitable[bool]]


class Inbox:
    """One channel's inbox in this process. `handle(inbox_id, payload)` is the adapter's:
    it translates the update and hands the event (with `inbox_id`) to the dispatcher."""

    def __init__(self, dispatcher: Dispatcher, channel: str, handle: Handle, worker: str,
                 is_gone: Callable[[str], bool], clock: Callable[[], datetime],
                 lease: timedelta = LEASE, recover_every: float = RECOVER_EVERY) -> None:
        self.dispatcher = dispatcher
        self.channel = channel
        self.handle = handle
        self.worker = worker
        self.is_gone = is_gone
        self.clock = clock
        self.lease = lease
        self.recover_every = recover_every
        self.duplicates = 0  # updates the platform delivered again (recorded nothing)
        self._queue: asyncio.Queue[tuple[int, Any]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._idle = True  # waiting for work, safe to cancel
        self._quiet = asyncio.Event()  # nothing queued and nothing in hand
        self._quiet.set()
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
                self._queue.put_nowait((row_id, payload))
                self._quiet.clear()
        return sum(row_id is not None for row_id in ids)

    async def start(self) -> None:
        """Queue what earlier processes left unhandled, then start handling."""
        await self.recover()
        self._task = asyncio.create_task(self._work(), name=f"{self.channel}-inbox")

    async def stop(self) -> None:
        """Stop after the update in hand; the queued ones are given back (recorded, they are
        handled by the next process or another worker)."""
        task, self._task = self._task, None
        if task is not None:
            if self._idle:
                task.cancel()
            await asyncio.wait({task})
        left = []
        while not self._queue.empty():
            left.append(self._queue.get_nowait()[0])
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
        for row in rows:
            assert row.id is not None
            self._queue.put_nowait((row.id, json.loads(row.payload)))
            self._quiet.clear()
        if rows:
            log.info("%s: %d update(s) left unhandled are handled now", self.channel, len(rows))
        return len(rows)

    async def _work(self) -> None:
        while self._task is not None:
            self._idle = True
            try:
                item = await asyncio.wait_for(self._queue.get(), self.recover_every)
            except TimeoutError:
                item = None
            self._idle = False
            if self._task is None:  # stopping: what was just taken is given back too
                if item is not None:
                    self._queue.put_nowait(item)
                return
            if item is not None:
                await self._one(*item)
            if self._queue.empty():
                self._quiet.set()
            if time.monotonic() - self._last_recovery > self.recover_every:
                try:
                    await self.recover()
                except Exception:  # the database away for a moment: look again later
                    log.exception("%s: looking for unhandled updates failed", self.channel)

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
