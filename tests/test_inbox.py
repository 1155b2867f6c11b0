"""The inbox (durable inbound) on both databases: an update is recorded once per channel and
key, claimed by one worker at a time, handled once (marked in its effects' transaction),
taken over when its worker is gone, and a Telegram update delivered twice is handled once."""

from __future__ import annotations

import asyncio
import dataclasses
import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlmodel import select

from app.admin import add_member
from app.bootstrap import Runtime
from app.config import ChannelSettings, Settings
from channels.telegram import TelegramAdapter
from core.messages import Incoming
from handlers.inbox import Inbox
from storage import inbox
from storage.models import InboundUpdate, Outbox
from testing.emulators.telegram_api import TelegramEmulator
from tests.conftest import fresh_pg_database, sqlite_settings
from tests.ports import on_free_port

NOW = datetime(2024, 3, 4, 2, 0, tzinfo=UTC)
LEASE = timedelta(minutes=5)


async def rows(runtime: Runtime) -> list[InboundUpdate]:
    async with runtime.sessions() as session:
        return list((await session.exec(select(InboundUpdate).order_by(InboundUpdate.id))).all())


async def test_an_update_is_recorded_once_per_channel_and_key(settings: Settings) -> None:
    runtime = await Runtime.open(settings)
    try:
        async with runtime.sessions() as session, session.begin():
            first = await inbox.record(session, "telegram", [("1", {"a": 1}), ("2", {"b": 2})],
                                       NOW, "w1")
        async with runtime.sessions() as session, session.begin():
            again = await inbox.record(session, "telegram", [("2", {"b": 2}), ("3", {})],
                                       NOW, "w2")
            other = await inbox.record(session, "zalo", [("1", {})], NOW, "w2")
            # One batch of one statement: a key twice in it is recorded once, in its order.
            twice = await inbox.record(session, "zalo", [("2", {}), ("3", {}), ("2", {})],
                                       NOW, "w2")
        assert None not in first and again[0] is None and again[1] is not None
        assert other[0] is not None
        assert twice[0] is not None and twice[1] == twice[0] + 1 and twice[2] is None
        stored = await rows(runtime)
        assert [(r.channel, r.key, r.claimed_by) for r in stored] == [
            ("telegram", "1", "w1"), ("telegram", "2", "w1"), ("telegram", "3", "w2"),
            ("zalo", "1", "w2"), ("zalo", "2", "w2"), ("zalo", "3", "w2")]
    finally:
        await runtime.close()


async def test_claims_are_disjoint_and_marking_handled_happens_once(settings: Settings) -> None:
    runtime = await Runtime.open(settings)
    try:
        async with runtime.sessions() as session, session.begin():
            ids = await inbox.record(session, "zalo", [(str(i), {}) for i in range(6)], NOW,
                                     "gone")
            await inbox.release(session, [i for i in ids if i is not None], "gone")
        async with runtime.sessions() as one, one.begin():
            held = await inbox.claim(one, "zalo", "a", NOW, LEASE, limit=4)
            async with runtime.sessions() as two, two.begin():
                rest = await inbox.claim(two, "zalo", "b", NOW, LEASE) if \
                    one.bind.dialect.name == "postgresql" else []
        if not rest:  # SQLite: one writer at a time, so the second claim comes after
            async with runtime.sessions() as two, two.begin():
                rest = await inbox.claim(two, "zalo", "b", NOW, LEASE)
        assert len(held) == 4 and len(rest) == 2
        assert not {r.id for r in held} & {r.id for r in rest}
        async with runtime.sessions() as session, session.begin():
            assert await inbox.claim(session, "zalo", "c", NOW, LEASE) == []  # all held
            # a lease run out: another worker may take it, its holder not
            assert await inbox.claim(session, "zalo", "a", NOW + 2 * LEASE, LEASE) != []
        target = held[0].id
        assert target is not None
        async with runtime.sessions() as session, session.begin():
            assert await inbox.mark_handled(session, target, NOW) is True
        async with runtime.sessions() as session, session.begin():
            assert await inbox.mark_handled(session, target, NOW) is False
    finally:
        await runtime.close()


async def test_marking_handled_records_the_replies_acknowledged_meanwhile(
        settings: Settings) -> None:
    """The acknowledgements of the replies sent while an update waited go with its mark as
    handled (one statement on PostgreSQL); they are recorded even when the update was
    handled before, and two moments are recorded each with its own."""
    runtime = await Runtime.open(settings)
    later = NOW + timedelta(seconds=1)
    try:
        async with runtime.sessions() as session, session.begin():
            [update_id] = await inbox.record(session, "telegram", [("1", {})], NOW, "a")
            replies = [Outbox(channel="telegram", chat_id=str(i), text="x", created_at=NOW)
                       for i in range(3)]
            session.add_all(replies)
            await session.flush()
            ids = [row.id for row in replies]
        assert update_id is not None and None not in ids
        async with runtime.sessions() as session, session.begin():
            assert await inbox.mark_handled(session, update_id, NOW,
                                            {NOW: {ids[0]: "m0"}}) is True
        async with runtime.sessions() as session, session.begin():
            assert await inbox.mark_handled(session, update_id, later, {
                later: {ids[1]: "m1"}, NOW: {ids[2]: "m2"}}) is False
        async with runtime.sessions() as session:
            sent = (await session.exec(select(Outbox).order_by(Outbox.id))).all()
        [row] = await rows(runtime)
        assert [(r.platform_message_id, r.sent_at) for r in sent] == [
            ("m0", NOW), ("m1", later), ("m2", NOW)]
        assert row.handled_at == NOW
    finally:
        await runtime.close()


async def test_updates_of_a_worker_that_is_gone_are_handled_in_order(settings: Settings) -> None:
    runtime = await Runtime.open(settings)
    gone = await asyncio.create_subprocess_exec("true")
    await gone.wait()
    dead = f"{socket.gethostname()}:{gone.pid}"
    handled: list[tuple[int, Any]] = []

    async def handle(row_id: int, payload: Any) -> bool:
        handled.append((row_id, payload))
        return False  # not through the dispatcher: the inbox marks it

    try:
        async with runtime.sessions() as session, session.begin():
            await inbox.record(session, "zalo", [("m1", {"n": 1}), ("m2", {"n": 2})], NOW, dead)
            await inbox.record(session, "zalo", [("m3", {"n": 3})], NOW, "elsewhere:1")
        from channels.sender import is_gone

        box = Inbox(runtime.dispatcher, "zalo", handle, "me:1", is_gone, lambda: NOW)
        await box.start()
        await box.receive([("m4", {"n": 4}), ("m1", {"n": 1})])  # m1 again: recorded already
        await asyncio.wait_for(box.settled(), 10)
        await box.stop()
        # the dead worker's two first, then the new one; the live worker's claim is left
        assert [payload["n"] for _, payload in handled] == [1, 2, 4]
        assert box.duplicates == 1
        states = {r.key: r.handled_at is not None for r in await rows(runtime)}
        assert states == {"m1": True, "m2": True, "m3": False, "m4": True}
    finally:
        await runtime.close()


async def test_updates_of_different_chats_are_handled_side_by_side_in_order_per_chat(
        settings: Settings) -> None:
    """With `chat_of` and three lanes: three chats' updates are in hand at once, never two
    of one chat, and each chat's are handled in the order received; a stop lets the updates
    in hand finish and gives the queued ones back, unhandled, for the next process."""
    runtime = await Runtime.open(settings)
    in_hand: set[str] = set()
    most = 0
    order: dict[str, list[int]] = {}
    release = asyncio.Event()

    async def handle(row_id: int, payload: Any) -> bool:
        nonlocal most
        chat = payload["chat"]
        assert chat not in in_hand
        in_hand.add(chat)
        most = max(most, len(in_hand))
        await (release.wait() if payload["n"] >= 12 else asyncio.sleep(0.005))
        order.setdefault(chat, []).append(payload["n"])
        in_hand.discard(chat)
        return False

    try:
        box = Inbox(runtime.dispatcher, "zalo", handle, "me:1", lambda worker: False,
                    lambda: NOW, chat_of=lambda payload: payload["chat"], lanes=3)
        await box.start()
        chats = "abcabcabcaaa"
        await box.receive([(f"u{n}", {"chat": chat, "n": n}) for n, chat in enumerate(chats)])
        await asyncio.wait_for(box.settled(), 10)
        assert most == 3
        assert order == {"a": [0, 3, 6, 9, 10, 11], "b": [1, 4, 7], "c": [2, 5, 8]}
        # Two updates in hand (12 of «a», 13 of «b») and one of «a» queued behind 12.
        await box.receive([("u12", {"chat": "a", "n": 12}), ("u13", {"chat": "b", "n": 13}),
                           ("u14", {"chat": "a", "n": 14})])
        await asyncio.sleep(0.05)
        stopping = asyncio.create_task(box.stop())
        await asyncio.sleep(0.05)
        assert not stopping.done()  # waits for the two in hand
        release.set()
        await asyncio.wait_for(stopping, 10)
        assert order["a"][-1] == 12 and order["b"][-1] == 13
        states = {r.key: (r.handled_at is not None, r.claimed_by) for r in await rows(runtime)}
        assert states["u14"] == (False, None) and states["u13"] == (True, "me:1")
    finally:
        await runtime.close()


class _SlowToLeave(Inbox):
    """An inbox whose lane lingers after its update 0 (given back, failed) before it leaves
    its hands: another lane's look for unhandled updates comes in between."""

    async def _one(self, row_id: int, payload: Any) -> None:
        await super()._one(row_id, payload)
        if payload["n"] == 0:
            await asyncio.sleep(0.3)


async def test_an_update_given_back_while_in_hand_is_tried_again(settings: Settings) -> None:
    """A failed update is given back at once; taken again by another lane while still in
    hand, it is queued behind itself (its chat is busy) and tried again, not stranded."""
    runtime = await Runtime.open(settings)
    calls: list[int] = []

    async def handle(row_id: int, payload: Any) -> bool:
        calls.append(payload["n"])
        if payload["n"] == 0 and calls.count(0) == 1:
            raise RuntimeError("the first try fails")
        await asyncio.sleep(0.02)
        return False

    try:
        box = _SlowToLeave(runtime.dispatcher, "zalo", handle, "me:1", lambda worker: False,
                           lambda: NOW, recover_every=0.05,
                           chat_of=lambda payload: payload["chat"], lanes=2)
        await box.start()
        await box.receive([("u0", {"chat": "a", "n": 0})]
                          + [(f"v{i}", {"chat": "b", "n": 100 + i}) for i in range(20)])
        for _ in range(100):
            if calls.count(0) == 2:
                break
            await asyncio.sleep(0.05)
        await asyncio.wait_for(box.settled(), 10)
        await box.stop()
        assert calls.count(0) == 2
        states = {r.key: (r.handled_at is not None, r.attempts) for r in await rows(runtime)}
        assert states["u0"] == (True, 1)
    finally:
        await runtime.close()


async def test_an_event_of_a_handled_update_is_skipped(settings: Settings) -> None:
    runtime = await Runtime.open(settings)
    try:
        async with runtime.sessions() as session, session.begin():
            await add_member(session, "ht_lhp", "zalo", "staff", NOW, "1001")
            [row_id] = await inbox.record(session, "zalo", [("k", {})], NOW, "w")
        event = Incoming("zalo", "1001", "1001", text="/help", inbox_id=row_id)
        assert await runtime.dispatcher.handle(event, NOW) is True
        assert await runtime.dispatcher.handle(event, NOW) is False
        async with runtime.sessions() as session:
            assert len((await session.exec(select(Outbox))).all()) == 1
    finally:
        await runtime.close()


async def _webhook_twice(settings: Settings) -> None:
    async with TelegramEmulator() as emu:
        emu.add_user(1001, "ht_lhp")
        runtime = await Runtime.open(settings)
        async with runtime.sessions() as session, session.begin():
            await add_member(session, "ht_lhp", "telegram", "staff", NOW, "1001")

        async def webhook_on(port: int) -> tuple[TelegramAdapter, int]:
            adapter = TelegramAdapter(runtime, ChannelSettings(
                token=emu.token, base_url=emu.base_url, base_file_url=emu.base_file_url,
                mode="webhook", webhook_port=port, webhook_url=f"http://127.0.0.1:{port}/tg",
                webhook_secret="dung-bi-mat", per_chat_per_second=0, messages_per_second=0))
            try:
                await adapter.start()
            except OSError:
                await adapter.stop()
                raise
            return adapter, port

        adapter, port = await on_free_port(webhook_on)
        try:
            update = {"update_id": 4242, "message": {
                "message_id": 7, "date": 0, "text": "/help",
                "chat": {"id": 1001, "type": "private"},
                "from": {"id": 1001, "is_bot": False, "first_name": "ht_lhp"}}}
            async with httpx.AsyncClient() as http:
                for _ in range(2):  # Telegram posts it again when it missed the first 200
                    answer = await http.post(f"http://127.0.0.1:{port}/tg", json=update,
                                             headers={"X-Telegram-Bot-Api-Secret-Token":
                                                      "dung-bi-mat"})
                    assert answer.status_code == 200
            await asyncio.wait_for(adapter.inbox.settled(), 10)
            await emu.wait_idle()
            assert len(emu.bot_messages(1001)) == 1 and adapter.inbox.duplicates == 1
            async with runtime.sessions() as session:
                assert len((await session.exec(select(Outbox))).all()) == 1
                [row] = (await session.exec(select(InboundUpdate))).all()
            assert row.key == "4242" and row.handled_at is not None
        finally:
            await adapter.stop()
            await runtime.close()


async def test_a_telegram_update_delivered_twice_is_handled_once_on_sqlite(
        tmp_path: Path) -> None:
    await _webhook_twice(sqlite_settings(tmp_path))


async def test_a_telegram_update_delivered_twice_is_handled_once_on_postgresql(
        tmp_path: Path) -> None:
    async with fresh_pg_database() as url:
        await _webhook_twice(dataclasses.replace(sqlite_settings(tmp_path), database_url=url))


async def test_telegram_updates_of_several_chats_are_handled_side_by_side_on_postgresql(
        settings: Settings) -> None:
    """Four users send five messages each at once, polled as `bot.py run` polls: on
    PostgreSQL several chats' updates are in the dispatcher together (on SQLite, with its one
    writer, one at a time); each chat's are handled in the order sent, and every message gets
    its one answer."""
    users = [1001, 1002, 1003, 1004]
    async with TelegramEmulator() as emu:
        runtime = await Runtime.open(settings)
        async with runtime.sessions() as session, session.begin():
            for uid in users:
                emu.add_user(uid, f"ht{uid}")
                await add_member(session, f"ht{uid}", "telegram", "staff", NOW, str(uid))
        handled: dict[str, list[str]] = {}
        in_dispatcher, most = 0, 0
        real = runtime.dispatcher.handle

        async def handle(event: Incoming, now: datetime, replies: Any = None) -> bool:
            nonlocal in_dispatcher, most
            in_dispatcher += 1
            most = max(most, in_dispatcher)
            try:
                return await real(event, now, replies)
            finally:
                in_dispatcher -= 1
                handled.setdefault(event.chat_id, []).append(event.text)

        runtime.dispatcher.handle = handle  # type: ignore[method-assign]
        adapter = TelegramAdapter(runtime, ChannelSettings(
            token=emu.token, base_url=emu.base_url, base_file_url=emu.base_file_url,
            per_chat_per_second=0, messages_per_second=0))
        await adapter.start()
        try:
            for n in range(5):
                for uid in users:
                    await emu.inject_text(uid, f"/help {n}")
            for _ in range(40):
                if sum(map(len, handled.values())) == 20:
                    break
                await asyncio.sleep(0.25)
            await asyncio.wait_for(adapter.inbox.settled(), 10)
            await emu.wait_idle()
        finally:
            await adapter.stop()
            await runtime.close()
    assert handled == {str(uid): [f"/help {n}" for n in range(5)] for uid in users}
    assert all(len(emu.bot_messages(uid)) == 5 for uid in users)
    if settings.database_url.startswith("postgresql"):
        assert most > 1
    else:
        assert most == 1
