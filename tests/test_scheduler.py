"""The production scheduler drives the same sweep as the virtual clock."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from app.bootstrap import Runtime
from core.messages import Incoming
from scheduler.service import WAKE_UP_JOB, ReminderScheduler
from tests.conftest import sqlite_settings
from tests.seed import Recorder


async def test_tick_sends_due_reminders_and_sets_the_wake_up(tmp_path) -> None:
    from app.cli import invoke

    settings = sqlite_settings(tmp_path)
    start = datetime(2023, 5, 2, 1, 0, tzinfo=UTC)
    runtime = await Runtime.open(settings)
    units = tmp_path / "u.csv"
    units.write_text("code,name\nA,Trường A\n", encoding="utf-8")
    await asyncio.to_thread(invoke, ["units", "import", str(units)], settings, tmp_path, start)
    for name, role, unit in (("staff", "staff", "A"), ("ht", "reporter", "A")):
        await asyncio.to_thread(invoke, ["members", "add", name, "--role", role, "--unit", unit],
                                settings, tmp_path, start)
    recorder = Recorder()
    clock = {"now": start}
    service = ReminderScheduler(runtime.dispatcher, runtime.sender({"console": recorder}),
                                clock=lambda: clock["now"])
    try:
        await runtime.dispatcher.handle(
            Incoming("console", "staff", "staff", text="/giao B | hạn 08/05/2023 | đơn vị A"),
            start)
        await service.tick()
        preview = recorder.sent[-1]
        await runtime.dispatcher.handle(
            Incoming("console", "staff", "staff", button="g:send", button_message_id=str(
                len(recorder.sent))), start)
        await service.tick()
        assert any("Nhiệm vụ mới #1" in m.text for m in recorder.sent), preview
        service.scheduler.start(paused=True)
        clock["now"] = start + timedelta(days=3, hours=1)  # 05/05 09:00 local
        sent = await service.tick()
        assert sent == 1 and "Nhắc việc #1" in recorder.sent[-1].text
        job = service.scheduler.get_job(WAKE_UP_JOB)
        assert job is not None and job.next_run_time > clock["now"]
    finally:
        await service.stop()
        await runtime.close()


async def test_stopping_lets_a_tick_end_its_batch_instead_of_cancelling_it(tmp_path) -> None:
    """A tick in progress is not cancelled inside a database call when the bot stops: the
    sweep ends after its current batch and stop() waits for it."""
    runtime = await Runtime.open(sqlite_settings(tmp_path))
    entered, release, finished = asyncio.Event(), asyncio.Event(), asyncio.Event()
    sweep = runtime.dispatcher.sweep

    async def held(now, stop=None):  # noqa: ANN001, ANN202
        entered.set()
        await release.wait()
        sent = await sweep(now, stop)
        finished.set()
        return sent

    runtime.dispatcher.sweep = held
    service = ReminderScheduler(runtime.dispatcher, runtime.sender({"console": Recorder()}))
    try:
        service.start()
        await asyncio.wait_for(entered.wait(), 10)
        stopping = asyncio.ensure_future(service.stop())
        await asyncio.sleep(0.1)
        assert not stopping.done()
        release.set()
        await asyncio.wait_for(stopping, 10)
        assert finished.is_set()
    finally:
        await runtime.close()
