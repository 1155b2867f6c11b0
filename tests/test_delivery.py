"""Delivery: the sweep's claim, the rate limits shared through the database, and real bot
processes against the Telegram emulator (two workers on one PostgreSQL database; SIGKILL at
random moments during a wave on PostgreSQL and SQLite)."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import random
import signal
import socket
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlmodel import col, select

from app.bootstrap import Runtime
from app.config import Settings
from bench.wave import build_wave
from channels.base import RetryLater
from channels.ratelimit import HEADROOM, Limits, chat_key
from channels.sender import ACK_SPACING, CLAIM_LEAD, LATE_CALL, Claim, Sender
from core.clock import utc_now
from core.messages import Outgoing
from handlers import reminders
from storage import sending
from storage.models import Outbox
from storage.sending import OutboxQueue
from testing.emulators.telegram_api import TelegramEmulator
from tests.conftest import fresh_pg_database, sqlite_settings

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2024, 3, 4, 2, 0, tzinfo=UTC)
T0 = 1_000_000.0  # the limiter's wall clock in the unit tests


class Recorder:
    """A channel adapter that records what it sends, optionally answering 429 first."""

    name = "telegram"

    def __init__(self, retry_after: float = 0.0) -> None:
        self.sent: list[Outgoing] = []
        self.retry_after = retry_after

    async def send(self, message: Outgoing) -> str:
        if self.retry_after:
            seconds, self.retry_after = self.retry_after, 0.0
            raise RetryLater(seconds)
        self.sent.append(message)
        return str(len(self.sent))


async def queue(runtime: Runtime, *rows: tuple[str, int]) -> None:
    """Outbox rows on Telegram: (chat id, priority) each."""
    async with runtime.sessions() as session, session.begin():
        for chat, priority in rows:
            session.add(Outbox(channel="telegram", chat_id=chat, text=f"to {chat}",
                               priority=priority, created_at=NOW))


def sender(runtime: Runtime, adapter: Recorder, worker: str, wall: Callable[[], float],
           limits: Limits = Limits(30, 1, 20)) -> Sender:
    return Sender(OutboxQueue(runtime.sessions, runtime.files), {"telegram": adapter},
                  worker=worker, limits={"telegram": limits}, wall=wall)


async def test_two_senders_reserve_disjoint_slots_within_the_limits(settings: Settings) -> None:
    runtime = await Runtime.open(settings)
    clock = {"now": T0}
    try:
        await queue(runtime, *[(str(100 + i), 1) for i in range(40)], ("100", 1), ("-5", 1),
                    ("-5", 1), ("7", 0))
        a = sender(runtime, Recorder(), "a", lambda: clock["now"])
        b = sender(runtime, Recorder(), "b", lambda: clock["now"])
        interval = Limits(30, 1, 20).interval
        first = await a._claim("telegram", NOW, 100, set())
        # The interactive reply goes first, once the claim has had time to commit; then the
        # rest of a second of slots at 30/s with headroom.
        assert first.rows[0][0].chat_id == "7" and first.rows[0][1] == T0 + CLAIM_LEAD
        assert len(first.rows) == int((1 - CLAIM_LEAD) / interval) + 1
        assert first.rows[-1][1] <= T0 + 1.0
        early = await b._claim("telegram", NOW, 100, set())
        assert early.rows == [] and 0 < early.wait < 0.05  # A holds the next second
        clock["now"] = T0 + 0.5
        second = await b._claim("telegram", NOW, 100, set())
        slots = [slot for _, slot in first.rows + second.rows]
        assert all(abs(y - x - interval) < 1e-6 for x, y in zip(slots, slots[1:], strict=False))
        by_chat: dict[str, list[float]] = {}
        for row, slot in first.rows + second.rows:
            by_chat.setdefault(row.chat_id, []).append(slot)
        assert len(by_chat) == 42 and len(by_chat["-5"]) == 1  # the group waits 60/20 s
        assert by_chat["100"][1] - by_chat["100"][0] >= 1.0  # 1/s per chat
        clock["now"] = T0 + 1.2
        last = await a._claim("telegram", NOW, 100, set())
        assert last.rows == []
        assert last.wait == pytest.approx(by_chat["-5"][0] + 3 / HEADROOM - clock["now"])
    finally:
        await runtime.close()


def test_a_fast_limit_is_split_into_lanes_a_slow_one_is_not() -> None:
    assert [Limits(rate).lanes for rate in (0, 1, 20, 30, 34, 100, 300, 1000, 5000)] == [
        1, 1, 1, 1, 1, 3, 8, 8, 8]
    assert Limits(1000).lane_interval == pytest.approx(8 / (1000 * HEADROOM))


class Keys:
    """The rate-limit keys of one database, in memory: what `_reserve` reads and moves."""

    def __init__(self) -> None:
        self.at: dict[str, float] = {}

    async def next_free(self, keys: list[str]) -> dict[str, float]:
        return {key: self.at[key] for key in keys if key in self.at}

    async def store(self, moved: dict[str, float]) -> None:
        for key, at in moved.items():
            self.at[key] = max(self.at.get(key, 0.0), at)


@dataclass(frozen=True)
class Row:
    chat_id: str
    is_group: bool = False
    member_id: int | None = None
    buttons: tuple = ()


@hypothesis_settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 2), st.integers(1, 8), st.integers(1, 600),
                          st.floats(0, 0.4)), min_size=1, max_size=40))
def test_the_lanes_of_any_claims_keep_every_sliding_second_within_the_limit(
        claims: list[tuple[int, int, int, float]]) -> None:
    """Senders (0-2) claim in turn, each from as many lanes as it chooses, as many rows as
    it likes, a moment after the last claim: the slots of all of them together never put
    more than the limit in a second (the headroom takes a message per lane)."""
    limits = Limits(1000, 0, 0)
    senders = [Sender(None, {}, worker=str(n), limits={"telegram": limits})  # type: ignore[arg-type]
               for n in range(3)]
    keys = Keys()
    wall, slots, chat = T0, [], 0

    async def play() -> None:
        nonlocal wall, chat
        for who, lanes, size, pause in claims:
            wall += pause
            rows = [Row(str(chat + i)) for i in range(size)]
            chat += size
            chosen, _, _ = await senders[who]._reserve(
                keys, "telegram", limits, 0.0, rows, wall, size, lanes)  # type: ignore[arg-type]
            assert all(slot >= wall + CLAIM_LEAD for _, slot in chosen)
            assert all(slot <= wall + 1.0 + 1e-9 for _, slot in chosen)
            slots.extend(slot for _, slot in chosen)

    asyncio.run(play())
    slots.sort()
    ahead = 0
    for start, slot in enumerate(slots):  # the second that starts at each slot
        ahead = max(ahead, start)
        while ahead < len(slots) and slots[ahead] < slot + 1.0:
            ahead += 1
        assert ahead - start <= 1000


@pytest.mark.parametrize(("late", "bounded", "lanes"), [
    (0, True, 5),  # all on time, and more rows waited than the lanes' slots: one more lane
    (1, True, 5),
    (1, False, 4),  # on time, but the rows ran out first: more lanes would not have helped
    (25, True, 4),  # a quarter late (jitter: a busy machine wakes calls late) keeps its lanes
    (50, True, 4),
    (51, True, 3),  # most of them late: this process did not keep up with four lanes
])
def test_a_sender_gives_up_a_lane_only_when_it_did_not_keep_up(late: int, bounded: bool,
                                                                  lanes: int) -> None:
    limits = Limits(1000, 1, 20)
    one = Sender(None, {}, worker="a", limits={"telegram": limits})  # type: ignore[arg-type]
    one._lanes["telegram"] = 4
    claim = Claim([(Row(str(n)), T0 + n / 100) for n in range(100)], bounded=bounded, lanes=4)
    one._achieved("telegram", limits, claim, 100 - late, late, 1.0)
    assert one._lanes["telegram"] == lanes


async def test_two_senders_on_half_the_lanes_each_send_side_by_side(settings: Settings) -> None:
    """At 1,000/s two processes that each keep up with half the limit hold half the lanes:
    their slots run in the same second, not one second after the other."""
    runtime = await Runtime.open(settings)
    clock = {"now": T0}
    limits = Limits(1000, 1, 20)
    try:
        await queue(runtime, *[(str(1000 + i), 1) for i in range(1200)])
        a = sender(runtime, Recorder(), "a", lambda: clock["now"], limits)
        b = sender(runtime, Recorder(), "b", lambda: clock["now"], limits)
        for one in (a, b):
            one._lanes["telegram"] = limits.lanes // 2
            one._claim_size["telegram"] = 1000
        first = await a._claim("telegram", NOW, 100, set())
        second = await b._claim("telegram", NOW, 100, set())
        share = limits.lanes // 2 * (int((1 - CLAIM_LEAD) / limits.lane_interval) + 1)
        assert len(first.rows) == len(second.rows) == share  # about 470 each
        assert {row.id for row, _ in first.rows}.isdisjoint(row.id for row, _ in second.rows)
        for claim in (first, second):
            assert claim.rows[0][1] == pytest.approx(T0 + CLAIM_LEAD)
            assert claim.rows[-1][1] <= T0 + 1.0
        both = sorted(slot for _, slot in first.rows + second.rows)
        assert len(set(both)) < len(both)  # side by side: lanes of either start together
        assert len(both) <= 1000
    finally:
        await runtime.close()


async def test_a_call_that_would_go_late_is_not_made_and_its_row_goes_back(
        settings: Settings) -> None:
    """A process that paused past a row's slot (a full collection, a long claim) must not
    catch up: its calls would meet the other processes' at the platform. The row is given
    back as it was and goes in the next claim."""
    runtime = await Runtime.open(settings)
    clock = {"now": T0}
    try:
        await queue(runtime, ("100", 1), ("101", 1))
        adapter = Recorder()
        a = sender(runtime, adapter, "a", lambda: clock["now"])
        claim = await a._claim("telegram", NOW, 100, set())
        assert len(claim.rows) == 2
        clock["now"] = claim.rows[-1][1] + LATE_CALL + 0.01  # both slots are past
        assert await a._send_batch("telegram", claim, NOW, set()) == 0
        assert adapter.sent == []
        async with runtime.sessions() as session:
            rows = (await session.exec(select(Outbox))).all()
        assert [(row.claimed_by, row.sent_at, row.attempts, row.error) for row in rows] == [
            (None, None, 0, None)] * 2
        clock["now"] += 2.0  # the chats' keys moved with the missed slots
        again = await a._claim("telegram", NOW, 100, set())
        assert [row.chat_id for row, _ in again.rows] == ["100", "101"]
    finally:
        await runtime.close()


class Commits:
    """A queue that records nothing but when each acknowledgement commit came, and its rows."""

    def __init__(self) -> None:
        self.commits: list[tuple[float, list[int]]] = []

    async def record(self, sent: dict[datetime, dict[int, str]]) -> None:
        await asyncio.sleep(0.001)  # a commit's round trip
        self.commits.append((time.perf_counter(), sorted(i for m in sent.values() for i in m)))


@pytest.mark.parametrize("spacing", [0.0, ACK_SPACING])
async def test_acknowledgements_are_committed_in_groups_spaced_on_a_paced_channel(
        spacing: float) -> None:
    """Forty acknowledgements over 60 ms: each is recorded once; spaced, the commits are at
    least `ACK_SPACING` apart (a handful, not one or two per acknowledgement)."""
    commits = Commits()
    one = Sender(commits, {"telegram": Recorder()}, worker="a")  # type: ignore[arg-type]

    async def ack(row_id: int) -> None:
        await asyncio.sleep(row_id * 0.0015)
        await one._record([(row_id, str(row_id), NOW, time.perf_counter())], spacing)

    await asyncio.gather(*(ack(i) for i in range(40)))
    assert sorted(i for _, rows in commits.commits for i in rows) == list(range(40))
    assert one.acks.count == 40
    gaps = [b - a for (a, _), (b, _) in zip(commits.commits, commits.commits[1:], strict=False)]
    if spacing:
        assert all(gap >= ACK_SPACING - 0.002 for gap in gaps) and len(commits.commits) <= 5
    else:
        assert len(commits.commits) > 5


@pytest.mark.parametrize("committed", [True, False])
async def test_recorded_waits_for_acknowledgements_an_event_transaction_holds(
        committed: bool) -> None:
    """Acknowledgements taken by one update's transaction (`take_acknowledged`) are not
    recorded yet: `recorded` (before another update reads which message a reply names)
    waits until that transaction settles; one that did not commit records them itself."""
    commits = Commits()
    one = Sender(commits, {"telegram": Recorder()}, worker="a")  # type: ignore[arg-type]
    one._record_later(7, "70", NOW)
    sent, settle = one.take_acknowledged()
    assert sent == {NOW: {7: "70"}}
    waiting = asyncio.create_task(one.recorded())
    await asyncio.sleep(0.01)
    assert not waiting.done()
    settle(committed)
    settle(committed)  # told twice (a cancelled handling's `finally`): the first answer counts
    await asyncio.wait_for(waiting, 1)
    assert [rows for _, rows in commits.commits] == ([] if committed else [[7]])


async def test_recorded_does_not_wait_for_acknowledgements_taken_after_it_began() -> None:
    """Other chats' updates keep taking acknowledgements while one waits in `recorded`: it
    waits for those taken before it began, not for every later one."""
    commits = Commits()
    one = Sender(commits, {"telegram": Recorder()}, worker="a")  # type: ignore[arg-type]
    one._record_later(7, "70", NOW)
    _, first = one.take_acknowledged()
    waiting = asyncio.create_task(one.recorded())
    await asyncio.sleep(0.01)
    one._record_later(8, "80", NOW)
    _, second = one.take_acknowledged()  # another update's transaction, still open
    first(True)
    await asyncio.wait_for(waiting, 1)
    second(True)


async def test_keys_only_move_forward_and_sent_rows_keep_their_moment_and_message_id(
        settings: Settings) -> None:
    """The claim's keys and the acknowledgements go as one parameter each (`storage.sending`
    `_STORE`, `_RECORD`): what they write reads back as the ORM wrote it."""
    runtime = await Runtime.open(settings)
    try:
        async with runtime.sessions() as session, session.begin():
            await sending.store(session, {"telegram#0": T0 + 5, "telegram:1": T0})
        async with runtime.sessions() as session, session.begin():
            await sending.store(session, {"telegram#0": T0 + 3, "telegram#1": T0 + 2})
            assert await sending.next_free(session, ["telegram#0", "telegram#1", "telegram:1",
                                                     "telegram:2"]) == {
                "telegram#0": T0 + 5, "telegram#1": T0 + 2, "telegram:1": T0}
        await queue(runtime, ("100", 1), ("101", 1), ("102", 1))
        async with runtime.sessions() as session:
            ids = [row.id for row in (await session.exec(select(Outbox))).all()]
        later = NOW.replace(microsecond=250_000)
        await OutboxQueue(runtime.sessions, runtime.files).record(
            {NOW: {ids[0]: "7", ids[2]: "9"}, later: {ids[1]: "8"}})
        async with runtime.sessions() as session:
            rows = (await session.exec(select(Outbox).order_by(col(Outbox.id)))).all()
        assert [(row.platform_message_id, row.sent_at, row.error) for row in rows] == [
            ("7", NOW, None), ("8", later, None), ("9", NOW, None)]
    finally:
        await runtime.close()


async def test_one_chats_messages_keep_their_order_when_the_chat_is_busy(
        settings: Settings) -> None:
    """X was messaged a moment ago: its first row must wait, and so must its second, even
    when the second's slot comes after X is free again."""
    runtime = await Runtime.open(settings)
    clock = {"now": T0}
    try:
        await queue(runtime, ("900", 1), *[(str(100 + i), 1) for i in range(12)], ("900", 1))
        async with runtime.sessions() as session, session.begin():
            await sending.store(session, {chat_key("telegram", "900"): T0 + 0.4})
        first = await sender(runtime, Recorder(), "a", lambda: clock["now"])._claim(
            "telegram", NOW, 100, set())
        assert [row.chat_id for row, _ in first.rows] == [str(100 + i) for i in range(12)]
    finally:
        await runtime.close()


def test_a_chat_is_a_group_when_its_row_says_so_whatever_its_id() -> None:
    limits = Limits(30, 1, 20)
    group, private = 3 / HEADROOM, 1 / HEADROOM  # 20/min and 1/s
    assert limits.chat_interval("group-1001", is_group=True) == pytest.approx(group)
    assert limits.chat_interval("8d5c0f7a21b4e3", is_group=True) == pytest.approx(group)
    assert limits.chat_interval("8d5c0f7a21b4e3") == pytest.approx(private)
    # An id below zero is a Telegram group (no private chat has one): paced as a group even
    # when its row says private, as rows queued before the flag existed do.
    assert limits.chat_interval("-1001", is_group=False) == pytest.approx(group)
    assert Limits(30, 1, 0).chat_interval("g", is_group=True) == 0.0  # the limit switched off


async def test_the_sender_paces_rows_flagged_as_groups_at_the_group_rate(
        settings: Settings) -> None:
    runtime = await Runtime.open(settings)
    clock = {"now": T0}
    try:
        async with runtime.sessions() as session, session.begin():
            for chat, is_group in [("g-1", True), ("p-1", False), ("-5", False)] * 2:
                session.add(Outbox(channel="telegram", chat_id=chat, is_group=is_group,
                                   text=f"to {chat}", priority=1, created_at=NOW))
        a = sender(runtime, Recorder(), "a", lambda: clock["now"])
        first = await a._claim("telegram", NOW, 100, set())
        assert [row.chat_id for row, _ in first.rows] == ["g-1", "p-1", "-5"]
        slot = {row.chat_id: at for row, at in first.rows}
        async with runtime.sessions() as session:
            free = await sending.next_free(
                session, [chat_key("telegram", chat) for chat in slot])
        group, private = 3 / HEADROOM, 1 / HEADROOM
        waits = {chat: free[chat_key("telegram", chat)] - at for chat, at in slot.items()}
        assert waits == {"g-1": pytest.approx(group), "p-1": pytest.approx(private),
                         "-5": pytest.approx(group)}
        clock["now"] = T0 + 1.1  # the private chat is free again, the groups are not
        again = await a._claim("telegram", NOW, 100, set())
        assert [row.chat_id for row, _ in again.rows] == ["p-1"]
        clock["now"] = T0 + 3.2
        later = await a._claim("telegram", NOW, 100, set())
        assert sorted(row.chat_id for row, _ in later.rows) == ["-5", "g-1"]
    finally:
        await runtime.close()


async def test_a_429_pauses_every_sender(settings: Settings) -> None:
    runtime = await Runtime.open(settings)
    clock = {"now": T0}
    try:
        await queue(runtime, ("1", 1), ("2", 1))
        limits = Limits(1, 0, 0)  # one message per second, so the second row waits
        a = sender(runtime, Recorder(retry_after=5), "a", lambda: clock["now"], limits)
        claim = await a._claim("telegram", NOW, 100, set())
        assert [row.chat_id for row, _ in claim.rows] == ["1"]
        assert await a._send("telegram", claim.rows, NOW, set()) == 0
        assert a.rate_limited == 1
        b = sender(runtime, Recorder(), "b", lambda: clock["now"], limits)
        waiting = await b._claim("telegram", NOW, 100, set())
        assert waiting.rows == [] and waiting.wait == 4.0  # shared: a slot at +5 s, 1 s ahead
        clock["now"] += 5
        resumed = await b._claim("telegram", NOW, 100, set())
        assert [row.chat_id for row, _ in resumed.rows] == ["1"]  # released, not lost
        async with runtime.sessions() as session:
            row = (await session.exec(select(Outbox).where(Outbox.chat_id == "1"))).one()
        assert row.attempts == 0 and "retry after" in (row.error or "")
    finally:
        await runtime.close()


async def test_claims_of_a_dead_local_process_are_taken_over_at_once(settings: Settings) -> None:
    runtime = await Runtime.open(settings)
    gone = await asyncio.create_subprocess_exec(sys.executable, "-c", "pass")
    await gone.wait()
    try:
        await queue(runtime, ("1", 1), ("2", 1))
        async with runtime.sessions() as session, session.begin():
            rows = (await session.exec(select(Outbox))).all()
            rows[0].claimed_by, rows[0].claimed_at = f"{socket.gethostname()}:{gone.pid}", NOW
            rows[1].claimed_by, rows[1].claimed_at = f"{socket.gethostname()}:{os.getpid()}", NOW
            session.add_all(rows)
        adapter = Recorder()
        live = Sender(OutboxQueue(runtime.sessions, runtime.files), {"telegram": adapter},
                      worker="other")
        assert await live.drain(NOW) == 1  # the dead one's row; the live claim is respected
        assert [m.chat_id for m in adapter.sent] == ["1"]
        assert live.acks.count == 1 and live.acks.longest < 5
    finally:
        await runtime.close()


async def test_postgresql_sweeps_skip_the_targets_another_sweep_holds(tmp_path: Path) -> None:
    async with fresh_pg_database() as url:
        settings = dataclasses.replace(sqlite_settings(tmp_path), database_url=url)
        runtime = await Runtime.open(settings)
        try:
            await build_wave(runtime, 6, NOW)
            async with runtime.sessions() as one, one.begin():
                held = await reminders.claim_due(runtime.dispatcher.context(one, NOW), NOW, 4)
                async with runtime.sessions() as two, two.begin():
                    rest = await reminders.claim_due(runtime.dispatcher.context(two, NOW), NOW)
                assert len({r.target_id for r in held}) == 4
                assert len({r.target_id for r in rest}) == 2
                assert not {r.target_id for r in held} & {r.target_id for r in rest}
        finally:
            await runtime.close()


# ---------------------------------------------------------------------- real bot processes
# These start bot processes next to the test (two at once, or one killed and forked again
# twenty times) and judge what they did by the clock: under pytest-xdist they run one after
# another in the "serial" group, with the tests that measure time.


@dataclass
class Wave:
    """A wave in a database, the emulator its bot processes talk to, and what arrived."""

    url: str
    folder: Path
    emulator: TelegramEmulator
    chats: list[str]
    per_second: float
    extra: str = ""  # more configuration, appended

    def received(self) -> Counter[str]:
        return Counter(str(c.params["chat_id"]) for c in self.emulator.calls
                       if c.method == "sendMessage" and c.ok)

    def done(self) -> bool:
        return len(self.received()) >= len(self.chats)

    def config(self) -> Path:
        config = self.folder / "config.toml"
        config.write_text(
            f'[bot]\nsecret_key = "{"s" * 32}"\n'
            f'[database]\nurl = "{self.url}"\n[files]\ndir = "{self.folder / "files"}"\n'
            '[reminders]\nsweep_seconds = 1\n'
            f'[telegram]\ntoken = "{self.emulator.token}"\n'
            f'base_url = "{self.emulator.base_url}"\n'
            f'base_file_url = "{self.emulator.base_file_url}"\n'
            f'messages_per_second = {self.per_second}\n{self.extra}', encoding="utf-8")
        return config

    async def start_worker(self, name: str,
                           module: str | None = None) -> asyncio.subprocess.Process:
        """`bot.py run` (or `python -m MODULE CONFIG`) on this wave's configuration."""
        command = ["-m", module, str(self.config())] if module else \
            [str(ROOT / "bot.py"), "--config", str(self.config()), "run"]
        env = {k: v for k, v in os.environ.items() if not k.startswith("BOT_")}
        pipe = asyncio.subprocess.PIPE if module else None
        with (self.folder / f"{name}.log").open("ab") as log:
            return await asyncio.create_subprocess_exec(
                sys.executable, *command, cwd=ROOT, env=env, stdin=pipe,
                stdout=pipe or log, stderr=log)


async def open_wave(url: str, folder: Path, units: int, per_second: float) -> Wave:
    settings = dataclasses.replace(sqlite_settings(folder), database_url=url)
    runtime = await Runtime.open(settings)
    try:
        chats = await build_wave(runtime, units, utc_now())
    finally:
        await runtime.close()
    emulator = TelegramEmulator()
    await emulator.start()
    emulator.enforce_limits(per_chat_per_s=1, global_per_s=int(per_second), per_group_per_min=20)
    for chat in chats:
        emulator.add_user(int(chat), f"HT {chat}")
    return Wave(url, folder, emulator, chats, per_second)


async def wait_until(condition: Callable[[], bool], seconds: float) -> bool:
    deadline = asyncio.get_running_loop().time() + seconds
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            return False
        await asyncio.sleep(0.02)
    return True


async def stop(process: asyncio.subprocess.Process) -> None:
    process.kill()
    await process.wait()


async def senders_of(url: str, folder: Path) -> Counter[str]:
    """Which worker sent each Telegram row; every row must be recorded as sent."""
    settings = dataclasses.replace(sqlite_settings(folder), database_url=url)
    runtime = await Runtime.open(settings, migrate=False)
    try:
        async with runtime.sessions() as session:
            rows = (await session.exec(select(Outbox).where(Outbox.channel == "telegram"))).all()
    finally:
        await runtime.close()
    assert all(row.sent_at is not None for row in rows)
    return Counter(row.claimed_by or "" for row in rows)


@pytest.mark.xdist_group("serial")
async def test_two_workers_on_one_postgresql_database_share_a_wave(tmp_path: Path) -> None:
    async with fresh_pg_database() as url:
        wave = await open_wave(url, tmp_path, units=200, per_second=40)  # ~5 s of sending
        try:
            workers = [await wave.start_worker(name) for name in ("one", "two")]
            try:
                assert await wait_until(wave.done, 60), "the wave did not finish"
                await asyncio.sleep(1.0)  # anything sent twice would arrive meanwhile
            finally:
                for worker in workers:
                    await stop(worker)
            received = wave.received()
            assert set(received) == set(wave.chats)  # none lost
            assert max(received.values()) == 1  # none sent twice
            by_worker = await senders_of(url, tmp_path)
            assert len(by_worker) == 2, by_worker  # both processes sent part of the wave
            print(f"two workers: {dict(by_worker)}; 429s: {wave.emulator.rejected_429}")
        finally:
            await wave.emulator.stop()


KILLS = 20


async def crash_wave(url: str, folder: Path, seed: int) -> dict[str, int]:
    """Kill the bot with SIGKILL at random moments during a wave, restarting it each time;
    returns the counts. The bot processes are forked by `tests.bot_zygote`."""
    rng = random.Random(seed)
    wave = await open_wave(url, folder, units=100, per_second=15)
    zygote = await wave.start_worker("zygote", module="tests.bot_zygote")
    kills: list[float] = []  # when each SIGKILL was sent (Unix seconds, as the emulator)
    try:
        while len(kills) < KILLS and not wave.done():
            before = sum(wave.received().values())
            pid = await spawn(zygote)
            try:
                started = await wait_until(
                    lambda b=before: sum(wave.received().values()) > b or wave.done(), 30)
                assert started, "the restarted bot sent nothing"
                await asyncio.sleep(rng.uniform(0.0, 0.25))
            finally:
                kills.append(time.time())
                await kill(pid)
        pid = await spawn(zygote)
        try:
            assert await wait_until(wave.done, 60), "the wave did not finish"
            await asyncio.sleep(1.0)
        finally:
            await kill(pid)
        received = wave.received()
        await senders_of(url, folder)  # every outbox row is recorded as sent
        # A duplicate's first copy reached the platform around a kill (just before it, or
        # just after when the request was still on its way): the window between the
        # acknowledgement and the commit. How far from the nearest kill, in ms:
        first_copy = {}
        for call in wave.emulator.calls:
            if call.method == "sendMessage" and call.ok:
                first_copy.setdefault(str(call.params["chat_id"]), call.time)
        windows = [1000 * min(abs(k - first_copy[chat]) for k in kills)
                   for chat, n in received.items() if n > 1]
        counts = {
            "owed": len(wave.chats),
            "received": sum(received.values()),
            "lost": len(set(wave.chats) - set(received)),
            "duplicated": sum(n - 1 for n in received.values()),
            "kills": len(kills),
            "429": wave.emulator.rejected_429,
            "farthest_from_a_kill_ms": round(max(windows, default=0)),
        }
        print(f"crash test on {url.split(':')[0]}: {counts}")
        return counts
    finally:
        await stop(zygote)
        await wave.emulator.stop()


async def spawn(zygote: asyncio.subprocess.Process) -> int:
    """A new bot process forked by the zygote; returns its pid."""
    assert zygote.stdin is not None and zygote.stdout is not None
    zygote.stdin.write(b"spawn\n")
    await zygote.stdin.drain()
    return int(await asyncio.wait_for(zygote.stdout.readline(), 30))


async def kill(pid: int) -> None:
    """SIGKILL, then wait until the process is gone (the zygote reaps it)."""
    os.kill(pid, signal.SIGKILL)

    def gone() -> bool:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        return False

    assert await wait_until(gone, 10)


def check_crash_counts(counts: dict[str, int]) -> None:
    assert counts["kills"] >= KILLS
    assert counts["lost"] == 0
    # Only a kill between the platform's acknowledgement and the commit duplicates.
    assert counts["duplicated"] <= counts["kills"]
    assert counts["farthest_from_a_kill_ms"] < 1000  # each one at a kill


@pytest.mark.xdist_group("serial")
async def test_sigkill_during_a_wave_on_postgresql(tmp_path: Path) -> None:
    async with fresh_pg_database() as url:
        check_crash_counts(await crash_wave(url, tmp_path, seed=5))


@pytest.mark.xdist_group("serial")
async def test_sigkill_during_a_wave_on_sqlite(tmp_path: Path) -> None:
    url = sqlite_settings(tmp_path).database_url
    check_crash_counts(await crash_wave(url, tmp_path, seed=7))


@pytest.mark.xdist_group("serial")
async def test_sigterm_stops_the_bot_cleanly_and_loses_nothing(tmp_path: Path) -> None:
    """`kill -TERM` during a wave (systemctl restart, docker stop): exit 0 within seconds;
    a new process sends the rest, each message once."""
    wave = await open_wave(f"sqlite+aiosqlite:///{tmp_path / 'bot.sqlite3'}", tmp_path,
                           units=60, per_second=20)  # about 3 s of sending
    try:
        worker = await wave.start_worker("first")
        assert await wait_until(lambda: sum(wave.received().values()) >= 10, 60)
        worker.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(worker.wait(), 20)
        assert code == 0, (tmp_path / "first.log").read_text(errors="replace")[-2000:]
        assert not wave.done()  # stopped in the middle of the wave
        second = await wave.start_worker("second")
        try:
            assert await wait_until(wave.done, 60), "the rest of the wave did not go out"
            await asyncio.sleep(1.0)
        finally:
            await stop(second)
        received = wave.received()
        assert set(received) == set(wave.chats) and max(received.values()) == 1
    finally:
        await wave.emulator.stop()


@pytest.mark.xdist_group("serial")
async def test_a_stop_that_takes_longer_than_shutdown_seconds_still_exits_0_in_time(
        tmp_path: Path) -> None:
    """The platform does not answer a send for 30 s: `kill -TERM` still ends the bot with
    exit 0 within run.shutdown_seconds, and a new process sends the rest of the wave."""
    wave = await open_wave(f"sqlite+aiosqlite:///{tmp_path / 'bot.sqlite3'}", tmp_path,
                           units=10, per_second=20)
    wave.extra = "[run]\nshutdown_seconds = 2\n"
    try:
        wave.emulator.fail_next("sendMessage", "slow", delay=30)
        worker = await wave.start_worker("first")
        assert await wait_until(lambda: wave.emulator._inflight > 0, 60)  # noqa: SLF001
        started = time.monotonic()
        worker.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(worker.wait(), 20)
        took = time.monotonic() - started
        log = (tmp_path / "first.log").read_text(errors="replace")
        assert code == 0 and 1.5 < took < 3.5, (code, took, log[-2000:])
        assert "run.shutdown_seconds: still stopping after 2 s; exiting now" in log
        wave.emulator.clear_faults()
        second = await wave.start_worker("second")
        try:
            assert await wait_until(wave.done, 60), "the rest of the wave did not go out"
        finally:
            await stop(second)
    finally:
        await wave.emulator.stop()

