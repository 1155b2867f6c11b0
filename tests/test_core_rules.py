"""Unit tests of the pure rules in core/."""

from __future__ import annotations

import unicodedata
from datetime import date, datetime, time

from hypothesis import given
from hypothesis import strategies as st

from core.clock import LOCAL_TZ
from core.files import check_file, sniff_type
from core.giao_line import parse_giao_line, parse_offsets, parse_requires
from core.policy import Policy, next_overdue, place, plan
from core.text import fold
from core.unit_rows import UnitRow, validate
from core.workcal import WorkCalendar


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=LOCAL_TZ)


CAL = WorkCalendar()
POLICY = Policy()


# --- text --------------------------------------------------------------------------------


def test_fold_ignores_case_accents_and_normal_form() -> None:
    nfd = unicodedata.normalize("NFD", "Phòng GDĐT Nam Trực")
    assert fold(nfd) == fold("PHÒNG GDĐT NAM TRỰC") == "phong gddt nam truc"


@given(st.text())
def test_fold_is_idempotent(text: str) -> None:
    assert fold(fold(text)) == fold(text)


# --- calendar and reminder policy --------------------------------------------------------


def test_tet_2024_and_sundays_are_days_off() -> None:
    for day in range(8, 15):
        assert CAL.is_day_off(date(2024, 2, day)), day
    assert CAL.is_day_off(date(2024, 2, 18))  # Sunday
    assert not CAL.is_day_off(date(2024, 2, 16))
    assert WorkCalendar(saturday_off=True).is_day_off(date(2024, 2, 17))
    assert WorkCalendar(extra_days_off=(date(2024, 3, 1),)).is_day_off(date(2024, 3, 1))


def test_default_policy_seven_three_one_day_and_on_the_day() -> None:
    deadline = local(2023, 5, 15, 17, 0)  # Monday
    planned = plan(deadline, local(2023, 5, 2, 8, 0), POLICY, CAL)
    assert [(r.due_at, r.kind) for r in planned] == [
        (local(2023, 5, 8, 8, 0), "before"),
        (local(2023, 5, 12, 8, 0), "before"),
        # 1 day before is Sunday 14/05: moved to the previous working morning, Saturday
        (local(2023, 5, 13, 8, 0), "before"),
        (local(2023, 5, 15, 7, 30), "on_day"),
    ]


def test_a_reminder_in_the_tet_window_moves_before_it() -> None:
    deadline = local(2024, 2, 16, 17, 0)  # first working day after Tết 2024
    planned = plan(deadline, local(2024, 2, 1, 8, 0), POLICY, CAL)
    days = [r.due_at.date() for r in planned]
    # 7 days before (09/02) and 3 days before (13/02) fall in Tết (08-14/02): both move to
    # 07/02, the last working day before it, and only one reminder a day is kept.
    assert days == [date(2024, 2, 7), date(2024, 2, 15), date(2024, 2, 16)]
    assert not any(CAL.is_day_off(d) for d in days)


def test_a_moved_reminder_that_would_be_past_goes_to_the_next_working_morning() -> None:
    moment = place(local(2024, 2, 12, 8, 0), local(2024, 2, 9, 9, 0), POLICY, CAL)
    assert moment == local(2024, 2, 15, 8, 0)


def test_quiet_hours_move_a_late_reminder_to_the_morning() -> None:
    policy = Policy(before_time=time(22, 0))
    moment = place(local(2023, 5, 10, 22, 0), local(2023, 5, 1, 8, 0), policy, CAL)
    assert moment == local(2023, 5, 11, 7, 0)


def test_overdue_reminders_each_working_day_up_to_the_limit() -> None:
    deadline = local(2023, 5, 12, 17, 0)  # Friday
    first = next_overdue(deadline, deadline, 0, POLICY, CAL)
    assert first and first.due_at == local(2023, 5, 13, 8, 0)
    second = next_overdue(deadline, first.due_at, 1, POLICY, CAL)
    assert second and second.due_at == local(2023, 5, 15, 8, 0)  # Sunday skipped
    assert next_overdue(deadline, deadline, POLICY.overdue_max, POLICY, CAL) is None


@given(st.datetimes(min_value=datetime(2023, 1, 1), max_value=datetime(2030, 12, 31)),
       st.integers(min_value=1, max_value=120))
def test_planned_reminders_are_future_working_days_before_the_deadline(start, days) -> None:
    now = start.replace(tzinfo=LOCAL_TZ)
    deadline = datetime.fromtimestamp(now.timestamp() + days * 86400, LOCAL_TZ)
    planned = plan(deadline, now, POLICY, CAL)
    dates = [r.due_at.date() for r in planned]
    assert len(dates) == len(set(dates))
    for reminder in planned:
        assert now < reminder.due_at < deadline
        assert not CAL.is_day_off(reminder.due_at.date())


# --- /giao line --------------------------------------------------------------------------


def test_giao_line_parts_in_any_order_and_case() -> None:
    line = parse_giao_line("Báo cáo NQ29 | ĐƠN VỊ @THCS, nam truc | Hạn: 08/05/2023 | "
                           "nộp: cả hai | nhắc: 5, 2")
    assert (line.title, line.deadline, line.units) == ("Báo cáo NQ29", "08/05/2023",
                                                       "@THCS, nam truc")
    assert parse_requires(line.requires or "") == "both"
    assert parse_offsets(line.reminders or "") == [5, 2]
    assert parse_giao_line("Chỉ có tên").missing == ["deadline", "units"]
    assert parse_giao_line("X | linh tinh").unknown == ["linh tinh"]
    assert parse_offsets("hôm qua") is None and parse_offsets("0, 99") is None


@given(st.text())
def test_giao_line_never_crashes(text: str) -> None:
    parse_giao_line(text)
    parse_offsets(text)
    parse_requires(text)


# --- units import ------------------------------------------------------------------------


def row(n: int, code: str, parent: str = "") -> UnitRow:
    return UnitRow(n, code, f"Unit {code}", "", parent, ())


def test_unit_rows_problems() -> None:
    assert validate([row(2, "A"), row(3, "B", "A")], {}) == []
    assert {p.code for p in validate([row(2, "A", "B"), row(3, "B", "A")], {})} == \
        {"parent_cycle"}
    assert validate([row(2, "A"), row(3, "A")], {})[0].code == "duplicate_code"
    assert validate([row(2, "A", "SO")], {"SO": None}) == []
    assert validate([row(2, "A", "X")], {})[0].code == "unknown_parent"
    # a cycle through a unit already in the database
    assert validate([row(2, "A", "B")], {"B": "A", "A": None})[0].code == "parent_cycle"


# --- files -------------------------------------------------------------------------------


def test_file_types_come_from_content_not_name() -> None:
    assert sniff_type(b"%PDF-1.7 ...") == "application/pdf"
    assert sniff_type(b"\x89PNG\r\n\x1a\n....") == "image/png"
    assert sniff_type(b"MZ\x90\x00\x03") == "application/octet-stream"
    assert check_file(b"", 100)[1].code == "empty"
    assert check_file(b"%PDF-" + b"x" * 200, 100)[1].code == "too_large"
    assert check_file(b"MZ\x90\x00\x03\x00", 100)[1].code == "bad_type"
    assert check_file(b"%PDF-1.7", 100)[1] is None
