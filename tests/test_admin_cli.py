"""The admin command line, as `bot.py ...` and as `@admin ...` lines run it."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from openpyxl import Workbook

from app.cli import invoke
from tests.conftest import EXAMPLES, sqlite_settings

NOW = datetime(2023, 5, 2, 1, 0, tzinfo=UTC)
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def run(tmp_path: Path):
    settings = sqlite_settings(tmp_path)

    def run(*args: str) -> tuple[int, str]:
        return invoke(list(args), settings, tmp_path, NOW)

    return run


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_import_creates_then_is_idempotent(run, tmp_path: Path) -> None:
    code, out = run("units", "import", str(EXAMPLES / "units.csv"))
    assert code == 0, out
    assert "8 created, 0 updated" in out
    assert "row 5: created PGD-NAMTRUC" in out
    code, out = run("units", "import", str(EXAMPLES / "units.csv"))
    assert code == 0 and "0 created, 0 updated, 8 unchanged" in out
    code, out = run("units", "list", "--group", "THPT")
    assert code == 0 and "THPT-LHP" in out and "PGD-NAMTRUC" not in out


def test_import_vietnamese_headers_xlsx_with_title_rows(run, tmp_path: Path) -> None:
    book = Workbook()
    sheet = book.active
    sheet.append(["DANH SÁCH ĐƠN VỊ"])
    sheet.append([])
    sheet.append(["Mã", "Tên", "Loại", "Đơn vị cấp trên", "Nhóm"])
    sheet.append(["SO", "Sở GDĐT", "Sở", None, None])
    sheet.append(["THCS-A", "THCS A", "THCS", "SO", "THCS;huyen-a"])
    book.save(tmp_path / "units.xlsx")
    code, out = run("units", "import", "units.xlsx")
    assert code == 0, out
    assert "row 5: created THCS-A" in out
    code, out = run("units", "list")
    assert "THCS-A\tTHCS A\tTHCS\tSO\tTHCS;huyen-a" in out


def test_import_update_reports_changed_rows(run, tmp_path: Path) -> None:
    write(tmp_path / "a.csv", "code,name\nA,Trường A\n")
    assert run("units", "import", "a.csv")[0] == 0
    write(tmp_path / "a.csv", "code,name\nA,Trường A mới\nB,Trường B\n")
    code, out = run("units", "import", "a.csv")
    assert "row 2: updated A" in out and "1 created, 1 updated" in out


def test_reimport_moves_units_and_replaces_their_groups(run, tmp_path: Path) -> None:
    write(tmp_path / "a.csv", "code,name,parent,groups\nP1,Phòng 1,,PGD\nP2,Phòng 2,,PGD\n"
                              "A,Trường A,P1,THCS;huyen-1\nB,Trường B,P1,THCS\n")
    assert run("units", "import", "a.csv")[0] == 0
    # A moves to P2 (nothing else changes), B changes group, P1 and P2 stay as they were.
    write(tmp_path / "a.csv", "code,name,parent,groups\nP1,Phòng 1,,PGD\nP2,Phòng 2,,PGD\n"
                              "A,Trường A,P2,THCS;huyen-1\nB,Trường B,P1,TH\n")
    code, out = run("units", "import", "a.csv")
    assert code == 0 and "0 created, 2 updated, 2 unchanged" in out, out
    listed = run("units", "list")[1]
    assert "A\tTrường A\t\tP2\tTHCS;huyen-1" in listed
    assert "B\tTrường B\t\tP1\tTH\n" in listed
    in_thcs = run("units", "list", "--group", "THCS")[1]
    assert "Trường A" in in_thcs and "Trường B" not in in_thcs


async def test_reimport_under_new_units_on_both_databases(settings, tmp_path: Path) -> None:
    """New units are written in bulk and their parents set by one statement: a unit can move
    under a unit of the same file, itself new, on SQLite and PostgreSQL alike."""

    def run(*args: str) -> tuple[int, str]:
        return invoke(list(args), settings, tmp_path, NOW)

    write(tmp_path / "a.csv", "code,name,parent,groups\nP1,Phòng 1,,PGD\nA,Trường A,P1,THCS\n")
    assert (await asyncio.to_thread(run, "units", "import", "a.csv"))[0] == 0
    write(tmp_path / "a.csv", "code,name,parent,groups\nP1,Phòng 1,,PGD\nA,Trường A,P2,THCS\n"
                              "P2,Phòng 2,,PGD\nC,Trường C,A,TH\n")
    code, out = await asyncio.to_thread(run, "units", "import", "a.csv")
    assert code == 0 and "2 created, 1 updated, 1 unchanged" in out, out
    listed = (await asyncio.to_thread(run, "units", "list"))[1]
    for line in ("A\tTrường A\t\tP2\tTHCS", "C\tTrường C\t\tA\tTH", "P2\tPhòng 2\t\t\tPGD"):
        assert line in listed, listed
    in_pgd = (await asyncio.to_thread(run, "units", "list", "--group", "PGD"))[1]
    assert "Phòng 1" in in_pgd and "Phòng 2" in in_pgd and "Trường" not in in_pgd
    code, out = await asyncio.to_thread(run, "units", "import", "a.csv")
    assert "0 created, 0 updated, 4 unchanged" in out, out


@pytest.mark.parametrize(
    ("content", "name", "message"),
    [
        ("code,name\nA,X\nA,Y\n", "dup.csv", "row 3: unit code 'A' appears twice"),
        ("code,name,parent\nA,X,NOPE\n", "parent.csv", "row 2: parent 'NOPE'"),
        ("code,name,parent\nA,X,B\nB,Y,A\n", "cycle.csv", "parent cycle"),
        ("name,kind\nX,THCS\n", "cols.csv", "no header row"),
        ("", "empty.csv", "the file is empty"),
        ("code,name\nA,X\n", "units.txt", "expected a .csv or .xlsx"),
        ("code,name\n,X\n", "blank.csv", "row 2: the column 'code' is empty"),
    ],
)
def test_bad_import_files_change_nothing(run, tmp_path: Path, content, name, message) -> None:
    write(tmp_path / name, content)
    code, out = run("units", "import", name)
    assert code == 1
    assert message in out
    assert "No units" in run("units", "list")[1]


def test_members_and_bad_roles_units(run) -> None:
    run("units", "import", str(EXAMPLES / "units.csv"))
    code, out = run("members", "add", "ht_a", "--channel", "console", "--role", "reporter",
                    "--unit", "THPT-LHP")
    assert code == 0 and "Added ht_a" in out
    code, out = run("members", "add", "ht_a", "--channel", "console", "--role", "leader",
                    "--unit", "THPT-LHP")
    assert code == 0 and "Updated ht_a" in out
    assert "reporter@THPT-LHP, leader@THPT-LHP" in run("members", "list")[1]
    code, out = run("members", "add", "x", "--role", "boss")
    assert code == 1 and "unknown role 'boss'" in out
    code, out = run("members", "add", "x", "--role", "reporter", "--unit", "NOPE")
    assert code == 1 and "unknown unit 'NOPE'" in out
    code, out = run("members", "add", "x", "--channel", "telegram", "--role", "staff")
    assert code == 1 and "--id is required" in out
    assert run("members", "remove", "ht_a")[0] == 0
    assert "ht_a" not in run("members", "list")[1]
    assert run("members", "remove", "ht_a")[0] == 1


def test_invites_create_and_export(run, tmp_path: Path) -> None:
    run("units", "import", str(EXAMPLES / "units.csv"))
    code, out = run("invites", "create", "--group", "THPT")
    assert code == 0 and out.count("THPT-") == 2
    code, out = run("invites", "create", "--unit", "NOPE")
    assert code == 1 and "unknown unit" in out
    code, out = run("invites", "create", "--unit", "THPT-LHP", "--expires", "soon")
    assert code == 1 and "--expires" in out
    code, out = run("invites", "export", "--group", "PGD", "codes.xlsx")
    assert code == 0 and (tmp_path / "codes.xlsx").exists()


def test_backup_is_a_consistent_sqlite_copy(run, tmp_path: Path) -> None:
    run("units", "import", str(EXAMPLES / "units.csv"))
    code, out = run("backup", "backup/copy.sqlite3")
    assert code == 0, out
    with sqlite3.connect(tmp_path / "backup" / "copy.sqlite3") as copy:
        assert copy.execute("select count(*) from unit").fetchone()[0] == 8


def test_config_errors_name_the_key(tmp_path: Path) -> None:
    config = write(tmp_path / "config.toml", '[reminders]\nbefore_time = "eight"\n')
    result = subprocess.run([sys.executable, str(ROOT / "bot.py"), "--config", str(config),
                             "units", "list"], capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 2
    assert "reminders.before_time" in result.stderr + result.stdout


def test_unreachable_database_url_is_reported(tmp_path: Path) -> None:
    config = write(tmp_path / "config.toml",
                   '[database]\nurl = "postgresql+asyncpg://nobody@127.0.0.1:1/x"\n')
    result = subprocess.run([sys.executable, str(ROOT / "bot.py"), "--config", str(config),
                             "db", "upgrade"], capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 1
    assert "cannot open the database" in result.stdout


def test_help_through_make_run_style_pipe(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, str(ROOT / "bot.py"), "run"], input="/help\n",
                            capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "/help" in result.stdout and "/giao" in result.stdout
