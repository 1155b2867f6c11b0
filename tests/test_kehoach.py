"""`/kehoach`: a plan (file or pasted text) becomes a list of duties, each a button that opens
the `/giao` draft filled in. What users see for every input they can get wrong, and that a
plan read by an office shows and assigns only units of that office's subtree."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from sqlmodel import select

from app.config import Settings
from core.clock import LOCAL_TZ
from core.messages import Incoming, IncomingFile
from storage.models import Assignment, PlanDraft, Target, Unit
from tests.conftest import EXAMPLES
from tests.seed import Bot, seeded_bot
from tests.test_documents import cp1258, docx_bytes, pdf_bytes
from tests.transcripts import play_text

HEAD = """@now 2023-04-20 09:00
@admin units import units.csv
@admin members add vp_so --channel console --role staff --unit VP-SO
@admin members add ht_lhp --channel console --role reporter --unit THPT-LHP
@as vp_so
"""
NOW = datetime(2023, 4, 20, 9, 0, tzinfo=LOCAL_TZ)
PASSAGE = "Các trường THPT gửi báo cáo sơ kết học kỳ I về Sở trước ngày 15/5/2023."


async def chat(tmp_path: Path, body: str, files: dict[str, bytes] | None = None) -> str:
    (tmp_path / "files").mkdir(exist_ok=True)
    for name, data in (files or {}).items():
        (tmp_path / "files" / name).write_bytes(data)
    code, out = await play_text(tmp_path, HEAD + body)
    assert code == 0, out
    return out


async def test_only_office_staff_read_plans(tmp_path: Path) -> None:
    out = await chat(tmp_path, f"@as ht_lhp\n/kehoach {PASSAGE}\n@expect ht_lhp Chỉ chuyên viên "
                     "văn phòng mới dùng /kehoach\n")
    assert "Tìm thấy" not in out


async def test_files_that_hold_no_plan_say_what_to_send(tmp_path: Path) -> None:
    ole = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600)
    await chat(tmp_path, """@file files/ke-hoach.doc /kehoach
@expect vp_so Word cũ (.doc)
@expect vp_so lưu thành .docx hoặc PDF
@file files/ban-quet.pdf /kehoach
@expect vp_so là bản quét (ảnh)
@file files/trong.pdf /kehoach
@expect vp_so trống (0 byte)
@file files/chuong-trinh.exe /kehoach
@expect vp_so không phải loại được nhận
@file files/anh.png /kehoach
@expect vp_so không phải văn bản kế hoạch
@file files/ke-hoach.txt /kehoach
@expect vp_so Không tìm thấy việc nào cần báo cáo trong «ke-hoach.txt»
@expect vp_so /giao Tên | hạn 08/05/2023 | đơn vị @THCS
""", {"ke-hoach.doc": ole, "ban-quet.pdf": pdf_bytes(None),
      "anh.png": b"\x89PNG\r\n\x1a\n" + bytes(64),
      "ke-hoach.txt": "Kế hoạch tổ chức hội nghị.\nTrân trọng.".encode()})


async def test_a_plan_in_a_legacy_code_page_or_a_pdf_is_read(tmp_path: Path) -> None:
    await chat(tmp_path, """@file files/ke-hoach.txt /kehoach
@expect vp_so Tìm thấy 1 việc cần giao trong «ke-hoach.txt»
@expect vp_so hạn 15/05/2023 — 2 đơn vị (Các trường THPT)
@file files/ke-hoach.pdf /kehoach
@expect vp_so Tìm thấy 1 việc cần giao trong «ke-hoach.pdf»
@file files/ke-hoach.docx /kehoach
@expect vp_so Tìm thấy 2 việc cần giao trong «ke-hoach.docx»
@expect vp_so [1 · 08/05/2023]
""", {"ke-hoach.txt": cp1258(PASSAGE), "ke-hoach.pdf": pdf_bytes(PASSAGE),
      "ke-hoach.docx": docx_bytes()})


async def test_pasted_text_in_the_same_message_or_the_next(tmp_path: Path) -> None:
    await chat(tmp_path, f"""/kehoach {PASSAGE}
@expect vp_so Tìm thấy 1 việc cần giao trong «nội dung dán vào»
/kehoach
@expect vp_so Gửi tệp kế hoạch (.docx, .pdf hoặc .txt) hoặc dán nội dung
Cảm ơn các đồng chí.
@expect vp_so Không tìm thấy việc nào cần báo cáo
""")


async def test_missing_parts_are_asked_for_as_guided_giao_asks(tmp_path: Path) -> None:
    await chat(tmp_path, """/kehoach Các đơn vị gửi báo cáo tổng kết năm học về Sở.
@expect vp_so chưa có hạn
@expect vp_so [1 · chưa có hạn]
@press 1 · chưa có hạn
@expect vp_so Hạn nộp là khi nào?
08/06/2023
@expect vp_so Giao cho đơn vị nào?
@THPT
@expect vp_so Xin xác nhận nhiệm vụ sẽ giao
@expect vp_so 08/06/2023 17:00
@press Huỷ
@expect vp_so Đã huỷ bản nháp; chưa gửi gì cho đơn vị nào.
@expect vp_so Các việc còn lại trong «nội dung dán vào»
@expect-none ht_lhp
""")


async def test_a_past_deadline_is_asked_again(tmp_path: Path) -> None:
    await chat(tmp_path, """/kehoach Các trường THPT nộp báo cáo trước ngày 15/01/2023.
@expect vp_so 15/01/2023 (đã qua)
@press 1 · 15/01/2023
@expect vp_so Hạn trong kế hoạch (15/01/2023) đã qua.
@expect vp_so Hạn nộp là khi nào?
""")


async def test_a_text_file_far_longer_than_a_plan_is_refused(tmp_path: Path) -> None:
    await chat(tmp_path, "@file files/dai.txt /kehoach\n@expect vp_so quá giới hạn 400.000\n",
               {"dai.txt": ("Các trường THPT nộp báo cáo.\n" * 15_000).encode()})


async def test_a_plan_read_by_a_district_office_stays_in_its_subtree(settings: Settings) -> None:
    """Phòng Nam Trực's clerk sends the Department's plan: the audience is read among Nam
    Trực's units only; nothing of Ý Yên appears, in the list or in the draft."""
    bot = await seeded_office_bot(settings)
    try:
        text = (EXAMPLES.parent / "tests" / "data" / "seeds"
                / "000_19f205543b3ac628.txt").read_text(encoding="utf-8")
        await bot.runtime.dispatcher.handle(Incoming(
            "console", "cv_namtruc", "cv_namtruc", text="/kehoach",
            file=IncomingFile("ke-hoach.txt", text.encode())), NOW)
        await bot.sender.drain(NOW)
        listing = last(bot, "cv_namtruc")
        assert "Tìm thấy" in listing and "Ý Yên" not in listing and "Yên Thọ" not in listing
        labels = [b.label for b in (await latest_buttons(bot, "cv_namtruc"))]
        dated = next(label for label in labels if "08/05/2023" in label)
        await bot.press("cv_namtruc", NOW, dated)
        draft = last(bot, "cv_namtruc")
        assert "Xin xác nhận" in draft and "Nam Giang" in draft and "Yên" not in draft
        await bot.press("cv_namtruc", NOW, "Gửi")
        async with bot.runtime.sessions() as session:
            codes = set((await session.exec(select(Unit.code).join(
                Target, Target.unit_id == Unit.id))).all())
            plan = (await session.exec(select(PlanDraft))).one()
            number = (await session.exec(select(Assignment.number))).one()
        assert codes and all(code.endswith(("NAMGIANG", "NAMDUONG", "NAMHONG"))
                             for code in codes)
        assert json.loads(plan.sent) == {dated.split(" ")[0]: number}
        # Another office's clerk cannot use this plan's buttons.
        await press_payload(bot, "cv_yyen", f"k:{plan.id}:1")
        assert "Nút này không còn hiệu lực" in last(bot, "cv_yyen")
    finally:
        await bot.runtime.close()


async def seeded_office_bot(settings: Settings) -> Bot:
    bot = await seeded_bot(settings, NOW)
    folder = settings.files_dir.parent
    (folder / "offices.csv").write_bytes((EXAMPLES / "offices_units.csv").read_bytes())
    await bot.admin(NOW, "units", "import", str(folder / "offices.csv"))
    for name, unit in (("cv_namtruc", "PGD-NAMTRUC"), ("cv_yyen", "PGD-YYEN")):
        await bot.admin(NOW, "members", "add", name, "--role", "staff", "--unit", unit)
    return bot


def last(bot: Bot, user: str) -> str:
    return [m.text for m in bot.recorder.sent if m.chat_id == user][-1]


async def latest_buttons(bot: Bot, user: str):
    return next(m.buttons for m in reversed(bot.recorder.sent) if m.chat_id == user and m.buttons)


async def press_payload(bot: Bot, user: str, payload: str) -> None:
    await bot.runtime.dispatcher.handle(Incoming("console", user, user, button=payload,
                                                 button_message_id="1"), NOW)
    await bot.sender.drain(NOW)
