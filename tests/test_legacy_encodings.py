"""Units and members files that are not UTF-8: Windows-1258 (the legacy Vietnamese code
page, as Excel and old office programs on Windows save «CSV»), Windows-1252, UTF-16 and
UTF-8 with its byte-order mark are read right; TCVN3 and VNI text, and text garbled by an
earlier wrong conversion, are refused with a message, never imported as broken names."""

from __future__ import annotations

import asyncio
import codecs
import unicodedata
from datetime import UTC, datetime
from pathlib import Path

import pytest

from app.cli import invoke
from core.encodings import UnreadableText, decode_table

NOW = datetime(2023, 5, 2, 1, 0, tzinfo=UTC)
TONES = "\u0300\u0301\u0303\u0309\u0323"

UNITS = ("code,name,kind,parent,groups\n"
         "SO-NAMDINH,Sở Giáo dục và Đào tạo Nam Định,Sở GDĐT,,so\n"
         "TH-YENTHO,Trường Tiểu học Yên Thọ,TH,SO-NAMDINH,TH;huyện Ý Yên\n"
         "THCS-NAMHONG,Trường THCS Nam Hồng,THCS,SO-NAMDINH,THCS\n")


def cp1258(text: str) -> bytes:
    """`text` as Windows saves it in code page 1258: the letters the code page has
    (ă, â, ê, ô, ơ, ư, đ and a few toned ones) as one byte, other tones as a combining mark
    after the vowel."""
    out = bytearray()
    for char in unicodedata.normalize("NFC", text):
        try:
            out += char.encode("cp1258")
        except UnicodeEncodeError:
            parts = unicodedata.normalize("NFD", char)
            base = unicodedata.normalize("NFC", "".join(c for c in parts if c not in TONES))
            out += base.encode("cp1258") + "".join(c for c in parts if c in TONES).encode(
                "cp1258")
    return bytes(out)


def test_real_cp1258_bytes() -> None:
    # «Trường» as Windows-1258 writes it: ư (FD), ơ (F5), combining grave (CC).
    assert cp1258("Trường") == b"Tr\xfd\xf5\xccng"
    decoded = decode_table(b"code,name\nTH-A,Tr\xfd\xf5\xccng Ti\xea\xd2u ho\xf2c\n")
    assert decoded.text == "code,name\nTH-A,Trường Tiểu học\n"
    assert decoded.encoding == "Windows-1258"


@pytest.mark.parametrize(("data", "encoding"), [
    (cp1258(UNITS), "Windows-1258"),
    (UNITS.encode(), "UTF-8"),
    (codecs.BOM_UTF8 + UNITS.encode(), "UTF-8 (BOM)"),
    (UNITS.encode("utf-16"), "UTF-16"),  # Excel's «Unicode Text»
    (UNITS.encode("utf-16-le"), "UTF-16"),  # without its byte-order mark
    (unicodedata.normalize("NFD", UNITS).encode(), "UTF-8"),  # decomposed (a Mac's)
])
def test_decoded_whatever_the_encoding(data: bytes, encoding: str) -> None:
    decoded = decode_table(data)
    assert decoded.text == UNITS and decoded.encoding == encoding


def test_western_cp1252_is_read_as_such() -> None:
    decoded = decode_table("code,name\nA,Café Müller\nB,Straße\n".encode("cp1252"))
    assert decoded.text == "code,name\nA,Café Müller\nB,Straße\n"
    assert decoded.encoding == "Windows-1252"


@pytest.mark.parametrize(("data", "why"), [
    # TCVN3 (ABC), the font encoding of .VnTime: «Trường THCS Nam Hồng», «Sở Giáo dục...».
    ("code,name\nA,Tr\xadêng THCS Nam Hång\nB,Së Gi¸o dôc vµ §µo t¹o\n".encode("cp1252"),
     "no known one reads it as Vietnamese"),
    # VNI, the other font encoding: «Trường Tiểu học Yên Thọ».
    ("code,name\nA,Tröôøng Tieåu hoïc Yeân Thoï\n".encode("cp1252"),
     "no known one reads it as Vietnamese"),
    # UTF-8 read once as Windows-1252 and saved again: «TrÆ°á»ng».
    ("code,name\nA,Trường Tiểu học\n".encode().decode("cp1252", "replace")
     .replace("\ufffd", "\x9d").encode(), "already garbled"),
])
def test_garbled_text_is_refused(data: bytes, why: str) -> None:
    with pytest.raises(UnreadableText, match=why):
        decode_table(data)


# --- through the command line, as an admin imports the files ------------------------------


@pytest.fixture
def run(settings, tmp_path: Path):
    """`bot.py ARGS` on SQLite and on PostgreSQL (in a thread: it runs its own loop)."""
    async def run(*args: str) -> tuple[int, str]:
        return await asyncio.to_thread(invoke, list(args), settings, tmp_path, NOW)

    return run


async def test_a_cp1258_units_file_imports_with_its_names_right(run, tmp_path) -> None:
    (tmp_path / "donvi.csv").write_bytes(cp1258(UNITS))
    code, out = await run("units", "import", "donvi.csv")
    assert code == 0, out
    assert "donvi.csv: read as Windows-1258 (not UTF-8)" in out
    assert "row 3: created TH-YENTHO Trường Tiểu học Yên Thọ" in out
    listed = (await run("units", "list"))[1]
    assert "TH-YENTHO\tTrường Tiểu học Yên Thọ\tTH\tSO-NAMDINH\tTH;huyện Ý Yên" in listed
    assert (await run("units", "list", "--group", "huyen y yen"))[1].startswith("TH-YENTHO")


async def test_a_tcvn3_units_file_is_refused_and_nothing_imported(run, tmp_path) -> None:
    (tmp_path / "donvi.csv").write_bytes(
        "code,name\nTHCS-NAMHONG,Tr\xadêng THCS Nam Hång\n".encode("cp1252"))
    code, out = await run("units", "import", "donvi.csv")
    assert code == 1
    assert "donvi.csv: cannot read the file's text: its encoding is not UTF-8" in out
    assert "(it may be a TCVN3/VNI font encoding)" in out
    assert "Nothing imported: save it as «CSV UTF-8» (Excel: File › Save As › CSV UTF-8)" in out
    assert "No units" in (await run("units", "list"))[1]


async def test_members_files_in_legacy_encodings(run, tmp_path) -> None:
    assert (await run("units", "import", _write(tmp_path / "u.csv", UNITS.encode())))[0] == 0
    members = ("họ tên;kênh;mã người dùng;vai trò;đơn vị\n"
               "Nguyễn Thị Hường;telegram;5550001;đầu mối;TH-YENTHO\n"
               "Trần Văn Đức;zalo;z-77;lãnh đạo;THCS-NAMHONG\n")
    for name, data, note in (("cp1258.csv", cp1258(members), "read as Windows-1258"),
                             ("utf16.csv", members.encode("utf-16"), "read as UTF-16"),
                             ("bom.csv", codecs.BOM_UTF8 + members.encode(), None)):
        code, out = await run("members", "import", _write(tmp_path / name, data))
        assert code == 0, out
        assert (note in out) if note else "read as" not in out
    listed = (await run("members", "list"))[1]
    assert "Nguyễn Thị Hường\ttelegram\t5550001\treporter@TH-YENTHO" in listed
    assert "Trần Văn Đức\tzalo\tz-77\tleader@THCS-NAMHONG" in listed
    vni = "name,channel,id,role,unit\nTröôøng Vaên A,console,,reporter,TH-YENTHO\n"
    code, out = await run("members", "import", _write(tmp_path / "vni.csv", vni.encode("cp1252")))
    assert code == 1 and "cannot read the file's text" in out
    assert "Tröôøng" not in (await run("members", "list"))[1]


def _write(path: Path, data: bytes) -> str:
    path.write_bytes(data)
    return str(path)
