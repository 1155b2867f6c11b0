"""Migrations and repositories on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool
from sqlmodel import select

from app.bootstrap import Runtime
from storage import db
from storage.models import Assignment, Member, Submission, Target, Unit
from tests.databases import fresh_pg_database

NOW = datetime(2023, 5, 1, 1, 0, tzinfo=UTC)


async def table_names(engine) -> set[str]:
    async with engine.connect() as connection:
        return set(await connection.run_sync(lambda c: inspect(c).get_table_names()))


async def test_migrations_upgrade_downgrade_upgrade(empty_settings) -> None:
    engine = db.create_engine(empty_settings.database_url)
    try:
        await db.upgrade(engine)
        assert {"unit", "member", "assignment", "target", "outbox", "reminder"} <= \
            await table_names(engine)
        await db.downgrade(engine)
        assert await table_names(engine) <= {"alembic_version"}
        await db.upgrade(engine)
        assert "submission" in await table_names(engine)
    finally:
        await engine.dispose()


def test_head_revision_is_the_newest_migration() -> None:
    from alembic.script import ScriptDirectory

    scripts = ScriptDirectory.from_config(db.alembic_config("sqlite://"))
    assert scripts.get_heads() == [db.HEAD_REVISION], \
        "a migration was added: set storage.db.HEAD_REVISION to its revision"


async def test_a_database_at_head_is_not_handed_to_alembic(empty_settings, monkeypatch) -> None:
    import alembic.command

    runs: list[str] = []
    real_upgrade = alembic.command.upgrade

    def upgrade(config, revision, **kwargs) -> None:
        runs.append(revision)
        real_upgrade(config, revision, **kwargs)

    monkeypatch.setattr(alembic.command, "upgrade", upgrade)
    engine = db.create_engine(empty_settings.database_url)
    try:
        await db.upgrade(engine)  # a new database
        await db.upgrade(engine)  # at head: only its version was read
        assert runs == ["head"]
        await db.downgrade(engine, "0020")
        await db.upgrade(engine)  # one behind: migrated again
        assert runs == ["head", "head"]
        async with engine.connect() as connection:
            versions = (await connection.execute(text("SELECT version_num FROM alembic_version")
                                                 )).scalars().all()
        assert versions == [db.HEAD_REVISION]
    finally:
        await engine.dispose()


async def test_migrations_build_the_schema_the_models_declare(empty_settings) -> None:
    """Tables, columns, types, server defaults, indexes and keys: what the migrations create
    is what `storage.models` describes, on both backends."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlmodel import SQLModel

    engine = db.create_engine(empty_settings.database_url)
    try:
        await db.upgrade(engine)

        def differences(connection) -> list:
            context = MigrationContext.configure(connection, opts={
                "compare_type": True, "compare_server_default": True})
            return compare_metadata(context, SQLModel.metadata)

        async with engine.connect() as connection:
            assert await connection.run_sync(differences) == []
    finally:
        await engine.dispose()


async def test_times_come_back_aware_in_utc(settings) -> None:
    runtime = await Runtime.open(settings)
    try:
        async with runtime.sessions() as session, session.begin():
            session.add(Member(display_name="A", channel="console", channel_user_id="a",
                               chat_id="a", created_at=NOW))
        async with runtime.sessions() as session:
            member = (await session.exec(select(Member))).one()
        assert member.created_at == NOW and member.created_at.tzinfo is not None
    finally:
        await runtime.close()


async def test_a_read_only_transaction_keeps_no_writer_waiting(settings) -> None:
    """While a read-only transaction reads (on SQLite: no write lock), a writer commits; the
    reader goes on with what it read first (SQLite's snapshot) or sees the new row
    (PostgreSQL's read committed), and cannot write itself on PostgreSQL."""
    runtime = await Runtime.open(settings)
    try:
        async with runtime.sessions() as reader, db.read_only(reader):
            assert (await reader.exec(select(Member))).all() == []
            async with runtime.sessions() as writer, writer.begin():
                writer.add(Member(display_name="A", channel="console", channel_user_id="a",
                                  chat_id="a", created_at=NOW))
            assert len((await reader.exec(select(Member))).all()) == (
                0 if db.is_sqlite(settings.database_url) else 1)
        if not db.is_sqlite(settings.database_url):
            with pytest.raises(DBAPIError, match="read-only transaction"):
                async with runtime.sessions() as reader, db.read_only(reader):
                    reader.add(Member(display_name="B", channel="console",
                                      channel_user_id="b", chat_id="b", created_at=NOW))
        async with runtime.sessions() as session, session.begin():  # writers still write
            assert len((await session.exec(select(Member))).all()) == 1
    finally:
        await runtime.close()


async def test_unique_unit_code_and_foreign_keys_enforced(settings) -> None:
    runtime = await Runtime.open(settings)
    try:
        async with runtime.sessions() as session, session.begin():
            session.add(Unit(code="A", name="A", name_key="a"))
        with pytest.raises(IntegrityError):
            async with runtime.sessions() as session, session.begin():
                session.add(Unit(code="A", name="B", name_key="b"))
        with pytest.raises(IntegrityError):
            async with runtime.sessions() as session, session.begin():
                session.add(Target(assignment_id=999, unit_id=999, deadline=NOW))
    finally:
        await runtime.close()


async def one_target(session) -> tuple[Member, Target]:
    """A member, a unit and a task given to it: its one target."""
    member = Member(display_name="A", channel="console", channel_user_id="a", chat_id="a",
                    created_at=NOW)
    unit = Unit(code="U", name="U", name_key="u")
    session.add_all([member, unit])
    await session.flush()
    task = Assignment(number=1, title="T", deadline=NOW, assigned_by=member.id, created_at=NOW)
    session.add(task)
    await session.flush()
    target = Target(assignment_id=task.id, unit_id=unit.id, deadline=NOW)
    session.add(target)
    await session.flush()
    return member, target


async def test_submissions_are_kept_not_overwritten(settings) -> None:
    runtime = await Runtime.open(settings)
    try:
        async with runtime.sessions() as session, session.begin():
            member, target = await one_target(session)
            for kind in ("file", "done"):
                session.add(Submission(target_id=target.id, member_id=member.id, kind=kind,
                                       created_at=NOW))
        async with runtime.sessions() as session:
            assert len((await session.exec(select(Submission))).all()) == 2
    finally:
        await runtime.close()


async def test_migration_0018_reads_the_route_of_earlier_answers_again(settings) -> None:
    """Answers recorded before the route column: a «done» with words gets the route they
    name; a plain «done» and other kinds get none."""
    runtime = await Runtime.open(settings)
    try:
        async with runtime.sessions() as session, session.begin():
            member, target = await one_target(session)
            for kind, text in (("done", "đã nộp bản giấy qua văn thư"), ("done", ""),
                               ("help", "gửi qua email được không"),
                               ("done", "đã gửi qua iOffice"), ("done", "Dạ đã gửi qua mail ạ")):
                session.add(Submission(target_id=target.id, member_id=member.id, kind=kind,
                                       text=text, created_at=NOW))
        await db.downgrade(runtime.engine, "0017")
        await db.upgrade(runtime.engine)
        async with runtime.sessions() as session:
            routes = [s.route for s in (await session.exec(
                select(Submission).order_by(Submission.id))).all()]
        assert routes == ["paper", None, None, "eoffice", "email"]
    finally:
        await runtime.close()


async def test_unreachable_database_is_named() -> None:
    engine = db.create_engine("postgresql+asyncpg://nobody@127.0.0.1:1/nowhere")
    with pytest.raises(db.DatabaseUnreachable, match="127.0.0.1:1"):
        await db.upgrade(engine)
    await engine.dispose()


async def _drop_connection(url: str, pid: int) -> None:
    """The server ends the connection `pid`, as a restart would (asked from another one)."""
    other = create_async_engine(url, poolclass=NullPool)
    try:
        async with other.connect() as connection:
            await connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    finally:
        await other.dispose()


async def test_a_connection_dropped_while_idle_is_replaced_unseen(monkeypatch) -> None:
    """PostgreSQL: a pooled connection idle for `IDLE_PING` is checked at its checkout, so
    a server restart between two quiet moments costs no statement; one in use a moment
    ago is not checked (no three round trips per update), and the statement that meets a
    dropped connection fails once, its pool renewed for the next."""
    async with fresh_pg_database() as url:
        engine = db.create_engine(url)

        async def backend() -> int:
            async with engine.connect() as connection:
                return (await connection.execute(text("SELECT pg_backend_pid()"))).scalar_one()

        try:
            first = await backend()
            monkeypatch.setattr(db, "IDLE_PING", 0.0)  # every pooled connection counts as idle
            await _drop_connection(url, first)
            second = await backend()  # pinged, replaced
            assert second != first
            monkeypatch.setattr(db, "IDLE_PING", 3600.0)  # none counts as idle: no ping
            await _drop_connection(url, second)
            with pytest.raises(DBAPIError) as failed:
                await backend()
            assert failed.value.connection_invalidated
            assert await backend() not in (first, second)
        finally:
            await engine.dispose()
