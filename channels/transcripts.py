"""Each transcript plays on an empty database of its own. Migrating SQLite from scratch for
every transcript is slow, so a migrated template is made once per process and copied."""

from __future__ import annotations

import asyncio
import dataclasses
import shutil
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from app.config import Settings
from core.messages import Button
from storage import db

if TYPE_CHECKING:
    from app.bootstrap import Runtime
    from channels.console import Delivered

AdminRunner = Callable[[list[str], Path, datetime], Awaitable[tuple[int, str]]]

_template: Path | None = None


def _migrated_template() -> Path:
    global _template
    if _template is None or not _template.exists():
        folder = Path(tempfile.mkdtemp(prefix="bot-template-"))
        path = folder / "template.sqlite3"

        async def migrate() -> None:
            engine = db.create_engine(f"sqlite+aiosqlite:///{path}")
            await db.upgrade(engine)
            await engine.dispose()

        asyncio.run(migrate()) if not _loop_running() else _run_in_thread(migrate)
        _template = path
    return _template


def _loop_running() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _run_in_thread(factory) -> None:  # type: ignore[no-untyped-def]
    import threading

    errors: list[BaseException] = []

    def target() -> None:
        try:
            asyncio.run(factory())
        except BaseException as exc:  # noqa: BLE001 - re-raised below
            errors.append(exc)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if errors:
        raise errors[0]


@contextmanager
def isolated_settings(settings: Settings) -> Iterator[Settings]:
    """`settings` pointed at a fresh SQLite database and file store in a temporary folder."""
    with tempfile.TemporaryDirectory(prefix="bot-transcript-") as folder:
        path = Path(folder) / "bot.sqlite3"
        shutil.copyfile(_migrated_template(), path)
        yield dataclasses.replace(
            settings,
            database_url=f"sqlite+aiosqlite:///{path}",
            files_dir=Path(folder) / "files",
        )


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


class PlatformSession:
    """What the transcript sessions over a chat platform (Telegram, Zalo) share: waiting for
    the adapter to handle what was injected, the virtual clock, and the lookups the console's
    Player uses. A subclass starts its emulator and adapter and prints in `collect`."""

    platform = ""
    runtime: Runtime
    adapter: Any  # the channel adapter: `handled` updates and `drain(now)`
    now: datetime
    delivered: list[Delivered]
    _injected: int

    def collect(self) -> None:
        """Print the bot's new messages as the console shows them."""
        raise NotImplementedError

    async def settle(self, updates: int = 1, limit_s: float = 15.0) -> None:
        """Wait until the adapter has handled `updates` more injected updates, then print
        what the bot sent meanwhile."""
        assert self.adapter is not None
        self._injected += updates
        deadline = time.monotonic() + limit_s
        while self.adapter.handled < self._injected:
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
        from channels.console import find_button

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
        from channels.console import run_script

        session = cls(runtime, out)  # type: ignore[call-arg]

        async def admin(args: list[str], cwd: Path, now: datetime) -> tuple[int, str]:
            return await run_admin(session.rewrite_admin(args), cwd, now)

        await session.start()
        try:
            return await run_script(session, script, out, admin)
        finally:
            await session.stop()
