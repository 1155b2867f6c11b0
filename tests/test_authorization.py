"""The authorization matrix: every chat command and button payload that reads or changes a
task × every kind of member, with the expected answer of each cell, on SQLite and PostgreSQL.

Registry: a Sở (its staff sit in its Văn phòng) with two Phòng GDĐT, two schools under Phòng
A and one under Phòng B. Tasks: #1 of the Sở to both Phòng and to one school of each; #2 of
Phòng A to its schools; #3 of Phòng B to its school. School A1 has sent a file for #1 and #2,
school B1 one for #1 and #3.

Besides each cell's expected answer, every message a member receives is checked for leaks:
no name of a unit outside their scope, no file of such a unit (in a zip or a workbook).
"""

from __future__ import annotations

import io
import zipfile
from datetime import datetime

import pytest
from openpyxl import load_workbook

from app.config import Settings
from core.clock import LOCAL_TZ
from core.messages import Incoming, IncomingFile, Outgoing
from tests.databases import seeded_copy
from tests.seed import Bot

NOW = datetime(2023, 5, 2, 8, 0, tzinfo=LOCAL_TZ)
AFTER_DEADLINE = datetime(2023, 5, 22, 8, 0, tzinfo=LOCAL_TZ)
PDF = b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n"
UNITS = """code,name,kind,parent,groups
SO,Sở GDĐT Thử Nghiệm,Sở GDĐT,,so
VP-SO,Văn phòng Sở,Phòng thuộc Sở,SO,
PGD-A,Phòng GDĐT An Bình,Phòng GDĐT,SO,PGD
PGD-B,Phòng GDĐT Bảo Lâm,Phòng GDĐT,SO,PGD
TH-A1,Trường TH Anh Đào,TH,PGD-A,TH
TH-A2,Trường TH Ánh Sáng,TH,PGD-A,TH
TH-B1,Trường TH Bạch Mai,TH,PGD-B,TH
"""
NAMES = {"PGD-A": "Phòng GDĐT An Bình", "PGD-B": "Phòng GDĐT Bảo Lâm",
         "TH-A1": "Trường TH Anh Đào", "TH-A2": "Trường TH Ánh Sáng",
         "TH-B1": "Trường TH Bạch Mai"}
FILES = {"TH-A1": "bao-cao-anh-dao.pdf", "TH-B1": "bao-cao-bach-mai.pdf"}
PEOPLE = (  # name, role, unit
    ("admin", "admin", None), ("so_staff", "staff", "VP-SO"), ("so_leader", "leader", "SO"),
    ("pa_staff", "staff", "PGD-A"), ("pa_leader", "leader", "PGD-A"),
    ("pb_staff", "staff", "PGD-B"), ("school_leader", "leader", "TH-A1"),
    ("ht_a1", "reporter", "TH-A1"), ("ht_b1", "reporter", "TH-B1"),
)
ACTORS = ("admin", "so_staff", "so_leader", "pa_staff", "pa_leader", "school_leader", "ht_a1",
          "ht_b1", "stranger")
EVERYTHING = set(NAMES)
# The units whose names and files each member may ever be shown.
SCOPE = {
    "pb_staff": {"PGD-B", "TH-B1"},
    "admin": EVERYTHING, "so_staff": EVERYTHING, "so_leader": EVERYTHING,
    "pa_staff": {"PGD-A", "TH-A1", "TH-A2"}, "pa_leader": {"PGD-A", "TH-A1", "TH-A2"},
    "school_leader": {"TH-A1"}, "ht_a1": {"TH-A1"}, "ht_b1": {"TH-B1"}, "stranger": set(),
}

UNKNOWN_1 = "Không có nhiệm vụ «#1»"
UNKNOWN_2 = "Không có nhiệm vụ «#2»"
UNKNOWN_3 = "Không có nhiệm vụ «#3»"
HELLO = "Bạn chưa tham gia đơn vị nào"
SO_OWNS = "do Sở GDĐT Thử Nghiệm giao; chỉ chuyên viên của Sở GDĐT Thử Nghiệm"
A_OWNS = "do Phòng GDĐT An Bình giao"
STAFF_ONLY = "Chỉ chuyên viên văn phòng"
FILES_FOR_OFFICES = "chỉ dành cho cán bộ và lãnh đạo"
MY_UNIT = "Bạn chỉ xem được tiến độ của đơn vị mình"
LOG_STAFF = "chỉ dành cho chuyên viên của đơn vị giao nhiệm vụ"

# What each member is answered, command by command (a text the answer contains). Read-only
# commands first; the changes at the end, refused ones before the allowed one.
READS: list[tuple[str, dict[str, str]]] = [
    ("/tiendo #1", {
        "admin": "Đã nộp 2/4", "so_staff": "Đã nộp 2/4", "so_leader": "Đã nộp 2/4",
        "pa_staff": "Đã nộp 1/2", "pa_leader": "Đã nộp 1/2", "school_leader": "Đã nộp 1/1",
        "ht_a1": "Đã nộp 1/1", "ht_b1": "Đã nộp 1/1", "stranger": HELLO}),
    ("/tiendo #2", {
        "admin": "Đã nộp 1/2", "so_staff": "Đã nộp 1/2", "so_leader": "Đã nộp 1/2",
        "pa_staff": "Đã nộp 1/2", "pa_leader": "Đã nộp 1/2", "school_leader": "Đã nộp 1/1",
        "ht_a1": "Đã nộp 1/1", "ht_b1": UNKNOWN_2, "stranger": HELLO}),
    ("/tiendo #3", {
        "admin": "Đã nộp 1/1", "so_staff": "Đã nộp 1/1", "so_leader": "Đã nộp 1/1",
        "pa_staff": UNKNOWN_3, "pa_leader": UNKNOWN_3, "school_leader": UNKNOWN_3,
        "ht_a1": UNKNOWN_3, "ht_b1": "Đã nộp 1/1", "stranger": HELLO}),
    ("/tiendo", {
        "admin": "#3", "so_staff": "#3", "so_leader": "#3", "pa_staff": "#2", "pa_leader": "#2",
        "school_leader": "#2", "ht_a1": "#2", "ht_b1": "#3", "stranger": HELLO}),
    ("/tiendo @TH", {
        "admin": "3 đơn vị", "so_staff": "3 đơn vị", "so_leader": "3 đơn vị",
        "pa_staff": "2 đơn vị", "pa_leader": "2 đơn vị", "school_leader": "1 đơn vị",
        "ht_a1": MY_UNIT, "ht_b1": MY_UNIT, "stranger": HELLO}),
    ("/tiendo TH-B1", {
        "admin": "Tiến độ của Trường TH Bạch Mai", "so_staff": "Tiến độ của Trường TH Bạch Mai",
        "so_leader": "Tiến độ của Trường TH Bạch Mai", "pa_staff": "Không có đơn vị hay",
        "pa_leader": "Không có đơn vị hay", "school_leader": "Không có đơn vị hay",
        "ht_a1": MY_UNIT, "ht_b1": "Tiến độ của Trường TH Bạch Mai", "stranger": HELLO}),
    ("/tainop #1", {
        "admin": "Tệp của 2/4", "so_staff": "Tệp của 2/4", "so_leader": "Tệp của 2/4",
        "pa_staff": "Tệp của 1/2", "pa_leader": "Tệp của 1/2", "school_leader": "Tệp của 1/1",
        "ht_a1": FILES_FOR_OFFICES, "ht_b1": FILES_FOR_OFFICES, "stranger": HELLO}),
    ("/tainop #3", {
        "admin": "Tệp của 1/1", "so_staff": "Tệp của 1/1", "so_leader": "Tệp của 1/1",
        "pa_staff": UNKNOWN_3, "pa_leader": UNKNOWN_3, "school_leader": UNKNOWN_3,
        "ht_a1": FILES_FOR_OFFICES, "ht_b1": FILES_FOR_OFFICES, "stranger": HELLO}),
    ("/viec", {
        "ht_a1": "không còn nhiệm vụ nào", "ht_b1": "không còn nhiệm vụ nào",
        "pa_staff": "không phải đầu mối báo cáo", "stranger": HELLO}),
    ("/help", {
        "admin": "/giao", "pa_staff": "/giaotiep", "pa_leader": "/tiendo", "ht_a1": "/viec",
        "stranger": HELLO}),
    ("/tiendo @PGD", {
        "so_staff": "2 đơn vị", "pa_staff": "1 đơn vị", "pa_leader": "1 đơn vị",
        "school_leader": "Không có nhóm", "ht_a1": MY_UNIT}),
    ("/tiendo bach mai", {
        "so_staff": "Tiến độ của Trường TH Bạch Mai", "pa_staff": "Không có đơn vị hay",
        "school_leader": "Không có đơn vị hay"}),
    ("/tiendo truong", {
        "so_staff": "khớp với nhiều đơn vị", "pa_staff": "khớp với nhiều đơn vị",
        "school_leader": "Tiến độ của Trường TH Anh Đào"}),
    ("/nhatky #2", {
        "admin": "Nhật ký nhiệm vụ #2", "so_staff": A_OWNS, "so_leader": LOG_STAFF,
        "pa_staff": "Nhật ký nhiệm vụ #2", "pa_leader": LOG_STAFF,
        "school_leader": LOG_STAFF, "ht_a1": LOG_STAFF, "ht_b1": LOG_STAFF,
        "stranger": HELLO}),
]
# After the deadline: #1 owed by both Phòng, #2 by school A2.
LATE: list[tuple[str, dict[str, str]]] = [
    ("/tiendo tre-han", {
        "admin": "nhiệm vụ đang mở (3)", "so_staff": "nhiệm vụ đang mở (3)",
        "so_leader": "nhiệm vụ đang mở (3)", "pa_staff": "nhiệm vụ đang mở (2)",
        "pa_leader": "nhiệm vụ đang mở (2)", "school_leader": "Không có đơn vị nào",
        "ht_a1": "Không có đơn vị nào", "ht_b1": "Không có đơn vị nào", "stranger": HELLO}),
    ("/tiendo hay-tre", {
        "admin": "hay trễ hạn nhất", "so_staff": "hay trễ hạn nhất",
        "so_leader": "hay trễ hạn nhất", "pa_staff": "hay trễ hạn nhất",
        "pa_leader": "hay trễ hạn nhất", "school_leader": "Chưa có đơn vị nào trễ hạn",
        "ht_a1": MY_UNIT, "ht_b1": MY_UNIT, "stranger": HELLO}),
]
CHANGES: list[tuple[str, dict[str, str]]] = [
    ("/nhac #1 5,2", {
        "pa_staff": SO_OWNS, "pa_leader": STAFF_ONLY, "school_leader": STAFF_ONLY,
        "ht_a1": STAFF_ONLY, "ht_b1": STAFF_ONLY, "stranger": HELLO,
        "so_staff": "Đã đổi lịch nhắc", "admin": "Đã đổi lịch nhắc"}),
    ("/nhac #2", {
        "so_staff": A_OWNS, "ht_b1": STAFF_ONLY, "pa_staff": "Đã nhắc ngay"}),
    ("/nhac #3", {"pa_staff": UNKNOWN_3}),
    ("/mien #1 TH-B1 | sáp nhập", {
        "pa_staff": SO_OWNS, "ht_b1": STAFF_ONLY, "so_leader": STAFF_ONLY}),
    ("/mien #2 TH-A2 | sáp nhập", {"so_staff": A_OWNS, "pa_staff": "Đã miễn nộp"}),
    ("/giao Kiểm tra | hạn 20/05/2023 | đơn vị TH-B1", {
        "pa_staff": "không thuộc phạm vi", "pa_leader": STAFF_ONLY}),
    ("/giao Kiểm tra | hạn 20/05/2023 | đơn vị VP-SO", {"pa_staff": "không thuộc phạm vi"}),
    ("/giao Kiểm tra | hạn 20/05/2023 | đơn vị @TH", {"pa_staff": "2 đơn vị"}),
    ("/dong #2", {"so_staff": A_OWNS, "pa_leader": STAFF_ONLY, "ht_b1": STAFF_ONLY,
                  "pb_staff": UNKNOWN_2, "pa_staff": "Đã đóng nhiệm vụ #2"}),
    ("/mo #2", {"so_staff": A_OWNS, "pa_staff": "Đã mở lại nhiệm vụ #2"}),
    ("/giahan #1 TH-B1 | đến 25/05/2023", {
        "pa_staff": SO_OWNS, "ht_b1": STAFF_ONLY, "so_leader": STAFF_ONLY,
        "so_staff": "Đã gia hạn nhiệm vụ #1"}),
    ("/sua #1 | hạn 26/05/2023", {
        "pa_staff": SO_OWNS, "ht_b1": STAFF_ONLY, "so_leader": STAFF_ONLY,
        "pb_staff": SO_OWNS, "so_staff": "Xin xác nhận sửa nhiệm vụ #1"}),
    ("/sua #2 | thêm TH-B1", {"so_staff": A_OWNS, "pa_staff": "không thuộc phạm vi"}),
    ("/sua #2 | thêm TH-A1", {"pa_staff": "Đã thuộc nhiệm vụ #2"}),
    ("/sua #3 | tên Khác", {"pa_staff": UNKNOWN_3, "pb_staff": "Xin xác nhận sửa nhiệm vụ #3"}),
    ("/giaotiep #1", {"pb_staff": "Giao tiếp từ nhiệm vụ #1", "ht_b1": STAFF_ONLY}),
    ("/giaotiep #3", {"pa_staff": UNKNOWN_3}),
    ("/huy #1", {
        "pa_staff": SO_OWNS, "pa_leader": STAFF_ONLY, "school_leader": STAFF_ONLY,
        "ht_a1": STAFF_ONLY, "so_leader": STAFF_ONLY, "stranger": HELLO}),
    ("/huy #2", {"so_staff": A_OWNS, "ht_b1": STAFF_ONLY}),
    ("/huy #3", {"pa_staff": UNKNOWN_3}),
    ("/huy #2", {"pa_staff": "Đã huỷ nhiệm vụ #2"}),
    ("/huy #1", {"admin": "Đã huỷ nhiệm vụ #1"}),
]


def _leaks(actor: str, text: str) -> list[str]:
    allowed = SCOPE[actor]
    return [f"{code} ({name})" for code, name in NAMES.items()
            if code not in allowed and name in text]


def _file_leaks(actor: str, name: str, data: bytes) -> list[str]:
    """Unit names or their files outside the scope inside a zip or a workbook."""
    found: list[str] = []
    allowed = SCOPE[actor]
    if name.endswith(".zip"):
        entries = " ".join(zipfile.ZipFile(io.BytesIO(data)).namelist())
        found += [code for code in NAMES if code not in allowed and code in entries]
    elif name.endswith(".xlsx"):
        book = load_workbook(io.BytesIO(data), read_only=True)
        cells = " ".join(str(cell) for sheet in book.worksheets
                         for row in sheet.iter_rows(values_only=True) for cell in row if cell)
        found += _leaks(actor, cells)
        found += [f for code, f in FILES.items() if code not in allowed and f in cells]
    return found


class Matrix:
    """The seeded bot, and what each member has been sent since it was last read."""

    def __init__(self, bot: Bot) -> None:
        self.bot = bot
        self.read_upto = 0
        self.now = NOW

    async def send(self, actor: str, **event: object) -> list:
        start = len(self.bot.recorder.sent)
        await self.bot.runtime.dispatcher.handle(Incoming("console", actor, actor, **event),
                                                 self.now)
        await self.bot.sender.drain(self.now)
        return self.bot.recorder.sent[start:]

    def check_leaks(self) -> None:
        """Every message sent so far, to anyone, shows only what its reader may see."""
        problems = []
        for message in self.bot.recorder.sent[self.read_upto:]:
            actor = message.chat_id
            if actor not in SCOPE:
                continue
            problems += [(actor, leak, message.text[:80]) for leak in _leaks(actor, message.text)]
            if message.file is not None:
                problems += [(actor, leak, message.file.name) for leak in _file_leaks(
                    actor, message.file.name, message.file.data)]
        self.read_upto = len(self.bot.recorder.sent)
        assert not problems, problems

    def message_id(self, user: str, contains: str) -> str:
        """The platform id of the latest message to `user` containing `contains`."""
        sent = self.bot.recorder.sent
        for index in range(len(sent) - 1, -1, -1):
            if sent[index].chat_id == user and contains in sent[index].text:
                return str(index + 1)
        raise AssertionError(f"no message to {user} with {contains!r}")


async def seeded(settings: Settings) -> Matrix:
    from app.bootstrap import Runtime

    runtime = await Runtime.open(settings)
    bot = Bot(runtime)
    await bot.register(NOW, UNITS, PEOPLE)
    matrix = Matrix(bot)
    for staff, line in (
            ("so_staff", "Báo cáo Sở | hạn 20/05/2023 | đơn vị PGD-A, PGD-B, TH-A1, TH-B1"),
            ("pa_staff", "Báo cáo Phòng A | hạn 20/05/2023 | đơn vị TH-A1, TH-A2"),
            ("pb_staff", "Báo cáo Phòng B | hạn 20/05/2023 | đơn vị TH-B1")):
        await matrix.send(staff, text=f"/giao {line}")
        await matrix.send(staff, button="g:send",
                          button_message_id=matrix.message_id(staff, "Xin xác nhận"))
    for reporter, code, tasks in (("ht_a1", "TH-A1", ("#1", "#2")),
                                  ("ht_b1", "TH-B1", ("#1", "#3"))):
        for task in tasks:
            await matrix.send(reporter, file=IncomingFile(FILES[code], PDF),
                              reply_to=matrix.message_id(reporter, f"Nhiệm vụ mới {task}"))
    return matrix


async def seed(settings: Settings) -> list[Outgoing]:
    """`seeded`, closed: what it sent."""
    m = await seeded(settings)
    await m.bot.runtime.close()
    return m.bot.recorder.sent


@pytest.fixture
async def matrix(settings: Settings):
    """The seeded bot, on a copy of the database `seed` made once per test process."""
    from app.bootstrap import Runtime

    async with seeded_copy(settings, "authorization", seed) as (copied, sent):
        m = Matrix(Bot(await Runtime.open(copied)))
        m.bot.recorder.sent = sent
        try:
            yield m
        finally:
            await m.bot.runtime.close()


async def _play(matrix: Matrix, rows: list[tuple[str, dict[str, str]]]) -> None:
    failures = []
    for command, cells in rows:
        for actor, expected in cells.items():
            answers = [m.text for m in await matrix.send(actor, text=command)
                       if m.chat_id == actor]
            if not any(expected in text for text in answers):
                failures.append((command, actor, expected, answers))
            matrix.check_leaks()
    assert not failures, "\n".join(map(repr, failures))


async def test_every_member_sees_only_their_scope(matrix: Matrix) -> None:
    matrix.check_leaks()  # the task messages themselves
    await _play(matrix, READS)
    matrix.now = AFTER_DEADLINE
    await _play(matrix, LATE)


async def test_changes_are_for_the_owning_office(matrix: Matrix) -> None:
    await _play(matrix, CHANGES)


async def test_buttons_show_only_the_scope_and_forged_ones_do_nothing(matrix: Matrix) -> None:
    """[Excel] and [Biểu đồ] under /tiendo #1 of a Phòng leader: the workbook holds its
    share only; payloads from another chat's message (forged) are refused like a stale one."""
    await matrix.send("pa_leader", text="/tiendo #1")
    shown = matrix.message_id("pa_leader", "Nhiệm vụ #1")
    for payload in ("r:xlsx:1", "r:chart:1"):
        sent = await matrix.send("pa_leader", button=payload, button_message_id=shown)
        assert any(m.file is not None for m in sent), payload
    workbook = next(m for m in matrix.bot.recorder.sent if m.file and
                    m.file.name.endswith(".xlsx"))
    cells = " ".join(str(c) for sheet in load_workbook(io.BytesIO(workbook.file.data)).worksheets
                     for row in sheet.iter_rows(values_only=True) for c in row if c)
    assert "Trường TH Anh Đào" in cells and "Phòng GDĐT An Bình" in cells
    matrix.check_leaks()
    # The Sở's /tiendo #3 message carries [Excel] for #3; a Phòng A member replaying it from
    # their own chat, or a page of it, gets the stale-button answer and nothing else.
    await matrix.send("so_staff", text="/tiendo #3")
    so_message = matrix.message_id("so_staff", "Nhiệm vụ #3")
    for payload in ("r:xlsx:3", "r:chart:3", "t:n:1:3", "t:u:1:7", "t:g:1:th", "m:1:ok",
                    "x:1:ok", "g:send", "s:1:done", "p:1", "h:1", "c:tiendo:#3"):
        for actor in ("pa_staff", "pa_leader", "ht_a1", "stranger"):
            answers = await matrix.send(actor, button=payload, button_message_id=so_message)
            texts = [m.text for m in answers if m.chat_id == actor]
            assert texts and all(("Nút này không còn hiệu lực" in t or HELLO in t)
                                 for t in texts), (payload, actor, texts)
            assert not any(m.file for m in answers), (payload, actor)
    matrix.check_leaks()


async def test_a_task_is_owned_by_the_office_and_colleagues_are_told(matrix: Matrix) -> None:
    """A second clerk of Phòng A changes the task his colleague assigned: allowed, and the
    assigning clerk is told what changed and by whom; the audit log names both."""
    await matrix.bot.admin(NOW, "members", "add", "pa_staff2", "--role", "staff",
                           "--unit", "PGD-A")
    answers = await matrix.send("pa_staff2", text="/nhac #2 4")
    assert any("Đã đổi lịch nhắc" in m.text for m in answers)
    told = [m.text for m in answers if m.chat_id == "pa_staff"]
    assert told and "pa_staff2 đã thay đổi nhiệm vụ #2" in told[0]
    code, out = await matrix.bot.admin(NOW, "audit", "--task", "#2")
    assert code == 0, out
    assert "pa_staff\tconsole\tassign\t#2" in out
    assert "pa_staff2\tconsole\treminder_policy\t#2" in out
    code, out = await matrix.bot.admin(NOW, "audit", "--member", "PA_STAFF2", "--since", "1d")
    assert code == 0 and "reminder_policy" in out and "\tassign\t" not in out
    code, out = await matrix.bot.admin(NOW, "audit")
    assert "admin\tcli\tmember_add" in out and "units_import" in out
    code, out = await matrix.bot.admin(NOW, "members", "list")
    assert "staff@PGD-A" in out


async def test_export_on_behalf_of_a_member_follows_their_scope(matrix: Matrix,
                                                                tmp_path) -> None:  # noqa: ANN001
    out = tmp_path / "pa.xlsx"
    code, text = await matrix.bot.admin(NOW, "export", "--all", str(out), "--member", "pa_leader")
    assert code == 0, text
    assert "2 tasks" in text  # #1 (its share) and #2; #3 of Phòng B does not exist for it
    assert not _file_leaks("pa_leader", out.name, out.read_bytes())
    code, text = await matrix.bot.admin(NOW, "export", "--task", "3", str(out), "--member",
                                        "pa_leader")
    assert code != 0 and "there is no task #3" in text
