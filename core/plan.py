"""Duties read from a plan or an official letter: the passages that ask units to report, send,
submit, compile or build something, each with its deadline, recurrence, audience, product and
a short title, in the order of the document.

The text comes as the chat side reads it from a .docx, a PDF or a paste: paragraphs separated
by newlines, a table row as one line with its cells separated by TAB. Everything here is pure
keyword rules over the text folded without accents (no model, no I/O): the numbering and
bullets of the document give the host unit of the items under a heading ("2. Sở Tài chính",
"- Văn phòng Sở: ..."), the subject of a sentence its audience ("Các phòng GDĐT, TT GDNN-GDCTX
... gửi về Sở"), "Kính gửi" the units meant by "các cơ quan, đơn vị", and a task table (STT,
nội dung, sản phẩm, chủ trì, phối hợp, thời gian) one duty per row. Deadlines are read by
`core.deadlines.parse_deadline`: every `Duty.deadline_text` is a text it accepts, or refuses
only as "past" (an old plan) or "needs_day" ("định kỳ hằng năm" without a day).

`resolve_audience` turns an audience into the ids of the registry's units that it means.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from itertools import islice

from core.deadlines import DeadlineError, Recurrence, WorkingDays, parse_deadline
from core.text import fold

TITLE_MAX = 200
_SHORT_TITLE = 120  # a title made from the clause itself is cut here

# --------------------------------------------------------------------------- the kind table

# Canonical kind keys and the words that name them in plans. A phrase matches whatever
# separators the text puts between its words ("GDNN-GDTX", "GDNN - GDTX", "GDNN GDTX") and
# none at all inside one ("GD&ĐT" also matches "GDĐT"); accents and case never matter.
# `[plans] kinds` in the config adds phrases to a key, or new keys.
BUILTIN_KINDS: dict[str, tuple[str, ...]] = {
    "so": ("Sở GD&ĐT", "Sở Giáo dục và Đào tạo", "Sở Giáo dục - Đào tạo", "Sở Giáo dục",
           "SGD&ĐT"),
    "phong_thuoc_so": ("phòng thuộc Sở", "phòng chuyên môn thuộc Sở", "phòng, ban thuộc Sở",
                       "phòng chuyên môn", "phòng chức năng"),
    "phong_gddt": ("phòng GD&ĐT", "phòng Giáo dục và Đào tạo", "phòng Giáo dục - Đào tạo",
                   "phòng giáo dục", "PGD&ĐT", "PGD"),
    "gdnn_gdtx": ("TT GDNN-GDTX", "trung tâm GDNN-GDTX", "GDNN-GDTX", "GDNN-GDCTX",
                  "trung tâm giáo dục nghề nghiệp - giáo dục thường xuyên",
                  "trung tâm GDTX", "TT GDTX", "TTGDTX", "GDTX", "TTGDNN-GDTX"),
    "thpt": ("trường THPT", "THPT", "trường trung học phổ thông", "trung học phổ thông", "PTTH"),
    "thcs": ("trường THCS", "THCS", "trường trung học cơ sở", "trung học cơ sở"),
    "th": ("trường TH", "TH", "trường tiểu học", "tiểu học"),
    "mn": ("trường MN", "MN", "trường mầm non", "mầm non", "trường mẫu giáo", "mẫu giáo",
           "nhà trẻ"),
    "ubnd_huyen": ("UBND các huyện", "UBND huyện", "UBND cấp huyện", "UBND các quận, huyện",
                   "UBND các quận", "Ủy ban nhân dân các huyện", "Ủy ban nhân dân huyện",
                   "Ủy ban nhân dân cấp huyện", "Ủy ban nhân dân các quận, huyện",
                   "các địa phương", "địa phương"),
    "ubnd_xa": ("UBND các xã", "UBND xã", "UBND cấp xã", "Ủy ban nhân dân các xã",
                "Ủy ban nhân dân xã", "Ủy ban nhân dân cấp xã"),
    "so_ban_nganh": ("sở, ban, ngành", "sở, ngành"),
    "doan_the": ("đoàn thể",),
    "nha_truong": ("nhà trường", "các trường học", "các trường", "trường học"),
    "co_so_giao_duc": ("cơ sở giáo dục", "cơ sở GD&ĐT", "đơn vị trường học"),
}
# Groups of kinds: a unit of any member kind belongs to the group.
KIND_GROUPS: dict[str, tuple[str, ...]] = {
    "nha_truong": ("mn", "th", "thcs", "thpt"),
    "co_so_giao_duc": ("mn", "th", "thcs", "thpt", "gdnn_gdtx", "nha_truong"),
}
KIND_KEY = re.compile(r"[a-z][a-z0-9_]{0,63}")
# Words after "các trường" / "cơ sở giáo dục" that make them one level of school.
_SCHOOL_LEVELS = (r"thpt|thcs|th|mn|mg|ptdtnt|ptdtbt|pt|mam non|mau giao|nha tre|tieu hoc"
                  r"|trung hoc|pho thong|chuyen|dan toc|cao dang|trung cap|dai hoc"
                  r"|thuong xuyen|nghe nghiep")
PRODUCTS = {
    "bao cao": "Báo cáo", "ke hoach": "Kế hoạch", "chuong trinh": "Chương trình",
    "de an": "Đề án", "du an": "Dự án", "phuong an": "Phương án", "to trinh": "Tờ trình",
    "danh sach": "Danh sách", "ho so": "Hồ sơ", "de cuong": "Đề cương", "du toan": "Dự toán",
    "quy che": "Quy chế", "van ban": "Văn bản", "tai lieu": "Tài liệu",
    "hoi nghi": "Hội nghị", "du thao": "Dự thảo",
}


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class Audience:
    words: str  # the audience words as written; "" if none
    kinds: tuple[str, ...] = ()  # canonical kind keys of the synonym table
    names: tuple[str, ...] = ()  # units or offices named in the text ("Văn phòng Sở")
    below: bool = False  # "trực thuộc": the units directly below the office

    def __bool__(self) -> bool:
        return bool(self.kinds or self.names or self.below)


NOBODY = Audience("")


@dataclass(frozen=True)
class Duty:
    title: str  # short title, at most TITLE_MAX characters
    product: str  # "Báo cáo", "Kế hoạch", "Hội nghị tổng kết", ... or ""
    deadline_text: str  # the words read as the deadline, cleaned; "" if none
    due: datetime | None  # the moment meant (aware, LOCAL_TZ), even if in the past
    recurrence: Recurrence | None
    audience: Audience
    source: str  # the passage it came from (sentence, paragraph, item with fields, table row)


@dataclass(frozen=True)
class UnitView:
    id: int
    code: str
    name: str
    kind: str
    groups: tuple[str, ...]
    parent_id: int | None


# --------------------------------------------------------------------------- folding

# Folding one character to one character keeps the offsets of the folded text equal to the
# original's, so that a match in the folded text cuts the words as written.


class _FoldTable(dict[int, str]):
    def __missing__(self, code: int) -> str:
        char = chr(code)
        if char.isspace():
            folded = " "
        elif char in "đĐ":
            folded = "d"
        else:
            base = "".join(c for c in unicodedata.normalize("NFD", char)
                           if unicodedata.category(c) != "Mn").lower()
            folded = base if len(base) == 1 else ("?" if len(char.lower()) != 1 else char.lower())
        self[code] = folded
        return folded


_FOLD = _FoldTable()


def _fold1(text: str) -> str:
    """`text` lower case and without accents, one character for one."""
    return text.translate(_FOLD)


def _kind_key(text: str) -> str:
    """The compact form a registry kind or group and a table phrase are compared in:
    "Trường THPT", "THPT" and "thpt" are all "thpt"; "Phòng GD&ĐT" is "phonggddt"."""
    folded = fold(text)
    folded = re.sub(r"^(?:tat ca |toan bo )?(?:cac |nhung )?", "", folded)
    folded = re.sub(r"^(?:truong|trung tam|tt) (?=\S)", "", folded)
    return re.sub(r"[^a-z0-9]", "", folded)


def _phrase_pattern(phrase: str) -> str:
    tokens = re.findall(r"[a-z0-9]+", fold(phrase))
    return r"[\W_]*".join(tokens)


# --------------------------------------------------------------------------- the table


@dataclass(frozen=True)
class _Table:
    mentions: re.Pattern[str]  # every phrase, one named group per kind
    groups: dict[str, str]  # regex group name -> kind key
    keys: dict[str, frozenset[str]]  # kind key -> compact keys a unit kind/group may have


def _merged(synonyms: Mapping[str, Sequence[str]] | None) -> dict[str, tuple[str, ...]]:
    table = dict(BUILTIN_KINDS)
    for key, phrases in (synonyms or {}).items():
        if not isinstance(key, str) or not KIND_KEY.fullmatch(key):
            continue
        extra = tuple(p for p in phrases if isinstance(p, str) and re.search(r"\w", p))
        table[key] = table.get(key, ()) + extra
    return table


@lru_cache(maxsize=32)
def _compiled(items: tuple[tuple[str, tuple[str, ...]], ...]) -> _Table:
    parts: list[str] = []
    groups: dict[str, str] = {}
    keys: dict[str, frozenset[str]] = {}
    for index, (key, phrases) in enumerate(items):
        patterns = sorted({_phrase_pattern(p) for p in phrases} - {""}, key=len, reverse=True)
        if key in KIND_GROUPS or key == "phong_gddt":
            # "các trường THPT" are no "các trường", "Phòng Giáo dục Trung học" (of a Sở) is
            # no Phòng GDĐT: a level of school follows.
            patterns = [f"(?:{p})(?!{_SEP}(?:{_SCHOOL_LEVELS}))" for p in patterns]
        keys[key] = frozenset({_kind_key(p) for p in phrases} | {_kind_key(key)}) - {""}
        if patterns:
            name = f"k{index}"
            groups[name] = key
            parts.append(f"(?P<{name}>{'|'.join(patterns)})")
    alternation = "|".join(parts) or "(?!)"
    pattern = re.compile(rf"(?<![a-z0-9])(?:{alternation})(?![a-z0-9])")
    return _Table(pattern, groups, keys)


def _table(synonyms: Mapping[str, Sequence[str]] | None) -> _Table:
    merged = _merged(synonyms)
    return _compiled(tuple((k, tuple(v)) for k, v in merged.items()))


# --------------------------------------------------------------------------- audience words

_SEP = r"[\W_]*"
# "các đơn vị trực thuộc Sở", "đơn vị thuộc, trực thuộc Sở GDĐT", "các trường trực thuộc"
_BELOW = re.compile(
    r"(?<![a-z0-9])(?:(?:cac |tat ca cac )?(?:don vi|co quan|truong|co so(?: giao duc)?)"
    rf"{_SEP}(?:(?:thuoc{_SEP})?truc thuoc|thuoc)|truc thuoc)"
    r"(?: (?:so|phong|ubnd|uy ban nhan dan|bo)(?: (?:gd\W*dt|giao duc(?: va| -)? dao tao"
    r"|tinh|huyen|thanh pho))?)?(?![a-z0-9])"
)
_GENERIC = re.compile(
    rf"(?<![a-z0-9])(?:cac |tat ca cac )?(?:co quan{_SEP}(?:va )?don vi|don vi|co quan)"
    r"(?: (?:co )?lien quan)?(?![a-z0-9])"
)
# Words that begin the name of an office ("Sở Tài chính", "Văn phòng Sở", "Công an tỉnh").
_HEAD = re.compile(
    r"(?<![a-z0-9])(?:van phong|phong|so|ban|uy ban|ubnd|cong an|bao|dai|truong|trung tam"
    r"|bo chi huy|bo(?! phan)|chi cuc|cuc|hoi|lien doan|tinh doan|thanh doan|huyen doan|kho bac"
    r"|bao hiem|vien|hoc vien|cong ty|thanh tra|thuong truc|tinh uy|huyen uy|thanh uy"
    r"|mat tran|ubmttq|dang uy|cong doan)(?![a-z0-9])"
)
_NAME_END = re.compile(r"\s*(?:[,;]|\bva\b|\bvoi\b)\s+cac\b|\s*[(:]")
# Words that may sit between or around audience words without making them anything else.
_FILLER_WORDS = frozenset(
    "cac va cung voi lien quan co tinh huyen thi xa thanh pho quan phuong thi tran de nghi "
    "thu truong giam doc hieu truong chu tich truong phong trong do toan bo tat ca nhung "
    "tren dia ban cua thuoc nam dinh".split()
)
_TITLE_OF_HEAD = re.compile(
    r"^(?:thu truong|hieu truong|giam doc|chu tich|truong phong|truong ban|lanh dao"
    r"|thu truong cac|trung tam truong)\s+(?=cac |phong |don vi |trung tam |truong )|"
    r"^(?:thu truong|hieu truong|giam doc|chu tich)\s+|^truong(?= phong )|^de nghi\s+"
    r"|^(?:doi voi|trach nhiem cua|nhiem vu cua|giao)\s+"
)


@dataclass
class _Mentions:
    kinds: list[str] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    below: bool = False
    generic: bool = False
    leftover: list[str] = field(default_factory=list)  # other words

    def audience(self, words: str) -> Audience:
        return Audience(_clean_words(words), tuple(self.kinds), tuple(self.names), self.below)


def _mentions(text: str, table: _Table) -> _Mentions:
    """The kinds, names, "trực thuộc" and "các cơ quan, đơn vị" that `text` names."""
    folded = _fold1(text)
    spans: list[tuple[int, int, str, str]] = []
    for match in table.mentions.finditer(folded):
        key = table.groups[next(g for g, v in match.groupdict().items() if v is not None)]
        spans.append((match.start(), match.end(), "kind", key))
    spans += [(m.start(), m.end(), "below", "") for m in _BELOW.finditer(folded)]
    spans += [(m.start(), m.end(), "generic", "") for m in _GENERIC.finditer(folded)]
    spans.sort(key=lambda s: (s[0], -(s[1] - s[0])))
    chosen: list[tuple[int, int, str, str]] = []
    end = -1
    for span in spans:
        if span[0] >= end:
            chosen.append(span)
            end = span[1]
    result = _Mentions()
    gaps: list[tuple[int, int]] = []
    position = 0
    for start, stop, what, key in chosen:
        if start < position:
            continue
        gaps.append((position, start))
        position = stop
        proper = _proper_name_end(text, folded, start, stop) if what == "kind" else None
        if proper is not None:  # "Trường THCS Nam Giang", "Phòng GDĐT Nam Trực": one unit
            name = text[start:proper].strip(" ,;.-–—")
            if fold(name) not in {fold(n) for n in result.names}:
                result.names.append(name)
            position = proper
            continue
        if what == "kind" and key not in result.kinds:
            result.kinds.append(key)
        result.below |= what == "below"
        result.generic |= what == "generic"
    gaps.append((position, len(text)))
    for start, stop in gaps:
        _names_in(text, folded, start, stop, result)
    return result


def _capitals(text: str) -> float:
    """The share of the letters of `text` that are capitals (0 with fewer than 3 letters)."""
    letters = len(re.findall(r"[^\W\d_]", text))
    if letters < 3:
        return 0.0
    lower = sum(map(str.__ne__, text, text.upper()))
    return (letters - lower) / letters


def _proper_name_end(text: str, folded: str, start: int, stop: int) -> int | None:
    """Where the proper name after a kind ends ("THPT Nam Trực", "TH số 2 Nam Giang"), or
    None when no name follows ("các trường THPT", "phòng GDĐT các huyện")."""
    if re.search(r"(?:^|\s)(?:cac|tat ca|nhung|moi)\s*$", folded[max(0, start - 12):start]) \
            or _capitals(text) > 0.6:
        return None
    end = stop
    capital = False
    for token in re.finditer(r"\s+([^\s,;:()]+)", text[stop:]):
        if token.start() != end - stop:
            break
        word = token.group(1).rstrip(".")
        if not word or _fold1(word) in _NOT_NAMES:
            break
        if word[0].isupper():
            capital = True
        elif not (word.isdigit() or _fold1(word) == "so"):
            break
        end = stop + token.end() - (len(token.group(1)) - len(word))
        if len(token.group(1)) != len(word):
            break
    return end if capital else None


_NOT_NAMES = frozenset({"cac", "tren", "thuoc", "truc", "va", "voi", "ubnd", "uy", "tinh",
                        "huyen", "thanh", "quan"})


def _names_in(text: str, folded: str, start: int, stop: int, result: _Mentions) -> None:
    """Names of offices in text[start:stop] (not covered by kinds), and the words left."""
    heads = [m for m in _HEAD.finditer(folded, start, stop) if text[m.start()].isupper()
             and _after_separator(folded, start, m.start())]
    cursor = start
    for index, head in enumerate(heads):
        if head.start() < cursor:
            continue
        result.leftover += re.findall(r"[a-z0-9]+", folded[cursor:head.start()])
        limit = heads[index + 1].start() if index + 1 < len(heads) else stop
        end_match = _NAME_END.search(folded, head.end(), limit)
        end = end_match.start() if end_match else limit
        name = text[head.start():end].strip(" ,;.-–—")
        name = re.sub(r"\s+(?:và|với)$", "", name).strip(" ,;.-–—")
        if len(name.split()) >= 2 and len(name.split()) <= 14:
            if fold(name) not in {fold(n) for n in result.names}:
                result.names.append(name)
        else:
            result.leftover += re.findall(r"[a-z0-9]+", folded[head.start():end])
        cursor = max(end, head.end())
    result.leftover += re.findall(r"[a-z0-9]+", folded[cursor:stop])


def _after_separator(folded: str, start: int, position: int) -> bool:
    before = folded[start:position].rstrip()
    return not before or before.endswith((",", ";", ":", "(", "-", "–")) or \
        re.search(r"(?:^|\s)(?:va|voi|cac|cua|gui|nghi)$", before) is not None


def _audience_like(text: str, table: _Table) -> _Mentions | None:
    """The mentions of `text` when it is nothing but audience words ("2. Sở Tài chính",
    "Các phòng GDĐT, TT GDNN-GDCTX, các đơn vị trực thuộc Sở"), else None."""
    body = _TITLE_OF_HEAD.sub("", fold(text))
    if not body or len(body.split()) > 24:
        return None
    found = _mentions(text, table)
    if not (found.kinds or found.names or found.below or found.generic):
        return None
    rest = [w for w in found.leftover if w not in _FILLER_WORDS and not w.isdigit()]
    return found if len(rest) <= 1 else None


def _clean_words(words: str) -> str:
    words = re.sub(r"[*_]+", "", words)
    words = re.sub(r"^\s*(?:đề nghị|Đề nghị|Kính gửi:?)\s+", "", words)
    return " ".join(words.split()).strip(" ,;:.-–—")


# --------------------------------------------------------------------------- duty words

_W = r"(?<![a-z0-9])"
_E = r"(?![a-z0-9])"
_PRODUCT_WORDS = "|".join(sorted((p for p in PRODUCTS if p != "hoi nghi"), key=len,
                                 reverse=True))
_PRODUCT = re.compile(rf"{_W}(?:du thao\s+)?(?P<p>{_PRODUCT_WORDS}){_E}")
_DUTY = re.compile(
    rf"{_W}(?:"
    r"(?P<build>(?<!thanh )(?:xay dung|lap|hoan thien|soan thao|bien soan|chuan bi|hoan thanh))"
    rf"(?:\s+[^\s,;:.()]+){{0,5}}?\s+(?:du thao\s+)?(?P<bp>{_PRODUCT_WORDS}){_E}"
    r"|(?P<regime>che do bao cao)(?=\s*:\s*\S)"
    r"|(?P<report>(?<!che do )(?<!de cuong )(?<!mau )(?<!kinh )bao cao)(?!\s+so\s+\d)"
    r"|(?P<send>(?<!kinh )gui)(?!\s+kem)"
    r"|(?P<submit>nop)"
    r"|(?P<present>(?<!chuong )(?<!phuong )(?<!qua )(?<!lo )(?<!quy )(?<!cong )(?<!giao )"
    r"(?<!tien )(?<!hanh )(?<!to )(?<!dien )trinh)(?!\s+(?:do|bay|tu|dien)\b)"
    r"|(?P<compile>tong hop)"
    r"|(?P<upload>(?:cap nhat|nhap))(?=[^;.]{0,80}?\s(?:len|vao|tren)\s+(?:he thong|phan mem"
    r"|co so du lieu|csdl|cong thong tin))"
    rf"){_E}"
)
_SEND = re.compile(rf"{_W}(?:gui|bao cao|nop|trinh|phan anh|trao doi|chuyen){_E}")
_DONE = re.compile(rf"{_W}hoan thanh{_E}")
_PURPOSE = re.compile(r"(?<!\w)để(?!\w)")
_CONDITIONAL = re.compile(
    rf"^\W*(?:trong qua trinh|truong hop|neu |khi co |khi can )|{_W}neu co "
    r"(?:kho khan|vuong mac|van de|phat sinh|thay doi)"
)
_ON_TIME = re.compile(rf"{_W}dung (?:thoi )?han{_E}")  # "nộp báo cáo đúng thời hạn": a reminder
_VERBS = re.compile(
    rf"{_W}(?:chu dong|phoi hop|chu tri|can cu|gui|bao cao|xay dung|to chuc|tien hanh"
    r"|thuc hien|tham muu|trien khai|tong hop|danh gia|theo doi|nop|trinh|lap|huong dan"
    r"|chi dao|ra soat|day manh|cung cap|tang cuong|co trach nhiem|khan truong|nghien cuu"
    r"|quan triet|hoan thanh|hoan thien|cap nhat|dang ky|de xuat|kiem tra|bo tri|phan bo"
    r"|quan ly|su dung|yeu cau|de nghi|giao|tiep tuc|nang cao|ban hanh|phe duyet|thong bao"
    r"|duy tri|dam bao|bao dam|uu tien|phat huy|can doi|giam sat|dieu chinh|xac dinh"
    r"|tuyen truyen|phan anh|trao doi|cu|phan cong|chuan bi|soan thao|bien soan|nhap"
    r"|thong ke|khao sat|dang tai|cong khai|lua chon|gioi thieu|tap trung|chiu trach nhiem)"
    rf"{_E}"
)
_REQUEST = re.compile(rf"{_W}(?:yeu cau|de nghi|giao|chi dao)\s*$")
_LEAD = re.compile(
    r"\s*(?:(?:dinh k[yi]\s*,?\s*)?(?:hang|moi) (?:nam hoc|nam|quy|thang|tuan)\s*,?"
    r"|dinh k[yi]\s*,?|(?:dong thoi|ngoai ra|sau do|truoc mat|theo do)\s*,"
    r"|(?:can cu|tren co so|truoc ngay|trong (?:thoi gian|nam hoc|nam|thang|quy)) [^,;:]{0,200},"
    r"|[*_\-–—•+]+)\s*"
)

# --------------------------------------------------------------------------- deadline words

_EM = r"[*_\s]*"
_DATE_NUM = r"\d{1,2}\s*[/.\-]\s*\d{1,2}(?:\s*[/.\-]\s*\d{4}|\s*[/.\-]\s*\d{2}(?!\d))?"
_DATE_WORDS = r"\d{1,2}\s+thang\s+\d{1,2}(?:\s*(?:nam\s+|/)\s*\d{4})?"
_CLOCK = (r"(?:\d{1,2}\s*(?:h|g|gio)(?:\s*\d{1,2}(?!\d)(?:\s*phut)?)?(?:\s+(?:sang|trua|chieu"
          r"|toi))?|\d{1,2}:\d{2})")
_DATE_CUE = (r"(?:truoc|cham nhat(?: la)?|muon nhat(?: la)?|han chot(?: la)?|han nop"
             r"(?: bao cao)?|thoi han|han|den het|den|vao|trong|hoan thanh(?: truoc)?)")
_DEADLINE_DATE = re.compile(
    rf"{_W}(?P<cue>{_DATE_CUE}){_EM}(?::{_EM})?(?:(?:luc{_EM})?{_CLOCK}{_EM},?{_EM})?"
    rf"(?:ngay{_EM})?(?:{_DATE_NUM}|{_DATE_WORDS})(?![0-9])(?:{_EM}(?:luc{_EM})?{_CLOCK})?"
    r"(?![\w/])"
)
_DEADLINE_PERIOD = re.compile(
    rf"{_W}(?:(?:truoc|trong|het|cuoi|vao|hoan thanh(?: trong| truoc)?|xong truoc"
    r"|cham nhat(?: la)?|muon nhat(?: la)?|han chot|thoi han|den het)"
    rf"{_EM}(?:thang\s+\d{{1,2}}\s*(?:/|-|nam)\s*\d{{4}}|quy\s+(?:[1-4]|iv|i{{1,3}})"
    rf"(?:\s*(?:/|-|nam)\s*\d{{4}})?)|(?:trong|het|cuoi|hoan thanh trong){_EM}nam\s+\d{{4}})"
    r"(?![\w/])"
)
_DEADLINE_OTHER = re.compile(  # "trước ngày 20 tháng cuối quý", "trước ngày 5", "vào thứ Sáu"
    rf"{_W}(?:truoc|cham nhat(?: la)?|muon nhat(?: la)?|han chot(?: la)?|han nop|han|vao"
    rf"|den het|hoan thanh truoc){_EM}(?::{_EM})?(?:"
    r"(?:ngay\s+)?\d{1,2}\s+(?:cua\s+)?thang\s+(?:dau|giua|cuoi|thu (?:nhat|hai|ba|[1-3]))"
    r"\s+(?:cua\s+)?quy(?:\s+(?:nay|sau|toi|tiep theo))?"
    r"|ngay\s+\d{1,2}(?!\s*[/.\-]\s*\d|\s+thang)"
    r"|thu\s+(?:hai|ba|tu|nam|sau|bay|[2-7])|chu nhat"
    r"|cuoi (?:thang|quy|nam hoc|nam|tuan)(?:\s+(?:nay|sau|toi|tiep theo))?"
    r")(?![\w/])"
)
_RECURRING = re.compile(
    rf"{_W}(?:dinh k[yi]\s*,?\s*)?(?:hang|moi)\s+(?:nam hoc|nam|quy|thang|tuan){_E}"
)
_YEARS = re.compile(r"^(?:nam\s+)?(\d{4})(?:\s*[-–—/]\s*(\d{4}))?$")


@dataclass(frozen=True)
class _Deadline:
    text: str
    due: datetime | None
    recurrence: Recurrence | None


def _clean_deadline(text: str) -> str:
    text = re.sub(r"[*_()\[\]]+", " ", text)
    text = re.sub(r"\s*/\s*", "/", text)
    return " ".join(text.split()).strip(" ,;:.-–—")


def _read(text: str, now: datetime, calendar: WorkingDays | None) -> _Deadline | None:
    """`text` as a deadline, or None when parse_deadline refuses it (but as "past", the
    moment meant is kept, and as "needs_day" the words alone)."""
    text = _clean_deadline(text)
    if not text:
        return None
    prefix = _CUE_PREFIX.match(_fold1(text))
    texts = [text] + ([text[prefix.end():]] if prefix and prefix.end() < len(text) else [])
    for words in texts:
        try:
            deadline = parse_deadline(words, now, calendar=calendar)
        except DeadlineError as error:
            if error.code == "past":
                return _Deadline(words, error.params["due"], None)
            if error.code == "needs_day":
                return _Deadline(words, None, None)
            continue
        return _Deadline(words, deadline.due, deadline.recurrence)
    return None


# Words before a deadline that the deadline grammar does not take: "hoàn thành trước ...",
# "Thời hạn nộp: ...", "hạn nộp báo cáo ...".
_CUE_PREFIX = re.compile(
    r"^(?:hoan thanh|xong|thoi han(?: nop)?(?: bao cao)?|han nop bao cao"
    r"|thoi gian(?: [a-z ]{1,30})?)\s*:?\s*"
)


def _recurring_at(folded: str, match: re.Match[str], dates: list[re.Match[str]]) -> bool:
    """"Hằng năm" is a deadline word when it begins a clause, follows "định kỳ" or a date;
    not in "Chương trình công tác hàng năm" or "kế hoạch trung hạn và hằng năm"."""
    if match.group().startswith("dinh k"):
        return True
    index = match.start() - 1
    while index >= 0 and folded[index] in " *_":
        index -= 1
    if index < 0 or folded[index] in ",;:(-–—":
        return True
    return any(0 <= match.start() - d.end() <= 3 for d in dates)


def _sentence_deadline(
    text: str, folded: str, now: datetime, calendar: WorkingDays | None,
    ignored: list[tuple[int, int]],
) -> _Deadline | None:
    dates = sorted((m for pattern in (_DEADLINE_DATE, _DEADLINE_PERIOD, _DEADLINE_OTHER)
                    for m in islice(pattern.finditer(folded), _CANDIDATES)),
                   key=lambda m: m.start())[:_CANDIDATES]
    recurring = [m for m in islice(_RECURRING.finditer(folded), _CANDIDATES)
                 if _recurring_at(folded, m, dates)]
    inside = [d for d in dates if _within(d.start(), ignored)]
    ordered = [d for d in dates if d not in inside] + inside
    for date in ordered:
        after = next((r for r in recurring if 0 <= r.start() - date.end() <= 3), None)
        before = next((r for r in recurring if r.end() <= date.start()), None)
        candidates = []
        if after is not None:
            candidates.append(text[date.start():after.end()])
        elif before is not None:
            candidates.append(f"{text[before.start():before.end()]} "
                              f"{text[date.start():date.end()]}")
        candidates.append(text[date.start():date.end()])
        for candidate in candidates:
            read = _read(candidate, now, calendar)
            if read is not None:
                return read
    for match in recurring:
        read = _read(text[match.start():match.end()], now, calendar)
        if read is not None:
            return read
    return None


_CANDIDATES = 12  # deadline words tried in one sentence


def _cell_deadline(value: str, now: datetime, calendar: WorkingDays | None) -> _Deadline | None:
    """The deadline of a table cell or a "Thời gian: ..." field: a year ("2022") or span of
    years ("2023-2024") is the end of its last year, else the words themselves or the
    deadline words in them."""
    cleaned = _clean_deadline(value)
    years = _YEARS.match(fold(cleaned))
    if years:
        return _read(f"năm {years.group(2) or years.group(1)}", now, calendar)
    whole = _read(cleaned, now, calendar) if len(cleaned) <= 60 else None
    if whole is not None:
        return whole
    folded = _fold1(value)
    for pattern in (_DEADLINE_DATE, _DEADLINE_PERIOD):
        for match in pattern.finditer(folded):
            read = _read(value[match.start():match.end()], now, calendar)
            if read is not None:
                return read
    return None


def _within(position: int, spans: list[tuple[int, int]]) -> bool:
    return any(start <= position < end for start, end in spans)


# --------------------------------------------------------------------------- the document

_ROMAN = re.compile(r"^(?:[IVXL]+)[.)]\s+")
_ARABIC = re.compile(r"^(\d{1,2}(?:\.\d{1,2}){0,3})[.)]?\s+(?=\D)")
_LETTER = re.compile(r"^[a-zđ][).]\s+")
_BULLET = re.compile(r"^(?:[-–—•+∙·▪●◦]|\*(?!\*))\s*")
_FIELD = re.compile(
    r"^(?:(?:co quan|don vi|bo phan|nguoi)\s+)?(?P<f>chu tri|thuc hien|phu trach|phoi hop"
    r"|thoi gian(?: [a-z ]{1,30})?|thoi han(?: [a-z ]{1,20})?|han nop(?: [a-z ]{1,20})?"
    r"|han chot|tien do"
    r"|san pham(?: [a-z ]{1,20})?|noi dung|hinh thuc|dia diem|doi tuong|yeu cau|ghi chu"
    r"|mau(?: bao cao)?|dia chi(?: email)?|email|phuong thuc|cach thuc)\s*:\s*(?P<value>.*)$"
)
_HEADER_CELL = (
    ("stt", re.compile(r"^(?:stt|tt|so tt|so thu tu)$")),
    ("time", re.compile(r"thoi gian|thoi han|tien do|hoan thanh|han")),
    ("coop", re.compile(r"phoi hop")),
    ("host", re.compile(r"chu tri|thuc hien|phu trach|don vi|co quan")),
    ("product", re.compile(r"san pham|ket qua")),
    ("task", re.compile(r"noi dung|nhiem vu|cong viec|ten|hoat dong|de an")),
)


@dataclass
class _Line:
    text: str  # without its number or bullet
    raw: str  # as written
    level: int | None  # 0 I., 10+ 1., 20 a), 30 bullet, None a plain paragraph
    cells: tuple[str, ...] | None = None
    fields: list[tuple[str, str, str]] = field(default_factory=list)  # kind, label, value


_RUNS = re.compile(r"([*_\-])\1{2,}")  # "____", "*****", "-----": two are as good


def _lines(text: str) -> list[_Line]:
    """The document's lines, a line broken inside a sentence (it begins in lower case)
    joined to the one before, and "Thời gian: ..." lines attached to their item."""
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n")
    lines: list[_Line] = []
    for raw_line in text.split("\n"):
        if "\t" in raw_line and raw_line.strip("\t ").count("\t") >= 1:
            cells = tuple(" ".join(_RUNS.sub(r"\1\1", c).split()) for c in raw_line.split("\t"))
            lines.append(_Line(" ".join(c for c in cells if c), raw_line.strip(), None, cells))
            continue
        raw = " ".join(_RUNS.sub(r"\1\1", raw_line).split())
        if not raw:
            continue
        level, body = _level_of(raw)
        if level is None and lines and lines[-1].cells is None and raw[0].islower() \
                and not lines[-1].raw.endswith(":"):
            previous = lines[-1]
            previous.text = f"{previous.text} {raw}"
            previous.raw = f"{previous.raw} {raw}"
            if previous.fields:
                kind, label, value = previous.fields[-1]
                previous.fields[-1] = (kind, label, f"{value} {raw}")
            continue
        match = _FIELD.match(_fold1(body))
        if match and lines and _takes_fields(lines[-1]) and len(body) < 400:
            kind = _field_kind(match.group("f"))
            label = body[:match.start("value")].rstrip(" :")
            lines[-1].fields.append((kind, label, body[match.start("value"):]))
            continue
        lines.append(_Line(body, raw, level))
    return lines


def _takes_fields(line: _Line) -> bool:
    """Fields follow an item's heading ("a) Đề án ...", "1. Báo cáo sơ kết"), not a
    paragraph that says all it has to say."""
    if line.cells is not None:
        return False
    return bool(line.fields) or (len(line.text) < 250 and not re.search(r"[.;]\W*$", line.text))


def _field_kind(label: str) -> str:
    if label.startswith(("thoi gian", "thoi han", "han", "tien do")):
        return "time"
    if label.startswith("phoi hop"):
        return "coop"
    if label.startswith("san pham"):
        return "product"
    if re.match(r"(?:(?:co quan|don vi|bo phan|nguoi)\s+)?(?:chu tri|thuc hien|phu trach)", label):
        return "host"
    return "other"


def _level_of(raw: str) -> tuple[int | None, str]:
    for pattern, level in ((_ROMAN, 0), (_LETTER, 20), (_BULLET, 30)):
        match = pattern.match(raw)
        if match:
            return level, raw[match.end():]
    match = _ARABIC.match(raw)
    if match:
        return 10 + match.group(1).count("."), raw[match.end():]
    return None, raw


def _sentences(text: str) -> list[tuple[int, int]]:
    """Spans of the sentences of a paragraph."""
    spans = []
    start = 0
    for match in re.finditer(r"(?<=[.!?…])[\"”’)*_]*\s+(?=[\"“(*_]*[^\W\d_])", text):
        before = text[start:match.start()].rstrip(".!?…\"”’)*_ ")
        last = before.rsplit(" ", 1)[-1].lower() if before else ""
        nxt = text[match.end():match.end() + 1]
        if not nxt.isupper() or last in {"tp", "tt", "ths", "ts", "pgs", "gs", "v.v", "đ/c",
                                          "ông", "bà", "q", "p"} or len(last) == 1:
            continue
        spans.append((start, match.start()))
        start = match.end()
    spans.append((start, len(text)))
    return [piece for a, b in spans if text[a:b].strip() for piece in _cut(text, a, b)]


_LONG = 1500  # a "sentence" longer than this (a text without full stops) is read in pieces


def _cut(text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    while end - start > _LONG:
        window = text[start:start + _LONG]
        cut = max(window.rfind("; "), window.rfind(", ") if window.rfind("; ") < 0 else -1)
        if cut <= 0:
            cut = window.rfind(" ")
        cut = cut + 1 if cut > 0 else _LONG
        yield start, start + cut
        start += cut
    yield start, end


# --------------------------------------------------------------------------- extraction


@dataclass
class _Context:
    now: datetime
    calendar: WorkingDays | None
    table: _Table
    addressees: Audience = NOBODY  # "Kính gửi"
    hosts: dict[int, Audience] = field(default_factory=dict)  # level -> host of the heading
    requested: Audience = NOBODY  # "Sở GDĐT yêu cầu các đơn vị ... như sau:"

    def host(self) -> Audience:
        """The host of the innermost heading above, or the units the letter asks."""
        for level in sorted(self.hosts, reverse=True):
            if self.hosts[level]:
                return self.hosts[level]
        return self.requested

    def enter(self, level: int | None) -> None:
        if level is None:
            return
        for known in [lv for lv in self.hosts if lv >= level]:
            del self.hosts[known]

    def resolved(self, found: _Mentions, words: str) -> Audience:
        """The audience of mentions; "các cơ quan, đơn vị" alone are the addressees."""
        audience = found.audience(words)
        if not audience and found.generic and self.addressees:
            return Audience(audience.words, self.addressees.kinds, self.addressees.names,
                            self.addressees.below)
        return audience


def extract_duties(
    text: str,
    *,
    now: datetime,
    calendar: WorkingDays | None = None,
    synonyms: Mapping[str, Sequence[str]] | None = None,
) -> list[Duty]:
    """Duties in document order. `synonyms` extends the built-in kind table."""
    context = _Context(now, calendar, _table(synonyms))
    return list(_duties(_lines(text if isinstance(text, str) else ""), context))


def _duties(lines: list[_Line], context: _Context) -> Iterator[Duty]:
    mode = ""  # "kinh_gui", "noi_nhan"
    header: dict[str, int] | None = None
    for line in lines:
        folded = _fold1(line.text)
        if line.cells is not None:
            mode = ""
            columns = _header(line.cells)
            if columns is not None:
                header = columns
                continue
            duty = _row_duty(line, header, context) if header is not None else None
            if duty is not None:
                yield duty
            elif header is None:
                yield from _paragraph_duties(line, context)
            continue
        header = None
        if folded.startswith("kinh gui"):
            mode = "kinh_gui"
            rest = line.text.split(":", 1)[1] if ":" in line.text else ""
            if rest.strip():
                _add_addressees(rest, context)
            continue
        if folded.startswith("noi nhan"):
            mode = "noi_nhan"
            continue
        if mode and line.level == 30:
            if mode == "kinh_gui":
                _add_addressees(line.text, context)
            continue
        mode = ""
        if re.match(r"^(?:V/v|v/v|Số\s*:|SỐ\s*:)", line.text):
            continue
        context.enter(line.level)
        yield from _line_duties(line, folded, context)


def _add_addressees(text: str, context: _Context) -> None:
    found = _mentions(_strip_title(text), context.table)
    old = context.addressees
    kinds = old.kinds + tuple(k for k in found.kinds if k not in old.kinds)
    names = old.names + tuple(n for n in found.names if n not in old.names)
    words = ", ".join(w for w in (old.words, _clean_words(text)) if w)
    context.addressees = Audience(words, kinds, names, old.below or found.below)


def _strip_title(text: str) -> str:
    """"Trưởng phòng GDĐT các huyện" -> "phòng GDĐT các huyện" (same length kept out)."""
    match = _TITLE_OF_HEAD.match(_fold1(text))
    if match is None or match.group().startswith("giao") and text[:4].lower() != "giao":
        return text  # "Giáo viên ..." is no "Giao ..." (assign)
    return text[match.end():]


def _line_duties(line: _Line, folded: str, context: _Context) -> Iterator[Duty]:
    level = line.level if line.level is not None else 29
    # A heading that is only audience words: the host of the items under it.
    headed = line.level is not None or line.text.rstrip(" *_").endswith(":")
    heading = _audience_like(_strip_title(line.text.rstrip(" *_:")), context.table) \
        if headed and len(line.text) < 200 and not line.fields else None
    if heading is not None and not _DUTY.search(folded):
        context.hosts[level] = context.resolved(heading, line.text)
        return
    body, own = line.text, NOBODY
    label = re.match(r"^(?P<label>[^:]{2,150}):\s+(?=\S)", line.text)
    if label:
        host = _audience_like(_strip_title(label.group("label")), context.table)
        if host is not None:  # "- Văn phòng Sở: chủ trì, ...": for it and the items under it
            own = context.resolved(host, label.group("label"))
            if line.level is not None:
                context.hosts[level] = own
            body = line.text[label.end():]
    if line.fields:
        duty = _block_duty(line, context)
        if duty is not None:
            yield duty
            return
    if re.match(r"^\W*tren day la\b", folded) or _shouting(line.text):
        return
    if folded.rstrip(" *_").endswith(":"):
        _requested(line.text, context)
        if re.match(r"^\W*(?:thuc hien|can cu|theo|trien khai|de |nham |nhan duoc)", folded) \
                or _INTRODUCTION.search(folded):
            return
    yield from _paragraph_duties(line, context, body, own)


_INTRODUCTION = re.compile(
    r"(?:nhu sau|sau day|cu the|(?:noi dung|nhiem vu|viec|yeu cau|van de|cong viec|diem)"
    r"(?: chinh| chu yeu| trong tam)? sau)\W*:\W*$"
)


def _shouting(text: str) -> bool:
    """A title in capitals ("V. CHẾ ĐỘ BÁO CÁO", "KẾ HOẠCH"): no passage of its own."""
    return len(text) < 300 and _capitals(text) > 0.8


def _requested(text: str, context: _Context) -> None:
    """An introduction "Sở GDĐT yêu cầu các cơ quan, đơn vị ... sau:" names the units that
    the items below it are asked of."""
    folded = _fold1(text)
    for match in re.finditer(rf"{_W}(?:yeu cau|de nghi|giao){_E}", folded):
        if text[match.start()].isupper() and match.start() > 0:
            continue
        verb = next(_verbs(text, folded, match.end()), None)
        zone = text[match.end():verb.start() if verb else len(text)]
        found = _mentions(zone, context.table)
        audience = context.resolved(found, zone)
        if audience:
            context.requested = audience
            return


def _paragraph_duties(line: _Line, context: _Context, body: str | None = None,
                      own: Audience = NOBODY) -> Iterator[Duty]:
    """The duties of a paragraph, one per sentence that states one; a sentence without a
    subject has the paragraph's last one, or its label's, or the heading's host."""
    body = line.text if body is None else body
    inherited = own or context.host()
    found: list[Duty] = []
    subject = NOBODY
    for start, stop in _sentences(body):
        sentence = body[start:stop]
        duty, said = _sentence_duty(sentence, context)
        if said:
            subject = said
        if duty is None:
            continue
        audience = said or subject or inherited
        found.append(Duty(duty.title, duty.product, duty.deadline_text, duty.due,
                          duty.recurrence, audience, sentence.strip()))
    if len(found) == 1:
        only = found[0]
        found = [Duty(only.title, only.product, only.deadline_text, only.due, only.recurrence,
                      only.audience, line.raw)]
    yield from found


def _sentence_duty(sentence: str, context: _Context) -> tuple[Duty | None, Audience]:
    """The duty a sentence states (if any) and the audience its subject names."""
    folded = _fold1(sentence)
    said, zone_end = _subject(sentence, folded, context)
    if _CONDITIONAL.search(folded) or _ON_TIME.search(folded) and not _DEADLINE_DATE.search(folded):
        return None, said
    ignored = _purposes(sentence, folded)
    duties = [m for m in _DUTY.finditer(folded)
              if not _within(m.start(), ignored) and _accent_ok(sentence, m)]
    deadline = _sentence_deadline(sentence, folded, context.now, context.calendar, ignored)
    if not duties:
        dated = deadline is not None and deadline.due is not None and \
            _DEADLINE_DATE.search(folded) is not None
        done = _DONE.search(folded)
        if not (dated and done):
            return None, said
        duties = [done]
    title, product = _title(sentence, folded, duties, zone_end)
    return Duty(title, product, deadline.text if deadline else "",
                deadline.due if deadline else None, deadline.recurrence if deadline else None,
                NOBODY, sentence), said


# Folded verbs that are other words with other accents: "giao" (assign) is not "giáo"
# (education), "cử" (send someone) is not "cứ", "gửi" is not "gùi". Checked when the text has
# accents at all.
_ACCENTED = {"giao": "giao", "cu": "cử", "lap": "lập", "nop": "nộp", "gui": "gửi",
             "trinh": "trình", "nhap": "nhập", "tong": "tổng", "bao": "báo", "so": "sở",
             "bo": "bộ", "ban": "ban", "ve": "về", "len": "lên", "cho": "cho", "voi": "với"}


def _accent_ok(sentence: str, match: re.Match[str]) -> bool:
    first = re.match(r"[^\W\d_]+", sentence[match.start():match.end()])
    if first is None:
        return True
    word = first.group()
    if word.isascii():
        return True
    expected = _ACCENTED.get(_fold1(word))
    return expected is None or word.lower() == expected


def _verbs(sentence: str, folded: str, position: int) -> Iterator[re.Match[str]]:
    """Verbs from `position` on: in lower case (a capital begins a name: "Ban Chỉ đạo",
    "Sở Giáo dục") unless at `position` itself, with their own accents."""
    for match in _VERBS.finditer(folded, position):
        if (match.start() == position or not sentence[match.start()].isupper()) and \
                _accent_ok(sentence, match):
            yield match


def _purposes(sentence: str, folded: str) -> list[tuple[int, int]]:
    """Spans of "để tổng hợp, báo cáo UBND tỉnh" after a sending verb: what the receiver
    does with it, not a duty of the sender."""
    events = sorted([(m.start(), 0) for m in re.finditer(";", folded)]
                    + [(m.start(), 1) for m in _SEND.finditer(folded)]
                    + [(m.start(), 2) for m in _PURPOSE.finditer(sentence.lower())])
    spans: list[tuple[int, int]] = []
    sent = False
    for position, what in events:
        if what == 0:
            sent = False
            if spans and spans[-1][1] == -1:
                spans[-1] = (spans[-1][0], position)
        elif what == 1:
            sent = True
        elif sent and not (spans and spans[-1][1] == -1):
            spans.append((position, -1))
    return [(a, b if b >= 0 else len(folded)) for a, b in spans]


def _subject(sentence: str, folded: str, context: _Context) -> tuple[Audience, int]:
    """The units a sentence begins with ("Các phòng GDĐT ... gửi", "Văn phòng Sở phối hợp",
    "Sở GDĐT đề nghị các đơn vị ... báo cáo"), after leading words such as "Định kỳ hằng
    năm," or "Căn cứ Kế hoạch này,"; and where the words after the subject begin."""
    position = 0
    while True:
        lead = _LEAD.match(folded, position)
        if not lead or lead.end() == position:
            break
        position = lead.end()
    for _ in range(2):
        verb = next(_verbs(sentence, folded, position), None)
        colon = folded.find(":", position)
        end = verb.start() if verb else len(folded)
        if 0 <= colon < end:
            end = colon
        zone = sentence[position:end]
        if verb is not None and verb.start() == end and \
                _REQUEST.search(folded[:verb.end()]):
            position = verb.end()
            continue
        if not zone.strip() or len(zone) > 250:
            return NOBODY, position
        found = _mentions(_strip_title(zone), context.table)
        audience = context.resolved(found, zone)
        return audience, (end if audience else position)
    return NOBODY, position


_RECIPIENT = re.compile(
    r"\s+(?:ve|len|cho|voi|toi|den)?\s*(?:ubnd|uy ban|so|bo|phong|ban|tinh uy|huyen uy"
    r"|thuong truc|chu tich|lanh dao|cap tren|cap co tham quyen|cac cap|hdnd|thu tuong"
    r"|chinh phu|van phong)\b"
)
_RESULT = re.compile(rf"{_W}(?:ket qua|tinh hinh){_E}")


def _title(sentence: str, folded: str, duties: list[re.Match[str]],
           subject_end: int) -> tuple[str, str]:
    """A short title and the product of a duty sentence: the product named with its verb
    ("Báo cáo tổng kết 10 năm ..."), or "Báo cáo kết quả thực hiện ..." for a report of
    results, or the clause itself."""
    short_product = ""
    for duty in duties:
        product = _adjacent_product(sentence, folded, duty)
        if product is None:
            continue
        phrase = _phrase(sentence, folded, product.start("p"))
        if len(phrase.split()) >= 3:
            return _short(phrase[0].upper() + phrase[1:]), PRODUCTS[product.group("p")]
        short_product = short_product or PRODUCTS[product.group("p")]
    first = duties[0]
    clause_start = folded.rfind(";", 0, first.start()) + 1
    clause_end = _clause_end(folded, first.start())
    reporting = any(d.groupdict().get(g) for d in duties
                    for g in ("report", "send", "compile", "regime"))
    result = _RESULT.search(folded, clause_start, clause_end)
    if reporting and not short_product and result is not None:
        phrase = _phrase(sentence, folded, result.start())
        if len(phrase.split()) >= 3:
            return _short(f"Báo cáo {phrase}"), "Báo cáo"
    start = max(clause_start, subject_end) if subject_end <= first.start() else clause_start
    while True:
        lead = _LEAD.match(folded, start)
        if not lead or lead.end() == start or lead.end() > first.start():
            break
        start = lead.end()
    title = _clause_title(sentence, folded, start, clause_end)
    return title, short_product or ("Báo cáo" if reporting else "")


def _recipient(sentence: str, folded: str, position: int) -> bool:
    """Whether an office follows `position` ("báo cáo UBND tỉnh", "gửi về Sở"); "báo cáo số
    liệu" and "báo cáo bổ sung" name no office."""
    match = _RECIPIENT.match(folded, position)
    if match is None:
        return False
    words = re.findall(r"[^\W\d_]+", sentence[match.start():match.end()])
    return all(w.isascii() or _ACCENTED.get(_fold1(w), w.lower()) == w.lower() for w in words)


def _adjacent_product(sentence: str, folded: str,
                      duty: re.Match[str]) -> re.Match[str] | None:
    """The product a duty verb names: "xây dựng (dự thảo) Báo cáo", "gửi báo cáo", "trình
    UBND tỉnh kế hoạch"; "báo cáo" itself unless it is the verb "báo cáo UBND tỉnh"."""
    if duty.groupdict().get("bp"):
        return _PRODUCT.match(folded, duty.start("bp"))
    if duty.groupdict().get("report"):
        if _recipient(sentence, folded, duty.end()):
            return None
        return _PRODUCT.match(folded, duty.start())
    match = _PRODUCT.search(folded, duty.end(), min(len(folded), duty.end() + 60))
    if match is None:
        return None
    between = folded[duty.end():match.start()]
    if re.search(r"[,;:.()]", between) or len(between.split()) > 3:
        return None
    if match.group("p") == "bao cao" and _recipient(sentence, folded, match.end()):
        return None
    return match


_STOP = re.compile(
    r"\s*[,;:(]|\s(?:ve (?=ubnd|uy ban|so|bo|phong|van phong|ban)|len|gui|nop"
    r"|trinh (?=ubnd|uy ban|cap|so|bo|hdnd|thu tuong|chu tich)|truoc|cham nhat|theo"
    r"|dong thoi|cho|bao cao (?=ubnd|uy ban|so|bo|phong|ve|len|cap)"
    r"|va (?:gui|nop|bao cao|to chuc|trien khai)|dinh ky)\b"
)
_STOP_ACCENTED = re.compile(r"\s(?:để|qua|tại)\s")
_STOP_PLAIN = re.compile(r"\squa (?=van phong|phong|so|email|thu|he thong|buu dien|cong)")


def _clause_end(folded: str, position: int) -> int:
    ends = [i for i in (folded.find(";", position), folded.find(". ", position)) if i >= 0]
    return min(ends) if ends else len(folded)


def _phrase(sentence: str, folded: str, start: int) -> str:
    accented = _STOP_ACCENTED if not sentence.isascii() else _STOP_PLAIN
    stops = [m.start() for m in (_STOP.search(folded, start + 1),
                                 accented.search(sentence.lower(), start + 1)) if m]
    end = min(stops) if stops else len(sentence)
    return " ".join(re.sub(r"[*_]+", "", sentence[start:end]).split()).strip(" ,;:.-–—")


_DEADLINE_WORDS = re.compile(r"\s(?:truoc|cham nhat|han chot|dinh ky|hang nam|hang quy)\b")


def _clause_title(sentence: str, folded: str, start: int, end: int) -> str:
    """The clause as a title, without its deadline (shown beside the title anyway)."""
    cut = _DEADLINE_WORDS.search(folded, start + 1, end)
    if cut is not None and cut.start() > start:
        end = cut.start()
    words = " ".join(re.sub(r"[*_]+", "", sentence[start:end]).split()).strip(" ,;:.-–—")
    if not words:
        return ""
    words = words[0].upper() + words[1:]
    return _short(words, _SHORT_TITLE)


def _short(text: str, limit: int = TITLE_MAX) -> str:
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[:limit - 1].rsplit(" ", 1)[0].rstrip(" ,;:.-–—")
    return f"{cut}…"


# --------------------------------------------------------------------------- items and tables


def _block_duty(line: _Line, context: _Context) -> Duty | None:
    """An item followed by "Cơ quan chủ trì: ...", "Thời gian trình: ..." lines."""
    fields = {kind: (label, value) for kind, label, value in reversed(line.fields)}
    folded = _fold1(line.text)
    heading_product = _PRODUCT.match(folded) or re.match(rf"{_W}hoi nghi{_E}", folded)
    time_label = fold(fields["time"][0]) if "time" in fields else ""
    wanted = ("host" in fields and "time" in fields) or "product" in fields or (
        "time" in fields and (heading_product is not None or _DUTY.search(folded) is not None
                              or re.search(r"trinh|nop|gui|bao cao", time_label) is not None))
    if not wanted:
        return None
    deadline = _cell_deadline(fields["time"][1], context.now, context.calendar) \
        if "time" in fields else None
    if deadline is None:
        deadline = _sentence_deadline(line.text, folded, context.now, context.calendar, [])
    audience = NOBODY
    if "host" in fields:
        value = fields["host"][1]
        audience = context.resolved(_mentions(value, context.table), value)
    if not audience:
        audience = _subject(line.text, folded, context)[0] or context.host()
    product = fields["product"][1].strip(" .;") if "product" in fields else (
        PRODUCTS.get(heading_product.group().split("du thao ")[-1].strip(), "")
        if heading_product else "")
    title = _short(re.sub(r"[*_]+", "", line.text).strip(" ,;:.-–—"))
    source = "\n".join([line.raw] + [f"- {label}: {value}" for _, label, value in line.fields])
    return Duty(title, _short(product, 100), deadline.text if deadline else "",
                deadline.due if deadline else None, deadline.recurrence if deadline else None,
                audience, source)


def _header(cells: tuple[str, ...]) -> dict[str, int] | None:
    """Columns of a task table's header row, or None when the row is no header."""
    columns: dict[str, int] = {}
    for index, cell in enumerate(cells):
        folded = fold(cell)
        if not folded or len(folded) > 60:
            continue
        for name, pattern in _HEADER_CELL:
            if name not in columns and pattern.search(folded):
                columns[name] = index
                break
    if "task" in columns and ("host" in columns or "time" in columns) and len(columns) >= 3:
        return columns
    return None


def _row_duty(line: _Line, header: dict[str, int], context: _Context) -> Duty | None:
    def cell(name: str) -> str:
        index = header.get(name)
        if index is None or index >= len(line.cells or ()):
            return ""
        return (line.cells or ())[index].strip()

    task = cell("task")
    host, time_cell, product = cell("host"), cell("time"), cell("product")
    if not task or not (host or time_cell or product):
        return None
    deadline = _cell_deadline(time_cell, context.now, context.calendar) if time_cell else None
    audience = context.resolved(_mentions(host, context.table), host) if host else NOBODY
    if not audience:
        audience = context.host()
    if not product:
        match = _PRODUCT.match(_fold1(task))
        product = PRODUCTS[match.group("p")] if match else ""
    return Duty(_short(re.sub(r"[*_]+", "", task).strip(" ,;:.-–—")), _short(product, 100),
                deadline.text if deadline else "", deadline.due if deadline else None,
                deadline.recurrence if deadline else None, audience, line.raw)


# --------------------------------------------------------------------------- the registry


def resolve_audience(
    audience: Audience,
    units: Sequence[UnitView],
    office_id: int | None,
    synonyms: Mapping[str, Sequence[str]] | None = None,
) -> list[int]:
    """Ids of the units (among `units`, which are already the staff member's scope) that the
    audience means: kinds matched against each unit's kind and groups (diacritic-insensitive,
    through the synonym table), names against unit names/codes, `below` = units whose
    parent_id is office_id. Empty when nothing matches."""
    table = _table(synonyms)
    wanted: set[str] = set()
    for kind in audience.kinds:
        wanted.add(kind)
        wanted.update(KIND_GROUPS.get(kind, ()))
    keys = set().union(*(table.keys.get(k, frozenset({_kind_key(k)})) for k in wanted)) \
        if wanted else set()
    names = [fold(n) for n in audience.names if fold(n)]
    chosen: list[int] = []
    for unit in units:
        unit_keys = {_kind_key(unit.kind)} | {_kind_key(g) for g in unit.groups}
        unit_keys.discard("")
        name, code = fold(unit.name), fold(unit.code)
        if (keys & unit_keys
                or any(n in (name, code) or name.startswith(f"{n} ") for n in names)
                or (audience.below and office_id is not None and unit.parent_id == office_id)):
            if unit.id not in chosen:
                chosen.append(unit.id)
    return chosen
