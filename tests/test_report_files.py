"""The chart and Excel buttons, `/tainop` and `bot.py export` against a real database
(SQLite and PostgreSQL): who gets what, the files' contents, and bad input."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import threading
import zipfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from openpyxl import load_workbook
from PIL import Image
from sqlmodel import col, select

from app import admin
from app.bootstrap import Runtime
from app.cli import invoke
from app.config import Settings
from channels.console import ConsoleSession, Delivered, user_event
from core.messages import Button, IncomingFile
from handlers import report_files
from storage import inbox
from storage.models import (
    Assignment,
    AuditLog,
    InboundUpdate,
    Member,
    Outbox,
    StoredFile,
    Submission,
)
from tests.conftest import EXAMPLES

NOW = datetime(2023, 5, 2, 1, 0, tzinfo=UTC)  # 08:00 in Hà Nội
PDF = b"%PDF-1.7\nbao cao nq29 cua THPT chuyen Le Hong Phong\n"


@dataclass
class Bot:
    runtime: Runtime
    session: ConsoleSession
    settings: Settings
    tmp: Path

    def admin(self, *args: str) -> tuple[int, str]:
        return invoke(list(args), self.settings, self.tmp, self.session.now)

    async def say(self, user: str, **fields: object) -> list[Delivered]:
        before = len(self.session.delivered)
        await self.session.send(user_event(user, **fields))
        return self.session.delivered[before:]

    async def buttons_for(self, user: str, number: int) -> Delivered:
        """A message to `user` carrying the `[Biểu đồ] [Excel]` buttons of task #number, as
        `/tiendo #N` shows them."""
        async with self.runtime.sessions() as s, s.begin():
            ctx = self.runtime.dispatcher.context(s, self.session.now)
            member = (await s.exec(select(Member).where(Member.display_name == user))).one()
            await ctx.send(member, lambda t: t("Nhiệm vụ {task}", task=f"#{number}"),
                           lambda t: [Button("Biểu đồ", f"r:chart:{number}"),
                                      Button("Excel", f"r:xlsx:{number}")])
        await self.session.drain()
        return self.session.last_message_to(user)

    async def press(self, user: str, message: Delivered, payload: str) -> list[Delivered]:
        return await self.say(user, button=payload, button_message_id=message.message_id)

    def received(self, name: str) -> bytes:
        return (self.tmp / "received" / name).read_bytes()


@asynccontextmanager
async def bot(settings: Settings, tmp_path: Path) -> AsyncIterator[Bot]:
    """Units, staff `vp`, leader `gd`, reporters `ht_lhp` and `ht_nt`; task #1 to @THPT, to
    which THPT-LHP has sent a PDF."""
    runtime = await Runtime.open(settings)
    session = ConsoleSession(runtime, io.StringIO(), tmp_path / "received", start=NOW)
    b = Bot(runtime, session, settings, tmp_path)
    try:
        async with runtime.sessions() as s, s.begin():
            await admin.import_units(s, admin.read_unit_file(EXAMPLES / "units.csv"))
            for name, role, unit, language in (("vp", "staff", "VP-SO", "vi"),
                                               ("gd", "leader", "SO-NAMDINH", "en"),
                                               ("ht_lhp", "reporter", "THPT-LHP", "vi"),
                                               ("ht_nt", "reporter", "THPT-NAMTRUC", "vi")):
                await admin.add_member(s, name, "console", role, NOW, None, unit, language)
        await b.say("vp", text="/giao Báo cáo NQ29 | hạn 08/05/2023 | đơn vị @THPT | nộp: tệp")
        await b.press("vp", session.find_button("vp", "Gửi")[0], "g:send")
        session.now = NOW + timedelta(days=1)
        await b.say("ht_lhp", text="bản chính thức", file=IncomingFile("bc nq29.pdf", PDF))
        session.now = NOW + timedelta(days=7)  # 09/05 08:00, past the deadline
        yield b
    finally:
        await runtime.close()


async def test_chart_and_excel_buttons_send_the_files_and_bad_presses(settings,
                                                                   tmp_path) -> None:
    async with bot(settings, tmp_path) as b:
        message = await b.buttons_for("vp", 1)
        [sent] = await b.press("vp", message, "r:chart:1")
        assert sent.file_name == "bieu-do-nhiem-vu-1.png"
        assert "Biểu đồ tiến độ nhiệm vụ #1 «Báo cáo NQ29»" in sent.text
        png = b.received("bieu-do-nhiem-vu-1.png")
        assert png.startswith(b"\x89PNG") and Image.open(io.BytesIO(png)).width == 1080

        [sent] = await b.press("vp", message, "r:xlsx:1")
        assert sent.file_name == "tien-do-nhiem-vu-1.xlsx" and "(2 đơn vị)" in sent.text
        book = load_workbook(io.BytesIO(b.received("tien-do-nhiem-vu-1.xlsx")))
        summary, task = book.worksheets
        assert [c.value for c in summary[2]][:2] == ["#1", "Báo cáo NQ29"]
        assert [c.value for c in summary[2]][4:13] == [2, 1, 1, 0, 1, 1, 0, 0, "1/2"]
        assert [[c.value for c in row] for row in task.iter_rows(min_row=2)] == [
            ["THPT-LHP", "THPT chuyên Lê Hồng Phong", "THPT, truc-thuoc-so", None,
             datetime(2023, 5, 8, 17, 0), "Đã nộp", datetime(2023, 5, 3, 8, 0), "Đúng hạn", 0,
             "ht_lhp", "bản chính thức", "bc nq29.pdf", None],
            ["THPT-NAMTRUC", "THPT Nam Trực", "huyen-nam-truc, THPT, truc-thuoc-so", None,
             datetime(2023, 5, 8, 17, 0), "Chưa nộp", None, None, 0.6, None, None, None, None],
        ]

        message = await b.buttons_for("vp", 7)
        [answer] = await b.press("vp", message, "r:chart:7")
        assert "Không có nhiệm vụ «7»" in answer.text and answer.file_name is None
        [answer] = await b.press("vp", message, "r:chart:1")  # not on that message
        assert "không còn hiệu lực" in answer.text


class HeldBuild:
    """`build_workbook` that waits, in its worker thread, until the test lets it go on."""

    def __init__(self, fail: bool = False) -> None:
        self.started, self.go_on, self.fail = threading.Event(), threading.Event(), fail
        self.real = report_files.build_workbook

    def __call__(self, *args: object, **kwargs: object) -> bytes:
        self.started.set()
        assert self.go_on.wait(60)
        if self.fail:
            raise RuntimeError("the build broke")
        return self.real(*args, **kwargs)


async def outbox_after(b: Bot, row_id: int) -> list[Outbox]:
    async with b.runtime.sessions() as s:  # a fresh session: only what is committed
        return list((await s.exec(select(Outbox).where(col(Outbox.id) > row_id)
                                  .order_by(col(Outbox.id)))).all())


async def recorded(b: Bot, key: str) -> int:
    """An inbound update recorded as a channel records one (to follow its handled mark)."""
    async with b.runtime.sessions() as s, s.begin():
        [row_id] = await inbox.record(s, "console", [(key, {})], b.session.now, "w")
    assert row_id is not None
    return row_id


async def handled_at(b: Bot, row_id: int) -> datetime | None:
    async with b.runtime.sessions() as s:
        row = await s.get(InboundUpdate, row_id)
        assert row is not None
        return row.handled_at


async def test_others_are_answered_while_a_workbook_is_built(settings, tmp_path,
                                                             monkeypatch) -> None:
    """The workbook is built with no transaction open: another user's /help commits its
    answer before the workbook's message exists, and the press is marked handled only with
    that message (a process dying during the build leaves it to be handled again)."""
    build = HeldBuild()
    monkeypatch.setattr(report_files, "build_workbook", build)
    async with bot(settings, tmp_path) as b:
        message = await b.buttons_for("vp", 1)
        last = max(row.id or 0 for row in await outbox_after(b, 0))
        update = await recorded(b, "press-xlsx")
        dispatcher, now = b.runtime.dispatcher, b.session.now
        press = asyncio.create_task(dispatcher.handle(user_event(
            "vp", button="r:xlsx:1", button_message_id=message.message_id,
            inbox_id=update), now))
        assert await asyncio.to_thread(build.started.wait, 60)
        assert await handled_at(b, update) is None

        assert await dispatcher.handle(user_event("ht_nt", text="/help"), now)
        [help_row] = await outbox_after(b, last)
        assert help_row.chat_id == "ht_nt" and help_row.file_id is None

        build.go_on.set()
        assert await press
        assert await handled_at(b, update) is not None
        [help_again, workbook] = await outbox_after(b, last)
        assert help_again.id == help_row.id
        assert (workbook.chat_id, workbook.file_name) == ("vp", "tien-do-nhiem-vu-1.xlsx")
        await b.session.drain()
        book = load_workbook(io.BytesIO(b.received("tien-do-nhiem-vu-1.xlsx")))
        assert book.worksheets[1]["A2"].value == "THPT-LHP"
        assert not await dispatcher.handle(user_event(  # a second delivery: handled once
            "vp", button="r:xlsx:1", button_message_id=message.message_id,
            inbox_id=update), now)


async def test_a_press_whose_build_is_cut_short_is_handled_again(settings, tmp_path,
                                                               monkeypatch) -> None:
    """The handling stopped during the build (as by a process killed then): nothing of it
    is lost, the update is still unhandled, and handling it again sends the workbook once."""
    build = HeldBuild()
    monkeypatch.setattr(report_files, "build_workbook", build)
    async with bot(settings, tmp_path) as b:
        message = await b.buttons_for("vp", 1)
        last = max(row.id or 0 for row in await outbox_after(b, 0))
        update = await recorded(b, "press-xlsx")
        event = user_event("vp", button="r:xlsx:1", button_message_id=message.message_id,
                           inbox_id=update)
        press = asyncio.create_task(b.runtime.dispatcher.handle(event, b.session.now))
        assert await asyncio.to_thread(build.started.wait, 60)
        press.cancel()
        await asyncio.gather(press, return_exceptions=True)
        assert await handled_at(b, update) is None and await outbox_after(b, last) == []

        build.go_on.set()
        assert await b.runtime.dispatcher.handle(event, b.session.now)
        [workbook] = await outbox_after(b, last)
        assert workbook.file_name == "tien-do-nhiem-vu-1.xlsx"
        assert await handled_at(b, update) is not None


async def test_in_the_background_the_next_updates_do_not_wait_for_a_build(
        settings, tmp_path, monkeypatch) -> None:
    """As in `bot.py run`: a channel's inbox handles its updates one after another, and a
    press of `[Excel]` holds it up only for the checks; the /help behind it is answered
    while the workbook is being built. Stopped at shutdown, a build leaves its update to the
    next process."""
    from handlers.inbox import Inbox

    build = HeldBuild()
    monkeypatch.setattr(report_files, "build_workbook", build)
    async with bot(settings, tmp_path) as b:
        message = await b.buttons_for("vp", 1)
        last = max(row.id or 0 for row in await outbox_after(b, 0))
        dispatcher, now = b.runtime.dispatcher, b.session.now
        dispatcher.in_background = b.session.drain  # then what the build queued is sent
        events = {"press": user_event("vp", button="r:xlsx:1",
                                      button_message_id=message.message_id),
                  "help": user_event("ht_nt", text="/help")}

        async def handle(row_id: int, payload: dict) -> bool:
            event = dataclasses.replace(events[payload["event"]], inbox_id=row_id)
            return await dispatcher.handle(event, now)

        box = Inbox(dispatcher, "console", handle, "me:1", lambda worker: False, lambda: now)
        await box.start()
        try:
            await box.receive([("1", {"event": "press"}), ("2", {"event": "help"})])
            await asyncio.wait_for(box.settled(), 60)
            assert await asyncio.to_thread(build.started.wait, 60)
            [help_row] = await outbox_after(b, last)
            assert help_row.chat_id == "ht_nt" and help_row.file_id is None

            build.go_on.set()
            await asyncio.wait_for(dispatcher.settled(), 60)
            [_, workbook] = await outbox_after(b, last)
            assert workbook.file_name == "tien-do-nhiem-vu-1.xlsx"
            delivered = b.session.last_message_to("vp")
            assert delivered is not None and delivered.file_name == workbook.file_name

            build.go_on.clear()
            build.started.clear()
            await box.receive([("3", {"event": "press"})])
            await asyncio.wait_for(box.settled(), 60)
            assert await asyncio.to_thread(build.started.wait, 60)
            await dispatcher.stop_background()
        finally:
            build.go_on.set()
            await box.stop()
        async with b.runtime.sessions() as s:
            states = {r.key: r.handled_at is not None
                      for r in (await s.exec(select(InboundUpdate))).all()}
        assert states == {"1": True, "2": True, "3": False}
        assert len(await outbox_after(b, last)) == 2


async def test_a_build_that_fails_gives_the_apology_and_writes_nothing(settings, tmp_path,
                                                                       monkeypatch) -> None:
    build = HeldBuild(fail=True)
    build.go_on.set()
    monkeypatch.setattr(report_files, "build_workbook", build)
    async with bot(settings, tmp_path) as b:
        message = await b.buttons_for("vp", 1)
        async with b.runtime.sessions() as s:
            files_before = len((await s.exec(select(StoredFile))).all())
            audits_before = len((await s.exec(select(AuditLog))).all())
        update = await recorded(b, "press-xlsx")
        [answer] = await b.say("vp", button="r:xlsx:1", button_message_id=message.message_id,
                               inbox_id=update)
        assert answer.file_name is None and answer.text.startswith("Xin lỗi, đã có lỗi")
        assert await handled_at(b, update) is not None  # not tried again and again
        async with b.runtime.sessions() as s:
            assert len((await s.exec(select(StoredFile))).all()) == files_before
            assert len((await s.exec(select(AuditLog))).all()) == audits_before


async def test_the_workbook_names_the_route_of_a_report_sent_another_way(settings,
                                                                       tmp_path) -> None:
    async with bot(settings, tmp_path) as b:
        [answer] = await b.say("ht_nt", text="Dạ trường đã gửi qua email cho Sở rồi ạ")
        assert "qua e-mail" in answer.text
        async with b.runtime.sessions() as s:
            submission = (await s.exec(select(Submission).order_by(
                col(Submission.id).desc()))).first()
        assert submission is not None and submission.route == "email"
        [sent] = await b.press("vp", await b.buttons_for("vp", 1), "r:xlsx:1")
        task = load_workbook(io.BytesIO(b.received(sent.file_name))).worksheets[1]
        assert task["M1"].value == "Nộp theo đường khác"
        rows = {r[0]: r for r in task.iter_rows(min_row=2, values_only=True)}
        assert rows["THPT-NAMTRUC"][5] == "Đã nộp"
        assert rows["THPT-NAMTRUC"][10:] == ("Dạ trường đã gửi qua email cho Sở rồi ạ", None,
                                             "E-mail")
        assert rows["THPT-LHP"][12] is None  # sent through the bot


async def test_leader_gets_them_in_english_and_a_reporter_is_refused(settings,
                                                                    tmp_path) -> None:
    async with bot(settings, tmp_path) as b:
        [sent] = await b.press("gd", await b.buttons_for("gd", 1), "r:xlsx:1")
        assert sent.file_name == "tien-do-nhiem-vu-1.xlsx"
        assert sent.text.startswith("Progress table of task #1")
        book = load_workbook(io.BytesIO(b.received("tien-do-nhiem-vu-1.xlsx")))
        assert book.sheetnames[0] == "Summary" and book.worksheets[1]["A1"].value == "Unit code"

        message = await b.buttons_for("ht_nt", 1)
        for payload in ("r:chart:1", "r:xlsx:1"):
            [answer] = await b.press("ht_nt", message, payload)
            assert answer.file_name is None
            assert "chỉ dành cho cán bộ và lãnh đạo" in answer.text
        [answer] = await b.say("ht_lhp", text="/tainop #1")
        assert answer.file_name is None and "chỉ dành cho cán bộ" in answer.text
        async with b.runtime.sessions() as s:
            to_reporters = (await s.exec(select(Outbox).where(
                col(Outbox.chat_id).in_(["ht_nt", "ht_lhp"]),
                col(Outbox.file_id).is_not(None)))).all()
        assert to_reporters == []


async def test_tainop_sends_the_zip_of_the_latest_files(settings, tmp_path,
                                                        monkeypatch) -> None:
    async with bot(settings, tmp_path) as b:
        [answer] = await b.say("vp", text="/tainop")
        assert "/tainop #1" in answer.text
        [answer] = await b.say("vp", text="/tainop #5")
        assert "Không có nhiệm vụ «#5»" in answer.text
        newer = PDF + b"ban sua\n"
        receipt = b.session.last_message_to("ht_lhp")
        assert receipt is not None and "Đã nhận tệp" in receipt.text
        [answer] = await b.say("ht_lhp", text="", file=IncomingFile("bc-sua.PDF", newer),
                               reply_to=receipt.message_id)
        assert "bản nộp lại" in answer.text
        [sent] = await b.say("vp", text="/tainop #1")
        assert sent.file_name == "bai-nop-nhiem-vu-1.zip"
        assert "Tệp của 1/2 đơn vị" in sent.text
        with zipfile.ZipFile(io.BytesIO(b.received("bai-nop-nhiem-vu-1.zip"))) as archive:
            assert archive.namelist() == ["THPT-LHP - THPT chuyên Lê Hồng Phong.pdf"]
            assert archive.read(archive.namelist()[0]) == newer
        [sent] = await b.say("gd", text="/tainop 1")
        assert sent.file_name == "bai-nop-nhiem-vu-1.zip"

        await b.say("ht_nt", text="", file=IncomingFile("bc.pdf", PDF))
        monkeypatch.setattr(report_files, "MAX_ARCHIVE_BYTES", len(newer))
        first, second = await b.say("vp", text="/tainop #1")
        assert (first.file_name, second.file_name) == ("bai-nop-nhiem-vu-1-phan-1.zip",
                                                       "bai-nop-nhiem-vu-1-phan-2.zip")
        assert first.text.endswith("(phần 1/2)") and "Tệp của 2/2 đơn vị" in second.text
        with zipfile.ZipFile(io.BytesIO(b.received(second.file_name))) as archive:
            assert archive.namelist() == ["THPT-NAMTRUC - THPT Nam Trực.pdf"]

        await b.say("vp", text="/giao Thống kê | hạn 20/05/2023 | đơn vị THPT-LHP")
        await b.press("vp", b.session.find_button("vp", "Gửi")[0], "g:send")
        [answer] = await b.say("vp", text="/tainop #2")
        assert "Chưa đơn vị nào gửi tệp cho nhiệm vụ #2 «Thống kê»" in answer.text


async def test_export_command_line(settings, tmp_path) -> None:
    async with bot(settings, tmp_path) as b:
        await b.say("vp", text="/giao Thống kê | hạn 20/05/2023 | đơn vị THPT-LHP")
        await b.press("vp", b.session.find_button("vp", "Gửi")[0], "g:send")

        code, out = await asyncio.to_thread(b.admin, "export", "--task", "1", "one.xlsx")
        assert code == 0, out
        assert "1 task, 2 unit rows written to" in out
        book = load_workbook(tmp_path / "one.xlsx")
        assert book.sheetnames == ["Tổng hợp", "#1 Báo cáo NQ29"]
        assert book.worksheets[1].max_row == 3

        code, out = await asyncio.to_thread(b.admin, "export", "--all", "out/all.xlsx",
                                            "--language", "en")
        assert code == 0, out
        assert "2 tasks, 3 unit rows" in out
        book = load_workbook(tmp_path / "out" / "all.xlsx")
        assert book.sheetnames == ["Summary", "#1 Báo cáo NQ29", "#2 Thống kê"]
        assert [row[0] for row in book["Summary"].iter_rows(values_only=True)] == \
            ["Task", "#1", "#2"]

        for args, message in (
            (("--task", "9", "x.xlsx"), "there is no task #9"),
            (("x.xlsx",), "give either --task N or --all"),
            (("--task", "1", "--all", "x.xlsx"), "give either --task N or --all"),
            (("--task", "1", "x.csv"), "expected a file name ending in .xlsx"),
            (("--task", "1", "--language", "fr", "x.xlsx"), "unknown language"),
        ):
            code, out = await asyncio.to_thread(b.admin, "export", *args)
            assert code == 1 and message in out, (args, out)
        assert not (tmp_path / "x.xlsx").exists()

        async with b.runtime.sessions() as s, s.begin():
            vp = (await s.exec(select(Member).where(Member.display_name == "vp"))).one()
            s.add(Assignment(number=3, title="Rỗng", deadline=NOW, assigned_by=vp.id,
                             created_at=NOW))
        code, out = await asyncio.to_thread(b.admin, "export", "--task", "3", "x.xlsx")
        assert code == 1 and "task #3 has no units to answer it" in out
        assert not (tmp_path / "x.xlsx").exists()


async def test_export_with_no_tasks_at_all(tmp_path) -> None:
    from tests.conftest import sqlite_settings

    settings = sqlite_settings(tmp_path)
    code, out = await asyncio.to_thread(invoke, ["export", "--all", "x.xlsx"], settings,
                                        tmp_path, NOW)
    assert code == 1 and "no tasks with units yet" in out


async def test_on_telegram_the_chart_is_a_photo_and_the_workbook_a_document() -> None:
    """Files travel through the outbox and the real adapter, and the Telegram transcript
    prints them as the console does: `📎 name (caption)`."""
    from tests.test_telegram_channel import telegram_bot
    from tests.transcripts import give_task

    async with telegram_bot() as (session, runtime):
        await give_task(session, "Báo cáo | hạn 08/05/2099 | đơn vị THPT-LHP")
        for payload, method, name in (("r:chart:1", "sendPhoto", "bieu-do-nhiem-vu-1.png"),
                                      ("r:xlsx:1", "sendDocument", "tien-do-nhiem-vu-1.xlsx")):
            async with runtime.sessions() as s, s.begin():
                ctx = runtime.dispatcher.context(s, session.now)
                vp = (await s.exec(select(Member).where(Member.display_name == "vp_so"))).one()
                await ctx.send(vp, lambda t: "#1", lambda t, p=payload: [Button("Tệp", p)])
            await session.drain()
            message = session.last_message_to("vp_so")
            assert message is not None
            before = len(session.emulator.calls)
            await session.send(user_event("vp_so", button=payload,
                                          button_message_id=message.message_id))
            assert method in [c.method for c in session.emulator.calls[before:] if c.ok]
            sent = session.last_message_to("vp_so")
            assert sent is not None and sent.file_name == name
            assert sent.lines()[0].endswith(f"→ vp_so: 📎 {name} ({sent.text})")
            assert sent.text.startswith(("Biểu đồ tiến độ nhiệm vụ #1", "Bảng tiến độ"))
