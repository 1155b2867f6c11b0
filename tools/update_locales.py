"""Extract message ids into locales/messages.pot and merge them into the vi and en catalogs.

Message ids are the Vietnamese texts, so the vi catalog translates each id to itself; new
English entries are left empty for a translator (tests/test_locales.py fails until they are
filled). Run with `make locales`.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
LOCALES = ROOT / "locales"
POT = LOCALES / "messages.pot"
SOURCES = ["app", "core", "services", "handlers", "channels", "scheduler", "reports"]


def main() -> None:
    subprocess.run(
        [sys.executable, "-m", "babel.messages.frontend", "extract", "-F", "babel.cfg",
         "-k", "t", "-k", "tr", "-k", "N_", "-k", "plural:1,2", "--no-location",
         "--omit-header", "--sort-output", "-o", str(POT), *SOURCES],
        check=True, cwd=ROOT,
    )
    for language in ("vi", "en"):
        with POT.open("rb") as f:
            template = read_po(f)
        path = LOCALES / language / "LC_MESSAGES" / "messages.po"
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            with path.open("rb") as f:
                catalog = read_po(f, locale=language)
        else:
            from babel.messages.catalog import Catalog

            catalog = Catalog(locale=language, project="bot", fuzzy=False)
        catalog.update(template, no_fuzzy_matching=True)
        for message in catalog:
            if not message.id:
                continue
            if language == "vi":
                message.string = message.id
            message.flags.discard("fuzzy")
        catalog.obsolete.clear()
        with path.open("wb") as f:
            write_po(f, catalog, omit_header=False, sort_output=True, width=100,
                     include_previous=False)
        print(f"{path.relative_to(ROOT)}: {len(catalog)} messages")


if __name__ == "__main__":
    main()
