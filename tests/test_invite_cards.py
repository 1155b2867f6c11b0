"""Invites on paper and in chat: `bot.py invites export` writes the workbook with a QR code
per unit and a PDF of invite cards; staff get the same cards with `/moi` for units in their
scope; a code read off a card joins however it is typed; an admin invite needs `--yes`."""

from __future__ import annotations

import dataclasses
import io
import re
import zipfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader
from sqlmodel import col, select

from app import admin
from app.bootstrap import Runtime
from app.cli import invoke
from app.config import Settings
from channels.console import ConsoleSession, Delivered, user_event
from core.i18n import Translator
from core.messages import Incoming
from reports.invite_cards import InviteCard, build_invite_pdf, qr_runs, shown_code
from storage.models import AuditLog, Invite
from tests.conftest import EXAMPLES, sqlite_settings

NOW = datetime(2023, 5, 2, 1, 0, tzinfo=UTC)  # 08:00 in Hà Nội
CODE = re.compile(r"\b([A-HJ-NP-Z2-9]{4}) ([A-HJ-NP-Z2-9]{4})\b")


def pdf_text(data: bytes) -> str:
    reader = PdfReader(io.BytesIO(data))
    return "\n".join(page.extract_text() for page in reader.pages)


def flat(text: str) -> str:
    """PDF text extraction puts line breaks and double spaces where the lines wrap."""
    return " ".join(text.split())


def test_cards_pdf_prints_vietnamese_names_codes_links_and_zalo_steps() -> None:
    cards = [InviteCard("TH-YENTHO", "Trường TH Yên Thọ", "JBMFL3HU",
                        "https://t.me/baocao_bot?start=JBMFL3HU", NOW),
             InviteCard("THCS-NAMHONG", "Trường THCS Nam Hồng — điểm trường thôn Đông Hạ, "
                        "xã Nam Hồng, huyện Nam Trực, tỉnh Nam Định (cơ sở 2)", "ABCD2345",
                        "", None)] + [
        InviteCard(f"TH-{i}", f"Trường TH số {i}", "QRST6789", "", None) for i in range(8)]
    data = build_invite_pdf(cards, Translator("vi"))
    assert data.startswith(b"%PDF-")
    reader = PdfReader(io.BytesIO(data))
    assert len(reader.pages) == 2  # eight cards to a page
    # The QR codes, drawn as filled rectangles: one per run of dark modules.
    size, runs = qr_runs(cards[0])
    assert size == 29 and len(runs) > 100
    content = reader.pages[0].get_contents().get_data().decode("latin-1")
    assert content.count(" re f") >= 8 * 50
    text = flat(pdf_text(data))
    assert "Trường TH Yên Thọ" in text and "Mã mời: JBMF L3HU" in text
    assert "https://t.me/baocao_bot?start=JBMFL3HU" in text
    assert "Dùng được đến hết ngày 02/05/2023" in text
    assert "Trường THCS Nam Hồng" in text and "ABCD 2345" in text
    assert "/start ABCD 2345" in text  # no Telegram link: the card says what to send
    assert "Zalo: mở cuộc trò chuyện với bot" in text
    english = flat(pdf_text(build_invite_pdf(cards[:1], Translator("en"))))
    assert "Invite code: JBMF L3HU" in english and "Zalo:" in english


@pytest.fixture
def run(tmp_path: Path):
    settings = dataclasses.replace(sqlite_settings(tmp_path), bot_username="baocao_bot")

    def run(*args: str) -> tuple[int, str]:
        return invoke(list(args), settings, tmp_path, NOW)

    return run


def test_invites_export_writes_the_workbook_with_qr_codes_and_the_cards(run, tmp_path) -> None:
    assert run("units", "import", str(EXAMPLES / "offices_units.csv"))[0] == 0
    code, out = run("invites", "export", "--group", "TH", "in/the-moi.xlsx")
    assert code == 0, out
    assert f"3 invites written to {tmp_path / 'in' / 'the-moi.xlsx'} and " \
           f"{tmp_path / 'in' / 'the-moi.pdf'} (invite cards to print)" in out
    sheet = load_workbook(tmp_path / "in" / "the-moi.xlsx").active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == ("Mã đơn vị", "Tên đơn vị", "Mã mời", "Liên kết Telegram", "Hết hạn",
                       "Mã QR")
    assert [r[0] for r in rows[1:]] == ["TH-NAMDUONG", "TH-NAMGIANG", "TH-YENTHO"]
    codes = [str(r[2]).replace(" ", "") for r in rows[1:]]
    assert rows[1][3] == f"https://t.me/baocao_bot?start={codes[0]}"
    assert rows[1][4] == "01/06/2023"
    with zipfile.ZipFile(tmp_path / "in" / "the-moi.xlsx") as book:  # one QR picture a row
        assert len([n for n in book.namelist() if n.startswith("xl/media/")]) == 3
    text = flat(pdf_text((tmp_path / "in" / "the-moi.pdf").read_bytes()))
    for name, code_ in zip(("Trường TH Nam Dương", "Trường TH Nam Giang", "Trường TH Yên Thọ"),
                           codes, strict=True):
        assert name in text and shown_code(code_) in text
        assert f"https://t.me/baocao_bot?start={code_}" in text
    code, out = run("invites", "export", "--unit", "THPT-LHP", "one.xlsx", "--pdf", "x/c.pdf",
                    "--language", "en")
    assert code == 0 and (tmp_path / "x" / "c.pdf").is_file(), out
    assert "THPT chuyên Lê Hồng Phong" in flat(pdf_text((tmp_path / "x" / "c.pdf").read_bytes()))
    for args, message in (
            (("--group", "TH", "codes.csv"), "expected a file name ending in .xlsx"),
            (("--group", "TH", "c.xlsx", "--pdf", "c.doc"), "expected a file name ending in .pdf"),
            (("--group", "NOPE", "c.xlsx"), "no units in group 'NOPE'"),
            (("c.xlsx",), "give either --unit CODE or --group G")):
        code, out = run("invites", "export", *args)
        assert code == 1 and message in out, out


def test_an_admin_invite_needs_yes(run, tmp_path) -> None:
    assert run("units", "import", str(EXAMPLES / "offices_units.csv"))[0] == 0
    code, out = run("invites", "create", "--unit", "TH-YENTHO", "--role", "admin")
    assert code == 1
    assert "an admin invite makes whoever joins with it an admin of the whole registry" in out
    assert "not only TH-YENTHO" in out and "Add --yes" in out and "nothing created" in out
    code, out = run("invites", "create", "--unit", "TH-YENTHO", "--role", "admin", "--yes")
    assert code == 0 and out.startswith("TH-YENTHO\tTrường TH Yên Thọ\t"), out
    code, out = run("invites", "create", "--unit", "TH-YENTHO", "--role", "leader")
    assert code == 0, out


# --- in chat -----------------------------------------------------------------------------


@dataclass
class Bot:
    runtime: Runtime
    session: ConsoleSession
    tmp: Path

    async def say(self, user: str, text: str) -> list[Delivered]:
        before = len(self.session.delivered)
        await self.session.send(user_event(user, text=text))
        return self.session.delivered[before:]

    def received(self, name: str) -> bytes:
        return (self.tmp / "received" / name).read_bytes()


@asynccontextmanager
async def bot(settings: Settings, tmp_path: Path) -> AsyncIterator[Bot]:
    """The offices' units: Sở clerk `vp_so`, Nam Trực clerk `cv_namtruc`, a school leader and
    a reporter of TH-NAMGIANG."""
    runtime = await Runtime.open(dataclasses.replace(settings, bot_username="baocao_bot"))
    session = ConsoleSession(runtime, io.StringIO(), tmp_path / "received", start=NOW)
    try:
        async with runtime.sessions() as s, s.begin():
            await admin.import_units(s, admin.read_unit_file(EXAMPLES / "offices_units.csv"))
            for name, role, unit in (("vp_so", "staff", "VP-SO"),
                                     ("cv_namtruc", "staff", "PGD-NAMTRUC"),
                                     ("ld_namgiang", "leader", "TH-NAMGIANG"),
                                     ("ht_namgiang", "reporter", "TH-NAMGIANG")):
                await admin.add_member(s, name, "console", role, NOW, None, unit)
        yield Bot(runtime, session, tmp_path)
    finally:
        await runtime.close()


async def invites(b: Bot) -> list[Invite]:
    async with b.runtime.sessions() as s:
        return list((await s.exec(select(Invite).order_by(col(Invite.id)))).all())


async def test_moi_sends_the_cards_of_units_in_scope(settings, tmp_path) -> None:
    async with bot(settings, tmp_path) as b:
        [sent] = await b.say("cv_namtruc", "/moi @TH")
        assert sent.file_name == "the-moi.pdf"
        assert sent.text.startswith("Thẻ mời của 2 đơn vị (mỗi mã dùng được cho 5 người, đến "
                                    "hết ngày 01/06/2023): in ra hoặc chuyển tệp này")
        listed = dict(re.findall(r"• (.+): (\w{4} \w{4})", sent.text))
        assert set(listed) == {"Trường TH Nam Dương", "Trường TH Nam Giang"}  # his district's
        text = flat(pdf_text(b.received("the-moi.pdf")))
        for name, code in listed.items():
            assert name in text and code in text
            assert f"https://t.me/baocao_bot?start={code.replace(' ', '')}" in text
        assert "Yên Thọ" not in text
        # The code off the card joins, typed in lower case with a dash.
        code = listed["Trường TH Nam Dương"].replace(" ", "-").lower()
        [welcome] = await b.say("co_giao_moi", code)
        assert "Chào mừng co_giao_moi! Bạn đã tham gia Trường TH Nam Dương" in welcome.text
        # Another district's school, the Sở's office: refused by name, nothing created.
        [refused] = await b.say("cv_namtruc", "/moi TH-YENTHO, VP-SO")
        assert refused.file_name is None
        assert "Đơn vị «TH-YENTHO» không thuộc phạm vi của Phòng GDĐT Nam Trực" in refused.text
        assert "Đơn vị «VP-SO» không thuộc phạm vi" in refused.text
        assert refused.text.endswith("Chưa tạo mã mời nào.")
        assert len(await invites(b)) == 2
        # The Sở reaches every school; one unit gets its own file name.
        [one] = await b.say("vp_so", "/mời TH-YENTHO")
        assert one.file_name == "the-moi-TH-YENTHO.pdf" and "Trường TH Yên Thọ: " in one.text
        [unknown] = await b.say("vp_so", "/moi TH-KHONGCO")
        assert "Không tìm thấy đơn vị «TH-KHONGCO»" in unknown.text
        [hint] = await b.say("vp_so", "/moi")
        assert "Gõ /moi kèm đơn vị cần mời, ví dụ: /moi @THCS" in hint.text
        for user in ("ld_namgiang", "ht_namgiang"):
            [no] = await b.say(user, "/moi @TH")
            assert "Chỉ chuyên viên của văn phòng mới tạo được mã mời" in no.text
        assert len(await invites(b)) == 3
        await b.session.send(Incoming(channel="console", user_id="cv_namtruc", chat_id="g1",
                                      display_name="cv_namtruc", text="/moi @TH",
                                      is_group=True))
        assert "không gửi vào nhóm" in b.session.delivered[-1].text
        assert len(await invites(b)) == 3
        async with b.runtime.sessions() as s:
            logged = (await s.exec(select(AuditLog).where(
                AuditLog.action == "invites_create"))).all()
        assert [(e.actor, e.channel) for e in logged] == [("cv_namtruc", "console"),
                                                          ("vp_so", "console")]
        assert '"TH-NAMDUONG"' in logged[0].detail


async def test_a_code_typed_as_read_off_paper_joins(settings, tmp_path) -> None:
    async with bot(settings, tmp_path) as b:
        async with b.runtime.sessions() as s, s.begin():
            units = [await admin.unit_by_code(s, "TH-YENTHO")]
            [(_, first)] = await admin.create_invites(s, units, "reporter", NOW, None, 5)
        code = first.code
        for user, typed in (("a", f"{code[:4]} {code[4:]}"),
                            ("b", f"{code[:4]}-{code[4:]}".lower()),
                            ("c", f"/start {code.lower()}"), ("d", f" {code[:4]}.{code[4:]} ")):
            [answer] = await b.say(user, typed)
            assert f"Chào mừng {user}! Bạn đã tham gia Trường TH Yên Thọ" in answer.text, typed
        [again] = await b.say("a", code.lower())
        assert "Bạn đã là đầu mối báo cáo của Trường TH Yên Thọ rồi." in again.text
        [wrong] = await b.say("e", "ABCD 2345")
        assert "Mã mời «ABCD2345» không đúng" in wrong.text
        # A member's answer that looks like a code is still an answer, not a join.
        [answer] = await b.say("ht_namgiang", "da xong")
        assert "Mã mời" not in answer.text


# --- on Telegram and Zalo ----------------------------------------------------------------


async def test_moi_on_telegram_sends_the_pdf_and_a_typed_code_joins() -> None:
    from testing.telegram_session import TelegramSession
    from tests.transcripts import platform_bot

    async with platform_bot(TelegramSession, bot_username="baocao_bot") as (session, _):
        await session.send(user_event("vp_so", text="/moi THPT-LHP"))
        raw = session.emulator.bot_messages(session.user_id("vp_so"))[-1]
        assert raw["document"]["file_name"] == "the-moi-THPT-LHP.pdf"
        assert raw["caption"].startswith("Thẻ mời của 1 đơn vị")
        code = re.search(r"THPT chuyên Lê Hồng Phong: (\w{4} \w{4})", raw["caption"]).group(1)
        text = flat(pdf_text(raw["document_bytes"]))
        assert code in text and f"https://t.me/baocao_bot?start={code.replace(' ', '')}" in text
        await session.send(user_event("co_moi", text=code.lower()))
        welcome = session.emulator.bot_messages(session.user_id("co_moi"))[-1]["text"]
        assert "Chào mừng co_moi! Bạn đã tham gia THPT chuyên Lê Hồng Phong" in welcome


async def test_moi_on_zalo_sends_a_link_to_the_pdf_and_a_typed_code_joins() -> None:
    from testing.zalo_session import ZaloSession
    from tests.transcripts import platform_bot

    async with platform_bot(ZaloSession) as (session, _):
        await session.send(user_event("vp_so", text="/moi @THPT"))
        raw = session.emulator.bot_messages(session.user_id("vp_so"))[-1]["text"]
        assert raw.startswith("Thẻ mời của 2 đơn vị")
        url = next(w for w in raw.split() if "/f/" in w)
        got = await session.http.get(url)
        assert got.status_code == 200 and got.headers["content-type"] == "application/pdf"
        code = re.search(r"THPT Nam Trực: (\w{4} \w{4})", raw).group(1)
        assert code in flat(pdf_text(got.content))
        await session.send(user_event("co_moi", text=code.replace(" ", "-")))
        welcome = session.emulator.bot_messages(session.user_id("co_moi"))[-1]["text"]
        assert "Chào mừng co_moi! Bạn đã tham gia THPT Nam Trực" in welcome


def test_moi_as_people_type_it() -> None:
    from core.commands import Command, parse
    from handlers.router import KNOWN

    for typed in ("/moi @TH", "/mời @TH", "/invite @TH", "/MOI @TH"):
        assert parse(typed, KNOWN) == Command("moi", "@TH"), typed
    assert parse("/mo #3", KNOWN) == Command("mo", "#3")  # reopening is still /mo


def test_the_qr_runs_cover_the_dark_modules_exactly() -> None:
    import segno

    card = InviteCard("TH-A", "Trường A", "JBMFL3HU", "https://t.me/baocao_bot?start=JBMFL3HU",
                      None)
    size, runs = qr_runs(card)
    drawn = [[0] * size for _ in range(size)]
    for row, column, length in runs:
        for c in range(column, column + length):
            assert drawn[row][c] == 0  # no run overlaps another
            drawn[row][c] = 1
    matrix = segno.make(card.link, error="m").matrix
    assert drawn == [[1 if m else 0 for m in cells] for cells in matrix]
