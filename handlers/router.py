"""Picks the handler for an event: a command, a button press, an open dialogue, or a free
answer (file or text) from a reporter."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

from core import commands
from core.callbacks import Suggested
from core.messages import Button, buttons_from_json
from core.roles import invite_code
from handlers import (
    answers,
    cascade,
    closing,
    corrections,
    edit,
    excuses,
    extensions,
    giao,
    invites,
    kehoach,
    nhac,
    nhatky,
    report_files,
    start,
    tiendo,
)
from handlers.context import Context
from storage.models import Dialogue, Outbox
from storage.repositories import bot_message

Command = Callable[[Context, str], Awaitable[None]]
ButtonHandler = Callable[[Context, list[str], Outbox], Awaitable[None]]
DialogueHandler = Callable[[Context, Dialogue], Awaitable[None]]

COMMANDS: dict[str, Command] = {
    "help": start.handle_help,
    "trogiup": start.handle_help,
    "ngonngu": start.handle_language,
    "giao": giao.handle_command,
    "huy": giao.handle_cancel,
    "viec": answers.handle_viec,
    "tiendo": tiendo.handle_command,
    "nhac": nhac.handle_command,
    "mien": excuses.handle_command,
    "tainop": report_files.handle_tainop,
    "nhatky": nhatky.handle_command,
    "giaotiep": cascade.handle_command,
    "giahan": extensions.handle_giahan,
    "dong": closing.handle_close,
    "mo": closing.handle_reopen,
    "sua": edit.handle_command,
    "kehoach": kehoach.handle_command,
    "moi": invites.handle_command,
}

BUTTONS: dict[str, ButtonHandler] = {
    "g": giao.on_button,
    "s": answers.on_status_button,
    "p": answers.on_pick_button,
    "x": extensions.on_button,
    "m": excuses.on_button,
    "t": tiendo.on_button,
    "r": report_files.on_button,
    "h": cascade.on_button,
    "e": edit.on_button,
    "w": corrections.on_button,
    "k": kehoach.on_button,
}

# Buttons that show something (a chart, a workbook, another page) rather than decide: they may
# be pressed again, and their message keeps its buttons.
REPEATABLE = frozenset({"r", "t", "h", "k"})
KNOWN = frozenset({*COMMANDS, "start"})
MAX_PAYLOAD = 64


def keeps_buttons(payload: str) -> bool:
    """Whether a pressed button leaves its message's buttons in place."""
    return payload.partition(":")[0] in REPEATABLE


DIALOGUES: dict[str, DialogueHandler] = {
    "giao": giao.on_dialogue,
    "answer": answers.on_dialogue,
    "sua": edit.on_dialogue,
    "kehoach": kehoach.on_dialogue,
}


async def route(ctx: Context) -> None:
    event = ctx.event
    assert event is not None
    parsed = commands.parse(event.text, KNOWN)
    if event.is_group and not event.text.strip().startswith("/"):
        parsed = None  # in groups the bot only answers commands, with their slash
    if event.is_group and parsed is None and not event.button:
        return
    command = (parsed.name, parsed.args) if isinstance(parsed, commands.Command) else None
    if command and command[0] == "start":
        if event.is_group:  # joining binds a person's chat: never a group's
            await ctx.reply(ctx.t("Hãy gửi /start kèm mã mời trong tin nhắn riêng với bot, không "
                            "gửi trong nhóm."))
            return
        await start.handle_start(ctx, command[1])
        return
    code = invite_code(event.text) if command is None and not event.is_group else None
    if code and (ctx.member is None or not ctx.roles or await start.is_invite(ctx, code)):
        await start.handle_start(ctx, code)  # a code typed without /start joins too
        return
    if ctx.member is None or not ctx.roles:
        await ctx.reply(start.help_text(ctx.t, set()))
        return
    if event.unsupported:
        await ctx.reply(ctx.t("Bot chưa đọc được loại tin nhắn này ({kind}). Hãy gửi tệp báo cáo "
                        "(PDF, Word, Excel, ảnh) hoặc gõ trạng thái, ví dụ: đã xong.",
                        kind=event.unsupported))
        return
    if isinstance(parsed, commands.Suggestion):
        await suggest(ctx, parsed)
        return
    if command:
        await run_command(ctx, *command)
        return
    if event.button:
        await press(ctx, event.button)
        return
    dialogue = await ctx.dialogue()
    if dialogue is not None and dialogue.kind in DIALOGUES:
        await DIALOGUES[dialogue.kind](ctx, dialogue)
        return
    await answers.handle_free(ctx)


async def suggest(ctx: Context, typed: commands.Suggestion) -> None:
    """An unknown command: the nearest one with a button that runs it, or the help."""
    t = ctx.t
    if not typed.name or typed.name not in COMMANDS:
        await ctx.reply(t("Không có lệnh /{name}. Gõ /help để xem các lệnh.", name=typed.typed))
        return
    payload = Suggested(typed.name, typed.args).pack()
    if len(payload.encode()) > MAX_PAYLOAD:  # Telegram keeps at most 64 bytes per button
        payload = Suggested(typed.name).pack()
    await ctx.reply(t("Không có lệnh /{name}. Ý bạn là /{command}?", name=typed.typed,
                      command=typed.name), [Button(f"/{typed.name}", payload)])


async def run_command(ctx: Context, name: str, args: str) -> None:
    event = ctx.event
    assert event is not None
    if name != "huy" and not (name == "giao" and event.file):
        await ctx.clear_dialogue()
    await COMMANDS[name](ctx, args)


async def _on_suggested(ctx: Context, parts: list[str], source: Outbox) -> None:
    """`c:<command>:<args>`: the command a suggestion offered."""
    press = Suggested.from_parts(parts)
    if press is None or press.command not in COMMANDS:
        await ctx.reply(ctx.t("Nút này không còn hiệu lực. Gõ /help để xem các lệnh."))
        return
    await run_command(ctx, press.command, press.args)


async def press(ctx: Context, payload: str) -> None:
    """A button press, checked against the message that carried it: a forged or unknown
    button and a second press of the same button get a clear answer, nothing else. The
    message's row is locked and read afresh: of two presses handled at the same moment (a
    double tap reaching two workers), the second sees the first."""
    event = ctx.event
    assert event is not None
    source = await bot_message(ctx.session, event.channel, event.chat_id,
                               event.button_message_id or "", lock=True)
    labels = {b.payload: b.label for b in buttons_from_json(source.buttons)} if source else {}
    if source is None or payload not in labels:
        await ctx.reply(ctx.t("Nút này không còn hiệu lực. Gõ /help để xem các lệnh."))
        return
    pressed = json.loads(source.pressed) if source.pressed else []
    if event.is_group and not keeps_buttons(payload) and (
            ctx.member is None or source.member_id != ctx.member.id):
        # A decision in a group belongs to whoever the message answered; the message stays.
        await ctx.reply(ctx.t("Nút «{label}» dành cho người đã gửi lệnh này.",
                              label=labels[payload]))
        return
    if not keeps_buttons(payload):
        if payload in pressed:
            await ctx.reply(ctx.t("Bạn đã bấm «{label}» ở tin nhắn này rồi; không cần bấm lại.",
                            label=labels[payload]))
            return
        source.pressed = json.dumps([*pressed, payload])
        ctx.session.add(source)
    prefix, *parts = payload.split(":")
    handler = BUTTONS.get(prefix)
    if handler is None:
        await ctx.reply(ctx.t("Nút này không còn hiệu lực. Gõ /help để xem các lệnh."))
        return
    await handler(ctx, parts, source)


BUTTONS["c"] = _on_suggested  # a suggested command: the router's own button
