"""Durable inbound, judged from outside: reporters answer «đã xong» while the real
`bot.py run` process (forked by `tests.bot_zygote`) is killed with SIGKILL again and again,
through the real Telegram adapter (polling and webhook) against the Telegram emulator and
the real Zalo adapter (webhook and polling) against the Zalo emulator, on SQLite and
PostgreSQL. Every answer must be recorded exactly once: one submission and one
acknowledgement per reporter.

Telegram keeps an update until a later getUpdates offset confirms it, and both platforms
post a webhook update again until it is answered 200, so nothing may be lost there (the Zalo
emulator is told to retry while the bot restarts, as its default gives up after 0.2 s).
Zalo's getUpdates hands an update out once: one handed out to a process killed before it
could commit the update is lost on the platform's side, whatever the bot does; the polling
case counts those apart (each must have been handed out shortly before a kill) and requires
every other answer recorded once."""

from __future__ import annotations

import asyncio
import dataclasses
import random
import sys
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import col, select

from app.bootstrap import Runtime
from bench.wave import build_wave
from core.clock import utc_now
from storage.models import InboundUpdate, Member, Outbox, Submission
from testing.emulators.telegram_api import TelegramEmulator
from testing.emulators.zalo_api import ZaloEmulator
from tests.conftest import fresh_pg_database, sqlite_settings
from tests.ports import unused_port
from tests.test_delivery import ROOT, kill, spawn, stop, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("serial")]

REPORTERS = 40
KILLS = 15  # per case; seven cases, so more than a hundred in all
ANSWER = "đã xong"
# An update handed out by Zalo's getUpdates this long before a kill may die with the process:
# the loop of a bot that has just started is busy (the reminder sweep, the sender, the
# updates left over) for a few hundred milliseconds before it records the answer, and on a
# machine loaded by other work (load average 8 on two cores) it was seen at 535 ms.
ZALO_WINDOW_S = 1.0
ALL: list[dict[str, Any]] = []  # the figures of every case, printed at the end


class _Handouts(deque):
    """The Zalo emulator's queue of pending updates, noting when each was handed out."""

    def __init__(self, items: deque, log: list[tuple[float, str]]) -> None:
        super().__init__(items)
        self.log = log

    def popleft(self) -> Any:
        update = super().popleft()
        self.log.append((time.time(), str(update.get("message", {}).get("message_id"))))
        return update


@dataclass
class Case:
    channel: str  # telegram | zalo
    mode: str  # polling | webhook
    url: str
    folder: Path
    chats: list[str] = field(default_factory=list)
    telegram: TelegramEmulator | None = None
    zalo: ZaloEmulator | None = None
    handouts: list[tuple[float, str]] = field(default_factory=list)
    answers: dict[str, str] = field(default_factory=dict)  # message id → chat (Zalo)
    webhook_port: int = 0  # Telegram's webhook, in webhook mode
    web_port: int = 0  # the bot's web server (Zalo)

    def config(self) -> Path:
        path = self.folder / "config.toml"
        lines = [f'[bot]\nsecret_key = "{"s" * 32}"', f'[database]\nurl = "{self.url}"',
                 f'[files]\ndir = "{self.folder / "files"}"', "[reminders]\nsweep_seconds = 1"]
        if self.telegram is not None:
            emu = self.telegram
            lines.append(f'[telegram]\ntoken = "{emu.token}"\nbase_url = "{emu.base_url}"\n'
                         f'base_file_url = "{emu.base_file_url}"\nmessages_per_second = 0\n'
                         f'per_chat_per_second = 0\nper_group_per_minute = 0')
            if self.mode == "webhook":
                port = self.webhook_port
                lines.append(f'mode = "webhook"\nwebhook_port = {port}\n'
                             f'webhook_url = "http://127.0.0.1:{port}/tg"\n'
                             'webhook_secret = "bi-mat-webhook"')
        else:
            assert self.zalo is not None
            lines.append(f'[zalo]\ntoken = "{self.zalo.token}"\nbase_url = "{self.zalo.base_url}"'
                         '\nmessages_per_second = 0\nper_chat_per_second = 0\n'
                         'per_group_per_minute = 0')
            if self.mode == "webhook":
                lines.append(f'mode = "webhook"\n'
                             f'webhook_url = "http://127.0.0.1:{self.web_port}/zalo"\n'
                             'webhook_secret = "bi-mat-zalo"')
            lines.append(f"[web]\nport = {self.web_port}")
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return path

    def calls_since(self, since: float, method: str) -> bool:
        calls = self.telegram.calls if self.telegram is not None else self.zalo.calls
        return any(c.method == method and c.time >= since for c in calls)

    async def answer(self, chat: str) -> None:
        if self.telegram is not None:
            await self.telegram.inject_text(int(chat), ANSWER)
        else:
            assert self.zalo is not None
            update = await self.zalo.inject_text(chat, ANSWER)
            self.answers[str(update["message"]["message_id"])] = chat

    def pending(self) -> int:
        if self.telegram is not None:
            return len(self.telegram.pending_updates)
        assert self.zalo is not None
        return len(self.zalo.pending_updates)

    def delivered_again(self) -> int:
        """Updates the platform delivered more than once (to a later process, as the
        offset confirming them had not been sent yet); each must be handled once."""
        if self.telegram is None:
            return len(self.handouts) - len({m for _, m in self.handouts})
        deliveries: Counter[int] = Counter()
        for call in self.telegram.calls:
            if call.method == "getUpdates" and call.ok and isinstance(call.result, list):
                deliveries.update(u["update_id"] for u in call.result)
        return sum(n > 1 for n in deliveries.values())

    def debug(self, missing: list[str], kills: list[float]) -> str:
        """For a failure: how long before the next kill each missing Zalo answer was handed
        out (ms; -1 when after the last kill)."""
        byc = {v: k for k, v in self.answers.items()}
        out = []
        for chat in missing:
            times = [at for at, m in self.handouts if m == byc.get(chat)]
            out.append([round(1000 * min((k - at for k in kills if k >= at), default=-1))
                        for at in times])
        return str(out)

    def handed_out_at_a_kill(self, kills: list[float]) -> set[str]:
        """The Zalo chats whose answer was handed out just before a kill."""
        return {self.answers[message] for at, message in self.handouts
                if message in self.answers
                and any(0 <= k - at <= ZALO_WINDOW_S for k in kills)}


async def prepare(case: Case) -> None:
    settings = dataclasses.replace(sqlite_settings(case.folder), database_url=case.url)
    runtime = await Runtime.open(settings)
    try:
        case.chats = await build_wave(runtime, REPORTERS, utc_now(), channel=case.channel)
    finally:
        await runtime.close()
    if case.channel == "telegram":
        case.telegram = TelegramEmulator()
        await case.telegram.start()
        for chat in case.chats:
            case.telegram.add_user(int(chat), f"HT {chat}")
        case.webhook_port = unused_port()
    else:
        case.zalo = ZaloEmulator()
        await case.zalo.start()
        for chat in case.chats:
            case.zalo.add_user(chat, f"HT {chat}")
        case.zalo._pending = _Handouts(case.zalo._pending, case.handouts)  # noqa: SLF001
        case.zalo.webhook_max_attempts, case.zalo.webhook_retry_delay = 1000, 0.05
        case.web_port = unused_port()


async def recorded(case: Case) -> dict[str, Any]:
    """Per reporter chat: submissions and acknowledgements; the inbox's unhandled rows."""
    settings = dataclasses.replace(sqlite_settings(case.folder), database_url=case.url)
    runtime = await Runtime.open(settings, migrate=False)
    try:
        async with runtime.sessions() as session:
            members = {m.id: m.channel_user_id for m in (await session.exec(
                select(Member).where(Member.channel == case.channel))).all()}
            submissions = Counter(members.get(member) for member in (await session.exec(
                select(Submission.member_id))).all())
            acks = Counter((await session.exec(select(Outbox.chat_id).where(
                Outbox.channel == case.channel, col(Outbox.reminder_id).is_(None)))).all())
            unhandled = len((await session.exec(select(InboundUpdate.id).where(
                col(InboundUpdate.handled_at).is_(None)))).all())
            inbox_rows = len((await session.exec(select(InboundUpdate.id))).all())
    finally:
        await runtime.close()
    return {"submissions": submissions, "acks": acks, "unhandled": unhandled,
            "inbox": inbox_rows}


async def crash_answers(case: Case, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    await prepare(case)
    emulator = case.telegram or case.zalo
    assert emulator is not None
    zygote = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.bot_zygote",
        str(case.config()), cwd=ROOT, stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=(case.folder / "zygote.log").open("ab"))
    kills: list[float] = []
    answered = 0
    ready = "setWebhook" if case.mode == "webhook" else "getUpdates"
    started_at = time.monotonic()
    try:
        while len(kills) < KILLS:
            since = time.time()
            pid = await spawn(zygote)
            try:
                assert await wait_until(lambda s=since: case.calls_since(s, ready), 30), \
                    "the restarted bot did not start receiving"
                for _ in range(rng.randint(1, 4)):
                    if answered < len(case.chats):
                        await case.answer(case.chats[answered])
                        answered += 1
                    await asyncio.sleep(rng.uniform(0.0, 0.03))
                await asyncio.sleep(rng.uniform(0.0, 0.12))
            finally:
                kills.append(time.time())
                await kill(pid)
        while answered < len(case.chats):  # the rest, to the last process
            await case.answer(case.chats[answered])
            answered += 1
        pid = await spawn(zygote)
        try:
            async def settled() -> bool:
                figures = await recorded(case)
                return figures["unhandled"] == 0 and case.pending() == 0 and all(
                    figures["submissions"][c] for c in case.chats if c not in lost_at_kill)

            lost_at_kill = case.handed_out_at_a_kill(kills) \
                if case.zalo and case.mode == "polling" else set()
            deadline = time.monotonic() + 60
            while not await settled():
                if time.monotonic() > deadline:
                    figures = await recorded(case)
                    missing = [c for c in case.chats if not figures["submissions"][c]]
                    raise AssertionError(
                        f"the answers were not all handled: {len(missing)} missing, "
                        f"{figures['unhandled']} unhandled in the inbox, {case.pending()} "
                        f"pending on the platform, {figures['inbox']} recorded; "
                        f"{case.debug(missing, kills)}")
                await asyncio.sleep(0.2)
            await asyncio.sleep(0.5)  # anything handled twice would show meanwhile
        finally:
            await kill(pid)
        figures = await recorded(case)
        submissions, acks = figures["submissions"], figures["acks"]
        lost = [c for c in case.chats if submissions[c] == 0]
        counts = {
            "case": f"{case.channel} {case.mode} on {case.url.split(':')[0]}",
            "answers": len(case.chats),
            "kills": len(kills),
            "recorded": sum(submissions[c] > 0 for c in case.chats),
            "lost": len([c for c in lost if c not in lost_at_kill]),
            "lost_in_zalo_handout_at_a_kill": len([c for c in lost if c in lost_at_kill]),
            "handled_twice": sum(max(submissions[c], acks[c]) > 1 for c in case.chats),
            "delivered_again": case.delivered_again(),
            "seconds": round(time.monotonic() - started_at, 1),
        }
        print(f"inbound crash test: {counts}")
        ALL.append(counts)
        return {**counts, "lost_chats": lost, "acks": acks, "submissions": submissions}
    finally:
        await stop(zygote)
        await emulator.stop()


def check(counts: dict[str, Any]) -> None:
    assert counts["kills"] >= KILLS
    assert counts["lost"] == 0, counts
    assert counts["handled_twice"] == 0, counts
    # Every recorded answer was acknowledged once.
    assert all(counts["acks"][c] == 1 for c, n in counts["submissions"].items() if n), counts


@pytest.mark.parametrize("mode", ["polling", "webhook"])
async def test_sigkill_while_telegram_answers_are_handled_on_sqlite(tmp_path: Path,
                                                                   mode: str) -> None:
    url = sqlite_settings(tmp_path).database_url
    check(await crash_answers(Case("telegram", mode, url, tmp_path), seed=11))


@pytest.mark.parametrize("mode", ["polling", "webhook"])
async def test_sigkill_while_telegram_answers_are_handled_on_postgresql(tmp_path: Path,
                                                                       mode: str) -> None:
    async with fresh_pg_database() as url:
        check(await crash_answers(Case("telegram", mode, url, tmp_path), seed=13))


@pytest.mark.parametrize("mode", ["webhook", "polling"])
async def test_sigkill_while_zalo_answers_are_handled_on_sqlite(tmp_path: Path,
                                                               mode: str) -> None:
    url = sqlite_settings(tmp_path).database_url
    check(await crash_answers(Case("zalo", mode, url, tmp_path), seed=17))


async def test_sigkill_while_zalo_answers_are_handled_on_postgresql(tmp_path: Path) -> None:
    async with fresh_pg_database() as url:
        check(await crash_answers(Case("zalo", "webhook", url, tmp_path), seed=19))


def test_the_figures_of_every_case() -> None:
    """Runs last in the file: the figures of the cases above, and their total kills."""
    for counts in ALL:
        print(f"inbound crash figures: {counts}")
    if len(ALL) == 7:
        assert sum(c["kills"] for c in ALL) >= 100
