"""Helpers to play `.chat` text through the console channel in tests."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from app.bootstrap import Runtime
from app.cli import admin_runner
from app.config import Settings
from app.scratch import isolated_settings
from channels.console import play_script
from tests.conftest import EXAMPLES

WORKING_MORNING = datetime(2024, 3, 4, 2, 0, tzinfo=UTC)  # Monday 09:00 in Hà Nội


async def play(path: Path, settings: Settings | None = None) -> tuple[int, str]:
    """Play the transcript at `path` on a fresh database; (exit code, printed output)."""
    out = io.StringIO()
    base = settings or Settings()
    if settings is not None and not settings.database_url.startswith("sqlite"):
        runtime = await Runtime.open(settings)
        code = await play_script(runtime, path, out, admin_runner(settings))
        await runtime.close()
        return code, out.getvalue()
    with isolated_settings(base) as fresh:
        runtime = await Runtime.open(dataclasses.replace(fresh), migrate=True)
        try:
            code = await play_script(runtime, path, out, admin_runner(fresh))
        finally:
            await runtime.close()
    return code, out.getvalue()


async def play_text(tmp_path: Path, text: str, name: str = "t.chat") -> tuple[int, str]:
    """Play transcript `text`, written beside a copy of the example units."""
    from tests.conftest import EXAMPLES

    (tmp_path / "units.csv").write_bytes((EXAMPLES / "units.csv").read_bytes())
    files = tmp_path / "files"
    files.mkdir(exist_ok=True)
    for f in (EXAMPLES / "files").iterdir():
        (files / f.name).write_bytes(f.read_bytes())
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return await play(path)


class ConsoleOutputs:
    """What `play(script)` gives for each example transcript, kept for the rest of the test
    run in `folder` (shared by the pytest-xdist workers): test_examples plays every example
    on the console, and the Telegram and Zalo tests compare their own play of it with that.
    Each play starts on a fresh copy of the migrated database at the script's own `@now`,
    so a second play in the same run would print the same again."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def _file(self, script: Path) -> Path:
        digest = hashlib.sha256(script.read_bytes()).hexdigest()[:16]
        return self.folder / f"{script.stem}-{digest}.json"

    async def play(self, script: Path) -> tuple[int, str]:
        """Play `script` on the console and keep what it gave."""
        code, out = await play(script)
        path = self._file(script)
        part = path.with_name(f"{path.name}.{os.getpid()}.part")
        part.write_text(json.dumps({"code": code, "out": out}), encoding="utf-8")
        os.replace(part, path)  # whole or not at all, for the other worker
        return code, out

    async def get(self, script: Path) -> tuple[int, str]:
        """What the console gave for `script` in this run, played now if it was not yet."""
        try:
            kept = json.loads(self._file(script).read_text(encoding="utf-8"))
        except FileNotFoundError:
            return await self.play(script)
        return kept["code"], kept["out"]


@asynccontextmanager
async def platform_bot(session_type: Any, **changes: Any) -> AsyncIterator[tuple[Any, Runtime]]:
    """A transcript session over a chat platform (`TelegramSession`, `ZaloSession`) on a fresh
    database, with the example units, a staff member `vp_so` and a reporter `ht_lhp`."""
    with isolated_settings(Settings()) as base:
        settings = dataclasses.replace(base, **changes)
        runtime = await Runtime.open(settings, migrate=True)
        # A working morning, whatever the real time: bulk waits out quiet hours and days off.
        session = session_type(runtime, io.StringIO(), start=WORKING_MORNING)
        await session.start()
        run_admin = admin_runner(settings)
        try:
            for args in (
                ["units", "import", "units.csv"],
                ["members", "add", "vp_so", "--channel", "console", "--role", "staff",
                 "--unit", "VP-SO"],
                ["members", "add", "ht_lhp", "--channel", "console", "--role", "reporter",
                 "--unit", "THPT-LHP"],
            ):
                code, output = await run_admin(session.rewrite_admin(args), EXAMPLES, session.now)
                assert code == 0, output
            yield session, runtime
        finally:
            await session.stop()
            await runtime.close()


async def give_task(session: Any,
                    line: str = "Báo cáo thử | hạn 08/05/2099 | đơn vị THPT-LHP") -> Any:
    """Staff member `vp_so` assigns a task with `/giao LINE` and presses [Gửi]; returns the
    confirmation message that carried the button."""
    from channels.console import user_event

    await session.send(user_event("vp_so", text=f"/giao {line}"))
    confirm, button = session.find_button("vp_so", "Gửi")
    await session.send(user_event("vp_so", button=button.payload,
                                  button_message_id=confirm.message_id))
    return confirm
