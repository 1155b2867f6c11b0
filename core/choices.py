"""Numbered answers for channels without buttons: the choices are listed as
`Trả lời 1 = Đã nộp, 2 = Đang làm, ...` under the message, and a reply that is just one of
those numbers stands for pressing that button."""

from __future__ import annotations

import re
from collections.abc import Sequence

from core.i18n import N_, Translator
from core.text import small_number

CHOICES_LINE = N_("Trả lời {choices}")


def choices_line(t: Translator, labels: Sequence[str]) -> str:
    """`Trả lời 1 = Gửi, 2 = Sửa, 3 = Huỷ` in the reader's language."""
    return t(CHOICES_LINE, choices=", ".join(f"{n} = {label}"
                                             for n, label in enumerate(labels, start=1)))


def with_choices(t: Translator, text: str, labels: Sequence[str]) -> str:
    """`text` with its choices listed on a last line (unchanged when there are none)."""
    if not labels:
        return text
    return f"{text}\n{choices_line(t, labels)}" if text else choices_line(t, labels)


def chosen_index(text: str, count: int) -> int | None:
    """The 0-based choice a reply such as `2` or ` 2. ` picks among `count`, else None."""
    number = small_number(text.strip().rstrip(".)"))
    return number - 1 if number is not None and 1 <= number <= count else None


def split_choices(t: Translator, text: str) -> tuple[str, list[str]]:
    """The inverse of `with_choices`: (the text without its choices line, the labels)."""
    body, _, last = text.rpartition("\n")
    head = t(CHOICES_LINE, choices="")
    if not last.startswith(head):
        return text, []
    rest = last[len(head):]
    labels: list[str] = []
    number = 1
    if not rest.startswith(f"{number} = "):
        return text, []
    rest = rest[len(f"{number} = "):]
    while True:
        number += 1
        match = re.search(rf", {number} = ", rest)
        if match is None:
            labels.append(rest)
            return body, labels
        labels.append(rest[:match.start()])
        rest = rest[match.end():]
