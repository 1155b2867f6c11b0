"""Tests of the Zalo Bot Platform emulator, driven by plain HTTP calls as a bot makes them."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from aiohttp import web

from testing.emulators.zalo_api import SECRET_HEADER, ZaloEmulator

TOKEN = "1234567890:TESTZALO"
SECRET = "s3cret-token-42"
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082"
)


@pytest.fixture
async def emu() -> AsyncIterator[ZaloEmulator]:
    emulator = ZaloEmulator(token=TOKEN, bot_name="Bao cao bot")
    await emulator.start()
    emulator.add_user("u1", "Cô Lan")
    try:
        yield emulator
    finally:
        await emulator.stop()


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5.0) as http:
        yield http


async def call(
    http: httpx.AsyncClient, emu: ZaloEmulator, method: str, **params: Any
) -> httpx.Response:
    """POST a JSON call the way a bot does."""
    return await http.post(f"{emu.base_url}/bot{TOKEN}/{method}", json=params)


class Receiver:
    """A tiny webhook endpoint that records what it is sent."""

    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], Any]] = []
        self.got = asyncio.Event()
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def _handle(self, request: web.Request) -> web.Response:
        self.requests.append((dict(request.headers), await request.json()))
        self.got.set()
        return web.Response(text="ok")

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/hook", self._handle)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", 0).start()
        port = self.runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}/hook"

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()


async def test_get_me(emu: ZaloEmulator, client: httpx.AsyncClient) -> None:
    response = await call(client, emu, "getMe")
    assert response.status_code == 200
    body = response.json()
    assert body["ok"] is True
    assert body["result"]["id"] == "1234567890"
    assert body["result"]["display_name"] == "Bao cao bot"
    assert {"account_name", "account_type", "can_join_groups"} <= body["result"].keys()
    as_get = await client.get(f"{emu.base_url}/bot{TOKEN}/getMe")
    assert as_get.json()["result"] == body["result"]
    assert [c.method for c in emu.calls] == ["getMe", "getMe"]


async def test_wrong_token_is_unauthorized(emu: ZaloEmulator, client: httpx.AsyncClient) -> None:
    response = await client.post(f"{emu.base_url}/bot999:WRONG/sendMessage", json={})
    assert response.status_code == 401
    body = response.json()
    assert body["ok"] is False
    assert body["error_code"] == 401
    assert emu.calls == []
    assert emu.unauthorized_calls[0].method == "sendMessage"


@pytest.mark.xdist_group("serial")  # the long poll answers within 1 s
async def test_long_poll_returns_injected_text(
    emu: ZaloEmulator, client: httpx.AsyncClient
) -> None:
    empty = await call(client, emu, "getUpdates", timeout="0")
    assert empty.json() == {"ok": False, "error_code": 408, "description": "Request timeout"}

    poll = asyncio.create_task(call(client, emu, "getUpdates", timeout="3"))
    await emu.wait_for_call("getUpdates", lambda c: c.params.get("timeout") == "3")
    started = time.monotonic()
    injected = await emu.inject_text("u1", "Xin chào")
    body = (await poll).json()
    assert time.monotonic() - started < 1.0
    assert body["ok"] is True
    update = body["result"]
    assert update == injected
    assert update["event_name"] == "message.text.received"
    message = update["message"]
    assert message["text"] == "Xin chào"
    assert message["from"] == {"id": "u1", "display_name": "Cô Lan", "is_bot": False}
    assert message["chat"] == {"id": "u1", "chat_type": "PRIVATE"}
    assert isinstance(message["message_id"], str) and message["message_id"]
    assert isinstance(message["date"], int)
    await emu.wait_idle(quiet=0.02, timeout=1.0)


async def test_group_text_and_list_mode(emu: ZaloEmulator, client: httpx.AsyncClient) -> None:
    emu.updates_as_list = True
    await emu.inject_text("u1", "báo cáo", chat_id="g42", group=True)
    body = (await call(client, emu, "getUpdates", timeout=1)).json()
    assert body["ok"] is True
    [update] = body["result"]
    assert update["message"]["chat"] == {"id": "g42", "chat_type": "GROUP"}
    empty = (await call(client, emu, "getUpdates", timeout=0)).json()
    assert empty == {"ok": True, "result": []}


async def test_image_update_can_be_downloaded(emu: ZaloEmulator, client: httpx.AsyncClient) -> None:
    await emu.inject_image("u1", PNG, caption="Bảng điểm")
    body = (await call(client, emu, "getUpdates", timeout=1)).json()
    update = body["result"]
    assert update["event_name"] == "message.image.received"
    assert update["message"]["caption"] == "Bảng điểm"
    url = update["message"]["photo_url"]
    assert url.startswith(emu.base_url)
    picture = await client.get(url)
    assert picture.status_code == 200
    assert picture.content == PNG
    assert picture.headers["content-type"] == "image/png"


async def test_unsupported_and_sticker_events(emu: ZaloEmulator, client: httpx.AsyncClient) -> None:
    await emu.inject_unsupported("u1")
    await emu.inject_sticker("u1")
    first = (await call(client, emu, "getUpdates", timeout=1)).json()["result"]
    second = (await call(client, emu, "getUpdates", timeout=1)).json()["result"]
    assert first["event_name"] == "message.unsupported.received"
    assert "text" not in first["message"]
    assert second["event_name"] == "message.sticker.received"
    assert second["message"]["sticker"]


async def test_send_message_and_photo_are_recorded(
    emu: ZaloEmulator, client: httpx.AsyncClient
) -> None:
    sent = (await call(client, emu, "sendMessage", chat_id="u1", text="Đã nhận")).json()
    assert sent["ok"] is True
    assert isinstance(sent["result"]["message_id"], str)
    photo = await call(
        client, emu, "sendPhoto", chat_id="u1", photo="https://x.test/a.png", caption="Biểu đồ"
    )
    assert photo.json()["ok"] is True
    typing = await call(client, emu, "sendChatAction", chat_id="u1", action="typing")
    assert typing.json() == {"ok": True, "result": True}

    messages = emu.bot_messages("u1")
    assert [m["type"] for m in messages] == ["text", "photo"]
    assert messages[0]["text"] == "Đã nhận"
    assert messages[0]["message_id"] == sent["result"]["message_id"]
    assert messages[1]["photo"] == "https://x.test/a.png"
    assert messages[1]["caption"] == "Biểu đồ"
    recorded = await emu.wait_for_call("sendMessage")
    assert recorded.params == {"chat_id": "u1", "text": "Đã nhận"}
    assert recorded.error_code is None


async def test_text_over_2000_characters_is_rejected(
    emu: ZaloEmulator, client: httpx.AsyncClient
) -> None:
    too_long = await call(client, emu, "sendMessage", chat_id="u1", text="a" * 2001)
    assert too_long.status_code == 400
    body = too_long.json()
    assert body["ok"] is False
    assert body["error_code"] == 400
    assert emu.bot_messages("u1") == []
    just_fits = await call(client, emu, "sendMessage", chat_id="u1", text="a" * 2000)
    assert just_fits.json()["ok"] is True
    assert emu.calls[0].error_code == 400


async def test_faults(emu: ZaloEmulator, client: httpx.AsyncClient) -> None:
    emu.fail_next("sendMessage", "429", retry_after=2)
    limited = await call(client, emu, "sendMessage", chat_id="u1", text="hi")
    assert limited.status_code == 429
    assert limited.headers["Retry-After"] == "2"
    body = limited.json()
    assert body["ok"] is False
    assert body["error_code"] == 429
    assert body["parameters"]["retry_after"] == 2
    assert emu.bot_messages("u1") == []
    again = await call(client, emu, "sendMessage", chat_id="u1", text="hi")
    assert again.json()["ok"] is True

    emu.fail_next(None, "500")
    assert (await call(client, emu, "getMe")).status_code == 500
    emu.fail_next("getMe", "malformed")
    broken = await call(client, emu, "getMe")
    assert broken.status_code == 200
    with pytest.raises(ValueError):
        broken.json()
    emu.fail_next("getMe", "slow", delay=0.2)
    started = time.monotonic()
    assert (await call(client, emu, "getMe")).json()["ok"] is True
    assert time.monotonic() - started >= 0.2
    assert [c.fault for c in emu.calls if c.fault] == ["429", "500", "malformed", "slow"]


async def test_webhook_delivery_in_both_body_forms(
    emu: ZaloEmulator, client: httpx.AsyncClient
) -> None:
    receiver = Receiver()
    await receiver.start()
    try:
        short = await call(client, emu, "setWebhook", url=receiver.url, secret_token="short")
        assert short.json()["error_code"] == 400
        response = await call(client, emu, "setWebhook", url=receiver.url, secret_token=SECRET)
        assert response.json()["ok"] is True
        info = (await call(client, emu, "getWebhookInfo")).json()["result"]
        assert info["url"] == receiver.url
        conflict = await call(client, emu, "getUpdates", timeout=0)
        assert conflict.json()["error_code"] == 409

        bare = await emu.inject_text("u1", "bare")
        await asyncio.wait_for(receiver.got.wait(), 2)
        headers, body = receiver.requests[0]
        assert headers[SECRET_HEADER] == SECRET
        assert body == bare

        receiver.got.clear()
        emu.wrap_webhook_body = True
        wrapped = await emu.inject_text("u1", "wrapped")
        await asyncio.wait_for(receiver.got.wait(), 2)
        headers, body = receiver.requests[1]
        assert headers[SECRET_HEADER] == SECRET
        assert body == {"ok": True, "result": wrapped}
        await emu.wait_idle(quiet=0.02, timeout=1.0)
        assert [d["status"] for d in emu.webhook_deliveries] == [200, 200]

        assert (await call(client, emu, "deleteWebhook")).json()["ok"] is True
        await emu.inject_text("u1", "polled again")
        polled = (await call(client, emu, "getUpdates", timeout=1)).json()
        assert polled["result"]["message"]["text"] == "polled again"
    finally:
        await receiver.stop()


async def test_restart_keeps_state(emu: ZaloEmulator, client: httpx.AsyncClient) -> None:
    await call(client, emu, "sendMessage", chat_id="u1", text="trước")
    image = await emu.inject_image("u1", PNG)
    base_url = emu.base_url
    await emu.stop()
    with pytest.raises(httpx.ConnectError):
        await call(client, emu, "getMe")
    await emu.start()
    assert emu.base_url == base_url
    update = (await call(client, emu, "getUpdates", timeout=1)).json()["result"]
    assert update == image
    assert (await client.get(update["message"]["photo_url"])).content == PNG
    assert [m["text"] for m in emu.bot_messages("u1")] == ["trước"]
    assert emu.users["u1"] == "Cô Lan"


async def test_redeliver_last_repeats_the_update(
    emu: ZaloEmulator, client: httpx.AsyncClient
) -> None:
    with pytest.raises(RuntimeError):
        emu.redeliver_last()
    await emu.inject_text("u1", "một lần")
    first = (await call(client, emu, "getUpdates", timeout=1)).json()["result"]
    emu.redeliver_last()
    second = (await call(client, emu, "getUpdates", timeout=1)).json()["result"]
    assert second == first


async def test_wait_idle_times_out_while_updates_wait(emu: ZaloEmulator) -> None:
    await emu.inject_text("u1", "chưa ai lấy")
    with pytest.raises(TimeoutError):
        await emu.wait_idle(quiet=0.01, timeout=0.1)
    assert len(emu.pending_updates) == 1
