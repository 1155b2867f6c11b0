"""`bot.py members import FILE.xlsx|csv` on SQLite and PostgreSQL: the checks of `members
add` on every row, every bad row reported by its number with nothing written, progress, and
a re-import that changes nothing."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from openpyxl import Workbook
from sqlalchemy import text
from sqlmodel import col, func, select

from app import admin, member_import
from app.bootstrap import Runtime
from app.cli import invoke
from app.config import Settings
from storage.models import AuditLog, Member, Membership
from tests.conftest import EXAMPLES

NOW = datetime(2023, 5, 2, 1, 0, tzinfo=UTC)

GOOD = ("name,channel,id,role,unit\n"
        "Nguyễn Thị Hường,telegram,5550001,reporter,THPT-LHP\n"
        "Nguyễn Thị Hường,telegram,5550001,leader,THPT-LHP\n"
        "Trần Văn Đức,zalo,z-77,đầu mối,THPT-NAMTRUC\n"
        "vp_so,console,,chuyên viên,VP-SO\n"
        "giam_doc,console,,leader,\n")


async def runner(settings: Settings, tmp_path: Path):
    """`bot.py ARGS` as an admin runs it (in a thread: it runs its own event loop)."""
    async def run(*args: str) -> tuple[int, str]:
        return await asyncio.to_thread(invoke, list(args), settings, tmp_path, NOW)

    assert (await run("units", "import", str(EXAMPLES / "units.csv")))[0] == 0
    return run


async def counts(settings: Settings) -> tuple[int, int]:
    runtime = await Runtime.open(settings)
    try:
        async with runtime.sessions() as s:
            return ((await s.exec(select(func.count()).select_from(Member))).one(),
                    (await s.exec(select(func.count()).select_from(Membership))).one())
    finally:
        await runtime.close()


async def test_import_adds_members_and_roles_then_changes_nothing(settings, tmp_path) -> None:
    run = await runner(settings, tmp_path)
    assert (await run("members", "add", "Trần Văn Đức", "--channel", "zalo", "--id", "z-77",
                      "--role", "leader", "--unit", "THPT-NAMTRUC"))[0] == 0
    (tmp_path / "members.csv").write_text(GOOD, encoding="utf-8")
    code, out = await run("members", "import", "members.csv")
    assert code == 0, out
    assert out.strip() == ("5 rows: 3 members added, 1 updated with another role or unit, "
                           "5 roles given, 0 rows already true, 0 rejected")
    listed = (await run("members", "list"))[1]
    assert "Nguyễn Thị Hường\ttelegram\t5550001\treporter@THPT-LHP, leader@THPT-LHP" in listed
    assert "Trần Văn Đức\tzalo\tz-77\tleader@THPT-NAMTRUC, reporter@THPT-NAMTRUC" in listed
    assert "vp_so\tconsole\tvp_so\tstaff@VP-SO" in listed
    assert "giam_doc\tconsole\tgiam_doc\tleader (whole registry)" in listed
    code, out = await run("members", "import", "members.csv")
    assert code == 0 and out.strip() == ("5 rows: 0 members added, 0 updated with another role "
                                         "or unit, 0 roles given, 5 rows already true, "
                                         "0 rejected")
    assert await counts(settings) == (4, 6)
    audit = (await run("audit"))[1]
    assert audit.count("members_import") == 1  # the second import changed nothing
    assert '"file": "members.csv", "rows": 5, "added": 3, "updated": 1, "roles": 5' in audit


async def test_every_bad_row_is_reported_and_nothing_written(settings, tmp_path) -> None:
    run = await runner(settings, tmp_path)
    (tmp_path / "bad.csv").write_text(
        "name,channel,id,role,unit\n"
        "ok,console,,reporter,THPT-LHP\n"
        "x,fax,1,reporter,THPT-LHP\n"
        ",console,,staff,\n"
        "y,telegram,,reporter,THPT-LHP\n"
        "z,console,,boss,\n"
        "w,console,,reporter,\n"
        "v,console,,reporter,NOPE\n"
        "ht_b,telegram,12345,reporter,THPT-LHP\n"
        "ht_c,telegram,12345,leader,THPT-LHP\n"
        "ht_b,telegram,12345,reporter,thpt-lhp\n", encoding="utf-8")
    code, out = await run("members", "import", "bad.csv")
    assert code == 1
    assert out.splitlines() == [
        "Error: nothing imported: 8 of 10 rows are wrong:",
        "row 3: unknown channel 'fax': expected one of console, telegram, zalo",
        "row 4: the column 'name' is empty",
        "row 5: the id is empty; a telegram member needs their telegram user id",
        "row 6: unknown role 'boss': expected one of admin, staff, leader, reporter",
        "row 7: 'w' is a reporter and needs a unit",
        "row 8: unknown unit 'NOPE': see `bot.py units list`",
        "row 10: this channel and id are 'ht_b' on row 9; one person has one name",
        "row 11: the same as row 9 ('ht_b', same channel, id, role and unit)",
    ]
    assert await counts(settings) == (0, 0)
    assert "members_import" not in (await run("audit"))[1]
    for name, content, message in (
            ("empty.csv", "", "the file is empty"),
            ("cols.csv", "name,unit\nx,THPT-LHP\n", "no header row with the columns "
             "name,channel,id,role,unit"),
            ("head.csv", "name,channel,role\n", "the header is there but no member rows"),
            ("list.txt", GOOD, "expected a .csv or .xlsx file, got .txt")):
        (tmp_path / name).write_text(content, encoding="utf-8")
        code, out = await run("members", "import", name)
        assert code == 1 and message in out, out
    code, out = await run("members", "import", "missing.xlsx")
    assert code == 1 and "missing.xlsx: file not found" in out
    assert await counts(settings) == (0, 0)


async def test_xlsx_with_title_rows_vietnamese_headers_and_numeric_ids(settings,
                                                                       tmp_path) -> None:
    run = await runner(settings, tmp_path)
    book = Workbook()
    sheet = book.active
    sheet.append(["DANH SÁCH ĐẦU MỐI BÁO CÁO"])
    sheet.append([])
    sheet.append(["Họ và tên", "Kênh", "Mã người dùng", "Vai trò", "Mã đơn vị"])
    sheet.append(["Lê Văn Thành", "Telegram", 987654321, "Đầu mối báo cáo", "THPT-LHP"])
    sheet.append(["Phạm Thu Hà", "Zalo", "a1b2c3", "Lãnh đạo", "SO-NAMDINH"])
    sheet.append(["Phạm Thu Hà", "Zalo", "a1b2c3", "Quản trị", None])
    sheet.append(["Bùi Minh", "viber", 5, "reporter", "THPT-LHP"])
    book.save(tmp_path / "ds.xlsx")
    code, out = await run("members", "import", "ds.xlsx")
    assert code == 1 and out.splitlines()[1:] == [
        "row 7: unknown channel 'viber': expected one of console, telegram, zalo"]
    sheet.delete_rows(7)
    book.save(tmp_path / "ds.xlsx")
    code, out = await run("members", "import", "ds.xlsx")
    assert code == 0 and out.startswith("3 rows: 2 members added"), out
    listed = (await run("members", "list"))[1]
    assert "Lê Văn Thành\ttelegram\t987654321\treporter@THPT-LHP" in listed
    assert "Phạm Thu Hà\tzalo\ta1b2c3\tleader@SO-NAMDINH, admin" in listed


async def test_progress_is_reported_while_writing(settings, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(member_import, "CHUNK", 2)
    await runner(settings, tmp_path)
    path = tmp_path / "members.csv"
    path.write_text(GOOD, encoding="utf-8")
    rows = member_import.member_rows(path, admin.read_table(path))
    steps: list[tuple[int, int]] = []
    runtime = await Runtime.open(settings)
    try:
        async with runtime.sessions() as s, s.begin():
            await member_import.import_members(s, rows, NOW, "vi",
                                               lambda done, total: steps.append((done, total)))
        async with runtime.sessions() as s:
            logged = (await s.exec(select(AuditLog).where(
                col(AuditLog.action) == "members_import"))).all()
    finally:
        await runtime.close()
    # 4 members in chunks of 2, then 5 memberships in chunks of 2.
    assert steps == [(2, 9), (4, 9), (6, 9), (8, 9), (9, 9)]
    assert len(logged) == 1


async def test_a_bulk_import_leaves_the_planner_its_statistics(settings, tmp_path,
                                                                monkeypatch) -> None:
    """After an import of many rows, PostgreSQL knows the tables' sizes at once (ANALYZE in
    the import's transaction), whether or not autovacuum runs; SQLite is left as it is."""
    monkeypatch.setattr(member_import, "BULK_LOAD", 1)
    run = await runner(settings, tmp_path)
    (tmp_path / "members.csv").write_text(GOOD, encoding="utf-8")
    code, out = await run("members", "import", "members.csv")
    assert code == 0, out
    runtime = await Runtime.open(settings)
    try:
        async with runtime.sessions() as s:
            if s.bind.dialect.name != "postgresql":
                return
            known = dict((await s.exec(text(
                "SELECT relname, reltuples FROM pg_class "
                "WHERE relname IN ('member', 'membership')"))).all())
    finally:
        await runtime.close()
    assert known == {"member": 4, "membership": 5}
