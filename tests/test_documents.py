"""Reading plan documents for `/kehoach`: .docx (paragraphs and tables in order), PDF with a
text layer, .txt in any encoding; what has no text to read is refused with a reason."""

from __future__ import annotations

import unicodedata
from io import BytesIO

import pytest
from docx import Document
from fpdf import FPDF
from hypothesis import given, settings
from hypothesis import strategies as st
from matplotlib import get_data_path

from core.documents import DocumentProblem, plan_text
from core.files import sniff_type

FONT = f"{get_data_path()}/fonts/ttf/DejaVuSans.ttf"


TONE_MARKS = "\u0300\u0301\u0303\u0309\u0323"


def cp1258(text: str) -> bytes:
    """Windows-1258 as legacy editors wrote it: a letter with its tone mark as a separate
    combining character (the code page has no «ế»)."""
    out = b""
    for ch in text:
        try:
            out += ch.encode("cp1258")
        except UnicodeEncodeError:
            parts = unicodedata.normalize("NFD", ch)
            tones = "".join(p for p in parts if p in TONE_MARKS)
            base = unicodedata.normalize("NFC", "".join(p for p in parts if p not in TONE_MARKS))
            out += (base + tones).encode("cp1258")
    return out


def docx_bytes() -> bytes:
    document = Document()
    document.add_paragraph("KẾ HOẠCH")
    document.add_paragraph("Các phòng GDĐT gửi báo cáo về Sở trước ngày 08/5/2023.")
    table = document.add_table(rows=2, cols=3)
    for cell, text in zip(table.rows[0].cells, ("STT", "Tên nhiệm vụ", "Thời gian"),
                          strict=True):
        cell.text = text
    for cell, text in zip(table.rows[1].cells, ("1.", "Hội nghị tổng kết", "2022"),
                          strict=True):
        cell.text = text
    document.add_paragraph("Trên đây là kế hoạch.")
    out = BytesIO()
    document.save(out)
    return out.getvalue()


def pdf_bytes(text: str | None) -> bytes:
    pdf = FPDF()
    pdf.add_page()
    if text:
        pdf.add_font("DejaVu", fname=FONT)
        pdf.set_font("DejaVu", size=12)
        pdf.multi_cell(0, 8, text)
    else:  # a scan: a picture of a page, no text layer
        pdf.rect(20, 20, 100, 60, style="F")
    return bytes(pdf.output())


def test_docx_paragraphs_and_tables_come_in_document_order() -> None:
    lines = plan_text(docx_bytes()).split("\n")
    assert lines == ["KẾ HOẠCH", "Các phòng GDĐT gửi báo cáo về Sở trước ngày 08/5/2023.",
                     "STT\tTên nhiệm vụ\tThời gian", "1.\tHội nghị tổng kết\t2022",
                     "Trên đây là kế hoạch."]


def test_pdf_with_a_text_layer_is_read() -> None:
    text = plan_text(pdf_bytes("Các trường THPT nộp báo cáo trước ngày 15/5/2023 về Sở."))
    assert "trước ngày 15/5/2023" in " ".join(text.split())


def test_a_scanned_pdf_has_no_text() -> None:
    with pytest.raises(DocumentProblem) as problem:
        plan_text(pdf_bytes(None))
    assert problem.value.code == "no_text"


def test_old_word_files_are_refused_by_name() -> None:
    ole = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600)
    with pytest.raises(DocumentProblem) as problem:
        plan_text(ole)
    assert problem.value.code == "old_word"


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "cp1258"])
def test_text_in_any_vietnamese_encoding_reads_right(encoding: str) -> None:
    text = ("Kế hoạch tổng kết 10 năm thực hiện Nghị quyết 29.\n"
            "Các phòng giáo dục và đào tạo gửi báo cáo về Sở trước ngày 08/5/2023.\n"
            "Các trung tâm giáo dục nghề nghiệp nộp bản giấy qua văn thư.\n")
    data = cp1258(text) if encoding == "cp1258" else text.encode(encoding)
    assert " ".join(plan_text(data, "text/plain").split()) == " ".join(text.split())


@pytest.mark.parametrize("data", [b"", b"   \n\n  ", b"\xef\xbb\xbf"])
def test_empty_texts_are_refused(data: bytes) -> None:
    with pytest.raises(DocumentProblem) as problem:
        plan_text(data, "text/plain")
    assert problem.value.code == "empty"


def test_a_damaged_docx_is_unreadable() -> None:
    data = docx_bytes()
    with pytest.raises(DocumentProblem) as problem:
        plan_text(data[: len(data) // 2], sniff_type(data))
    assert problem.value.code == "unreadable"


def test_a_picture_is_no_plan() -> None:
    with pytest.raises(DocumentProblem) as problem:
        plan_text(b"\x89PNG\r\n\x1a\n" + bytes(100))
    assert problem.value.code == "not_a_plan"


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000), st.sampled_from([None, "text/plain", "application/pdf"]))
def test_any_bytes_give_text_or_a_reason(data: bytes, mime: str | None) -> None:
    try:
        assert plan_text(data, mime).strip()
    except DocumentProblem as problem:
        assert problem.code in {"old_word", "no_text", "empty", "unreadable", "not_a_plan"}
