"""Tests of core.durations.parse_duration."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.durations import parse_duration


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("3d", timedelta(days=3)),
        ("6h", timedelta(hours=6)),
        ("30m", timedelta(minutes=30)),
        ("1d2h30m", timedelta(days=1, hours=2, minutes=30)),
        ("2w", timedelta(weeks=2)),
        ("1d 2h", timedelta(days=1, hours=2)),
        (" 1D 2H 30M ", timedelta(days=1, hours=2, minutes=30)),
        ("1w 1d", timedelta(days=8)),
        ("90m", timedelta(minutes=90)),
        ("2h1d", timedelta(days=1, hours=2)),
        ("0d5h", timedelta(hours=5)),
    ],
)
def test_parses(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "0d",
        "0h0m",
        "3",
        "d",
        "3x",
        "1.5h",
        "-3d",
        "3d3d",
        "3 ngày",
        "1d,2h",
        "h3",
        "99999999999999999999w",
    ],
)
def test_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


_UNITS = {
    "w": timedelta(weeks=1),
    "d": timedelta(days=1),
    "h": timedelta(hours=1),
    "m": timedelta(minutes=1),
}


@settings(max_examples=200)
@given(
    st.dictionaries(st.sampled_from("wdhm"), st.integers(0, 500), min_size=1),
    st.sampled_from(["", " "]),
    st.booleans(),
)
def test_round_trip(amounts: dict[str, int], separator: str, upper: bool) -> None:
    expected = sum((_UNITS[unit] * count for unit, count in amounts.items()), timedelta())
    text = separator.join(f"{count}{unit}" for unit, count in amounts.items())
    if upper:
        text = text.upper()
    if expected:
        assert parse_duration(text) == expected
    else:
        with pytest.raises(ValueError):
            parse_duration(text)


@settings(max_examples=200)
@given(st.text())
def test_only_value_errors(text: str) -> None:
    try:
        result = parse_duration(text)
    except ValueError:
        return
    assert result > timedelta(0)
