"""The async engine (SQLite through aiosqlite, PostgreSQL through asyncpg) and migrations."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

from sqlalchemy import Connection, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    async_sessionmaker,
    create_async_engine,
)
from sqlmodel.ext.asyncio.session import AsyncSession

from storage import sqlite_driver

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
READ_ONLY = "bot_read_only"  # execution option of the connection of a `read_only` transaction
SHORT = "bot_short"  # execution option of the connection of a `short` transaction
# The newest migration. A database already there is not handed to Alembic at start-up:
# importing it and reading its scripts cost about 0.2 s of `bot.py run`'s 1.8 s start
# (tests/test_storage checks that this is the head of `migrations/versions`).
HEAD_REVISION = "0022"
IDLE_PING = 1.0  # seconds idle after which a pooled PostgreSQL connection is checked first
_IDLE_SINCE = "bot_idle_since"  # in a pooled connection's `info`

# A database session and a factory of them, by the names the layers above use: they build no
# SQL (`.importlinter`), so they need not import SQLAlchemy to name its types.
Session: TypeAlias = AsyncSession
Sessions: TypeAlias = async_sessionmaker[AsyncSession]


class DatabaseUnreachable(Exception):
    """The configured database cannot be opened; the message says which and why."""


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def reason(exc: BaseException) -> str:
    """The driver's own words for a failure, on one line (SQLAlchemy wraps them in its
    adapter's exception and adds a link on a second line)."""
    inner = getattr(exc, "orig", None) or exc
    inner = inner.__cause__ or inner
    text = inner.strerror if isinstance(inner, OSError) and inner.strerror else str(inner)
    return " ".join(text.split()) or type(inner).__name__


def create_engine(url: str) -> AsyncEngine:
    """An engine for `url`; SQLite gets WAL, foreign keys and a busy timeout."""
    if is_sqlite(url):
        database = make_url(url).database
        if database and database != ":memory:":
            folder = Path(database).parent
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise DatabaseUnreachable(f"{make_url(url).render_as_string()}: cannot create "
                                          f"the folder {folder} ({reason(exc)})") from exc
        # One trip to the connection's thread per statement (`storage.sqlite_driver`).
        engine = create_async_engine(url, async_creator=partial(
            sqlite_driver.connect, database or ":memory:", timeout=30,
            check_same_thread=False))

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            # Let BEGIN be issued by SQLAlchemy events below, so writers take the lock early.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        @event.listens_for(engine.sync_engine, "begin")
        def _sqlite_begin(connection: Connection) -> None:
            # BEGIN IMMEDIATE: one writer at a time, no lock upgrades that deadlock. A read-only
            # transaction begins deferred: a snapshot from its first read, no write lock.
            options = connection.get_execution_options()
            if options.get(READ_ONLY):
                connection.exec_driver_sql("BEGIN")
            elif options.get(SHORT):  # in turns, and on the loop's thread (the driver)
                connection.exec_driver_sql(sqlite_driver.SHORT_BEGIN)
            else:
                connection.exec_driver_sql(sqlite_driver.WRITE_BEGIN)  # in turns (the driver)

        return engine
    # No JIT: the bot's queries are short, and the row estimates of the recursive unit-tree
    # queries are so high that PostgreSQL would spend half a second compiling each of them.
    # Custom plans: the prepared statements' generic plans read a group's targets 2-3 times
    # slower (bench/progress.py, `/tiendo @group`).
    settings = {"jit": "off", "plan_cache_mode": "force_custom_plan"}
    engine = create_async_engine(url, connect_args={"server_settings": settings})
    _ping_when_idle(engine)
    return engine


def _ping_when_idle(engine: AsyncEngine) -> None:
    """Check a pooled connection before use when it sat idle for `IDLE_PING` seconds: one
    the server dropped meanwhile (a restart, an idle timeout) is replaced, unseen. A pre-ping
    at every checkout cost asyncpg three round trips (a transaction around `;`), a fifth of
    an update's; a connection used a moment ago is alive but for a crash in between, which
    the statements then in flight would meet anyway."""

    @event.listens_for(engine.sync_engine, "connect")
    def _connected(_dbapi_connection: Any, record: Any) -> None:
        record.info[_IDLE_SINCE] = time.monotonic()

    @event.listens_for(engine.sync_engine, "checkin")
    def _checked_in(_dbapi_connection: Any, record: Any) -> None:
        record.info[_IDLE_SINCE] = time.monotonic()

    @event.listens_for(engine.sync_engine, "checkout")
    def _checked_out(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        if time.monotonic() - record.info.get(_IDLE_SINCE, 0.0) < IDLE_PING:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:  # the pool replaces it with a new connection
            raise DisconnectionError(reason(exc)) from exc


@asynccontextmanager
async def read_only(session: AsyncSession) -> AsyncIterator[AsyncSession]:
    """A transaction of `session` that only reads, for long reads that must not keep writers
    waiting: on SQLite it takes no write lock (a deferred BEGIN; WAL lets writers commit
    meanwhile while it goes on reading its snapshot), on PostgreSQL it is READ ONLY. A write
    in it fails on PostgreSQL and may fail on SQLite: use `session.begin()` for those."""
    async with session.begin():
        await session.connection(execution_options={READ_ONLY: True,
                                                    "postgresql_readonly": True})
        yield session


@asynccontextmanager
async def short(session: AsyncSession) -> AsyncIterator[AsyncSession]:
    """A write transaction of `session` that is short: an update's handling, the record of
    what was sent. On SQLite its statements run on the event loop's thread, without two
    thread switches each (`storage.sqlite_driver`); a long one (a claim of a thousand rows,
    a sweep) would hold up the loop meanwhile, and belongs in `session.begin()`."""
    async with session.begin():
        await session.connection(execution_options={SHORT: True})
        yield session


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)


def alembic_config(url: str) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url)
    return config


async def _run_alembic(engine: AsyncEngine, action: str, revision: str) -> None:
    def run(sync_connection: Connection) -> None:
        from alembic import command

        config = alembic_config(str(engine.url))
        config.attributes["connection"] = sync_connection
        getattr(command, action)(config, revision)

    name = engine.url.render_as_string()  # the password hidden
    try:
        # Whatever stops the first connection (no server, no such database or role, a wrong
        # password, a file that cannot be opened) means the database cannot be opened.
        connection = await engine.connect()
    except Exception as exc:  # driver errors differ per backend; name the database
        raise DatabaseUnreachable(f"{name}: {reason(exc)}") from exc
    try:
        if action == "upgrade" and revision == "head" and await _at_head(connection):
            return
        async with connection.begin():
            await connection.run_sync(run)
    except (TimeoutError, OSError) as exc:
        raise DatabaseUnreachable(f"{name}: {reason(exc)}") from exc
    finally:
        await connection.close()


async def _at_head(connection: AsyncConnection) -> bool:
    """Whether the database is at `HEAD_REVISION` (its version table says so alone)."""
    try:
        versions = (await connection.execute(text("SELECT version_num FROM alembic_version"))
                    ).scalars().all()
    except DBAPIError:  # no version table yet (a new database): Alembic creates it
        versions = []
    await connection.rollback()
    return versions == [HEAD_REVISION]


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    await _run_alembic(engine, "upgrade", revision)


async def downgrade(engine: AsyncEngine, revision: str = "base") -> None:
    await _run_alembic(engine, "downgrade", revision)
