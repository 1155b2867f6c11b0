"""The progress workbook: a summary sheet with each task's figures, then one sheet per task
with a row per unit. Frozen header, filters, column widths, real Excel dates (local time)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from datetime import datetime
from io import BytesIO

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from core.clock import to_local
from core.i18n import N_, Translator
from core.progress import figures
from core.states import AssignmentState
from reports.rows import TaskReport

DATE_FORMAT = "dd/mm/yyyy hh:mm"
PERCENT_FORMAT = "0.0%"
DAYS_FORMAT = "0.0"
HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")

# (header, width) of the summary sheet and of a task's sheet
SUMMARY_COLUMNS = (
    (N_("Nhiệm vụ"), 10), (N_("Tên nhiệm vụ"), 44), (N_("Hạn nộp"), 17),
    (N_("Tình trạng nhiệm vụ"), 14), (N_("Phải nộp"), 10), (N_("Đã nộp"), 10),
    (N_("Đúng hạn"), 10), (N_("Trễ hạn"), 10), (N_("Chưa nộp"), 10), (N_("Quá hạn"), 10),
    (N_("Được miễn"), 10), (N_("Được gia hạn"), 12), (N_("Hoàn thành"), 12),
    (N_("Tỷ lệ hoàn thành"), 12), (N_("Nộp đúng hạn"), 12), (N_("Tỷ lệ đúng hạn"), 12),
)
TASK_COLUMNS = (
    (N_("Mã đơn vị"), 16), (N_("Tên đơn vị"), 36), (N_("Nhóm"), 20), (N_("Kỳ"), 10),
    (N_("Hạn nộp"), 17), (N_("Trạng thái"), 12), (N_("Nộp lúc"), 17),
    (N_("Đúng hạn / trễ hạn"), 14), (N_("Số ngày trễ"), 10), (N_("Người nộp"), 20),
    (N_("Nội dung trạng thái"), 36), (N_("Tên tệp"), 30), (N_("Nộp theo đường khác"), 18),
)
HAND_DOWN_COLUMN = (N_("Giao tiếp (đã nộp/phải nộp)"), 22)
TREE_COLUMNS = (
    (N_("Mã đơn vị giao tiếp"), 16), (N_("Đơn vị giao tiếp"), 30), (N_("Nhiệm vụ giao tiếp"), 12),
    (N_("Mã đơn vị"), 16), (N_("Tên đơn vị"), 36), (N_("Hạn nộp"), 17), (N_("Trạng thái"), 12),
    (N_("Nộp lúc"), 17), (N_("Đúng hạn / trễ hạn"), 14), (N_("Tên tệp"), 30),
)
TREE_FORMATS = {5: DATE_FORMAT, 7: DATE_FORMAT}
TASK_STATES = {
    AssignmentState.ACTIVE: N_("Đang mở"),
    AssignmentState.CANCELLED: N_("Đã huỷ"),
    AssignmentState.CLOSED: N_("Đã đóng"),
}

Value = str | int | float | datetime | None


def excel_time(moment: datetime | None) -> datetime | None:
    """Excel has no time zones: local wall-clock time, naive."""
    return to_local(moment).replace(tzinfo=None) if moment is not None else None


def sheet_title(report: TaskReport) -> str:
    """`#12 Báo cáo tổng kết…`: unique by its number, without the characters Excel refuses,
    at most Excel's 31 characters."""
    title = re.sub(r"[\[\]:*?/\\']", " ", report.title)
    return " ".join(f"#{report.number} {title}".split())[:31].rstrip()


def task_values(report: TaskReport, t: Translator, now: datetime) -> list[list[Value]]:
    """The rows of a task's sheet (without the header), sorted by unit code and period; with
    a last column for the offices' hand-downs when there are any."""
    rows = sorted(report.rows, key=lambda r: (r.code, r.period))
    extra = (lambda r: [report.hand_downs.get(r.code, "")]) if report.hand_downs else (
        lambda r: [])
    return [[r.code, r.name, ", ".join(r.groups), r.period, excel_time(r.deadline),
             r.state_label(t), excel_time(r.submitted_at), r.timing_label(t), r.delay_days(now),
             r.reporter, r.status_text, r.file_name, r.route_label(t), *extra(r)] for r in rows]


def tree_values(report: TaskReport, t: Translator) -> list[list[Value]]:
    """Every unit below the offices that handed the task down: office, hand-down, state."""
    return [[x.office_code, x.office_name, f"#{x.number}", x.row.code, x.row.name,
             excel_time(x.row.deadline), x.row.state_label(t), excel_time(x.row.submitted_at),
             x.row.timing_label(t), x.row.file_name] for x in report.tree]


def summary_values(report: TaskReport, t: Translator, now: datetime) -> list[Value]:
    f = figures(report.rows, now)
    return [f"#{report.number}", report.title, excel_time(report.deadline),
            t(TASK_STATES.get(report.state, report.state)), f.expected, f.submitted, f.on_time,
            f.late, f.missing, f.overdue, f.excused, f.extended, f"{f.submitted}/{f.expected}",
            f.completeness / 100, f"{f.on_time}/{f.expected}", f.timeliness / 100]


def _start(sheet: WriteOnlyWorksheet, columns: tuple[tuple[str, int], ...],
           t: Translator) -> None:
    sheet.freeze_panes = "A2"
    for index, (_, width) in enumerate(columns, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    header = []
    for label, _ in columns:
        cell = WriteOnlyCell(sheet, t(label))
        cell.font = Font(bold=True)
        cell.fill = HEADER_FILL
        cell.alignment = Alignment(wrap_text=True, vertical="top")
        header.append(cell)
    sheet.append(header)


def _append(sheet: WriteOnlyWorksheet, values: list[Value], formats: dict[int, str]) -> None:
    """Plain values, and cells only where a number format is needed (cheaper). Text typed by
    users is kept as text: control characters that Excel refuses are dropped, and a leading
    `=` stays a character instead of making a formula."""
    cells: list[Value | WriteOnlyCell] = list(values)
    for index, value in enumerate(values):
        if isinstance(value, str):
            value = cells[index] = ILLEGAL_CHARACTERS_RE.sub("", value)
            if value.startswith("="):
                cell = WriteOnlyCell(sheet, value)
                cell.data_type = "s"
                cells[index] = cell
    for index, number_format in formats.items():
        if values[index] is not None:
            cell = WriteOnlyCell(sheet, values[index])
            cell.number_format = number_format
            cells[index] = cell
    sheet.append(cells)


def _finish(sheet: WriteOnlyWorksheet, columns: int, rows: int) -> None:
    sheet.auto_filter.ref = f"A1:{get_column_letter(columns)}{rows + 1}"


SUMMARY_FORMATS = {2: DATE_FORMAT, 13: PERCENT_FORMAT, 15: PERCENT_FORMAT}
TASK_FORMATS = {4: DATE_FORMAT, 6: DATE_FORMAT, 8: DAYS_FORMAT}


def build_workbook(reports: Iterable[TaskReport], t: Translator, now: datetime,
                   step: Callable[[TaskReport], None] | None = None) -> bytes:
    """The .xlsx bytes for `reports` as of `now`; `step` is called after each task's sheet
    (for a progress bar). Written in openpyxl's streaming mode, so big exports stay small in
    memory."""
    book = Workbook(write_only=True)
    summary = book.create_sheet(t("Tổng hợp"))
    _start(summary, SUMMARY_COLUMNS, t)
    count = 0
    for report in reports:
        _append(summary, summary_values(report, t, now), SUMMARY_FORMATS)
        sheet = book.create_sheet(sheet_title(report))
        columns = TASK_COLUMNS + ((HAND_DOWN_COLUMN,) if report.hand_downs else ())
        _start(sheet, columns, t)
        values = task_values(report, t, now)
        for row in values:
            _append(sheet, row, TASK_FORMATS)
        _finish(sheet, len(columns), len(values))
        if report.tree:
            below = book.create_sheet(t("#{number} cấp dưới", number=report.number)[:31])
            _start(below, TREE_COLUMNS, t)
            tree = tree_values(report, t)
            for row in tree:
                _append(below, row, TREE_FORMATS)
            _finish(below, len(TREE_COLUMNS), len(tree))
        count += 1
        if step is not None:
            step(report)
    _finish(summary, len(SUMMARY_COLUMNS), count)
    buffer = BytesIO()
    book.save(buffer)
    return buffer.getvalue()
