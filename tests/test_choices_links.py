"""Numbered choices (for channels without buttons) and signed links: pure rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.choices import chosen_index, split_choices, with_choices
from core.i18n import Translator
from core.links import LinkError, UploadClaim, sign, verify
from core.text import small_number

VI, EN = Translator("vi"), Translator("en")
NOW = datetime(2023, 5, 2, 1, 0, tzinfo=UTC)
SECRET = "khoa-bi-mat"


def test_choices_are_listed_and_read_back() -> None:
    labels = ["Đã nộp", "Đang làm", "Cần hỗ trợ", "Xin gia hạn"]
    text = with_choices(VI, "⏰ Nhắc việc #1\nHạn nộp: 08/05", labels)
    assert text.endswith("\nTrả lời 1 = Đã nộp, 2 = Đang làm, 3 = Cần hỗ trợ, 4 = Xin gia hạn")
    assert split_choices(VI, text) == ("⏰ Nhắc việc #1\nHạn nộp: 08/05", labels)
    assert with_choices(VI, "Không có nút", []) == "Không có nút"
    assert split_choices(VI, "Trả lời tin này kèm tệp") == ("Trả lời tin này kèm tệp", [])
    assert with_choices(EN, "Send?", ["Send", "Edit"]).endswith("\nReply 1 = Send, 2 = Edit")


@given(st.lists(st.text(min_size=1).filter(lambda s: "\n" not in s and s.strip() == s),
                min_size=1, max_size=6), st.text())
def test_split_choices_inverts_with_choices(labels: list[str], body: str) -> None:
    text = with_choices(VI, body, labels)
    back_body, back = split_choices(VI, text)
    if not any(f", {n} = " in label for label in labels for n in range(2, 8)):
        assert back == labels and back_body == body


@pytest.mark.parametrize(("text", "count", "index"), [
    ("1", 3, 0), (" 3. ", 3, 2), ("2)", 4, 1), ("4", 3, None), ("0", 3, None),
    ("đã xong", 3, None), ("60%", 3, None), ("", 3, None),
])
def test_a_number_picks_a_choice(text: str, count: int, index: int | None) -> None:
    assert chosen_index(text, count) == index


def test_upload_claim_round_trip_and_refusals() -> None:
    claim = UploadClaim.new(7, 3, "abc123", NOW + timedelta(minutes=30))
    token = claim.token(SECRET)
    assert UploadClaim.read(SECRET, token, NOW) == claim
    with pytest.raises(LinkError) as expired:
        UploadClaim.read(SECRET, token, NOW + timedelta(minutes=30))
    assert expired.value.code == "expired" and expired.value.expired_at == claim.expires
    for bad in (token + "x", "x" + token, token.replace(".", ""), "", "abc.def"):
        with pytest.raises(LinkError) as tampered:
            UploadClaim.read(SECRET, bad, NOW)
        assert tampered.value.code == "tampered"
    with pytest.raises(LinkError):
        UploadClaim.read("another-key", token, NOW)
    other = sign(SECRET, "f", ["sha", "a.pdf", "application/pdf"], NOW + timedelta(days=1))
    with pytest.raises(LinkError):  # a file link is not an upload link
        UploadClaim.read(SECRET, other, NOW)
    assert verify(SECRET, "f", other, NOW)[1] == ["sha", "a.pdf", "application/pdf"]
    assert UploadClaim.new(7, 3, "", claim.expires).nonce != claim.nonce


@given(st.text(max_size=12))
def test_a_typed_number_is_ascii_digits_and_fits_a_database_integer(text: str) -> None:
    number = small_number(text)
    if number is not None:
        assert int(text.strip()) == number < 10**9


def test_odd_digits_and_huge_numbers_choose_nothing() -> None:
    assert [small_number(x) for x in ("12", " 7 ", "²", "١", "99999999999999999999", "")] == [
        12, 7, None, None, None, None]
    assert chosen_index("²", 9) is None and chosen_index("2.", 3) == 1
