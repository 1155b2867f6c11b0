"""Short durations typed by administrators: "3d", "6h", "30m", "1d2h30m", "2w"."""

from __future__ import annotations

import re
from datetime import timedelta

from core.text import fold

_PART = re.compile(r"([0-9]+)([wdhm])")
_WHOLE = re.compile(r"(?:[0-9]+[wdhm])+")
_UNIT = {"w": "weeks", "d": "days", "h": "hours", "m": "minutes"}


def parse_duration(text: str) -> timedelta:
    """Parse "3d", "6h", "30m", "1d 2h30m", "2w" (any case, spaces allowed) into a timedelta.

    Each unit may appear once, in any order. Raises ValueError for anything else, for an
    empty text and for a zero duration.
    """
    compact = fold(text).replace(" ", "")
    if not compact or not _WHOLE.fullmatch(compact):
        raise ValueError(f"not a duration: {text!r}")
    amounts: dict[str, int] = {}
    for number, unit in _PART.findall(compact):
        name = _UNIT[unit]
        if name in amounts:
            raise ValueError(f"unit {unit!r} repeated in {text!r}")
        amounts[name] = int(number)
    try:
        result = timedelta(**amounts)
    except OverflowError as exc:
        raise ValueError(f"duration too large: {text!r}") from exc
    if not result:
        raise ValueError(f"zero duration: {text!r}")
    return result
