"""The chart, workbook and archive builders on hand-built rows (no database)."""

from __future__ import annotations

import logging
import warnings
import zipfile
from datetime import UTC, date, datetime, timedelta
from io import BytesIO

import numpy
from openpyxl import load_workbook
from PIL import Image

from core.i18n import Translator
from reports.archive import build_archives, entry_names, safe_name
from reports.chart import MAX_DAYS, WIDTH_PX, bars, build_chart, days
from reports.excel import build_workbook, sheet_title
from reports.rows import TargetRow, TaskReport

DEADLINE = datetime(2023, 5, 8, 10, 0, tzinfo=UTC)  # 17:00 in Hà Nội
NOW = datetime(2023, 5, 10, 1, 0, tzinfo=UTC)  # 08:00 two days later
LOCAL_DEADLINE = datetime(2023, 5, 8, 17, 0)


def local(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2023, 5, day, hour, minute)


def utc(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2023, 5, day, hour, minute, tzinfo=UTC) - timedelta(hours=7)


ROWS = [
    TargetRow("THPT-LHP", "THPT chuyên Lê Hồng Phong", DEADLINE, "submitted",
              groups=("THPT", "truc-thuoc-so"), submitted_at=utc(5, 9, 12), on_time=True,
              reporter="ht_lhp", status_text="bản chính thức", file_name="bao-cao.pdf",
              file_sha256="a" * 64, file_mime="application/pdf"),
    TargetRow("THPT-NAMTRUC", "THPT Nam Trực", DEADLINE + timedelta(days=3), "submitted",
              groups=("THPT",), submitted_at=utc(12, 8), on_time=False, extension_granted=True,
              reporter="ht_namtruc", file_name="BC.DOCX", file_sha256="b" * 64,
              file_mime="application/msword"),
    TargetRow("PGD-NAMTRUC", "Phòng GDĐT Nam Trực", DEADLINE, "in_progress", groups=("PGD",),
              percent=60, reporter="pgd_nt", status_text="chờ số liệu trường"),
    TargetRow("PGD-YYEN", "Phòng GDĐT Ý Yên", DEADLINE, "pending", groups=("PGD",)),
    TargetRow("TT-GDNN", "TT GDNN-GDTX Nam Trực", DEADLINE, "excused", groups=("GDNN-GDTX",)),
    TargetRow("THCS-A", "THCS A", DEADLINE, "submitted", groups=("THCS",),
              submitted_at=utc(8, 10), on_time=True, nil_report=True, reporter="ht_a",
              status_text="không phát sinh"),
]
REPORT = TaskReport(1, "Báo cáo tổng kết: 10 năm [NQ29]/2023", DEADLINE, rows=ROWS)
EMPTY = TaskReport(2, "Thống kê đầu năm", DEADLINE + timedelta(days=30), state="cancelled")


def test_delay_in_days_of_late_missing_and_on_time_rows() -> None:
    late, in_progress = ROWS[1], ROWS[2]
    assert late.delay_days(NOW) == round((utc(12, 8) - late.deadline).total_seconds()
                                         / 86400, 1) == 0.6
    assert in_progress.delay_days(NOW) == 1.6  # missing, so far
    assert in_progress.delay_days(DEADLINE) is None  # not due yet
    assert ROWS[0].delay_days(NOW) == 0.0
    assert ROWS[4].delay_days(NOW) is None  # excused


# --- workbook ----------------------------------------------------------------------------

SUMMARY_HEADER = ("Nhiệm vụ", "Tên nhiệm vụ", "Hạn nộp", "Tình trạng nhiệm vụ", "Phải nộp",
                  "Đã nộp", "Đúng hạn", "Trễ hạn", "Chưa nộp", "Quá hạn", "Được miễn",
                  "Được gia hạn", "Hoàn thành", "Tỷ lệ hoàn thành", "Nộp đúng hạn",
                  "Tỷ lệ đúng hạn")
TASK_HEADER = ("Mã đơn vị", "Tên đơn vị", "Nhóm", "Kỳ", "Hạn nộp", "Trạng thái", "Nộp lúc",
               "Đúng hạn / trễ hạn", "Số ngày trễ", "Người nộp", "Nội dung trạng thái",
               "Tên tệp", "Nộp theo đường khác")
EXPECTED_SUMMARY = [
    SUMMARY_HEADER,
    ("#1", "Báo cáo tổng kết: 10 năm [NQ29]/2023", LOCAL_DEADLINE, "Đang mở", 5, 3, 2, 1, 2, 2,
     1, 1, "3/5", 0.6, "2/5", 0.4),
    ("#2", "Thống kê đầu năm", datetime(2023, 6, 7, 17, 0), "Đã huỷ", 0, 0, 0, 0, 0, 0, 0, 0,
     "0/0", 0, "0/0", 0),
]
EXPECTED_TASK = [
    TASK_HEADER,
    ("PGD-NAMTRUC", "Phòng GDĐT Nam Trực", "PGD", None, LOCAL_DEADLINE, "Đang làm 60%", None,
     None, 1.6, "pgd_nt", "chờ số liệu trường", None, None),
    ("PGD-YYEN", "Phòng GDĐT Ý Yên", "PGD", None, LOCAL_DEADLINE, "Chưa nộp", None, None, 1.6,
     None, None, None, None),
    ("THCS-A", "THCS A", "THCS", None, LOCAL_DEADLINE, "Đã nộp (không có số liệu)",
     local(8, 10), "Đúng hạn", 0, "ht_a", "không phát sinh", None, None),
    ("THPT-LHP", "THPT chuyên Lê Hồng Phong", "THPT, truc-thuoc-so", None, LOCAL_DEADLINE,
     "Đã nộp", local(5, 9, 12), "Đúng hạn", 0, "ht_lhp", "bản chính thức", "bao-cao.pdf", None),
    ("THPT-NAMTRUC", "THPT Nam Trực", "THPT", None, datetime(2023, 5, 11, 17, 0), "Đã nộp",
     local(12, 8), "Trễ hạn", 0.6, "ht_namtruc", None, "BC.DOCX", None),
    ("TT-GDNN", "TT GDNN-GDTX Nam Trực", "GDNN-GDTX", None, LOCAL_DEADLINE, "Được miễn", None,
     None, None, None, None, None, None),
]


def test_workbook_read_back_cell_by_cell() -> None:
    book = load_workbook(BytesIO(build_workbook([REPORT, EMPTY], Translator("vi"), NOW)))
    assert book.sheetnames == ["Tổng hợp", "#1 Báo cáo tổng kết 10 năm NQ29", "#2 Thống kê đầu năm"]
    summary, task, empty = book.worksheets
    assert list(summary.iter_rows(values_only=True)) == EXPECTED_SUMMARY
    assert list(task.iter_rows(values_only=True)) == EXPECTED_TASK
    assert list(empty.iter_rows(values_only=True)) == [TASK_HEADER]
    # frozen header, filters over the whole table, widths, real dates and formats
    assert (summary.freeze_panes, task.freeze_panes) == ("A2", "A2")
    assert (summary.auto_filter.ref, task.auto_filter.ref, empty.auto_filter.ref) == \
        ("A1:P3", "A1:M7", "A1:M1")
    # the file holds the width Excel shows plus its cell padding (36 → 36.71)
    assert int(task.column_dimensions["B"].width) == 36
    assert int(summary.column_dimensions["B"].width) == 44
    assert task["A1"].font.b and summary["P1"].font.b
    assert isinstance(task["G5"].value, datetime) and task["G5"].number_format == "dd/mm/yyyy hh:mm"
    assert task["E2"].is_date and task["I2"].number_format == "0.0"
    assert summary["N2"].number_format == "0.0%" and summary["C2"].is_date


def test_workbook_headers_and_labels_in_english() -> None:
    book = load_workbook(BytesIO(build_workbook([REPORT], Translator("en"), NOW)))
    summary, task = book.worksheets
    assert summary.title == "Summary"
    assert [c.value for c in task[1]] == [
        "Unit code", "Unit name", "Groups", "Period", "Deadline", "State", "Submitted at",
        "On time / late", "Delay (days)", "Reporter", "Status text", "File name",
        "Sent another way"]
    assert [c.value for c in summary[1]][:4] == ["Task", "Task title", "Deadline", "Task state"]
    assert [task.cell(row, 6).value for row in range(2, 8)] == [
        "In progress 60%", "Missing", "Submitted (nil report)", "Submitted", "Submitted",
        "Excused"]
    assert task["H6"].value == "Late" and summary["D2"].value == "Open"


def test_the_route_of_a_report_sent_another_way_is_a_column() -> None:
    sent = [TargetRow(f"PGD-{n}", f"Phòng {n}", DEADLINE, "submitted", submitted_at=utc(7, 15),
                      on_time=True, reporter=f"pgd_{n}", status_text=text, route=route)
            for n, (route, text) in enumerate([
                ("email", "đã gửi qua email rồi ạ"), ("paper", "đã nộp bản giấy qua văn thư"),
                ("eoffice", "đã gửi qua hệ thống văn bản điện tử (iOffice) ngày 7/5"),
                ("other", "đã gửi qua Zalo cho cô rồi"), ("", "đã xong")])]
    report = TaskReport(3, "Sáng kiến", DEADLINE, rows=sent)
    for language, labels in (
            ("vi", ["E-mail", "Bản giấy", "Hệ thống văn bản điện tử", "Đường khác", None]),
            ("en", ["E-mail", "On paper", "E-office system", "Another way", None])):
        book = load_workbook(BytesIO(build_workbook([report], Translator(language), NOW)))
        task = book.worksheets[1]
        assert task["M1"].value == ("Nộp theo đường khác" if language == "vi"
                                    else "Sent another way")
        assert [task.cell(row, 13).value for row in range(2, 7)] == labels
        assert task.cell(4, 11).value == "đã gửi qua hệ thống văn bản điện tử (iOffice) ngày 7/5"


def test_text_from_users_stays_text() -> None:
    row = TargetRow("A", "Trường\x0bA", DEADLINE, "in_progress", reporter="=cmd|' /C calc'!A0",
                    status_text="=HYPERLINK(\"http://x\",\"bấm\")\x00")
    book = load_workbook(BytesIO(build_workbook(
        [TaskReport(7, "=1+1", DEADLINE, rows=[row])], Translator("vi"), NOW)))
    summary, task = book.worksheets
    assert (task["B2"].value, task["J2"].value, task["K2"].value) == (
        "TrườngA", "=cmd|' /C calc'!A0", "=HYPERLINK(\"http://x\",\"bấm\")")
    assert {task["J2"].data_type, task["K2"].data_type, summary["B2"].data_type} == {"s"}
    assert summary["B2"].value == "=1+1"


def test_sheet_titles_are_legal_and_unique() -> None:
    long = TaskReport(12, "Báo cáo? *tổng* kết 'năm' học 2023-2024 \\ các trường", DEADLINE)
    title = sheet_title(long)
    assert title == "#12 Báo cáo tổng kết năm học 20"
    assert len(title) <= 31 and not set(title) & set("[]:*?/\\'")


# --- chart -------------------------------------------------------------------------------


def test_bars_count_each_group_and_leave_excused_out() -> None:
    assert bars(REPORT, NOW) == [
        (None, (2, 1, 2)),
        ("PGD", (0, 0, 2)),
        ("THCS", (1, 0, 0)),
        ("THPT", (1, 1, 0)),
        ("truc-thuoc-so", (1, 0, 0)),
    ]


def test_days_run_from_a_week_before_the_deadline_to_the_last_answer() -> None:
    got = days(REPORT)
    assert [d for d, _, _ in got] == [date(2023, 5, 1) + timedelta(n) for n in range(12)]
    assert {d: (a, b) for d, a, b in got if a or b} == {
        date(2023, 5, 5): (1, 0), date(2023, 5, 8): (1, 0), date(2023, 5, 12): (0, 1)}
    late = TargetRow("X", "X", DEADLINE, "submitted", submitted_at=DEADLINE + timedelta(90),
                     on_time=False)
    long = days(TaskReport(6, "Muộn", DEADLINE, rows=[late]))
    assert len(long) == MAX_DAYS and long[-1] == (date(2023, 8, 6), 0, 1)


def _render_quietly(report: TaskReport, language: str, caplog) -> tuple[bytes, list[str]]:
    """The PNG and every warning (Python warning or log record) raised while drawing it."""
    with warnings.catch_warnings(record=True) as caught, caplog.at_level(logging.WARNING):
        warnings.simplefilter("always")
        caplog.clear()
        png = build_chart(report, Translator(language), NOW)
    return png, [str(w.message) for w in caught] + [r.getMessage() for r in caplog.records]


def test_chart_is_a_phone_sized_png_with_vietnamese_glyphs(caplog) -> None:
    title = "Đã nộp đúng hạn, Trễ hạn, Chưa nộp, Thứ Hai — ỹ ự ằ ẫ Đ"
    rows = [*ROWS, TargetRow("X", "X", DEADLINE, "pending", groups=("Huyện Ý Yên",))]
    for language in ("vi", "en"):
        png, problems = _render_quietly(TaskReport(3, title, DEADLINE, rows=rows), language,
                                        caplog)
        assert problems == []
        assert png.startswith(b"\x89PNG\r\n\x1a\n")
        image = Image.open(BytesIO(png))
        assert image.width == WIDTH_PX and 600 <= image.height <= 1400
        pixels = numpy.asarray(image.convert("L"), dtype=float)
        assert pixels.std() > 20  # bars and text, not a blank page
        assert (pixels < 100).mean() > 0.02


def test_the_glyph_check_would_catch_a_missing_glyph(caplog) -> None:
    _, problems = _render_quietly(TaskReport(4, "报告", DEADLINE, rows=ROWS), "vi", caplog)
    assert any("missing from" in p for p in problems)


def test_chart_of_a_task_without_groups_or_answers() -> None:
    report = TaskReport(5, "Một đơn vị", DEADLINE, rows=[TargetRow("A", "A", DEADLINE, "pending")])
    assert bars(report, NOW) == [(None, (0, 0, 1))]
    assert Image.open(BytesIO(build_chart(report, Translator("vi"), NOW))).width == WIDTH_PX


# --- archive -----------------------------------------------------------------------------


def test_archive_names_contents_and_dates() -> None:
    contents = {"a" * 64: b"%PDF-1.7 lhp", "b" * 64: b"doc namtruc"}
    [data] = build_archives(REPORT, contents.__getitem__, 1000)
    with zipfile.ZipFile(BytesIO(data)) as archive:
        assert archive.namelist() == ["THPT-LHP - THPT chuyên Lê Hồng Phong.pdf",
                                      "THPT-NAMTRUC - THPT Nam Trực.docx"]
        assert archive.read("THPT-LHP - THPT chuyên Lê Hồng Phong.pdf") == b"%PDF-1.7 lhp"
        assert archive.read("THPT-NAMTRUC - THPT Nam Trực.docx") == b"doc namtruc"
        assert archive.getinfo("THPT-NAMTRUC - THPT Nam Trực.docx").date_time == \
            (2023, 5, 12, 8, 0, 0)
        assert archive.testzip() is None


def test_archive_parts_stay_under_the_limit() -> None:
    rows = [TargetRow(f"U{i}", "Trường", DEADLINE, "submitted", file_name="a.pdf",
                      file_sha256=f"{i:064x}", file_size=size)
            for i, size in enumerate((40, 50, 10, 200, 30))]
    parts = build_archives(TaskReport(8, "Lớn", DEADLINE, rows=rows), lambda sha: b"x" * 5, 100)
    names = [zipfile.ZipFile(BytesIO(part)).namelist() for part in parts]
    assert names == [["U0 - Trường.pdf", "U1 - Trường.pdf", "U2 - Trường.pdf"],
                     ["U3 - Trường.pdf"], ["U4 - Trường.pdf"]]


def test_archive_names_are_safe_and_unique() -> None:
    def row(code: str, name: str, file_name: str, period: str = "", mime: str = "") -> TargetRow:
        return TargetRow(code, name, DEADLINE, "submitted", period=period, file_name=file_name,
                         file_sha256="c" * 64, file_mime=mime)

    rows = [
        row("THCS-1", "THCS Nam/Trực: \"A\"", "bc.pdf"),
        row("THCS-1", "THCS Nam/Trực: \"A\"", "bc.PDF"),
        row("thcs-1", "THCS Nam Trực A", "bc.pdf"),
        row("THCS-2", "..Trường\tB. ", "bao cao", mime="application/pdf"),
        row("THCS-3", "C", "anh.png", period="2023-05"),
        row("THCS-4", "D" * 300, "x.pdf"),
        row("THCS-5", "E", "virus.pdf.", mime="application/zip"),
    ]
    names = entry_names(rows)
    assert names[:5] == [
        "THCS-1 - THCS Nam Trực A.pdf",
        "THCS-1 - THCS Nam Trực A (2).pdf",
        "thcs-1 - THCS Nam Trực A (3).pdf",
        "THCS-2 - ..Trường B.pdf",
        "THCS-3 - C - 2023-05.png",
    ]
    assert names[5] == "THCS-4 - " + "D" * 111 + ".pdf"
    assert names[6] == "THCS-5 - E.zip"
    assert len({n.casefold() for n in names}) == len(names)
    assert safe_name(" ../../etc/passwd ") == "etc passwd"
    assert safe_name("Tru\u031bo\u031b\u0300ng") == "Trường"  # combining marks composed
