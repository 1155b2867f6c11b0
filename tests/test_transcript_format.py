"""The `.chat` contract of PRODUCT.md, checked through the console runner."""

from __future__ import annotations

from tests.transcripts import play_text

SETUP = """@now 2023-05-02 08:00
@admin units import units.csv
@admin members add vp_so --channel console --role staff --unit VP-SO
@admin members add ht_lhp --channel console --role reporter --unit THPT-LHP
"""


async def test_expect_groups_share_one_window(tmp_path) -> None:
    code, out = await play_text(tmp_path, SETUP + """
@as vp_so
/giao Báo cáo | hạn 08/05/2023 | đơn vị THPT-LHP
@expect vp_so GUI
# a comment inside the group
@expect vp_so xac nhan
@expect-none ht_lhp
@press Gửi
@expect ht_lhp
@expect vp_so #1
""")
    assert code == 0, out
    assert "2023-05-02 08:00 ← vp_so: [Gửi]" in out
    assert "   [Đã nộp] [Đang làm] [Cần hỗ trợ] [Xin gia hạn]" in out


async def test_a_failed_expect_names_the_line_and_what_was_received(tmp_path) -> None:
    code, out = await play_text(tmp_path, SETUP + """@as vp_so
/help
@expect vp_so không có chữ này
""")
    assert code == 1
    assert "line 7: @expect vp_so không có chữ này" in out
    assert "vp_so received:" in out and "/giao" in out


async def test_messages_already_checked_are_not_seen_again(tmp_path) -> None:
    code, out = await play_text(tmp_path, SETUP + """@as vp_so
/help
@expect vp_so /giao
/viec
@expect vp_so /giao
""")
    assert code == 1 and "line 9" in out


async def test_expect_none_fails_when_something_arrived(tmp_path) -> None:
    code, out = await play_text(tmp_path, SETUP + "@as vp_so\n/help\n@expect-none vp_so\n")
    assert code == 1 and "expected no message" in out


async def test_press_by_partial_label_and_advance_combinations(tmp_path) -> None:
    code, out = await play_text(tmp_path, SETUP + """@as vp_so
/giao Báo cáo | hạn 08/05/2023 | đơn vị THPT-LHP
@press gui
@as ht_lhp
@press gia hạn
@expect ht_lhp đến ngày nào
@advance 2d23h59m
@advance 1m
@expect ht_lhp Nhắc việc
""")
    assert code == 0, out
    assert "2023-05-05 08:00 → ht_lhp: ⏰ Nhắc việc #1" in out


async def test_unknown_button_and_bad_advance_stop_the_script(tmp_path) -> None:
    code, out = await play_text(tmp_path, SETUP + "@as vp_so\n@press Không có\n")
    assert code == 1 and "has no button" in out
    code, out = await play_text(tmp_path, SETUP + "@advance soon\n")
    assert code == 1 and "@advance" in out


async def test_files_the_bot_sends_are_shown_with_name_and_caption(tmp_path) -> None:
    code, out = await play_text(tmp_path, SETUP + """@as vp_so
@file files/ke-hoach-nq29.pdf /giao Báo cáo | hạn 08/05/2023 | đơn vị THPT-LHP
@press Gửi
@expect ht_lhp ke-hoach-nq29.pdf
""")
    assert code == 0, out
    assert "→ ht_lhp: 📎 ke-hoach-nq29.pdf (📋 Nhiệm vụ mới #1" in out
