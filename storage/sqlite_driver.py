"""aiosqlite with one trip to the connection's thread per statement.

aiosqlite runs each call of a cursor on the connection's own thread: SQLAlchemy's adapter
makes four of them per query (open the cursor, execute, fetch the rows, close it), and each
trip is two thread switches, which on a busy machine cost more than the query. Here opening
a cursor makes no trip, and `execute` runs the statement, fetches its rows and closes the
cursor in one; the rows are then handed out from memory, as SQLAlchemy's adapter does
anyway (it fetches every row right after executing). `description`, `rowcount` and
`lastrowid` are the closed cursor's, set by the statement.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from typing import Any

import aiosqlite
from aiosqlite.context import contextmanager


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
        self._cursor, rows = await self._conn._execute(self._run, False, sql,
                                                       [] if parameters is None else parameters)
        self._rows = rows
        return self

    async def executemany(self, sql: str, parameters: Iterable[Iterable[Any]]
                          ) -> OneTripCursor:
        self._cursor, self._rows = await self._conn._execute(self._run, True, sql, parameters)
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
    @contextmanager
    async def cursor(self) -> OneTripCursor:  # type: ignore[override]
        return OneTripCursor(self)


def connect(database: str, **kwargs: Any) -> OneTripConnection:
    """`aiosqlite.connect` with `OneTripCursor`s (its thread a daemon, as SQLAlchemy's)."""
    connection = OneTripConnection(lambda: sqlite3.connect(database, **kwargs), 64)
    connection._thread.daemon = True
    return connection
