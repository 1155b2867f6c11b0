"""Benchmark: inbound Telegram updates handled per second, end to end with the bot's reply.

Against the local Bot API emulator, in one run:
  1. the ceiling: a bare python-telegram-bot echo bot (one handler, `reply_text`);
  2. the real bot (`TelegramAdapter` → dispatcher → database → outbox → sender), with two
     workloads: `/help` (a command) and `đang làm 50%` (a status answer recorded against the
     one open task).
Each workload injects USERS × PER_USER text messages at once and times until every reply has
reached the emulator. Sending limits are off, so the figure is the bot's own cost.
ROUNDS times (3) the echo bot then the bot, each ratio of one round, and their median: this
machine's speed drifts from one minute to the next, so the two are measured close together.
The database is SQLite, or PostgreSQL when BOT_BENCH_PG_URL names an empty database.

Run: .venv/bin/python bench/telegram_inbound.py [USERS] [PER_USER] [ROUNDS]
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from telegram import Update  # noqa: E402
from telegram.ext import Application, ContextTypes, MessageHandler, filters  # noqa: E402

from app.bootstrap import Runtime  # noqa: E402
from app.cli import invoke  # noqa: E402
from app.config import ChannelSettings, Settings  # noqa: E402
from channels.telegram import TelegramAdapter  # noqa: E402
from testing.emulators.telegram_api import TelegramEmulator  # noqa: E402

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
STAFF_ID = 900
FIRST_USER = 1000


async def wave(emu: TelegramEmulator, users: list[int], per_user: int, text: str) -> float:
    """Inject the messages, wait for as many replies; returns updates per second."""
    total = len(users) * per_user
    await emu.wait_idle()
    since = time.time()  # the emulator stamps calls with the wall clock
    start = time.perf_counter()
    for _ in range(per_user):
        for uid in users:
            await emu.inject_text(uid, text)
    for _ in range(total):
        await emu.wait_for_call("sendMessage", lambda call: call.time >= since, timeout=60)
    return total / (time.perf_counter() - start)


async def echo_ceiling(emu: TelegramEmulator, users: list[int], per_user: int) -> float:
    async def echo(update: Update, _: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.message is not None and update.message.text is not None
        await update.message.reply_text(update.message.text)

    app = (Application.builder().token(emu.token).base_url(emu.base_url)
           .base_file_url(emu.base_file_url).build())
    app.add_handler(MessageHandler(filters.TEXT, echo))
    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0.0)
        try:
            return await wave(emu, users, per_user, "xin chào")
        finally:
            await app.updater.stop()
            await app.stop()


async def prepare(settings: Settings, folder: Path, users: list[int]) -> None:
    """Units, a staff member and one reporter per user, through the admin CLI."""
    now = datetime.now(UTC)
    commands = [
        ["units", "import", str(EXAMPLES / "units.csv")],
        ["members", "add", "vp_so", "--channel", "telegram", "--id", str(STAFF_ID),
         "--role", "staff", "--unit", "VP-SO"],
        *(["members", "add", f"ht{uid}", "--channel", "telegram", "--id", str(uid),
           "--role", "reporter", "--unit", "THPT-LHP"] for uid in users),
    ]
    for args in commands:
        code, out = await asyncio.to_thread(invoke, args, settings, folder, now)
        if code != 0:
            raise SystemExit(f"{' '.join(args[:3])} failed: {out}")


async def assign_one_task(emu: TelegramEmulator) -> None:
    """`/giao` to the reporters' unit, confirmed with its [Gửi] button, as staff would."""
    await emu.inject_text(STAFF_ID, "/giao Báo cáo thử | hạn 31/12/2099 | đơn vị THPT-LHP")
    preview = await emu.wait_for_call("sendMessage", lambda c: "reply_markup" in c.params)
    message = preview.result
    assert isinstance(message, dict)
    send = message["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
    await emu.inject_callback(STAFF_ID, message["message_id"], send)
    await emu.wait_for_call("sendMessage", lambda c: "#1" in str(c.params.get("text", "")))


async def bot_rates(emu: TelegramEmulator, runtime: Runtime, users: list[int],
                    per_user: int, first: bool) -> dict[str, float]:
    """The bot's two workloads, polling as `bot.py run` does, with no sending limits (the
    figure is the bot's own cost); the `first` round assigns the task answered. Stopped
    after them, so that the echo bot can poll next."""
    channel = ChannelSettings(token=emu.token, base_url=emu.base_url,
                              base_file_url=emu.base_file_url, messages_per_second=0,
                              per_chat_per_second=0, per_group_per_minute=0)
    adapter = TelegramAdapter(runtime, channel)
    await adapter.start()
    try:
        if first:
            await assign_one_task(emu)
        await emu.wait_idle()
        return {
            "/help": await wave(emu, users, per_user, "/help"),
            "đang làm 50%": await wave(emu, users, per_user, "đang làm 50%"),
        }
    finally:
        await adapter.stop()


async def main() -> None:
    user_count = int(sys.argv[1]) if len(sys.argv) > 1 else 50
    per_user = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    users = [FIRST_USER + i for i in range(user_count)]
    ratios: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        url = os.environ.get("BOT_BENCH_PG_URL") or f"sqlite+aiosqlite:///{folder / 'b.sqlite3'}"
        settings = dataclasses.replace(Settings(), database_url=url, files_dir=folder / "files")
        backend = url.split(":", 1)[0]
        print(f"{user_count} users × {per_user} messages = {user_count * per_user} updates "
              f"per workload, store {backend}; {rounds} rounds, each the echo bot then the "
              f"bot (this machine's speed drifts within seconds: a ratio is of one round)")
        async with TelegramEmulator(bot_username="baocao_bot") as emu:
            emu.add_user(STAFF_ID, "vp_so")
            for uid in users:
                emu.add_user(uid, f"ht{uid}")
            await prepare(settings, folder, users)
            runtime = await Runtime.open(settings)
            try:
                for number in range(1, rounds + 1):
                    ceiling = await echo_ceiling(emu, users, per_user)
                    rates = await bot_rates(emu, runtime, users, per_user, number == 1)
                    print(f"round {number}: {'bare PTB echo bot (ceiling)':30} "
                          f"{ceiling:8.1f} updates/s")
                    for workload, rate in rates.items():
                        ratios.setdefault(workload, []).append(100 * rate / ceiling)
                        print(f"round {number}: {'bot: ' + workload:30} {rate:8.1f} updates/s  "
                              f"{100 * rate / ceiling:5.1f} % of the ceiling")
            finally:
                await runtime.close()
    for workload, values in ratios.items():
        print(f"{'bot: ' + workload:36} median {statistics.median(values):5.1f} % of the "
              f"ceiling (rounds: {', '.join(f'{v:.1f}' for v in values)})")


if __name__ == "__main__":
    asyncio.run(main())
