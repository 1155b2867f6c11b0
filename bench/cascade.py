"""Benchmark: `/tiendo #1` of a cascaded national task (target: p95 under 300 ms).

One Sở task to 700 Phòng GDĐT; every Phòng has handed it down to its 70 schools (700 child
tasks, 49,000 school targets, a third of them submitted). The Sở leader's `/tiendo #1` reads
the Sở's figures, the roll-up of the 700 hand-downs and the first page of missing offices,
through the Dispatcher (one event: its transaction and its answer in the outbox).

Run: .venv/bin/python bench/cascade.py [--offices 700] [--schools 70] [--runs 30]; PostgreSQL
too when BOT_BENCH_PG_URL names an empty database (postgresql+asyncpg://user@host/db).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import random
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert  # noqa: E402
from sqlmodel import col, select  # noqa: E402

from app.bootstrap import Runtime  # noqa: E402
from app.config import Settings  # noqa: E402
from bench.progress import NOW, _flush, measure  # noqa: E402
from storage import tally  # noqa: E402
from storage.models import Assignment, Member, Membership, Outbox, Unit  # noqa: E402


async def build(runtime: Runtime, offices: int, schools: int) -> int:
    """The Sở, the Phòng, their schools; task #1 and its hand-downs #2.. with their targets."""
    units = [{"id": 1, "code": "SO", "name": "Sở GDĐT", "name_key": "so gddt", "kind": "Sở",
              "parent_id": None}]
    units += [{"id": 2 + d, "code": f"PGD-{d:04d}", "name": f"Phòng GDĐT số {d}",
               "name_key": f"phong gddt so {d}", "kind": "Phòng GDĐT", "parent_id": 1}
              for d in range(offices)]
    first_school = 2 + offices
    units += [{"id": first_school + i, "code": f"TH-{i:06d}", "name": f"Trường TH số {i}",
               "name_key": f"truong th so {i}", "kind": "TH", "parent_id": 2 + i // schools}
              for i in range(offices * schools)]
    tasks = [{"id": 1, "number": 1, "title": "Báo cáo tổng kết", "details": "", "deadline": NOW,
              "requires": "any", "reminder_offsets": "7,3,1", "reminders_paused": False,
              "assigned_by": 1, "created_at": NOW, "state": "active", "office_id": 1,
              "parent_id": None, "parent_target_id": None}]
    tasks += [{"id": 2 + d, "number": 2 + d, "title": "Báo cáo tổng kết", "details": "",
               "deadline": NOW - timedelta(days=2), "requires": "any",
               "reminder_offsets": "7,3,1", "reminders_paused": False, "assigned_by": 1,
               "created_at": NOW, "state": "active", "office_id": 2 + d, "parent_id": 1,
               "parent_target_id": 1 + d} for d in range(offices)]
    async with runtime.engine.begin() as conn:
        for start in range(0, len(units), 20_000):
            await conn.execute(insert(Unit), units[start:start + 20_000])
        await conn.execute(insert(Member), [{"id": 1, "display_name": "lanhdao",
                                             "channel": "console", "channel_user_id": "lanhdao",
                                             "chat_id": "lanhdao", "language": "vi",
                                             "created_at": NOW}])
        await conn.execute(insert(Membership), [{"member_id": 1, "unit_id": 1,
                                                 "role": "leader"}])
        await conn.execute(insert(Assignment), tasks)
    rng = random.Random(16)
    # Office targets first (ids 1..offices, in Phòng order: parent_target_id above), then the
    # schools' targets of each hand-down.
    rows = [(1, 2 + d, "", NOW, "pending", None, None, None, False, False)
            for d in range(offices)]
    for i in range(offices * schools):
        done = rng.random() < 0.33
        rows.append((2 + i // schools, first_school + i, "", NOW - timedelta(days=2),
                     "submitted" if done else "pending", 100 if done else None,
                     NOW - timedelta(days=3) if done else None, True if done else None,
                     False, False))
    pg = not runtime.settings.database_url.startswith("sqlite")
    async with runtime.engine.connect() as conn:
        driver = (await conn.get_raw_connection()).driver_connection
        count = await _flush(driver, pg, rows)
    async with runtime.engine.begin() as conn:  # the targets bypassed the session's counters
        await conn.run_sync(tally.rebuild)
    async with runtime.engine.connect() as conn:
        await (await conn.get_raw_connection()).driver_connection.execute("ANALYZE")
    return count


async def run(label: str, settings: Settings, args: argparse.Namespace) -> None:
    runtime = await Runtime.open(settings)
    try:
        start = time.perf_counter()
        count = await build(runtime, args.offices, args.schools)
        print(f"{label:10} 1 task, {args.offices:,} hand-downs, {count:,} targets (built in "
              f"{time.perf_counter() - start:.0f} s)", flush=True)
        await measure(runtime, label, "/tiendo #1", args.runs)
        async with runtime.sessions() as session:  # the roll-up it showed
            answer = (await session.exec(select(Outbox).order_by(col(Outbox.id).desc()))
                      ).first()
        shown = answer.text.splitlines() if answer else []
        print(f"{label:10} " + " | ".join(
            line for line in shown if "Cấp dưới" in line or "giao tiếp #" in line)[:160],
              flush=True)
        await measure(runtime, label, "/tiendo #2", args.runs)
    finally:
        await runtime.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--offices", type=int, default=700)
    parser.add_argument("--schools", type=int, default=70)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    print("target: /tiendo #1 p95 under 300 ms", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        base = dataclasses.replace(Settings(), files_dir=Path(tmp) / "files")
        asyncio.run(run("sqlite", dataclasses.replace(
            base, database_url=f"sqlite+aiosqlite:///{Path(tmp) / 'cascade.sqlite3'}"), args))
        if os.environ.get("BOT_BENCH_PG_URL"):
            asyncio.run(run("postgresql", dataclasses.replace(
                base, database_url=os.environ["BOT_BENCH_PG_URL"]), args))


if __name__ == "__main__":
    main()
