"""The sender drains the outbox: it claims unsent rows, hands them to their channel adapter,
and records the platform's message id so that a later reply maps back to its task.

Several bot processes may drain one database. A claim is one transaction (`channels.queue`,
the outbox as the sender sees it): rows are taken with `FOR UPDATE SKIP LOCKED` on
PostgreSQL (SQLite serialises writers with `BEGIN IMMEDIATE`), marked with this worker's
name, and given send slots by the shared limiter (`channels.ratelimit`). A claim left by a
process that died is taken over when its lease runs out, or at once when that process ran on
this host and is gone. The sender builds no SQL: the queue's statements are
`storage.sending`'s.

Exactly once: a message is recorded as sent right after the platform's acknowledgement
(group commit: one statement records every acknowledgement that arrived meanwhile; on a paced
channel the commits of a process are at least `ACK_SPACING` apart, so that a wave's commits
each record a few dozen; a handled event's reply is recorded by the transaction of the next
event this process handles, or on its own after `ACK_HOLD`). A crash before the
acknowledgement leaves the row unsent (it is sent later, never lost); a crash between the
acknowledgement and that commit is the only way a message goes out twice. `Sender.acks`
measures that window.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import os
import socket
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

from channels.base import ChannelAdapter, ChatMoved, RetryLater, Unreachable
from channels.queue import Addressed, Claiming, Queue
from channels.ratelimit import HORIZON, Limits, chat_key, lane_key
from core.messages import Outgoing, Queued

log = logging.getLogger(__name__)

CLAIM_TIMEOUT = timedelta(minutes=1)  # the lease of a claim
CONCURRENCY = 8  # calls in flight per batch at least (they still start at their slots)
IN_FLIGHT = 0.05  # ... and this many seconds of the channel's rate (a call's round trip)
FIRST_CLAIM = 50  # rows in a process's first claim of a paced channel; it grows from there
CLAIM_AHEAD = 0.3  # seconds before a batch's last slot when the next claim is made
CLAIM_LEAD = 0.03  # seconds from the reservation to a claim's first slot at the soonest
# A call this late after its slot is not made (the row goes back to the queue): a process
# that paused (a full collection, a long claim) and then caught up would put its calls beside
# the other processes' at the platform. Each sliding second then holds the slots of at most
# 1 + LATE_CALL seconds, plus one per lane: inside `HEADROOM` at 1,000/s (970 × 1.02 + 8).
LATE_CALL = 0.02
# A claim with more of its rows late than this had too many lanes: the process did not keep
# up with them. Fewer late rows are the machine's jitter (a busy event loop, or no free core,
# wakes a call 20-40 ms late), which as many come with one lane as with eight; giving up a
# lane for them ratcheted two national workers down to a lane each (380/s instead of 770/s).
OVERLOADED = 0.5
LATE_SHARE = 0.1  # ... and with at most a third of this many late, it may take one more
MAX_WAIT = 30.0  # a longer pause (429) ends this drain; the next tick resumes
# A handled event's reply, acknowledged, waits this long for the next event's transaction to
# record it (`take_acknowledged`): in a burst of updates the reply costs no transaction of its own.
ACK_HOLD = 0.05
# On a paced channel, the least time between two acknowledgement commits of a process. At
# 500 messages a second a commit per acknowledgement or two was an eighth of a national
# worker's CPU (and its server's); held this long, each commit records about ten. It widens
# the window in which a crash sends a message twice by as much.
ACK_SPACING = 0.02
RECOVER_EVERY = 5.0  # seconds between two looks for claims of dead local processes


# A member the platform refuses for good: (member id, why: `Unreachable.kind`, now). The
# application marks them unreachable; their rows wait until they write to the bot again.
OnRefused = Callable[[int, str, datetime], Awaitable[None]]
# A chat that lives on under a new id: (channel, old chat id, new chat id, now).
OnMoved = Callable[[str, str, str, datetime], Awaitable[None]]
# A row to give a slot: a queued one, or a handled event's reply (`Sender.reserve`).
Row = TypeVar("Row", bound=Addressed)
# An acknowledgement waiting to be recorded: row id, message id, now, when it came (perf).
Ack = tuple[int, str, datetime, float]
# Told whether the transaction that recorded acknowledgements committed (`take_acknowledged`).
Settle = Callable[[bool], None]


def _settled(committed: bool) -> None:
    """`take_acknowledged`'s answer when it had nothing."""


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def is_gone(worker: str) -> bool:
    """Whether `worker` (host:pid) is a process of this host that no longer runs."""
    host, _, pid = worker.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


@dataclass
class AckWindows:
    """Seconds between a platform's acknowledgement and the commit that records it."""

    count: int = 0
    total: float = 0.0
    longest: float = 0.0
    # The latest windows, for a bench's percentiles; a long-running bot keeps no more.
    samples: deque[float] = field(default_factory=lambda: deque(maxlen=100_000), repr=False)

    def add(self, seconds: float) -> None:
        self.count += 1
        self.total += seconds
        self.longest = max(self.longest, seconds)
        self.samples.append(seconds)

    @property
    def mean(self) -> float:
        return self.total / self.count if self.count else 0.0


@dataclass
class Claim:
    rows: list[tuple[Queued, float]]  # each row with its send slot (Unix seconds)
    wait: float | None = None  # rows wait but none may go yet: seconds until one may
    bounded: bool = False  # the claim's slots or size ran out before the rows waiting did
    lanes: int = 0  # the lanes of the channel's limit it took its slots from
    languages: dict[int, str] = field(default_factory=dict)  # of its rows' members
    wall: float = 0.0  # when the claim was made (Unix seconds)


class _Window:
    """This process's calls of the last second, by when they were answered. A call starts
    only while fewer than the per-second limit were answered within the last second or are
    still running. The platform counted each of them no later than its answer, so it never
    sees more than the limit in a second, however late or bunched the calls reached it."""

    def __init__(self, per_second: float, wall: Callable[[], float]) -> None:
        self.size = max(1, int(per_second))
        self.wall = wall
        self.answered: deque[float] = deque()
        self.running = 0

    async def __aenter__(self) -> None:
        while True:
            now = self.wall()
            while self.answered and self.answered[0] <= now - 1.0:
                self.answered.popleft()
            if len(self.answered) + self.running < self.size:
                break
            await asyncio.sleep(self.answered[0] + 1.0 - now if self.answered else 0.005)
        self.running += 1

    async def __aexit__(self, *exc_info: object) -> None:
        self.running -= 1
        self.answered.append(self.wall())


class Sender:
    def __init__(
        self,
        queue: Queue,
        adapters: Mapping[str, ChannelAdapter],
        worker: str | None = None,
        limits: Mapping[str, Limits] | None = None,
        lease: timedelta = CLAIM_TIMEOUT,
        wall: Callable[[], float] = time.time,
        on_refused: OnRefused | None = None,
        on_moved: OnMoved | None = None,
    ) -> None:
        self.queue = queue
        self.on_refused = on_refused
        self.on_moved = on_moved
        self.adapters = adapters
        self.worker = worker or worker_name()
        self.limits = {name: lim for name, lim in (limits or {}).items() if lim.active}
        self.lease = lease
        self.wall = wall
        self.acks = AckWindows()
        self.rate_limited = 0  # RetryLater (429) answers received
        self._last_call: dict[str, float] = {}
        self._chat_free: dict[str, float] = {}  # chat key → when its next call may start
        self._windows: dict[str, _Window] = {}
        self._acknowledged: list[Ack] = []  # of `_record`'s group commit
        self._held: list[Ack] = []  # replies' acknowledgements: see `_record_later`
        self._hold: asyncio.Future[None] | None = None  # commits `_held` after `ACK_HOLD`
        self._claim_size: dict[str, int] = {}  # channel → rows of this process's next claim
        self._lanes: dict[str, int] = {}  # channel → lanes of its limit the next claim takes
        self._reply_languages: dict[int, str] = {}  # row id → language, for `send_claimed`
        # Acknowledgements being recorded, or held by an update's transaction (its future
        # answers whether that committed): see `_record_later` and `take_acknowledged`.
        self._recording_later: set[asyncio.Future[Any]] = set()
        self._recording = asyncio.Lock()
        self._recorded_at = 0.0  # perf_counter of `_record`'s last commit

    async def _claim(self, channel: str, now: datetime, limit: int, skip: set[int]) -> Claim:
        """Claim rows of `channel` (interactive replies first) and reserve their slots."""
        limits = self.limits.get(channel)
        async with self.queue.claiming(channel) as tx:
            channel_next = await tx.channel_next() if limits else 0.0
            lanes = self._lanes.get(channel, limits.lanes) if limits else 0
            size = self._size(channel, limits, lanes) if limits else 0
            limit = max(limit, size + size // 2)  # enough rows for its slots, some chats busy
            rows = await tx.waiting(now, now - self.lease, limit, skip)
            # Read here, before the slots are given: a read after the claim made its first
            # rows miss their slots.
            languages = await self._languages(rows, tx)
            wall = self.wall()
            if limits is None:
                claim = Claim([(row, wall) for row in rows])
            else:
                claim = Claim(*await self._reserve(tx, channel, limits, channel_next, rows,
                                                   wall, size, lanes))
            claim.wall, claim.lanes, claim.languages = wall, lanes, languages
            if claim.rows:
                await tx.mark([row.id for row, _ in claim.rows], self.worker, now)
        return claim

    def _size(self, channel: str, limits: Limits, lanes: int | None = None) -> int:
        """Rows of the next claim: about `HORIZON` seconds of what this process achieves, at
        most a `HORIZON` of its lanes' share of the limit. A process that reserved a second
        of slots at the configured rate but sends at a fraction of it held rows (and slots)
        for seconds, and took as long to stop."""
        size = self._claim_size.get(channel, min(FIRST_CLAIM, limits.batch_size(FIRST_CLAIM)))
        if lanes is None:
            return size
        return min(size, lanes * (int(HORIZON / limits.lane_interval) + 1))

    def _achieved(self, channel: str, limits: Limits, claim: Claim, sent: int, late: int,
                  seconds: float) -> None:
        """Size the next claim from this one: `sent` rows went out in `seconds` (from the
        first slot to the last answer), `late` rows missed their slots.

        Its rows: quicker than `HORIZON`, twice as many (or the rate reached, if more);
        slower, `HORIZON` of the rate reached. Its lanes: one fewer when most rows missed
        their slots (`OVERLOADED`); one more when few did and the slots ran out before the
        rows."""
        if late > OVERLOADED * len(claim.rows):  # not a pause of the process: too many lanes
            self._lanes[channel] = max(1, claim.lanes - 1)
        elif late <= LATE_SHARE / 3 * len(claim.rows) and claim.bounded:
            self._lanes[channel] = min(limits.lanes, claim.lanes + 1)
        if sent < self._size(channel, limits, claim.lanes):  # a short claim (the backlog's
            return  # end, busy chats) says little
        rate = sent / max(seconds, 1e-3)
        size = self._size(channel, limits)
        grown = max(2 * size, int(rate * HORIZON)) if seconds < HORIZON else int(rate * HORIZON)
        self._claim_size[channel] = max(1, limits.batch_size(grown))

    async def _reserve(self, tx: Claiming, channel: str, limits: Limits,
                       channel_next: float, rows: list[Row], wall: float, size: int,
                       lanes: int, lead: float = CLAIM_LEAD
                       ) -> tuple[list[tuple[Row, float]], float | None, bool]:
        """Give at most `size` rows slots of the channel, at most `HORIZON` ahead, from the
        `lanes` lanes free soonest (`channels.ratelimit`): each row the soonest slot of
        those. A row whose chat is not free at its slot waits for a later claim. Returns
        the rows that got a slot; when none did but some wait, the seconds until one may
        go; and whether the slots or `size` ran out before the rows did."""
        # A 429 moves the channel's key: every lane waits. The first slot leaves the claim
        # `lead` seconds to commit.
        floor = max(channel_next, wall + lead)
        keys = [lane_key(channel, lane) for lane in range(limits.lanes)]
        free = await tx.next_free(sorted({chat_key(channel, row.chat_id) for row in rows}
                                         | set(keys)))
        slots = sorted((max(free.get(key, 0.0), floor), key) for key in keys)[:lanes]
        moved: dict[str, float] = {}
        chosen: list[tuple[Row, float]] = []
        later: list[float] = []
        waiting: set[str] = set()  # chats with a row left for later: their next rows wait too
        bounded = False
        for row in rows:
            at, lane = slots[0]  # a sorted list is a heap
            if len(chosen) >= size or at > wall + HORIZON:
                bounded = True
                break
            key = chat_key(channel, row.chat_id)
            if key in waiting or free.get(key, 0.0) > at:
                waiting.add(key)
                later.append(free.get(key, at))
                continue
            chosen.append((row, at))
            interval = limits.chat_interval(row.chat_id, row.is_group)
            if interval:
                free[key] = moved[key] = at + interval
            heapq.heapreplace(slots, (at + limits.lane_interval, lane))
            moved[lane] = at + limits.lane_interval
        await tx.store(moved)
        if chosen or not rows:
            return chosen, None, bounded
        soonest = slots[0][0]
        free_at = min(later) if soonest <= wall + HORIZON else soonest - HORIZON
        return [], max(0.01, free_at - wall), bounded

    async def reserve(self, session: Any, rows: list[Queued]) -> list[tuple[Queued, float]]:
        """The slots of a handled event's replies (`handlers.dispatcher.Replies`: its outbox
        rows, not yet committed), in its transaction `session`; returns the rows that got
        one (a busy chat's wait for a claim). The languages of their members are read here
        too, not in a session of their own."""
        channel = rows[0].channel
        tx = self.queue.within(session, channel)
        limits = self.limits.get(channel)
        wall = self.wall()
        if limits is None:
            chosen = [(row, wall) for row in rows]
        else:
            channel_next = await tx.channel_next()
            # A reply goes as soon as its event commits (never skipped as late): no lead.
            chosen, _, _ = await self._reserve(tx, channel, limits, channel_next, rows,
                                               wall, len(rows), limits.lanes, lead=0.0)
        languages = await self._languages([row for row, _ in chosen], tx)
        for row, _ in chosen:
            if row.member_id in languages:
                self._reply_languages[row.id] = languages[row.member_id]
        return chosen

    async def send_claimed(self, channel: str, rows: list[tuple[Queued, float]],
                           now: datetime) -> int:
        """Send rows this process claimed already (`reserve`'s, once their transaction
        committed); returns how many went out. One that did not (a 429, a failure) is
        released for the normal drain."""
        languages = {row.member_id: self._reply_languages.pop(row.id) for row, _ in rows
                     if row.member_id is not None and row.id in self._reply_languages}
        return await self._send(channel, rows, now, set(), languages, recorded=False)

    async def recorded(self) -> None:
        """Wait until every acknowledgement of `send_claimed` so far is committed (before
        the process closes its database, or reads which message a reply names). Those
        acknowledged later are not waited for: other chats' updates, handled meanwhile,
        take new ones all the time."""
        while True:
            if self._hold is not None:  # no need to wait for an event's transaction
                self._hold.cancel()
                self._hold = None
                held, self._held = self._held, []
                if held:
                    self._later(self._record(held))
            pending = set(self._recording_later)
            if not pending:
                return
            await asyncio.wait(pending)
            # An update's transaction that did not commit held its acknowledgements again.
            if not any(not future.cancelled() and future.exception() is None
                       and future.result() is False for future in pending):
                return

    def _record_later(self, row_id: int, message_id: str, now: datetime) -> None:
        """`_record` without waiting for the commit: the handling process goes on with the
        next update, whose transaction records the acknowledgement (`take_acknowledged`); one
        that no handled event takes within `ACK_HOLD` is committed on its own."""
        self._held.append((row_id, message_id, now, time.perf_counter()))
        self._hold_for(ACK_HOLD)

    def _hold_for(self, seconds: float) -> None:
        if self._hold is None and self._held:
            self._hold = self._later(self._commit_held(seconds))

    async def _commit_held(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
        self._hold = None
        held, self._held = self._held, []
        if held:
            await self._record(held)

    def take_acknowledged(self) -> tuple[dict[datetime, dict[int, str]], Settle]:
        """The replies' acknowledgements held so far, for a handled event's transaction to
        record (`handlers.dispatcher.Replies`: with the event's mark as handled), by
        moment: row id → message id. The answer must be told whether it committed: if not,
        they are held again."""
        held, self._held = self._held, []
        if not held:
            return {}, _settled
        if self._hold is not None:  # the next reply's acknowledgement holds anew
            self._hold.cancel()
            self._hold = None
        # `recorded` waits for them too (another update's transaction may hold them).
        taken: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._recording_later.add(taken)
        taken.add_done_callback(self._recording_later.discard)

        def settle(committed: bool) -> None:
            if taken.done():
                return
            if committed:
                done = time.perf_counter()
                for *_, acknowledged in held:
                    self.acks.add(done - acknowledged)
            else:
                self._held[:0] = held
                self._hold_for(0.0)
            taken.set_result(committed)

        return _by_moment(held), settle

    def _later(self, work: Awaitable[None]) -> asyncio.Future[None]:
        """Run `work` beside what comes next; `recorded` waits for it."""
        task = asyncio.ensure_future(work)
        self._recording_later.add(task)

        def done(task: asyncio.Future[None]) -> None:
            self._recording_later.discard(task)
            if not task.cancelled() and task.exception() is not None:
                log.error("recording outbox rows as sent failed", exc_info=task.exception())

        task.add_done_callback(done)
        return task

    async def _recover(self) -> None:
        """Release the claims of processes of this host that died (e.g. killed)."""
        await self.queue.recover(lambda worker: worker != self.worker and is_gone(worker))

    async def _languages(self, rows: Sequence[Addressed],
                         tx: Claiming | None = None) -> dict[int, str]:
        """The languages of the members the claimed rows with buttons go to, in one query
        (their choices may be written out in words), not one per message."""
        ids = sorted({row.member_id for row in rows if row.buttons and row.member_id})
        if not ids:
            return {}
        if tx is not None:
            return await tx.languages(ids)
        return await self.queue.languages(ids)

    async def _render(self, row: Queued, languages: dict[int, str]) -> Outgoing:
        file = await self.queue.file_of(row) if row.file_id is not None else None
        extra = {}
        if row.buttons and row.member_id in languages:  # choices may be written out in words
            extra["language"] = languages[row.member_id]
        return Outgoing(chat_id=row.chat_id, text=row.text, buttons=row.buttons, file=file,
                        extra=extra)

    async def drain(self, now: datetime, limit: int = 100,
                    stop: asyncio.Event | None = None) -> int:
        """Send everything that is waiting (or, once `stop` is set, what was claimed
        already); returns the number of messages sent. On a paced channel the next claim is
        made while the last rows of the previous one still go out (`CLAIM_AHEAD`), so the
        channel does not idle for a claim's round trip between two batches."""
        await self.recorded()  # a row being recorded is claimed still, by this process
        sent = 0
        failed: set[int] = set()  # rows that failed in this drain wait for the next one
        recovered = -RECOVER_EVERY
        pending: dict[str, tuple[asyncio.Future[int], float]] = {}  # batch, next claim at
        try:
            while stop is None or not stop.is_set():
                if self.wall() - recovered >= RECOVER_EVERY:  # also during a long wave
                    await self._recover()
                    recovered = self.wall()
                progress = False
                waits: list[float] = []
                for channel in self.adapters:
                    if channel in pending:
                        batch, claim_at = pending[channel]
                        if not batch.done() and self.wall() < claim_at:
                            waits.append(claim_at - self.wall())
                            continue
                    claim = await self._claim(channel, now, limit, failed)
                    if not claim.rows:
                        if claim.wait is not None:
                            waits.append(claim.wait)
                        continue
                    progress = True
                    if channel in pending:  # at most two batches of a channel in flight
                        sent += await pending.pop(channel)[0]
                    batch = asyncio.ensure_future(self._send_batch(channel, claim, now, failed))
                    if channel in self.limits:
                        pending[channel] = (batch, claim.rows[-1][1] - CLAIM_AHEAD)
                    else:  # unpaced (transcripts): one batch after the other, in order
                        sent += await batch
                if progress:
                    continue
                if waits and min(waits) <= MAX_WAIT:
                    await asyncio.sleep(min(waits))
                elif pending:
                    sent += sum(await asyncio.gather(*(b for b, _ in pending.values())))
                    pending.clear()
                else:
                    break
        finally:
            if pending:
                done = await asyncio.gather(*(b for b, _ in pending.values()),
                                            return_exceptions=True)
                sent += sum(n for n in done if isinstance(n, int))
        return sent

    async def _send_batch(self, channel: str, claim: Claim, now: datetime,
                          failed: set[int]) -> int:
        """Send a claim's rows; the time they took sizes the next claim."""
        late: list[int] = []
        sent = await self._send(channel, claim.rows, now, failed, claim.languages, late=late)
        limits = self.limits.get(channel)
        if limits is not None:
            first = max(claim.rows[0][1], claim.wall)
            self._achieved(channel, limits, claim, sent, len(late), self.wall() - first)
        return sent

    async def _send(self, channel: str, rows: list[tuple[Queued, float]], now: datetime,
                    failed: set[int], languages: dict[int, str] | None = None,
                    recorded: bool = True, late: list[int] | None = None) -> int:
        """Send the claimed rows, each at its slot; returns how many went out (and were
        recorded as sent, unless not `recorded`: then they are being recorded). With
        `late`, a row that could not go within `LATE_CALL` of its slot is given back to the
        queue and its id put there."""
        adapter = self.adapters[channel]
        if languages is None:
            languages = await self._languages([row for row, _ in rows])
        # Start no call after half the lease, so no other worker can take the row meanwhile.
        deadline = self.wall() + self.lease.total_seconds() / 2
        limits = self.limits.get(channel)
        calls = asyncio.Semaphore(max(CONCURRENCY, int(IN_FLIGHT * limits.per_second))
                                  if limits else CONCURRENCY)
        paused = {"until": 0.0}

        async def one(row: Queued, slot: float) -> int:
            # The slot is when the row may go; a chat's previous message that went out late
            # (a busy process) must not bring the next one closer than the chat's interval.
            key = chat_key(channel, row.chat_id)
            delay = max(slot, self._chat_free.get(key, 0.0)) - self.wall()
            if delay > 0:
                await asyncio.sleep(delay)
            latest = slot + LATE_CALL if late is not None else None
            async with calls, self._paced(channel, latest) as go:
                if not go:
                    assert late is not None
                    late.append(row.id)
                    return 0
                if self.wall() > deadline or self.wall() < paused["until"]:
                    await self._release(row, row.error, failed=False)
                    return 0
                if limits is not None:
                    self._chat_free[key] = self.wall() + limits.chat_interval(
                        row.chat_id, row.is_group)
                try:
                    message_id = await adapter.send(await self._render(row, languages))
                except RetryLater as exc:
                    self.rate_limited += 1
                    paused["until"] = max(paused["until"], self.wall() + exc.seconds)
                    if channel in self.limits:
                        await self._pause(channel, row.chat_id, paused["until"])
                    else:
                        await asyncio.sleep(min(exc.seconds, MAX_WAIT))
                    await self._release(row, str(exc), failed=False)
                    return 0
                except Unreachable as exc:  # no retry: nothing changes until they write
                    log.warning("%s refuses chat %s for good (outbox row %s): %s", channel,
                                row.chat_id, row.id, exc)
                    failed.add(row.id)
                    await self._refused(row, exc, now)
                    return 0
                except ChatMoved as exc:  # sent again under the new id in this drain
                    log.info("%s chat %s moved to %s", channel, row.chat_id, exc.new_chat_id)
                    await self._moved(channel, row, exc.new_chat_id, now)
                    return 0
                except Exception as exc:  # a platform failure must not stop the queue
                    log.exception("sending outbox row %s failed", row.id)
                    failed.add(row.id)
                    await self._release(row, repr(exc)[:500], failed=True)
                    return 0
            # outside the call's slot: the next call need not wait for this commit
            if recorded:
                await self._record([(row.id, message_id, now, time.perf_counter())],
                                   ACK_SPACING if limits is not None else 0.0)
            else:
                self._record_later(row.id, message_id, now)
            return 1

        # One chat's messages go out in order; different chats go in parallel, but only when
        # the channel is paced by its limits (without limits, e.g. in transcripts, the claim
        # order is kept across chats too).
        chains: dict[str, list[tuple[Queued, float]]] = {}
        for row, slot in rows:
            chains.setdefault(row.chat_id if channel in self.limits else "", []).append(
                (row, slot))

        async def chain(items: list[tuple[Queued, float]]) -> int:
            return sum([await one(row, slot) for row, slot in items])

        sent = sum(await asyncio.gather(*(chain(items) for items in chains.values())))
        if late:
            await self.queue.release_all(late)
        return sent

    async def _record(self, acks: list[Ack], spacing: float = 0.0) -> None:
        """Record messages as sent, right after the platform's acknowledgement. Group
        commit: whoever holds the lock writes every acknowledgement waiting so far, so the
        process's connections never queue for the database's write lock one by one; with
        `spacing`, not sooner than that many seconds after the previous commit."""
        self._acknowledged.extend(acks)
        async with self._recording:
            if not self._acknowledged:
                return  # an earlier holder committed ours too
            wait = self._recorded_at + spacing - time.perf_counter()
            if wait > 0:  # the acknowledgements that arrive meanwhile join this commit
                await asyncio.sleep(wait)
            batch, self._acknowledged = self._acknowledged, []
            await self.queue.record(_by_moment(batch))
            committed = self._recorded_at = time.perf_counter()
            for *_, acknowledged in batch:
                self.acks.add(committed - acknowledged)

    @asynccontextmanager
    async def _paced(self, channel: str, latest: float | None) -> AsyncIterator[bool]:
        """Around one call: keep this process's calls at least one interval apart even
        when some woke up late (a busy event loop), and inside the per-second window.
        Yields whether the call may go: not when it would start after `latest`."""
        limits = self.limits.get(channel)
        if limits is None or not limits.interval:
            yield True
            return
        at = max(self.wall(), self._last_call.get(channel, 0.0) + limits.interval)
        if latest is not None and at > latest:
            yield False
            return
        self._last_call[channel] = at
        if at > self.wall():
            await asyncio.sleep(at - self.wall())
        window = self._windows.setdefault(channel, _Window(limits.per_second, self.wall))
        async with window:
            yield True

    async def _pause(self, channel: str, chat_id: str, until: float) -> None:
        await self.queue.pause(channel, {channel: until, chat_key(channel, chat_id): until})

    async def _refused(self, row: Queued, exc: Unreachable, now: datetime) -> None:
        """A member's row waits (unclaimed, its attempts not counted) once the member is
        marked unreachable; a group's or a stranger's row is given up."""
        error = f"unreachable: {exc}"[:500]
        if row.member_id is None or row.is_group or self.on_refused is None:
            await self.queue.give_up(row.id, error)
            return
        await self.on_refused(row.member_id, exc.kind, now)
        await self._release(row, error, failed=False)

    async def _moved(self, channel: str, row: Queued, new_chat_id: str, now: datetime) -> None:
        """The application moves every row of the old chat (sent ones too, so that their
        buttons still answer) to the new one; the claimed row is released to go again at
        once. Without the application to move it, the row is given up."""
        if self.on_moved is None:
            await self.queue.give_up(row.id, f"moved to {new_chat_id}")
            return
        await self.on_moved(channel, row.chat_id, new_chat_id, now)
        await self._release(row, None, failed=False)

    async def _release(self, row: Queued, error: str | None, failed: bool) -> None:
        await self.queue.release(row.id, error, failed)


def _by_moment(acks: Sequence[Ack]) -> dict[datetime, dict[int, str]]:
    by_moment: dict[datetime, dict[int, str]] = {}
    for row_id, message_id, at, _ in acks:
        by_moment.setdefault(at, {})[row_id] = message_id
    return by_moment
