"""What the transcript sessions over a chat platform share: `PlatformSession` (the
`channels.console.Player` session protocol on top of an adapter and its emulator) and the
rewriting of `@admin members add` lines for the platform."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from channels.base import Watcher
from channels.console import Delivered, find_button, run_script
from core.clock import utc_now
from core.messages import Button, Incoming

if TYPE_CHECKING:
    from app.bootstrap import Runtime

AdminRunner = Callable[[list[str], Path, datetime], Awaitable[tuple[int, str]]]


def rewrite_members_add(args: list[str], channel: str, id_of: Callable[[str], str]) -> list[str]:
    """`members add NAME --channel console` → `--channel <channel> --id <id_of(NAME)>`, so a
    transcript written for the console plays on a chat platform."""
    if args[:2] != ["members", "add"] or len(args) < 3:
        return args
    out: list[str] = []
    rest = iter(args)
    for arg in rest:
        if arg in ("--channel", "--channel=console"):
            value = "console" if arg.endswith("=console") else next(rest, "")
            if value == "console":
                out += ["--channel", channel, "--id", id_of(args[2])]
                continue
            out += [arg, value]
            continue
        out.append(arg)
    return out


class Notes(Watcher):
    """What a session's adapter tells it: how many updates it handled, and of its sends what
    the platform does not show (a photo's file name, a text split in pieces)."""

    def __init__(self) -> None:
        self.updates = 0
        self.photos: dict[tuple[str, str], str] = {}  # (chat id, message id) → file name
        self.pieces: set[tuple[str, str]] = set()  # messages continued by the next one

    def handled(self, updates: int = 1) -> None:
        self.updates += updates

    def sent_photo(self, chat_id: str, message_id: str, name: str) -> None:
        self.photos[chat_id, message_id] = name

    def sent_piece(self, chat_id: str, message_id: str) -> None:
        self.pieces.add((chat_id, message_id))


class PlatformSession:
    """What the transcript sessions over a chat platform (Telegram, Zalo) share: waiting for
    the adapter to handle what was injected, the virtual clock, and the lookups the console's
    Player uses. A subclass starts its emulator and adapter and prints in `collect`."""

    platform = ""
    adapter: Any  # the channel adapter: `drain(now)`, and `watcher` is `notes` once started

    def __init__(self, runtime: Runtime, out: TextIO, start: datetime | None = None) -> None:
        self.runtime = runtime
        self.out = out
        self.now = start or utc_now().replace(second=0, microsecond=0)
        self.delivered: list[Delivered] = []
        self.notes = Notes()
        self._injected = 0

    def collect(self) -> None:
        """Print the bot's new messages as the console shows them."""
        raise NotImplementedError

    async def send(self, event: Incoming) -> None:
        """Play a console user's action as the platform's app would."""
        raise NotImplementedError

    async def settle(self, updates: int = 1, limit_s: float = 15.0) -> None:
        """Wait until the adapter has handled `updates` more injected updates, then print
        what the bot sent meanwhile."""
        self._injected += updates
        deadline = time.monotonic() + limit_s
        while self.notes.updates < self._injected:
            if time.monotonic() > deadline:
                raise TimeoutError(f"the {self.platform} adapter did not handle the update "
                                   "in time")
            await asyncio.sleep(0.002)
        self.collect()

    async def drain(self) -> None:
        assert self.adapter is not None
        await self.adapter.drain(self.now)
        self.collect()

    async def advance_to(self, moment: datetime) -> None:
        """Move the virtual clock, running every reminder due on the way, in order."""
        dispatcher = self.runtime.dispatcher
        while True:
            due = await dispatcher.next_due(self.now)
            if due is None or due > moment:
                break
            self.now = max(self.now, due)
            await dispatcher.sweep(self.now)
            await self.drain()
        self.now = max(self.now, moment)
        await dispatcher.sweep(self.now)
        await self.drain()

    def last_message_to(self, user: str) -> Delivered | None:
        return next((m for m in reversed(self.delivered) if m.to == user), None)

    def find_button(self, user: str, label: str) -> tuple[Delivered, Button]:
        return find_button(self.delivered, user, label)

    def rewrite_admin(self, args: list[str]) -> list[str]:
        raise NotImplementedError

    async def start(self) -> None:
        raise NotImplementedError

    async def stop(self) -> None:
        raise NotImplementedError

    @classmethod
    async def play(cls, runtime: Runtime, script: Path, out: TextIO,
                   run_admin: AdminRunner) -> int:
        """Play a `.chat` file through this platform's adapter and emulator; 0 when it held.
        `members add ... --channel console` lines add the users on this platform instead."""
        session = cls(runtime, out)

        async def admin(args: list[str], cwd: Path, now: datetime) -> tuple[int, str]:
            return await run_admin(session.rewrite_admin(args), cwd, now)

        await session.start()
        try:
            return await run_script(session, script, out, admin)
        finally:
            await session.stop()
