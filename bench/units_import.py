"""Benchmark: `bot.py units import` of a generated 1,000-row .xlsx (target: under 5 s).

Prints the time of the first import (all rows created) and of a second, idempotent one, on
SQLite, and on PostgreSQL when BOT_BENCH_PG_URL names an empty database.
Run: .venv/bin/python bench/units_import.py [ROWS]
"""

from __future__ import annotations

import dataclasses
import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from openpyxl import Workbook  # noqa: E402

from app.cli import invoke  # noqa: E402
from app.config import Settings  # noqa: E402


def make_file(path: Path, rows: int) -> None:
    book = Workbook()
    sheet = book.active
    sheet.append(["Danh sách đơn vị"])
    sheet.append(["mã", "tên", "loại", "đơn vị cấp trên", "nhóm"])
    sheet.append(["SO", "Sở GDĐT", "Sở", None, "so"])
    districts = max(1, rows // 50)
    for d in range(districts):
        sheet.append([f"PGD-{d:03d}", f"Phòng GDĐT số {d}", "Phòng GDĐT", "SO", "PGD"])
    for i in range(rows - districts - 1):
        kind = ("MN", "TH", "THCS")[i % 3]
        sheet.append([f"{kind}-{i:05d}", f"Trường {kind} số {i}", kind, f"PGD-{i % districts:03d}",
                      f"{kind};huyen-{i % districts}"])
    book.save(path)


def run(label: str, settings: Settings, file: Path, folder: Path) -> None:
    now = datetime.now(UTC)
    for attempt in ("first import", "second import (idempotent)"):
        start = time.perf_counter()
        code, out = invoke(["units", "import", str(file)], settings, folder, now)
        elapsed = time.perf_counter() - start
        summary = out.strip().splitlines()[-1] if out.strip() else ""
        print(f"{label:10} {attempt:28} {elapsed:6.2f} s  exit {code}  {summary}")


def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        file = folder / "units.xlsx"
        make_file(file, rows)
        print(f"{rows} rows in {file.name}")
        base = dataclasses.replace(Settings(), files_dir=folder / "files")
        run("sqlite", dataclasses.replace(
            base, database_url=f"sqlite+aiosqlite:///{folder / 'bench.sqlite3'}"), file, folder)
        if os.environ.get("BOT_BENCH_PG_URL"):
            run("postgresql", dataclasses.replace(
                base, database_url=os.environ["BOT_BENCH_PG_URL"]), file, folder)


if __name__ == "__main__":
    main()
