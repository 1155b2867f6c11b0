"""Translations through Babel's gettext catalogs in `locales/`, and Babel's formatters.

Message ids are the Vietnamese texts (the product is Vietnamese first); the English catalog
translates them. Catalogs are compiled in memory from the `.po` files at first use, so a
fresh checkout needs no build step.
"""

from __future__ import annotations

import gettext
from datetime import datetime
from functools import cache
from io import BytesIO
from pathlib import Path

from babel.dates import format_date
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal

from core.clock import to_local

LOCALES_DIR = Path(__file__).resolve().parent.parent / "locales"
LANGUAGES = ("vi", "en")
DOMAIN = "messages"


def N_(message: str) -> str:
    """Mark a message id for extraction without translating it yet."""
    return message


@cache
def translations(language: str) -> gettext.NullTranslations:
    po_path = LOCALES_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"
    if not po_path.exists():
        return gettext.NullTranslations()
    with po_path.open("rb") as po_file:
        catalog = read_po(po_file, locale=language)
    buffer = BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


class Translator:
    """Everything a handler needs to speak one language."""

    def __init__(self, language: str) -> None:
        self.language = language if language in LANGUAGES else "vi"
        self._t = translations(self.language)

    def __call__(self, message: str, /, **params: object) -> str:
        text = self._t.gettext(message)
        return text.format(**params) if params else text

    def plural(self, singular: str, plural: str, n: int, /, **params: object) -> str:
        return self._t.ngettext(singular, plural, n).format(n=self.number(n), **params)

    def number(self, value: float) -> str:
        return format_decimal(value, locale=self.language)

    def date(self, moment: datetime) -> str:
        """`08/05/2023`"""
        return to_local(moment).strftime("%d/%m/%Y")

    def day(self, moment: datetime) -> str:
        """`Thứ Hai, 08/05/2023` / `Monday, 08/05/2023`"""
        return format_date(to_local(moment).date(), "EEEE, dd/MM/yyyy", locale=self.language)

    def moment(self, moment: datetime) -> str:
        """`Thứ Hai, 08/05/2023 17:00`"""
        local = to_local(moment)
        return f"{self.day(local)} {local:%H:%M}"

    def time_left(self, now: datetime, due: datetime) -> str:
        """`còn 7 ngày`, `còn 5 giờ`, `quá hạn 2 ngày`."""
        seconds = (due - now).total_seconds()
        if seconds >= 0:
            days = int(seconds // 86400)
            if days >= 1:
                return self.plural("còn {n} ngày", "còn {n} ngày", days)
            hours = max(1, int(seconds // 3600))
            return self.plural("còn {n} giờ", "còn {n} giờ", hours)
        late = -seconds
        days = int(late // 86400)
        if days >= 1:
            return self.plural("quá hạn {n} ngày", "quá hạn {n} ngày", days)
        hours = max(1, int(late // 3600))
        return self.plural("quá hạn {n} giờ", "quá hạn {n} giờ", hours)
