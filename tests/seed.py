"""A small seeded bot for tests that drive the dispatcher directly: units A and B, a staff
member and one reporter per unit, added through the admin command line."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path

from app.bootstrap import Runtime
from app.cli import invoke
from app.config import Settings
from core.messages import Incoming


async def seeded_runtime(settings: Settings, folder: Path, now: datetime) -> Runtime:
    runtime = await Runtime.open(settings)
    units = folder / "u.csv"
    units.write_text("code,name\nA,Trường A\nB,Trường B\n", encoding="utf-8")
    await asyncio.to_thread(invoke, ["units", "import", str(units)], settings, folder, now)
    for name, role, unit in (("staff", "staff", "A"), ("ht_a", "reporter", "A"),
                             ("ht_b", "reporter", "B")):
        await asyncio.to_thread(invoke, ["members", "add", name, "--role", role, "--unit", unit],
                                settings, folder, now)
    return runtime


async def say(runtime: Runtime, user: str, now: datetime, text: str = "",
              button: str | None = None) -> None:
    await runtime.dispatcher.handle(Incoming("console", user, user, text=text, button=button),
                                    now)
