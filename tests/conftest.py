"""Shared fixtures: settings on a fresh SQLite file, and a fresh PostgreSQL database when the
server is reachable (required when BOT_TEST_REQUIRE_PG=1, as on CI)."""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import os
import sys
import threading
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from app.config import Settings

PG_ADMIN_DSN = os.environ.get("BOT_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")
REQUIRE_PG = os.environ.get("BOT_TEST_REQUIRE_PG") == "1"
# pytest-xdist's worker ("gw0", "gw1"...), in the names of the databases a worker creates.
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "main")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None):  # noqa: ANN201
    """Shortly before pytest-timeout ends a hanging test (setup, call or teardown, where the
    event loop cancels what is left), print the stack of every asyncio task: an idle event
    loop waiting for something that never comes shows nothing useful in thread stacks.
    pytest-timeout prints the captured output with its own dump."""
    limit = float(item.config.getini("timeout") or 0)
    timer = threading.Timer(limit - 15, _print_tasks) if limit > 30 else None
    if timer is not None:
        timer.daemon = True
        timer.start()
    try:
        yield
    finally:
        if timer is not None:
            timer.cancel()


def _print_tasks() -> None:
    loops = [o for o in gc.get_objects()
             if isinstance(o, asyncio.AbstractEventLoop) and o.is_running()]
    for loop in loops:  # each prints its own tasks, in its own thread
        loop.call_soon_threadsafe(_print_running_tasks)


def _print_running_tasks() -> None:
    print("--- asyncio tasks of a test about to time out ---", file=sys.stderr)
    for task in asyncio.all_tasks():
        task.print_stack(file=sys.stderr)


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


@asynccontextmanager
async def fresh_pg_database() -> AsyncIterator[str]:
    """URL of a brand-new PostgreSQL database, dropped afterwards."""
    admin = await _pg_admin()
    if admin is None:
        message = f"PostgreSQL not reachable at {PG_ADMIN_DSN}"
        if REQUIRE_PG:
            pytest.fail(message + " (BOT_TEST_REQUIRE_PG=1)")
        pytest.skip(message)
    name = f"bot_test_{WORKER}_{uuid.uuid4().hex[:12]}"
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        user = await admin.fetchval("select current_user")
        yield f"postgresql+asyncpg://{user}@127.0.0.1:5432/{name}"
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@pytest.fixture(params=["sqlite", "postgresql"])
async def settings(request, tmp_path: Path) -> AsyncIterator[Settings]:
    """Settings on a fresh database, once per backend."""
    base = sqlite_settings(tmp_path)
    if request.param == "sqlite":
        yield base
        return
    async with fresh_pg_database() as url:
        yield dataclasses.replace(base, database_url=url)


EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
