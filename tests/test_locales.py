"""Every message id has a translation in both catalogs, with the same placeholders."""

from __future__ import annotations

import re

import pytest
from babel.messages.pofile import read_po

from core.i18n import LOCALES_DIR, Translator

PLACEHOLDER = re.compile(r"\{[^}]*\}")


@pytest.mark.parametrize("language", ["vi", "en"])
def test_catalog_is_complete(language: str) -> None:
    with (LOCALES_DIR / language / "LC_MESSAGES" / "messages.po").open("rb") as f:
        catalog = read_po(f, locale=language)
    with (LOCALES_DIR / "messages.pot").open("rb") as f:
        template = read_po(f)
    ids = {m.id if isinstance(m.id, str) else m.id[0] for m in template if m.id}
    missing = []
    for message in catalog:
        if not message.id:
            continue
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        key = message.id if isinstance(message.id, str) else message.id[0]
        ids.discard(key)
        if not all(strings):
            missing.append(key)
            continue
        for string in strings:
            assert sorted(PLACEHOLDER.findall(key)) == sorted(PLACEHOLDER.findall(string)), key
    assert not missing, f"{language}: no translation for {missing[:5]}"
    assert not ids, f"{language}: not in the catalog, run `make locales`: {sorted(ids)[:5]}"


def test_dates_and_numbers_follow_the_language() -> None:
    from datetime import datetime

    from core.clock import LOCAL_TZ

    moment = datetime(2023, 5, 8, 17, 0, tzinfo=LOCAL_TZ)
    assert Translator("vi").moment(moment) == "Thứ Hai, 08/05/2023 17:00"
    assert Translator("en").moment(moment) == "Monday, 08/05/2023 17:00"
    assert Translator("vi").number(1234) == "1.234"
    assert Translator("en").number(1234) == "1,234"
    assert Translator("en")("Gửi") == "Send"
