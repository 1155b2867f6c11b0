"""A small seeded bot for tests that drive the dispatcher directly: units A and B, a staff
member and one reporter per unit (added through the admin command line), and a recording
channel so that buttons are pressed on the message that carried them."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlmodel import col, select

from app.bootstrap import Runtime
from app.cli import invoke
from app.config import Settings
from bench.wave import Recorder
from channels.sender import Sender
from core.messages import Incoming, buttons_from_json
from storage.models import Outbox


@dataclass
class Bot:
    runtime: Runtime
    recorder: Recorder = field(default_factory=Recorder)

    @property
    def sender(self) -> Sender:
        return self.runtime.sender({"console": self.recorder})

    async def say(self, user: str, now: datetime, text: str) -> None:
        await self.runtime.dispatcher.handle(Incoming("console", user, user, text=text), now)
        await self.sender.drain(now)

    async def press(self, user: str, now: datetime, label: str) -> None:
        """Press the button `label` on the latest message to `user` that has it."""
        async with self.runtime.sessions() as session:
            rows = (await session.exec(select(Outbox).where(Outbox.chat_id == user)
                                       .order_by(col(Outbox.id).desc()))).all()
        source, payload = next((row, b.payload) for row in rows
                               for b in buttons_from_json(row.buttons) if b.label == label)
        await self.runtime.dispatcher.handle(Incoming(
            "console", user, user, button=payload,
            button_message_id=source.platform_message_id), now)
        await self.sender.drain(now)

    async def assign(self, now: datetime, line: str) -> None:
        """Staff assign a task with `/giao LINE` and press [Gửi]."""
        await self.say("staff", now, f"/giao {line}")
        await self.press("staff", now, "Gửi")

    async def sweep(self, now: datetime) -> int:
        sent = await self.runtime.dispatcher.sweep(now)
        await self.sender.drain(now)
        return sent

    async def admin(self, now: datetime, *args: str) -> tuple[int, str]:
        settings = self.runtime.settings
        return await asyncio.to_thread(invoke, list(args), settings,
                                       settings.files_dir.parent, now)

    async def register(self, now: datetime, units_csv: str,
                       people: Iterable[tuple[str, str, str | None]]) -> None:
        """Import the units of `units_csv` and add each (name, role, unit or None) through
        the admin command line."""
        folder: Path = self.runtime.settings.files_dir.parent
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "units.csv").write_text(units_csv, encoding="utf-8")
        await self.admin(now, "units", "import", str(folder / "units.csv"))
        for name, role, unit in people:
            await self.admin(now, "members", "add", name, "--role", role,
                             *(("--unit", unit) if unit else ()))


async def seeded_bot(settings: Settings, now: datetime) -> Bot:
    bot = Bot(await Runtime.open(settings))
    # The staff member and `lanhdao` work for the whole registry (no office: the units have
    # no parent); `ld_a` leads school A and sees only A.
    await bot.register(now, "code,name\nA,Trường A\nB,Trường B\n", (
        ("staff", "staff", None), ("ht_a", "reporter", "A"), ("ht_b", "reporter", "B"),
        ("ld_a", "leader", "A"), ("lanhdao", "leader", None)))
    return bot
