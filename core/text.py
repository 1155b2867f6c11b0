"""Text folding so that Vietnamese text matches regardless of case, accents and Unicode form."""

from __future__ import annotations

import re
import unicodedata

_SPACES = re.compile(r"\s+")


def fold(text: str) -> str:
    """Return `text` lower-cased, without diacritics (đ → d) and with collapsed spaces.

    "Nam Trực", "NAM TRUC" and the NFD spelling of "nam trực" all fold to "nam truc".
    """
    decomposed = unicodedata.normalize("NFD", text)
    stripped = "".join(ch for ch in decomposed if unicodedata.category(ch) != "Mn")
    stripped = stripped.replace("đ", "d").replace("Đ", "D")
    return _SPACES.sub(" ", stripped.casefold()).strip()


def contains(haystack: str, needle: str) -> bool:
    """True when `needle` occurs in `haystack`, both folded."""
    return fold(needle) in fold(haystack)


def small_number(text: str, max_digits: int = 9) -> int | None:
    """The number a user typed (`12`, ` 12 `), or None: ASCII digits only (not `²` or `١`,
    which `str.isdigit` accepts) and short enough for any database integer."""
    value = text.strip()
    if not value or len(value) > max_digits or not (value.isascii() and value.isdigit()):
        return None
    return int(value)


MAX_TEXT = 4096  # the longest message a chat platform delivers (Telegram); Zalo's is shorter
MAX_NAME = 255  # a file name, as file systems and the database keep it
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def clean_text(text: str, limit: int = MAX_TEXT) -> str:
    """User text as the bot keeps it: NUL and other control characters dropped (line breaks
    and tabs kept), at most `limit` characters."""
    return _CONTROL.sub("", text)[:limit]


EXCERPT = 80  # characters of a user's text quoted back in a reply


def excerpt(text: str, limit: int = EXCERPT) -> str:
    """`text` as a reply quotes it back: on one line, at most `limit` characters, cut at a
    word with "…" when longer (the user knows what they wrote; a reply that repeats a long
    message whole buries what it says)."""
    value = " ".join(text.split())
    if len(value) <= limit:
        return value
    cut = value[:limit - 1]
    if value[limit - 1] != " " and " " in cut[limit // 2:]:  # a word cut in two: drop it
        cut = cut[:cut.rindex(" ")]
    return cut.rstrip(" ,.;:") + "…"


def clean_name(name: str) -> str:
    """A file name without control characters or folders, at most MAX_NAME characters with
    its extension kept."""
    name = _CONTROL.sub("", name).replace("/", "_").replace("\\", "_").strip() or "tep"
    if len(name) <= MAX_NAME:
        return name
    stem, dot, ext = name.rpartition(".")
    if not dot or len(ext) > 10:
        return name[:MAX_NAME]
    return stem[:MAX_NAME - len(ext) - 1] + "." + ext
