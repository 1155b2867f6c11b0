"""A restart in the middle of a guided /giao loses nothing: the dialogue is in the database."""

from __future__ import annotations

import asyncio
import io
from datetime import UTC, datetime

from app.bootstrap import Runtime
from app.cli import invoke
from channels.console import ConsoleSession, user_event
from tests.conftest import EXAMPLES, sqlite_settings

NOW = datetime(2023, 5, 2, 1, 0, tzinfo=UTC)


async def test_guided_giao_survives_a_restart(tmp_path) -> None:
    settings = sqlite_settings(tmp_path)
    for args in (("units", "import", str(EXAMPLES / "units.csv")),
                 ("members", "add", "vp", "--role", "staff")):
        assert (await asyncio.to_thread(invoke, list(args), settings, tmp_path, NOW))[0] == 0

    async def step(texts: list[str]) -> str:
        runtime = await Runtime.open(settings)
        try:
            session = ConsoleSession(runtime, io.StringIO(), start=NOW)
            for text in texts:
                await session.send(user_event("vp", text=text))
            return session.adapter.delivered[-1].text
        finally:
            await runtime.close()

    assert "Tên nhiệm vụ" in await step(["/giao"])
    assert "tệp kế hoạch" in await step(["Báo cáo NQ29"])  # a new process each time
    assert "Hạn nộp là khi nào" in await step(["bỏ qua"])
    assert "Giao cho đơn vị nào" in await step(["08/05/2023"])
    preview = await step(["@THPT"])
    assert "Báo cáo NQ29" in preview and "2 đơn vị" in preview
