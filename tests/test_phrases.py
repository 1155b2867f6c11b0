"""Phrases as offices write them, one a row of tests/data/phrases.tsv, with what they mean.
Rows in NFD or without diacritics must mean what their NFC spelling means. Four kinds of rows:

- a deadline: the phrase, the moment it is read, the deadline meant (ISO) or the error code,
  and the recurrence rule (empty for none);
- `answer`, a principal's answer: the phrase, the moment, the kind of status (or `none`), a
  detail (the route; the percent; `until=ISO`; `late=N unit`) and, if given, the note ("-" for
  none; compared without case and diacritics, so the variants share it);
- `percent`, a bare figure after [Đang làm]: the phrase and the percent ("-" for none);
- `command`: the phrase and the command with its arguments, `? name args` for a suggestion,
  "-" for none.

Also: whatever the text, parse_deadline gives a Deadline or raises a DeadlineError."""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core import commands
from core.clock import LOCAL_TZ
from core.deadlines import DeadlineError, MondayToSaturday, parse_deadline
from core.statuses import parse_percent, parse_status
from core.text import fold
from core.workcal import WorkCalendar
from handlers.router import KNOWN

DATA = Path(__file__).parent / "data" / "phrases.tsv"
CODES = {"empty", "unrecognized", "no_such_date", "past", "needs_day"}
KINDS = {"answer": (4, 5), "percent": (2, 2), "command": (2, 2)}  # fields after the kind


def _rows() -> dict[str, list[tuple[int, ...]]]:
    rows: dict[str, list[tuple[int, ...]]] = {"deadline": [], **{kind: [] for kind in KINDS}}
    for number, line in enumerate(DATA.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t")
        if fields[0] in KINDS:
            low, high = KINDS[fields[0]]
            assert low <= len(fields) - 1 <= high, f"{DATA.name}:{number}: {line!r}"
            rows[fields[0]].append((number, *fields[1:]))
            continue
        if len(fields) == 3:  # an empty rule whose tab an editor trimmed
            fields.append("")
        assert len(fields) == 4, f"{DATA.name}:{number}: four tab-separated fields: {line!r}"
        rows["deadline"].append((number, *fields))
    return rows


TABLE = _rows()
ROWS = TABLE["deadline"]
PHRASES = [row[1] for row in ROWS]


def _params(kind: str) -> list:
    return [pytest.param(*row[1:], id=f"{row[0]}:{row[1]}") for row in TABLE[kind]]


@pytest.mark.parametrize(("phrase", "now", "expected", "rule"), _params("deadline"))
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


@pytest.mark.parametrize(("phrase", "now", "kind", "detail", "note"),
                         [pytest.param(*row[1:], *([None] if len(row) == 5 else []),
                                       id=f"{row[0]}:{row[1]}") for row in TABLE["answer"]])
def test_answer(phrase: str, now: str, kind: str, detail: str, note: str | None) -> None:
    answer = parse_status(phrase, datetime.fromisoformat(now))
    if kind == "none":
        assert answer is None
        return
    assert answer is not None and answer.kind == kind
    if kind == "done":
        assert (answer.route or "") == detail
    elif kind == "progress":
        assert answer.percent == (int(detail) if detail else None)
    elif kind == "extension":
        if detail.startswith("until="):
            assert answer.until is not None and answer.late_count is None
            assert answer.until.due == datetime.fromisoformat(detail.removeprefix("until="))
        else:
            count, unit = detail.removeprefix("late=").split()
            assert (answer.late_count, answer.late_unit, answer.until) == (int(count), unit, None)
    if note is not None:
        assert fold(answer.note) == fold("" if note == "-" else note)


@pytest.mark.parametrize(("phrase", "expected"), _params("percent"))
def test_bare_figure(phrase: str, expected: str) -> None:
    assert parse_percent(phrase) == (None if expected == "-" else int(expected))


@pytest.mark.parametrize(("phrase", "expected"), _params("command"))
def test_command(phrase: str, expected: str) -> None:
    found = commands.parse(phrase, KNOWN)
    if expected == "-":
        assert found is None
        return
    suggested = expected.startswith("? ")
    name, _, args = expected.removeprefix("? ").partition(" ")
    assert isinstance(found, commands.Suggestion if suggested else commands.Command)
    assert (found.name, unicodedata.normalize("NFC", found.args)) == (name, args)


def test_the_table_covers_its_variants() -> None:
    everything = [row[1] for kind in TABLE.values() for row in kind]
    assert len(everything) >= 300 and len(ROWS) >= 250
    # An editor that normalises the file to NFC would silently drop these.
    decomposed = [p for p in everything if not unicodedata.is_normalized("NFC", p)]
    assert len(decomposed) >= 40
    accented = {fold(p) for p in everything if not p.isascii()}
    plain = [p for p in everything if p.isascii() and fold(p) in accented]
    assert len(plain) >= 60
    assert len({(p, now) for _, p, now, _, _ in ROWS}) == len(ROWS), "a row is repeated"
    for kind in KINDS:
        assert len({row[1:3] for row in TABLE[kind]}) == len(TABLE[kind]), "a row is repeated"


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
