"""The databases of the tests: fresh PostgreSQL ones (when the server is reachable; required
when BOT_TEST_REQUIRE_PG=1, as on CI), the migrated templates of the `settings` fixture, and
seeded copies. Here rather than in conftest.py, which pytest imports under another module
name than `tests.conftest`: the templates made once per process must be known to both."""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import pytest

from app.config import Settings

PG_ADMIN_DSN = os.environ.get("BOT_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")
REQUIRE_PG = os.environ.get("BOT_TEST_REQUIRE_PG") == "1"
# pytest-xdist's worker ("gw0", "gw1"...), in the names of the databases a worker creates.
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "main")
T = TypeVar("T")


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
_PG_SEEDED: list[str] = []  # `seeded_copy`'s databases, dropped by `drop_templates`


async def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
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


async def pg_template() -> str:
    """The name of this process's migrated PostgreSQL database (no connections are kept to
    it, so that it can be copied); dropped by `drop_templates`."""
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


def drop_templates() -> None:
    """Drop this process's PostgreSQL templates (at the end of the session)."""
    names = [*_PG_SEEDED, *([_PG_TEMPLATE] if _PG_TEMPLATE else [])]
    if not names:
        return

    async def drop() -> None:
        admin = await _pg_admin()
        if admin is not None:
            try:
                for name in names:
                    await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            finally:
                await admin.close()

    asyncio.run(drop())


_SEEDED: dict[tuple[str, bool], tuple[Path, str | None, Any]] = {}


@asynccontextmanager
async def seeded_copy(settings: Settings, key: str, seed: Callable[[Settings], Awaitable[T]]
                      ) -> AsyncIterator[tuple[Settings, T]]:
    """`settings` (of the `settings` fixture) on a copy of what `seed` made, and a copy of
    what it returned. `seed` runs once per test process and backend, on a database and a
    folder of its own, and must close its runtime before it returns, so that its database
    and folder (the file store, what it wrote there) are whole; a test's runtime opened on
    the copies is then the seed's bot restarted, which keeps nothing else between updates.
    What `seed` returns is what the test's side holds (what a recording channel was sent)."""
    sqlite = settings.database_url.startswith("sqlite")
    if (key, sqlite) not in _SEEDED:
        folder = Path(tempfile.mkdtemp(prefix=f"seeded-{key}-",
                                       dir=settings.files_dir.parent.parent))
        own = dataclasses.replace(settings, files_dir=folder / "files")
        database = None
        if sqlite:
            shutil.copyfile(settings.files_dir.parent / "bot.sqlite3", folder / "bot.sqlite3")
            own = dataclasses.replace(own, database_url=sqlite_settings(folder).database_url)
        else:
            database = f"bot_seeded_{WORKER}_{uuid.uuid4().hex[:12]}"
            admin = await _reachable_pg_admin()
            try:
                await admin.execute(f'CREATE DATABASE "{database}" '
                                    f'TEMPLATE "{await pg_template()}"')
                user = await admin.fetchval("select current_user")
            finally:
                await admin.close()
            _PG_SEEDED.append(database)
            own = dataclasses.replace(
                own, database_url=f"postgresql+asyncpg://{user}@127.0.0.1:5432/{database}")
        _SEEDED[key, sqlite] = (folder, database, await seed(own))
    folder, database, state = _SEEDED[key, sqlite]
    shutil.copytree(folder, settings.files_dir.parent, dirs_exist_ok=True)  # SQLite's file too
    if database is None:
        yield settings, copy.deepcopy(state)
        return
    async with fresh_pg_database(database) as url:
        yield dataclasses.replace(settings, database_url=url), copy.deepcopy(state)
