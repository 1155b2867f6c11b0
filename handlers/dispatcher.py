"""The application's entry points for channels and the scheduler: `handle(event, now)` runs
one user action in one transaction; `sweep(now)` turns due reminders into messages.

An event whose work is too long to hold a transaction open (a report file: on SQLite every
write transaction holds the one write lock, so every other chat would wait) asks for it with
`Context.later`; then `handle` runs three short steps instead of one:

1. the event's transaction routes it and checks what the reader may see, as any event; it
   commits what it wrote, but the event's mark as handled is given back (`_not_yet`);
2. the work reads its rows in a read-only transaction (no write lock on SQLite), then is
   built in a worker thread with no transaction open;
3. one write transaction marks the event handled (conditionally, as always) and writes the
   work's result: the stored file, the reply, the audit row.

If the process dies before 3 commits, the update is still unhandled in the inbox and is
handled again after the restart; step 1's writes are of the kind that are the same when done
twice (a dialogue closed, a chat id, a member reachable again). If step 2 or 3 fails, 3 is
rolled back and the user gets the usual apology, written with the event's mark.

In `bot.py run` (`in_background`), `handle` returns after step 1 and steps 2 and 3 run as a
task of their own that then sends what it queued, so the next updates of the chat (handled
one after another) are not held up behind a build; at shutdown that task is
cancelled and its update stays unhandled.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from app.config import Settings
from core.i18n import Translator
from core.messages import Incoming, Queued
from core.text import clean_name, clean_text
from handlers import cascade, periods, reach, reminders, router
from handlers.context import Context, Later
from storage import events, inbox, outbox, sending
from storage.db import Session, Sessions, read_only, short
from storage.figures import aware
from storage.filestore import FileStore
from storage.models import Member
from storage.repositories import bot_message

log = logging.getLogger(__name__)
# Outbox rows the platform acknowledged, to record as sent: by moment, row id → message id.
Sent = Mapping[datetime, Mapping[int, str]]
SWEEP_BATCH = 200  # targets per sweep transaction (short, so senders can commit between)


class ReplySender(Protocol):
    """The sender's part of a handled event's transaction (`channels.sender.Sender`)."""

    @property
    def worker(self) -> str: ...

    async def reserve(self, session: Session, rows: list[Queued]
                      ) -> list[tuple[Queued, float]]:
        """Give the replies their sending slots; returns those that got one, each with its
        slot (the others wait for the normal drain)."""
        ...

    def take_acknowledged(self) -> tuple[Sent, Callable[[bool], None]]:
        """The earlier replies' acknowledgements, for the event's transaction to record;
        the answer is told whether it committed."""
        ...


@dataclass
class Replies:
    """Asks `Dispatcher.handle` to hand the event's replies (its own chat's and others' at
    once, not bulk nor held back) to this process's sender: in the event's transaction they
    are claimed by the sender's worker and given their slots, so right after the commit
    they go out with no claim of their own; the same transaction records the earlier
    replies the platform acknowledged meanwhile. A crash in between loses nothing: the
    claims of a process that is gone are taken over by the normal sender."""

    sender: ReplySender
    rows: list[tuple[Queued, float]] = field(default_factory=list)  # to send, with slots
    rest: bool = False  # other messages were queued or freed: the normal drain sends them
    _settle: Callable[[bool], None] | None = None

    def acknowledged(self) -> Sent:
        """The earlier replies' acknowledgements, for the event's transaction to record
        with its mark as handled (one statement on PostgreSQL)."""
        sent, self._settle = self.sender.take_acknowledged()
        return sent

    async def take(self, ctx: Context, freed: bool) -> None:
        """Claim the event's replies; `freed`: rows of the member's that waited may go."""
        mine = ctx.claimed  # written claimed (`Context._write`)
        self.rest = freed or bool(ctx.bulk_written) or bool(ctx.unclaimed_written)
        if not mine:
            return
        self.rows = await self.sender.reserve(ctx.session, mine)
        self.rest = self.rest or len(self.rows) < len(mine)
        chosen = {row.id for row, _ in self.rows}
        # Those whose chat is busy wait for the normal drain.
        await outbox.unclaim(ctx.session, [row.id for row in mine if row.id not in chosen])

    def settle(self, committed: bool) -> None:
        """Tell the sender whether the transaction of `take` committed."""
        settle, self._settle = self._settle, None
        if settle is not None:
            settle(committed)


def cleaned(event: Incoming) -> Incoming:
    """The event with its text and file name as the bot keeps them (`core.text`): no control
    characters, bounded lengths, the same on every channel and database."""
    file = event.file
    if file is not None and file.name != clean_name(file.name):
        file = dataclasses.replace(file, name=clean_name(file.name))
    text = clean_text(event.text)
    if text == event.text and file is event.file:
        return event
    return dataclasses.replace(event, text=text, file=file)


class Dispatcher:
    def __init__(
        self,
        settings: Settings,
        sessions: Sessions,
        files: FileStore,
    ) -> None:
        self.settings = settings
        self.sessions = sessions
        self.files = files
        # Set by `bot.py run`: steps 2 and 3 of `later` work run beside the updates that come
        # next (a chat's updates are handled one after another) instead of before them,
        # then this sends what they queued (the channels send after each update they handle).
        self.in_background: Callable[[], Awaitable[object]] | None = None
        self._background: set[asyncio.Task[None]] = set()

    def context(self, session: Session, now: datetime, event: Incoming | None = None):
        return Context(session=session, now=now, settings=self.settings, files=self.files,
                       event=event)

    def replies(self, sender: ReplySender) -> Replies:
        """A hand-off of replies for `handle`, for a channel (which imports no handler)."""
        return Replies(sender)

    async def handle(self, event: Incoming, now: datetime, replies: Replies | None = None
                     ) -> bool:
        """Run one incoming event. Its changes and the messages it causes commit together;
        if anything fails, nothing is written and the user gets a short apology. An event
        whose recorded update (`inbox_id`) or `once_key` was already handled is skipped:
        returns False. With `replies`, the replies are handed to the caller's sender."""
        event = cleaned(event)
        try:
            async with self.sessions() as session, short(session):
                sent = replies.acknowledged() if replies is not None else {}
                first = await _first_time(session, event, now, sent)  # `sent` commits anyway
                work = await self._route(session, event, now, replies) if first else None
            if replies is not None:
                replies.settle(True)
            if not first:
                return False
            if work is not None and self.in_background is not None:
                task = asyncio.create_task(self._later_in_background(event, now, work,
                                                                     self.in_background))
                self._background.add(task)
                task.add_done_callback(self._background.discard)
            elif work is not None:
                return await self._finish_later(event, now, work)
        except Exception:
            log.exception("handling %s failed", event)
            if replies is not None:  # nothing of it was written: the apology is drained
                replies.settle(False)
                replies.rows, replies.rest = [], True
            return await self._apologise(event, now)
        finally:
            if replies is not None:  # cancelled (a shutdown): held again, recorded later
                replies.settle(False)
        return True

    async def _route(self, session: Session, event: Incoming, now: datetime,
                     replies: Replies | None) -> Later | None:
        """The event's handling in its transaction; returns the work it asked for `later`."""
        ctx = self.context(session, now, event)
        ctx.claimer = replies.sender.worker if replies is not None else None
        await ctx.load_member()
        freed = ctx.member is not None and ctx.member.unreachable_since is not None
        await reach.welcome_back(ctx)
        await router.route(ctx)
        work = ctx.pending
        if work is not None:
            await _not_yet(session, event)
        if replies is not None:
            await replies.take(ctx, freed)
            replies.rest = replies.rest or work is not None  # its replies come later
        return work

    async def _apologise(self, event: Incoming, now: datetime) -> bool:
        """The event failed: mark it handled with a short apology (False: another worker
        handled it meanwhile)."""
        async with self.sessions() as session, short(session):
            if event.inbox_id is not None and not await inbox.mark_handled(
                    session, event.inbox_id, now):
                return False
            ctx = self.context(session, now, event)
            await ctx.load_member()
            await ctx.reply(ctx.t("Xin lỗi, đã có lỗi khi xử lý tin nhắn này; chưa có gì được "
                                  "ghi lại. Vui lòng thử lại sau."))
        return True

    async def _finish_later(self, event: Incoming, now: datetime, work: Later) -> bool:
        """Steps 2 and 3 of an event that asked for `later` work (see the module's doc)."""
        try:
            async with self.sessions() as session, read_only(session):
                data = await work.read(session)
            result = await asyncio.to_thread(work.build, data)
            async with self.sessions() as session, session.begin():
                if not await _first_time(session, event, now):
                    return False  # handled meanwhile by another worker
                ctx = self.context(session, now, event)
                await ctx.load_member()
                await work.finish(ctx, result)
        except Exception:
            log.exception("handling %s failed", event)
            return await self._apologise(event, now)
        return True

    async def _later_in_background(self, event: Incoming, now: datetime, work: Later,
                                   send: Callable[[], Awaitable[object]]) -> None:
        if await self._finish_later(event, now, work):
            try:
                await send()
            except Exception:  # the next drain sends it
                log.exception("sending the answer to %s failed", event)

    async def settled(self) -> None:
        """Wait until the `later` work running in the background is done."""
        while self._background:
            await asyncio.wait(set(self._background))

    async def stop_background(self) -> None:
        """Stop the `later` work running in the background (at shutdown): its events are
        still unhandled, so the next process handles them."""
        tasks = set(self._background)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def refused(self, member_id: int, kind: str, now: datetime) -> None:
        """The platform refuses for good to deliver to a member (the sender's report)."""
        async with self.sessions() as session, session.begin():
            await reach.refused(self.context(session, now), member_id, kind)

    async def chat_moved(self, channel: str, old: str, new: str, now: datetime) -> None:
        """A chat lives on under a new id (a group upgraded to a supergroup)."""
        async with self.sessions() as session, session.begin():
            await reach.chat_moved(self.context(session, now), channel, old, new)

    async def reply_once(self, event: Incoming, render: Callable[[Translator], str],
                         now: datetime) -> bool:
        """For an event a channel answers with words of its own (a file over the platform's
        download limit, a Zalo upload link): queue `render`, in the sender's language, to the
        event's chat and mark the event handled, in one commit; False if it was handled
        before. The answer is about the task of the bot message the event replies to, so
        that on Zalo (where the latest message is the one replied to) the member's next
        message still answers that task."""
        async with self.sessions() as session, short(session):
            if not await _first_time(session, event, now):
                return False
            ctx = self.context(session, now, event)
            await ctx.load_member()
            source = await bot_message(session, event.channel, event.chat_id, event.reply_to) \
                if event.reply_to else None
            await ctx.reply(render(ctx.t), target_id=source.target_id if source else None,
                            assignment_id=source.assignment_id if source else None)
        return True

    async def tell(self, member_id: int, text: str, now: datetime) -> None:
        """Queue `text` (already in the member's language) to a member's private chat."""
        async with self.sessions() as session, session.begin():
            member = await session.get(Member, member_id)
            if member is not None:
                await self.context(session, now).send(member, lambda _t: text)

    async def sweep(self, now: datetime, stop: asyncio.Event | None = None) -> int:
        """Open the recurring tasks' periods that have come, then send every reminder due
        at `now`; returns how many reminders were turned into messages. Each batch of
        targets is one transaction, so other bot processes share a wave; once `stop` is set
        no new batch starts (the next sweep, here or in another process, takes the rest)."""
        async with self.sessions() as session, session.begin():
            context = self.context(session, now)
            await periods.roll_over(context, now)
            await cascade.hand_downs_due(context, now)
        sent = 0
        while True:
            async with self.sessions() as session, session.begin():
                claimed, batch_sent = await reminders.sweep(self.context(session, now), now,
                                                            limit=SWEEP_BATCH)
            sent += batch_sent
            if not claimed or (stop is not None and stop.is_set()):
                return sent

    async def next_due(self, after: datetime) -> datetime | None:
        """The next moment after `after` when the sweep has work, or bulk held back by quiet
        hours may go (for the virtual clock and the precise wake-up)."""
        async with self.sessions() as session:
            due = await reminders.next_due(session)
            opening = await periods.next_opening_after(self.context(session, after), after)
            waiting = await outbox.earliest_waiting(session, after)
        return min((aware(m) for m in (due, opening, waiting) if m is not None), default=None)

    def translator(self, language: str | None = None) -> Translator:
        return Translator(language or self.settings.default_language)


async def _not_yet(session: Session, event: Incoming) -> None:
    """Undo `_first_time` in the current transaction, for an event whose handling goes on
    after it (`Context.later`)."""
    if event.inbox_id is not None:
        await inbox.unmark_handled(session, event.inbox_id)
    elif event.once_key is not None:
        await events.forget_once(session, event.channel, event.once_key)


async def _first_time(session: Session, event: Incoming, now: datetime,
                      sent: Sent | None = None) -> bool:
    """Mark the event's recorded update handled, or record its `once_key`, in the current
    transaction; False if it was handled before. `sent`: outbox rows to record as sent."""
    if event.inbox_id is not None:
        return await inbox.mark_handled(session, event.inbox_id, now, sent)
    if sent:
        await sending.record(session, sent)
    if event.once_key is None:
        return True
    try:
        await events.record_once(session, event.channel, event.once_key, now)
    except events.AlreadySeen:
        return False
    return True
