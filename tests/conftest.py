"""Shared fixtures: settings on a fresh SQLite file, and a fresh PostgreSQL database when the
server is reachable (required when BOT_TEST_REQUIRE_PG=1, as on CI)."""

from __future__ import annotations

import asyncio
import dataclasses
import faulthandler
import gc
import os
import shutil
import threading
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TextIO

import pytest

from app.config import Settings

PG_ADMIN_DSN = os.environ.get("BOT_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")
REQUIRE_PG = os.environ.get("BOT_TEST_REQUIRE_PG") == "1"
# pytest-xdist's worker ("gw0", "gw1"...), in the names of the databases a worker creates.
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "main")
_STDERR: TextIO | None = None  # see pytest_configure


def pytest_configure(config: pytest.Config) -> None:
    """Keep a stream on the terminal's stderr for the dump below. In a pytest-xdist worker
    everything else a test writes is captured or thrown away, and pytest-timeout's thread
    method ends the worker, with its own dump, where nobody sees it."""
    global _STDERR
    _STDERR = os.fdopen(os.dup(2), "w", buffering=1, encoding="utf-8", errors="replace")


def pytest_unconfigure(config: pytest.Config) -> None:
    if _STDERR is not None:
        _STDERR.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None):  # noqa: ANN201
    """Shortly before pytest-timeout ends a hanging test (setup, call or teardown, where the
    event loop cancels what is left), print the stack of every thread and of every asyncio
    task: an idle event loop waiting for something that never comes shows nothing useful in
    thread stacks."""
    limit = float(item.config.getini("timeout") or 0)
    timer = threading.Timer(limit - 15, _dump, [item.nodeid]) if limit > 30 else None
    if timer is not None:
        timer.daemon = True
        timer.start()
    try:
        yield
    finally:
        if timer is not None:
            timer.cancel()


def _dump(nodeid: str) -> None:
    if _STDERR is None:
        return
    print(f"--- {nodeid} is about to time out; the stacks of its threads ---", file=_STDERR)
    faulthandler.dump_traceback(file=_STDERR, all_threads=True)
    loops = [o for o in gc.get_objects()
             if isinstance(o, asyncio.AbstractEventLoop) and o.is_running()]
    for loop in loops:  # each prints its own tasks, in its own thread
        loop.call_soon_threadsafe(_print_running_tasks, _STDERR)


def _print_running_tasks(out: TextIO) -> None:
    print("--- asyncio tasks of a test about to time out ---", file=out)
    for task in asyncio.all_tasks():
        task.print_stack(file=out)
    out.flush()


def sqlite_settings(folder: Path) -> Settings:
    return dataclasses.replace(
        Settings(),
        database_url=f"sqlite+aiosqlite:///{folder / 'bot.sqlite3'}",
        files_dir=folder / "files",
    )


async def _pg_admin():
    import asyncpg

    try:
        return await asyncpg.connect(PG_ADMIN_DSN, timeout=3)
    except Exception:  # any failure means "not reachable" here
        return None


async def _reachable_pg_admin():
    """An admin connection; the test skips (fails with BOT_TEST_REQUIRE_PG=1) without one."""
    admin = await _pg_admin()
    if admin is None:
        message = f"PostgreSQL not reachable at {PG_ADMIN_DSN}"
        if REQUIRE_PG:
            pytest.fail(message + " (BOT_TEST_REQUIRE_PG=1)")
        pytest.skip(message)
    return admin


@asynccontextmanager
async def fresh_pg_database(template: str | None = None) -> AsyncIterator[str]:
    """URL of a brand-new PostgreSQL database (a copy of `template` if given, else empty),
    dropped afterwards."""
    admin = await _reachable_pg_admin()
    name = f"bot_test_{WORKER}_{uuid.uuid4().hex[:12]}"
    copy = f' TEMPLATE "{template}"' if template else ""
    await admin.execute(f'CREATE DATABASE "{name}"{copy}')
    try:
        user = await admin.fetchval("select current_user")
        yield f"postgresql+asyncpg://{user}@127.0.0.1:5432/{name}"
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


# Migrated databases made once per test process and copied for each test of `settings`:
# running every migration again for each test costs more than the test itself in many files.
# The copies are what the same migrations make on an empty database (test_storage migrates
# empty ones of its own, `empty_settings`); `Runtime.open` still runs `db.upgrade` on them.
_SQLITE_TEMPLATE: Path | None = None
_PG_TEMPLATE: str | None = None


async def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    global _SQLITE_TEMPLATE
    if _SQLITE_TEMPLATE is None:
        from storage import db

        path = tmp_path_factory.mktemp("migrated") / "template.sqlite3"
        engine = db.create_engine(f"sqlite+aiosqlite:///{path}")
        try:
            await db.upgrade(engine)
        finally:
            await engine.dispose()  # the last connection closed: nothing left in the WAL
        _SQLITE_TEMPLATE = path
    return _SQLITE_TEMPLATE


async def _pg_template() -> str:
    """The name of this process's migrated PostgreSQL database (no connections are kept to
    it, so that it can be copied); dropped by `pytest_sessionfinish`."""
    global _PG_TEMPLATE
    if _PG_TEMPLATE is None:
        from storage import db

        name = f"bot_template_{WORKER}_{uuid.uuid4().hex[:12]}"
        admin = await _reachable_pg_admin()
        try:
            await admin.execute(f'CREATE DATABASE "{name}"')
            user = await admin.fetchval("select current_user")
        finally:
            await admin.close()
        engine = db.create_engine(f"postgresql+asyncpg://{user}@127.0.0.1:5432/{name}")
        try:
            await db.upgrade(engine)
        finally:
            await engine.dispose()
        _PG_TEMPLATE = name
    return _PG_TEMPLATE


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _PG_TEMPLATE is None:
        return

    async def drop(name: str) -> None:
        admin = await _pg_admin()
        if admin is not None:
            try:
                await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            finally:
                await admin.close()

    asyncio.run(drop(_PG_TEMPLATE))


@pytest.fixture(params=["sqlite", "postgresql"])
async def settings(request, tmp_path: Path,
                   tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Settings]:
    """Settings on a fresh migrated database, once per backend."""
    base = sqlite_settings(tmp_path)
    if request.param == "sqlite":
        shutil.copyfile(await _sqlite_template(tmp_path_factory), tmp_path / "bot.sqlite3")
        yield base
        return
    async with fresh_pg_database(await _pg_template()) as url:
        yield dataclasses.replace(base, database_url=url)


@pytest.fixture(params=["sqlite", "postgresql"])
async def empty_settings(request, tmp_path: Path) -> AsyncIterator[Settings]:
    """Settings on a fresh empty database (no migration run), once per backend."""
    base = sqlite_settings(tmp_path)
    if request.param == "sqlite":
        yield base
        return
    async with fresh_pg_database() as url:
        yield dataclasses.replace(base, database_url=url)


@pytest.fixture(scope="session")
def console_outputs(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    """`tests.transcripts.ConsoleOutputs` in a folder of this run that every pytest-xdist
    worker of it shares."""
    from tests.transcripts import ConsoleOutputs

    base = tmp_path_factory.getbasetemp()
    folder = (base.parent if "PYTEST_XDIST_WORKER" in os.environ else base) / "console-outputs"
    folder.mkdir(exist_ok=True)
    return ConsoleOutputs(folder)


EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
