"""Every parser in `core/` against 10,000 generated texts each: any text, soups of the words
it reads, and real phrases cut and spliced. None may raise anything but its documented error,
and what it gives must hold together. The deadline parser's own run is in test_phrases.py.

Marked slow (CI runs them, `-m "not slow"` leaves them out locally); all together they take
well under a minute on one core."""

from __future__ import annotations

import unicodedata
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core import commands
from core.choices import chosen_index
from core.clock import LOCAL_TZ
from core.deadlines import MondayToSaturday, Recurrence
from core.durations import parse_duration
from core.giao_line import GiaoLine, parse_giao_line, parse_offsets, parse_requires
from core.periods import current_period, next_opening
from core.roles import INVITE_ALPHABET, INVITE_LENGTH, invite_code
from core.statuses import StatusAnswer, late_until, parse_percent, parse_status
from core.text import small_number
from core.unit_rows import UnitRow, header_map, to_row, validate
from core.workcal import WorkCalendar
from handlers.router import KNOWN

pytestmark = pytest.mark.slow
MANY = settings(max_examples=10_000, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


def soup(words: str, max_size: int = 10) -> st.SearchStrategy[str]:
    """Texts made of `words` (and bits of any text), in NFC or NFD, any case."""
    pieces = st.one_of(st.sampled_from(words.split()), st.text(max_size=3))
    joined = st.lists(pieces, max_size=max_size).map(" ".join)
    return st.tuples(joined, st.sampled_from(["NFC", "NFD"]), st.booleans()).map(
        lambda v: unicodedata.normalize(v[1], v[0].upper() if v[2] else v[0]))


def spliced(phrases: list[str]) -> st.SearchStrategy[str]:
    """A real phrase with something cut out of it or put into it."""
    return st.builds(
        lambda p, at, cut, insert: p[:at % (len(p) + 1)] + insert + p[at % (len(p) + 1) + cut:],
        st.sampled_from(phrases), st.integers(0, 200), st.integers(0, 5), st.text(max_size=4))


def texts(words: str, phrases: list[str]) -> st.SearchStrategy[str]:
    return st.one_of(st.text(max_size=120), soup(words), spliced(phrases))


_NOWS = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2090, 12, 31),
                     timezones=st.sampled_from([LOCAL_TZ, UTC, ZoneInfo("America/New_York")]))

# --------------------------------------------------------------------------- typed text
# One generated text goes through every parser of typed text: each still sees 10,000 texts,
# at a fraction of the time that a run per parser takes.

_WORDS = (
    # answers
    "đã gửi nộp xong hoàn thành báo cáo qua email e-mail bản giấy văn thư iOffice hệ thống văn"
    " bản điện tử rồi ạ nhé em trường đang làm 40 40% 100% phần trăm chưa cần hỗ trợ xin gia hạn"
    " đến 12/5 vì do lý do: miễn nộp đề nghị không báo cáo phát sinh gửi muộn chậm trễ 2 ngày"
    " tuần tháng làm việc dự kiến 2/12 huyện tổng hợp please extend to 25/5 because exempt us"
    " we sent it by email done , . ? ! - : ( ) …"
    # commands
    " /tiendo /tien do /tiến độ /tiendô tiến độ tiendo /giao /progress /assign /help /viec việc"
    " #1 #12 @baocao_bot /tiendp /giahan /mien /nhac nam truc thpt @THPT / # @"
    # /giao parts, durations, choices, invite codes
    " | hạn: hạn 15/5 đơn vị: @THCS tất cả nộp: tệp file cả hai both text chi tiết nhắc: 7,3,1"
    " kèm đề cương ; 0 61 1,1 3d 6h 30m 1d2h30m 2w W 99999999999 1. 2) +1 ² JBMF-L3HU jbmf l3hu"
)
_PHRASES = [
    "đã gửi qua email cho phòng rồi ạ", "đã nộp bản giấy qua văn thư", "Đã xong",
    "đã gửi qua hệ thống văn bản điện tử (iOffice) ngày 20/11", "đang làm 60%",
    "xin gia hạn đến 12/5 vì chờ số liệu", "xin gửi muộn 2 ngày", "xin gửi muộn 1 tuần",
    "Huyện đang tổng hợp, dự kiến 2/12 gửi", "xin không báo cáo vì trường đã sáp nhập",
    "Mặt trận không phải đơn vị thực hiện, đề nghị miễn", "please extend to 25/5 because of exams",
    "exempt us because we have no grade 9", "we sent it by email", "cần hỗ trợ: không mở được tệp",
    "không phát sinh số liệu", "40%", "khoảng 40 ạ",
    "/tiendo #1", "/tien do", "/tiến độ", "/tiendo#1", "tiến độ", "/progress #2",
    "/tiendo nam truc", "/giao Báo cáo NQ29 | hạn 15/5/2023 | đơn vị @THPT | nộp: tệp | nhắc 7,3,1",
    "Báo cáo | gửi kèm đề cương | hạn 15/5 | đơn vị @THCS", "Thi đua | @TH, A",
    "1d 2h30m", "2w", "2.", "JBMF-L3HU",
]


@MANY
@given(texts(_WORDS, _PHRASES), _NOWS, st.integers(0, 20))
def test_typed_text(text: str, now: datetime, count: int) -> None:
    answer = parse_status(text, now)
    if answer is not None:
        assert isinstance(answer, StatusAnswer)
        if answer.percent is not None:
            assert answer.kind == "progress" and 0 <= answer.percent < 100
        if answer.route is not None:
            assert answer.kind == "done" and answer.note
        if answer.late_count is not None:
            assert answer.kind == "extension" and answer.late_count > 0 and answer.until is None
        if answer.until is not None:
            assert answer.kind == "extension" and answer.until.due > now
        assert answer.until is None or answer.until_error is None
    percent = parse_percent(text)
    assert percent is None or 0 <= percent <= 100

    found = commands.parse(text, KNOWN)
    assert found is None or isinstance(found, commands.Command | commands.Suggestion)
    if isinstance(found, commands.Command):
        assert found.name in KNOWN
    if isinstance(found, commands.Suggestion):
        assert found.name in KNOWN or found.name == ""

    line = parse_giao_line(text)
    assert isinstance(line, GiaoLine) and line.title == text.split("|")[0].strip()
    assert all(isinstance(part, str) and part for part in line.unknown)
    assert parse_requires(text) is None or isinstance(parse_requires(text), str)
    offsets = parse_offsets(text)
    assert offsets is None or all(1 <= o <= 60 for o in offsets)
    assert offsets is None or offsets == sorted(set(offsets), reverse=True)

    try:
        assert parse_duration(text) > timedelta(0)
    except ValueError:
        pass
    index = chosen_index(text, count)
    assert index is None or 0 <= index < count
    number = small_number(text)
    assert number is None or number >= 0
    code = invite_code(text)
    assert code is None or (len(code) == INVITE_LENGTH and set(code) <= set(INVITE_ALPHABET))
    assert code is None or invite_code(code) == code


# --------------------------------------------------------------------------- unit rows

_CELLS = st.one_of(st.none(), st.integers(-5, 5), st.text(max_size=4),
                   st.sampled_from(["Mã đơn vị", "Tên đơn vị", "code", "name", "Loại", "Nhóm",
                                    "Đơn vị cấp trên", "parent", "A", "B", "SO", "THPT; PGD"]))


@MANY
@given(st.tuples(st.one_of(st.lists(_CELLS, max_size=5), st.permutations(
    ["Mã đơn vị", "Tên đơn vị", "Nhóm", "Đơn vị cấp trên", "Loại"])),
    st.lists(st.lists(_CELLS, max_size=5), max_size=4)).map(lambda v: [list(v[0]), *v[1]]),
       st.dictionaries(st.sampled_from(["A", "B", "SO", "C"]),
                       st.one_of(st.none(), st.sampled_from(["A", "B", "SO", "C"])), max_size=3))
def test_unit_rows(table: list[list[object]], existing: dict[str, str | None]) -> None:
    columns = header_map(table[0])
    if columns is None:
        return
    assert set(columns) >= {"code", "name"}
    rows = [to_row(number, cells, columns) for number, cells in enumerate(table[1:], start=2)]
    assert all(isinstance(row, UnitRow) for row in rows)
    problems = validate(rows, existing)
    assert all(p.row in {r.row for r in rows} or p.row == 0 for p in problems) or not rows


# --------------------------------------------------------------------------- periods


def _rule(kind: str, month: int, day: int, weekday: int, at: time) -> Recurrence | None:
    span = {"yearly": 12, "school_year": 12, "half_yearly": 6, "semester": 6, "quarterly": 3}
    try:
        if kind in span:
            return Recurrence(kind, month=(month - 1) % span[kind] + 1, day=day, at=at)
        if kind == "monthly":
            return Recurrence("monthly", day=day, at=at)
        return Recurrence("weekly", weekday=weekday, at=at)
    except ValueError:
        return None


_RULES = st.builds(
    _rule,
    st.sampled_from(["yearly", "school_year", "half_yearly", "semester", "quarterly", "monthly",
                     "weekly"]),
    st.integers(1, 12), st.integers(1, 31), st.integers(0, 6),
    st.times().map(lambda t: t.replace(second=0, microsecond=0)),
).filter(lambda rule: rule is not None)


_CALENDARS = st.sampled_from([MondayToSaturday(), WorkCalendar(),
                              WorkCalendar(saturday_off=True, extra_days_off=(date(2030, 1, 2),))])


@MANY
@given(_RULES, st.integers(0, 90 * 365 * 24 * 60), st.integers(0, 4000), st.integers(0, 400),
       st.integers(1, 99), st.sampled_from(["working_day", "week", "month"]), _CALENDARS)
def test_periods_and_days_late(rule: Recurrence, minutes: int, days: int, lead_days: int,
                               count: int, unit: str, calendar: WorkCalendar) -> None:
    """Recurrences and their periods; and «xin gửi muộn N ngày/tuần/tháng» after a deadline."""
    start = datetime(2000, 1, 1, tzinfo=UTC) + timedelta(minutes=minutes)
    until = late_until(start, count, unit, calendar)
    assert until > start and not calendar.is_day_off(until.date())
    local = start.astimezone(LOCAL_TZ)
    assert until.astimezone(LOCAL_TZ).time() == local.time()
    if unit == "week":
        assert 7 * count <= (until.date() - local.date()).days <= 7 * count + 14

    assert Recurrence.from_rule(rule.to_rule()) == rule
    first = rule.next_due(start)
    now = first + timedelta(days=days, minutes=7)
    lead = timedelta(days=lead_days)
    due = current_period(rule, first, now, lead)
    assert due >= first and (due == first or max(due - lead, first) <= now)
    assert next_opening(rule, first, now, lead) > now
    label = rule.period_label(due)
    assert label and len(label) <= 32  # Target.period
    assert rule.period_label(rule.next_due(due)) != label
