"""Deadlines as people type them in Vietnamese: "trước 17h ngày 15/5/2023", "thứ 6 tuần sau",
"30/11 hàng năm", "trong tháng 9/2023", "năm học 2023-2024", "trong vòng 5 ngày làm việc",
"trước Tết", "hàng quý trước ngày 20 tháng cuối quý", ... (and the plain ISO or English dates
pasted from other documents). Parsing is pure: errors carry a code and parameters, never a
sentence; the only outside knowledge is the holidays package's Tết days and the working
calendar the caller passes.
"""

from __future__ import annotations

import re
from calendar import monthrange
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache, partial
from typing import Any, Literal, Protocol, TypeGuard, cast

import holidays

from core.clock import LOCAL_TZ, to_local
from core.text import fold

RecurrenceKind = Literal[
    "yearly", "school_year", "half_yearly", "semester", "quarterly", "monthly", "weekly"
]
# rules "kind:MM-DD@HH:MM"; for the kinds of _SPAN, MM is the month within the period
_MONTH_DAY_KINDS = ("yearly", "school_year", "half_yearly", "semester", "quarterly")

# A school year (năm học) runs from August to the next summer: a deadline from August on
# belongs to the year that starts then, an earlier one to the year that started before.
SCHOOL_YEAR_FIRST_MONTH = 8
# "năm học 2023-2024" as a deadline means the end of that school year: 31 May of its second
# calendar year, the date by which the ministry's yearly timetable ends every school year's
# teaching (June and July are the summer before the next one starts in August).
SCHOOL_YEAR_END = (5, 31)  # month, day

_MAX_TEXT = 300  # longer texts are not deadlines; also bounds the regex work


# --------------------------------------------------------------------------- value objects


def _month_length(year: int, month: int) -> int:
    return monthrange(year, month)[1]


def _is_int(value: object) -> TypeGuard[int]:
    return type(value) is int


def _valid_day_month(day: int, month: int) -> bool:
    """True when day/month exists in some year (29/02 included)."""
    return 1 <= month <= 12 and 1 <= day <= _month_length(2000, month)


def _local_at(day: date, at: time) -> datetime:
    return datetime.combine(day, at.replace(tzinfo=None), tzinfo=LOCAL_TZ)


def _clamped(year: int, month: int, day: int) -> date:
    """date(year, month, day), with a day past the month's end moved to its last day."""
    return date(year, month, min(day, _month_length(year, month)))


def _add_months(year: int, month: int, count: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) + count
    return index // 12, index % 12 + 1


def _quarter_start(month: int) -> int:
    """The first month (1, 4, 7, 10) of the quarter `month` is in."""
    return month - (month - 1) % 3


# Kinds whose periods are a few months long: (months, first month of a period). A half year
# runs January-June and July-December; a semester (học kỳ) is half of a school year:
# August-January (học kỳ I) and February-July (học kỳ II).
_SPAN = {"quarterly": (3, 1), "half_yearly": (6, 1), "semester": (6, SCHOOL_YEAR_FIRST_MONTH)}


def _period_start(kind: str, year: int, month: int) -> tuple[int, int]:
    """(year, month) of the first month of the `kind` period that year/month is in."""
    length, first = _SPAN[kind]
    index = year * 12 + month - 1
    start = index - (index - (first - 1)) % length
    return start // 12, start % 12 + 1


@dataclass(frozen=True)
class Recurrence:
    """A repeating deadline: every year (or school year) on month/day, every quarter on a day
    of its first, second or third month, every month on day, or every weekday. A school year
    recurs like a year but its periods are school years."""

    kind: RecurrenceKind
    month: int | None = None  # yearly, school_year; quarterly, ...: the month in the period
    day: int | None = None  # all but weekly; past the month's end: its last day
    weekday: int | None = None  # weekly, 0 = Monday
    at: time = time(17, 0)  # time of day of each deadline

    def __post_init__(self) -> None:
        if not self._fields_fit_kind():
            raise ValueError(f"invalid recurrence: {self!r}")
        if not isinstance(self.at, time) or self.at.tzinfo is not None or self.at.microsecond:
            raise ValueError(f"recurrence time must be naive, whole seconds: {self.at!r}")

    def _fields_fit_kind(self) -> bool:
        month, day, weekday = self.month, self.day, self.weekday
        if self.kind in ("yearly", "school_year"):
            return (
                weekday is None and _is_int(month) and _is_int(day) and _valid_day_month(day, month)
            )
        if self.kind in _SPAN:
            return (
                weekday is None and _is_int(month) and 1 <= month <= _SPAN[self.kind][0]
                and _is_int(day) and 1 <= day <= 31
            )
        if self.kind == "monthly":
            return month is None and weekday is None and _is_int(day) and 1 <= day <= 31
        if self.kind == "weekly":
            return month is None and day is None and _is_int(weekday) and 0 <= weekday <= 6
        return False

    def next_due(self, after: datetime) -> datetime:
        """First deadline strictly after `after` (aware, in LOCAL_TZ; naive `after` is UTC)."""
        after = to_local(after)
        today = after.date()
        candidates: list[date]
        if self.kind in ("yearly", "school_year"):
            assert self.month is not None and self.day is not None
            candidates = [_clamped(y, self.month, self.day) for y in (today.year, today.year + 1)]
        elif self.kind in _SPAN:
            assert self.month is not None and self.day is not None
            length = _SPAN[self.kind][0]
            year, first = _period_start(self.kind, today.year, today.month)
            candidates = [
                _clamped(*_add_months(year, first, step + self.month - 1), self.day)
                for step in (0, length)
            ]
        elif self.kind == "monthly":
            assert self.day is not None
            candidates = [
                _clamped(*_add_months(today.year, today.month, step), self.day) for step in (0, 1)
            ]
        else:
            assert self.weekday is not None
            week_day = today + timedelta(days=(self.weekday - today.weekday()) % 7)
            candidates = [week_day, week_day + timedelta(days=7)]
        for candidate in candidates:
            due = _local_at(candidate, self.at)
            if due > after:
                return due
        raise AssertionError("unreachable: the second candidate is always later")

    def period_label(self, due: datetime) -> str:
        """Label of the period a deadline belongs to: "2024", "năm học 2024-2025", "Q4/2024",
        "11/2024" or the week's Monday "11/11/2024"."""
        due = to_local(due)
        if self.kind == "yearly":
            return str(due.year)
        if self.kind == "school_year":
            start = due.year if due.month >= SCHOOL_YEAR_FIRST_MONTH else due.year - 1
            return f"năm học {start}-{start + 1}"
        if self.kind == "quarterly":
            return f"Q{(due.month - 1) // 3 + 1}/{due.year}"
        if self.kind == "half_yearly":
            return f"6 tháng {'đầu' if due.month <= 6 else 'cuối'} năm {due.year}"
        if self.kind == "semester":
            year, first = _period_start("semester", due.year, due.month)
            if first == SCHOOL_YEAR_FIRST_MONTH:
                return f"học kỳ I năm học {year}-{year + 1}"
            return f"học kỳ II năm học {year - 1}-{year}"
        if self.kind == "monthly":
            return f"{due.month:02d}/{due.year}"
        monday = due.date() - timedelta(days=due.weekday())
        return f"{monday.day:02d}/{monday.month:02d}/{monday.year}"

    def to_rule(self) -> str:
        """Compact storable form: "yearly:11-30@17:00", "school_year:05-31@17:00",
        "quarterly:03-20@17:00" (day 20 of each quarter's third month), "half_yearly:06-15@17:00"
        (15/6 and 15/12), "semester:06-15@17:00" (15/1 and 15/7), "monthly:5@17:00",
        "weekly:4@17:00"."""
        at = f"{self.at.hour:02d}:{self.at.minute:02d}"
        if self.at.second:
            at += f":{self.at.second:02d}"
        if self.kind in _MONTH_DAY_KINDS:
            return f"{self.kind}:{self.month:02d}-{self.day:02d}@{at}"
        if self.kind == "monthly":
            return f"monthly:{self.day}@{at}"
        return f"weekly:{self.weekday}@{at}"

    @classmethod
    def from_rule(cls, rule: str) -> Recurrence:
        """Inverse of `to_rule`; raises ValueError on a malformed rule."""
        match = _RULE.fullmatch(rule.strip()) if isinstance(rule, str) else None
        if match is None:
            raise ValueError(f"malformed recurrence rule: {rule!r}")
        kind, month, day, number, hour, minute, second = match.groups()
        if (kind in _MONTH_DAY_KINDS) != (month is not None):
            raise ValueError(f"malformed recurrence rule: {rule!r}")
        try:
            at = time(int(hour), int(minute), int(second or 0))
        except ValueError as exc:
            raise ValueError(f"bad time in recurrence rule: {rule!r}") from exc
        if kind in _MONTH_DAY_KINDS:
            return cls(cast(RecurrenceKind, kind), month=int(month), day=int(day), at=at)
        if kind == "monthly":
            return cls("monthly", day=int(number), at=at)
        return cls("weekly", weekday=int(number), at=at)


_RULE = re.compile(
    r"(yearly|school_year|half_yearly|semester|quarterly|monthly|weekly):(?:([0-9]{1,2})-([0-9]{1,2})|([0-9]{1,2}))"
    r"@([0-9]{1,2}):([0-9]{2})(?::([0-9]{2}))?"
)


@dataclass(frozen=True)
class Deadline:
    """A deadline moment (aware, LOCAL_TZ), possibly the current occurrence of a recurrence."""

    due: datetime
    recurrence: Recurrence | None = None

    def __post_init__(self) -> None:
        if self.due.tzinfo is None or self.due.utcoffset() is None:
            raise ValueError("Deadline.due must be timezone-aware")
        object.__setattr__(self, "due", self.due.astimezone(LOCAL_TZ))


class DeadlineError(ValueError):
    """Why a text is not a usable deadline.

    Codes: "empty"; "unrecognized"; "no_such_date" (params day, month, year; month/year may be
    None when the text did not give them); "past" (param due: the aware moment meant);
    "needs_day" (param kind: the RecurrenceKind named, as in "hằng năm", without its day).
    """

    def __init__(self, code: str, **params: Any) -> None:
        super().__init__(code, params)
        self.code = code
        self.params = params

    def __str__(self) -> str:
        return f"{self.code} {self.params}" if self.params else self.code

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, DeadlineError):
            return NotImplemented
        return (self.code, self.params) == (other.code, other.params)

    def __hash__(self) -> int:
        return hash(self.code)

    def __reduce__(self) -> tuple[Any, ...]:
        return (partial(DeadlineError, self.code, **self.params), ())


class WorkingDays(Protocol):
    """The working calendar that "5 ngày làm việc" counts in (core.workcal.WorkCalendar)."""

    def is_day_off(self, day: date) -> bool: ...

    def next_working_day(self, day: date) -> date:
        """`day` itself when it is a working day, else the first working day after it."""
        ...


class MondayToSaturday:
    """The working week when no calendar is given: every day but Sunday."""

    def is_day_off(self, day: date) -> bool:
        return day.weekday() == 6

    def next_working_day(self, day: date) -> date:
        return day + timedelta(days=1) if self.is_day_off(day) else day


# --------------------------------------------------------------------------- patterns
# All patterns run on folded text (lower case, no diacritics, single spaces). Each recognised
# piece is replaced by _MARK so that what remains can be checked to be only filler words.

_MARK = "\x00"
_NEXT = r"sau|toi|ke tiep|tiep theo"

_RECURRING = re.compile(  # "hằng năm", "mỗi quý", "định kỳ 6 tháng", "hàng học kỳ"
    r"(?<!\w)(?:(?:hang|moi|dinh ky|dinh ki) (?P<half>6 thang|sau thang|nua nam)(?: (?:1|mot) lan)?"
    r"|(?:hang|moi|dinh ky|dinh ki|theo) (?P<semester>hoc ky|hoc ki)"
    r"|(?P<half_once>6 thang|sau thang|nua nam) (?:1|mot) lan"
    r"|(?:hang|moi) (?P<unit>nam hoc|nam|quy|thang|tuan))(?!\w)"
)
# "6 tháng đầu năm (2024)": the half year reported on; its end when no day is given.
_HALF_YEAR = re.compile(
    r"(?<!\w)(?:(?:trong|het|cuoi) )?(?:6|sau) thang (?P<half>dau|cuoi) nam"
    r"(?: (?:nay|(?P<year>[0-9]{4})))?(?![\w/])"
)
# Markdown emphasis pasted from a document: "trước **ngày 08/5/2023**", "__15/5__", "*15/5*".
_EMPHASIS = re.compile(r"\*+|_{2,}")
# "2023-05-15T17:00": the T between an ISO date and its time reads as a space.
_ISO_T = re.compile(r"(?<=[0-9]{4}-[0-9]{2}-[0-9]{2})t(?=[0-9]{1,2}:)")
_DATE_ISO = re.compile(
    r"(?<![\w/:.\-])([0-9]{4})([/\-])([0-9]{1,2})\2([0-9]{1,2})(?![\w/:]|[.\-][0-9])"
)
_TIME = re.compile(
    r"(?<![\w/:])(?<![0-9][.\-])(?:"
    r"(?P<ch>[0-9]{1,2}):(?P<cm>[0-9]{2})"
    r"|(?P<hh>[0-9]{1,2}) ?(?:h|g|gio)"
    r"(?: ?(?P<hm>[0-9]{1,2})(?![0-9]|[/.\-][0-9]| ?thang(?!\w))(?: ?(?:phut|p))?)?"
    r")(?![\w/:]|[.\-][0-9])(?: (?P<period>sang|trua|chieu|toi))?(?!\w)"
)
_DATE_NUMERIC = re.compile(
    r"(?<![\w/:])(?<![0-9][.\-])([0-9]{1,2})([/.\-])([0-9]{1,2})(?:\2([0-9]{4}|[0-9]{2}))?"
    r"(?![0-9])(?![/.\-][0-9])"
)
_DATE_WORDS = re.compile(
    r"(?<!\w)([0-9]{1,2}) thang ([0-9]{1,2})(?: nam ([0-9]{4}|[0-9]{2})|[ /]([0-9]{4}))?"
    r"(?![0-9])"
)
_ENGLISH_MONTHS = {
    name: number
    for number, names in enumerate(
        [
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sept", "sep"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ],
        start=1,
    )
    for name in names
}
_MONTH_NAME = "|".join(sorted(_ENGLISH_MONTHS, key=len, reverse=True))
_ORDINAL = "(?:st|nd|rd|th)?"
_DATE_ENGLISH = re.compile(  # "15 May 2023", "May 15, 2023", "15th of May"
    rf"(?<![\w/:])(?:(?P<d1>[0-9]{{1,2}}){_ORDINAL}(?: of)? (?P<m1>{_MONTH_NAME})"
    rf"|(?P<m2>{_MONTH_NAME})\.? (?P<d2>[0-9]{{1,2}}){_ORDINAL})"
    r"(?:\.? (?P<year>[0-9]{4}))?(?![\w/:])"
)
_SCHOOL_YEARS = r"(?P<first>[0-9]{4}) ?[\-/\u2013\u2014] ?(?P<second>[0-9]{4}|[0-9]{2})"
_SCHOOL_YEAR = re.compile(  # "năm học 2023-2024", "cuối năm học", "trong năm học này"
    rf"(?<!\w)(?P<edge>(?:cuoi|trong|het) )?nam hoc(?: (?P<this>nay)| {_SCHOOL_YEARS})?(?![\w/])"
)
_QUARTER_MONTH = r"(?P<position>dau|giua|cuoi|thu (?:nhat|hai|ba|[1-3]))"
_QUARTER_DAY = re.compile(  # "ngày 20 tháng cuối quý", "tháng đầu quý sau"
    r"(?<!\w)(?:(?:ngay )?(?P<day>[0-9]{1,2}) (?:cua )?)?"
    rf"thang {_QUARTER_MONTH} (?:cua )?quy(?: (?P<which>nay|{_NEXT}))?(?!\w)"
)
_QUARTER_END = re.compile(rf"(?<!\w)(?:cuoi|het) quy(?: (?P<which>nay|{_NEXT}))?(?!\w)")
_QUARTER = re.compile(  # "quý 2/2023", "trong quý III năm 2023": the quarter's last day
    r"(?<!\w)(?:(?:trong|cuoi|het) )?quy (?P<quarter>[1-4]|iv|i{1,3})"
    r"(?:(?: nam |/|-| )(?P<year>[0-9]{4}))?(?![\w/])"
)
_MONTH_END = re.compile(
    rf"(?<!\w)cuoi thang(?: (?P<which>nay|{_NEXT})"
    r"|(?: |/)(?P<month>[0-9]{1,2})(?:(?: nam |/)(?P<year>[0-9]{4}))?)?(?![\w/])"
)
_MONTH_IN = re.compile(  # "trong tháng 8/2021", "tháng 9 năm 2021", "trong tháng này"
    r"(?<!\w)(?:"
    r"(?:(?:trong|het) )?thang (?P<month>[0-9]{1,2})(?:(?: nam |/|-| )(?P<year>[0-9]{4}))?"
    rf"|(?:trong|het) thang(?: (?P<which>nay|{_NEXT}))?(?! ?[0-9])"
    r")(?![\w/])"
)
_YEAR_IN = re.compile(  # "năm 2023", "trong năm 2024", "trong năm nay"
    r"(?<!\w)(?:"
    r"(?:(?:trong|het) )?nam (?P<year>[0-9]{4})"
    rf"|(?:trong|het) nam(?: (?P<which>nay|{_NEXT}))?(?! ?[0-9])"
    r")(?![\w/])"
)
_YEAR_END = re.compile(rf"(?<!\w)cuoi nam(?: (?P<which>nay|{_NEXT})| (?P<year>[0-9]{{4}}))?(?!\w)")
_WEEK_END = re.compile(rf"(?<!\w)cuoi tuan(?: (?P<which>nay|{_NEXT}))?(?!\w)")
_RELATIVE = re.compile(r"(?<!\w)(hom nay|ngay mai|mai|ngay kia|ngay mot)(?!\w)")
_WEEKDAY = re.compile(
    r"(?<!\w)(?P<day>thu (?:hai|ba|tu|nam|sau|bay)|chu nhat|thu ?[2-7]|t[2-7]|cn)"
    rf"(?: tuan (?P<which>nay|{_NEXT}))?(?!\w)"
)
_COUNT = re.compile(  # "3 ngày nữa", "1 tuần", "trong vòng 5 ngày làm việc" (not "ngày 11 ngày")
    r"(?<!\w)(?<!ngay )(?<!mung )(?<!mong )(?:(?:trong vong|trong|sau) )?(?P<count>[0-9]{1,3}) "
    r"(?P<unit>ngay lam viec|ngay|tuan|thang)(?: (?:nua|toi))?"
    r"(?: ke tu (?:bay gio|ngay nhan(?: duoc)?(?: (?:van ban|cong van))?))?(?!\w)"
)
_TET = re.compile(  # "trước Tết", "trước Tết Nguyên đán (năm) 2024"
    r"(?<!\w)tet(?: (?:nguyen dan|am lich|co truyen))?(?: (?:nam )?(?P<year>[0-9]{4}))?(?![\w/])"
)
_NEXT_WEEK = re.compile(rf"(?<!\w)tuan (?:{_NEXT})(?!\w)")
_DAY_OF_MONTH = re.compile(r"(?<!\w)(?:ngay|mung|mong) ([0-9]{1,2})(?![\w/:]|[.\-][0-9])")

_FILLER = re.compile(
    r"(?<!\w)(?:"
    r"han chot|han nop(?: bao cao)?|han|truoc ngay|truoc|den het ngay|den het|den ngay|den"
    r"|cham nhat|muon nhat|vao ngay|vao|luc|trong ngay|ngay|dinh ky|dinh ki|het|la"
    r"|due|deadline|no later than|before|until|by|on|at"
    rf"|toi(?= (?:ngay )?{_MARK})"
    r")(?!\w)"
)
_LEFTOVER = re.compile(rf"[\s{_MARK},;:.!\-\u2013\u2014\u2026()]*")

_PIECES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("recurring", _RECURRING),
    ("iso", _DATE_ISO),
    ("time", _TIME),
    ("numeric", _DATE_NUMERIC),
    ("words", _DATE_WORDS),
    ("english", _DATE_ENGLISH),
    ("tet", _TET),  # before year_in: "Tết năm 2024" is one piece
    ("half_year", _HALF_YEAR),  # before count: "6 tháng đầu năm" is no count of months
    ("school_year", _SCHOOL_YEAR),
    ("quarter_day", _QUARTER_DAY),  # before month_end, month_in and weekday ("tháng thứ 2")
    ("quarter_end", _QUARTER_END),
    ("quarter", _QUARTER),
    ("month_end", _MONTH_END),
    ("month_in", _MONTH_IN),
    ("year_end", _YEAR_END),
    ("year_in", _YEAR_IN),
    ("week_end", _WEEK_END),
    ("relative", _RELATIVE),
    ("weekday", _WEEKDAY),
    ("count", _COUNT),
    ("next_week", _NEXT_WEEK),
    ("day_of_month", _DAY_OF_MONTH),
)
_DATE_PIECES = (
    "iso",
    "numeric",
    "words",
    "english",
    "school_year",
    "quarter_day",
    "quarter_end",
    "quarter",
    "month_end",
    "month_in",
    "year_end",
    "year_in",
    "week_end",
    "relative",
    "tet",
    "count",
    "next_week",
    "day_of_month",
)

_WEEKDAY_NAMES = {"hai": 0, "ba": 1, "tu": 2, "nam": 3, "sau": 4, "bay": 5}


def _recurring_kind(match: re.Match[str]) -> RecurrenceKind:
    if match.group("half") or match.group("half_once"):
        return "half_yearly"
    if match.group("semester"):
        return "semester"
    return _RECURRING_KINDS[match.group("unit")]

_RECURRING_KINDS: dict[str, RecurrenceKind] = {
    "nam hoc": "school_year",
    "nam": "yearly",
    "quy": "quarterly",
    "thang": "monthly",
    "tuan": "weekly",
}
_QUARTER_POSITIONS = {"dau": 1, "nhat": 1, "1": 1, "giua": 2, "hai": 2, "2": 2,
                      "cuoi": 3, "ba": 3, "3": 3}
_ROMAN = {"i": 1, "ii": 2, "iii": 3, "iv": 4}
_RELATIVE_DAYS = {"hom nay": 0, "ngay mai": 1, "mai": 1, "ngay kia": 2, "ngay mot": 2}
_FRIDAY = 4


# --------------------------------------------------------------------------- parsing


def parse_deadline(
    text: str,
    now: datetime,
    default_time: time = time(17, 0),
    calendar: WorkingDays | None = None,
    school_year_end: tuple[int, int] = SCHOOL_YEAR_END,
) -> Deadline:
    """Parse a deadline typed by a person, relative to `now` (aware; naive is taken as UTC).

    `calendar` says which days are working days ("5 ngày làm việc", "trước Tết"); without one
    every day but Sunday is. `school_year_end` (month, day; January to July) is the day
    "năm học 2023-2024" ends in its second year. Raises DeadlineError (and nothing else) for
    any text that is not a usable deadline.
    """
    workdays = calendar if calendar is not None else MondayToSaturday()
    if not (1 <= school_year_end[0] < SCHOOL_YEAR_FIRST_MONTH
            and _valid_day_month(school_year_end[1], school_year_end[0])):
        raise ValueError(f"school_year_end: expected (month 1-7, day), got {school_year_end!r}")
    try:
        return _parse(
            text, to_local(now), default_time.replace(tzinfo=None, microsecond=0), workdays,
            school_year_end,
        )
    except DeadlineError:
        raise
    except (ValueError, OverflowError) as exc:  # e.g. a year out of datetime's range
        raise DeadlineError("unrecognized") from exc


def _parse(text: str, now: datetime, default_time: time, workdays: WorkingDays,
           school_year_end: tuple[int, int]) -> Deadline:
    folded = fold(text)
    if not folded:
        raise DeadlineError("empty")
    if len(folded) > _MAX_TEXT:
        raise DeadlineError("unrecognized")
    rest = _ISO_T.sub(" ", _EMPHASIS.sub(" ", folded))
    rest = re.sub(r"[\x00-\x1f,;()\[\]]+", " ", rest)
    rest = " ".join(rest.split())

    found: dict[str, list[re.Match[str]]] = {}
    for name, pattern in _PIECES:
        matches = list(pattern.finditer(rest))
        if matches:
            found[name] = matches
            rest = pattern.sub(_MARK, rest)
    rest = _FILLER.sub(" ", rest)
    if not _LEFTOVER.fullmatch(rest):
        raise DeadlineError("unrecognized")

    dates = [(name, m) for name in _DATE_PIECES for m in found.get(name, [])]
    weekdays = found.get("weekday", [])
    times = found.get("time", [])
    recurring = found.get("recurring", [])
    if len(dates) > 1 or len(weekdays) > 1 or len(times) > 1 or len(recurring) > 1:
        raise DeadlineError("unrecognized")
    halves = found.get("half_year", [])
    if len(halves) > 1:
        raise DeadlineError("unrecognized")
    if halves and not dates:  # "6 tháng đầu năm" alone: its end; with a day, the day
        dates = [("half_year", halves[0])]
    if recurring and not (dates or weekdays):  # "định kỳ hằng năm": the caller asks the day
        raise DeadlineError("needs_day", kind=_recurring_kind(recurring[0]))
    if not (dates or weekdays or times):
        raise DeadlineError("unrecognized")

    at = _time_of(times[0]) if times else default_time
    date_piece = dates[0] if dates else None
    weekday = weekdays[0] if weekdays else None

    if recurring:
        kind = _recurring_kind(recurring[0])
        recurrence = _recurrence(kind, date_piece, weekday, at, school_year_end)
        return Deadline(recurrence.next_due(now), recurrence)

    if date_piece is None:
        if weekday is not None:
            return Deadline(_weekday_due(weekday, now, at))
        return Deadline(_not_past(_local_at(now.date(), at), now))  # a time alone: today

    if weekday is not None and weekday.group("which"):
        raise DeadlineError("unrecognized")
    due = _date_due(*date_piece, now, at, workdays, school_year_end)
    if weekday is not None and due.weekday() != _weekday_number(weekday):
        raise DeadlineError("unrecognized")  # "thứ 6 ngày 11/5/2023" but 11/5/2023 is a Thursday
    return Deadline(due)


def _time_of(match: re.Match[str]) -> time:
    if match.group("ch") is not None:
        hour, minute = int(match.group("ch")), int(match.group("cm"))
    else:
        hour, minute = int(match.group("hh")), int(match.group("hm") or 0)
    period = match.group("period")
    if period == "sang" and hour > 12:
        raise DeadlineError("unrecognized")
    if period in ("chieu", "toi") and hour < 12:
        hour += 12
    elif period == "trua" and 1 <= hour <= 5:
        hour += 12
    if hour > 23 or minute > 59:
        raise DeadlineError("unrecognized")
    return time(hour, minute)


def _weekday_number(match: re.Match[str]) -> int:
    name = match.group("day").replace(" ", "")
    if name in ("chunhat", "cn"):
        return 6
    if name[-1].isdigit():
        return int(name[-1]) - 2
    return _WEEKDAY_NAMES[name[3:]]


def _which(value: str | None) -> str | None:
    """None (no qualifier), "this" or "next"."""
    if value is None:
        return None
    return "this" if value == "nay" else "next"


def _not_past(due: datetime, now: datetime) -> datetime:
    if due <= now:
        raise DeadlineError("past", due=due)
    return due


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _weekday_due(match: re.Match[str], now: datetime, at: time) -> datetime:
    number = _weekday_number(match)
    today = now.date()
    which = _which(match.group("which"))
    if which is None:  # the next such weekday strictly after today
        return _local_at(today + timedelta(days=(number - today.weekday() - 1) % 7 + 1), at)
    monday = _monday(today) + timedelta(days=7 if which == "next" else 0)
    due = _local_at(monday + timedelta(days=number), at)
    return due if which == "next" else _not_past(due, now)


def _checked_date(day: int, month: int, year: int | None) -> date | None:
    """The date, or raise no_such_date; for year None only checks day/month can exist."""
    if year is None:
        if not _valid_day_month(day, month):
            raise DeadlineError("no_such_date", day=day, month=month, year=None)
        return None
    try:
        return date(year, month, day)
    except ValueError:
        raise DeadlineError("no_such_date", day=day, month=month, year=year) from None


_DAY_MONTH_PIECES = ("iso", "numeric", "words", "english")


def _day_month_year(kind: str, match: re.Match[str]) -> tuple[int, int, int | None]:
    """Day, month and year (None when not given) of a piece of _DAY_MONTH_PIECES."""
    if kind == "iso":
        return int(match.group(4)), int(match.group(3)), int(match.group(1))
    if kind == "english":
        day = match.group("d1") or match.group("d2")
        month = _ENGLISH_MONTHS[match.group("m1") or match.group("m2")]
        year_text = match.group("year")
        return int(day), month, int(year_text) if year_text else None
    if kind == "numeric":
        day_text, month_text, year_text = match.group(1), match.group(3), match.group(4)
    else:
        day_text, month_text = match.group(1), match.group(2)
        year_text = match.group(3) or match.group(4)
    year = None
    if year_text is not None:
        year = int(year_text) + (2000 if len(year_text) == 2 else 0)
    return int(day_text), int(month_text), year


def _first_ahead(candidates: list[date], now: datetime, at: time) -> datetime:
    for candidate in candidates:
        due = _local_at(candidate, at)
        if due > now:
            return due
    raise DeadlineError("unrecognized")


def _date_due(
    kind: str, match: re.Match[str], now: datetime, at: time, workdays: WorkingDays,
    school_year_end: tuple[int, int] = SCHOOL_YEAR_END,
) -> datetime:
    today = now.date()
    if kind in _DAY_MONTH_PIECES:
        day, month, year = _day_month_year(kind, match)
        explicit = _checked_date(day, month, year)
        if explicit is not None:
            return _not_past(_local_at(explicit, at), now)
        years = range(today.year, today.year + 9)  # 29/02 may need up to 8 years
        valid = [date(y, month, day) for y in years if day <= _month_length(y, month)]
        return _first_ahead(valid, now, at)
    if kind == "day_of_month":
        day = int(match.group(1))
        if not 1 <= day <= 31:
            raise DeadlineError("no_such_date", day=day, month=None, year=None)
        months = [_add_months(today.year, today.month, step) for step in range(13)]
        valid = [date(y, m, day) for y, m in months if day <= _month_length(y, m)]
        return _first_ahead(valid, now, at)
    if kind == "relative":
        due = _local_at(today + timedelta(days=_RELATIVE_DAYS[match.group(1)]), at)
        return _not_past(due, now)
    if kind == "count":
        return _local_at(_counted(today, match, workdays), at)
    if kind == "tet":
        return _before_tet_due(match, now, at, workdays)
    if kind == "next_week":
        return _local_at(_monday(today) + timedelta(days=7 + _FRIDAY), at)
    if kind == "week_end":
        this_friday = _local_at(_monday(today) + timedelta(days=_FRIDAY), at)
        return _rolling(this_friday, this_friday + timedelta(days=7), match, now)
    if kind == "month_end":
        return _month_end_due(match, now, at)
    if kind == "month_in":
        return _month_in_due(match, now, at)
    if kind == "year_in":
        return _year_in_due(match, now, at)
    if kind == "school_year":
        return _school_year_due(match, now, at, school_year_end)
    if kind in ("quarter_day", "quarter_end"):
        month, day = _quarter_month_day(kind, match)
        first = _quarter_start(today.month)
        this, following = (
            _local_at(_clamped(*_add_months(today.year, first, step + month - 1), day), at)
            for step in (0, 3)
        )
        return _rolling(this, following, match, now)
    if kind == "quarter":
        return _quarter_end_due(match, now, at)
    if kind == "half_year":
        return _named_month_end(6 if match.group("half") == "dau" else 12, match.group("year"),
                                now, at)
    return _year_end_due(match, now, at)


def _counted(today: date, match: re.Match[str], workdays: WorkingDays) -> date:
    """The day `count` days, working days, weeks or months after today."""
    count, unit = int(match.group("count")), match.group("unit")
    if count == 0:
        raise DeadlineError("unrecognized")
    if unit == "ngay":
        return today + timedelta(days=count)
    if unit == "tuan":
        return today + timedelta(weeks=count)
    if unit == "thang":
        return _clamped(*_add_months(today.year, today.month, count), today.day)
    day = today
    for _ in range(count):
        day = workdays.next_working_day(day + timedelta(days=1))
    return day


_TET_FIRST_DAY = "Lunar New Year"  # the name holidays.Vietnam gives mùng 1 Tết in en_US
_TET_YEARS_AHEAD = 100  # "Tết 2500" is no deadline; also bounds the cache of holiday tables


@lru_cache(maxsize=256)
def _tet(year: int) -> tuple[date, frozenset[date]] | None:
    """The first day of Tết in `year` and the Tết holidays around it, or None when the
    holidays package knows no lunar calendar for that year."""
    named = holidays.Vietnam(years=year, language="en_US")
    first = [day for day, name in named.items() if name == _TET_FIRST_DAY]
    if not first:
        return None
    window = frozenset(day for day, name in named.items() if _TET_FIRST_DAY in name)
    return first[0], window


def _before_tet_due(
    match: re.Match[str], now: datetime, at: time, workdays: WorkingDays
) -> datetime:
    """"Trước Tết": the last working day before the first day of the coming Tết (or of Tết of
    the year given). The Tết holidays before it (29, 30 Tết) are never working days."""
    today = now.date()
    years = [today.year, today.year + 1]
    if match.group("year") is not None:
        years = [int(match.group("year"))]
        if abs(years[0] - today.year) > _TET_YEARS_AHEAD:
            raise DeadlineError("unrecognized")
    for year in years:
        tet = _tet(year)
        if tet is None:
            raise DeadlineError("unrecognized")
        first, window = tet
        if first > today or match.group("year") is not None:
            day = first - timedelta(days=1)
            while day in window or workdays.is_day_off(day):
                day -= timedelta(days=1)
            return _not_past(_local_at(day, at), now)
    raise AssertionError("unreachable: next year's Tết is after today")


def _rolling(this: datetime, following: datetime, match: re.Match[str], now: datetime) -> datetime:
    """For "cuối tuần/tháng/năm" [này|sau]: this period's end unless passed, or as qualified."""
    which = _which(match.group("which"))
    if which == "next":
        return following
    if which == "this":
        return _not_past(this, now)
    return this if this > now else following


def _month_end(year: int, month: int, at: time) -> datetime:
    return _local_at(date(year, month, _month_length(year, month)), at)


def _month_end_due(match: re.Match[str], now: datetime, at: time) -> datetime:
    today = now.date()
    if match.group("month") is None:
        this = _month_end(today.year, today.month, at)
        return _rolling(this, _month_end(*_add_months(today.year, today.month, 1), at), match, now)
    month = int(match.group("month"))
    if not 1 <= month <= 12:
        raise DeadlineError("unrecognized")
    return _named_month_end(month, match.group("year"), now, at)


def _quarter_month_day(kind: str, match: re.Match[str]) -> tuple[int, int]:
    """Month in the quarter (1-3) and day (31: the month's end) of "ngày 20 tháng cuối quý"
    or "cuối quý"."""
    if kind == "quarter_end":
        return 3, 31
    month = _QUARTER_POSITIONS[match.group("position").split()[-1]]
    if match.group("day") is None:
        return month, 31
    day = int(match.group("day"))
    if not 1 <= day <= 31:
        raise DeadlineError("no_such_date", day=day, month=None, year=None)
    return month, day


def _quarter_end_due(match: re.Match[str], now: datetime, at: time) -> datetime:
    """"Quý 2/2023": the quarter's last day; without a year the next such quarter end."""
    text = match.group("quarter")
    quarter = _ROMAN[text] if text in _ROMAN else int(text)
    return _named_month_end(quarter * 3, match.group("year"), now, at)


def _named_month_end(month: int, year: str | None, now: datetime, at: time) -> datetime:
    """The end of `month` of `year` (not past); without a year, the next such month end."""
    if year is not None:
        return _not_past(_month_end(int(year), month, at), now)
    this = _month_end(now.date().year, month, at)
    return this if this > now else _month_end(now.date().year + 1, month, at)


def _month_in_due(match: re.Match[str], now: datetime, at: time) -> datetime:
    """"Trong tháng 9/2023": the month's last day; without a year the next such month end;
    "trong tháng (này)" this month's end, "trong tháng sau" the next month's."""
    today = now.date()
    if match.group("month") is None:
        if _which(match.group("which")) == "next":
            return _month_end(*_add_months(today.year, today.month, 1), at)
        return _not_past(_month_end(today.year, today.month, at), now)
    month = int(match.group("month"))
    if not 1 <= month <= 12:
        raise DeadlineError("unrecognized")
    return _named_month_end(month, match.group("year"), now, at)


def _year_in_due(match: re.Match[str], now: datetime, at: time) -> datetime:
    """"Trong năm 2024": 31/12 of that year; "trong năm (nay)" this year's, "sau" the next."""
    if match.group("year") is not None:
        return _not_past(_local_at(date(int(match.group("year")), 12, 31), at), now)
    if _which(match.group("which")) == "next":
        return _local_at(date(now.year + 1, 12, 31), at)
    return _not_past(_local_at(date(now.year, 12, 31), at), now)


def _school_year_end(first_year: int, at: time, end: tuple[int, int]) -> datetime:
    month, day = end
    return _local_at(_clamped(first_year + 1, month, day), at)


def _school_year_due(match: re.Match[str], now: datetime, at: time,
                     end: tuple[int, int]) -> datetime:
    """"Năm học 2023-2024": the end of that school year; "cuối năm học" (này) the end of the
    school year under way, or of the next one in the summer between two."""
    first_text, second_text = match.group("first"), match.group("second")
    if first_text is None:
        if match.group("edge") is None and not match.group("this"):
            raise DeadlineError("unrecognized")  # "năm học" alone names no moment
        today = now.date()
        start = today.year if today.month >= SCHOOL_YEAR_FIRST_MONTH else today.year - 1
        this = _school_year_end(start, at, end)
        if match.group("this"):
            return _not_past(this, now)
        return this if this > now else _school_year_end(start + 1, at, end)
    first, second = int(first_text), int(second_text)
    if second != (first + 1 if len(second_text) == 4 else (first + 1) % 100):
        raise DeadlineError("unrecognized")  # "năm học 2023-2025" is no school year
    return _not_past(_school_year_end(first, at, end), now)


def _year_end_due(match: re.Match[str], now: datetime, at: time) -> datetime:
    year = now.year
    if match.group("year") is not None:
        return _not_past(_local_at(date(int(match.group("year")), 12, 31), at), now)
    this = _local_at(date(year, 12, 31), at)
    return _rolling(this, _local_at(date(year + 1, 12, 31), at), match, now)


def _recurrence(
    kind: RecurrenceKind,
    date_piece: tuple[str, re.Match[str]] | None,
    weekday: re.Match[str] | None,
    at: time,
    school_year_end: tuple[int, int] = SCHOOL_YEAR_END,
) -> Recurrence:
    """The recurrence described by the pieces found next to "hàng năm/tháng/tuần"."""
    piece_kind, match = date_piece if date_piece else ("", None)
    qualified = match is not None and "which" in match.re.groupindex and match.group("which")
    if kind == "weekly":
        if date_piece is None and weekday is not None and not weekday.group("which"):
            return Recurrence("weekly", weekday=_weekday_number(weekday), at=at)
        if piece_kind == "week_end" and weekday is None and not qualified:
            return Recurrence("weekly", weekday=_FRIDAY, at=at)
        raise DeadlineError("unrecognized")
    if weekday is not None or match is None:
        raise DeadlineError("unrecognized")
    if kind == "quarterly":
        if piece_kind in ("quarter_day", "quarter_end") and not qualified:
            month, day = _quarter_month_day(piece_kind, match)
            return Recurrence("quarterly", month=month, day=day, at=at)
        raise DeadlineError("unrecognized")
    if kind in ("half_yearly", "semester"):
        # "định kỳ 6 tháng trước 15/6": that day of the same month of each half (15/6, 15/12);
        # "hàng học kỳ trước 15/1": of each semester (15/1, 15/7)
        if piece_kind in _DAY_MONTH_PIECES:
            day, month, year = _day_month_year(piece_kind, match)
            _checked_date(day, month, year)
            _checked_date(day, month, None)
            first = _period_start(kind, 2000, month)[1]
            return Recurrence(kind, month=(month - first) % 12 + 1, day=day, at=at)
        if piece_kind == "half_year" and kind == "half_yearly" and match.group("year") is None:
            return Recurrence(kind, month=6, day=31, at=at)  # "6 tháng ... cuối kỳ"
        raise DeadlineError("unrecognized")
    if kind == "monthly":
        if piece_kind == "day_of_month":
            day = int(match.group(1))
            if not 1 <= day <= 31:
                raise DeadlineError("no_such_date", day=day, month=None, year=None)
            return Recurrence("monthly", day=day, at=at)
        if piece_kind == "month_end" and not qualified and match.group("month") is None:
            return Recurrence("monthly", day=31, at=at)
        raise DeadlineError("unrecognized")
    if piece_kind in _DAY_MONTH_PIECES:
        day, month, year = _day_month_year(piece_kind, match)
        _checked_date(day, month, year)
        _checked_date(day, month, None)  # 29/02/2024 hàng năm is fine; the year is ignored
        return Recurrence(kind, month=month, day=day, at=at)
    if piece_kind == "half_year" and match.group("year") is None and kind == "yearly":
        # "6 tháng đầu năm hằng năm": every year, at the end of that half
        month = 6 if match.group("half") == "dau" else 12
        return Recurrence(kind, month=month, day=_month_length(2000, month), at=at)
    if piece_kind == "year_end" and not qualified and match.group("year") is None:
        return Recurrence(kind, month=12, day=31, at=at)
    if piece_kind in ("month_end", "month_in") and not qualified and match.group("month"):
        # "hàng năm trong tháng 11", "cuối tháng 2 hàng năm": that month's last day each year
        month = int(match.group("month"))
        if match.group("year") is None and 1 <= month <= 12:
            return Recurrence(kind, month=month, day=_month_length(2000, month), at=at)
    if piece_kind == "school_year" and match.group("edge") and match.group("first") is None:
        if not match.group("this"):  # "cuối năm học hàng năm": every school year's end
            month, day = school_year_end
            return Recurrence("school_year", month=month, day=day, at=at)
    raise DeadlineError("unrecognized")
