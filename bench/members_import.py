"""Benchmark: `bot.py members import` of a national list (target: well under 60 s).

50,000 units (imported once), then a members file of 150,000 rows: a Telegram reporter and
a Zalo reporter for 50,000 schools and a Telegram leader row for 50,000 of those reporters
(same account, second role). Timed through the command line as an admin runs it, as .csv
in Windows-1258 (so the encoding detection is in the figure) and as .xlsx.

Run: .venv/bin/python bench/members_import.py [--rows 150000] [--xlsx]; PostgreSQL too when
BOT_BENCH_PG_URL names an empty database (postgresql+asyncpg://user@host/db).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.cli import invoke  # noqa: E402
from app.config import Settings  # noqa: E402

NOW = datetime(2023, 5, 2, 1, 0, tzinfo=UTC)


def units_csv(path: Path, count: int) -> None:
    lines = ["code,name,kind,parent,groups", "SO,Sở GDĐT,Sở,,so"]
    lines += [f"TH-{i:05d},Trường Tiểu học số {i} xã Yên Thọ,TH,SO,TH" for i in range(count)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def members_rows(count: int, units: int) -> list[list[str]]:
    rows = [["họ tên", "kênh", "mã người dùng", "vai trò", "đơn vị"]]
    for i in range(count):
        school, kind = i % units, i // units
        if kind == 0:
            rows.append([f"Nguyễn Văn Hiệu trưởng {i}", "telegram", str(10_000_000 + i),
                         "reporter", f"TH-{school:05d}"])
        elif kind == 1:
            rows.append([f"Trần Thị Phó hiệu trưởng {i}", "zalo", f"z{i}", "đầu mối",
                         f"TH-{school:05d}"])
        else:  # the first rows' principals are also their school's leader
            rows.append([f"Nguyễn Văn Hiệu trưởng {school}", "telegram",
                         str(10_000_000 + school), "lãnh đạo", f"TH-{school:05d}"])
    return rows


def write_cp1258(path: Path, rows: list[list[str]]) -> None:
    from tests.test_legacy_encodings import cp1258

    path.write_bytes(cp1258("\n".join(",".join(r) for r in rows) + "\n"))


def write_xlsx(path: Path, rows: list[list[str]]) -> None:
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet()
    for row in rows:
        sheet.append(row)
    book.save(path)


def run(label: str, settings: Settings, folder: Path, count: int, xlsx: bool) -> None:
    units = min(50_000, count)
    units_csv(folder / "units.csv", units)
    code, out = invoke(["units", "import", str(folder / "units.csv")], settings, folder, NOW)
    assert code == 0, out
    rows = members_rows(count, units)
    files = [("csv (Windows-1258)", folder / "members.csv", write_cp1258)]
    if xlsx:
        files.append(("xlsx", folder / "members.xlsx", write_xlsx))
    for index, (kind, path, write) in enumerate(files):
        write(path, rows)
        if index:  # the same people again: only the timing of reading and checking
            note = "again, all already members"
        else:
            note = "into an empty members table"
        start = time.perf_counter()
        code, out = invoke(["members", "import", str(path)], settings, folder, NOW)
        elapsed = time.perf_counter() - start
        assert code == 0, out
        print(f"{label}: {count:,} rows from {kind}, {note}: {elapsed:.1f} s — "
              f"{out.strip().splitlines()[-1]}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=150_000)
    parser.add_argument("--xlsx", action="store_true", help="also time the same rows as .xlsx")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        settings = dataclasses.replace(
            Settings(), database_url=f"sqlite+aiosqlite:///{folder / 'bench.sqlite3'}",
            files_dir=folder / "files")
        run("SQLite", settings, folder, args.rows, args.xlsx)
        url = os.environ.get("BOT_BENCH_PG_URL")
        if url:
            run("PostgreSQL", dataclasses.replace(settings, database_url=url), folder,
                args.rows, args.xlsx)


if __name__ == "__main__":
    main()
