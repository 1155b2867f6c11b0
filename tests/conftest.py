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
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TextIO

import pytest

from app.config import Settings
from tests import databases
from tests.databases import (  # noqa: F401 - the tests import them from here
    PG_ADMIN_DSN,
    fresh_pg_database,
    seeded_copy,
    sqlite_settings,
)

_STDERR: TextIO | None = None  # see pytest_configure


def pytest_configure(config: pytest.Config) -> None:
    """Keep a stream on the terminal's stderr for the dump below. In a pytest-xdist worker
    everything else a test writes is captured or thrown away, and pytest-timeout's thread
    method ends the worker, with its own dump, where nobody sees it."""
    global _STDERR
    _STDERR = os.fdopen(os.dup(2), "w", buffering=1, encoding="utf-8", errors="replace")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    databases.drop_templates()


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


@pytest.fixture(params=["sqlite", "postgresql"])
async def settings(request, tmp_path: Path,
                   tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Settings]:
    """Settings on a fresh migrated database, once per backend."""
    base = sqlite_settings(tmp_path)
    if request.param == "sqlite":
        shutil.copyfile(await databases.sqlite_template(tmp_path_factory), tmp_path / "bot.sqlite3")
        yield base
        return
    async with fresh_pg_database(await databases.pg_template()) as url:
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
