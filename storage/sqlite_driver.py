"""aiosqlite with one trip to the connection's thread per statement, and the write lock
taken in turn within the process.

aiosqlite runs each call of a cursor on the connection's own thread: SQLAlchemy's adapter
makes four of them per query (open the cursor, execute, fetch the rows, close it), and each
trip is two thread switches, which on a busy machine cost more than the query. Here opening
a cursor makes no trip, and `execute` runs the statement, fetches its rows and closes the
cursor in one; the rows are then handed out from memory, as SQLAlchemy's adapter does
anyway (it fetches every row right after executing). `description`, `rowcount` and
`lastrowid` are the closed cursor's, set by the statement.

Write transactions (`BEGIN IMMEDIATE`, `storage.db`) of one process wait for each other on
an asyncio lock per database file before they ask SQLite, so the next one starts the moment
the last commits, instead of sleeping in SQLite's busy handler (1, 2, 5, 10... ms a try)
while it handles an update beside the sender recording what it sent. Other processes are
still waited for by the busy timeout; a turn not come within that timeout fails as SQLite
would ("database is locked").

A short write transaction (`SHORT_BEGIN`, `storage.db.short`: an update's handling, an
acknowledgement) runs on the event loop's own thread once it has its turn: its BEGIN is
tried there without waiting (it goes to the connection's thread to wait when another
process holds the lock), then none of its statements nor its COMMIT waits for another
connection (WAL), each takes tens of microseconds, and the two thread switches per
statement cost more than that: an update's handling makes about ten, and a busy loop made
each switch wait for the interpreter. Other transactions (a claim of a thousand outbox rows,
a sweep, a report's reads) run on the connection's thread, beside the loop: on it they
would hold up the messages it is sending.
"""

from __future__ import annotations

import asyncio
import functools
import os
import sqlite3
import weakref
from collections.abc import Iterable
from typing import Any

import aiosqlite
from aiosqlite.context import contextmanager

WRITE_BEGIN = "BEGIN IMMEDIATE"
SHORT_BEGIN = "BEGIN IMMEDIATE -- short"  # a short one: on the loop's thread

# The write lock of each database file, per event loop (a lock belongs to one loop).
_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, asyncio.Lock]] = (
    weakref.WeakKeyDictionary())


def _write_lock(database: str) -> asyncio.Lock:
    """The lock of the file `database` however its path is written."""
    locks = _locks.setdefault(asyncio.get_running_loop(), {})
    return locks.setdefault(_file_of(database), asyncio.Lock())


@functools.lru_cache(maxsize=64)
def _file_of(database: str) -> str:
    return database if database == ":memory:" else os.path.realpath(database)


class OneTripCursor(aiosqlite.Cursor):
    def __init__(self, conn: aiosqlite.Connection) -> None:
        self.iter_chunk_size = conn._iter_chunk_size
        self._conn = conn
        self._cursor: sqlite3.Cursor = None  # type: ignore[assignment]  # set by `execute`
        self._rows: list[Any] = []

    def _run(self, many: bool, sql: str, parameters: Any) -> tuple[sqlite3.Cursor, list[Any]]:
        """On the connection's thread: the statement, its rows, the cursor closed."""
        cursor = self._conn._conn.cursor()
        try:
            if many:
                cursor.executemany(sql, parameters)
            else:
                cursor.execute(sql, parameters)
            rows = cursor.fetchall() if cursor.description else []
        finally:
            cursor.close()
        return cursor, rows

    async def execute(self, sql: str, parameters: Iterable[Any] | None = None
                      ) -> OneTripCursor:
        conn: OneTripConnection = self._conn  # type: ignore[assignment]
        if conn.writing:
            self._cursor, self._rows = self._run(False, sql,
                                                 [] if parameters is None else parameters)
            return self
        took = await conn.take_turn() if sql in (WRITE_BEGIN, SHORT_BEGIN) else False
        if took and sql == SHORT_BEGIN:
            try:
                began = conn.begin_at_once()
            except BaseException:
                conn.end_turn()
                raise
            if began:
                self._cursor, self._rows = None, []  # type: ignore[assignment]
                return self
        try:
            self._cursor, rows = await conn._execute(self._run, False, sql,
                                                     [] if parameters is None else parameters)
        except BaseException:
            if took:  # a BEGIN that failed gives back only a turn it took itself
                conn.end_turn()
            raise
        self._rows = rows
        if took and sql == SHORT_BEGIN:  # begun after another process's commit
            conn._short = True
        return self

    async def executemany(self, sql: str, parameters: Iterable[Iterable[Any]]
                          ) -> OneTripCursor:
        conn: OneTripConnection = self._conn  # type: ignore[assignment]
        if conn.writing:
            self._cursor, self._rows = self._run(True, sql, parameters)
        else:
            self._cursor, self._rows = await conn._execute(self._run, True, sql, parameters)
        return self

    async def executescript(self, sql_script: str) -> OneTripCursor:
        raise NotImplementedError("executescript: use the connection's")

    async def fetchone(self) -> Any:
        return self._rows.pop(0) if self._rows else None

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        size = size or (self._cursor.arraysize if self._cursor is not None else 1)
        rows, self._rows = self._rows[:size], self._rows[size:]
        return rows

    async def fetchall(self) -> list[Any]:
        rows, self._rows = self._rows, []
        return rows

    async def close(self) -> None:
        self._rows = []  # the cursor itself was closed by `execute`

    @property
    def description(self) -> Any:
        return self._cursor.description if self._cursor is not None else None

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount if self._cursor is not None else -1

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid if self._cursor is not None else None


class OneTripConnection(aiosqlite.Connection):
    def __init__(self, database: str, timeout: float, **kwargs: Any) -> None:
        kwargs["check_same_thread"] = False  # write transactions run on the loop's thread
        super().__init__(lambda: sqlite3.connect(database, timeout=timeout, **kwargs), 64)
        self._database = database
        self._timeout = timeout
        self._turn: asyncio.Lock | None = None  # the process's write lock, while held
        self._turn_loop: asyncio.AbstractEventLoop | None = None  # ... and its event loop
        self._short = False  # in a short write transaction (`SHORT_BEGIN`), on the loop

    @contextmanager
    async def cursor(self) -> OneTripCursor:  # type: ignore[override]
        return OneTripCursor(self)

    @property
    def writing(self) -> bool:
        """Whether this connection is in a short write transaction whose BEGIN went
        through: it holds the database's write lock, so its statements wait for nobody."""
        return self._short and self.in_transaction

    def begin_at_once(self) -> bool:
        """A short write transaction's BEGIN on this thread if no other process holds the
        write lock (no busy wait); False when one does, and nothing was begun."""
        conn = self._conn
        conn.execute("PRAGMA busy_timeout = 0")
        try:
            conn.execute(SHORT_BEGIN)
        except sqlite3.OperationalError:  # locked by another process: wait on the thread
            return False
        finally:
            conn.execute(f"PRAGMA busy_timeout = {int(self._timeout * 1000)}")
        self._short = True
        return True

    async def take_turn(self) -> bool:
        """Wait for the other write transactions of this process on the database; False
        when this connection holds the turn already (SQLite then refuses the BEGIN)."""
        if self._turn is not None:
            return False
        lock = _write_lock(self._database)
        if lock.locked():
            try:
                await asyncio.wait_for(lock.acquire(), self._timeout)
            except TimeoutError:
                raise sqlite3.OperationalError("database is locked") from None
        else:
            await lock.acquire()
        self._turn, self._turn_loop = lock, asyncio.get_running_loop()
        return True

    def end_turn(self) -> None:
        """Give the turn back, from the loop that took it or, when the connection is closed
        from another thread (a connection collected by the garbage collector), through
        that loop: an asyncio lock is not released safely from another thread."""
        self._short = False
        lock, loop, self._turn, self._turn_loop = self._turn, self._turn_loop, None, None
        if lock is None:
            return
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if loop is None or running is loop:
            lock.release()
        elif not loop.is_closed():
            loop.call_soon_threadsafe(lock.release)

    async def commit(self) -> None:
        try:
            if self.writing:
                self._conn.commit()
            else:
                await super().commit()
        finally:
            self.end_turn()

    async def rollback(self) -> None:
        try:
            if self.writing or not self.in_transaction:  # the pool's reset after a commit
                self._conn.rollback()
            else:
                await super().rollback()
        finally:
            self.end_turn()

    async def close(self) -> None:
        try:
            await super().close()
        finally:
            self.end_turn()

    def stop(self) -> asyncio.Future | None:
        self.end_turn()
        return super().stop()


def connect(database: str, *, timeout: float, **kwargs: Any) -> OneTripConnection:
    """`aiosqlite.connect` with `OneTripCursor`s and write turns (its thread a daemon, as
    SQLAlchemy makes aiosqlite's)."""
    connection = OneTripConnection(database, timeout, **kwargs)
    connection._thread.daemon = True
    return connection
