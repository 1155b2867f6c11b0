"""Benchmark: `/tiendo` over a national-sized database (target: p95 under 300 ms).

Builds UNITS units (a Sở, one Phòng per 50 schools, the schools) and TASKS tasks with a target
for every school (UNITS × TASKS targets; OPEN of the tasks are still open, the others closed,
with on-time, late, missing, excused and extended targets), bulk-inserted (executemany on
SQLite, COPY on PostgreSQL). Then it sends `/tiendo` views through the Dispatcher, as a
leader, and prints p50/p95 per view. Each call is a whole event: one transaction that reads
the figures and writes the answer to the outbox. Last, the `[Excel]` file of an open and of a
closed task (49,000 rows each): rows read and workbook built, p50/p95.

Run: .venv/bin/python bench/progress.py [--units 50000] [--tasks 200] [--open 10] [--runs 30]
[--sqlite FILE]; PostgreSQL too when BOT_BENCH_PG_URL names a database
(postgresql+asyncpg://user@host/db). A database that already holds targets is reused as it is.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert  # noqa: E402
from sqlmodel import col, select  # noqa: E402

from app.bootstrap import Runtime  # noqa: E402
from app.config import Settings  # noqa: E402
from core.i18n import Translator  # noqa: E402
from core.messages import Incoming  # noqa: E402
from reports.excel import build_workbook  # noqa: E402
from reports.load import task_report  # noqa: E402
from storage import tally  # noqa: E402
from storage.models import (  # noqa: E402
    Assignment,
    Member,
    Membership,
    Outbox,
    Unit,
    UnitGroup,
)
from storage.repositories import task_by_number  # noqa: E402

NOW = datetime(2024, 6, 3, 2, 0, tzinfo=UTC)
SCHOOLS_PER_DISTRICT = 50
BATCH = 50_000
TARGET_COLUMNS = ("assignment_id", "unit_id", "period", "deadline", "state", "percent",
                  "submitted_at", "on_time", "nil_report", "extension_granted")


def unit_rows(units: int) -> tuple[list[dict], list[dict], list[int]]:
    """Units, their groups, and the ids of the schools (the targets' units)."""
    districts = max(1, units // (SCHOOLS_PER_DISTRICT + 1))
    rows = [{"id": 1, "code": "SO", "name": "Sở GDĐT", "name_key": "so gddt", "kind": "Sở",
             "parent_id": None}]
    groups = []
    for d in range(districts):
        rows.append({"id": 2 + d, "code": f"PGD-{d:04d}", "name": f"Phòng GDĐT số {d}",
                     "name_key": f"phong gddt so {d}", "kind": "Phòng GDĐT", "parent_id": 1})
        groups.append({"unit_id": 2 + d, "name": "PGD", "key": "pgd"})
    schools = []
    for i in range(units - districts - 1):
        unit_id = 2 + districts + i
        kind = ("MN", "TH", "THCS")[i % 3]
        rows.append({"id": unit_id, "code": f"{kind}-{i:05d}", "name": f"Trường {kind} số {i}",
                     "name_key": f"truong {kind.lower()} so {i}", "kind": kind,
                     "parent_id": 2 + i % districts})
        groups.append({"unit_id": unit_id, "name": kind, "key": kind.lower()})
        schools.append(unit_id)
    return rows, groups, schools


def target_rows(tasks: int, open_tasks: int, schools: list[int]) -> Iterator[tuple]:
    """Targets in TARGET_COLUMNS order: closed tasks are mostly on time, some late, missing
    or excused; open tasks are due around NOW, half of them still being worked on."""
    rng = random.Random(8)
    for number in range(1, tasks + 1):
        is_open = number > tasks - open_tasks
        days = ((number - tasks + open_tasks // 2) * 2 if is_open
                else -(tasks - number) * 2 - 2 * open_tasks)
        deadline = NOW + timedelta(days=days)
        for unit_id in schools:
            roll = rng.random()
            row = [number, unit_id, "", deadline, "pending", None, None, None, False, False]
            if roll < 0.03:
                row[4] = "excused"
            elif roll < 0.06:
                row[3] = deadline + timedelta(days=5)
                row[9] = True
            if row[4] != "excused" and (not is_open or roll < 0.5):
                if roll < 0.75:
                    row[4:8] = ["submitted", 100, row[3] - timedelta(hours=5), True]
                    row[8] = roll > 0.74
                elif roll < 0.9 and (not is_open or row[3] < NOW):
                    row[4:8] = ["submitted", 100, row[3] + timedelta(days=1 + roll * 5), False]
            elif is_open and 0.5 <= roll < 0.7:
                row[4:6] = ["in_progress", 40]
            yield tuple(row)


async def build(runtime: Runtime, units: int, tasks: int, open_tasks: int) -> int:
    """Fill the database, unless a previous run did; returns the number of targets."""
    async with runtime.engine.connect() as conn:
        existing = (await conn.exec_driver_sql("SELECT count(*) FROM target")).scalar_one()
    if existing:  # tables a migration has just added or filled have no statistics yet
        async with runtime.engine.connect() as conn:
            await (await conn.get_raw_connection()).driver_connection.execute("ANALYZE")
        return existing
    rows, groups, schools = unit_rows(units)
    pg = not runtime.settings.database_url.startswith("sqlite")
    async with runtime.engine.begin() as conn:
        for chunk in range(0, len(rows), BATCH):
            await conn.execute(insert(Unit), rows[chunk:chunk + BATCH])
        await conn.execute(insert(UnitGroup), groups)
        await conn.execute(insert(Member), [{"id": 1, "display_name": "lanhdao",
                                             "channel": "console", "channel_user_id": "lanhdao",
                                             "chat_id": "lanhdao", "language": "vi",
                                             "created_at": NOW}])
        await conn.execute(insert(Membership), [{"member_id": 1, "unit_id": 1,
                                                 "role": "leader"}])
        await conn.execute(insert(Assignment), [
            {"id": n, "number": n, "title": f"Báo cáo số {n}", "details": "",
             "deadline": NOW, "requires": "any", "reminder_offsets": "7,3,1",
             "reminders_paused": False, "assigned_by": 1, "created_at": NOW,
             "state": "active" if n > tasks - open_tasks else "closed"}
            for n in range(1, tasks + 1)])
        if pg:
            await conn.exec_driver_sql("SELECT setval('unit_id_seq', (SELECT max(id) FROM unit))")
    count = 0
    batch: list[tuple] = []
    async with runtime.engine.connect() as conn:
        driver = (await conn.get_raw_connection()).driver_connection
        for row in target_rows(tasks, open_tasks, schools):
            batch.append(row)
            if len(batch) == BATCH * 4:
                count += await _flush(driver, pg, batch)
                batch = []
        count += await _flush(driver, pg, batch)
    async with runtime.engine.begin() as conn:  # the targets bypassed the session's counters
        await conn.run_sync(tally.rebuild)
    async with runtime.engine.connect() as conn:
        driver = (await conn.get_raw_connection()).driver_connection
        await driver.execute("ANALYZE")
    return count


def _sqlite_time(moment: datetime | None) -> str | None:
    """How SQLAlchemy stores a UTC time in SQLite."""
    return None if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


async def _flush(driver, pg: bool, batch: list[tuple]) -> int:  # noqa: ANN001
    if not batch:
        return 0
    if pg:
        await driver.copy_records_to_table("target", records=batch, columns=TARGET_COLUMNS)
    else:
        rows = [(*r[:3], _sqlite_time(r[3]), *r[4:6], _sqlite_time(r[6]), *r[7:]) for r in batch]
        names = ", ".join(TARGET_COLUMNS)
        await driver.execute("BEGIN")
        await driver.executemany(
            f"INSERT INTO target ({names}) VALUES ({', '.join('?' * len(TARGET_COLUMNS))})",
            rows)
        await driver.commit()
    return len(batch)


async def measure(runtime: Runtime, label: str, text: str, runs: int) -> None:
    times = []
    for _ in range(runs):
        event = Incoming(channel="console", user_id="lanhdao", chat_id="lanhdao", text=text)
        start = time.perf_counter()
        await runtime.dispatcher.handle(event, NOW)
        times.append((time.perf_counter() - start) * 1000)
    async with runtime.sessions() as session:
        answer = (await session.exec(select(Outbox).order_by(col(Outbox.id).desc()))).first()
    times.sort()
    p95 = times[min(len(times) - 1, round(0.95 * len(times)) - 1)]
    print(f"{label:10} {text:22} p50 {statistics.median(times):8.1f} ms   p95 {p95:8.1f} ms   "
          f"{answer.text.splitlines()[0][:60] if answer else ''}", flush=True)


async def measure_excel(runtime: Runtime, label: str, number: int, runs: int) -> None:
    """The `[Excel]` file of task #number: its rows read and the workbook built."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        async with runtime.sessions() as session:
            assignment = await task_by_number(session, number)
            assert assignment is not None
            report = await task_report(session, assignment)
        data = build_workbook([report], Translator("vi"), NOW)
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    p95 = times[min(len(times) - 1, round(0.95 * len(times)) - 1)]
    print(f"{label:10} {'[Excel] #' + str(number):22} p50 {statistics.median(times):8.1f} ms   "
          f"p95 {p95:8.1f} ms   {len(report.rows):,} rows, {len(data) / 1024:,.0f} KB",
          flush=True)


async def run(label: str, settings: Settings, args: argparse.Namespace) -> None:
    runtime = await Runtime.open(settings)
    try:
        start = time.perf_counter()
        count = await build(runtime, args.units, args.tasks, args.open)
        print(f"{label:10} {args.units:,} units, {count:,} targets (built, or reused, in "
              f"{time.perf_counter() - start:.0f} s)", flush=True)
        last = args.tasks
        views = ["/tiendo", f"/tiendo #{last}", f"/tiendo #{last - args.open - 1}",
                 "/tiendo PGD-0007", "/tiendo MN-00042", "/tiendo tre-han", "/tiendo @thcs",
                 "/tiendo @pgd", "/tiendo hay-tre"]
        for text in views:
            if not args.views or text in args.views:
                await measure(runtime, label, text, args.runs)
        for number in (last, last - args.open - 1):
            if not args.views or f"[Excel] #{number}" in args.views:
                await measure_excel(runtime, label, number, args.excel_runs)
    finally:
        await runtime.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=50_000)
    parser.add_argument("--tasks", type=int, default=200)
    parser.add_argument("--open", type=int, default=10)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--excel-runs", type=int, default=5)
    parser.add_argument("--views", nargs="*", help="only these, e.g. '/tiendo @pgd' or "
                        "'[Excel] #200'")
    parser.add_argument("--sqlite", type=Path, help="keep the SQLite database in this file "
                        "(reused, not rebuilt, when it is already filled)")
    parser.add_argument("--skip-sqlite", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base = dataclasses.replace(Settings(), files_dir=Path(tmp) / "files")
        path = args.sqlite or Path(tmp) / "bench.sqlite3"
        if not args.skip_sqlite:
            asyncio.run(run("sqlite", dataclasses.replace(
                base, database_url=f"sqlite+aiosqlite:///{path.resolve()}"), args))
        if os.environ.get("BOT_BENCH_PG_URL"):
            asyncio.run(run("postgresql", dataclasses.replace(
                base, database_url=os.environ["BOT_BENCH_PG_URL"]), args))


if __name__ == "__main__":
    main()
