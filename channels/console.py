"""The console channel: an interactive REPL and the `.chat` transcript runner.

Both drive the same `ConsoleSession`: a virtual clock, the dispatcher and the sender with a
console adapter that prints the bot's messages as transcript lines. The transcript format is
the contract of PRODUCT.md; keep it exactly.
"""

from __future__ import annotations

import asyncio
import re
import shlex
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol, TextIO

from channels.host import ConsoleHost
from channels.sender import Sender
from core.clock import LOCAL_TZ, to_local, utc_now
from core.durations import parse_duration
from core.files import IMAGE_TYPES, sniff_type
from core.messages import Button, Incoming, IncomingFile, Outgoing
from core.text import fold

CHANNEL = "console"


@dataclass
class Delivered:
    """A bot message as the console shows it."""

    message_id: str
    to: str
    at: datetime
    text: str
    buttons: tuple[Button, ...] = ()
    file_name: str | None = None

    def lines(self) -> list[str]:
        stamp = to_local(self.at).strftime("%Y-%m-%d %H:%M")
        if self.file_name:
            body = f"📎 {self.file_name}" + (f" ({self.text})" if self.text else "")
        else:
            body = self.text
        first, *rest = body.split("\n") or [""]
        out = [f"{stamp} → {self.to}: {first}"] + [f"    {line}" for line in rest]
        if self.buttons:
            out.append("   " + " ".join(f"[{b.label}]" for b in self.buttons))
        return out

    def searchable(self) -> str:
        """The message as printed (text, file name and caption, `[button]` labels), folded."""
        parts = [self.file_name or "", self.text] + [f"[{b.label}]" for b in self.buttons]
        return fold(" ".join(parts))


class ConsoleAdapter:
    """Delivers outgoing messages by printing them; keeps them for `@expect` and `@press`."""

    name = CHANNEL

    def __init__(self, clock: Callable[[], datetime], out: TextIO,
                 files_dir: Path | None = None) -> None:
        self.clock = clock
        self.out = out
        self.files_dir = files_dir
        self.delivered: list[Delivered] = []

    async def send(self, message: Outgoing) -> str:
        message_id = str(len(self.delivered) + 1)
        item = Delivered(
            message_id=message_id,
            to=message.chat_id,
            at=self.clock(),
            text=message.text,
            buttons=message.buttons,
            file_name=message.file.name if message.file else None,
        )
        if message.file and self.files_dir is not None:
            self.files_dir.mkdir(parents=True, exist_ok=True)
            (self.files_dir / Path(message.file.name).name).write_bytes(message.file.data)
        self.delivered.append(item)
        for line in item.lines():
            print(line, file=self.out)
        return message_id


class ConsoleSession:
    """The bot on a virtual clock, talked to by console users."""

    def __init__(self, host: ConsoleHost, out: TextIO, files_dir: Path | None = None,
                 start: datetime | None = None) -> None:
        self.host = host
        self.out = out
        self.now = start or utc_now().replace(second=0, microsecond=0)
        self.adapter = ConsoleAdapter(lambda: self.now, out, files_dir)
        self.sender: Sender = host.sender({CHANNEL: self.adapter})

    async def deliver(self) -> None:
        await self.host.sweep(self.now)
        await self.sender.drain(self.now)

    async def advance_to(self, moment: datetime) -> None:
        """Move the clock to `moment`, running every job that falls due on the way, in order."""
        while True:
            due = await self.host.next_due(self.now)
            if due is None or due > moment:
                break
            self.now = max(self.now, due)
            await self.deliver()
        self.now = max(self.now, moment)
        await self.deliver()

    async def send(self, event: Incoming) -> None:
        await self.host.handle(event, self.now)
        await self.sender.drain(self.now)

    async def drain(self) -> None:
        await self.sender.drain(self.now)

    @property
    def delivered(self) -> list[Delivered]:
        return self.adapter.delivered

    def last_message_to(self, user: str) -> Delivered | None:
        return next((m for m in reversed(self.adapter.delivered) if m.to == user), None)

    def find_button(self, user: str, label: str) -> tuple[Delivered, Button]:
        return find_button(self.adapter.delivered, user, label)


class ScriptError(Exception):
    """A transcript line that cannot be played or an `@expect` that failed."""


class TranscriptSession(Protocol):
    """What the `Player` drives: the console session, or the Telegram one that plays the
    same lines through the real adapter. `send` takes a console-shaped event (user name,
    text, file, reply/button ids of earlier `Delivered` messages)."""

    now: datetime
    out: TextIO

    @property
    def delivered(self) -> list[Delivered]: ...

    async def send(self, event: Incoming) -> None: ...

    async def advance_to(self, moment: datetime) -> None: ...

    def last_message_to(self, user: str) -> Delivered | None: ...

    def find_button(self, user: str, label: str) -> tuple[Delivered, Button]: ...

    async def drain(self) -> None: ...


def find_button(delivered: list[Delivered], user: str, label: str) -> tuple[Delivered, Button]:
    """The button `label` on the last message to `user` that has it, or else the only
    button whose label contains `label` (the `@press` rule of the transcript format)."""
    wanted = fold(label)
    mine = [m for m in reversed(delivered) if m.to == user and m.buttons]
    for message in mine:
        for button in message.buttons:
            if fold(button.label) == wanted:
                return message, button
    for message in mine:
        partial = [b for b in message.buttons if wanted in fold(b.label)]
        if len(partial) == 1:
            return message, partial[0]
        if partial:
            labels = ", ".join(b.label for b in partial)
            raise ScriptError(f"several buttons contain {label!r}: {labels}")
    raise ScriptError(f"{user} has no button {label!r}")


def user_event(user: str, **fields: object) -> Incoming:
    return Incoming(channel=CHANNEL, user_id=user, chat_id=user, display_name=user,
                    **fields)  # type: ignore[arg-type]


def read_file_event(user: str, path: Path, caption: str, reply_to: str | None) -> Incoming:
    if not path.is_file():
        raise ScriptError(f"file not found: {path}")
    data = path.read_bytes()
    return user_event(
        user,
        text=caption,
        file=IncomingFile(name=path.name, data=data, is_photo=sniff_type(data) in IMAGE_TYPES),
        reply_to=reply_to,
    )


_NOW = re.compile(r"^(\d{4})-(\d{2})-(\d{2})[ T](\d{1,2}):(\d{2})$")
DIRECTIVES = ("now", "advance", "as", "reply", "file", "press", "admin", "expect",
              "expect-none")


def parse_local(text: str) -> datetime:
    match = _NOW.match(text.strip())
    if not match:
        raise ScriptError(f"expected a time as YYYY-MM-DD HH:MM, got {text!r}")
    year, month, day, hour, minute = map(int, match.groups())
    try:
        return datetime(year, month, day, hour, minute, tzinfo=LOCAL_TZ)
    except ValueError as exc:
        raise ScriptError(f"not a real time: {text!r}") from exc


def split_directive(line: str) -> tuple[str, str] | None:
    """(`expect`, `rest`) for a known directive line, None for a user message."""
    if not line.startswith("@"):
        return None
    name, _, rest = line[1:].partition(" ")
    name = name.strip().lower()
    return (name, rest.strip()) if name in DIRECTIVES else None


@dataclass
class Player:
    """Plays transcript lines (from a file or typed at the REPL) against a session."""

    session: TranscriptSession
    base_dir: Path
    run_admin: Callable[[list[str], Path, datetime], object]
    user: str | None = None
    reply_next: bool = False
    started: bool = False
    window_start: int = 0
    group_end: int | None = None
    failures: list[str] = field(default_factory=list)

    @property
    def out(self) -> TextIO:
        return self.session.out

    def echo(self, user: str, text: str) -> None:
        stamp = to_local(self.session.now).strftime("%Y-%m-%d %H:%M")
        print(f"{stamp} ← {user}: {text}", file=self.out)

    def _require_user(self) -> str:
        if self.user is None:
            raise ScriptError("no user yet: start with @as NAME")
        return self.user

    def _take_reply(self, user: str) -> str | None:
        if not self.reply_next:
            return None
        self.reply_next = False
        last = self.session.last_message_to(user)
        if last is None:
            raise ScriptError(f"@reply: {user} has received no message to reply to")
        return last.message_id

    async def play_line(self, lineno: int, raw: str) -> None:
        line = raw.strip()
        if not line or line.startswith("#"):
            return
        directive = split_directive(line)
        if directive and directive[0] in ("expect", "expect-none"):
            self._expect(lineno, *directive)
            return
        if self.group_end is not None:  # the line after an expect group closes it
            self.window_start, self.group_end = self.group_end, None
        if directive is None:
            await self._say(line)
            return
        name, rest = directive
        if name == "now":
            moment = parse_local(rest)
            if not self.started or moment < self.session.now:
                self.session.now = moment.astimezone(UTC)
            else:
                await self.session.advance_to(moment)
        elif name == "advance":
            try:
                step = parse_duration(rest)
            except ValueError as exc:
                raise ScriptError(f"@advance: expected 3d, 6h, 30m or 1d2h30m, got {rest!r}") \
                    from exc
            await self.session.advance_to(self.session.now + step)
        elif name == "as":
            if not rest:
                raise ScriptError("@as needs a user name")
            self.user = rest.split()[0]
        elif name == "reply":
            self.reply_next = True
        elif name == "file":
            await self._file(rest)
        elif name == "press":
            await self._press(rest)
        elif name == "admin":
            self.started = True
            await self._admin(rest)
        self.started = self.started or name in ("advance",)

    async def _say(self, text: str) -> None:
        user = self._require_user()
        reply_to = self._take_reply(user)
        self.started = True
        self.echo(user, ("↩ " if reply_to else "") + text)
        await self.session.send(user_event(user, text=text, reply_to=reply_to))

    async def _file(self, rest: str) -> None:
        user = self._require_user()
        if not rest:
            raise ScriptError("@file needs a path")
        if rest[0] in "\"'":
            quote = rest[0]
            end = rest.find(quote, 1)
            if end < 0:
                raise ScriptError("@file: unclosed quote")
            path_text, caption = rest[1:end], rest[end + 1 :].strip()
        else:
            path_text, _, caption = rest.partition(" ")
        reply_to = self._take_reply(user)
        event = read_file_event(user, self.base_dir / path_text, caption.strip(), reply_to)
        self.started = True
        shown = f"📎 {Path(path_text).name}" + (f" ({caption.strip()})" if caption.strip() else "")
        self.echo(user, ("↩ " if reply_to else "") + shown)
        await self.session.send(event)

    async def _press(self, label: str) -> None:
        user = self._require_user()
        message, button = self.session.find_button(user, label)
        self.started = True
        self.echo(user, f"[{button.label}]")
        await self.session.send(
            user_event(user, button=button.payload, button_message_id=message.message_id)
        )

    async def _admin(self, rest: str) -> None:
        try:
            args = shlex.split(rest)
        except ValueError as exc:
            raise ScriptError(f"@admin: {exc}") from exc
        stamp = to_local(self.session.now).strftime("%Y-%m-%d %H:%M")
        print(f"{stamp} ⚙ admin: {rest}", file=self.out)
        code, output = await self.run_admin(args, self.base_dir, self.session.now)  # type: ignore[misc]
        for line in output.rstrip("\n").splitlines():
            print(f"    {line}", file=self.out)
        if code:
            print(f"    (exit code {code})", file=self.out)
        await self.session.drain()

    def _expect(self, lineno: int, name: str, rest: str) -> None:
        if self.group_end is None:
            self.group_end = len(self.session.delivered)
        window = self.session.delivered[self.window_start : self.group_end]
        user, _, text = rest.partition(" ")
        if not user:
            raise ScriptError(f"@{name} needs a user name")
        received = [m for m in window if m.to == user]
        if name == "expect-none":
            ok = not received
            wanted = "no message"
        else:
            needle = fold(text)
            ok = any(needle in m.searchable() for m in received) if needle else bool(received)
            wanted = f"a message containing {text!r}" if text else "a message"
        if not ok:
            shown = "\n".join("      " + line for m in received for line in m.lines()) or \
                "      (nothing)"
            raise ScriptError(
                f"line {lineno}: @{name} {rest}\n    expected {wanted} to {user}; "
                f"{user} received:\n{shown}"
            )


async def play_script(
    host: ConsoleHost,
    script: Path,
    out: TextIO,
    run_admin: Callable[[list[str], Path, datetime], object],
    files_dir: Path | None = None,
) -> int:
    """Play a `.chat` file; 0 when every `@expect` held, 1 (with the reason) otherwise."""
    return await run_script(ConsoleSession(host, out, files_dir), script, out, run_admin)


async def run_script(
    session: TranscriptSession,
    script: Path,
    out: TextIO,
    run_admin: Callable[[list[str], Path, datetime], object],
) -> int:
    """Play a `.chat` file against `session`; 0 when every `@expect` held, else 1."""
    player = Player(session, script.resolve().parent, run_admin)
    lines = script.read_text(encoding="utf-8").splitlines()
    for lineno, raw in enumerate(lines, start=1):
        try:
            await player.play_line(lineno, raw)
        except ScriptError as exc:
            message = str(exc)
            if not message.startswith("line "):
                message = f"line {lineno}: {raw.strip()}\n    {message}"
            print(f"FAILED {script.name}: {message}", file=out)
            return 1
    return 0


async def repl(
    host: ConsoleHost,
    run_admin: Callable[[list[str], Path, datetime], object],
    inp: TextIO = sys.stdin,
    out: TextIO = sys.stdout,
    user: str = "admin",
) -> int:
    """The interactive console: type messages, `/as NAME` to switch user, and any transcript
    directive (`@admin ...`, `@press ...`, `@advance 1d`). Ends at end of input."""
    session = ConsoleSession(host, out)
    player = Player(session, Path.cwd(), run_admin, user=user)
    if await host.adopt_first_user(CHANNEL, user, session.now):
        # On a database with no members yet, a new user can try everything at once.
        print(host.translator()(
            "(Lần chạy đầu: người dùng console «{user}» được làm quản trị, chuyên viên và lãnh "
            "đạo.)", user=user), file=out)
    interactive = inp.isatty()
    if interactive:
        print(host.translator()(
            "Bảng điều khiển thử bot. Gõ /help; /as TÊN để đổi người dùng; Ctrl-D để thoát."),
            file=out)
    virtual = False
    lineno = 0
    loop = asyncio.get_running_loop()
    while True:
        if interactive:
            print(f"{player.user}> ", end="", file=out, flush=True)
        raw = await loop.run_in_executor(None, inp.readline)
        if not raw:
            return 0
        lineno += 1
        line = raw.strip()
        if line.startswith("/as ") or line == "/as":
            player.user = line[4:].strip() or player.user
            continue
        virtual = virtual or line.startswith(("@now", "@advance"))
        if not virtual:
            await session.advance_to(utc_now())
        try:
            await player.play_line(lineno, line)
        except ScriptError as exc:
            print(f"! {exc}", file=out)
            continue
        if line.startswith(("@now", "@advance")):  # the console's clock is virtual from now on
            t = host.translator()
            print(t("⏱ Giờ của bot bây giờ: {moment}", moment=t.moment(session.now)), file=out)

