"""The sending ceiling of `bench/national.py`: a bare python-telegram-bot process that sends
at a fixed rate, with no database, no outbox and no claims, over the same HTTP layer as the
bot (`channels.bot_api_http.AiohttpRequest`). Run as two processes beside the emulator, as
the bot's two workers are, it shows what this machine lets any sender reach.

    python bench/bare_sender.py BASE_URL TOKEN RATE SECONDS CHATS_FILE [MESSAGE_FILE]

(CHATS_FILE: one chat id per line; the messages go to them in turn. MESSAGE_FILE: JSON of a
message as the bot sent it, `text`, `parse_mode`, `reply_markup`: each message has its
shape, so the platform does the same work for it as for the bot's.)

Prints one line: the messages the platform accepted.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from telegram import Bot, InlineKeyboardMarkup  # noqa: E402
from telegram.error import RetryAfter, TelegramError  # noqa: E402

from channels.bot_api_http import AiohttpRequest  # noqa: E402

IN_FLIGHT = 64  # calls at once at most (the bot's sender keeps about as many)


async def send(base_url: str, token: str, rate: float, seconds: float, chats: list[str],
               shape: dict[str, Any]) -> int:
    bot = Bot(token, base_url=base_url, request=AiohttpRequest())
    markup = shape.get("reply_markup")
    keyboard = InlineKeyboardMarkup.de_json(markup, bot) if markup else None
    body = shape.get("text", "")
    await bot.initialize()
    calls = asyncio.Semaphore(IN_FLIGHT)
    accepted = 0

    async def one(chat: str, text: str) -> None:
        nonlocal accepted
        async with calls:
            try:
                await bot.send_message(chat, text, parse_mode=shape.get("parse_mode"),
                                       reply_markup=keyboard)
                accepted += 1
            except (RetryAfter, TelegramError):
                pass

    tasks: set[asyncio.Task[None]] = set()
    start = time.perf_counter()
    sent = 0
    while (elapsed := time.perf_counter() - start) < seconds:
        due = int(elapsed * rate) + 1  # messages that should have started by now
        while sent < due:
            task = asyncio.ensure_future(one(chats[sent % len(chats)], f"bare {sent} {body}"))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            sent += 1
        await asyncio.sleep(max(0.0, (sent / rate) - (time.perf_counter() - start)))
    if tasks:
        await asyncio.gather(*tasks)
    await bot.shutdown()
    return accepted


def main() -> None:
    base_url, token, rate, seconds, chats_file = sys.argv[1:6]
    chats = Path(chats_file).read_text(encoding="utf-8").split()
    shape = json.loads(Path(sys.argv[6]).read_text(encoding="utf-8")) if len(sys.argv) > 6 else {}
    print(asyncio.run(send(base_url, token, float(rate), float(seconds), chats, shape)))


if __name__ == "__main__":
    main()
