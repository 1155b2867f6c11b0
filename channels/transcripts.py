"""Each transcript plays on an empty database of its own. Migrating SQLite from scratch for
every transcript is slow, so a migrated template is made once per process and copied."""

from __future__ import annotations

import asyncio
import dataclasses
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from app.config import Settings
from storage import db

_template: Path | None = None


def _migrated_template() -> Path:
    global _template
    if _template is None or not _template.exists():
        folder = Path(tempfile.mkdtemp(prefix="bot-template-"))
        path = folder / "template.sqlite3"

        async def migrate() -> None:
            engine = db.create_engine(f"sqlite+aiosqlite:///{path}")
            await db.upgrade(engine)
            await engine.dispose()

        asyncio.run(migrate()) if not _loop_running() else _run_in_thread(migrate)
        _template = path
    return _template


def _loop_running() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _run_in_thread(factory) -> None:  # type: ignore[no-untyped-def]
    import threading

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


def rewrite_members_add(args: list[str], channel: str, id_of: Callable[[str], str]) -> list[str]:
    """`members add NAME --channel console` → `--channel <channel> --id <id_of(NAME)>`, so a
    transcript written for the console plays on a chat platform."""
    if args[:2] != ["members", "add"] or len(args) < 3:
        return args
    out: list[str] = []
    rest = iter(args)
    for arg in rest:
        if arg in ("--channel", "--channel=console"):
            value = "console" if arg.endswith("=console") else next(rest, "")
            if value == "console":
                out += ["--channel", channel, "--id", id_of(args[2])]
                continue
            out += [arg, value]
            continue
        out.append(arg)
    return out
