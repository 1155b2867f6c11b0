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
