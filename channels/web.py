"""The bot's small web server: the signed upload page (`/u/<token>`) for report files that a
chat platform cannot deliver (Zalo bots receive no documents; Telegram bots cannot download
files over 20 MB), links to files the bot sends on Zalo (`/f/<token>`), and the Zalo webhook.

An upload becomes the same `Incoming` event as a document sent in the chat, answering the
bot message the link was offered under, so the core records it against the same target and
acknowledges it in the chat. Each link works once (its nonce is the event's `once_key`).
"""

from __future__ import annotations

import html
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol
from urllib.parse import quote

from aiohttp import BodyPartReader, web

from channels.host import Uploader, UploadHost
from core.clock import utc_now
from core.files import IMAGE_TYPES, check_file
from core.i18n import N_, Translator
from core.links import LinkError, UploadClaim, sign, verify
from core.messages import Incoming, IncomingFile, Outgoing, OutgoingFile

log = logging.getLogger(__name__)

OFFER = N_("Để gửi tệp báo cáo, hãy mở liên kết sau và chọn tệp (liên kết dùng được một lần, "
           "trong {minutes} phút): {url}")
CHUNK = 64 * 1024


@dataclass(frozen=True)
class Offer:
    """An upload link offered to a member, and the chat message that offers it."""

    url: str
    text: str


class ChatAdapter(Protocol):
    async def send(self, message: Outgoing) -> str: ...

    async def drain(self, now: datetime | None = None) -> int: ...


class WebServer:
    """Serves the upload page and file links; channels register their adapter with it."""

    def __init__(self, host: UploadHost, clock: Callable[[], datetime] = utc_now,
                 port: int | None = None) -> None:
        self.host = host
        self.settings = host.settings.web
        self.secret = host.settings.secret_key
        self.clock = clock
        self.adapters: dict[str, ChatAdapter] = {}
        self.app = web.Application()
        self.app.router.add_route("*", "/u/{token}", self._upload)
        self.app.router.add_get("/f/{token}", self._file)
        self.port = self.settings.port if port is None else port
        self._runner: web.AppRunner | None = None

    @property
    def base_url(self) -> str:
        return self.settings.public_url or f"http://{self.settings.listen}:{self.port}"

    async def start(self) -> None:
        if self.secret == "change-me":
            log.warning("bot.secret_key is the example value: set a long random value (or "
                        "BOT_SECRET_KEY) so that nobody can forge upload and file links")
        runner = web.AppRunner(self.app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        await web.TCPSite(runner, self.settings.listen, self.port).start()
        if not self.port:
            self.port = int(runner.addresses[0][1])
        self._runner = runner

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # ------------------------------------------------------------------ links

    async def offer(self, channel: str, user_id: str, reply_to: str | None) -> Offer | None:
        """A new upload link for a member, answering the bot message `reply_to` (the task
        the file is for); None for a stranger."""
        now = self.clock()
        member = await self.host.uploader(channel, user_id)
        if member is None:
            return None
        target_id = await self.host.replied_target(channel, member.chat_id, reply_to) \
            if reply_to else None
        minutes = self.settings.link_minutes
        claim = UploadClaim.new(member.member_id, target_id or 0, reply_to or "",
                                now + timedelta(minutes=minutes))
        url = f"{self.base_url}/u/{claim.token(self.secret)}"
        return Offer(url, Translator(member.language)(OFFER, minutes=minutes, url=url))

    def file_url(self, file: OutgoingFile) -> str:
        """A link to a file the bot sends, for platforms that take files only by URL."""
        digest = self.host.files.put(file.data)
        expires = self.clock() + timedelta(days=self.settings.file_link_days)
        token = sign(self.secret, "f", [digest, file.name, file.mime_type], expires)
        return f"{self.base_url}/f/{token}"

    async def _file(self, request: web.Request) -> web.StreamResponse:
        try:
            _, (digest, name, mime) = verify(self.secret, "f", request.match_info["token"],
                                             self.clock())
            data = self.host.files.get(str(digest))
        except (LinkError, ValueError, OSError):
            raise web.HTTPNotFound() from None
        return web.Response(body=data, content_type=str(mime), headers={
            "Content-Disposition": f"inline; filename*=UTF-8''{quote(str(name), safe='')}"})

    # ------------------------------------------------------------------ the upload page

    async def _upload(self, request: web.Request) -> web.StreamResponse:
        now = self.clock()
        t = Translator(self.host.settings.default_language)
        try:
            claim = UploadClaim.read(self.secret, request.match_info["token"], now)
        except LinkError as exc:
            if exc.code == "expired" and exc.expired_at is not None:
                return _page(t, t("Liên kết đã hết hạn"), t(
                    "Liên kết gửi tệp này đã hết hạn lúc {time}. Hãy nhắn «gửi tệp» cho bot "
                    "để nhận liên kết mới.", time=t.moment(exc.expired_at)), 410)
            return _page(t, t("Liên kết không hợp lệ"), t(
                "Liên kết này không đúng (có thể bị sao chép thiếu hoặc bị sửa). Hãy mở lại "
                "đúng liên kết bot đã gửi, hoặc nhắn «gửi tệp» cho bot để nhận liên kết mới."),
                403)
        member = await self.host.uploader_by_id(claim.member_id)
        if member is None:
            return _page(t, t("Liên kết không hợp lệ"), t(
                "Tài khoản nhận liên kết này không còn trong danh sách của bot."), 403)
        used = await self.host.once_used(member.channel, _once_key(claim))
        task = await self.host.task_line(t, claim.target_id) if claim.target_id else ""
        t = Translator(member.language)
        if used:
            return _used_page(t)
        if request.method == "GET":
            return self._form(t, member, task, claim)
        if request.method != "POST":
            raise web.HTTPMethodNotAllowed(request.method, ["GET", "POST"])
        return await self._receive(request, t, member, task, claim)

    def _form(self, t: Translator, member: Uploader, task: str, claim: UploadClaim,
              problem: str = "", status: int = 200) -> web.Response:
        e = html.escape
        sender = t("Người gửi: {name}", name=member.display_name)
        labels = (t("Tệp báo cáo"), t("Lời nhắn kèm theo (không bắt buộc)"), t("Gửi tệp"))
        hint = t("Tối đa {limit} MB: PDF, Word, Excel, PowerPoint, ảnh (JPG, PNG) hoặc tệp "
                 "nén ZIP.", limit=self.host.settings.max_file_mb)
        once = t("Liên kết dùng được một lần, đến {time}.", time=t.moment(claim.expires))
        parts = [f'<p class="problem" id="problem" role="alert">{e(problem)}</p>'
                 if problem else "", f"<p>{e(sender)}</p>"]
        if task:
            line = t("Nhiệm vụ: {task}", task=task)
            parts.append(f"<p>{e(line)}</p>")
        parts.append(
            f'<form method="post" enctype="multipart/form-data"><label for="file">{e(labels[0])}'
            '</label><input id="file" name="file" type="file" required accept=".pdf,.doc,.docx,'
            '.xls,.xlsx,.ppt,.pptx,.jpg,.jpeg,.png,.zip,.rar,.csv,.txt">'
            f'<p class="hint">{e(hint)}</p><label for="note">{e(labels[1])}</label>'
            '<textarea id="note" name="note" rows="3"></textarea>'
            f'<button id="send" type="submit">{e(labels[2])}</button></form>'
            f'<p class="hint">{e(once)}</p>')
        return _page(t, t("Gửi tệp báo cáo"), "".join(parts), status, raw=True)

    async def _receive(self, request: web.Request, t: Translator, member: Uploader, task: str,
                       claim: UploadClaim) -> web.Response:
        limit = self.host.settings.max_file_bytes
        name, data, size, note, files = "", b"", 0, "", 0
        if request.content_type == "multipart/form-data":
            reader = await request.multipart()
            while (part := await reader.next()) is not None:
                if not isinstance(part, BodyPartReader):
                    continue  # a nested multipart body (no form field of ours): not read
                if part.name == "file" or part.filename:
                    files += 1
                if files > 1:  # one file per link: the rest is not read
                    return self._form(t, member, task, claim, t(
                        "Mỗi lần chỉ gửi được một tệp; chưa có tệp nào được nhận. Hãy chọn "
                        "một tệp rồi bấm «Gửi tệp»; nếu cần gửi thêm tệp, hãy nhắn «gửi tệp» "
                        "cho bot để nhận liên kết mới."), 400)
                if part.name == "note":
                    note = (await part.text())[:2000]
                elif part.name == "file":
                    name = Path(part.filename or "").name[:255]
                    chunks: list[bytes] = []
                    while chunk := await part.read_chunk(CHUNK):
                        if size <= limit:  # past the limit only the size is counted
                            chunks.append(chunk)
                        size += len(chunk)
                    data = b"".join(chunks)
        if not name:
            return self._form(t, member, task, claim, t("Hãy chọn một tệp để gửi."), 400)
        mime, problem = check_file(data, limit, name)
        if problem is not None:
            if problem.code == "too_large":
                problem = type(problem)("too_large", size, problem.limit, problem.mime_type)
            text = self.host.problem_text(t, name, problem)
            adapter = self.adapters.get(member.channel)
            if adapter is not None:  # the chat shows it too, as for a file sent there
                await self.host.tell(member.member_id, text, self.clock())
                await adapter.drain()
            status = {"too_large": 413, "bad_type": 415}.get(problem.code, 400)
            return self._form(t, member, task, claim, text, status)
        event = Incoming(
            channel=member.channel, user_id=member.user_id, chat_id=member.chat_id,
            display_name=member.display_name, text=note.strip(),
            file=IncomingFile(name, data, is_photo=mime in IMAGE_TYPES),
            reply_to=claim.reply_to or None, once_key=_once_key(claim),
        )
        if not await self.host.handle(event, self.clock()):
            return _used_page(t)  # used meanwhile, e.g. by a second tab
        adapter = self.adapters.get(member.channel)
        if adapter is not None:
            await adapter.drain()
        return _page(t, t("Đã gửi tệp"), t(
            "Bot đã nhận tệp «{name}». Xác nhận của bot ở trong cuộc trò chuyện; bạn có thể "
            "đóng trang này.", name=name), 200)


def _once_key(claim: UploadClaim) -> str:
    return f"upload:{claim.nonce}"


def _used_page(t: Translator) -> web.Response:
    return _page(t, t("Liên kết đã được dùng"), t(
        "Liên kết này đã được dùng để gửi một tệp; mỗi liên kết chỉ dùng một lần. Nhắn «gửi "
        "tệp» cho bot nếu cần gửi thêm tệp."), 410)


_STYLE = """body{font-family:system-ui,sans-serif;margin:0;padding:1rem;max-width:32rem;
margin:auto;font-size:1.05rem;line-height:1.45;color:#1b1b1b}h1{font-size:1.35rem}
label{display:block;font-weight:600;margin-top:1rem}input,textarea,button{width:100%;
box-sizing:border-box;font-size:1rem;margin-top:.35rem}input[type=file]{padding:.6rem 0}
textarea{padding:.5rem}button{margin-top:1.2rem;padding:.8rem;border:0;border-radius:.4rem;
background:#0068ff;color:#fff;font-weight:600}.hint{color:#555;font-size:.9rem}
.problem{background:#fdecea;color:#8a1c12;padding:.7rem;border-radius:.4rem}"""


def _page(t: Translator, title: str, body: str, status: int, raw: bool = False) -> web.Response:
    content = body if raw else f'<p id="message">{html.escape(body)}</p>'
    return web.Response(status=status, content_type="text/html", charset="utf-8", text=(
        f'<!doctype html><html lang="{t.language}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body><h1>{html.escape(title)}</h1>{content}</body></html>"))
