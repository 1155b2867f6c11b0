"""Invite cards to print or send: a PDF with one card per unit (its name, the invite code,
a QR code of the Telegram link and how to join on Zalo), and the workbook of the same codes
with a QR code on each row. Pure functions of the cards; the texts in the reader's language.

The PDF uses DejaVu Sans, which matplotlib ships and which has every Vietnamese letter (the
PDF core fonts have none of them)."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from io import BytesIO
from pathlib import Path

from core.i18n import Translator
from core.roles import invite_link
from storage.models import Invite, Unit

PDF = "application/pdf"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass(frozen=True)
class InviteCard:
    unit_code: str
    unit_name: str
    code: str  # as stored: 8 characters, no separator
    link: str  # the Telegram deep link, "" when the bot's username is not configured
    expires_at: datetime | None


def cards_of(created: Iterable[tuple[Unit, Invite]], bot_username: str) -> list[InviteCard]:
    """The cards of freshly created invites, with their Telegram links."""
    return [InviteCard(unit.code, unit.name, invite.code, invite_link(bot_username, invite.code),
                       invite.expires_at) for unit, invite in created]


def shown_code(code: str) -> str:
    """`JBMFL3HU` as printed: `JBMF L3HU`, easier to read off paper (typed either way)."""
    return f"{code[:4]} {code[4:]}" if len(code) == 8 else code


def qr_png(card: InviteCard, scale: int = 10) -> bytes:
    """The QR code of the card's Telegram link (or of the code alone without a link)."""
    import segno  # imported by the first card, not at start-up

    out = BytesIO()
    segno.make(card.link or card.code, error="m").save(out, kind="png", scale=scale, border=2)
    return out.getvalue()


def _nfc(text: str) -> str:
    """Precomposed letters: the font has them, not every combining-mark sequence."""
    return unicodedata.normalize("NFC", text)


def font_files() -> tuple[Path, Path]:
    """DejaVu Sans regular and bold, from matplotlib's data folder."""
    import matplotlib
    from matplotlib import font_manager

    folder = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    regular, bold = folder / "DejaVuSans.ttf", folder / "DejaVuSans-Bold.ttf"
    if not regular.is_file():  # another layout: ask the font manager
        regular = Path(font_manager.findfont("DejaVu Sans", fallback_to_default=False))
        bold = Path(font_manager.findfont(font_manager.FontProperties(
            family="DejaVu Sans", weight="bold"), fallback_to_default=False))
    return regular, bold


def expiry_text(t: Translator, card: InviteCard) -> str:
    if card.expires_at is None:
        return t("Mã không có hạn dùng.")
    return t("Dùng được đến hết ngày {date}.", date=t.date(card.expires_at))


def telegram_text(t: Translator, card: InviteCard) -> tuple[str, str]:
    """How to join on Telegram: the same sentence on every card, then the card's own line
    (its link, or the command to send)."""
    if card.link:
        return (t("Telegram: quét mã QR bằng điện thoại, hoặc mở liên kết dưới đây rồi bấm "
                  "Bắt đầu (Start):"), card.link)
    return (t("Telegram: mở bot của văn phòng rồi gửi tin nhắn /start kèm mã mời:"),
            f"/start {shown_code(card.code)}")


def zalo_text(t: Translator) -> str:
    return t("Zalo: mở cuộc trò chuyện với bot của văn phòng trên Zalo và gửi một tin nhắn chỉ "
             "gồm mã mời ở trên (viết liền, viết thường hay có dấu cách đều được).")


# --- the PDF: 8 cards on an A4 page, with cutting lines ----------------------------------

PAGE_W, PAGE_H = 210.0, 297.0
MARGIN = 10.0
COLUMNS, ROWS = 2, 4
CARD_W = (PAGE_W - 2 * MARGIN) / COLUMNS
CARD_H = (PAGE_H - 2 * MARGIN) / ROWS
PAD = 4.0
QR_MM = 30.0


def build_invite_pdf(cards: list[InviteCard], t: Translator) -> bytes:
    """A printable PDF: one card per unit, eight to an A4 page, cut along the dashed lines."""
    from fpdf import FPDF

    regular, bold = font_files()
    pdf = FPDF(orientation="P", unit="mm", format="A4")
    pdf.set_auto_page_break(False)
    pdf.set_title(_nfc(t("Thẻ mời tham gia bot nhắc báo cáo")))
    pdf.set_creator("bot nhắc báo cáo")
    pdf.add_font("DejaVu", "", str(regular))
    pdf.add_font("DejaVu", "B", str(bold))
    per_page = COLUMNS * ROWS
    wrapped: dict[str, list[str]] = {}

    def wrap(text: str) -> list[str]:
        """The lines of a sentence every card has, broken once (fpdf's line breaking is
        most of the time a card takes)."""
        if text not in wrapped:
            lines = pdf.multi_cell(CARD_W - 2 * PAD, 3.5, _nfc(text), dry_run=True,
                                   output="LINES")
            assert isinstance(lines, list)  # what output="LINES" returns
            wrapped[text] = [str(line) for line in lines]
        return wrapped[text]

    for index, card in enumerate(cards):
        if index % per_page == 0:
            pdf.add_page()
        slot = index % per_page
        x = MARGIN + (slot % COLUMNS) * CARD_W
        y = MARGIN + (slot // COLUMNS) * CARD_H
        _card(pdf, t, card, x, y, wrap)
    if not cards:
        pdf.add_page()
    return bytes(pdf.output())


def _card(pdf, t: Translator, card: InviteCard, x: float, y: float,
          wrap: Callable[[str], list[str]]) -> None:
    pdf.set_draw_color(150, 150, 150)
    pdf.set_dash_pattern(dash=1.5, gap=1.5)
    pdf.rect(x, y, CARD_W, CARD_H)
    pdf.set_dash_pattern()
    left, width = x + PAD, CARD_W - 3 * PAD - QR_MM
    _qr(pdf, card, x + CARD_W - PAD - QR_MM, y + PAD)
    pdf.set_text_color(90, 90, 90)
    pdf.set_font("DejaVu", "", 7.5)
    pdf.set_xy(left, y + PAD)
    pdf.cell(width, 3.6, _nfc(t("MỜI THAM GIA BOT NHẮC BÁO CÁO")), new_x="LMARGIN",
             new_y="NEXT")
    pdf.set_text_color(0, 0, 0)
    name = _nfc(card.unit_name)
    for size in (10.5, 9, 7.5, 6.5):  # a long name gets a smaller font, at most three lines
        pdf.set_font("DejaVu", "B", size)
        lines = pdf.multi_cell(width, size * 0.45, name, dry_run=True, output="LINES")
        if len(lines) <= 3:
            break
    lines = [str(line) for line in lines]
    if len(lines) > 3:
        lines = [*lines[:2], lines[2].rstrip() + "…"]
    for line in lines:
        pdf.set_x(left)
        pdf.cell(width, size * 0.45, line, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("DejaVu", "", 7.5)
    pdf.set_x(left)
    pdf.cell(width, 3.6, _nfc(t("Mã đơn vị: {code}", code=card.unit_code)), new_x="LMARGIN",
             new_y="NEXT")
    pdf.set_font("DejaVu", "", 8)
    pdf.set_xy(left, max(pdf.get_y() + 1.5, y + PAD + 17))
    pdf.cell(width, 4, _nfc(t("Mã mời:")))
    pdf.set_font("DejaVu", "B", 17)
    pdf.set_xy(left, pdf.get_y() + 4)
    pdf.cell(width, 8, shown_code(card.code))
    pdf.set_font("DejaVu", "", 7)
    pdf.set_xy(left, pdf.get_y() + 8.5)
    pdf.cell(width, 3.3, _nfc(expiry_text(t, card)), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("DejaVu", "", 7.5)
    pdf.set_xy(x + PAD, max(pdf.get_y() + 1.5, y + PAD + QR_MM + 2))
    sentence, own = telegram_text(t, card)
    for line in [*wrap(sentence), None, *wrap(zalo_text(t))]:
        pdf.set_x(x + PAD)
        if line is None:  # the card's own line, after the sentence every card has
            pdf.set_font("DejaVu", "B", 7.5)
            pdf.multi_cell(CARD_W - 2 * PAD, 3.5, own)
            pdf.set_font("DejaVu", "", 7.5)
            pdf.set_y(pdf.get_y() + 0.8)
            continue
        pdf.cell(CARD_W - 2 * PAD, 3.5, line, new_x="LMARGIN", new_y="NEXT")


def qr_runs(card: InviteCard) -> tuple[int, list[tuple[int, int, int]]]:
    """The QR code of the card as (modules a side, [(row, first column, length)]): each
    horizontal run of dark modules, drawn as one rectangle."""
    import segno

    matrix = segno.make(card.link or card.code, error="m").matrix
    runs = []
    for row, cells in enumerate(matrix):
        start = None
        for column, dark in enumerate([*cells, 0]):
            if dark and start is None:
                start = column
            elif not dark and start is not None:
                runs.append((row, start, column - start))
                start = None
    return len(matrix), runs


def _qr(pdf, card: InviteCard, x: float, y: float) -> None:
    """The QR code as vector rectangles: sharp at any printer's resolution, and without
    a picture to encode and embed per card."""
    size, runs = qr_runs(card)
    module = QR_MM / (size + 4)  # a quiet zone of two modules around it
    pdf.set_fill_color(0, 0, 0)
    for row, column, length in runs:
        pdf.rect(x + (column + 2) * module, y + (row + 2) * module, length * module + 0.01,
                 module + 0.01, style="F")


# --- the workbook ------------------------------------------------------------------------

QR_PX = 96


def build_invite_workbook(cards: list[InviteCard], t: Translator) -> bytes:
    """A sheet with a row per unit: code, name, invite code, link, expiry and its QR code."""
    from openpyxl import Workbook
    from openpyxl.drawing.image import Image
    from openpyxl.styles import Alignment, Font

    book = Workbook()
    sheet = book.active
    sheet.title = t("Mã mời")
    sheet.append([t("Mã đơn vị"), t("Tên đơn vị"), t("Mã mời"), t("Liên kết Telegram"),
                  t("Hết hạn"), t("Mã QR")])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    middle = Alignment(vertical="center", wrap_text=True)
    for row, card in enumerate(cards, start=2):
        expiry = t.date(card.expires_at) if card.expires_at else ""
        sheet.append([card.unit_code, card.unit_name, shown_code(card.code), card.link, expiry])
        for cell in sheet[row]:
            cell.alignment = middle
        picture = Image(BytesIO(qr_png(card, scale=4)))
        picture.width = picture.height = QR_PX
        sheet.add_image(picture, f"F{row}")
        sheet.row_dimensions[row].height = QR_PX * 0.75 + 4  # points
    sheet.freeze_panes = "A2"
    for column, width in zip("ABCDEF", (14, 40, 12, 44, 12, 16), strict=True):
        sheet.column_dimensions[column].width = width
    out = BytesIO()
    book.save(out)
    return out.getvalue()
