"""Status replies from schools: "đã xong", "đang làm 60%", "cần hỗ trợ: ...", "xin gia hạn ...",
"xin miễn nộp vì ...", and the ways principals actually write them: "đã gửi qua email rồi ạ"
(submitted another way, with the route), "xin không báo cáo vì ...", "xin gửi muộn 2 ngày",
"Huyện đang tổng hợp, dự kiến 2/12 gửi", "please extend to 25/5 because ...".

Parsing is pure; a reply that is not essentially a status phrase gives None.
"""

from __future__ import annotations

import re
import unicodedata
from calendar import monthrange
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Literal, NamedTuple, cast

from core.clock import LOCAL_TZ, to_local
from core.deadlines import (
    SCHOOL_YEAR_END,
    Deadline,
    DeadlineError,
    WorkingDays,
    parse_deadline,
)
from core.text import fold

StatusKind = Literal["done", "progress", "not_started", "help", "extension", "excuse", "nil"]
Route = Literal["email", "paper", "eoffice", "other"]
LateUnit = Literal["working_day", "week", "month"]

_MAX_TEXT = 2000


class _When(NamedTuple):
    """How a date inside an answer is read (parse_deadline's settings)."""

    default_time: time
    calendar: WorkingDays | None
    school_year_end: tuple[int, int]


@dataclass(frozen=True)
class StatusAnswer:
    """What a school answered about a task."""

    kind: StatusKind
    percent: int | None = None  # progress (0..99)
    note: str = ""  # help text / extension or excuse reason as written, stripped
    until: Deadline | None = None  # extension: requested new deadline, when given and valid
    until_error: DeadlineError | None = None  # extension: the date given could not be used
    route: Route | None = None  # done: sent another way (the whole text is then the note)
    late_count: int | None = None  # extension: how many late_unit after the current deadline
    late_unit: LateUnit = "working_day"  # «xin gửi muộn 1 tuần»: weeks; «... 1 tháng»: months


# --------------------------------------------------------------------------- folding with origin


def _clusters(text: str) -> list[tuple[int, str]]:
    """(start, characters) of each base character with the combining marks after it; NFD
    only reorders marks within such a cluster."""
    clusters: list[tuple[int, str]] = []
    for index, char in enumerate(text):
        if clusters and unicodedata.combining(unicodedata.normalize("NFD", char)[0]):
            start, chars = clusters[-1]
            clusters[-1] = (start, chars + char)
        else:
            clusters.append((index, char))
    return clusters


def _fold_with_origin(text: str) -> tuple[str, str, list[int]]:
    """(source, folded, origin): `folded` equals fold(text) and folded[i] comes from
    source[origin[i]]. `source` is `text`, or fold(text) itself should a cluster-by-cluster fold
    ever differ from fold()."""
    chars: list[str] = []
    origin: list[int] = []
    for index, cluster in _clusters(text):
        for part in unicodedata.normalize("NFD", cluster):
            if unicodedata.category(part) == "Mn":
                continue
            part = {"đ": "d", "Đ": "D"}.get(part, part)
            for out in part.casefold():
                if out.isspace():
                    if not chars or chars[-1] == " ":
                        continue
                    out = " "
                chars.append(out)
                origin.append(index)
    if chars and chars[-1] == " ":
        chars.pop()
        origin.pop()
    folded = "".join(chars)
    expected = fold(text)
    if folded != expected:
        return expected, expected, list(range(len(expected)))
    return text, folded, origin


_PLAIN_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789%")


def _plain(folded: str, origin: list[int]) -> tuple[str, list[int]]:
    """Only [a-z0-9%] words separated by single spaces, with the origin of each character."""
    chars: list[str] = []
    where: list[int] = []
    for char, index in zip(folded, origin, strict=True):
        if char in _PLAIN_CHARS:
            chars.append(char)
            where.append(index)
        elif chars and chars[-1] != " ":
            chars.append(" ")
            where.append(index)
    if chars and chars[-1] == " ":
        chars.pop()
        where.pop()
    return "".join(chars), where


# --------------------------------------------------------------------------- phrases (folded)

_TAIL_WORD = r"(?:a|ah|ak|roi|r|nhe|nha|nhen|day|em|anh|chi|thay|co|oi|luon|ha|vay|ok|please)"
_TAIL = rf"(?: {_TAIL_WORD}){{0,4}}"
_TAIL_ONLY = re.compile(rf"(?:{_TAIL_WORD}(?: {_TAIL_WORD})*)?")
_INTERJECTION = (
    r"(?:(?:(?:da|vang|da vang|ok|oke|okay)(?: thua (?:thay|co|anh|chi))?"
    r"|thua (?:thay|co|anh|chi)) )?"
)
_SUBJECT = (
    r"(?:(?:cho )?(?:(?:ben|truong|don vi|phong|chung) (?:em|toi|minh|ta)"
    r"|em|toi|minh|truong|nha truong|don vi|chung toi|phong|trung tam) )?"
)
_OBJECT = r"(?: (?:bao cao|file|so lieu|bieu mau))?"

_DONE = (
    rf"(?:da )?(?:lam )?(?:xong|hoan thanh|hoan tat){_OBJECT}"
    rf"|da (?:nop|gui|bao cao){_OBJECT}|(?:nop|gui|bao cao){_OBJECT} roi"
    r"|done|finished|completed|submitted|(?:report )?sent"
)
_PERCENT = (
    r"(?:(?:(?:da|dang) )?(?:lam|thuc hien|hoan thanh|xong|trien khai)(?: duoc)? "
    r"|(?:duoc|dat|tien do|in progress|progress) )?(?P<percent>[0-9]+) ?(?:%|phan tram)"
    r"(?: done)?"
)
_PROGRESS = (
    r"dang (?:lam|thuc hien|trien khai)(?: bao cao)?|chua xong|in progress|working on it"
)
_NOT_STARTED = (
    r"chua (?:lam|bat dau|thuc hien|trien khai)(?: duoc)?(?: gi)?|not started(?: yet)?"
)
_NIL = (
    r"khong (?:co )?phat sinh(?: so lieu)?|khong co so lieu(?: phat sinh)?(?: de bao cao)?"
    r"|khong co gi (?:de bao cao|phat sinh)|khong co noi dung(?: de bao cao)?|bao cao khong"
    r"|nothing to report|nil report"
)


def _whole(core: str) -> re.Pattern[str]:
    return re.compile(rf"{_INTERJECTION}{_SUBJECT}(?:{core}){_TAIL}")


_SIMPLE: tuple[tuple[StatusKind, re.Pattern[str]], ...] = (
    ("nil", _whole(_NIL)),
    ("progress", _whole(_PERCENT)),
    ("progress", _whole(_PROGRESS)),
    ("not_started", _whole(_NOT_STARTED)),
    ("done", _whole(_DONE)),
)
_HELP = re.compile(
    rf"{_INTERJECTION}{_SUBJECT}(?:(?:can|xin|mong|nho|de nghi)(?: duoc)? "
    r"(?:ho tro|giup do|giup|tro giup)(?: voi)?|(?:we |i )?need(?: some)? help)(?= |$)"
)
_EXTENSION = re.compile(
    rf"{_INTERJECTION}{_SUBJECT}"
    r"(?:(?:xin|de nghi|kinh de nghi|mong|muon|can)(?: cho)?(?: duoc)? )?"
    r"(?:gia han(?: them)?|(?:(?:request|need|ask for)(?: an)? )?extension)(?= |$)"
)
_EXCUSE = re.compile(
    rf"{_INTERJECTION}{_SUBJECT}"
    r"(?:(?:(?:xin|de nghi|kinh de nghi|mong|muon)(?: cho)?(?: (?:phong|truong|don vi))?"
    r"(?: duoc)? mien(?! giam)|mien nop)"
    r"(?: (?:nop|bao cao|nhiem vu|viec|thuc hien|tru|nay|ky nay))*"
    rf"|(?:(?:we |i )?(?:request|ask for|need)(?: an)? )?exemption){_TAIL}(?= |$)"
)

# "please extend to 25/5 because ...", "can we extend the deadline"
_EXTENSION_EN = re.compile(
    r"(?:(?:please|kindly|can you|could you|can we|could we|we ask you to) )?"
    r"extend(?: (?:it|the deadline|our deadline|the due date))?(?= |$)"
)
# "xin gửi muộn 2 ngày", "cho trường nộp chậm 3 ngày vì ...", "gửi trễ hơn hạn"
_LATE = re.compile(
    rf"{_INTERJECTION}{_SUBJECT}"
    r"(?:(?:xin|de nghi|kinh de nghi|mong|muon|cho)(?: cho)?(?: (?:phong|truong|don vi|em|toi))?"
    r"(?: (?:phep|duoc))* )?"
    r"(?:gui|nop|bao cao|hoan thanh)(?: (?:bao cao|file|so lieu))? (?:muon|tre|cham)"
    r"(?: hon)?(?: (?:han|hon han|so voi han))?(?= |$)"
)
_LATE_DAYS = re.compile(
    r" (?:them |khoang |tam )?([0-9]{1,2}) (ngay|hom|tuan|thang)(?: lam viec)?(?: nua)?(?= |$)"
)
_LATE_UNITS: dict[str, LateUnit] = {
    "ngay": "working_day", "hom": "working_day", "tuan": "week", "thang": "month",
}
# "Huyện đang tổng hợp, dự kiến 2/12 gửi", "dự kiến gửi ngày 2/12" (on folded text)
_PLAN_VERB = r"(?:(?:se|sang) )?(?:gui|nop|hoan thanh|bao cao|xong)(?: (?:bao cao|file|so lieu))?"
_PLANNED = re.compile(
    r"(?:(?P<lead>.*?)[\s,.;:!\-–—]+)?du kien(?: la)?\s+"
    rf"(?:{_PLAN_VERB}\s+(?:(?:vao|truoc|trong|den)\s+)?(?P<after>.+)"
    rf"|(?P<before>.+?)\s+{_PLAN_VERB}(?P<tail>[\s.,;!]+.*)?)"
)
# "xin không báo cáo vì ...", "exempt us because ..."
_EXCUSE_MORE = re.compile(
    rf"{_INTERJECTION}{_SUBJECT}"
    r"(?:(?:xin|de nghi|kinh de nghi|mong|cho)(?: cho)?(?: (?:phong|truong|don vi|em|toi))?"
    r"(?: (?:phep|duoc))* khong (?:phai )?(?:nop|bao cao|gui|thuc hien|lam)"
    r"(?: (?:bao cao|nhiem vu|viec|nay|ky nay))*"
    r"|(?:please )?exempt(?: (?:us|me|our school|our unit|the school|the unit))?"
    r"(?: from (?:this report|the report|reporting|this|it))?)"
    rf"{_TAIL}(?= |$)"
)
# "Mặt trận không phải đơn vị thực hiện, đề nghị miễn": the whole sentence is the reason
_EXCUSE_LAST = re.compile(
    r".+ (?:xin|de nghi|kinh de nghi|mong)(?: cho)?(?: (?:phong|truong|don vi|em|toi))?"
    r"(?: duoc)? mien(?: (?:nop|bao cao|nhiem vu|viec|thuc hien|tru|nay|ky nay))*"
    rf"{_TAIL}"
)
# Submitted another way: "đã gửi qua email rồi ạ", "đã nộp bản giấy qua văn thư",
# "đã gửi qua hệ thống văn bản điện tử (iOffice) ngày 20/11", "we sent it by email".
_SENT_VI = re.compile(
    rf"{_INTERJECTION}{_SUBJECT}(?:(?:cung )?da (?:(?:lam )?xong )?)?"
    r"(?:gui|nop|chuyen)(?: (?:lai|roi))?"
    r"(?P<object>(?: (?:bao cao|file|tep|so lieu|bieu mau|van ban|cong van|ban giay|ban cung"
    r"|ban mem|ban scan|ban goc|nay|roi|len|ve|cho (?:phong|so|van phong)))*)"
    r"(?: (?P<how>qua|bang|theo|tren|vao|bang duong|by|via))?(?= |$)"
)
_SENT_EN = re.compile(
    r"(?:(?:we|i|the school|our school|the unit|we have|i have|we ve|i ve|we already"
    r"|i already) )?(?:already |just )?"
    r"(?P<verb>sent|submitted|delivered|e ?mailed|mailed|posted|uploaded)"
    r"(?P<object>(?: (?:it|them|the report|our report|the file|this|in|already))*)"
    r"(?: (?P<how>by|via|through|over|on|in|using|as))?(?= |$)"
)
_ROUTES: tuple[tuple[Route, re.Pattern[str]], ...] = tuple(
    (cast(Route, route), re.compile(rf"(?<![a-z0-9])(?:{words})(?![a-z0-9])"))
    for route, words in (
        ("eoffice", r"i ?office|e ?office|e ?gov"
                    r"|he thong (?:quan ly )?(?:van ban|cong van|dieu hanh)"
                    r"|van ban dien tu|cong van dien tu|qlvb|phan mem (?:quan ly )?van ban"
                    r"|quan ly van ban|document system|e document"),
        ("email", r"e ?mail|gmail|mail|thu dien tu|hom thu|hop thu|outlook|emailed"),
        ("paper", r"ban giay|giay|ban cung|van thu|buu dien|buu chinh|chuyen phat|nop tay"
                  r"|truc tiep|paper|hard copy|post|posted|by hand|in person|courier"),
    )
)
_PAST = re.compile(r"(?<![a-z0-9])(?:da|roi)(?![a-z0-9])")
_DOUBT = re.compile(r"(?<![a-z0-9])(?:nhung|chua|khong|loi|but|not|failed|error|yet)(?![a-z0-9])")
_ROUTE_WINDOW = 6  # words after "qua"/"by" that may name the route

_LEADING_SEPARATORS = re.compile(r"[\s:,.;\-\u2013\u2014]*")
_REASON_MARKER = re.compile(
    r"(?<!\w)(?:boi vi|tai vi|vi|do|ly do(?: la)?|because(?: of)?|reason)(?!\w)"
    r"|(?<![0-9]):|:(?![0-9])"
)
_WEAK_SPLIT = re.compile(r"[,;]| - ")
_ENGLISH_UNTIL = re.compile(r"^(?:until|till|to|by) ")
_DAYS = re.compile(r"(?:them )?([0-9]{1,3}) (ngay|hom|tuan)(?: nua)?")
_DATE_INTENT = re.compile(r"(?:den|toi|sang|lui|keo dai|cho den|han|ngay|thu|hom|[0-9])(?!\w)")


# --------------------------------------------------------------------------- parsing


def parse_status(text: str, now: datetime, default_time: time = time(17, 0),
                 calendar: WorkingDays | None = None,
                 school_year_end: tuple[int, int] = SCHOOL_YEAR_END) -> StatusAnswer | None:
    """Recognise a status reply; None when the text is not essentially a status phrase. A date
    in it is read as parse_deadline reads it, with `calendar` and `school_year_end`."""
    when = _When(default_time, calendar, school_year_end)
    if len(text) > _MAX_TEXT:
        return None
    source, folded, origin = _fold_with_origin(text)
    plain, where = _plain(folded, origin)
    if not plain:
        return None

    match = _EXTENSION.match(plain) or _EXTENSION_EN.match(plain)
    if match:
        return _extension(_rest(source, where, match.end()), now, when)
    match = _EXCUSE.match(plain) or _EXCUSE_MORE.match(plain)
    if match:
        return StatusAnswer("excuse", note=_reason(_rest(source, where, match.end())))
    match = _HELP.match(plain)
    if match:
        return StatusAnswer("help", note=_note(_rest(source, where, match.end())))

    if text.rstrip().endswith("?"):
        return None  # "đã nộp?" asks, it does not answer
    match = _LATE.match(plain)
    if match:
        return _late(source, where, plain, match.end(), now, when)
    if _EXCUSE_LAST.fullmatch(plain):
        return StatusAnswer("excuse", note=_note(source))
    planned = _planned(source, folded, origin, now, when)
    if planned is not None:
        return planned
    route = _route(plain)
    if route is not None:
        return StatusAnswer("done", note=source.strip(), route=route)
    for kind, pattern in _SIMPLE:
        match = pattern.fullmatch(plain)
        if match is None:
            continue
        if "percent" in match.re.groupindex:
            percent = int(match.group("percent"))
            if percent > 100:
                return None
            if percent == 100:
                return StatusAnswer("done")
            return StatusAnswer("progress", percent=percent)
        return StatusAnswer(kind)
    return None


_BARE_PERCENT = re.compile(
    rf"(?:(?:khoang|duoc|dat|tam|chung|da lam duoc|lam duoc|about|around) )?"
    rf"(?P<percent>[0-9]{{1,3}})(?: ?(?:%|phan tram|percent))?{_TAIL}"
)


def parse_percent(text: str) -> int | None:
    """A bare figure answering "how far along?": "40", "40%", "khoảng 40 %" → 40; None for
    anything else or above 100."""
    if len(text) > _MAX_TEXT or re.search(r"[-−]\s*[0-9]", text):
        return None  # "-40" is no figure of progress
    plain, _ = _plain(*_fold_with_origin(text)[1:])
    match = _BARE_PERCENT.fullmatch(plain)
    if match is None:
        return None
    percent = int(match.group("percent"))
    return percent if percent <= 100 else None


def _rest(source: str, where: list[int], end: int) -> str:
    """The source text after the plain-text position `end`."""
    return source[where[end] :] if end < len(where) else ""


def _note(text: str) -> str:
    """A note as written: leading separators and surrounding spaces removed; "" when it is
    only a polite tail such as "ạ" or "nhé"."""
    note = _LEADING_SEPARATORS.sub("", text, count=1).strip()
    plain, _ = _plain(*_fold_with_origin(note)[1:])
    return "" if _TAIL_ONLY.fullmatch(plain) else note


def _reason(text: str) -> str:
    """A reason after its marker ("vì", "do", "lý do:", ":"), as written."""
    source, folded, origin = _fold_with_origin(text)
    start = _LEADING_SEPARATORS.match(folded).end()  # type: ignore[union-attr]
    marker = _REASON_MARKER.match(folded, start)
    return _note(_rest(source, origin, marker.end()) if marker else text)


def _strip_tail(folded: str) -> str:
    """Remove trailing polite words and punctuation ("đến 12/5 ạ." → "đến 12/5")."""
    words = folded.split()
    while words:
        bare = words[-1].strip(".,;:!-")
        if bare and not re.fullmatch(_TAIL_WORD, bare):
            break
        words.pop()
    return " ".join(words)


def _extension(rest: str, now: datetime, when: _When) -> StatusAnswer:
    """Parse what follows "xin gia hạn": an optional date or number of days, then a reason."""
    source, folded, origin = _fold_with_origin(rest)
    start = _LEADING_SEPARATORS.match(folded).end()  # type: ignore[union-attr]
    marker = _REASON_MARKER.search(folded, start)
    if marker:
        segment_end, reason = marker.start(), _note(_rest(source, origin, marker.end()))
    else:
        segment_end, reason = len(folded), ""
    segment = _ENGLISH_UNTIL.sub("den ", _strip_tail(folded[start:segment_end]), count=1)
    if not segment:
        return StatusAnswer("extension", note=reason)

    until, error = _until(segment, now, when)
    if until is None and marker is None:  # "đến 12/5, trường đang thi học kỳ"
        for split in _WEAK_SPLIT.finditer(folded, start):
            head = _strip_tail(folded[start : split.start()])
            head_until = _until(head, now, when)[0] if head else None
            if head_until is not None:
                note = _note(_rest(source, origin, split.end()))
                return StatusAnswer("extension", note=note, until=head_until)
    if until is None and error is None:
        # Not a date and not meant as one: the words are the reason ("xin gia hạn vì ...").
        return StatusAnswer("extension", note=reason or _note(_rest(source, origin, start)))
    return StatusAnswer("extension", note=reason, until=until, until_error=error)


def _until(
    segment: str, now: datetime, when: _When
) -> tuple[Deadline | None, DeadlineError | None]:
    """(deadline, None), (None, error) when a date was meant but is unusable, or (None, None)
    when the segment is not about a date at all."""
    days = _DAYS.fullmatch(_plain(segment, list(range(len(segment))))[0])
    if days:
        count = int(days.group(1)) * (7 if days.group(2) == "tuan" else 1)
        local_now = to_local(now)
        moment = local_now.date() + timedelta(days=count)
        due = datetime.combine(moment, when.default_time.replace(tzinfo=None), tzinfo=LOCAL_TZ)
        if due <= local_now:
            return None, DeadlineError("past", due=due)
        return Deadline(due), None
    try:
        deadline = parse_deadline(segment, now, when.default_time, when.calendar,
                                  when.school_year_end)
    except DeadlineError as error:
        if error.code in ("past", "no_such_date") or _DATE_INTENT.match(segment):
            return None, error
        return None, None
    return Deadline(deadline.due), None


def _late(source: str, where: list[int], plain: str, end: int, now: datetime,
          when: _When) -> StatusAnswer:
    """What follows "xin gửi muộn": a number of (working) days after the deadline, which the
    caller counts from the target's deadline, or what "xin gia hạn" takes."""
    days = _LATE_DAYS.match(plain, end)
    if days is None:
        return _extension(_rest(source, where, end), now, when)
    count = int(days.group(1))
    if count == 0:
        return _extension(_rest(source, where, end), now, when)
    return StatusAnswer("extension", note=_reason(_rest(source, where, days.end())),
                        late_count=count, late_unit=_LATE_UNITS[days.group(2)])


def late_until(deadline: datetime, count: int, unit: LateUnit, calendar: WorkingDays) -> datetime:
    """The moment «xin gửi muộn N ngày / tuần / tháng» asks for, counted from `deadline` at
    its local time of day: N working days after it; or N weeks (7 days each) or N calendar
    months after it (the 31st gives the month's last day), moved to the next working day
    when that is a day off."""
    local = to_local(deadline)
    day = local.date()
    if unit == "working_day":
        for _ in range(count):
            day = calendar.next_working_day(day + timedelta(days=1))
    else:
        if unit == "week":
            day += timedelta(weeks=count)
        else:
            index = day.year * 12 + day.month - 1 + count
            year, month = divmod(index, 12)
            day = date(year, month + 1, min(day.day, monthrange(year, month + 1)[1]))
        day = calendar.next_working_day(day)
    return local.replace(year=day.year, month=day.month, day=day.day)


def _planned(source: str, folded: str, origin: list[int], now: datetime,
             when: _When) -> StatusAnswer | None:
    """"(reason,) dự kiến <date> gửi": an extension to that date, the words before it its
    reason; None when no date is meant."""
    match = _PLANNED.fullmatch(folded)
    if match is None:
        return None
    if match.group("after") is not None:
        segment = match.group("after")
    else:
        segment = match.group("before")
        tail = match.group("tail") or ""
        if _plain(tail, list(range(len(tail))))[0] and not _TAIL_ONLY.fullmatch(
                _plain(tail, list(range(len(tail))))[0]):
            return None
    segment = re.sub(r"^(?:(?:vao|truoc|trong|den) )?", "", _strip_tail(segment))
    if not segment:
        return None
    until, error = _until(segment, now, when)
    if until is None and error is None:
        return None
    lead = ""
    if match.group("lead"):
        lead = source[: origin[match.end("lead")]] if match.end("lead") < len(origin) else ""
        lead = lead.strip().rstrip(",.;:!-–— ").strip()
    return StatusAnswer("extension", note=lead, until=until, until_error=error)


def _route(plain: str) -> Route | None:
    """The route of "đã gửi qua email", "đã nộp bản giấy qua văn thư", "we sent it by email";
    None when the text does not say it was sent another way."""
    if _DOUBT.search(plain):
        return None  # "đã gửi qua email nhưng bị lỗi" is not a report received
    match = _SENT_VI.match(plain)
    english = False
    if match is None or not _PAST.search(plain):  # "gửi qua email" could be an order
        match = _SENT_EN.match(plain)
        english = True
    if match is None:
        return None
    said = match.group("object")
    if match.group("how"):
        said += " " + " ".join(plain[match.end():].split()[:_ROUTE_WINDOW])
    elif english and "mail" in match.group("verb"):
        return "email"
    elif english and match.group("verb") == "posted":
        return "paper"
    for route, pattern in _ROUTES:
        if pattern.search(said):
            return route
    if match.group("how") and plain[match.end():].strip():
        return "other"  # "đã gửi qua Zalo cho cô rồi"
    return None
