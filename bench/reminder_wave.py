"""Benchmark: a reminder wave through the real sender and Telegram adapter against a local
Bot API emulator that enforces the limits (per chat 1/s, overall the configured rate,
groups 20/min) with 429 answers.

The wave is built as an office builds it (units import, members, `/giao` confirmed; see
`bench/wave.py`), swept into the outbox and drained. The emulator runs in its own process
so that it does not share the sender's CPU. Prints the planning time (confirming the task
plans every target's reminders; the sweep turns the due ones into outbox rows), the send
rate as a ratio of the configured limit, the 429s received, duplicates, and the window
between the platform's acknowledgement and the commit that records it.

Run: .venv/bin/python bench/reminder_wave.py [--units 1000] [--rate 30] [--senders 1]
     .venv/bin/python bench/reminder_wave.py --units 50000 --rate 1000 --bulk
SQLite by default; `--database URL` for PostgreSQL (its tables are dropped and recreated).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import gc
import multiprocessing
import statistics
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime
from multiprocessing.connection import Connection
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert  # noqa: E402

from app.bootstrap import Runtime  # noqa: E402
from app.config import ChannelSettings, Settings  # noqa: E402
from bench.wave import FIRST_USER_ID, build_wave  # noqa: E402
from channels.telegram import TelegramAdapter  # noqa: E402
from core.clock import utc_now  # noqa: E402
from storage import db  # noqa: E402
from storage.models import Outbox  # noqa: E402
from testing.emulators.telegram_api import TelegramEmulator  # noqa: E402


def platform(conn: Connection, rate: int) -> None:
    """The emulator process: serve until told to stop, then report what arrived."""

    async def main() -> None:
        emulator = TelegramEmulator()
        await emulator.start()
        emulator.enforce_limits(per_chat_per_s=1, global_per_s=rate, per_group_per_min=20)
        chats = await asyncio.to_thread(conn.recv)
        for chat in chats:
            emulator.add_user(int(chat), "HT")
        # The emulator stamps a call when it reads it: a pause of its collector (its
        # heap is small, so full passes come often) read three or four calls at once, which
        # crowded its sliding second a second later (a 429 no real platform would send).
        # As in bench/national.py, no collection while the wave arrives.
        gc.collect()
        gc.freeze()
        gc.disable()
        conn.send((emulator.token, emulator.base_url, emulator.base_file_url))
        await asyncio.to_thread(conn.recv)
        gc.enable()
        sends = [(str(c.params.get("chat_id")), c.time) for c in emulator.calls
                 if c.method == "sendMessage" and c.ok]
        conn.send((sends, emulator.rejected_429))
        await emulator.stop()

    asyncio.run(main())


async def bulk_outbox(runtime: Runtime, units: int, now: datetime) -> list[str]:
    """One reminder-sized outbox row per chat, inserted directly: for waves too large to
    build through the admin import in reasonable time (it grows faster than linearly)."""
    chats = [str(FIRST_USER_ID + i) for i in range(units)]
    text = "⏰ Nhắc việc #1 «Báo cáo đợt»\nHạn nộp: ...\n" + "x" * 200
    async with runtime.sessions() as session, session.begin():
        for start in range(0, units, 5000):
            await session.exec(insert(Outbox).values([
                {"channel": "telegram", "chat_id": chat, "text": text, "priority": 1,
                 "created_at": now, "buttons": "", "pressed": "", "attempts": 0}
                for chat in chats[start:start + 5000]]))
    return chats


async def wave(settings: Settings, units: int, rate: int, senders: int, bulk: bool) -> None:
    engine = db.create_engine(settings.database_url)
    if not db.is_sqlite(settings.database_url):
        await db.downgrade(engine)
    await engine.dispose()
    runtime = await Runtime.open(settings)
    link, other_end = multiprocessing.Pipe()
    emulator = multiprocessing.get_context("spawn").Process(target=platform,
                                                            args=(other_end, rate))
    emulator.start()
    try:
        now = utc_now()
        timings: dict[str, float] = {}
        started = time.perf_counter()
        if bulk:
            chats = await bulk_outbox(runtime, units, now)
            timings["outbox rows inserted in bulk (no planning)"] = time.perf_counter() - started
        else:
            chats = await build_wave(runtime, units, now, timings)
            started = time.perf_counter()
            swept = await runtime.dispatcher.sweep(now)
            timings[f"sweep: {swept} due reminders -> outbox rows"] = \
                time.perf_counter() - started
        link.send(chats)
        token, base_url, base_file_url = await asyncio.to_thread(link.recv)
        channel = ChannelSettings(token=token, base_url=base_url, base_file_url=base_file_url,
                                  messages_per_second=rate)
        adapters = [TelegramAdapter(runtime, channel) for _ in range(senders)]
        for adapter in adapters:
            await adapter.app.initialize()
        started = time.perf_counter()
        sent = sum(await asyncio.gather(*(a.sender.drain(now) for a in adapters)))
        drain_time = time.perf_counter() - started
        link.send("stop")
        arrivals, rejected = await asyncio.to_thread(link.recv)
        for adapter in adapters:
            await adapter.app.shutdown()
    finally:
        emulator.join(timeout=30)
        await runtime.close()
    times = sorted(t for _, t in arrivals)
    received = Counter(chat for chat, _ in arrivals)
    span = times[-1] - times[0] if len(times) > 1 else 0.0
    measured = (len(times) - 1) / span if span else 0.0
    acks = [s for a in adapters for s in a.sender.acks.samples]
    backend = "sqlite" if db.is_sqlite(settings.database_url) else "postgresql"
    print(f"{backend}: {units} units, limit {rate}/s, {senders} sender(s)")
    for step, seconds in timings.items():
        print(f"  {step}: {seconds:.2f} s")
    print(f"  sent {sent} in {drain_time:.2f} s; at the platform {len(times)} messages over "
          f"{span:.2f} s = {measured:.1f}/s = {measured / rate:.1%} of the limit")
    print(f"  429 received: {rejected}; duplicates: {sum(received.values()) - len(received)}; "
          f"lost: {len(set(chats) - set(received))}")
    if acks:
        acks.sort()
        print(f"  ack-to-commit window: mean {statistics.mean(acks) * 1000:.1f} ms, "
              f"p99 {acks[int(len(acks) * 0.99) - 1] * 1000:.1f} ms, "
              f"max {acks[-1] * 1000:.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--units", type=int, default=1000)
    parser.add_argument("--rate", type=int, default=30, help="configured messages per second")
    parser.add_argument("--senders", type=int, default=1, help="senders sharing the limit")
    parser.add_argument("--database", help="a PostgreSQL URL (postgresql+asyncpg://...)")
    parser.add_argument("--bulk", action="store_true",
                        help="insert the outbox rows directly (for 50,000): times sending only")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        settings = dataclasses.replace(
            Settings(), files_dir=folder / "files",
            database_url=args.database or f"sqlite+aiosqlite:///{folder / 'wave.sqlite3'}")
        asyncio.run(wave(settings, args.units, args.rate, args.senders, args.bulk))


if __name__ == "__main__":
    main()
