"""Each transcript plays on an empty database of its own (`bot.py console --script`, the
tests). Migrating SQLite from scratch for every transcript is slow, so a migrated template
is made once per process, copied for each transcript, and deleted when the process ends."""

from __future__ import annotations

import asyncio
import atexit
import dataclasses
import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from app.config import Settings
from storage import db

_template: Path | None = None


def _migrated_template() -> Path:
    global _template
    if _template is None or not _template.exists():
        folder = Path(tempfile.mkdtemp(prefix="bot-template-"))
        atexit.register(_remove, folder, os.getpid())
        path = folder / "template.sqlite3"

        async def migrate() -> None:
            engine = db.create_engine(f"sqlite+aiosqlite:///{path}")
            await db.upgrade(engine)
            await engine.dispose()

        asyncio.run(migrate()) if not _loop_running() else _run_in_thread(migrate)
        _template = path
    return _template


def _remove(folder: Path, owner: int) -> None:
    """Delete the template's folder when the process that made it ends (not a fork of it)."""
    if os.getpid() == owner:
        shutil.rmtree(folder, ignore_errors=True)


def _loop_running() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _run_in_thread(factory: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Run `factory()` on a loop of its own in a thread (this thread's loop is running)."""
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
