"""A reminder wave built the way an office builds one: units imported and members added with
the admin operations, a task assigned with `/giao` and confirmed through the dispatcher.

The task is assigned ten days before `now` with a deadline two days later, and the
reporters join after it was confirmed: so nothing is sent at assignment, and at `now` each
unit is owed exactly one reminder (the latest missed one, as after downtime). Used by the
delivery tests and `bench/reminder_wave.py`.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta

from sqlalchemy import update

from app import admin
from app.bootstrap import Runtime
from core.clock import to_local
from core.messages import Incoming, Outgoing
from core.unit_rows import UnitRow
from storage.models import Reminder

GROUP = "wave"
FIRST_USER_ID = 700_000_000
STAFF = "vp_wave"


class Recorder:
    """A console channel that only records what it is asked to send (here, the staff
    member's messages, so that the preview can be confirmed; the tests use it too)."""

    name = "console"

    def __init__(self) -> None:
        self.sent: list[Outgoing] = []

    async def send(self, message: Outgoing) -> str:
        self.sent.append(message)
        return str(len(self.sent))


async def build_wave(runtime: Runtime, units: int, now: datetime,
                     timings: dict[str, float] | None = None,
                     channel: str = "telegram") -> list[str]:
    """Create the wave; returns the chat ids (on `channel`) owed one reminder each.
    `timings` receives the seconds taken by each step."""
    timings = {} if timings is None else timings
    started = time.perf_counter()
    assigned = now - timedelta(days=10)
    rows = [UnitRow(2, "SO-WAVE", "Sở GDĐT", "Sở", "", ("so",))] + [
        UnitRow(i + 3, f"W{i:05d}", f"Trường số {i}", "THCS", "SO-WAVE", (GROUP,))
        for i in range(units)
    ]
    async with runtime.sessions() as session, session.begin():
        await admin.import_units(session, rows)
        await admin.add_member(session, STAFF, "console", "staff", assigned, unit_code="SO-WAVE")
    timings["units import"] = time.perf_counter() - started
    started = time.perf_counter()
    console = Recorder()
    sender = runtime.sender({"console": console})
    deadline = to_local(assigned + timedelta(days=2))
    await runtime.dispatcher.handle(Incoming(
        "console", STAFF, STAFF,
        text=f"/giao Báo cáo đợt | hạn {deadline:%d/%m/%Y} | đơn vị @{GROUP}"), assigned)
    await sender.drain(assigned)
    await runtime.dispatcher.handle(Incoming(
        "console", STAFF, STAFF, button="g:send", button_message_id=str(len(console.sent))),
        assigned)
    await sender.drain(assigned)
    if "#1" not in console.sent[-1].text:
        raise RuntimeError(f"the wave's task was not confirmed: {console.sent[-1].text}")
    timings["task confirmed (targets and reminders planned)"] = time.perf_counter() - started
    started = time.perf_counter()
    chats = [str(FIRST_USER_ID + i) for i in range(units)]
    async with runtime.sessions() as session, session.begin():
        for i, chat in enumerate(chats):
            await admin.add_member(session, f"ht_{i}", channel, "reporter", assigned,
                                   channel_user_id=chat, unit_code=f"W{i:05d}")
    timings["reporters added"] = time.perf_counter() - started
    # Due now: a reminder missed by more than a day would be skipped, not sent late.
    async with runtime.sessions() as session, session.begin():
        await session.exec(update(Reminder).where(Reminder.state == "planned").values(
            due_at=now - timedelta(minutes=1)))
    return chats
