"""Benchmark: the `[Biểu đồ]` and `[Excel]` files of one task sent to every unit.

Seeds UNITS units (default 50,000) in 40 groups, one task assigned to all of them (half
submitted with a file: a third on time, a sixth late; the rest missing), then times reading the
task's rows, building the workbook and drawing the chart, RUNS times each, and prints p50 and
p95 (and the CPU time of the median run, which a loaded machine inflates less), the target
beside the workbook's and the load average. SQLite always; PostgreSQL too when
BOT_BENCH_PG_URL names an empty database.
Run: .venv/bin/python bench/report_files.py [UNITS] [RUNS]
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert  # noqa: E402

from app.bootstrap import Runtime  # noqa: E402
from app.config import Settings  # noqa: E402
from core.i18n import Translator  # noqa: E402
from reports.chart import build_chart  # noqa: E402
from reports.excel import build_workbook  # noqa: E402
from reports.load import task_report  # noqa: E402
from storage.models import (  # noqa: E402
    Assignment,
    Member,
    StoredFile,
    Submission,
    Target,
    Unit,
    UnitGroup,
)
from storage.repositories import task_by_number  # noqa: E402

DEADLINE = datetime(2023, 5, 8, 10, 0, tzinfo=UTC)
NOW = DEADLINE + timedelta(days=2)
CHUNK = 2000
WORKBOOK_TARGET_S = 3.0  # the [Excel] file of a 49,000-unit task


async def seed(runtime: Runtime, units: int) -> None:
    async def rows(model: type, values: list[dict]) -> None:
        connection = await session.connection()
        for start in range(0, len(values), CHUNK):
            await connection.execute(insert(model), values[start:start + CHUNK])

    async with runtime.sessions() as session, session.begin():
        await rows(Member, [dict(id=1, display_name="vp", channel="console",
                                 channel_user_id="vp", chat_id="vp", created_at=NOW)])
        await rows(Unit, [dict(id=i + 1, code=f"U{i:05d}", name=f"Trường số {i}",
                               name_key=f"truong so {i}") for i in range(units)])
        await rows(UnitGroup, [dict(unit_id=i + 1, name=f"huyện-{i % 40}", key=f"huyen-{i % 40}")
                               for i in range(units)])
        await rows(Assignment, [dict(id=1, number=1, title="Báo cáo tổng kết năm học",
                                     deadline=DEADLINE, assigned_by=1, created_at=NOW)])
        states = ["submitted", "submitted", "pending", "in_progress", "submitted", "pending"]
        targets = []
        for i in range(units):
            state = states[i % 6]
            late = i % 6 == 4
            targets.append(dict(
                id=i + 1, assignment_id=1, unit_id=i + 1, deadline=DEADLINE, state=state,
                percent=50 if state == "in_progress" else None,
                submitted_at=(DEADLINE + timedelta(hours=30 if late else -30))
                if state == "submitted" else None,
                on_time=(not late) if state == "submitted" else None))
        await rows(Target, targets)
        submitted = [t for t in targets if t["state"] == "submitted"]
        await rows(StoredFile, [dict(id=n + 1, sha256=f"{n:064x}", size=1000,
                                     mime_type="application/pdf",
                                     original_name=f"bao-cao-{t['unit_id']}.pdf",
                                     created_at=NOW) for n, t in enumerate(submitted)])
        await rows(Submission, [dict(target_id=t["id"], member_id=1, kind="file",
                                     file_id=n + 1, text="bản chính thức",
                                     created_at=t["submitted_at"])
                                for n, t in enumerate(submitted)])


def summary(label: str, seconds: list[float], cpu: list[float]) -> str:
    ordered = sorted(seconds)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return (f"{label:18} p50 {statistics.median(ordered) * 1000:8.0f} ms   p95 "
            f"{p95 * 1000:8.0f} ms   cpu {statistics.median(cpu) * 1000:6.0f} ms")


def load_average() -> str:
    return "load average " + ", ".join(f"{n:.2f}" for n in os.getloadavg())


async def timed(runs: int, work: Callable) -> tuple[list[float], list[float], object]:
    times, cpu, result = [], [], None
    for _ in range(runs):
        start, start_cpu = time.perf_counter(), time.process_time()
        result = await work()
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return times, cpu, result


async def run(label: str, settings: Settings, units: int, runs: int) -> None:
    runtime = await Runtime.open(settings)
    try:
        start = time.perf_counter()
        await seed(runtime, units)
        print(f"{label}: {units:,} units seeded in {time.perf_counter() - start:.1f} s, "
              f"{load_average()}")

        async def load():
            async with runtime.sessions() as session:
                assignment = await task_by_number(session, 1)
                assert assignment is not None
                return await task_report(session, assignment)

        t = Translator("vi")
        times, cpu, report = await timed(runs, load)
        print("  " + summary("read rows", times, cpu))

        async def excel():
            return build_workbook([report], t, NOW)

        async def chart():
            return build_chart(report, t, NOW)

        for name, work in (("build .xlsx", excel), ("draw chart .png", chart)):
            times, cpu, data = await timed(runs, work)
            target = (f"   (target < {WORKBOOK_TARGET_S:.0f} s)" if work is excel else "")
            print("  " + summary(name, times, cpu) + f"   {len(data) / 1024:,.0f} KB"
                  + target)
        print(f"  {load_average()}")
    finally:
        await runtime.close()


def main() -> None:
    units = int(sys.argv[1]) if len(sys.argv) > 1 else 50_000
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        base = dataclasses.replace(Settings(), files_dir=folder / "files")
        asyncio.run(run("sqlite", dataclasses.replace(
            base, database_url=f"sqlite+aiosqlite:///{folder / 'bench.sqlite3'}"), units, runs))
        if os.environ.get("BOT_BENCH_PG_URL"):
            asyncio.run(run("postgresql", dataclasses.replace(
                base, database_url=os.environ["BOT_BENCH_PG_URL"]), units, runs))


if __name__ == "__main__":
    main()
