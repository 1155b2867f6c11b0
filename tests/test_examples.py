"""Every transcript under examples/ is documentation and a test."""

from __future__ import annotations

import dataclasses

import pytest

from app.config import Settings
from tests.conftest import EXAMPLES, fresh_pg_database
from tests.transcripts import play

SCRIPTS = sorted(EXAMPLES.glob("*.chat"))


@pytest.mark.parametrize("script", SCRIPTS, ids=[s.stem for s in SCRIPTS])
async def test_example_on_console(script, console_outputs) -> None:
    code, out = await console_outputs.play(script)  # kept for the Telegram and Zalo tests
    assert code == 0, out


async def test_seed_000_scenario_on_postgresql(tmp_path) -> None:
    async with fresh_pg_database() as url:
        settings = dataclasses.replace(Settings(), database_url=url, files_dir=tmp_path)
        code, out = await play(EXAMPLES / "nq29_review.chat", settings)
    assert code == 0, out
