"""Deadline phrases as offices write them, one a row of tests/data/phrases.tsv: the phrase, the
moment it is read, the deadline meant (ISO) or the error code, and the recurrence rule (empty
for none). Rows in NFD or without diacritics must mean what their NFC spelling means.

Also: whatever the text, parse_deadline gives a Deadline or raises a DeadlineError."""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.clock import LOCAL_TZ
from core.deadlines import DeadlineError, MondayToSaturday, parse_deadline
from core.text import fold
from core.workcal import WorkCalendar

DATA = Path(__file__).parent / "data" / "phrases.tsv"
CODES = {"empty", "unrecognized", "no_such_date", "past", "needs_day"}


def _rows() -> list[tuple[int, str, str, str, str]]:
    rows = []
    for number, line in enumerate(DATA.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) == 3:  # an empty rule whose tab an editor trimmed
            fields.append("")
        assert len(fields) == 4, f"{DATA.name}:{number}: four tab-separated fields: {line!r}"
        rows.append((number, *fields))
    return rows


ROWS = _rows()
PHRASES = [row[1] for row in ROWS]


@pytest.mark.parametrize(
    ("phrase", "now", "expected", "rule"),
    [pytest.param(*row[1:], id=f"{row[0]}:{row[1]}") for row in ROWS],
)
def test_phrase(phrase: str, now: str, expected: str, rule: str) -> None:
    moment = datetime.fromisoformat(now)
    if expected in CODES:
        assert not rule, "an error row has no rule"
        with pytest.raises(DeadlineError) as caught:
            parse_deadline(phrase, moment)
        assert caught.value.code == expected
        return
    deadline = parse_deadline(phrase, moment)
    assert deadline.due == datetime.fromisoformat(expected)
    assert (deadline.recurrence.to_rule() if deadline.recurrence else "") == rule


def test_the_table_covers_its_variants() -> None:
    assert len(ROWS) >= 120
    # An editor that normalises the file to NFC would silently drop these.
    decomposed = [p for p in PHRASES if not unicodedata.is_normalized("NFC", p)]
    assert len(decomposed) >= 10
    accented = {fold(p) for p in PHRASES if not p.isascii()}
    plain = [p for p in PHRASES if p.isascii() and fold(p) in accented]
    assert len(plain) >= 10
    assert len({(p, now) for _, p, now, _, _ in ROWS}) == len(ROWS), "a row is repeated"


# --------------------------------------------------------------------------- any text

_WORDS = (
    "15/5 2023 15/5/2023 2023-05-15 31/2 29/2/2024 17h 17h30 17:00 30 5 0 3 12 thứ sáu thu"
    " t2 cn chủ nhật tuần hàng hằng mỗi năm học tháng quý ngày cuối đầu giữa mai hôm nay này"
    " sau tới trước hạn lúc giờ chiều sáng h g : / - . , ** __ * ( ) … – nữa trong vòng làm"
    " việc Tết Nguyên đán âm lịch định kỳ May 15th of due by III IV 24:00 99h đến hết"
    " học kỳ 6 sáu nửa một lần lần 1 đầu cuối năm"
).split()
_ZONES = [LOCAL_TZ, UTC, ZoneInfo("America/New_York"), ZoneInfo("Asia/Tokyo")]
_NOWS = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2090, 12, 31),
    timezones=st.sampled_from(_ZONES),
)
_CALENDARS = st.sampled_from(
    [None, MondayToSaturday(), WorkCalendar(), WorkCalendar(saturday_off=True)]
)


def _mutated(phrase: str, cut: int, insert: str) -> str:
    at = cut % (len(phrase) + 1)
    return phrase[:at] + insert + phrase[at:]


_TEXTS = st.one_of(
    st.text(),
    st.lists(st.sampled_from(_WORDS), max_size=8).map(" ".join),
    st.sampled_from(PHRASES),
    st.builds(_mutated, st.sampled_from(PHRASES), st.integers(0, 100),
              st.one_of(st.sampled_from(_WORDS).map(lambda w: f" {w} "), st.text(max_size=3))),
    st.sampled_from(PHRASES).map(lambda p: unicodedata.normalize("NFKD", p.upper())),
)


def _check(text: str, now: datetime, calendar: WorkCalendar | None) -> None:
    try:
        deadline = parse_deadline(text, now, time(17, 0), calendar)
    except DeadlineError as error:
        assert error.code in CODES
        return
    assert deadline.due > now
    assert deadline.due.tzinfo == LOCAL_TZ
    if deadline.recurrence is not None:
        rule = deadline.recurrence
        assert type(rule).from_rule(rule.to_rule()) == rule
        assert rule.next_due(now) == deadline.due
        assert rule.period_label(deadline.due)


_SETTINGS = {"deadline": None, "suppress_health_check": [HealthCheck.too_slow]}


@settings(max_examples=2000, **_SETTINGS)
@given(_TEXTS, _NOWS, _CALENDARS)
def test_any_text_gives_a_deadline_or_an_error(text: str, now: datetime, calendar) -> None:
    _check(text, now, calendar)


@pytest.mark.slow
@settings(max_examples=10_000, **_SETTINGS)
@given(_TEXTS, _NOWS, _CALENDARS)
def test_any_text_gives_a_deadline_or_an_error_many(text: str, now: datetime, calendar) -> None:
    _check(text, now, calendar)
