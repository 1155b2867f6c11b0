"""Many rows of one table written at once: the messages of a task sent to every unit, of a
reminder wave.

On PostgreSQL they go by COPY (asyncpg's `copy_records_to_table`) inside the open
transaction: one stream instead of one INSERT per row, which is what a prepared statement run
by `executemany` still is on the server. SQLite keeps the `executemany`, which is its fastest
way in. The values pass through the columns' own bind processing first (aware datetimes in
UTC...), so both ways store the same values."""

from __future__ import annotations

from collections.abc import Sequence
from operator import itemgetter
from typing import Any

from sqlalchemy import Connection, Dialect, Table, insert, text
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.schema import ScalarElementColumnDefault
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.queries import dialect_of


async def insert_rows(connection: AsyncConnection, table: Table,
                      rows: Sequence[dict[str, Any]]) -> None:
    """Insert `rows` (plain values by column name, all with the same keys) into `table`;
    the columns left out take their defaults, on both databases: the column's own (a
    constant), else the server's (null when there is none)."""
    if not rows:
        return
    if connection.dialect.name == "postgresql":
        driver = (await connection.get_raw_connection()).driver_connection
        # Only inside the transaction of the statements before it (always so for a message
        # written by an event): COPY on an idle connection would commit on its own.
        if driver is not None and driver.is_in_transaction():
            await _copy(connection.dialect, driver, table, rows)
            return
    await connection.execute(insert(table), list(rows))


def insert_rows_sync(connection: Connection, table: Table,
                     rows: Sequence[dict[str, Any]]) -> None:
    """`insert_rows` for code that runs on the synchronous face of an asyncio connection
    (`AsyncSession.run_sync`): the COPY is awaited through the driver's adapter."""
    if not rows:
        return
    if connection.dialect.name == "postgresql":
        adapted: Any = connection.connection.dbapi_connection
        driver = connection.connection.driver_connection
        if adapted is not None and driver is not None and driver.is_in_transaction():
            adapted.run_async(lambda driver: _copy(connection.dialect, driver, table, rows))
            return
    connection.execute(insert(table), list(rows))


async def refresh_statistics(session: AsyncSession, *tables: Table) -> None:
    """After a bulk load into `tables` (a registry's import), refresh PostgreSQL's statistics
    of them in the same transaction, as its documentation advises for a table just populated.
    Autovacuum would do it some time later, or never where it is turned off, and meanwhile
    the planner guesses: a claim of the outbox read every member to leave out the few the
    platform refuses (14 ms instead of 0.01). SQLite plans well without statistics."""
    if dialect_of(session) != "postgresql":
        return
    quote = session.bind.dialect.identifier_preparer.quote  # type: ignore[union-attr]
    await session.exec(text(  # type: ignore[call-overload]
        "ANALYZE " + ", ".join(quote(table.name) for table in tables)))


async def _copy(dialect: Dialect, driver: Any, table: Table,
                rows: Sequence[dict[str, Any]]) -> None:
    names = list(rows[0])
    values_of = itemgetter(*names)
    processed = [(index, process) for index, name in enumerate(names)
                 if (process := table.c[name].type._cached_bind_processor(dialect))]
    done: list[dict[Any, Any]] = [{} for _ in processed]  # the rows of one event share
    # most such values (its moment), each processed once

    def record(row: dict[str, Any]) -> tuple[Any, ...]:
        values = list(values_of(row)) if len(names) > 1 else [values_of(row)]
        for (index, process), seen in zip(processed, done, strict=True):
            value = values[index]
            try:
                values[index] = seen[value] if value in seen else seen.setdefault(
                    value, process(value))
            except TypeError:  # not hashable
                values[index] = process(value)
        return tuple(values)

    # The columns left out with a constant default of their own: `executemany` fills them
    # in, so COPY does too (converted once).
    fixed = {column.name: column.default.arg for column in table.columns
             if column.name not in rows[0]
             and isinstance(column.default, ScalarElementColumnDefault)}
    extra = tuple(process(value) if (process := table.c[name].type._cached_bind_processor(
        dialect)) else value for name, value in fixed.items())
    await driver.copy_records_to_table(
        table.name, records=[record(row) + extra for row in rows],
        columns=names + list(fixed), schema_name=table.schema)
