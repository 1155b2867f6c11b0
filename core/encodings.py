"""The text of a CSV file whatever Excel or an old office program saved it as: UTF-8 (with or
without its byte-order mark), UTF-16, or a legacy code page — Windows-1258 (the Vietnamese
one, with its tone marks as separate combining characters) or Windows-1252 — found with
charset-normalizer. A file that decodes only to garbled Vietnamese (TCVN3/VNI font encodings,
a wrong guess) is refused rather than imported with broken names.
"""

from __future__ import annotations

import codecs
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass

# The five Vietnamese tones, as combining marks; a syllable carries at most one.
TONES = frozenset("\u0300\u0301\u0303\u0309\u0323")
# Letters of the Vietnamese alphabet beyond ASCII, without their tone.
VIETNAMESE_BASES = frozenset("ăâđêôơưĂÂĐÊÔƠƯ")
# Breve, circumflex and horn (ă, â/ê/ô, ơ/ư) with the tones.
VIETNAMESE_MARKS = TONES | frozenset("\u0306\u0302\u031b")
# Latin-1 symbols that no unit or person's name holds («, », ° and · may).
ODD_SYMBOLS = frozenset(chr(c) for c in range(0xA1, 0xC0)) - frozenset("«»°·")
# VNI's tone and ư/ơ letters as Windows-1252 shows them, which follow a vowel there.
VNI_MARKS = frozenset("øöïñåäæûëØÖÏÑÅÄÆÛË")
LEGACY = ("cp1252", "cp1258")  # always weighed, whatever charset-normalizer guesses
ACCEPTED = frozenset({*LEGACY, "utf_16", "utf_16_le", "utf_16_be", "utf_32", "latin_1"})
NAMES = {"utf_8": "UTF-8", "utf-8": "UTF-8", "utf_8_sig": "UTF-8 (BOM)", "utf_16": "UTF-16",
         "utf_16_le": "UTF-16", "utf_16_be": "UTF-16", "cp1258": "Windows-1258",
         "cp1252": "Windows-1252"}
# A word with a letter beyond ASCII; a character beyond ASCII; a control; a combining mark.
_NON_ASCII_WORD = re.compile(r"[^\W\d_]*[^\x00-\x7f\W\d_][^\W\d_]*")
_NON_ASCII = re.compile(r"[^\x00-\x7f]")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# A UTF-8 lead byte read as Windows-1252 (Ã, Æ, á...) followed by a continuation byte read so.
_MOJIBAKE = re.compile("[\u00c2-\u00f4][\u0080-\u00bf\u0152-\u0192\u02c6\u02dc\u2013-\u2122]")
_MARK = re.compile(r"[\u0300-\u036f]")


@dataclass(frozen=True)
class Decoded:
    text: str  # NFC, without a byte-order mark
    encoding: str  # as people know it: "UTF-8", "Windows-1258", ...


class UnreadableText(ValueError):
    """The bytes decode to no plausible text; `str()` says why."""


def decode_table(raw: bytes) -> Decoded:
    """The text of a CSV file's bytes, or UnreadableText."""
    for bom, name in ((codecs.BOM_UTF8, "utf_8_sig"), (codecs.BOM_UTF16_LE, "utf_16"),
                      (codecs.BOM_UTF16_BE, "utf_16")):
        if raw.startswith(bom):
            try:
                return Decoded(_clean(raw.decode(name)), NAMES[name])
            except UnicodeDecodeError as exc:
                raise UnreadableText(f"it starts as {NAMES[name]} but byte {exc.start} is not "
                                     f"{NAMES[name]}") from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        if _twice_encoded(text):
            raise UnreadableText("it is UTF-8, but of text already garbled by a wrong "
                                 "conversion (such as «TrÆ°á»ng» for «Trường»)")
        return Decoded(_clean(text), "UTF-8")
    candidates: list[str] = ["utf_16_le", "utf_16_be"] if _looks_like_utf16(raw) else []
    # charset-normalizer's guesses, among the encodings Vietnamese offices' files come in
    # (a Central European reading of a VNI file is no reading).
    from charset_normalizer import from_bytes  # imported by the first guess, not at start-up

    guesses = [match.encoding for match in from_bytes(raw[:200_000])]
    candidates += [*(g for g in guesses if g in ACCEPTED), *LEGACY]
    best: tuple[int, int, str, str] | None = None
    for encoding in dict.fromkeys(candidates):  # the first of equals wins
        try:
            decoded = raw.decode(encoding)
        except (UnicodeDecodeError, LookupError):
            continue
        text = _clean(decoded)
        seen = Letters.of(text)
        # Windows-1258 writes most tones as combining marks after the vowel: marks that
        # compose with the letter before them are the code page's signature.
        composed = len(_MARK.findall(decoded)) - seen.marks
        rank = (seen.garbled, seen.foreign - seen.vietnamese - 2 * composed, encoding, text)
        if best is None or rank[:2] < best[:2]:
            best = rank
    if best is None or best[0] > 0:
        raise UnreadableText("its encoding is not UTF-8 and no known one reads it as "
                             "Vietnamese (it may be a TCVN3/VNI font encoding)")
    return Decoded(best[3], NAMES.get(best[2], best[2]))


@dataclass(frozen=True)
class Letters:
    """What a reading of a file looks like beyond ASCII, counted over its distinct words and
    characters (a national members list is 10 MB: each is looked at once)."""

    garbled: int  # words that cannot be Vietnamese or plain Latin, and odd characters
    foreign: int  # letters outside the Vietnamese alphabet (ü, ß, å...): possible, but rare
    vietnamese: int  # tones, and twice the letters ă â đ ê ô ơ ư
    marks: int  # combining marks left over (that composed with no letter)

    @classmethod
    def of(cls, text: str) -> Letters:
        words = Counter(_NON_ASCII_WORD.findall(text))
        chars = Counter(_NON_ASCII.findall(text))
        garbled = sum(n for word, n in words.items() if _garbled(word))
        # Symbols that appear in names only through a wrong code page (TCVN3 letters,
        # mostly), controls, and marks left on no letter.
        garbled += sum(n for c, n in chars.items() if c in ODD_SYMBOLS or unicodedata.combining(c)
                       or unicodedata.category(c) in ("Cc", "Cf", "Co", "Cn"))
        garbled += len(_CONTROL.findall(text))
        return cls(garbled, sum(n for c, n in chars.items() if _foreign(c)),
                   sum(n * _vietnamese_weight(c) for c, n in chars.items()),
                   sum(n for c, n in chars.items() if unicodedata.combining(c)))


def _garbled(word: str) -> bool:
    """More than one tone on a syllable, capitals inside a word, or VNI's second letters."""
    tones = sum(1 for c in unicodedata.normalize("NFD", word) if c in TONES)
    rest = word[1:]
    mixed = any(c.isupper() for c in rest) and any(c.islower() for c in rest)
    # VNI writes a tone or a ư/ơ as a second letter after the vowel: «Tröôøng».
    vni = any(b in VNI_MARKS and _vowel(a) for a, b in zip(word, word[1:], strict=False))
    return tones > 1 or mixed or vni


def _foreign(letter: str) -> bool:
    if not letter.isalpha() or letter.isascii() or letter in "đĐ":
        return False
    parts = unicodedata.normalize("NFD", letter)
    return len(parts) == 1 or any(mark not in VIETNAMESE_MARKS for mark in parts[1:])


def _vowel(letter: str) -> bool:
    return unicodedata.normalize("NFD", letter)[:1].lower() in "aeiouy"


def _vietnamese_weight(char: str) -> int:
    """A tone counts once, ă â đ ê ô ơ ư twice (their bytes read as ý õ ð ã in
    Windows-1252)."""
    parts = unicodedata.normalize("NFD", char)
    return sum(1 for c in parts if c in TONES) + 2 * sum(
        1 for c in parts if c in VIETNAMESE_BASES or c in "\u0306\u0302\u031b")


def _twice_encoded(text: str) -> bool:
    """UTF-8 bytes read as Windows-1252 and saved as UTF-8 again: «TrÆ°á»ng»."""
    if text.isascii() or not _MOJIBAKE.search(text):
        return False
    try:
        repaired = b"".join(_byte_of(c) for c in text).decode("utf-8")
    except UnicodeError:
        return False
    return repaired != text and Letters.of(repaired).vietnamese > 0


def _byte_of(char: str) -> bytes:
    """`char` as Windows-1252 wrote it (its five holes as Latin-1, as converters do)."""
    try:
        return char.encode("cp1252")
    except UnicodeEncodeError:
        return char.encode("latin-1")  # UnicodeEncodeError past U+00FF: not that case


def _looks_like_utf16(raw: bytes) -> bool:
    sample = raw[:4000]
    return len(sample) >= 4 and sample.count(0) * 3 >= len(sample)


def _clean(text: str) -> str:
    return unicodedata.normalize("NFC", text.lstrip("\ufeff"))
