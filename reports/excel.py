"""The progress workbook: a summary sheet with each task's figures, then one sheet per task
with a row per unit. Frozen header, filters, column widths, real Excel dates (local time).

Written with XlsxWriter in constant-memory mode: each row goes to a temporary file as soon as
the next one starts, so a task of 50,000 units takes a few MB of memory and about a second.
Its rows must therefore be written in order, which every sheet here does. Strings are written
as strings only: text typed by users never becomes a formula, a link or a number."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from datetime import datetime
from io import BytesIO
from typing import TYPE_CHECKING

from core.clock import to_local
from core.i18n import N_, Translator
from core.progress import figures
from core.states import AssignmentState
from reports.rows import TaskReport

if TYPE_CHECKING:
    from xlsxwriter.format import Format
    from xlsxwriter.worksheet import Worksheet

DATE_FORMAT = "dd/mm/yyyy hh:mm"
PERCENT_FORMAT = "0.0%"
DAYS_FORMAT = "0.0"
HEADER_STYLE = {"bold": True, "bg_color": "#DDEBF7", "pattern": 1, "text_wrap": True,
                "valign": "top"}
# The characters XML 1.0 cannot hold (Excel refuses the file): dropped from users' text.
ILLEGAL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")

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
SUMMARY_FORMATS = {2: DATE_FORMAT, 13: PERCENT_FORMAT, 15: PERCENT_FORMAT}
TASK_FORMATS = {4: DATE_FORMAT, 6: DATE_FORMAT, 8: DAYS_FORMAT}
TREE_FORMATS = {5: DATE_FORMAT, 7: DATE_FORMAT}
TASK_STATES: dict[str, str] = {
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


class _Sheet:
    """One sheet written row after row: header, frozen pane, widths, and at the end a
    filter over what was written."""

    def __init__(self, book: _Book, title: str, columns: tuple[tuple[str, int], ...],
                 formats: dict[int, str], t: Translator) -> None:
        self.sheet: Worksheet = book.workbook.add_worksheet(title)
        self.columns = len(columns)
        self.formats = {index: book.style(number_format)
                        for index, number_format in formats.items()}
        self.sheet.freeze_panes(1, 0)
        for index, (label, width) in enumerate(columns):
            self.sheet.set_column(index, index, width)
            self.sheet.write_string(0, index, t(label), book.header)
        self.rows = 0

    def append(self, values: list[Value]) -> None:
        """A row of values by their type (a cell format where the column has one); None and
        "" leave the cell empty. Text loses the control characters XML cannot hold."""
        self.rows += 1
        row, sheet, formats = self.rows, self.sheet, self.formats
        for index, value in enumerate(values):
            if value is None or value == "":
                continue
            if isinstance(value, str):
                sheet.write_string(row, index, ILLEGAL_CHARACTERS.sub("", value),
                                   formats.get(index))
            elif isinstance(value, datetime):
                sheet.write_datetime(row, index, value, formats.get(index))
            else:
                sheet.write_number(row, index, value, formats.get(index))

    def finish(self) -> None:
        self.sheet.autofilter(0, 0, self.rows, self.columns - 1)


class _Book:
    def __init__(self, output: BytesIO) -> None:
        from xlsxwriter import Workbook  # imported by the first file, not at start-up

        self.workbook = Workbook(output, {"constant_memory": True, "strings_to_formulas": False,
                                          "strings_to_urls": False,
                                          "strings_to_numbers": False})
        self.header = self.workbook.add_format(HEADER_STYLE)
        self._styles: dict[str, Format] = {}

    def style(self, number_format: str) -> Format:
        if number_format not in self._styles:
            self._styles[number_format] = self.workbook.add_format(
                {"num_format": number_format})
        return self._styles[number_format]


def build_workbook(reports: Iterable[TaskReport], t: Translator, now: datetime,
                   step: Callable[[TaskReport], None] | None = None) -> bytes:
    """The .xlsx bytes for `reports` as of `now`; `step` is called after each task's sheet
    (for a progress bar)."""
    output = BytesIO()
    book = _Book(output)
    summary = _Sheet(book, t("Tổng hợp"), SUMMARY_COLUMNS, SUMMARY_FORMATS, t)
    for report in reports:
        summary.append(summary_values(report, t, now))
        columns = TASK_COLUMNS + ((HAND_DOWN_COLUMN,) if report.hand_downs else ())
        sheet = _Sheet(book, sheet_title(report), columns, TASK_FORMATS, t)
        for row in task_values(report, t, now):
            sheet.append(row)
        sheet.finish()
        if report.tree:
            below = _Sheet(book, t("#{number} cấp dưới", number=report.number)[:31],
                           TREE_COLUMNS, TREE_FORMATS, t)
            for row in tree_values(report, t):
                below.append(row)
            below.finish()
        if step is not None:
            step(report)
    summary.finish()
    book.workbook.close()
    return output.getvalue()
