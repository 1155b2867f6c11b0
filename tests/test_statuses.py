"""Tests of core.statuses.parse_status."""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime, time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.clock import LOCAL_TZ
from core.deadlines import Deadline, DeadlineError
from core.statuses import StatusAnswer, parse_status

NOW = datetime(2023, 5, 1, 8, 0, tzinfo=LOCAL_TZ)  # a Monday


def at(day: int, month: int, year: int = 2023, hour: int = 17, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=LOCAL_TZ)


def parse(text: str) -> StatusAnswer | None:
    return parse_status(text, NOW)


# --------------------------------------------------------------------------- done / progress / …


@pytest.mark.parametrize(
    "text",
    [
        "đã xong",
        "xong",
        "Xong",
        "XONG",
        "xong rồi",
        "Xong rồi ạ!",
        "xong rồi ạ",
        "xong nhé",
        "xong a",
        "đã nộp",
        "Đã nộp rồi ạ.",
        "nộp rồi",
        "đã gửi",
        "đã hoàn thành",
        "hoàn thành",
        "da xong",
        "da nop",
        "hoan thanh",
        "  - Đã xong!!! ",
        "Dạ, em đã nộp rồi ạ",
        "Trường em đã hoàn thành báo cáo",
        "đã gửi báo cáo rồi ạ",
        "100%",
        "đang làm 100%",
        "đã làm được 100 %",
    ],
)
def test_done(text: str) -> None:
    assert parse(text) == StatusAnswer("done")


@pytest.mark.parametrize(
    ("text", "percent"),
    [
        ("đang làm 60%", 60),
        ("đang làm 60 %", 60),
        ("60%", 60),
        ("đã làm được 60%", 60),
        ("dang lam 60%", 60),
        ("Đang làm: 45% ạ", 45),
        ("đang làm được 5 phần trăm", 5),
        ("0%", 0),
        ("99%", 99),
        ("đang làm", None),
        ("Đang làm ạ", None),
        ("đang thực hiện", None),
        ("chưa xong", None),
    ],
)
def test_progress(text: str, percent: int | None) -> None:
    assert parse(text) == StatusAnswer("progress", percent=percent)


@pytest.mark.parametrize("text", ["101%", "đang làm 150%", "đang làm 1000 %"])
def test_impossible_percent(text: str) -> None:
    assert parse(text) is None


@pytest.mark.parametrize(
    "text",
    ["chưa làm được", "chưa làm", "chưa bắt đầu", "chua lam duoc", "Chưa làm được gì ạ"],
)
def test_not_started(text: str) -> None:
    assert parse(text) == StatusAnswer("not_started")


@pytest.mark.parametrize(
    "text",
    [
        "không có số liệu",
        "không phát sinh",
        "không có gì để báo cáo",
        "báo cáo không",
        "Báo cáo không ạ",
        "khong phat sinh",
        "Không phát sinh số liệu.",
    ],
)
def test_nil(text: str) -> None:
    assert parse(text) == StatusAnswer("nil")


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "...",
        "hello",
        "ok",
        "chưa nộp",
        "xong chưa?",
        "đã nộp?",
        "báo cáo không?",
        "Hôm qua tôi đi họp xong rồi về trường làm tiếp báo cáo",
        "Em làm xong phần 1 nhưng phần 2 còn thiếu số liệu của tổ chuyên môn",
        "không xong",
        "hỗ trợ",
        "gia hạnh",
    ],
)
def test_not_a_status(text: str) -> None:
    assert parse(text) is None


def test_unicode_forms() -> None:
    for form in ("NFC", "NFD", "NFKC", "NFKD"):
        assert parse(unicodedata.normalize(form, "ĐÃ HOÀN THÀNH")) == StatusAnswer("done")
        assert parse(unicodedata.normalize(form, "Đang làm 60%")) == StatusAnswer("progress", 60)


# --------------------------------------------------------------------------- help


@pytest.mark.parametrize(
    ("text", "note"),
    [
        ("cần hỗ trợ: Không đăng nhập được", "Không đăng nhập được"),
        ("cần hỗ trợ Không đăng nhập được", "Không đăng nhập được"),
        ("Cần giúp: biểu mẫu số 3 bị lỗi", "biểu mẫu số 3 bị lỗi"),
        ("cần hỗ trợ", ""),
        ("Cần hỗ trợ ạ", ""),
        ("can ho tro: file Excel loi", "file Excel loi"),
        ("cần hỗ trợ - Mẫu 2 thiếu cột?", "Mẫu 2 thiếu cột?"),
        ("  Em cần hỗ trợ về phần mềm  ", "về phần mềm"),
    ],
)
def test_help(text: str, note: str) -> None:
    assert parse(text) == StatusAnswer("help", note=note)


def test_help_note_keeps_the_written_form() -> None:
    text = unicodedata.normalize("NFD", "CẦN HỖ TRỢ: Lỗi Đăng Nhập")
    answer = parse(text)
    assert answer is not None and answer.kind == "help"
    assert answer.note == unicodedata.normalize("NFD", "Lỗi Đăng Nhập")


# --------------------------------------------------------------------------- extension


@pytest.mark.parametrize(
    ("text", "until", "note"),
    [
        ("xin gia hạn đến 12/5 vì Trường đang thi", at(12, 5), "Trường đang thi"),
        ("xin gia hạn đến ngày 12/5/2023 do Giáo viên ốm", at(12, 5), "Giáo viên ốm"),
        ("gia hạn đến 12/5", at(12, 5), ""),
        ("xin gia han den 12/5 vi thieu so lieu", at(12, 5), "thieu so lieu"),
        ("xin gia hạn đến 12/5 lý do: thiếu số liệu", at(12, 5), "thiếu số liệu"),
        ("xin gia hạn đến 12/5: thiếu số liệu", at(12, 5), "thiếu số liệu"),
        ("xin gia hạn đến 12/5 because of exams", at(12, 5), "exams"),
        ("xin gia hạn đến 12/5 17:30 vì bận", at(12, 5, minute=30), "bận"),
        ("xin gia hạn đến 12/5, trường đang thi", at(12, 5), "trường đang thi"),
        ("xin gia hạn đến 12/5 ạ", at(12, 5), ""),
        ("Cho em xin gia hạn đến thứ 6 tuần sau ạ", at(12, 5), ""),
        ("xin gia hạn 3 ngày", at(4, 5), ""),
        ("xin gia hạn thêm 3 ngày nữa vì bận", at(4, 5), "bận"),
        ("xin gia hạn 1 tuần", at(8, 5), ""),
    ],
)
def test_extension_with_date(text: str, until: datetime, note: str) -> None:
    assert parse(text) == StatusAnswer("extension", note=note, until=Deadline(until))


@pytest.mark.parametrize(
    ("text", "note"),
    [
        ("xin gia hạn", ""),
        ("Xin gia hạn ạ", ""),
        ("xin gia hạn vì Trường đang thi", "Trường đang thi"),
        ("xin gia hạn: Trường đang thi", "Trường đang thi"),
        ("xin gia hạn do thiếu người", "thiếu người"),
        ("xin gia hạn trường đang thi", "trường đang thi"),
        ("đề nghị gia hạn vì mất điện", "mất điện"),
    ],
)
def test_extension_without_date(text: str, note: str) -> None:
    assert parse(text) == StatusAnswer("extension", note=note)


def test_extension_with_unusable_date() -> None:
    past = parse("xin gia hạn đến 30/4/2023 vì bận")
    assert past == StatusAnswer(
        "extension", note="bận", until_error=DeadlineError("past", due=at(30, 4))
    )
    impossible = parse("xin gia hạn đến 31/2 vì bận")
    assert impossible is not None and impossible.until is None
    assert impossible.until_error == DeadlineError("no_such_date", day=31, month=2, year=None)
    vague = parse("xin gia hạn đến khi có số liệu")
    assert vague is not None and vague.kind == "extension" and vague.until is None
    assert vague.until_error is not None and vague.until_error.code == "unrecognized"


def test_extension_days_use_default_time_and_local_date() -> None:
    evening_utc = datetime(2023, 5, 1, 18, 0, tzinfo=UTC)  # 2 May 01:00 in Vietnam
    answer = parse_status("xin gia hạn 3 ngày", evening_utc, default_time=time(9, 0))
    assert answer == StatusAnswer("extension", until=Deadline(at(5, 5, hour=9)))


def test_extension_until_is_not_recurring() -> None:
    answer = parse("xin gia hạn đến thứ 6 hàng tuần")
    assert answer is not None and answer.until is not None
    assert answer.until.recurrence is None


# --------------------------------------------------------------------------- excuse


@pytest.mark.parametrize(
    ("text", "note"),
    [
        ("xin miễn nộp vì trường không có khối 9", "trường không có khối 9"),
        ("Xin miễn: không có học sinh khuyết tật", "không có học sinh khuyết tật"),
        ("Dạ trường em xin được miễn báo cáo này ạ: số liệu đã gửi Phòng",
         "số liệu đã gửi Phòng"),
        ("đề nghị cho miễn nhiệm vụ này do sáp nhập trường", "sáp nhập trường"),
        ("XIN MIEN NOP, LY DO: TRUONG DA GIAI THE", "TRUONG DA GIAI THE"),
        ("xin miễn ạ", ""),
        ("đề nghị miễn", ""),
        ("request an exemption because the school closed", "the school closed"),
        ("xin mien nop bao cao nay a vi truong khong co hs", "truong khong co hs"),
        ("Dạ thưa thầy, trường em xin miễn nộp vì sáp nhập", "sáp nhập"),
        ("Phòng xin miễn báo cáo này vì đã gộp", "đã gộp"),
        ("Trung tâm xin miễn nộp: không có học viên", "không có học viên"),
        ("de nghi cho phong duoc mien bao cao nay a", ""),
        ("miễn nộp ạ", ""),
        ("xin miễn trừ báo cáo vì trường mới thành lập", "trường mới thành lập"),
        ("exemption please", ""),
        ("we request an exemption because we closed", "we closed"),
    ],
)
def test_excuse(text: str, note: str) -> None:
    assert parse(text) == StatusAnswer("excuse", note=note)


@pytest.mark.parametrize(
    "text", ["miễn", "xin miễn giảm học phí cho học sinh nghèo", "đã được miễn chưa?",
             "học sinh được miễn học phí"],
)
def test_not_an_excuse(text: str) -> None:
    answer = parse(text)
    assert answer is None or answer.kind != "excuse"


# --------------------------------------------------------------------------- properties


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_never_raises(text: str) -> None:
    answer = parse_status(text, NOW)
    assert answer is None or isinstance(answer, StatusAnswer)


_PIECES = (
    "xin gia hạn đến 12/5 vì do : cần hỗ trợ xong rồi ạ đã nộp 60% 100% chưa làm"
    " không phát sinh 31/2 17:00 thứ 6 tuần sau , . - ? ngày 3"
).split()


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(_PIECES), max_size=10).map(" ".join))
def test_never_raises_on_phrase_soup(text: str) -> None:
    answer = parse_status(text, NOW)
    if answer is not None and answer.until is not None:
        assert answer.until.due > NOW


@settings(max_examples=200)
@given(
    st.integers(0, 99),
    st.sampled_from(["đang làm {}%", "đang làm {} %", "{}%", "Đã làm được {}%"]),
)
def test_percent_round_trip(percent: int, template: str) -> None:
    assert parse(template.format(percent)) == StatusAnswer("progress", percent=percent)


_ALPHABET = (
    "aăâbcdđeêghiklmnoôơpqrstuưvxyàáảãạằắẳẵặầấẩẫậèéẻẽẹềếểễệ"
    "ìíỉĩịòóỏõọồốổỗộờớởỡợùúủũụừứửữựỳýỷỹỵ AĐÊƠ0123456789,.!?()"
)
_WORDS = st.text(alphabet=st.sampled_from(_ALPHABET), min_size=1, max_size=40)


@settings(max_examples=200)
@given(_WORDS, st.sampled_from(["NFC", "NFD"]))
def test_help_note_round_trip(words: str, form: str) -> None:
    note = unicodedata.normalize(form, "Lỗi " + words).strip()
    answer = parse(unicodedata.normalize(form, "Cần hỗ trợ: ") + note)
    assert answer == StatusAnswer("help", note=note)


@settings(max_examples=200)
@given(_WORDS)
def test_extension_reason_round_trip(words: str) -> None:
    reason = ("Trường " + words).strip()
    answer = parse(f"Xin gia hạn đến 12/5/2023 vì {reason}")
    assert answer == StatusAnswer("extension", note=reason, until=Deadline(at(12, 5)))


@settings(max_examples=200)
@given(_WORDS, st.sampled_from(["NFC", "NFD"]))
def test_excuse_reason_round_trip(words: str, form: str) -> None:
    reason = unicodedata.normalize(form, ("Trường " + words).strip())
    answer = parse(unicodedata.normalize(form, "Xin miễn nộp vì ") + reason)
    assert answer == StatusAnswer("excuse", note=reason)


@settings(max_examples=200)
@given(_WORDS, _WORDS)
def test_xong_inside_a_sentence_is_not_a_status(before: str, after: str) -> None:
    text = f"Hôm nay trường {before} làm xong phần việc rồi nhưng còn {after} chưa gửi được"
    assert parse(text) is None


@pytest.mark.parametrize(
    ("text", "kind", "percent", "note"),
    [
        ("Done", "done", None, ""),
        ("finished", "done", None, ""),
        ("in progress 50%", "progress", 50, ""),
        ("In progress", "progress", None, ""),
        ("80% done", "progress", 80, ""),
        ("not started yet", "not_started", None, ""),
        ("Nothing to report", "nil", None, ""),
        ("I need help: the form will not open", "help", None, "the form will not open"),
        ("extension until 12/5 because of exams", "extension", None, "exams"),
    ],
)
def test_english_answers(text: str, kind: str, percent: int | None, note: str) -> None:
    """What users who switched to English (/ngonngu en) type, as their buttons say it."""
    answer = parse_status(text, NOW)
    assert answer is not None and (answer.kind, answer.percent, answer.note) == (
        kind, percent, note)
    if kind == "extension":
        assert answer.until is not None and answer.until.due.day == 12
