"""A task to many units is written in bulk (targets counted together, reminders and messages
by executemany, the draft's units read in chunks) and the sweep reads each batch in a few
queries: the same rows and counters as one unit at a time, on SQLite and on PostgreSQL."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from sqlalchemy import func
from sqlmodel import col, select

from app.bootstrap import Runtime
from bench.wave import build_wave
from handlers import giao
from storage.models import Outbox, ProgressTally, Reminder, Target, UnitTally
from tests.conftest import fresh_pg_database, sqlite_settings
from tests.test_delivery import NOW

UNITS = 7


@asynccontextmanager
async def runtime_on(backend: str, folder: Path) -> AsyncIterator[Runtime]:
    settings = sqlite_settings(folder)
    if backend == "sqlite":
        runtime = await Runtime.open(settings)
        try:
            yield runtime
        finally:
            await runtime.close()
        return
    async with fresh_pg_database() as url:
        runtime = await Runtime.open(dataclasses.replace(settings, database_url=url))
        try:
            yield runtime
        finally:
            await runtime.close()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_a_task_to_many_units_is_planned_counted_and_swept(
        backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(giao, "ID_CHUNK", 3)  # the draft's units read in several chunks
    async with runtime_on(backend, tmp_path) as runtime:
        chats = await build_wave(runtime, UNITS, NOW)
        async with runtime.sessions() as session:
            targets = (await session.exec(select(Target).order_by(col(Target.id)))).all()
            assert len(targets) == UNITS
            planned = (await session.exec(select(Reminder.target_id, func.count())
                                          .group_by(Reminder.target_id))).all()
            assert {t for t, _ in planned} == {t.id for t in targets}
            assert len({n for _, n in planned}) == 1  # the same plan for every target
            tally = (await session.exec(select(func.sum(ProgressTally.n)).where(
                ProgressTally.scope == ""))).one()
            assert tally == UNITS  # counted once each
            open_ = (await session.exec(select(func.sum(UnitTally.open)))).one()
            assert open_ == UNITS
        assert await runtime.dispatcher.sweep(NOW) == UNITS
        async with runtime.sessions() as session:
            rows = (await session.exec(select(Outbox).where(
                col(Outbox.reminder_id).is_not(None)))).all()
        assert sorted(r.chat_id for r in rows) == sorted(chats)  # one reminder each
        assert all(r.priority == 1 and r.buttons and r.attempts == 0 and not r.is_group
                   and r.target_id for r in rows)
        assert await runtime.dispatcher.sweep(NOW) == 0  # nothing twice
