"""How principals actually answer: a report sent another way (e-mail, paper, the electronic
document system), an excuse or an extension in their own words, a bare figure after
[Đang làm] — the pure parsers, then what the principal is answered."""

from __future__ import annotations

import unicodedata
from datetime import date, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlmodel import select

from app.config import Settings
from core.clock import LOCAL_TZ
from core.deadlines import Deadline, MondayToSaturday
from core.giao_line import parse_giao_line
from core.statuses import StatusAnswer, late_until, parse_percent, parse_status
from core.text import fold
from core.workcal import WorkCalendar
from handlers.excuses import is_withdrawal
from storage.models import ExcuseRequest, ExtensionRequest, Submission, Target
from tests.seed import seeded_bot

NOW = datetime(2023, 11, 27, 8, 0, tzinfo=LOCAL_TZ)  # a Monday


def at(day: int, month: int, year: int = 2023, hour: int = 17) -> datetime:
    return datetime(year, month, day, hour, 0, tzinfo=LOCAL_TZ)


def variants(text: str) -> list[str]:
    """The text as typed, without diacritics, decomposed (NFD) and in capitals."""
    bare = "".join(c for c in unicodedata.normalize("NFD", text)
                   if not unicodedata.combining(c)).replace("đ", "d").replace("Đ", "D")
    return [text, bare, unicodedata.normalize("NFD", text), text.upper()]


def parse(text: str) -> StatusAnswer | None:
    return parse_status(text, NOW)


# --------------------------------------------------------------------------- sent another way


@pytest.mark.parametrize(
    ("text", "route"),
    [
        ("đã gửi qua email cho phòng rồi ạ", "email"),
        ("Dạ em đã gửi qua mail rồi ạ", "email"),
        ("Đã gửi báo cáo qua e-mail cho phòng ạ", "email"),
        ("gửi qua email rồi", "email"),
        ("we sent it by email", "email"),
        ("We emailed it", "email"),
        ("đã nộp bản giấy qua văn thư", "paper"),
        ("đã nộp bản giấy", "paper"),
        ("Trường đã gửi qua bưu điện rồi", "paper"),
        ("đã gửi qua hệ thống văn bản điện tử (iOffice) ngày 20/11", "eoffice"),
        ("đã gửi qua iOffice", "eoffice"),
        ("đã gửi qua Zalo cho cô rồi", "other"),
    ],
)
def test_sent_another_way(text: str, route: str) -> None:
    for form in variants(text):
        answer = parse(form)
        assert answer == StatusAnswer("done", note=form.strip(), route=route), form


@pytest.mark.parametrize(
    "text",
    ["gửi qua email", "đã gửi qua email chưa?", "đã gửi qua email nhưng bị lỗi",
     "em chưa gửi qua email được", "đã gửi qua"],
)
def test_not_sent_another_way(text: str) -> None:
    answer = parse(text)
    assert answer is None or answer.route is None


def test_plain_done_has_no_route() -> None:
    assert parse("đã gửi") == StatusAnswer("done")
    assert parse("Đã nộp rồi ạ.") == StatusAnswer("done")


# --------------------------------------------------------------------------- excuses


@pytest.mark.parametrize(
    ("text", "note"),
    [
        ("đề nghị miễn", ""),
        ("xin không báo cáo vì trường đã sáp nhập", "trường đã sáp nhập"),
        ("Trường em xin không nộp báo cáo này do không có khối 9",
         "không có khối 9"),
        ("Mặt trận không phải đơn vị thực hiện, đề nghị miễn",
         "Mặt trận không phải đơn vị thực hiện, đề nghị miễn"),
        ("exempt us because we have no grade 9", "we have no grade 9"),
        ("Please exempt us from this report because the school closed", "the school closed"),
    ],
)
def test_excuse_requests(text: str, note: str) -> None:
    for form, expected in zip(variants(text), variants(note), strict=True):
        answer = parse(form)
        assert answer is not None and answer.kind == "excuse", form
        assert fold(answer.note) == fold(expected), form


# --------------------------------------------------------------------------- extensions


@pytest.mark.parametrize(
    ("text", "days", "note"),
    [
        ("xin gửi muộn 2 ngày", 2, ""),
        ("Xin gửi muộn 2 ngày ạ", 2, ""),
        ("cho trường nộp chậm 3 ngày vì mất điện", 3, "mất điện"),
        ("xin gửi trễ 1 ngày làm việc do giáo viên ốm", 1, "giáo viên ốm"),
    ],
)
def test_late_by_days(text: str, days: int, note: str) -> None:
    for form, expected in zip(variants(text), variants(note), strict=True):
        answer = parse(form)
        assert answer is not None and answer.kind == "extension", form
        assert answer.late_count == days and answer.until is None, form
        assert fold(answer.note) == fold(expected), form


@pytest.mark.parametrize(
    ("text", "count", "unit", "note"),
    [
        ("xin gửi muộn 1 tuần", 1, "week", ""),
        ("Trường xin nộp chậm 2 tuần vì đang thi học kỳ", 2, "week", "đang thi học kỳ"),
        ("xin gửi muộn 1 tháng do chờ số liệu", 1, "month", "chờ số liệu"),
        ("xin gửi trễ 3 hôm", 3, "working_day", ""),
    ],
)
def test_late_by_weeks_or_months(text: str, count: int, unit: str, note: str) -> None:
    for form, expected in zip(variants(text), variants(note), strict=True):
        answer = parse(form)
        assert answer is not None and answer.kind == "extension", form
        assert (answer.late_count, answer.late_unit, answer.until) == (count, unit, None), form
        assert fold(answer.note) == fold(expected), form


@pytest.mark.parametrize(
    ("deadline", "count", "unit", "until"),
    [
        # Friday 5/5/2023: Saturday works (no calendar given: Monday to Saturday), Sunday not.
        (at(5, 5), 2, "working_day", at(8, 5)),
        (at(5, 5), 1, "week", at(12, 5)),  # Friday a week later
        (at(6, 5, hour=9), 1, "week", at(13, 5, hour=9)),  # the deadline's own time of day
        (at(30, 4), 1, "week", at(8, 5)),  # Sunday 7/5 is a day off: Monday 8/5
        (at(5, 5), 1, "month", at(5, 6)),
        (at(31, 1), 1, "month", at(28, 2)),  # no 31/2: the month's last day, a Tuesday
        (at(30, 9), 1, "month", at(30, 10)),
        (at(1, 10), 1, "month", at(1, 11)),
        (at(4, 3), 1, "month", at(4, 4)),
        (at(5, 3), 1, "month", at(5, 4)),
        (at(8, 3), 3, "month", at(8, 6)),
        (at(5, 11), 2, "week", at(20, 11)),  # Sunday 19/11: Monday 20/11
    ],
)
def test_late_until_counts_from_the_deadline(deadline: datetime, count: int, unit: str,
                                             until: datetime) -> None:
    assert late_until(deadline, count, unit, MondayToSaturday()) == until


def test_late_until_skips_holidays_of_the_work_calendar() -> None:
    # 23/4/2023 + 1 week = Sunday 30/4; 29/4 to 3/5 are the 2023 holidays, 4/5 a day off
    # from the configuration: Friday 5/5.
    calendar = WorkCalendar(extra_days_off=(date(2023, 5, 4),))
    assert late_until(at(23, 4), 1, "week", calendar) == at(5, 5)
    # 1 month after 29/12/2023 is Monday 29/1/2024, a working day.
    assert late_until(at(29, 12), 1, "month", calendar) == at(29, 1, 2024)


@pytest.mark.parametrize(
    ("text", "until", "note"),
    [
        ("dự kiến 2/12 gửi", at(2, 12), ""),
        ("Huyện đang tổng hợp, dự kiến 2/12 gửi", at(2, 12), "Huyện đang tổng hợp"),
        ("dự kiến gửi ngày 2/12", at(2, 12), ""),
        ("Trường đang chờ số liệu, dự kiến ngày 5/12 sẽ nộp ạ", at(5, 12),
         "Trường đang chờ số liệu"),
        ("xin nộp chậm đến 5/12 vì bận", at(5, 12), "bận"),
        ("please extend to 25/5 because of exams", at(25, 5, 2024), "exams"),
        ("Please extend the deadline to 4/12", at(4, 12), ""),
    ],
)
def test_extension_to_a_date(text: str, until: datetime, note: str) -> None:
    for form, expected in zip(variants(text), variants(note), strict=True):
        answer = parse(form)
        assert answer is not None and answer.kind == "extension", form
        assert answer.until == Deadline(until), form
        assert fold(answer.note) == fold(expected), form


@pytest.mark.parametrize("text", ["Dự kiến 2/12 họp", "dự kiến tuần sau"])
def test_dates_that_are_not_extensions(text: str) -> None:
    answer = parse(text)
    assert answer is None or answer.kind != "extension"


# --------------------------------------------------------------------------- bare figures


@pytest.mark.parametrize(
    ("text", "percent"),
    [("40", 40), ("40%", 40), ("40 %", 40), ("khoảng 40%", 40), ("được 40 phần trăm ạ", 40),
     ("0", 0), ("100", 100), (unicodedata.normalize("NFD", "khoảng 40 ạ"), 40)],
)
def test_bare_percent(text: str, percent: int) -> None:
    assert parse_percent(text) == percent


@pytest.mark.parametrize("text", ["", "101", "1000%", "bốn mươi", "40 ngày", "đã xong", "-40"])
def test_not_a_bare_percent(text: str) -> None:
    assert parse_percent(text) is None


# --------------------------------------------------------------------------- properties


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_any_text_gives_an_answer_or_none(text: str) -> None:
    answer = parse_status(text, NOW)
    assert answer is None or isinstance(answer, StatusAnswer)
    assert parse_percent(text) is None or 0 <= parse_percent(text) <= 100


_PIECES = (
    "đã gửi qua email bản giấy văn thư iOffice hệ thống văn bản điện tử rồi ạ xin gửi muộn "
    "2 ngày dự kiến 2/12 gửi nộp đề nghị miễn không báo cáo vì because exempt us please extend "
    "to 25/5 , . ( ) ? 40 %"
).split()


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(_PIECES), max_size=12).map(" ".join),
       st.sampled_from(["NFC", "NFD"]))
def test_phrase_soup_never_raises(text: str, form: str) -> None:
    answer = parse_status(unicodedata.normalize(form, text), NOW)
    assert answer is None or isinstance(answer, StatusAnswer)
    if answer is not None and answer.route is not None:
        assert answer.kind == "done" and answer.note
    if answer is not None and answer.late_count is not None:
        assert answer.kind == "extension" and answer.late_count > 0


_ALPHABET = "aăâbcdđeêghiklmnoôơpqrstuưvxyàáảãạầấậèéềếìíòóồốờớùúừứỳý AĐ0123456789,!()"
_WORDS = st.text(alphabet=st.sampled_from(_ALPHABET), min_size=1, max_size=30)


@settings(max_examples=200)
@given(_WORDS, st.sampled_from(["NFC", "NFD"]))
def test_late_reason_round_trip(words: str, form: str) -> None:
    reason = unicodedata.normalize(form, ("Trường " + words).strip())
    answer = parse(unicodedata.normalize(form, "xin gửi muộn 2 ngày vì ") + reason)
    assert answer == StatusAnswer("extension", note=reason, late_count=2)


@settings(max_examples=200)
@given(st.integers(0, 100), st.sampled_from(["{}", "{}%", "{} %", "khoảng {}%", "{} ạ"]))
def test_bare_percent_round_trip(percent: int, template: str) -> None:
    assert parse_percent(template.format(percent)) == percent


# --------------------------------------------------------------------------- /giao and /mien


def test_giao_part_that_is_not_a_field_is_kept_as_unknown() -> None:
    line = parse_giao_line("Báo cáo | gửi kèm đề cương | hạn 15/5 | đơn vị @THCS")
    assert line.unknown == ["gửi kèm đề cương"] and line.units == "@THCS"
    assert parse_giao_line("Báo cáo | hạn 15/5 | @THCS").units == "@THCS"
    assert parse_giao_line("Báo cáo | hạn 15/5 | @THCS").unknown == []
    assert parse_giao_line("Báo cáo | hạn 15/5 | gửi: @THCS, A").units == "@THCS, A"
    assert parse_giao_line("Báo cáo | hạn 15/5 | đơn vị A | @THCS").unknown == ["@THCS"]


@pytest.mark.parametrize("text", ["bỏ", "Bỏ miễn.", "huỷ bỏ", "Hủy bỏ", "thu hồi", "thu hoi",
                                  "REMOVE", unicodedata.normalize("NFD", "bỏ miễn")])
def test_whole_take_back_phrases(text: str) -> None:
    assert is_withdrawal(text)


@pytest.mark.parametrize("text", ["thử", "Thử", "thu", "bỏ học", "thử nghiệm", "huỷ tuyển sinh"])
def test_other_words_are_reasons(text: str) -> None:
    assert not is_withdrawal(text)


# ------------------------------------------------------------------- what the principal sees

START = datetime(2023, 5, 2, 8, 0, tzinfo=LOCAL_TZ)  # a Tuesday; the task is due Friday 5/5


def last_text(bot, user: str) -> str:
    return [m.text for m in bot.recorder.sent if m.chat_id == user][-1]


async def test_a_report_sent_by_email_is_acknowledged_with_its_route(settings: Settings) -> None:
    bot = await seeded_bot(settings, START)
    try:
        await bot.assign(START, "Thi đua | hạn 05/05/2023 | đơn vị A | nộp: tệp")
        await bot.say("ht_a", START, "Đã gửi qua email cho phòng rồi ạ")
        assert last_text(bot, "ht_a") == (
            "✅ Đã ghi nhận: Trường A đã nộp nhiệm vụ #1 «Thi đua» qua e-mail — đúng hạn.")
        async with bot.runtime.sessions() as session:
            target = (await session.exec(select(Target))).one()
            submission = (await session.exec(select(Submission))).one()
        assert target.state == "submitted" and target.on_time
        assert (submission.kind, submission.text) == ("done", "Đã gửi qua email cho phòng rồi ạ")
    finally:
        await bot.runtime.close()


async def test_an_excuse_in_the_principals_words(settings: Settings) -> None:
    bot = await seeded_bot(settings, START)
    try:
        await bot.assign(START, "Thi đua | hạn 05/05/2023 | đơn vị A")
        await bot.say("ht_a", START, "Mặt trận không phải đơn vị thực hiện, đề nghị miễn")
        assert last_text(bot, "ht_a").startswith("📨 Đã gửi đề nghị miễn nộp nhiệm vụ #1")
        assert "Lý do: Mặt trận không phải đơn vị thực hiện, đề nghị miễn" in last_text(
            bot, "staff")
        async with bot.runtime.sessions() as session:
            excuse = (await session.exec(select(ExcuseRequest))).one()
        assert excuse.reason == "Mặt trận không phải đơn vị thực hiện, đề nghị miễn"
    finally:
        await bot.runtime.close()


async def test_late_by_two_days_counts_working_days_from_the_deadline(settings: Settings) -> None:
    bot = await seeded_bot(settings, START)
    try:
        await bot.assign(START, "Thi đua | hạn 05/05/2023 | đơn vị A")
        await bot.say("ht_a", START, "xin gửi muộn 2 ngày")
        # Friday 5/5 + 2 working days: Saturday 6/5 works by default, Sunday 7/5 does not.
        answered = last_text(bot, "ht_a")
        assert answered.startswith("📨 Đã gửi đề nghị gia hạn nhiệm vụ #1 «Thi đua» đến ")
        assert "08/05/2023" in answered
        async with bot.runtime.sessions() as session:
            ext = (await session.exec(select(ExtensionRequest))).one()
        assert ext.requested_until.replace(tzinfo=None) == datetime(2023, 5, 8, 10, 0)  # UTC
    finally:
        await bot.runtime.close()


async def test_late_by_a_week_counts_from_the_deadline(settings: Settings) -> None:
    bot = await seeded_bot(settings, START)
    try:
        await bot.assign(START, "Thi đua | hạn 05/05/2023 | đơn vị A")
        await bot.say("ht_a", START, "xin gửi muộn 1 tuần vì đang thi")
        # Friday 5/5 + 7 days: Friday 12/5 at the deadline's time, not a week from today.
        answered = last_text(bot, "ht_a")
        assert answered.startswith("📨 Đã gửi đề nghị gia hạn nhiệm vụ #1 «Thi đua» đến ")
        assert "12/05/2023" in answered
        async with bot.runtime.sessions() as session:
            ext = (await session.exec(select(ExtensionRequest))).one()
        assert ext.requested_until.replace(tzinfo=None) == datetime(2023, 5, 12, 10, 0)  # UTC
        assert ext.reason == "đang thi"
    finally:
        await bot.runtime.close()


def test_dates_in_answers_use_the_calendar_and_the_school_year_given() -> None:
    now = datetime(2023, 5, 2, 8, 0, tzinfo=LOCAL_TZ)  # Tuesday; 3/5/2023 was a holiday
    text = "xin gia hạn trong vòng 5 ngày làm việc"
    assert parse_status(text, now).until == Deadline(at(8, 5))  # Monday to Saturday
    answer = parse_status(text, now, calendar=WorkCalendar())
    assert answer is not None and answer.until == Deadline(at(9, 5))
    answer = parse_status("xin gia hạn đến cuối năm học", now, school_year_end=(6, 30))
    assert answer is not None and answer.until == Deadline(at(30, 6))


async def test_an_extension_in_working_days_skips_the_holidays(settings: Settings) -> None:
    bot = await seeded_bot(settings, START)
    try:
        await bot.assign(START, "Thi đua | hạn 05/05/2023 | đơn vị A")
        await bot.say("ht_a", START, "xin gia hạn trong vòng 5 ngày làm việc vì chờ số liệu")
        assert "09/05/2023" in last_text(bot, "ht_a")  # 03/05/2023 was a public holiday
    finally:
        await bot.runtime.close()


async def test_a_bare_figure_after_the_in_progress_button(settings: Settings) -> None:
    bot = await seeded_bot(settings, START)
    try:
        await bot.assign(START, "Thi đua | hạn 05/05/2023 | đơn vị A")
        await bot.press("ht_a", START, "Đang làm")
        asked = last_text(bot, "ht_a")
        assert asked.startswith("📝 Đã ghi nhận: Trường A đang làm nhiệm vụ #1 «Thi đua». Đã làm "
                                "được bao nhiêu phần trăm?")
        assert " ." not in asked
        await bot.say("ht_a", START, "40")
        assert last_text(bot, "ht_a").startswith(
            "📝 Đã ghi nhận: Trường A đang làm nhiệm vụ #1 «Thi đua» 40%. ")
        async with bot.runtime.sessions() as session:
            target = (await session.exec(select(Target))).one()
        assert (target.state, target.percent) == ("in_progress", 40)
        await bot.say("ht_a", START, "60%")  # the question was answered: a normal status now
        assert "60%" in last_text(bot, "ht_a")
    finally:
        await bot.runtime.close()
