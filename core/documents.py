"""The text of a plan document (.docx, .pdf with a text layer, .txt) for `/kehoach`.

Paragraphs come out one per line, in document order; a table row is one line whose cells are
separated by TAB, the form the plan extractor reads tables in."""

from __future__ import annotations

import unicodedata
from io import BytesIO

from charset_normalizer import from_bytes

from core.files import sniff_type

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
PLAN_TYPES = frozenset({DOCX, "application/pdf", "text/plain", "text/csv"})
MIN_PDF_TEXT = 20  # fewer letters than this over a whole PDF: a scan without a text layer


class DocumentProblem(Exception):
    """Why a file gives no plan text. Codes: "old_word" (.doc), "no_text" (a scanned PDF),
    "empty" (no text at all), "unreadable" (damaged, or text in no known encoding),
    "not_a_plan" (a picture, a spreadsheet...)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def plan_text(data: bytes, mime: str | None = None) -> str:
    """The text of a plan document; raises DocumentProblem when there is none to read."""
    mime = mime or sniff_type(data)
    if mime == "application/x-ole-storage":
        raise DocumentProblem("old_word")
    if mime == DOCX:
        text = _docx_text(data)
    elif mime == "application/pdf":
        text = _pdf_text(data)
    elif mime in ("text/plain", "text/csv"):
        text = _plain_text(data)
    else:
        raise DocumentProblem("not_a_plan")
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n")
    text = "\n".join(line.rstrip() for line in text.split("\n"))
    if not text.strip():
        raise DocumentProblem("empty")
    return text.strip("\n")


def _docx_text(data: bytes) -> str:
    from docx import Document
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    try:
        document = Document(BytesIO(data))
    except Exception as exc:  # python-docx raises a range of errors on a damaged package
        raise DocumentProblem("unreadable") from exc
    lines: list[str] = []
    for block in document.iter_inner_content():
        if isinstance(block, Paragraph):
            lines.append(block.text)
        elif isinstance(block, Table):
            lines.extend(_table_rows(block))
    return "\n".join(lines)


def _table_rows(table) -> list[str]:
    rows = []
    for row in table.rows:
        cells: list[str] = []
        seen: set[int] = set()
        for cell in row.cells:  # a merged cell appears once per grid column it spans
            if id(cell._tc) in seen:
                continue
            seen.add(id(cell._tc))
            cells.append(" ".join(cell.text.split()))
        rows.append("\t".join(cells))
    return rows


def _pdf_text(data: bytes) -> str:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(BytesIO(data))
        if reader.is_encrypted:
            reader.decrypt("")
        pages = [page.extract_text() or "" for page in reader.pages]
    except (PyPdfError, ValueError, KeyError, TypeError, OSError) as exc:
        raise DocumentProblem("unreadable") from exc
    text = "\n".join(pages)
    if sum(ch.isalpha() for ch in text) < MIN_PDF_TEXT:
        raise DocumentProblem("no_text")
    return text


def _plain_text(data: bytes) -> str:
    """UTF-8 (with or without BOM) or, failing that, the encoding charset-normalizer finds
    (a plan saved in Windows-1258 or UTF-16 reads right, never as mojibake)."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    best = from_bytes(data).best()
    if best is None:
        raise DocumentProblem("unreadable")
    return str(best)
