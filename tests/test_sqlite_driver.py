"""The SQLite driver of `storage.sqlite_driver`: one trip per statement, write turns."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path

from sqlalchemy import text

from storage import db


async def test_statements_rows_counts_and_ids_come_back_as_from_aiosqlite(tmp_path: Path
                                                                          ) -> None:
    engine = db.create_engine(f"sqlite+aiosqlite:///{tmp_path / 'd.sqlite3'}")
    try:
        async with engine.begin() as connection:
            await connection.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)"))
            await connection.execute(text("INSERT INTO t (v) VALUES (:v)"),
                                     [{"v": "a"}, {"v": "b"}, {"v": "c"}])
            one = await connection.execute(text("INSERT INTO t (v) VALUES ('d')"))
            assert one.lastrowid == 4
            changed = await connection.execute(text("UPDATE t SET v = 'x' WHERE id > 2"))
            assert changed.rowcount == 2
            back = await connection.execute(text("INSERT INTO t (v) VALUES ('e') RETURNING id"))
            assert back.scalar_one() == 5
        async with engine.connect() as connection:
            rows = (await connection.execute(text("SELECT id, v FROM t ORDER BY id"))).all()
            assert [tuple(r) for r in rows] == [(1, "a"), (2, "b"), (3, "x"), (4, "x"),
                                                (5, "e")]
            assert (await connection.execute(text("SELECT v FROM t WHERE id = 9"))).first() \
                is None
    finally:
        await engine.dispose()


async def test_write_transactions_of_one_process_take_turns(tmp_path: Path) -> None:
    """The second writer begins when the first commits (no busy wait, no "locked"), and a
    failed transaction gives its turn back."""
    engine = db.create_engine(f"sqlite+aiosqlite:///{tmp_path / 'd.sqlite3'}")
    sessions = db.session_factory(engine)
    order: list[str] = []
    try:
        async with engine.begin() as connection:
            await connection.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)"))

        async def write(name: str, hold: float, fail: bool = False) -> None:
            try:
                async with sessions() as session, session.begin():
                    await (await session.connection()).execute(
                        text("INSERT INTO t (v) VALUES (:v)"), {"v": name})
                    order.append(f"{name} in")
                    await asyncio.sleep(hold)
                    order.append(f"{name} out")
                    if fail:
                        raise RuntimeError(name)
            except RuntimeError:
                pass

        first = asyncio.create_task(write("a", 0.2, fail=True))
        await asyncio.sleep(0.05)  # a holds its turn
        await asyncio.gather(first, write("b", 0.0), write("c", 0.0))
        assert order[:2] == ["a in", "a out"]  # the others waited for it
        assert sorted(zip(order[2::2], order[3::2], strict=True)) == [("b in", "b out"),
                                                                      ("c in", "c out")]
        async with engine.connect() as connection:
            values = (await connection.execute(text("SELECT v FROM t ORDER BY v"))).scalars()
            assert list(values) == ["b", "c"]
    finally:
        await engine.dispose()


async def test_a_begin_refused_inside_a_transaction_keeps_the_turn(tmp_path: Path) -> None:
    """SQLite refuses a BEGIN in a transaction: the turn stays with the transaction that
    took it, so another writer of the process still waits for its commit."""
    from storage import sqlite_driver

    connection = sqlite_driver.connect(str(tmp_path / "d.sqlite3"), timeout=5)
    await connection
    try:
        cursor = await connection.cursor()
        await cursor.execute(sqlite_driver.WRITE_BEGIN)
        try:
            await cursor.execute(sqlite_driver.WRITE_BEGIN)
        except Exception as exc:  # sqlite3.OperationalError: within a transaction
            assert "within a transaction" in str(exc)
        else:
            raise AssertionError("SQLite began a transaction within a transaction")
        assert sqlite_driver._write_lock(str(tmp_path / "d.sqlite3")).locked()
        await connection.commit()
        assert not sqlite_driver._write_lock(str(tmp_path / "d.sqlite3")).locked()
    finally:
        await connection.close()


async def test_a_short_write_transaction_runs_on_the_loops_thread_and_others_beside_it(
        tmp_path: Path) -> None:
    """Once a short write transaction (`db.short`) has its turn, its statements and its
    commit run on the event loop's thread (no thread switch per statement); any other
    transaction (a claim, a sweep, a report's reads) runs on the connection's thread."""
    engine = db.create_engine(f"sqlite+aiosqlite:///{tmp_path / 'd.sqlite3'}")
    sessions = db.session_factory(engine)
    threads: list[str] = []
    try:
        async with engine.begin() as connection:
            raw = await connection.get_raw_connection()
            await raw.driver_connection.create_function(  # type: ignore[union-attr]
                "where_am_i", 1, lambda tag: threads.append(
                    f"{tag} {'loop' if threading.get_ident() == LOOP_THREAD else 'other'}"))
            await connection.execute(text("CREATE TABLE t (v TEXT)"))
            await connection.execute(text("SELECT where_am_i('write')"))
        async with sessions() as session, db.short(session):
            connection = await session.connection()
            await connection.execute(text("SELECT where_am_i('short')"))
            await connection.execute(text("INSERT INTO t (v) VALUES ('a')"))
        async with sessions() as session, db.read_only(session):
            connection = await session.connection()
            await connection.execute(text("SELECT where_am_i('read')"))
            assert (await connection.execute(text("SELECT v FROM t"))).scalar_one() == "a"
        assert threads == ["write other", "short loop", "read other"]
    finally:
        await engine.dispose()


LOOP_THREAD = threading.get_ident()  # pytest-asyncio runs the tests' loop on this thread


async def test_a_short_begin_while_another_process_writes_waits_off_the_loop(
        tmp_path: Path) -> None:
    """Another process holds the write lock: the short transaction's BEGIN waits for it on
    the connection's thread, so the event loop goes on meanwhile; then the transaction
    runs as any short one, and the busy timeout is as before."""
    path = tmp_path / "d.sqlite3"
    engine = db.create_engine(f"sqlite+aiosqlite:///{path}")
    sessions = db.session_factory(engine)
    other = sqlite3.connect(path, isolation_level=None)
    try:
        async with engine.begin() as connection:
            await connection.execute(text("CREATE TABLE t (v TEXT)"))
        other.execute("BEGIN IMMEDIATE")
        other.execute("INSERT INTO t (v) VALUES ('other')")

        async def write() -> list[str]:
            async with sessions() as session, db.short(session):
                connection = await session.connection()
                await connection.execute(text("INSERT INTO t (v) VALUES ('ours')"))
                timeout = (await connection.execute(text("PRAGMA busy_timeout"))).scalar()
                values = (await connection.execute(text("SELECT v FROM t"))).scalars()
                return [*values, str(timeout)]

        writing = asyncio.create_task(write())
        ticks = 0
        while ticks < 20:  # the loop runs while the BEGIN waits
            await asyncio.sleep(0.005)
            ticks += 1
        assert not writing.done()
        other.commit()
        assert await writing == ["other", "ours", "30000"]
    finally:
        other.close()
        await engine.dispose()
