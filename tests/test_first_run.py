"""First run: the README's try-it block pasted into `make run` works on any date, `@advance`
prints the bot's new time, and a restart on the demo database sends nothing missed long ago."""

from __future__ import annotations

import io
import re
import shutil
from pathlib import Path

import pytest

from app.bootstrap import Runtime
from app.cli import admin_runner
from channels.console import repl
from tests.conftest import EXAMPLES, sqlite_settings

README = Path(__file__).resolve().parent.parent / "README.md"


def try_it_block() -> str:
    """The first code block of the README that starts with `@now` or `@admin`."""
    blocks = re.split(r"^```[a-z]*\n", README.read_text(encoding="utf-8"), flags=re.M)
    for block in blocks[1::2]:  # the insides of the fenced blocks
        if block.startswith(("@now", "@admin")):
            return block
    raise AssertionError("no try-it block in the README")


async def console(folder: Path, text: str) -> str:
    settings = sqlite_settings(folder)
    runtime = await Runtime.open(settings)
    out = io.StringIO()
    try:
        await repl(runtime, admin_runner(settings), inp=io.StringIO(text), out=out)
    finally:
        await runtime.close()
    return out.getvalue()


async def test_the_readme_block_works_and_a_restart_sends_nothing_old(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copytree(EXAMPLES, tmp_path / "examples")
    monkeypatch.chdir(tmp_path)  # `make run` runs where the README's paths are
    out = await console(tmp_path, try_it_block())
    assert "! " not in out, out
    assert "✅ Đã giao nhiệm vụ #1 «Báo cáo tổng kết NQ29»" in out
    assert "2023-05-02 08:00 → ht_lhp: 📋 Nhiệm vụ mới #1" in out
    assert "→ ht_lhp: 📝 Đã ghi nhận: THPT chuyên Lê Hồng Phong đang làm" in out
    assert "2023-05-05 08:00 → ht_lhp: ⏰ Nhắc việc #1" in out
    assert out.rstrip().endswith("⏱ Giờ của bot bây giờ: Thứ Sáu, 05/05/2023 08:00")

    again = await console(tmp_path, "/viec\n")  # `make run` again, on the real clock
    assert "Quá hạn" not in again and "Nhắc việc" not in again, again
    assert "→ admin:" in again
