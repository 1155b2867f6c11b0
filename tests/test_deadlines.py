"""Tests of core.deadlines: parse_deadline, Recurrence and DeadlineError."""

from __future__ import annotations

import pickle
import unicodedata
from calendar import monthrange
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.clock import LOCAL_TZ
from core.deadlines import Deadline, DeadlineError, Recurrence, parse_deadline

NOW = datetime(2023, 5, 1, 8, 0, tzinfo=LOCAL_TZ)  # a Monday


def at(day: int, month: int, year: int = 2023, hour: int = 17, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=LOCAL_TZ)


def due_of(text: str, now: datetime = NOW, default_time: time = time(17, 0)) -> datetime:
    deadline = parse_deadline(text, now, default_time)
    assert deadline.recurrence is None
    return deadline.due


def error_of(text: str, now: datetime = NOW) -> DeadlineError:
    with pytest.raises(DeadlineError) as caught:
        parse_deadline(text, now)
    return caught.value


# --------------------------------------------------------------------------- dates


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("08/05/2023", at(8, 5)),
        ("8/5/2023", at(8, 5)),
        ("8-5-2023", at(8, 5)),
        ("8.5.2023", at(8, 5)),
        ("8/5/23", at(8, 5)),
        ("15/5", at(15, 5)),
        ("1/5", at(1, 5)),  # today, 17:00 is still ahead
        ("30/4", at(30, 4, 2024)),  # already passed this year
        ("29/2", at(29, 2, 2024)),
        ("ngày 15 tháng 5 năm 2023", at(15, 5)),
        ("ngay 15 thang 5 nam 2023", at(15, 5)),
        ("15 tháng 5", at(15, 5)),
        ("15 tháng 4", at(15, 4, 2024)),
        ("ngày 15 tháng 5 năm 23", at(15, 5)),
        ("hôm nay", at(1, 5)),
        ("ngày mai", at(2, 5)),
        ("mai", at(2, 5)),
        ("ngày kia", at(3, 5)),
        ("thứ hai", at(8, 5)),  # strictly after today (a Monday)
        ("thứ ba", at(2, 5)),
        ("thứ tư", at(3, 5)),
        ("thứ năm", at(4, 5)),
        ("thứ sáu", at(5, 5)),
        ("thứ bảy", at(6, 5)),
        ("chủ nhật", at(7, 5)),
        ("thứ 2", at(8, 5)),
        ("thứ 3", at(2, 5)),
        ("thứ 6", at(5, 5)),
        ("thứ 7", at(6, 5)),
        ("t2", at(8, 5)),
        ("T4", at(3, 5)),
        ("t7", at(6, 5)),
        ("CN", at(7, 5)),
        ("thu sau", at(5, 5)),
        ("thứ sáu tuần sau", at(12, 5)),
        ("thứ 6 tuần sau", at(12, 5)),
        ("thứ hai tuần sau", at(8, 5)),
        ("chủ nhật tuần sau", at(14, 5)),
        ("thứ 6 tuần này", at(5, 5)),
        ("thứ 2 tuần này", at(1, 5)),
        ("tuần sau", at(12, 5)),
        ("tuần tới", at(12, 5)),
        ("cuối tuần", at(5, 5)),
        ("cuối tuần sau", at(12, 5)),
        ("cuối tháng", at(31, 5)),
        ("cuối tháng sau", at(30, 6)),
        ("cuối tháng 2", at(29, 2, 2024)),
        ("cuối tháng 2/2024", at(29, 2, 2024)),
        ("cuối năm", at(31, 12)),
        ("cuối năm sau", at(31, 12, 2024)),
        ("ngày 20", at(20, 5)),
        ("mùng 5", at(5, 5)),
    ],
)
def test_dates(text: str, expected: datetime) -> None:
    assert due_of(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "hạn 15/5/2023",
        "hạn chót 15/5/2023",
        "hạn nộp 15/5/2023",
        "hạn nộp: 15/5/2023.",
        "trước ngày 15/5/2023",
        "truoc ngay 15/5/2023",
        "TRƯỚC NGÀY 15/5/2023",
        "trước 15/5/2023",
        "ngày 15/5/2023",
        "đến ngày 15/5/2023",
        "đến 15/5/2023",
        "chậm nhất 15/5/2023",
        "chậm nhất là ngày 15/5/2023",
        "muộn nhất 15/5/2023",
        "vào 15/5/2023",
        "vào ngày 15/5/2023",
        "hạn trước ngày 15/5/2023",
        "hạn chót trước ngày 15/05/2023",
        "hạn tới ngày 15/5/2023",
        "thứ Hai, ngày 15/5/2023",
    ],
)
def test_leading_words(text: str) -> None:
    assert due_of(text) == at(15, 5)


def test_unicode_forms_and_case() -> None:
    text = "Hạn Chót: Trước Ngày 15 Tháng 5 Năm 2023"
    for form in ("NFC", "NFD", "NFKC", "NFKD"):
        assert due_of(unicodedata.normalize(form, text)) == at(15, 5)
        assert due_of(unicodedata.normalize(form, text.upper())) == at(15, 5)


def test_weekday_rolls_from_any_day() -> None:
    saturday = datetime(2023, 5, 6, 20, 0, tzinfo=LOCAL_TZ)
    assert due_of("thứ 6", saturday) == at(12, 5)
    assert due_of("cuối tuần", saturday) == at(12, 5)  # this week's Friday has passed
    assert due_of("thứ 6 tuần sau", saturday) == at(12, 5)
    assert due_of("tuần sau", saturday) == at(12, 5)
    friday_evening = datetime(2023, 5, 5, 18, 0, tzinfo=LOCAL_TZ)
    assert due_of("cuối tuần", friday_evening) == at(12, 5)
    assert due_of("thứ 7", friday_evening) == at(6, 5)


def test_month_and_year_end_roll_over() -> None:
    late = datetime(2023, 5, 31, 18, 0, tzinfo=LOCAL_TZ)
    assert due_of("cuối tháng", late) == at(30, 6)
    new_years_eve = datetime(2023, 12, 31, 18, 0, tzinfo=LOCAL_TZ)
    assert due_of("cuối năm", new_years_eve) == at(31, 12, 2024)
    assert due_of("15/5", datetime(2023, 5, 15, 17, 0, tzinfo=LOCAL_TZ)) == at(15, 5, 2024)


def test_now_in_another_zone() -> None:
    # 2023-05-01 01:00 UTC is 08:00 in Vietnam: "hôm nay" is 1 May there.
    assert due_of("hôm nay", datetime(2023, 5, 1, 1, 0, tzinfo=UTC)) == at(1, 5)
    # 2023-04-30 18:00 UTC is already 1 May 01:00 in Vietnam.
    assert due_of("mai", datetime(2023, 4, 30, 18, 0, tzinfo=UTC)) == at(2, 5)


def test_due_is_local() -> None:
    deadline = parse_deadline("15/5/2023", datetime(2023, 5, 1, 1, 0, tzinfo=UTC))
    assert deadline.due.tzinfo == LOCAL_TZ


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2023-05-15", at(15, 5)),
        ("2023-5-15", at(15, 5)),
        ("2023/05/15", at(15, 5)),
        ("2023-05-15 09:30", at(15, 5, hour=9, minute=30)),
        ("2023-05-15T09:30", at(15, 5, hour=9, minute=30)),
        ("due 2023-05-15", at(15, 5)),
        ("15 May 2023", at(15, 5)),
        ("May 15, 2023", at(15, 5)),
        ("15th of May", at(15, 5)),
        ("Sept. 15 2023", at(15, 9)),
        ("by 1 Apr", at(1, 4, 2024)),
        ("due 15 May 2023 at 10:00", at(15, 5, hour=10)),
    ],
)
def test_iso_and_english_dates(text: str, expected: datetime) -> None:
    assert due_of(text) == expected


@pytest.mark.parametrize(
    "text",
    ["trước **ngày 15/5/2023**", "**trước ngày 15/5/2023**", "__15/5/2023__", "*15/5/2023*",
     "hạn: ***15 tháng 5***"],
)
def test_markdown_emphasis_is_ignored(text: str) -> None:
    assert due_of(text) == at(15, 5)


def test_iso_and_english_errors() -> None:
    assert error_of("2023-02-30") == DeadlineError("no_such_date", day=30, month=2, year=2023)
    assert error_of("31 April") == DeadlineError("no_such_date", day=31, month=4, year=None)
    assert error_of("2023-04-30").code == "past"
    assert error_of("15 Mayo 2023").code == "unrecognized"
    assert error_of("**").code == "unrecognized"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("trong tháng 9/2023", at(30, 9)),
        ("tháng 9/2023", at(30, 9)),
        ("tháng 6 năm 2023", at(30, 6)),
        ("hết tháng 2/2024", at(29, 2, 2024)),
        ("trong tháng 9", at(30, 9)),
        ("trong tháng 4", at(30, 4, 2024)),
        ("trong tháng này", at(31, 5)),
        ("trong tháng sau", at(30, 6)),
        ("năm 2023", at(31, 12)),
        ("trong năm 2024", at(31, 12, 2024)),
        ("trong năm nay", at(31, 12)),
        ("trong năm tới", at(31, 12, 2024)),
        ("năm học 2023-2024", at(31, 5, 2024)),
        ("năm học 2022 – 2023", at(31, 5)),
        ("năm học 2023-24", at(31, 5, 2024)),
        ("cuối năm học", at(31, 5)),
        ("trong năm học này", at(31, 5)),
    ],
)
def test_months_years_and_school_years(text: str, expected: datetime) -> None:
    assert due_of(text) == expected


def test_month_year_and_school_year_errors() -> None:
    assert error_of("trong tháng 8/2021") == DeadlineError("past", due=at(31, 8, 2021))
    assert error_of("tháng 4/2023") == DeadlineError("past", due=at(30, 4))
    assert error_of("năm 2022") == DeadlineError("past", due=at(31, 12, 2022))
    assert error_of("năm học 2021-2022") == DeadlineError("past", due=at(31, 5, 2022))
    for text in ("tháng 13/2023", "năm học 2023-2025", "năm học", "thứ năm 2023", "tháng"):
        assert error_of(text).code == "unrecognized", text
    june = datetime(2023, 6, 10, 8, 0, tzinfo=LOCAL_TZ)  # between two school years
    assert due_of("cuối năm học", june) == at(31, 5, 2024)
    assert error_of("cuối năm học này", june).code == "past"


def test_yearly_month_ends_and_school_year_ends() -> None:
    assert parse_deadline("hàng năm trong tháng 11", NOW).recurrence == Recurrence(
        "yearly", month=11, day=30)
    deadline = parse_deadline("cuối tháng 2 hàng năm", NOW)
    assert deadline.recurrence == Recurrence("yearly", month=2, day=29)
    assert deadline.recurrence.next_due(deadline.due) == at(28, 2, 2025)
    deadline = parse_deadline("hàng năm học, cuối năm học", NOW)
    assert deadline.recurrence == Recurrence("school_year", month=5, day=31)
    assert deadline.due == at(31, 5)
    for text in ("hàng năm tháng 11/2023", "hàng năm năm học 2023-2024", "hàng năm năm 2024"):
        assert error_of(text).code == "unrecognized", text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("3 ngày nữa", at(4, 5)),
        ("sau 3 ngày", at(4, 5)),
        ("trong 10 ngày", at(11, 5)),
        ("1 tuần", at(8, 5)),
        ("2 tuần nữa", at(15, 5)),
        ("trong vòng 2 tuần", at(15, 5)),
        ("1 tháng nữa", at(1, 6)),
        ("3 ngày nữa lúc 9h", at(4, 5, hour=9)),
        # Monday 1 May: Tuesday to Saturday are five working days, Sunday is not one.
        ("trong vòng 5 ngày làm việc", at(6, 5)),
        ("6 ngày làm việc", at(8, 5)),
        ("trong vòng 7 ngày kể từ ngày nhận văn bản", at(8, 5)),
    ],
)
def test_counted_days_and_weeks(text: str, expected: datetime) -> None:
    assert due_of(text) == expected


def test_a_day_of_the_month_is_not_a_count() -> None:
    assert due_of("ngày 11 ngày") == at(11, 5)  # as before counts: the day, then a filler
    assert due_of("mùng 3 ngày") == at(3, 5)


def test_month_counts_keep_the_day_or_the_month_end() -> None:
    assert due_of("1 tháng nữa", datetime(2023, 1, 31, 8, 0, tzinfo=LOCAL_TZ)) == at(28, 2)


def test_working_days_follow_the_calendar() -> None:
    from core.workcal import WorkCalendar

    # 2023: 1 May is Labour Day, 2 and 3 May are the observed holidays of 29 and 30 April.
    calendar = WorkCalendar()
    deadline = parse_deadline("trong vòng 5 ngày làm việc", NOW, calendar=calendar)
    assert deadline.due == at(9, 5)
    saturdays_off = WorkCalendar(saturday_off=True)
    deadline = parse_deadline("5 ngày làm việc", NOW, time(9, 0), saturdays_off)
    assert deadline.due == at(10, 5, hour=9)
    assert parse_deadline("3 ngày nữa", NOW, calendar=calendar).due == at(4, 5)  # plain days


@pytest.mark.parametrize("text", ["0 ngày", "thứ 6 3 ngày nữa", "3 ngày 15/5", "1000 ngày",
                                  "hàng tuần 1 tuần"])
def test_bad_counts(text: str) -> None:
    assert error_of(text).code == "unrecognized"


@pytest.mark.parametrize(
    ("text", "now", "expected"),
    [
        # Tết 2024 is Saturday 10/02; 08/02 and 09/02 (29 and 30 Tết) are holidays.
        ("trước Tết Nguyên đán", NOW, at(7, 2, 2024)),
        ("trước Tết", NOW, at(7, 2, 2024)),
        ("TRUOC TET", NOW, at(7, 2, 2024)),
        ("trước Tết âm lịch 10h", NOW, at(7, 2, 2024, hour=10)),
        # Tết 2023 is Sunday 22/01 after the holidays of 20 and 21/01: Thursday 19/01.
        ("trước Tết Nguyên đán năm 2023", datetime(2023, 1, 2, tzinfo=LOCAL_TZ), at(19, 1)),
        # During Tết 2024 the coming Tết is 29/01/2025, after 27 and 28/01 and a Sunday.
        ("trước Tết", datetime(2024, 2, 10, 8, 0, tzinfo=LOCAL_TZ), at(25, 1, 2025)),
        ("Tết 2025", NOW, at(25, 1, 2025)),
    ],
)
def test_before_tet(text: str, now: datetime, expected: datetime) -> None:
    assert due_of(text, now) == expected


def test_before_tet_errors_and_calendar() -> None:
    from core.workcal import WorkCalendar

    eve = datetime(2024, 2, 8, 8, 0, tzinfo=LOCAL_TZ)  # the last working day has passed
    assert error_of("trước Tết", eve) == DeadlineError("past", due=at(7, 2, 2024))
    assert error_of("trước Tết 2023") == DeadlineError("past", due=at(19, 1))
    for text in ("sau Tết", "trước Tết dương lịch", "Tết 2500", "hàng năm trước Tết"):
        assert error_of(text).code == "unrecognized", text
    january = datetime(2025, 1, 10, 8, 0, tzinfo=LOCAL_TZ)
    saturdays_off = WorkCalendar(saturday_off=True)
    assert parse_deadline("trước Tết", january, calendar=saturdays_off).due == at(24, 1, 2025)


# --------------------------------------------------------------------------- times


@pytest.mark.parametrize(
    ("text", "hour", "minute"),
    [
        ("17:00 15/5/2023", 17, 0),
        ("15/5/2023 17:00", 17, 0),
        ("15/5/2023 17h", 17, 0),
        ("17h 15/5/2023", 17, 0),
        ("17h30 15/5/2023", 17, 30),
        ("17h00 ngày 15/5/2023", 17, 0),
        ("17g30 15/5/2023", 17, 30),
        ("17 giờ 15/5/2023", 17, 0),
        ("17 giờ 30 ngày 15/5/2023", 17, 30),
        ("17 giờ 30 phút ngày 15/5/2023", 17, 30),
        ("8h sáng 15/5/2023", 8, 0),
        ("8h sáng ngày 15/5/2023", 8, 0),
        ("5h chiều 15/5/2023", 17, 0),
        ("5 giờ chiều 15/5/2023", 17, 0),
        ("5h30 chiều 15/5/2023", 17, 30),
        ("8 giờ tối 15/5/2023", 20, 0),
        ("17h chiều 15/5/2023", 17, 0),
        ("12h trưa 15/5/2023", 12, 0),
        ("lúc 9:15 ngày 15/5/2023", 9, 15),
        ("15/5/2023 lúc 9:15", 9, 15),
        ("trước 17h ngày 15 tháng 5 năm 2023", 17, 0),
        ("ngày 15 tháng 5 năm 2023 lúc 17 giờ", 17, 0),
        ("hạn chót 16h30, 15/5/2023", 16, 30),
        ("0:00 15/5/2023", 0, 0),
        ("23:59 15/5/2023", 23, 59),
    ],
)
def test_times(text: str, hour: int, minute: int) -> None:
    assert due_of(text) == at(15, 5, hour=hour, minute=minute)


def test_time_with_relative_dates() -> None:
    assert due_of("17h ngày mai") == at(2, 5)
    assert due_of("8h sáng mai") == at(2, 5, hour=8)
    assert due_of("thứ 6 lúc 10:30") == at(5, 5, hour=10, minute=30)
    assert due_of("10h thứ sáu tuần sau") == at(12, 5, hour=10)


def test_time_alone_means_today() -> None:
    assert due_of("17h") == at(1, 5)
    assert error_of("7h").code == "past"


def test_default_time() -> None:
    assert due_of("15/5/2023", default_time=time(9, 30)) == at(15, 5, hour=9, minute=30)
    assert due_of("15/5/2023 16h", default_time=time(9, 30)) == at(15, 5, hour=16)


@pytest.mark.parametrize(
    "text",
    ["24h 15/5/2023", "25:00 15/5/2023", "17:60 15/5/2023", "17h75 15/5/2023", "99h 15/5"],
)
def test_bad_times(text: str) -> None:
    assert error_of(text).code == "unrecognized"


# --------------------------------------------------------------------------- recurrences


@pytest.mark.parametrize(
    "text",
    [
        "hàng năm 30/11",
        "hằng năm 30/11",
        "hang nam 30/11",
        "30/11 hàng năm",
        "trước ngày 30 tháng 11 hàng năm",
        "định kỳ hàng năm trước ngày 30/11",
        "Định kỳ hằng năm, trước ngày 30/11",
        "mỗi năm 30/11",
    ],
)
def test_yearly(text: str) -> None:
    deadline = parse_deadline(text, NOW)
    assert deadline.recurrence == Recurrence("yearly", month=11, day=30)
    assert deadline.due == at(30, 11)


def test_yearly_variants() -> None:
    deadline = parse_deadline("trước 05/12 hàng năm", NOW)
    assert deadline.recurrence == Recurrence("yearly", month=12, day=5)
    assert deadline.due == at(5, 12)
    deadline = parse_deadline("hàng năm 15/3 lúc 8h", NOW)
    assert deadline.recurrence == Recurrence("yearly", month=3, day=15, at=time(8, 0))
    assert deadline.due == at(15, 3, 2024, hour=8)  # already passed this year
    deadline = parse_deadline("hàng năm 29/2", NOW)
    assert deadline.due == at(29, 2, 2024)


@pytest.mark.parametrize(
    "text",
    ["ngày 5 hàng tháng", "hàng tháng ngày 5", "hằng tháng ngày 5", "hàng tháng vào ngày 5"],
)
def test_monthly(text: str) -> None:
    deadline = parse_deadline(text, NOW)
    assert deadline.recurrence == Recurrence("monthly", day=5)
    assert deadline.due == at(5, 5)


def test_monthly_end_of_month() -> None:
    deadline = parse_deadline("ngày 31 hàng tháng", datetime(2023, 6, 2, tzinfo=LOCAL_TZ))
    assert deadline.recurrence == Recurrence("monthly", day=31)
    assert deadline.due == at(30, 6)
    assert parse_deadline("cuối tháng hàng tháng", NOW).recurrence == Recurrence("monthly", day=31)


@pytest.mark.parametrize(
    "text",
    [
        "thứ sáu hàng tuần",
        "hàng tuần thứ 6",
        "hàng tuần vào thứ sáu",
        "T6 hằng tuần",
        "mỗi tuần t6",
    ],
)
def test_weekly(text: str) -> None:
    deadline = parse_deadline(text, NOW)
    assert deadline.recurrence == Recurrence("weekly", weekday=4)
    assert deadline.due == at(5, 5)


def test_weekly_with_time() -> None:
    deadline = parse_deadline("thứ 2 hàng tuần lúc 8h", NOW)
    assert deadline.recurrence == Recurrence("weekly", weekday=0, at=time(8, 0))
    assert deadline.due == at(8, 5, hour=8)  # today 08:00 is not strictly after now


@pytest.mark.parametrize(
    ("text", "rule", "due"),
    [
        ("hàng quý trước ngày 20 tháng cuối quý", "quarterly:03-20@17:00", at(20, 6)),
        ("hằng quý, chậm nhất ngày 10 của tháng thứ 2 của quý", "quarterly:02-10@17:00",
         at(10, 5)),
        ("mỗi quý, ngày 15 tháng đầu quý", "quarterly:01-15@17:00", at(15, 7)),
        ("hàng quý cuối quý", "quarterly:03-31@17:00", at(30, 6)),
        ("cuối quý hàng quý lúc 9h", "quarterly:03-31@09:00", at(30, 6, hour=9)),
        ("ngày 31 tháng giữa quý hàng quý", "quarterly:02-31@17:00", at(31, 5)),
    ],
)
def test_quarterly(text: str, rule: str, due: datetime) -> None:
    deadline = parse_deadline(text, NOW)
    assert deadline.recurrence is not None
    assert deadline.recurrence.to_rule() == rule
    assert Recurrence.from_rule(rule) == deadline.recurrence
    assert deadline.due == due


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("cuối quý", at(30, 6)),
        ("cuối quý sau", at(30, 9)),
        ("ngày 20 tháng cuối quý", at(20, 6)),
        ("trước ngày 15 tháng đầu quý", at(15, 7)),  # April's has passed
        ("trước ngày 15 tháng đầu quý sau", at(15, 7)),
        ("quý 2/2023", at(30, 6)),
        ("trong quý III năm 2023", at(30, 9)),
        ("quý IV", at(31, 12)),
        ("quý 1", at(31, 3, 2024)),
    ],
)
def test_quarters(text: str, expected: datetime) -> None:
    assert due_of(text) == expected


def test_quarter_errors() -> None:
    assert error_of("quý 1/2023") == DeadlineError("past", due=at(31, 3))
    assert error_of("hàng quý ngày 32 tháng cuối quý") == DeadlineError(
        "no_such_date", day=32, month=None, year=None)
    for text in ("quý 5/2023", "hàng quý ngày 20", "hàng quý cuối quý sau", "hàng quý 20/6",
                 "hàng năm cuối quý", "hàng quý quý 2"):
        assert error_of(text).code == "unrecognized", text


def test_quarterly_next_due_and_labels() -> None:
    rule = Recurrence("quarterly", month=3, day=20)
    assert rule.next_due(NOW) == at(20, 6)
    assert rule.next_due(at(20, 6)) == at(20, 9)
    assert rule.next_due(at(20, 12)) == at(20, 3, 2024)
    assert rule.period_label(at(20, 6)) == "Q2/2023"
    assert rule.period_label(at(20, 12)) == "Q4/2023"
    first_month = Recurrence("quarterly", month=1, day=31)
    assert first_month.next_due(NOW) == at(31, 7)
    assert Recurrence("quarterly", month=2, day=31).next_due(at(1, 1, 2024)) == at(29, 2, 2024)
    with pytest.raises(ValueError):
        Recurrence("quarterly", month=4, day=1)
    with pytest.raises(ValueError):
        Recurrence.from_rule("quarterly:5@17:00")


def test_the_school_year_end_is_configurable() -> None:
    now = at(1, 5, 2023, hour=8)
    june = (6, 30)
    assert parse_deadline("năm học 2023-2024", now, school_year_end=june).due == at(30, 6, 2024)
    assert parse_deadline("cuối năm học", now, school_year_end=june).due == at(30, 6, 2023)
    assert parse_deadline("cuối năm học hàng năm", now, school_year_end=june).recurrence == \
        Recurrence("school_year", month=6, day=30)
    assert parse_deadline("năm học 2023-2024", now).due == at(31, 5, 2024)  # the default
    with pytest.raises(ValueError):
        parse_deadline("năm học 2023-2024", now, school_year_end=(8, 31))


def test_stored_rules_stay_readable() -> None:
    for rule in ("yearly:11-30@17:00", "school_year:05-31@17:00", "monthly:5@17:00",
                 "half_yearly:06-15@17:00", "semester:06-15@17:00", "quarterly:03-20@17:00",
                 "weekly:4@17:00", "monthly:31@8:30"):
        assert Recurrence.from_rule(rule).to_rule() == rule.replace("@8:", "@08:")


def test_recurrence_words() -> None:
    from core.i18n import Translator
    from handlers.giao import recurrence_words

    vi, en = Translator("vi"), Translator("en")
    rule = Recurrence("quarterly", month=3, day=20)
    assert recurrence_words(vi, rule) == "hàng quý, trước ngày 20 tháng cuối quý"
    assert recurrence_words(en, rule) == "quarterly, by day 20 of the quarter's last month"
    end = Recurrence("quarterly", month=3, day=31)
    assert recurrence_words(vi, end) == "hàng quý, trước ngày cuối quý"
    first = Recurrence("quarterly", month=1, day=31)
    assert recurrence_words(vi, first) == "hàng quý, trước ngày cuối tháng đầu quý"
    half = Recurrence("half_yearly", month=6, day=15)
    assert recurrence_words(vi, half) == "6 tháng một lần, trước ngày 15/06 và 15/12"
    assert recurrence_words(en, half) == "every six months, by 15/06 and 15/12"
    assert recurrence_words(vi, Recurrence("half_yearly", month=6, day=31)) == \
        "6 tháng một lần, trước ngày 30/06 và 31/12"
    semester = Recurrence("semester", month=6, day=15)
    assert recurrence_words(vi, semester) == "hàng học kỳ, trước ngày 15/01 và 15/07"
    assert recurrence_words(en, semester) == "each semester, by 15/01 and 15/07"


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("hàng năm", "yearly"),
        ("hằng năm", "yearly"),
        ("định kỳ hằng năm", "yearly"),
        ("Định kỳ hàng năm.", "yearly"),
        ("dinh ky hang nam", "yearly"),
        ("hàng năm lúc 17h", "yearly"),
        ("hàng năm học", "school_year"),
        ("hàng tháng", "monthly"),
        ("hàng tuần", "weekly"),
        ("mỗi quý", "quarterly"),
        ("định kỳ hàng quý", "quarterly"),
        ("định kỳ 6 tháng", "half_yearly"),
        ("6 tháng một lần", "half_yearly"),
        ("hàng học kỳ", "semester"),
        ("mỗi học kỳ", "semester"),
    ],
)
def test_recurrence_without_a_day(text: str, kind: str) -> None:
    assert error_of(text) == DeadlineError("needs_day", kind=kind)


@pytest.mark.parametrize(
    "text",
    [
        "hàng năm thứ 6",
        "hàng tuần 15/5",
        "15/5 hàng tháng",
        "thứ 6 tuần sau hàng tuần",
        "hàng năm hàng tháng ngày 5",
    ],
)
def test_bad_recurrences(text: str) -> None:
    assert error_of(text).code == "unrecognized"


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize("text", ["", "   ", "\n\t "])
def test_empty(text: str) -> None:
    assert error_of(text).code == "empty"


@pytest.mark.parametrize(
    "text",
    [
        "asdf",
        "hạn",
        "trước ngày",
        "15",
        "15/5/",
        "15/5/20233",
        "15/5/202",
        "5/2023",
        "15/5 hoặc 16/5",
        "15/5/2023 16/5/2023",
        "17h 18h 15/5",
        "thứ 8",
        "thứ 6 ngày 15/5/2023",  # 15/05/2023 is a Monday
        "tuần trước",
        "?",
        "1d",
    ],
)
def test_unrecognized(text: str) -> None:
    assert error_of(text).code == "unrecognized"


@pytest.mark.parametrize(
    ("text", "day", "month", "year"),
    [
        ("31/02/2024", 31, 2, 2024),
        ("29/2/2023", 29, 2, 2023),
        ("30/2", 30, 2, None),
        ("32/1/2024", 32, 1, 2024),
        ("0/5/2023", 0, 5, 2023),
        ("15/13/2023", 15, 13, 2023),
        ("31/4", 31, 4, None),
        ("ngày 31 tháng 4 năm 2023", 31, 4, 2023),
        ("hàng năm 30/2", 30, 2, None),
        ("ngày 32", 32, None, None),
        ("ngày 0 hàng tháng", 0, None, None),
    ],
)
def test_no_such_date(text: str, day: int, month: int | None, year: int | None) -> None:
    error = error_of(text)
    assert error.code == "no_such_date"
    assert error.params == {"day": day, "month": month, "year": year}


@pytest.mark.parametrize(
    ("text", "due"),
    [
        ("30/4/2023", at(30, 4)),
        ("1/5/2023 7h", at(1, 5, hour=7)),
        ("1/5/2023 8:00", at(1, 5, hour=8)),
        ("ngày 1 tháng 1 năm 2020", at(1, 1, 2020)),
        ("hôm nay 7h", at(1, 5, hour=7)),
        ("cuối tháng 4/2023", at(30, 4)),
        ("cuối năm 2022", at(31, 12, 2022)),
    ],
)
def test_past(text: str, due: datetime) -> None:
    error = error_of(text)
    assert error.code == "past"
    assert error.params == {"due": due}


def test_today_with_year_later_today_is_fine() -> None:
    assert due_of("1/5/2023") == at(1, 5)
    assert due_of("01/05/2023 17:00") == at(1, 5)


def test_error_value_semantics() -> None:
    error = DeadlineError("no_such_date", day=30, month=2, year=None)
    assert isinstance(error, ValueError)
    assert error == DeadlineError("no_such_date", day=30, month=2, year=None)
    assert error != DeadlineError("past", due=NOW)
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.code, copy.params) == (error.code, error.params)


# --------------------------------------------------------------------------- Recurrence API


def test_rules() -> None:
    assert Recurrence("yearly", month=11, day=30).to_rule() == "yearly:11-30@17:00"
    assert Recurrence("monthly", day=5).to_rule() == "monthly:5@17:00"
    assert Recurrence("weekly", weekday=4).to_rule() == "weekly:4@17:00"
    assert Recurrence("weekly", weekday=0, at=time(8, 5)).to_rule() == "weekly:0@08:05"
    assert Recurrence.from_rule("yearly:11-30@17:00") == Recurrence("yearly", month=11, day=30)
    assert Recurrence.from_rule("monthly:5@8:30") == Recurrence("monthly", day=5, at=time(8, 30))


@pytest.mark.parametrize(
    "rule",
    [
        "",
        "yearly",
        "yearly:30@17:00",
        "monthly:11-30@17:00",
        "weekly:7@17:00",
        "monthly:0@17:00",
        "yearly:2-30@17:00",
        "weekly:4@24:00",
        "weekly:4@17:60",
        "daily:1@17:00",
        "weekly:4",
    ],
)
def test_bad_rules(rule: str) -> None:
    with pytest.raises(ValueError):
        Recurrence.from_rule(rule)


@pytest.mark.parametrize(
    "fields",
    [
        {"kind": "yearly", "month": 13, "day": 1},
        {"kind": "yearly", "month": 2, "day": 30},
        {"kind": "yearly", "day": 1},
        {"kind": "monthly", "day": 32},
        {"kind": "monthly", "day": 5, "weekday": 1},
        {"kind": "weekly", "weekday": 7},
        {"kind": "weekly"},
        {"kind": "daily", "day": 1},
        {"kind": "weekly", "weekday": 1, "at": time(8, 0, 0, 5)},
    ],
)
def test_invalid_recurrences(fields: dict) -> None:
    with pytest.raises(ValueError):
        Recurrence(**fields)


def test_next_due_examples() -> None:
    yearly = Recurrence("yearly", month=11, day=30)
    assert yearly.next_due(NOW) == at(30, 11)
    assert yearly.next_due(at(30, 11)) == at(30, 11, 2024)
    assert yearly.next_due(at(30, 11) - timedelta(seconds=1)) == at(30, 11)
    leap = Recurrence("yearly", month=2, day=29)
    assert leap.next_due(NOW) == at(29, 2, 2024)
    assert leap.next_due(at(1, 3, 2024)) == at(28, 2, 2025)
    monthly = Recurrence("monthly", day=31)
    assert monthly.next_due(NOW) == at(31, 5)
    assert monthly.next_due(at(31, 5)) == at(30, 6)
    assert monthly.next_due(at(1, 2, 2024)) == at(29, 2, 2024)
    assert Recurrence("monthly", day=1).next_due(at(31, 12)) == at(1, 1, 2024)
    weekly = Recurrence("weekly", weekday=0, at=time(9, 0))
    assert weekly.next_due(NOW) == at(1, 5, hour=9)
    assert weekly.next_due(at(1, 5, hour=9)) == at(8, 5, hour=9)
    assert weekly.next_due(NOW).tzinfo == LOCAL_TZ


def test_period_labels() -> None:
    assert Recurrence("yearly", month=11, day=30).period_label(at(30, 11, 2024)) == "2024"
    assert Recurrence("monthly", day=5).period_label(at(5, 11, 2024)) == "11/2024"
    assert Recurrence("monthly", day=5).period_label(at(5, 3, 2024)) == "03/2024"
    weekly = Recurrence("weekly", weekday=4)
    assert weekly.period_label(at(15, 11, 2024)) == "11/11/2024"
    assert weekly.period_label(at(11, 11, 2024)) == "11/11/2024"
    assert weekly.period_label(at(17, 11, 2024)) == "11/11/2024"
    # 2024-11-17 20:00 UTC is Monday 18/11 in Vietnam.
    assert weekly.period_label(datetime(2024, 11, 17, 20, tzinfo=UTC)) == "18/11/2024"


def test_deadline_is_normalised_to_local() -> None:
    deadline = Deadline(datetime(2023, 5, 1, 10, 0, tzinfo=UTC))
    assert deadline.due.tzinfo == LOCAL_TZ
    assert deadline.due == at(1, 5)
    with pytest.raises(ValueError):
        Deadline(datetime(2023, 5, 1, 10, 0))


# --------------------------------------------------------------------------- properties

_VOCABULARY = (
    "15/5 2023 15/5/2023 31/2 29/2/2024 17h 17h30 17:00 30 5 0 thứ sáu thu sau t2 cn chủ nhật"
    " tuần hàng năm tháng ngày cuối mai hôm nay này trước hạn lúc giờ chiều sáng h g : / - . ,"
    " mùng 24:00 99h tới đến"
).split()
_ZONES = [LOCAL_TZ, UTC, ZoneInfo("America/New_York"), ZoneInfo("Asia/Tokyo")]
_nows = st.datetimes(
    min_value=datetime(2000, 1, 1),
    max_value=datetime(2090, 12, 31),
    timezones=st.sampled_from(_ZONES),
)


@settings(max_examples=200, deadline=None)
@given(
    st.one_of(st.text(), st.lists(st.sampled_from(_VOCABULARY), max_size=7).map(" ".join)),
    _nows,
)
def test_never_raises_anything_else(text: str, now: datetime) -> None:
    try:
        deadline = parse_deadline(text, now)
    except DeadlineError as error:
        assert error.code in {"empty", "unrecognized", "no_such_date", "past", "needs_day"}
        return
    assert deadline.due > now
    assert deadline.due.tzinfo == LOCAL_TZ


@settings(max_examples=200, deadline=None)
@given(
    st.dates(min_value=date(2023, 5, 2), max_value=date(2099, 12, 31)),
    st.times().map(lambda t: t.replace(second=0, microsecond=0)),
)
def test_round_trip_dates(day: date, moment: time) -> None:
    assert due_of(f"{day.day}/{day.month}/{day.year}") == at(day.day, day.month, day.year)
    text = f"{day.day:02d}/{day.month:02d}/{day.year} {moment.hour:02d}:{moment.minute:02d}"
    expected = datetime.combine(day, moment, tzinfo=LOCAL_TZ)
    assert due_of(text) == expected
    hour, minute = moment.hour, moment.minute
    words = f"trước {hour}h{minute:02d} ngày {day.day} tháng {day.month} năm {day.year}"
    assert due_of(words) == expected


def _valid_recurrence(
    kind: str, month: int | None, day: int | None, weekday: int | None, at_: time
) -> Recurrence | None:
    try:
        return Recurrence(kind, month=month, day=day, weekday=weekday, at=at_)
    except ValueError:
        return None


def _shape(kind: str, month: int, day: int, weekday: int, at_: time) -> Recurrence | None:
    if kind == "yearly":
        return _valid_recurrence(kind, month, day, None, at_)
    if kind == "quarterly":
        return _valid_recurrence(kind, (month - 1) % 3 + 1, day, None, at_)
    if kind in ("half_yearly", "semester"):
        return _valid_recurrence(kind, (month - 1) % 6 + 1, day, None, at_)
    if kind == "monthly":
        return _valid_recurrence(kind, None, day, None, at_)
    return _valid_recurrence(kind, None, None, weekday, at_)


def _recurrences(times: st.SearchStrategy[time]) -> st.SearchStrategy[Recurrence]:
    return st.builds(
        _shape,
        st.sampled_from(["yearly", "half_yearly", "semester", "quarterly", "monthly", "weekly"]),
        st.integers(1, 12),
        st.integers(1, 31),
        st.integers(0, 6),
        times,
    ).filter(lambda r: r is not None)


valid_recurrences = _recurrences(st.times().map(lambda t: t.replace(microsecond=0)))
minute_recurrences = _recurrences(st.times().map(lambda t: t.replace(second=0, microsecond=0)))


@settings(max_examples=200)
@given(valid_recurrences)
def test_rule_round_trip(recurrence: Recurrence) -> None:
    assert Recurrence.from_rule(recurrence.to_rule()) == recurrence


def _occurrence_on(recurrence: Recurrence, due: datetime) -> bool:
    """True when `due` is a date/time the recurrence lands on (days clamped to month ends)."""
    if due.time() != recurrence.at:
        return False
    if recurrence.kind == "weekly":
        return due.weekday() == recurrence.weekday
    month_end = (due.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
    assert recurrence.day is not None
    if due.day != min(recurrence.day, month_end.day):
        return False
    if recurrence.kind == "quarterly":
        return (due.month - 1) % 3 + 1 == recurrence.month
    if recurrence.kind == "half_yearly":
        return (due.month - 1) % 6 + 1 == recurrence.month
    if recurrence.kind == "semester":  # August-January, February-July
        return (due.month - 8) % 6 + 1 == recurrence.month
    return recurrence.kind == "monthly" or due.month == recurrence.month


def _previous(recurrence: Recurrence, due: datetime) -> datetime:
    """The occurrence before `due`."""
    if recurrence.kind == "weekly":
        return due - timedelta(days=7)
    assert recurrence.day is not None
    if recurrence.kind == "yearly":
        year, month = due.year - 1, due.month
    elif recurrence.kind == "quarterly":
        year, month = (due.year, due.month - 3) if due.month > 3 else (due.year - 1, due.month + 9)
    elif recurrence.kind in ("half_yearly", "semester"):
        year, month = (due.year, due.month - 6) if due.month > 6 else (due.year - 1, due.month + 6)
    else:
        year, month = (due.year, due.month - 1) if due.month > 1 else (due.year - 1, 12)
    first = date(year, month, 1)
    last = ((first + timedelta(days=31)).replace(day=1) - timedelta(days=1)).day
    day = date(year, month, min(recurrence.day, last))
    return datetime.combine(day, recurrence.at, tzinfo=LOCAL_TZ)


@settings(max_examples=200)
@given(valid_recurrences, _nows)
def test_next_due_is_the_first_occurrence_after(recurrence: Recurrence, after: datetime) -> None:
    due = recurrence.next_due(after)
    assert due > after
    assert due.tzinfo == LOCAL_TZ
    assert _occurrence_on(recurrence, due)
    assert _previous(recurrence, due) <= after
    label = recurrence.period_label(due)
    if recurrence.kind == "yearly":
        assert label == str(due.year)
    elif recurrence.kind == "monthly":
        assert label == f"{due.month:02d}/{due.year}"
    elif recurrence.kind == "quarterly":
        assert label == f"Q{(due.month + 2) // 3}/{due.year}"
    elif recurrence.kind == "half_yearly":
        assert label == f"6 tháng {'đầu' if due.month <= 6 else 'cuối'} năm {due.year}"
    elif recurrence.kind == "semester":
        start = due.year if due.month >= 8 else due.year - 1
        half = "I" if due.month >= 8 or due.month == 1 else "II"
        assert label == f"học kỳ {half} năm học {start}-{start + 1}"
    else:
        monday = datetime.strptime(label, "%d/%m/%Y").date()
        assert monday.weekday() == 0
        assert 0 <= (due.date() - monday).days <= 6


@settings(max_examples=200)
@given(minute_recurrences, _nows)
def test_parsed_recurrences_match_next_due(recurrence: Recurrence, now: datetime) -> None:
    hhmm = f"{recurrence.at.hour}:{recurrence.at.minute:02d}"
    if recurrence.kind == "yearly":
        text = f"hàng năm {recurrence.day}/{recurrence.month} lúc {hhmm}"
    elif recurrence.kind == "monthly":
        text = f"ngày {recurrence.day} hàng tháng {hhmm}"
    elif recurrence.kind == "quarterly":
        assert recurrence.month is not None
        position = ["đầu", "giữa", "cuối"][recurrence.month - 1]
        text = f"hàng quý trước {hhmm} ngày {recurrence.day} tháng {position} quý"
    elif recurrence.kind in ("half_yearly", "semester"):
        assert recurrence.month is not None and recurrence.day is not None
        first = 1 if recurrence.kind == "half_yearly" else 8
        month = (first + recurrence.month - 2) % 12 + 1
        if recurrence.day > monthrange(2024, month)[1]:  # «31/6»: name the other half's month
            month = (month + 5) % 12 + 1
        words = "định kỳ 6 tháng" if recurrence.kind == "half_yearly" else "hàng học kỳ"
        text = f"{words} trước {hhmm} ngày {recurrence.day}/{month}"
    else:
        names = ["thứ hai", "thứ ba", "thứ tư", "thứ năm", "thứ sáu", "thứ bảy", "chủ nhật"]
        assert recurrence.weekday is not None
        text = f"{names[recurrence.weekday]} hàng tuần lúc {hhmm}"
    deadline = parse_deadline(text, now)
    assert deadline.recurrence == recurrence
    assert deadline.due == recurrence.next_due(now)


# --------------------------------------------------------------------------- messages


@pytest.mark.parametrize(
    ("text", "vi", "en"),
    [
        ("định kỳ hằng năm", "trước ngày 30/11", "yearly deadline"),
        ("hàng năm học", "trước ngày 30/11", "yearly deadline"),
        ("hàng tháng", "ngày 5 hàng tháng", "day of the month"),
        ("hàng tuần", "thứ sáu hàng tuần", "weekday"),
        ("mỗi quý", "tháng cuối quý", "quarterly deadline"),
        ("định kỳ 6 tháng", "trước ngày 15/6", "half-yearly deadline"),
        ("hàng học kỳ", "trước ngày 15/1", "each semester's deadline"),
    ],
)
def test_needs_day_asks_for_the_day(text: str, vi: str, en: str) -> None:
    from core.i18n import Translator
    from handlers.giao import deadline_error_text

    error = error_of(text)
    assert vi in deadline_error_text(Translator("vi"), error)
    assert en in deadline_error_text(Translator("en"), error)
