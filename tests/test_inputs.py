"""Text and file names as the bot keeps them: control characters dropped, lengths bounded,
the same answer on SQLite and PostgreSQL (where a too-long value used to be an error)."""

from __future__ import annotations

from datetime import datetime

from hypothesis import given
from hypothesis import strategies as st
from sqlmodel import select

from app.config import Settings
from core.clock import LOCAL_TZ
from core.messages import Incoming, IncomingFile
from core.text import EXCERPT, MAX_NAME, clean_name, clean_text, excerpt
from storage.models import Assignment, StoredFile
from tests.seed import seeded_bot

NOW = datetime(2023, 5, 2, 8, 0, tzinfo=LOCAL_TZ)
PDF = b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n"


@given(st.text())
def test_clean_text_keeps_no_control_character(text: str) -> None:
    kept = clean_text(text)
    assert len(kept) <= 4096 and "\x00" not in kept
    assert all(c in "\n\t" or ord(c) >= 32 and ord(c) != 127 for c in kept)


@given(st.text(min_size=1))
def test_clean_name_is_a_bounded_file_name(name: str) -> None:
    kept = clean_name(name)
    assert 0 < len(kept) <= MAX_NAME and "/" not in kept and "\x00" not in kept


def test_a_long_name_keeps_its_extension() -> None:
    assert clean_name("a" * 400 + ".pdf") == "a" * (MAX_NAME - 4) + ".pdf"


@given(st.text())
def test_an_excerpt_is_short_and_marked_when_cut(text: str) -> None:
    short = excerpt(text)
    assert len(short) <= EXCERPT and "\n" not in short
    assert short == " ".join(text.split()) or short.endswith("…")


def test_an_excerpt_cuts_at_a_word() -> None:
    assert excerpt("đã xong") == "đã xong"
    assert excerpt("báo cáo " * 30) == ("báo cáo " * 10).strip() + "…"


async def test_long_text_is_never_quoted_back_whole(settings: Settings) -> None:
    """A reply that quotes what the user typed quotes at most EXCERPT characters, with «…»."""
    bot = await seeded_bot(settings, NOW)
    try:
        await bot.assign(NOW, "Thi đua | hạn 08/05/2023 | đơn vị A")
        long = "không hiểu gì cả " * 200  # 3,400 characters
        for user, text in (("ht_a", long), ("staff", "/tiendo " + long),
                           ("staff", "/nhatky " + long), ("staff", "/dong " + long)):
            await bot.say(user, NOW, text)
            reply = [m.text for m in bot.recorder.sent if m.chat_id == user][-1]
            assert "…»" in reply and len(reply) < 400, reply
    finally:
        await bot.runtime.close()


async def test_long_titles_nul_bytes_and_long_file_names(settings: Settings) -> None:
    bot = await seeded_bot(settings, NOW)
    try:
        await bot.say("staff", NOW, "/giao " + "Báo cáo " * 80 + "| hạn 08/05/2023 | đơn vị A")
        last = [m.text for m in bot.recorder.sent if m.chat_id == "staff"][-1]
        assert last.startswith("Tên nhiệm vụ dài 639 ký tự, quá 500.")  # trailing space dropped
        await bot.say("staff", NOW, "/huy")
        await bot.assign(NOW, "Thi\x00 đua\x07 | hạn 08/05/2023 | đơn vị A")
        async with bot.runtime.sessions() as session:
            assert (await session.exec(select(Assignment.title))).one() == "Thi đua"
        await bot.runtime.dispatcher.handle(Incoming(
            "console", "ht_a", "ht_a", file=IncomingFile("b" * 300 + ".pdf", PDF)), NOW)
        await bot.sender.drain(NOW)
        assert "Đã nhận tệp" in [m.text for m in bot.recorder.sent if m.chat_id == "ht_a"][-1]
        async with bot.runtime.sessions() as session:
            name = (await session.exec(select(StoredFile.original_name))).one()
        assert len(name) == MAX_NAME and name.endswith(".pdf")
    finally:
        await bot.runtime.close()


def _zip(entries: dict[str, bytes]) -> bytes:
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_a_file_must_be_what_its_name_says() -> None:
    from core.files import check_file

    html = b"<!DOCTYPE html><html><body>bao cao</body></html>"
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><rect/></svg>'
    docx = _zip({"[Content_Types].xml": b"<x/>", "word/document.xml": b"<w/>"})
    cases = {
        ("bao-cao.docx", html): "bad_type",  # a web page is no report in any name
        ("anh.png", svg): "bad_type",
        ("bao-cao.docx", PDF): "wrong_name",
        ("bao-cao.pdf", docx): "wrong_name",
        ("bang.xlsx", docx): "wrong_name",
        ("bao-cao.docx", docx): None,
        ("tai-lieu", PDF): None,  # no extension: judged by the content alone
        ("ghi-chu.txt", "Đã xong báo cáo".encode()): None,
    }
    for (name, data), expected in cases.items():
        problem = check_file(data, 10_000_000, name)[1]
        assert (problem.code if problem else None) == expected, name


def test_an_archive_that_unpacks_too_far_is_refused() -> None:
    from core.files import MAX_RATIO, check_file

    bomb = _zip({"xl/workbook.xml": b"<w/>", "xl/sheet.xml": b"0" * (MAX_RATIO * 20_000)})
    assert check_file(bomb, 10_000_000, "bang.xlsx")[1].code == "container"
    many = _zip({f"f{i}.txt": b"x" for i in range(10_001)})
    assert check_file(many, 50_000_000, "nhieu.zip")[1].code == "container"
    assert check_file(_zip({"a.txt": b"bao cao"}), 10_000, "bai.zip")[1] is None


async def test_the_reporter_is_told_why_a_file_is_refused(settings: Settings) -> None:
    bot = await seeded_bot(settings, NOW)
    try:
        await bot.assign(NOW, "Thi đua | hạn 08/05/2023 | đơn vị A")
        await bot.runtime.dispatcher.handle(Incoming(
            "console", "ht_a", "ht_a", file=IncomingFile("bao-cao.docx", PDF)), NOW)
        await bot.sender.drain(NOW)
        last = [m.text for m in bot.recorder.sent if m.chat_id == "ht_a"][-1]
        assert last.startswith("Nội dung tệp «bao-cao.docx» không đúng với tên tệp")
    finally:
        await bot.runtime.close()


def test_invite_codes_as_typed() -> None:
    from core.roles import invite_code

    for typed in ("JBMFL3HU", "jbmf-l3hu", "JBMF L3HU", " jbmf.l3hu "):
        assert invite_code(typed) == "JBMFL3HU", typed
    for other in ("đã xong", "da nop roi", "JBMFL3H", "JBMFL3HUX", "JBMF0L3H"):
        assert invite_code(other) is None, other


async def test_a_code_typed_without_start_joins(settings: Settings) -> None:
    bot = await seeded_bot(settings, NOW)
    try:
        code, out = await bot.admin(NOW, "invites", "create", "--unit", "B")
        invite = out.split("\t")[2].strip()
        typed = invite[:4].lower() + "-" + invite[4:].lower()
        await bot.runtime.dispatcher.handle(Incoming("console", "newcomer", "newcomer",
                                                     text=typed), NOW)
        await bot.sender.drain(NOW)
        assert "Chào mừng newcomer! Bạn đã tham gia Trường B" in [
            m.text for m in bot.recorder.sent if m.chat_id == "newcomer"][-1]
        await bot.say("ht_a", NOW, f"/start {invite[:4]} {invite[4:]}")  # a member, spaced
        assert "Bạn đã tham gia Trường B" in [
            m.text for m in bot.recorder.sent if m.chat_id == "ht_a"][-1]
    finally:
        await bot.runtime.close()


async def test_adding_a_telegram_member_says_they_must_open_the_bot(settings: Settings,
                                                                    capsys) -> None:  # noqa: ANN001
    bot = await seeded_bot(settings, NOW)
    try:
        capsys.readouterr()
        code, _ = await bot.admin(NOW, "members", "add", "Cô Lan", "--channel", "telegram",
                                  "--id", "777", "--role", "reporter", "--unit", "A")
        assert code == 0
        out = capsys.readouterr().err
        assert "Telegram lets a bot write only to people who have opened it" in out
        assert "bot.py invites create --unit A" in out
    finally:
        await bot.runtime.close()


async def test_forged_draft_and_report_file_buttons_are_refused(settings: Settings) -> None:
    """Payloads the bot never builds under a /giao draft or /tiendo (an unknown part to
    change, an unknown action, a task number that is no number) change nothing and say so."""
    bot = await seeded_bot(settings, NOW)
    try:
        await bot.say("staff", NOW, "/giao Thi đua | hạn 08/05/2023 | đơn vị A")
        for payload in ("g:field:nope", "g:ok", "g:send:now", "r:xlsx:abc", "r:pdf:1"):
            await bot.runtime.dispatcher.handle(Incoming(
                "console", "staff", "staff", button=payload), NOW)
            await bot.sender.drain(NOW)
            last = [m.text for m in bot.recorder.sent if m.chat_id == "staff"][-1]
            assert last.startswith("Nút này không còn hiệu lực"), (payload, last)
        async with bot.runtime.sessions() as session:
            assert (await session.exec(select(Assignment.id))).first() is None  # nothing sent
    finally:
        await bot.runtime.close()
