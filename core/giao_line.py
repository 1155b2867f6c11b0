"""The one-line form of `/giao`:

    /giao <title> | hạn <deadline> | đơn vị <targets> [| nộp: tệp|trạng thái|cả hai]
          [| nhắc: 7,3,1] [| chi tiết: ...]

Parsing here only splits and names the parts; deadlines and units are resolved elsewhere.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from core.states import Requires
from core.text import fold

REQUIRES = {"tep": Requires.FILE, "file": Requires.FILE, "trang thai": Requires.STATUS,
            "status": Requires.STATUS, "ca hai": Requires.BOTH, "both": Requires.BOTH,
            "tep hoac trang thai": Requires.ANY, "any": Requires.ANY}

_PARTS = (
    ("deadline", ("han chot", "han nop", "han", "deadline", "due")),
    ("units", ("don vi", "gui", "units", "to")),
    ("requires", ("nop", "submit")),
    ("reminders", ("nhac", "remind", "reminders")),
    ("details", ("chi tiet", "noi dung", "details")),
)


@dataclass
class GiaoLine:
    title: str = ""
    deadline: str = ""
    units: str = ""
    requires: str | None = None  # raw text of `nộp:`
    reminders: str | None = None  # raw text of `nhắc:`
    details: str = ""
    unknown: list[str] = field(default_factory=list)

    @property
    def missing(self) -> list[str]:
        return [name for name in ("title", "deadline", "units") if not getattr(self, name)]


# Words that name the unit list only when what follows is plainly one: "gửi kèm đề cương" is
# not a unit list, "gửi: @THCS" and "gửi @THCS, TH-A" are.
_WEAK_UNIT_KEYWORDS = frozenset({"gui", "to"})


def _strip_keyword(part: str, table: tuple[tuple[str, tuple[str, ...]], ...] = _PARTS
                   ) -> tuple[str | None, str]:
    folded = fold(part)
    if folded.startswith("@") and table is _PARTS:  # "| @THCS": a unit list without its keyword
        return "units", part.strip()
    for name, keywords in table:
        for keyword in keywords:
            if keyword in _WEAK_UNIT_KEYWORDS and not re.match(
                    rf"{re.escape(keyword)}\s*(?::|@)", folded):
                continue
            if folded == keyword or re.match(rf"{re.escape(keyword)}\b\s*:?", folded):
                # cut the same number of words from the original text
                words = len(keyword.split())
                rest = part.strip().split(None, words)
                value = rest[words] if len(rest) > words else ""
                if not value and len(rest) == words and rest[-1].endswith(":"):
                    value = ""
                return name, value.lstrip(":").strip()
    return None, part.strip()


def parse_giao_line(text: str) -> GiaoLine:
    parts = [p.strip() for p in text.split("|")]
    line = GiaoLine(title=parts[0].strip())
    for part in parts[1:]:
        if not part:
            continue
        name, value = _strip_keyword(part)
        if name is None or (name == "units" and line.units and fold(part).startswith("@")):
            line.unknown.append(part)  # never dropped: /giao refuses it with the field list
        else:
            setattr(line, name, value)
    return line


def parse_requires(value: str) -> Requires | None:
    return REQUIRES.get(fold(value).strip(" ."))


def parse_offsets(value: str) -> list[int] | None:
    """`7,3,1` → [7, 3, 1]; `không` → []; None when it cannot be read."""
    folded = fold(value)
    if folded in ("khong", "none", "no", "0"):
        return []
    numbers = re.findall(r"\d+", folded)
    if not numbers or re.sub(r"[\d\s,;ngayd]", "", folded):
        return None
    offsets = sorted({int(n) for n in numbers}, reverse=True)
    if any(o < 1 or o > 60 for o in offsets):
        return None
    return offsets


def repeated_offsets(value: str) -> bool:
    """True when a day count is written twice (`1,1`): that would remind twice on one day,
    which the policy never does, so the list is refused rather than silently shortened."""
    numbers = [int(n) for n in re.findall(r"\d+", fold(value))]
    return len(numbers) != len(set(numbers))


# `/sua #N | hạn ... | thêm ... | bớt ... | tên ... | chi tiết ... | nộp: ...`: the parts of
# `/giao` that can change after sending, with the same keywords, and the units added or taken
# off.
_EDIT_PARTS = (
    ("deadline", dict(_PARTS)["deadline"]),
    ("add", ("them don vi", "them", "add")),
    ("remove", ("bot don vi", "bo don vi", "bot", "remove")),
    ("title", ("ten nhiem vu", "ten", "tieu de", "title")),
    ("details", dict(_PARTS)["details"]),
    ("requires", ("can nop", *dict(_PARTS)["requires"])),
)
EDIT_FIELDS = tuple(name for name, _ in _EDIT_PARTS)


@dataclass
class EditLine:
    reference: str = ""  # `#N`
    parts: dict[str, str] = field(default_factory=dict)  # field name → raw value
    unknown: list[str] = field(default_factory=list)


def parse_edit_line(text: str) -> EditLine:
    """`#N | hạn 12/05/2023 | thêm THCS-NAMHONG` → the task reference and the named parts;
    a part without a known keyword (or named twice) is kept in `unknown`, never dropped."""
    head, *rest = [p.strip() for p in text.split("|")]
    line = EditLine(reference=head)
    for part in rest:
        if not part:
            continue
        name, value = _strip_keyword(part, _EDIT_PARTS)
        if name is None or name in line.parts:
            line.unknown.append(part)
        else:
            line.parts[name] = value
    return line
