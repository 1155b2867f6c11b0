"""Starts bot processes quickly for the crash test: `python -m tests.bot_zygote CONFIG`
imports the bot once, then forks a new bot process for every `spawn` line on standard input
and answers with its pid. Each child runs what `bot.py run` runs (the Telegram adapter, the
APScheduler sweep and the sender) with its own event loop and database connections, so a
restart after SIGKILL costs a fork instead of ~1-2 s of imports. Children are reaped at once
(SIGCHLD ignored), so a killed one is gone, as after a real crash."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from datetime import timedelta
from pathlib import Path

from app.bootstrap import Runtime
from app.cli import serve_channels
from app.config import load_settings
from scheduler import service


def serve(config: Path, log: Path) -> None:
    """The child: run the bot until killed. Its first sweep and drain come at once rather
    than after the start-up's grace (`FIRST_TICK_AFTER`, which lets a production bot answer
    waiting updates first): a crash test restarts the bot twenty times, and what it checks
    does not depend on that pause."""
    with log.open("ab") as out:
        os.dup2(out.fileno(), 1)
        os.dup2(out.fileno(), 2)
    service.FIRST_TICK_AFTER = timedelta(0)

    async def main() -> None:
        runtime = await Runtime.open(load_settings(config))
        try:
            await serve_channels(runtime)
        finally:
            await runtime.close()

    asyncio.run(main())


async def warm_up(config: Path) -> None:
    """Load what the first open loads (migration scripts) and what `serve_channels` imports
    (the channels, the scheduler), then close everything."""
    import channels.telegram  # noqa: F401
    import channels.web  # noqa: F401
    import channels.zalo  # noqa: F401
    import scheduler.service  # noqa: F401

    runtime = await Runtime.open(load_settings(config))
    await runtime.close()


def main() -> None:
    config = Path(sys.argv[1])
    log = config.with_suffix(".log")
    asyncio.run(warm_up(config))
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    for line in sys.stdin:
        if line.strip() != "spawn":
            continue
        pid = os.fork()
        if pid == 0:
            try:
                serve(config, log)
            finally:
                os._exit(0)
        print(pid, flush=True)


if __name__ == "__main__":
    main()
