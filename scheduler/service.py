"""The production clock. APScheduler calls the same `sweep(now)` that the console's virtual
clock calls: every `sweep_seconds`, and once more precisely at the next due reminder."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from channels.sender import Sender
from core.clock import utc_now
from handlers.dispatcher import Dispatcher

log = logging.getLogger(__name__)
WAKE_UP_JOB = "reminders-wake-up"
SWEEP_POLL = 0.2  # seconds between two drains while a long sweep runs
# The first tick waits a moment after the start: the updates waiting at the platform are
# answered first, not queued behind the first sweep and the backlog's first claims (on
# SQLite, which has one writer, they waited 1-2 s at national size).
FIRST_TICK_AFTER = timedelta(seconds=2)


class ReminderScheduler:
    def __init__(self, dispatcher: Dispatcher, sender: Sender, sweep_seconds: int = 30,
                 clock: Callable[[], datetime] = utc_now) -> None:
        self.dispatcher = dispatcher
        self.sender = sender
        self.sweep_seconds = sweep_seconds
        self.clock = clock
        self.scheduler = AsyncIOScheduler(timezone=UTC)
        self._stop = asyncio.Event()
        self._ticks: set[asyncio.Future] = set()

    async def tick(self) -> int:
        """Send what is due now, drain the outbox, and set the next precise wake-up. The
        sender starts on the first swept batches while the sweep goes on with the rest.

        The work runs shielded: stopping (the scheduler cancels its running jobs) lets it
        end at its next batch instead of cancelling it inside a database call, which could
        leave a connection that never closes."""
        work = asyncio.ensure_future(self._tick())
        self._ticks.add(work)
        work.add_done_callback(self._ticks.discard)
        return await asyncio.shield(work)

    async def _tick(self) -> int:
        now = self.clock()
        sweeping = asyncio.ensure_future(self.dispatcher.sweep(now, self._stop))
        try:
            while not sweeping.done():
                await self.sender.drain(now, stop=self._stop)
                await asyncio.wait({sweeping}, timeout=SWEEP_POLL)
        finally:  # cancelled after all: the sweep stops too
            sweeping.cancel()
        sent = sweeping.result()
        await self.sender.drain(now, stop=self._stop)
        upcoming = await self.dispatcher.next_due(now)
        if upcoming is not None and self.scheduler.running:
            self.scheduler.add_job(self.tick, "date", run_date=max(upcoming, now),
                                   id=WAKE_UP_JOB, replace_existing=True,
                                   misfire_grace_time=None)
        return sent

    def start(self) -> None:
        self.scheduler.add_job(self.tick, "interval", seconds=self.sweep_seconds,
                               id="reminders-sweep", coalesce=True, max_instances=1,
                               next_run_time=self.clock() + FIRST_TICK_AFTER)
        self.scheduler.start()

    async def stop(self) -> None:
        """Stop scheduling and wait until a tick in progress has ended its current batch, so
        that nothing uses the database after the caller closes it."""
        self._stop.set()
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        if self._ticks:
            await asyncio.wait(set(self._ticks))
