"""Local emulator of the Telegram Bot API, for our tests and the transcript runner.

``TelegramEmulator`` is an aiohttp server on 127.0.0.1 that python-telegram-bot's ``Bot`` and
``Application`` talk to unchanged (``base_url=emu.base_url``, ``base_file_url=emu.base_file_url``).
The test side plays the users with ``inject_*``; every call the bot makes is recorded; faults
and rate limits can be switched on; the server can be stopped and started again on the same
port without losing its state.

How it follows the real API
---------------------------
* Calls go to ``/bot<token>/<method>`` (GET or POST; JSON, form-urlencoded or multipart body).
  Method names are case-insensitive. Answers are ``{"ok": true, "result": ...}`` or
  ``{"ok": false, "error_code": N, "description": "..."}`` with N also the HTTP status
  (401 wrong token, 404 unknown method, 400 bad request, 403 blocked or never started,
  400 with ``migrate_to_chat_id`` for a group upgraded to a supergroup, 409 conflict, 429).
* Form and multipart values arrive as strings (PTB JSON-encodes objects); they are decoded
  back so ``RecordedCall.params`` holds ints, dicts and lists as a JSON body would.
* ``parse_mode`` HTML, MarkdownV2 and Markdown are parsed into plain ``text`` plus
  ``entities`` (offsets in UTF-16 code units); badly formed markup is answered with
  ``400 Bad Request: can't parse entities: ...``. Leading and trailing whitespace is trimmed.
  ``bot_messages`` keeps what the bot sent as ``raw_text`` / ``raw_caption``.
* ``editMessageText`` / ``editMessageCaption`` without ``reply_markup`` remove the inline
  keyboard; an edit that changes nothing answers "message is not modified".
* Reply keyboards (``keyboard``, ``remove_keyboard``, ``force_reply``) are accepted but, as
  in the real API, only inline keyboards appear in ``Message.reply_markup``.
* ``getUpdates`` confirms updates below ``offset`` (negative offsets keep the last ``-offset``),
  long-polls up to ``timeout`` seconds, and answers 409 to an older request still waiting when
  a newer one arrives, or to any request while a webhook is set.

Simplifications
---------------
* ``setWebhook`` accepts ``http://`` URLs; updates are POSTed one at a time, in order, and
  retried with a short back-off until the receiver answers 2xx.
* Every ``PhotoSize`` of a photo points at the same stored bytes (no resizing); sizes are
  worked out from PNG/JPEG/GIF/BMP headers (1280x960 when unknown). ``sendPhoto`` needs bytes
  that start like an image, otherwise ``400 IMAGE_PROCESS_FAILED``.
* The bot may message any user added with ``add_user`` even before that user wrote to it.
* ``fail_next(None, ...)`` matches the next call of any method except ``getUpdates`` (which
  the polling loop sends all the time); name ``"getUpdates"`` to fault polling itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import math
import mimetypes
import re
import struct
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any, Literal

from aiohttp import ClientError, ClientSession, ClientTimeout, web

JSONDict = dict[str, Any]
FaultKind = Literal["429", "500", "malformed", "slow"]

__all__ = ["FaultKind", "RecordedCall", "TelegramEmulator"]

_MAX_TEXT = 4096
_MAX_CAPTION = 1024
_MAX_UPLOAD = 50 * 1024 * 1024
_MAX_DOWNLOAD = 20 * 1024 * 1024
_MAX_BODY = 64 * 1024 * 1024
_CHAT_ACTIONS = frozenset(
    (
        "typing upload_photo record_video upload_video record_voice upload_voice "
        "upload_document choose_sticker find_location record_video_note upload_video_note"
    ).split()
)
_DEFAULT_ALLOWED = frozenset(
    (
        "message edited_message channel_post edited_channel_post business_connection "
        "business_message edited_business_message deleted_business_messages inline_query "
        "chosen_inline_result callback_query shipping_query pre_checkout_query "
        "purchased_paid_media poll poll_answer my_chat_member chat_join_request chat_boost "
        "removed_chat_boost"
    ).split()
)
_SCOPE_TYPES = frozenset(
    (
        "default all_private_chats all_group_chats all_chat_administrators chat "
        "chat_administrators chat_member"
    ).split()
)
# Parameters that are plain strings: form values of these are never JSON-decoded.
_STRING_PARAMS = frozenset(
    (
        "text caption parse_mode url secret_token callback_query_id file_id action "
        "language_code document photo voice sticker audio video animation thumbnail data "
        "inline_message_id ip_address business_connection_id message_effect_id emoji title "
        "description short_description name"
    ).split()
)
_FILE_ID_PREFIX = {
    "document": "BQACAgIAAxkBAAI",
    "photo": "AgACAgIAAxkBAAI",
    "voice": "AwACAgIAAxkBAAI",
    "sticker": "CAACAgIAAxkBAAI",
}
_FILE_FOLDER = {"document": "documents", "photo": "photos", "voice": "voice", "sticker": "stickers"}
_NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly "
    "the same as a current content and reply markup of the message"
)
_QUERY_TOO_OLD = "query is too old and response timeout expired or query ID is invalid"


# --------------------------------------------------------------------------------------------
# Small data holders


@dataclass
class RecordedCall:
    """One call the bot made: method (canonical spelling), decoded params, uploaded files.

    ``status`` is the HTTP status answered (None while the call is still running), ``ok``
    whether it was a successful API answer and ``result`` its result (or the error body).
    ``time`` is the wall-clock time (the emulator's ``clock``) of the call's arrival.
    """

    method: str
    params: dict[str, Any]
    files: dict[str, bytes]
    time: float
    status: int | None = None
    ok: bool = False
    result: Any = None


@dataclass
class _Upload:
    """A file part of a multipart request."""

    filename: str | None
    content_type: str | None
    data: bytes


@dataclass
class _StoredFile:
    """Bytes kept for a file_id, downloadable at its file_path."""

    file_id: str
    file_unique_id: str
    file_path: str
    data: bytes
    kind: str


@dataclass
class _Fault:
    """A pending fault set up with ``fail_next``."""

    method: str | None
    kind: FaultKind
    remaining: int
    retry_after: int
    delay: float


@dataclass
class _Limits:
    """Sending limits switched on with ``enforce_limits``."""

    per_chat_per_s: int | None
    global_per_s: int | None
    per_group_per_min: int | None
    chat_times: dict[int, deque[float]] = field(default_factory=dict)
    group_times: dict[int, deque[float]] = field(default_factory=dict)
    global_times: deque[float] = field(default_factory=deque)


class _ApiError(Exception):
    """An error answer of the Bot API."""

    def __init__(self, code: int, description: str, parameters: JSONDict | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters

    def body(self) -> JSONDict:
        """The JSON body the real API sends for this error."""
        body: JSONDict = {"ok": False, "error_code": self.code, "description": self.description}
        if self.parameters:
            body["parameters"] = self.parameters
        return body


def _bad_request(message: str) -> _ApiError:
    return _ApiError(400, f"Bad Request: {message}")


class _Signal:
    """Wakes every coroutine waiting on it when something in the emulator changed."""

    def __init__(self) -> None:
        self._event: asyncio.Event | None = None

    def fire(self) -> None:
        """Wake all current waiters."""
        if self._event is not None:
            self._event.set()
            self._event = None

    async def wait(self, seconds: float) -> None:
        """Wait until the next ``fire`` or for ``seconds``, whichever comes first."""
        if self._event is None:
            self._event = asyncio.Event()
        event = self._event
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(max(seconds, 0.0)):
                await event.wait()


class _Params:
    """Typed access to a method's decoded parameters; bad values raise a 400."""

    def __init__(self, values: JSONDict) -> None:
        self.values = values

    def get_str(self, name: str, default: str | None = None) -> str | None:
        value = self.values.get(name)
        if value is None:
            return default
        return value if isinstance(value, str) else json.dumps(value)

    def get_int(self, name: str, default: int | None = None) -> int | None:
        value = self.values.get(name)
        if value is None or value == "":
            return default
        number = _as_int(value)
        if number is None:
            raise _bad_request(f"invalid {name} specified")
        return number

    def get_float(self, name: str, default: float) -> float:
        value = self.values.get(name)
        if value is None or value == "":
            return default
        if isinstance(value, bool):
            raise _bad_request(f"invalid {name} specified")
        try:
            return float(value)
        except (TypeError, ValueError):
            raise _bad_request(f"invalid {name} specified") from None

    def get_bool(self, name: str, default: bool = False) -> bool:
        value = self.values.get(name)
        if value is None or value == "":
            return default
        if isinstance(value, bool):
            return value
        if isinstance(value, int):
            return value != 0
        if isinstance(value, str) and value.lower() in ("true", "1", "false", "0"):
            return value.lower() in ("true", "1")
        raise _bad_request(f"invalid {name} specified")

    def get_json(self, name: str) -> Any:
        value = self.values.get(name)
        if isinstance(value, str):
            if value == "":
                return None
            try:
                return json.loads(value)
            except ValueError:
                raise _bad_request(f"can't parse {name} JSON object") from None
        return value


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            return int(value.strip())
    return None


def _decode_form_value(name: str, value: str) -> Any:
    """Turn a form field back into what a JSON body would have carried."""
    if name in _STRING_PARAMS:
        return value
    try:
        decoded = json.loads(value)
    except ValueError:
        return value
    if isinstance(decoded, float) and not math.isfinite(decoded):
        return value
    return decoded


def _u16(text: str) -> int:
    """Length of ``text`` in UTF-16 code units, the unit of Telegram's entity offsets."""
    return len(text.encode("utf-16-le")) // 2


# --------------------------------------------------------------------------------------------
# parse_mode handling


class _FormatError(Exception):
    """Formatted text the Bot API would refuse to parse."""


class _TextBuilder:
    """Collects plain text and entities while formatted text is parsed."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.pos = 0
        self.entities: list[JSONDict] = []

    def add(self, text: str) -> None:
        self.parts.append(text)
        self.pos += _u16(text)

    def entity(self, kind: str, start: int, **extra: Any) -> None:
        if self.pos > start:
            self.entities.append(
                {"type": kind, "offset": start, "length": self.pos - start, **extra}
            )

    def result(self) -> tuple[str, list[JSONDict]]:
        entities = sorted(self.entities, key=lambda e: (e["offset"], -e["length"]))
        return "".join(self.parts), entities


def _byte_offset(src: str, index: int) -> int:
    return len(src[:index].encode("utf-8"))


_HTML_ENTITY_RE = re.compile(r"&(#[0-9]+|#[xX][0-9a-fA-F]+|[a-zA-Z]+);")
_HTML_START_RE = re.compile(
    r"<([a-zA-Z][a-zA-Z0-9-]*)"
    r"((?:\s+[a-zA-Z][a-zA-Z0-9-]*(?:\s*=\s*(?:\"[^\"]*\"|'[^']*'|[^\s\"'>]+))?)*)\s*/?>"
)
_HTML_ATTR_RE = re.compile(
    r"([a-zA-Z][a-zA-Z0-9-]*)(?:\s*=\s*(?:\"([^\"]*)\"|'([^']*)'|([^\s\"'>]+)))?"
)
_HTML_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_HTML_SIMPLE = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
}
_HTML_OTHER = frozenset({"span", "a", "code", "pre", "blockquote", "tg-emoji"})


def _html_entity(name: str) -> str | None:
    if name.startswith("#"):
        try:
            code = int(name[2:], 16) if name[1:2] in ("x", "X") else int(name[1:])
        except ValueError:
            return None
        return chr(code) if 0 < code <= 0x10FFFF else None
    return _HTML_NAMED.get(name)


def _html_unescape(text: str) -> str:
    return _HTML_ENTITY_RE.sub(lambda m: _html_entity(m.group(1)) or m.group(0), text)


def _close_html_tag(
    out: _TextBuilder, tag: str, start: int, attrs: dict[str, str], stack: list[Any]
) -> None:
    if tag in _HTML_SIMPLE:
        out.entity(_HTML_SIMPLE[tag], start)
    elif tag == "span":
        out.entity("spoiler", start)
    elif tag == "a":
        if attrs.get("href"):
            out.entity("text_link", start, url=attrs["href"])
    elif tag == "code":
        css = attrs.get("class", "")
        if stack and stack[-1][0] == "pre" and css.startswith("language-"):
            stack[-1][2]["\0language"] = css[len("language-") :]
        else:
            out.entity("code", start)
    elif tag == "pre":
        language = attrs.get("\0language")
        out.entity("pre", start, **({"language": language} if language else {}))
    elif tag == "blockquote":
        out.entity("expandable_blockquote" if "expandable" in attrs else "blockquote", start)
    elif tag == "tg-emoji":
        out.entity("custom_emoji", start, custom_emoji_id=attrs.get("emoji-id", ""))


def _parse_html(src: str) -> tuple[str, list[JSONDict]]:
    """Parse Telegram's HTML subset into text and entities."""
    out = _TextBuilder()
    stack: list[tuple[str, int, dict[str, str]]] = []
    i, n = 0, len(src)
    while i < n:
        char = src[i]
        if char == "&":
            match = _HTML_ENTITY_RE.match(src, i)
            decoded = _html_entity(match.group(1)) if match else None
            if match and decoded is not None:
                out.add(decoded)
                i = match.end()
            else:
                out.add("&")
                i += 1
            continue
        if char != "<":
            j = i
            while j < n and src[j] not in "<&":
                j += 1
            out.add(src[i:j])
            i = j
            continue
        offset = _byte_offset(src, i)
        if src.startswith("</", i):
            end = src.find(">", i)
            if end < 0:
                raise _FormatError(f"Unclosed end tag at byte offset {offset}")
            name = src[i + 2 : end].strip().lower()
            if not stack:
                raise _FormatError(f'Unexpected end tag "{name}" at byte offset {offset}')
            tag, start, attrs = stack.pop()
            if name != tag:
                raise _FormatError(
                    f'Unmatched end tag at byte offset {offset}, expected "</{tag}>", '
                    f'found "</{name}>"'
                )
            _close_html_tag(out, tag, start, attrs, stack)
            i = end + 1
            continue
        match = _HTML_START_RE.match(src, i)
        if match is None:
            word = re.match(r"<\s*([^\s<>]*)", src[i:])
            name = word.group(1) if word else ""
            raise _FormatError(f'Unsupported start tag "{name}" at byte offset {offset}')
        name = match.group(1).lower()
        attrs = {
            key.lower(): _html_unescape(v1 or v2 or v3 or "")
            for key, v1, v2, v3 in _HTML_ATTR_RE.findall(match.group(2))
        }
        supported = name in _HTML_SIMPLE or name in _HTML_OTHER
        if not supported or (name == "span" and attrs.get("class") != "tg-spoiler"):
            raise _FormatError(f'Unsupported start tag "{name}" at byte offset {offset}')
        stack.append((name, out.pos, attrs))
        i = match.end()
    if stack:
        raise _FormatError(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    return out.result()


_MD2_RESERVED = frozenset("_*[]()~`>#+-=|{}.!")
_MD2_NAMES = {
    "bold": "Bold",
    "italic": "Italic",
    "underline": "Underline",
    "strikethrough": "Strikethrough",
    "spoiler": "Spoiler",
    "text_link": "TextUrl",
}
_MD2_ESCAPE_RE = re.compile(r"\\([\x01-\x7e])")


def _md2_unescape(text: str) -> str:
    return _MD2_ESCAPE_RE.sub(lambda m: m.group(1), text)


def _md2_find(src: str, start: int, token: str) -> int:
    """Index of the next ``token`` not escaped with a backslash, or -1."""
    j = start
    while j < len(src):
        if src[j] == "\\":
            j += 2
            continue
        if src.startswith(token, j):
            return j
        j += 1
    return -1


def _md2_code(src: str, i: int, out: _TextBuilder) -> int:
    """Parse inline code or a pre block starting at ``i``; return the index after it."""
    offset = _byte_offset(src, i)
    if src.startswith("```", i):
        body_start = i + 3
        close = _md2_find(src, body_start, "```")
        if close < 0:
            raise _FormatError(f"Can't find end of Pre entity at byte offset {offset}")
        language = ""
        newline = src.find("\n", body_start)
        if 0 <= newline < close:
            first_line = src[body_start:newline]
            if not any(ch.isspace() for ch in first_line):
                language = first_line
                body_start = newline + 1
        start = out.pos
        out.add(_md2_unescape(src[body_start:close]))
        out.entity("pre", start, **({"language": language} if language else {}))
        return close + 3
    close = _md2_find(src, i + 1, "`")
    if close < 0:
        raise _FormatError(f"Can't find end of Code entity at byte offset {offset}")
    start = out.pos
    out.add(_md2_unescape(src[i + 1 : close]))
    out.entity("code", start)
    return close + 1


def _parse_markdown_v2(src: str) -> tuple[str, list[JSONDict]]:
    """Parse MarkdownV2 into text and entities, refusing unescaped reserved characters."""
    out = _TextBuilder()
    stack: list[tuple[str, int, int]] = []
    quote_start: int | None = None
    i, n = 0, len(src)
    line_start = True

    def toggle(kind: str, index: int) -> None:
        if stack and stack[-1][0] == kind:
            _, start, _ = stack.pop()
            out.entity(kind, start)
        elif any(entry[0] == kind for entry in stack):
            top_kind, _, top_offset = stack[-1]
            raise _FormatError(
                f"Can't find end of {_MD2_NAMES[top_kind]} entity at byte offset {top_offset}"
            )
        else:
            stack.append((kind, out.pos, _byte_offset(src, index)))

    while i < n:
        char = src[i]
        if line_start and char == ">":
            if quote_start is None:
                quote_start = out.pos
            i += 1
            line_start = False
            continue
        if char == "\n":
            if quote_start is not None and not src.startswith(">", i + 1):
                out.entity("blockquote", quote_start)
                quote_start = None
            out.add("\n")
            i += 1
            line_start = True
            continue
        line_start = False
        if char == "\\":
            if i + 1 < n and 0 < ord(src[i + 1]) < 127:
                out.add(src[i + 1])
                i += 2
            else:
                out.add("\\")
                i += 1
        elif char == "`":
            i = _md2_code(src, i, out)
        elif char == "*":
            toggle("bold", i)
            i += 1
        elif char == "_":
            if src.startswith("__", i):
                toggle("underline", i)
                i += 2
            else:
                toggle("italic", i)
                i += 1
        elif char == "~":
            toggle("strikethrough", i)
            i += 1
        elif char == "|" and src.startswith("||", i):
            toggle("spoiler", i)
            i += 2
        elif char == "[":
            stack.append(("text_link", out.pos, _byte_offset(src, i)))
            i += 1
        elif char == "]" and stack and stack[-1][0] == "text_link" and src.startswith("(", i + 1):
            close = _md2_find(src, i + 2, ")")
            if close < 0:
                raise _FormatError(f"Can't find end of a URL at byte offset {_byte_offset(src, i)}")
            _, start, _ = stack.pop()
            out.entity("text_link", start, url=_md2_unescape(src[i + 2 : close]))
            i = close + 1
        elif char in _MD2_RESERVED:
            raise _FormatError(
                f"Character '{char}' is reserved and must be escaped with the preceding '\\'"
            )
        else:
            j = i + 1
            while j < n and src[j] not in _MD2_RESERVED and src[j] not in "\\\n":
                j += 1
            out.add(src[i:j])
            i = j
    if stack:
        kind, _, offset = stack[-1]
        raise _FormatError(f"Can't find end of {_MD2_NAMES[kind]} entity at byte offset {offset}")
    if quote_start is not None:
        out.entity("blockquote", quote_start)
    return out.result()


def _parse_markdown(src: str) -> tuple[str, list[JSONDict]]:
    """Parse legacy Markdown (``*bold*``, ``_italic_``, code, pre, links) without nesting."""
    out = _TextBuilder()
    i, n = 0, len(src)
    while i < n:
        char = src[i]
        if char == "\\" and i + 1 < n and src[i + 1] in "_*`[":
            out.add(src[i + 1])
            i += 2
            continue
        if char not in "*_`[":
            j = i + 1
            while j < n and src[j] not in "\\*_`[":
                j += 1
            out.add(src[i:j])
            i = j
            continue
        error = _FormatError(
            f"Can't find end of the entity starting at byte offset {_byte_offset(src, i)}"
        )
        start = out.pos
        if char in "*_":
            close = src.find(char, i + 1)
            if close < 0:
                raise error
            out.add(src[i + 1 : close])
            out.entity("bold" if char == "*" else "italic", start)
            i = close + 1
        elif src.startswith("```", i):
            close = src.find("```", i + 3)
            if close < 0:
                raise error
            body = src[i + 3 : close]
            first, newline, rest = body.partition("\n")
            language = ""
            if newline and not any(ch.isspace() for ch in first):
                language, body = first, rest
            out.add(body)
            out.entity("pre", start, **({"language": language} if language else {}))
            i = close + 3
        elif char == "`":
            close = src.find("`", i + 1)
            if close < 0:
                raise error
            out.add(src[i + 1 : close])
            out.entity("code", start)
            i = close + 1
        else:
            close = src.find("]", i + 1)
            end = src.find(")", close + 2) if close >= 0 else -1
            if close < 0 or not src.startswith("(", close + 1) or end < 0:
                raise error
            out.add(src[i + 1 : close])
            out.entity("text_link", start, url=src[close + 2 : end])
            i = end + 1
    return out.result()


def _strip_text(text: str, entities: list[JSONDict]) -> tuple[str, list[JSONDict]]:
    """Trim surrounding whitespace as the Bot API does, moving and clipping entities."""
    stripped = text.lstrip()
    lead = _u16(text[: len(text) - len(stripped)])
    stripped = stripped.rstrip()
    total = _u16(stripped)
    kept: list[JSONDict] = []
    for entity in entities:
        start = max(entity["offset"] - lead, 0)
        end = min(entity["offset"] + entity["length"] - lead, total)
        if end > start:
            kept.append({**entity, "offset": start, "length": end - start})
    return stripped, kept


def _format_text(raw: str, parse_mode: str | None, entities: Any) -> tuple[str, list[JSONDict]]:
    """Apply ``parse_mode`` (or explicit entities) the way the Bot API does."""
    mode = (parse_mode or "").strip().lower()
    try:
        if mode == "html":
            text, parsed = _parse_html(raw)
        elif mode == "markdownv2":
            text, parsed = _parse_markdown_v2(raw)
        elif mode == "markdown":
            text, parsed = _parse_markdown(raw)
        elif mode == "":
            text = raw
            if entities is None:
                parsed = []
            elif isinstance(entities, list) and all(isinstance(e, dict) for e in entities):
                parsed = [dict(e) for e in entities]
            else:
                raise _bad_request("can't parse entities JSON object")
        else:
            raise _bad_request("unsupported parse_mode")
    except _FormatError as exc:
        raise _bad_request(f"can't parse entities: {exc}") from None
    return _strip_text(text, parsed)


_COMMAND_RE = re.compile(r"(?<!\S)/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?(?![\w/@])")


def _command_entities(text: str) -> list[JSONDict]:
    """``bot_command`` entities the clients attach to a user's text."""
    return [
        {"type": "bot_command", "offset": _u16(text[: m.start()]), "length": _u16(m.group(0))}
        for m in _COMMAND_RE.finditer(text)
    ]


# --------------------------------------------------------------------------------------------
# Files


def _looks_like_image(data: bytes) -> bool:
    return (
        data.startswith(b"\x89PNG\r\n\x1a\n")
        or data.startswith(b"\xff\xd8")
        or data[:6] in (b"GIF87a", b"GIF89a")
        or (data[:4] == b"RIFF" and data[8:12] == b"WEBP")
        or data[:2] == b"BM"
    )


def _image_size(data: bytes) -> tuple[int, int] | None:
    """Width and height read from a PNG, GIF, BMP or JPEG header, if recognised."""
    try:
        if data.startswith(b"\x89PNG\r\n\x1a\n"):
            width, height = struct.unpack(">II", data[16:24])
            return width, height
        if data[:6] in (b"GIF87a", b"GIF89a"):
            width, height = struct.unpack("<HH", data[6:10])
            return width, height
        if data[:2] == b"BM":
            width, height = struct.unpack("<ii", data[18:26])
            return abs(width), abs(height)
        if data.startswith(b"\xff\xd8"):
            i = 2
            while i + 9 < len(data):
                if data[i] != 0xFF:
                    i += 1
                    continue
                marker = data[i + 1]
                if marker in (0xD8, 0x01, 0xFF) or 0xD0 <= marker <= 0xD7:
                    i += 2 if marker != 0xFF else 1
                    continue
                (length,) = struct.unpack(">H", data[i + 2 : i + 4])
                if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
                    height, width = struct.unpack(">HH", data[i + 5 : i + 9])
                    return width, height
                i += 2 + length
    except struct.error:
        return None
    return None


# --------------------------------------------------------------------------------------------
# The emulator

_Handler = Callable[[_Params, dict[str, _Upload]], Awaitable[Any]]


class TelegramEmulator:
    """A local Telegram Bot API server for python-telegram-bot, driven by the test side."""

    def __init__(
        self,
        token: str = "123456:TEST",
        bot_username: str = "baocao_bot",
        *,
        bot_first_name: str = "Bao Cao Bot",
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """``clock`` gives the wall-clock time used for message dates and call times."""
        bot_id, sep, secret = token.partition(":")
        if not (bot_id.isdigit() and sep and secret):
            raise ValueError("token must look like '<digits>:<secret>'")
        self.token = token
        self.bot_id = int(bot_id)
        self.bot_username = bot_username
        self.bot_first_name = bot_first_name
        self.host = host
        self._port = port
        self._clock = clock

        self.calls: list[RecordedCall] = []
        self.answered_callbacks: dict[str, JSONDict] = {}
        self.rejected_429 = 0

        self._users: dict[int, JSONDict] = {}
        self._chats: dict[int, JSONDict] = {}
        self._blocked: set[int] = set()
        self._never_started: set[int] = set()
        self._migrated: dict[int, int] = {}
        self._messages: dict[int, dict[int, JSONDict]] = {}
        self._extras: dict[tuple[int, int], JSONDict] = {}
        self._last_message_id: dict[int, int] = {}
        self._files: dict[str, _StoredFile] = {}
        self._file_paths: dict[str, _StoredFile] = {}
        self._file_objects: dict[str, tuple[str, Any]] = {}
        self._file_counter = 0
        self._updates: list[JSONDict] = []
        self._next_update_id = 1
        self._allowed_updates: list[str] | None = None
        self._callbacks: dict[str, JSONDict] = {}
        self._callback_counter = 0
        self._webhook: JSONDict | None = None
        self._webhook_error: tuple[int, str] | None = None
        self._commands: dict[tuple[str, str], list[JSONDict]] = {}
        self._faults: list[_Fault] = []
        self._limits: _Limits | None = None

        self._poll_generation = 0
        self._inflight = 0
        self._last_activity = time.monotonic()
        self._changed = _Signal()
        self._waited: set[int] = set()
        # Per method, the indices of its calls and how many of the first ones are settled
        # (returned by a wait, or failed), so that a wait skips them: a bench waits for
        # thousands of calls, and rescanning every recorded call made each wait cost O(n).
        self._calls_of: dict[str, list[int]] = {}
        self._settled_of: dict[str, int] = {}
        self._stopping = False
        self._runner: web.AppRunner | None = None
        self._session: ClientSession | None = None
        self._webhook_task: asyncio.Task[None] | None = None

        handlers: dict[str, _Handler] = {
            "getMe": self._m_get_me,
            "getUpdates": self._m_get_updates,
            "setWebhook": self._m_set_webhook,
            "deleteWebhook": self._m_delete_webhook,
            "getWebhookInfo": self._m_get_webhook_info,
            "sendMessage": self._m_send_message,
            "editMessageText": self._m_edit_message_text,
            "editMessageCaption": self._m_edit_message_caption,
            "editMessageReplyMarkup": self._m_edit_message_reply_markup,
            "deleteMessage": self._m_delete_message,
            "answerCallbackQuery": self._m_answer_callback_query,
            "sendDocument": self._m_send_document,
            "sendPhoto": self._m_send_photo,
            "sendChatAction": self._m_send_chat_action,
            "setMyCommands": self._m_set_my_commands,
            "getMyCommands": self._m_get_my_commands,
            "deleteMyCommands": self._m_delete_my_commands,
            "getFile": self._m_get_file,
            "close": self._m_true,
            "logOut": self._m_true,
        }
        self._methods = {name.lower(): (name, handler) for name, handler in handlers.items()}

    # ---------------------------------------------------------------- lifecycle and addresses

    @property
    def port(self) -> int:
        """The TCP port (known once the server has started)."""
        if not self._port:
            raise RuntimeError("the emulator has not been started yet")
        return self._port

    @property
    def base_url(self) -> str:
        """``base_url`` for PTB's Bot/ApplicationBuilder (PTB appends the token)."""
        return f"http://{self.host}:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        """``base_file_url`` for PTB's Bot/ApplicationBuilder."""
        return f"http://{self.host}:{self.port}/file/bot"

    @property
    def running(self) -> bool:
        """Whether the HTTP server is up."""
        return self._runner is not None

    async def start(self) -> None:
        """Bind 127.0.0.1 (a free port the first time, the same port after a stop)."""
        if self._runner is not None:
            return
        app = web.Application(client_max_size=_MAX_BODY)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        try:
            site = web.TCPSite(runner, self.host, self._port)
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        if not self._port:
            self._port = int(runner.addresses[0][1])
        self._runner = runner
        self._session = ClientSession()
        self._stopping = False
        self._ensure_webhook_task()

    async def stop(self) -> None:
        """Stop serving; users, messages, files and pending updates are kept."""
        if self._runner is None:
            return
        self._stopping = True
        self._changed.fire()
        task, self._webhook_task = self._webhook_task, None
        if task is not None:
            task.cancel()
            await asyncio.wait({task})
        runner, self._runner = self._runner, None
        await runner.cleanup()
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> TelegramEmulator:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    # ---------------------------------------------------------------- the test side: users

    def add_user(
        self,
        user_id: int,
        first_name: str,
        username: str | None = None,
        language_code: str = "vi",
        *,
        last_name: str | None = None,
    ) -> JSONDict:
        """Register a user the test can play; returns the Bot API ``User`` object."""
        user: JSONDict = {"id": user_id, "is_bot": False, "first_name": first_name}
        if last_name:
            user["last_name"] = last_name
        if username:
            user["username"] = username
        if language_code:
            user["language_code"] = language_code
        self._users[user_id] = user
        chat = self._chats.get(user_id)
        if chat is not None:
            self._chats[user_id] = self._private_chat_object(user)
        return copy.deepcopy(user)

    def add_group(self, chat_id: int, title: str, chat_type: str = "group") -> JSONDict:
        """Create (or rename) a group/supergroup chat; returns the ``Chat`` object."""
        if chat_type not in ("group", "supergroup"):
            raise ValueError("chat_type must be 'group' or 'supergroup'")
        chat = {"id": chat_id, "type": chat_type, "title": title}
        self._chats[chat_id] = chat
        return copy.deepcopy(chat)

    def set_blocked(self, chat_id: int, blocked: bool = True, *,
                    never_started: bool = False) -> None:
        """Make sends to a chat fail with 403 (user blocked the bot / bot kicked from group;
        with ``never_started`` the user never opened the bot, which may not write first).

        A user who writes to the bot again in the private chat unblocks it.
        """
        if blocked:
            self._blocked.add(chat_id)
            if never_started:
                self._never_started.add(chat_id)
        else:
            self._blocked.discard(chat_id)
            self._never_started.discard(chat_id)

    async def migrate_group(self, chat_id: int, new_chat_id: int, user_id: int) -> JSONDict:
        """Upgrade group ``chat_id`` to supergroup ``new_chat_id`` as ``user_id`` does in a
        client: the old chat gets a service message with ``migrate_to_chat_id``, the new one
        with ``migrate_from_chat_id``, and sends to the old id answer 400 "group chat was
        upgraded to a supergroup chat" with ``migrate_to_chat_id`` in ``parameters``.
        Returns the new chat."""
        old = self._chats.get(chat_id)
        if old is None or old["type"] != "group":
            raise ValueError(f"no basic group {chat_id}")
        if not str(new_chat_id).startswith("-100"):
            raise ValueError("a supergroup's id starts with -100")
        new = {"id": new_chat_id, "type": "supergroup", "title": old["title"]}
        self._chats[new_chat_id] = new
        self._migrated[chat_id] = new_chat_id
        await self._inject(user_id, chat_id, "group", {"migrate_to_chat_id": new_chat_id}, None)
        await self._inject(user_id, new_chat_id, "supergroup",
                           {"migrate_from_chat_id": chat_id}, None)
        return copy.deepcopy(new)

    # ---------------------------------------------------------------- the test side: injection

    async def inject_text(
        self,
        user_id: int,
        text: str,
        *,
        chat_id: int | None = None,
        chat_type: str = "private",
        reply_to_message_id: int | None = None,
    ) -> JSONDict:
        """A user sends ``text``; commands get ``bot_command`` entities. Returns the Message."""
        fields: JSONDict = {"text": text}
        entities = _command_entities(text)
        if entities:
            fields["entities"] = entities
        return await self._inject(user_id, chat_id, chat_type, fields, reply_to_message_id)

    async def inject_document(
        self,
        user_id: int,
        file_name: str,
        data: bytes,
        mime_type: str = "application/octet-stream",
        *,
        caption: str | None = None,
        reply_to_message_id: int | None = None,
        chat_id: int | None = None,
    ) -> JSONDict:
        """A user sends a file; its bytes are downloadable through getFile."""
        stored = self._store_file(bytes(data), "document", PurePosixPath(file_name).suffix)
        document = {
            "file_name": file_name,
            "mime_type": mime_type,
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": len(data),
        }
        self._file_objects[stored.file_id] = ("document", document)
        fields: JSONDict = {"document": document}
        fields.update(self._user_caption(caption))
        return await self._inject(user_id, chat_id, "private", fields, reply_to_message_id)

    async def inject_photo(
        self,
        user_id: int,
        data: bytes,
        *,
        caption: str | None = None,
        reply_to_message_id: int | None = None,
        chat_id: int | None = None,
    ) -> JSONDict:
        """A user sends a photo: several ``PhotoSize`` entries, the largest last."""
        fields: JSONDict = {"photo": self._store_photo(bytes(data))}
        fields.update(self._user_caption(caption))
        return await self._inject(user_id, chat_id, "private", fields, reply_to_message_id)

    async def inject_sticker(
        self, user_id: int, *, emoji: str = "👍", chat_id: int | None = None
    ) -> JSONDict:
        """A user sends a (regular, static) sticker."""
        data = b"RIFF\x24\x00\x00\x00WEBPVP8 " + bytes(24)
        stored = self._store_file(data, "sticker", ".webp")
        sticker = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": emoji,
            "set_name": "EmulatorStickers",
            "file_size": len(data),
        }
        self._file_objects[stored.file_id] = ("sticker", sticker)
        return await self._inject(user_id, chat_id, "private", {"sticker": sticker}, None)

    async def inject_voice(
        self,
        user_id: int,
        data: bytes = b"OggS\x00\x02" + bytes(58),
        *,
        duration: int = 2,
        chat_id: int | None = None,
    ) -> JSONDict:
        """A user sends a voice note (OGG/Opus bytes, downloadable through getFile)."""
        stored = self._store_file(bytes(data), "voice", ".oga")
        voice = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "duration": duration,
            "mime_type": "audio/ogg",
            "file_size": len(data),
        }
        self._file_objects[stored.file_id] = ("voice", voice)
        return await self._inject(user_id, chat_id, "private", {"voice": voice}, None)

    async def inject_callback(
        self,
        user_id: int,
        message_id: int,
        data: str,
        *,
        chat_id: int | None = None,
        check_button: bool = True,
    ) -> str:
        """A user presses an inline button of the bot's message; returns the query id.

        With ``check_button`` (the default) ``data`` must be the callback_data of a button
        the message currently shows, as with a real client.
        """
        user = self._user(user_id)
        target_chat = user_id if chat_id is None else chat_id
        message = self._messages.get(target_chat, {}).get(message_id)
        if message is None:
            raise ValueError(f"no message {message_id} in chat {target_chat}")
        if message.get("from", {}).get("id") != self.bot_id:
            raise ValueError("callback queries only come from the bot's own messages")
        if check_button:
            rows = message.get("reply_markup", {}).get("inline_keyboard", [])
            offered = {button.get("callback_data") for row in rows for button in row}
            if data not in offered:
                raise ValueError(f"message {message_id} has no button with callback_data {data!r}")
        self._callback_counter += 1
        query_id = str(4_000_000_000_000_000 + self.bot_id * 1000 + self._callback_counter)
        query = {
            "id": query_id,
            "from": copy.deepcopy(user),
            "message": copy.deepcopy(message),
            "chat_instance": str(abs(target_chat) * 7919 + 1_000_003),
            "data": data,
        }
        self._callbacks[query_id] = query
        self._push_update("callback_query", query)
        await asyncio.sleep(0)
        return query_id

    # ---------------------------------------------------------------- the test side: inspection

    def bot_messages(self, chat_id: int) -> list[JSONDict]:
        """Messages the bot sent to a chat (current state, deleted ones left out), oldest first.

        Extra keys besides the Message fields: ``raw_text`` / ``raw_caption`` and
        ``parse_mode`` as sent, ``document_bytes`` / ``photo_bytes`` for files.
        """
        result = []
        for message_id, message in sorted(self._messages.get(chat_id, {}).items()):
            if message.get("from", {}).get("id") != self.bot_id:
                continue
            item = copy.deepcopy(message)
            item.update(self._extras.get((chat_id, message_id), {}))
            result.append(item)
        return result

    def chat_history(self, chat_id: int) -> list[JSONDict]:
        """Every message of a chat, the users' and the bot's, oldest first."""
        return [copy.deepcopy(m) for _, m in sorted(self._messages.get(chat_id, {}).items())]

    def file_bytes(self, file_id: str) -> bytes:
        """The stored bytes of a file_id."""
        return self._files[file_id].data

    def commands_for(
        self, scope: JSONDict | None = None, language_code: str = ""
    ) -> list[JSONDict]:
        """Commands set with setMyCommands for exactly this scope and language."""
        key = (self._scope_key(scope), language_code)
        return copy.deepcopy(self._commands.get(key, []))

    @property
    def pending_updates(self) -> list[JSONDict]:
        """Updates not yet taken by the bot (unconfirmed, or not yet delivered)."""
        return copy.deepcopy(self._updates)

    @property
    def webhook_url(self) -> str:
        """The webhook URL set by the bot, or ``""``."""
        return self._webhook["url"] if self._webhook else ""

    def clear_calls(self) -> None:
        """Forget the recorded calls."""
        self.calls.clear()
        self._waited.clear()
        self._calls_of.clear()
        self._settled_of.clear()

    async def wait_for_call(
        self,
        method: str,
        predicate: Callable[[RecordedCall], bool] | None = None,
        timeout: float = 5.0,  # noqa: ASYNC109 - part of the public API
    ) -> RecordedCall:
        """Wait for a successful call of ``method`` (matching ``predicate``) and return it.

        Calls already recorded count too; each call is returned only once across
        ``wait_for_call`` calls, so waiting twice gets two different calls.
        """
        entry = self._methods.get(method.lower())
        name = entry[0] if entry else method
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            indices = self._calls_of.get(name, [])
            first = self._settled_of.get(name, 0)
            while first < len(indices) and self._settled(indices[first]):
                first += 1
            self._settled_of[name] = first
            for index in indices[first:]:
                call = self.calls[index]
                if index in self._waited or not call.ok:
                    continue
                if predicate is None or predicate(call):
                    self._waited.add(index)
                    return call
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"no successful {name} call within {timeout} s")
            await self._changed.wait(remaining)

    def _settled(self, index: int) -> bool:
        call = self.calls[index]
        return index in self._waited or (call.status is not None and not call.ok)

    async def wait_idle(
        self,
        quiet: float = 0.05,
        timeout: float = 5.0,  # noqa: ASYNC109 - part of the public API
    ) -> None:
        """Wait until every injected update was taken and no call came for ``quiet`` s.

        Taken means confirmed by a later getUpdates offset, or answered 2xx by the webhook.
        Raises ``TimeoutError`` after ``timeout`` seconds.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            busy = bool(self._updates) or self._inflight > 0
            idle_for = time.monotonic() - self._last_activity
            if not busy and idle_for >= quiet:
                return
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(
                    f"emulator not idle after {timeout} s: {len(self._updates)} update(s) "
                    f"not taken, {self._inflight} call(s) running"
                )
            step = 0.01 if busy else quiet - idle_for
            await asyncio.sleep(max(0.001, min(step, remaining)))

    # ---------------------------------------------------------------- the test side: faults

    def fail_next(
        self,
        method: str | None,
        kind: FaultKind,
        *,
        count: int = 1,
        retry_after: int = 1,
        delay: float = 2.0,
    ) -> None:
        """Make the next ``count`` calls of ``method`` fail (None: any method but getUpdates).

        ``429`` answers Too Many Requests with ``retry_after``, ``500`` an internal error,
        ``malformed`` a 200 whose body is not JSON, ``slow`` waits ``delay`` s then answers.
        """
        if kind not in ("429", "500", "malformed", "slow"):
            raise ValueError(f"unknown fault kind {kind!r}")
        name = None
        if method is not None:
            entry = self._methods.get(method.lower())
            name = entry[0] if entry else method
        self._faults.append(_Fault(name, kind, count, retry_after, delay))

    def clear_faults(self) -> None:
        """Drop faults that have not fired yet."""
        self._faults.clear()

    def enforce_limits(
        self,
        per_chat_per_s: int | None = 1,
        global_per_s: int | None = 30,
        per_group_per_min: int | None = 20,
    ) -> None:
        """Answer 429 to sendMessage/sendDocument/sendPhoto over these sliding-window limits.

        None switches one limit off. Rejections are counted in ``rejected_429``.
        """
        self._limits = _Limits(per_chat_per_s, global_per_s, per_group_per_min)

    def disable_limits(self) -> None:
        """Stop enforcing the sending limits."""
        self._limits = None

    # ---------------------------------------------------------------- HTTP plumbing

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        if path.startswith("/file/bot"):
            return self._handle_file(path[len("/file/bot") :])
        if path.startswith("/bot"):
            token, sep, method = path[len("/bot") :].partition("/")
            if sep and method and "/" not in method:
                return await self._handle_api(request, token, method)
        return _error_response(_ApiError(404, "Not Found"))

    def _handle_file(self, rest: str) -> web.StreamResponse:
        token, _, file_path = rest.partition("/")
        if token != self.token:
            return _error_response(_ApiError(401, "Unauthorized"))
        stored = self._file_paths.get(file_path)
        if stored is None:
            return _error_response(_ApiError(404, "Not Found"))
        self._touch()
        return web.Response(body=stored.data, content_type="application/octet-stream")

    async def _handle_api(self, request: web.Request, token: str, method: str) -> web.Response:
        if token != self.token:
            return _error_response(_ApiError(401, "Unauthorized"))
        entry = self._methods.get(method.lower())
        if entry is None:
            return _error_response(_ApiError(404, "Not Found"))
        name, handler = entry
        try:
            values, uploads = await _read_params(request)
        except _ApiError as exc:
            return _error_response(exc)
        call = RecordedCall(name, values, {k: u.data for k, u in uploads.items()}, self._clock())
        self._calls_of.setdefault(name, []).append(len(self.calls))
        self.calls.append(call)
        counted = name != "getUpdates"
        if counted:
            self._inflight += 1
            self._touch()
        try:
            fault = self._take_fault(name)
            if fault is not None and fault.kind == "slow":
                await asyncio.sleep(fault.delay)
            elif fault is not None:
                return self._fault_response(call, fault)
            try:
                result = await handler(_Params(values), uploads)
            except _ApiError as exc:
                call.status, call.result = exc.code, exc.body()
                return _error_response(exc)
            call.status, call.ok, call.result = 200, True, copy.deepcopy(result)
            return _json_response(200, {"ok": True, "result": result})
        finally:
            if counted:
                self._inflight -= 1
                self._touch()
            self._changed.fire()

    def _take_fault(self, method: str) -> _Fault | None:
        for fault in self._faults:
            if fault.method == method or (fault.method is None and method != "getUpdates"):
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self._faults.remove(fault)
                return fault
        return None

    def _fault_response(self, call: RecordedCall, fault: _Fault) -> web.Response:
        if fault.kind == "malformed":
            call.status, call.result = 200, "malformed"
            return web.Response(
                status=200,
                text="<html><body><h1>502 Bad Gateway</h1></body></html>",
                content_type="text/html",
            )
        if fault.kind == "429":
            error = _ApiError(
                429,
                f"Too Many Requests: retry after {fault.retry_after}",
                {"retry_after": fault.retry_after},
            )
        else:
            error = _ApiError(500, "Internal Server Error")
        call.status, call.result = error.code, error.body()
        return _error_response(error)

    def _touch(self) -> None:
        self._last_activity = time.monotonic()

    # ---------------------------------------------------------------- state helpers

    def _user(self, user_id: int) -> JSONDict:
        try:
            return self._users[user_id]
        except KeyError:
            raise ValueError(f"unknown user {user_id}; call add_user() first") from None

    @staticmethod
    def _private_chat_object(user: JSONDict) -> JSONDict:
        chat: JSONDict = {"id": user["id"], "type": "private", "first_name": user["first_name"]}
        for key in ("last_name", "username"):
            if key in user:
                chat[key] = user[key]
        return chat

    def _private_chat(self, user_id: int) -> JSONDict:
        chat = self._chats.get(user_id)
        if chat is None:
            chat = self._private_chat_object(self._user(user_id))
            self._chats[user_id] = chat
        return chat

    def _bot_user(self) -> JSONDict:
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": self.bot_first_name,
            "username": self.bot_username,
        }

    def _next_message_id(self, chat_id: int) -> int:
        message_id = self._last_message_id.get(chat_id, 0) + 1
        self._last_message_id[chat_id] = message_id
        return message_id

    def _as_reply(self, message: JSONDict) -> JSONDict:
        reply = copy.deepcopy(message)
        reply.pop("reply_to_message", None)
        return reply

    def _store_file(self, data: bytes, kind: str, suffix: str) -> _StoredFile:
        self._file_counter += 1
        number = self._file_counter
        stored = _StoredFile(
            file_id=f"{_FILE_ID_PREFIX[kind]}{self.bot_id % 100000:05d}{number:06d}",
            file_unique_id=f"AgAD{number:06d}",
            file_path=f"{_FILE_FOLDER[kind]}/file_{number}{suffix.lower()}",
            data=data,
            kind=kind,
        )
        self._files[stored.file_id] = stored
        self._file_paths[stored.file_path] = stored
        return stored

    def _store_photo(self, data: bytes) -> list[JSONDict]:
        width, height = _image_size(data) or (1280, 960)
        width, height = max(width, 1), max(height, 1)
        longest = max(width, height)
        targets = [t for t in (90, 320, 800) if t < longest] + [min(longest, 1280)]
        sizes: list[JSONDict] = []
        for target in targets:
            scale = target / longest
            stored = self._store_file(data, "photo", ".jpg")
            sizes.append(
                {
                    "file_id": stored.file_id,
                    "file_unique_id": stored.file_unique_id,
                    "file_size": len(data),
                    "width": max(1, round(width * scale)),
                    "height": max(1, round(height * scale)),
                }
            )
        for size in sizes:
            self._file_objects[size["file_id"]] = ("photo", sizes)
        return copy.deepcopy(sizes)

    @staticmethod
    def _user_caption(caption: str | None) -> JSONDict:
        if not caption:
            return {}
        fields: JSONDict = {"caption": caption}
        entities = _command_entities(caption)
        if entities:
            fields["caption_entities"] = entities
        return fields

    async def _inject(
        self,
        user_id: int,
        chat_id: int | None,
        chat_type: str,
        fields: JSONDict,
        reply_to_message_id: int | None,
    ) -> JSONDict:
        user = self._user(user_id)
        if chat_id is None or (chat_id == user_id and chat_type == "private"):
            chat = self._private_chat(user_id)
            self._blocked.discard(user_id)
            self._never_started.discard(user_id)
        else:
            known = self._chats.get(chat_id)
            if known is None:
                if chat_type == "private" and chat_id > 0:
                    raise ValueError("a private chat's id is the user's id")
                kind = chat_type if chat_type in ("group", "supergroup") else "group"
                known = {"id": chat_id, "type": kind, "title": f"Group {chat_id}"}
                self._chats[chat_id] = known
            chat = known
        target = chat["id"]
        message: JSONDict = {
            "message_id": self._next_message_id(target),
            "from": copy.deepcopy(user),
            "chat": copy.deepcopy(chat),
            "date": int(self._clock()),
        }
        if reply_to_message_id is not None:
            replied = self._messages.get(target, {}).get(reply_to_message_id)
            if replied is None:
                raise ValueError(f"no message {reply_to_message_id} in chat {target}")
            message["reply_to_message"] = self._as_reply(replied)
        message.update(copy.deepcopy(fields))
        self._messages.setdefault(target, {})[message["message_id"]] = message
        self._push_update("message", message)
        await asyncio.sleep(0)
        return copy.deepcopy(message)

    def _push_update(self, kind: str, payload: JSONDict) -> None:
        allowed = set(self._allowed_updates) if self._allowed_updates else _DEFAULT_ALLOWED
        if kind not in allowed:
            return
        update = {"update_id": self._next_update_id, kind: copy.deepcopy(payload)}
        self._next_update_id += 1
        self._updates.append(update)
        self._touch()
        self._changed.fire()

    def _confirm(self, offset: int) -> None:
        before = len(self._updates)
        if offset < 0:
            drop = before + offset
            if drop > 0:
                del self._updates[:drop]
        else:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
        if len(self._updates) != before:
            self._touch()
            self._changed.fire()

    def _chat_for_send(self, p: _Params) -> JSONDict:
        raw = p.values.get("chat_id")
        if raw is None or raw == "":
            raise _bad_request("chat_id is empty")
        chat_id = _as_int(raw)
        chat: JSONDict | None = None
        if chat_id is None:
            name = str(raw).lstrip("@").lower()
            chat = next(
                (c for c in self._chats.values() if str(c.get("username", "")).lower() == name),
                None,
            )
        else:
            chat = self._chats.get(chat_id)
            if chat is None and chat_id in self._users:
                chat = self._private_chat(chat_id)
        if chat is None:
            raise _bad_request("chat not found")
        if chat["id"] in self._migrated:
            raise _ApiError(400, "Bad Request: group chat was upgraded to a supergroup chat",
                            {"migrate_to_chat_id": self._migrated[chat["id"]]})
        if chat["id"] in self._blocked:
            if chat["id"] in self._never_started:
                raise _ApiError(403, "Forbidden: bot can't initiate conversation with a user")
            if chat["type"] == "private":
                raise _ApiError(403, "Forbidden: bot was blocked by the user")
            raise _ApiError(403, "Forbidden: bot was kicked from the group chat")
        return chat

    def _inline_markup(self, p: _Params) -> JSONDict | None:
        """The inline keyboard to show (validated), or None for none / a reply keyboard."""
        markup = p.get_json("reply_markup")
        if markup is None:
            return None
        if not isinstance(markup, dict):
            raise _bad_request("can't parse reply keyboard markup JSON object")
        if "inline_keyboard" not in markup:
            if any(k in markup for k in ("keyboard", "remove_keyboard", "force_reply")):
                return None
            raise _bad_request("can't parse reply keyboard markup JSON object")
        rows = markup["inline_keyboard"]
        if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
            raise _bad_request("can't parse inline keyboard: rows must be arrays of buttons")
        actions = (
            "url",
            "callback_data",
            "web_app",
            "login_url",
            "switch_inline_query",
            "switch_inline_query_current_chat",
            "switch_inline_query_chosen_chat",
            "copy_text",
            "callback_game",
            "pay",
        )
        for row in rows:
            for button in row:
                if not isinstance(button, dict) or not str(button.get("text", "")).strip():
                    raise _bad_request("can't parse inline keyboard button: Text must be non-empty")
                present = [a for a in actions if a in button]
                if len(present) != 1:
                    raise _bad_request("text buttons are unallowed in the inline keyboard")
                data = button.get("callback_data")
                if "callback_data" in button and not (
                    isinstance(data, str) and 1 <= len(data.encode("utf-8")) <= 64
                ):
                    raise _bad_request("BUTTON_DATA_INVALID")
                url = button.get("url")
                if "url" in button and not (
                    isinstance(url, str) and re.match(r"(https?|tg)://\S+$", url)
                ):
                    raise _bad_request(
                        f"inline keyboard button URL '{url}' is invalid: Wrong HTTP URL"
                    )
        rows = [row for row in rows if row]
        return {"inline_keyboard": copy.deepcopy(rows)} if rows else None

    def _reply_for_send(self, chat_id: int, p: _Params) -> JSONDict | None:
        parameters = p.get_json("reply_parameters")
        allow = p.get_bool("allow_sending_without_reply")
        if parameters is not None:
            if not isinstance(parameters, dict) or _as_int(parameters.get("message_id")) is None:
                raise _bad_request("can't parse reply parameters JSON object")
            message_id = _as_int(parameters["message_id"])
            allow = bool(parameters.get("allow_sending_without_reply", allow))
        else:
            message_id = p.get_int("reply_to_message_id")
        if message_id is None:
            return None
        replied = self._messages.get(chat_id, {}).get(message_id)
        if replied is None:
            if allow:
                return None
            raise _bad_request("message to be replied not found")
        return self._as_reply(replied)

    def _caption_fields(self, p: _Params) -> tuple[JSONDict, JSONDict]:
        raw = p.get_str("caption")
        if not raw:
            return {}, {}
        text, entities = _format_text(raw, p.get_str("parse_mode"), p.get_json("caption_entities"))
        if len(text) > _MAX_CAPTION:
            raise _bad_request("message caption is too long")
        fields: JSONDict = {"caption": text} if text else {}
        if entities and text:
            fields["caption_entities"] = entities
        extras: JSONDict = {"raw_caption": raw}
        if p.get_str("parse_mode"):
            extras["parse_mode"] = p.get_str("parse_mode")
        return fields, extras

    def _check_limits(self, chat_id: int) -> None:
        limits = self._limits
        if limits is None:
            return
        now = time.monotonic()
        checks: list[tuple[deque[float], float, int]] = []
        if limits.per_chat_per_s:
            chat_times = limits.chat_times.setdefault(chat_id, deque())
            checks.append((chat_times, 1.0, limits.per_chat_per_s))
        if limits.global_per_s:
            checks.append((limits.global_times, 1.0, limits.global_per_s))
        if limits.per_group_per_min and chat_id < 0:
            checks.append(
                (limits.group_times.setdefault(chat_id, deque()), 60.0, limits.per_group_per_min)
            )
        waits = []
        for times, window, limit in checks:
            while times and times[0] <= now - window:
                times.popleft()
            if len(times) >= limit:
                waits.append(times[len(times) - limit] + window - now)
        if waits:
            self.rejected_429 += 1
            retry_after = max(1, math.ceil(max(waits)))
            raise _ApiError(
                429, f"Too Many Requests: retry after {retry_after}", {"retry_after": retry_after}
            )
        for times, _, _ in checks:
            times.append(now)

    def _create_bot_message(
        self,
        chat: JSONDict,
        fields: JSONDict,
        markup: JSONDict | None,
        reply: JSONDict | None,
        extras: JSONDict,
    ) -> JSONDict:
        chat_id = chat["id"]
        message: JSONDict = {
            "message_id": self._next_message_id(chat_id),
            "from": self._bot_user(),
            "chat": copy.deepcopy(chat),
            "date": int(self._clock()),
        }
        if reply is not None:
            message["reply_to_message"] = reply
        message.update(fields)
        if markup is not None:
            message["reply_markup"] = markup
        self._messages.setdefault(chat_id, {})[message["message_id"]] = message
        self._extras[(chat_id, message["message_id"])] = extras
        return copy.deepcopy(message)

    def _input_file(self, p: _Params, uploads: dict[str, _Upload], name: str) -> _Upload | str:
        value = p.values.get(name)
        if isinstance(value, str) and value.startswith("attach://"):
            upload = uploads.get(value[len("attach://") :])
            if upload is None:
                raise _bad_request(f"there is no {name} in the request")
            return upload
        if name in uploads:
            return uploads[name]
        if isinstance(value, str) and value:
            if value in self._file_objects:
                return value
            if value.startswith(("http://", "https://")):
                raise _bad_request("failed to get HTTP URL content")
            raise _bad_request("wrong file identifier/HTTP URL specified")
        raise _bad_request(f"there is no {name} in the request")

    def _message_to_edit(self, p: _Params) -> tuple[int, JSONDict]:
        if p.values.get("inline_message_id"):
            raise _bad_request("MESSAGE_ID_INVALID")
        chat = self._chat_for_send(p)
        message_id = p.get_int("message_id")
        if message_id is None:
            raise _bad_request("message identifier is not specified")
        message = self._messages.get(chat["id"], {}).get(message_id)
        if message is None:
            raise _bad_request("message to edit not found")
        if message.get("from", {}).get("id") != self.bot_id:
            raise _bad_request("message can't be edited")
        return chat["id"], message

    @staticmethod
    def _scope_key(scope: Any) -> str:
        if scope is None:
            scope = {"type": "default"}
        if not isinstance(scope, dict) or scope.get("type") not in _SCOPE_TYPES:
            raise _bad_request("can't parse BotCommandScope JSON object")
        normalized = dict(scope)
        for key in ("chat_id", "user_id"):
            if key in normalized and _as_int(normalized[key]) is not None:
                normalized[key] = _as_int(normalized[key])
        return json.dumps(normalized, sort_keys=True)

    def _commands_key(self, p: _Params) -> tuple[str, str]:
        language = p.get_str("language_code") or ""
        if language and not re.fullmatch(r"[a-z]{2}", language):
            raise _bad_request("invalid language code specified")
        return self._scope_key(p.get_json("scope")), language

    def _ensure_webhook_task(self) -> None:
        if self._runner is None or self._webhook is None:
            return
        if self._webhook_task is None or self._webhook_task.done():
            self._webhook_task = asyncio.get_running_loop().create_task(self._webhook_loop())

    async def _webhook_loop(self) -> None:
        backoff = 0.05
        while not self._stopping and self._webhook is not None:
            if not self._updates or self._session is None:
                await self._changed.wait(1.0)
                continue
            hook, update = self._webhook, self._updates[0]
            headers = {"Content-Type": "application/json"}
            if hook.get("secret_token"):
                headers["X-Telegram-Bot-Api-Secret-Token"] = hook["secret_token"]
            error: str | None = None
            try:
                async with self._session.post(
                    hook["url"],
                    data=json.dumps(update, ensure_ascii=False).encode("utf-8"),
                    headers=headers,
                    timeout=ClientTimeout(total=10),
                ) as response:
                    await response.read()
                    if not 200 <= response.status < 300:
                        error = (
                            f"Wrong response from the webhook: {response.status} {response.reason}"
                        )
            except (ClientError, TimeoutError, OSError) as exc:
                error = f"Connection failed: {exc.__class__.__name__}: {exc}"
            if error is None:
                if self._updates and self._updates[0] is update:
                    self._updates.pop(0)
                backoff = 0.05
                self._touch()
                self._changed.fire()
            else:
                self._webhook_error = (int(self._clock()), error)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 2.0)

    # ---------------------------------------------------------------- Bot API methods

    async def _m_true(self, p: _Params, uploads: dict[str, _Upload]) -> Any:
        return True

    async def _m_get_me(self, p: _Params, uploads: dict[str, _Upload]) -> Any:
        return {
            **self._bot_user(),
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    def _check_no_webhook(self) -> None:
        if self._webhook is not None:
            raise _ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )

    async def _m_get_updates(self, p: _Params, uploads: dict[str, _Upload]) -> Any:
        self._check_no_webhook()
        offset = p.get_int("offset")
        limit = min(max(p.get_int("limit", 100) or 100, 1), 100)
        timeout = max(p.get_float("timeout", 0.0), 0.0)
        allowed = p.get_json("allowed_updates")
        if isinstance(allowed, list):
            self._allowed_updates = [str(kind) for kind in allowed] or None
        if offset is not None:
            self._confirm(offset)
        self._poll_generation += 1
        generation = self._poll_generation
        self._changed.fire()
        deadline = time.monotonic() + timeout
        while True:
            if generation != self._poll_generation:
                raise _ApiError(
                    409,
                    "Conflict: terminated by other getUpdates request; "
                    "make sure that only one bot instance is running",
                )
            self._check_no_webhook()
            batch = self._updates[:limit]
            remaining = deadline - time.monotonic()
            if batch or remaining <= 0 or self._stopping:
                if batch:
                    self._touch()
                return copy.deepcopy(batch)
            await self._changed.wait(remaining)

    async def _m_set_webhook(self, p: _Params, uploads: dict[str, _Upload]) -> Any:
        url = p.get_str("url") or ""
        secret = p.get_str("secret_token")
        if url and not re.match(r"https?://[^\s/]+", url):
            raise _bad_request("bad webhook: invalid webhook URL specified")
        if secret and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", secret):
            raise _bad_request("secret token contains unallowed characters")
        allowed = p.get_json("allowed_updates")
        if isinstance(allowed, list):
            self._allowed_updates = [str(kind) for kind in allowed] or None
        if p.get_bool("drop_pending_updates"):
            self._updates.clear()
        if not url:
            self._webhook = None
        else:
            hook: JSONDict = {"url": url, "max_connections": p.get_int("max_connections", 40)}
            if secret:
                hook["secret_token"] = secret
            if p.get_str("ip_address"):
                hook["ip_address"] = p.get_str("ip_address")
            self._webhook = hook
            self._webhook_error = None
            self._ensure_webhook_task()
        self._changed.fire()
        return True

    async def _m_delete_webhook(self, p: _Params, uploads: dict[str, _Upload]) -> Any:
        if p.get_bool("drop_pending_updates"):
            self._updates.clear()
        self._webhook = None
        self._webhook_error = None
        self._changed.fire()
        return True

    async def _m_get_webhook_info(self, p: _Params, uploads: dict[str, _Upload]) -> Any:
        info: JSONDict = {
            "url": self.webhook_url,
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }
        if self._webhook is not None:
            info["max_connections"] = self._webhook["max_connections"]
            if "ip_address" in self._webhook:
                info["ip_address"] = self._webhook["ip_address"]
            if self._allowed_updates:
                info["allowed_updates"] = list(self._allowed_updates)
            if self._webhook_error is not None:
                info["last_error_date"], info["last_error_message"] = self._webhook_error
        return info

    async def _m_send_message(self, p: _Params, uploads: dict[str, _Upload]) -> Any:
        chat = self._chat_for_send(p)
        raw = p.get_str("text")
        if not raw:
            raise _bad_request("message text is empty")
        parse_mode = p.get_str("parse_mode")
        text, entities = _format_text(raw, parse_mode, p.get_json("entities"))
        if not text:
            raise _bad_request("message text is empty")
        if len(text) > _MAX_TEXT:
            raise _bad_request("message is too long")
        markup = self._inline_markup(p)
        reply = self._reply_for_send(chat["id"], p)
        self._check_limits(chat["id"])
        fields: JSONDict = {"text": text}
        if entities:
            fields["entities"] = entities
        extras: JSONDict = {"raw_text": raw}
        if parse_mode:
            extras["parse_mode"] = parse_mode
        return self._create_bot_message(chat, fields, markup, reply, extras)

    async def _m_send_document(self, p: _Params, uploads: dict[str, _Upload]) -> Any:
        chat = self._chat_for_send(p)
        source = self._input_file(p, uploads, "document")
        fields, extras = self._caption_fields(p)
        markup = self._inline_markup(p)
        reply = self._reply_for_send(chat["id"], p)
        if isinstance(source, _Upload):
            if not source.data:
                raise _bad_request("file must be non-empty")
            if len(source.data) > _MAX_UPLOAD:
                raise _ApiError(413, "Request Entity Too Large")
            file_name = PurePosixPath(source.filename or "document").name or "document"
            mime_type = (
                mimetypes.guess_type(file_name, strict=False)[0]
                or source.content_type
                or "application/octet-stream"
            )
            self._check_limits(chat["id"])
            stored = self._store_file(source.data, "document", PurePosixPath(file_name).suffix)
            document = {
                "file_name": file_name,
                "mime_type": mime_type,
                "file_id": stored.file_id,
                "file_unique_id": stored.file_unique_id,
                "file_size": len(source.data),
            }
            self._file_objects[stored.file_id] = ("document", document)
            data = source.data
        else:
            kind, known = self._file_objects[source]
            if kind != "document":
                raise _bad_request("type of file mismatch")
            self._check_limits(chat["id"])
            document, data = copy.deepcopy(known), self._files[source].data
        fields = {"document": document, **fields}
        extras["document_bytes"] = data
        return self._create_bot_message(chat, fields, markup, reply, extras)

    async def _m_send_photo(self, p: _Params, uploads: dict[str, _Upload]) -> Any:
        chat = self._chat_for_send(p)
        source = self._input_file(p, uploads, "photo")
        fields, extras = self._caption_fields(p)
        markup = self._inline_markup(p)
        reply = self._reply_for_send(chat["id"], p)
        if isinstance(source, _Upload):
            if len(source.data) > 10 * 1024 * 1024:
                raise _bad_request("PHOTO_INVALID_DIMENSIONS")
            if not _looks_like_image(source.data):
                raise _bad_request("IMAGE_PROCESS_FAILED")
            self._check_limits(chat["id"])
            sizes, data = self._store_photo(source.data), source.data
        else:
            kind, known = self._file_objects[source]
            if kind != "photo":
                raise _bad_request("type of file mismatch")
            self._check_limits(chat["id"])
            sizes, data = copy.deepcopy(known), self._files[source].data
        fields = {"photo": sizes, **fields}
        extras["photo_bytes"] = data
        return self._create_bot_message(chat, fields, markup, reply, extras)

    async def _m_edit_message_text(self, p: _Params, uploads: dict[str, _Upload]) -> Any:
        chat_id, message = self._message_to_edit(p)
        if "text" not in message:
            raise _bad_request("there is no text in the message to edit")
        raw = p.get_str("text")
        if not raw:
            raise _bad_request("message text is empty")
        parse_mode = p.get_str("parse_mode")
        text, entities = _format_text(raw, parse_mode, p.get_json("entities"))
        if not text:
            raise _bad_request("message text is empty")
        if len(text) > _MAX_TEXT:
            raise _bad_request("message is too long")
        markup = self._inline_markup(p)
        if (
            text == message["text"]
            and entities == message.get("entities", [])
            and markup == message.get("reply_markup")
        ):
            raise _bad_request(_NOT_MODIFIED)
        message["text"] = text
        _set_or_drop(message, "entities", entities or None)
        _set_or_drop(message, "reply_markup", markup)
        message["edit_date"] = int(self._clock())
        extras = self._extras.setdefault((chat_id, message["message_id"]), {})
        extras["raw_text"] = raw
        _set_or_drop(extras, "parse_mode", parse_mode or None)
        return copy.deepcopy(message)

    async def _m_edit_message_caption(self, p: _Params, uploads: dict[str, _Upload]) -> Any:
        chat_id, message = self._message_to_edit(p)
        if not any(k in message for k in ("document", "photo")):
            raise _bad_request("there is no caption in the message to edit")
        fields, caption_extras = self._caption_fields(p)
        markup = self._inline_markup(p)
        if (
            fields.get("caption") == message.get("caption")
            and fields.get("caption_entities") == message.get("caption_entities")
            and markup == message.get("reply_markup")
        ):
            raise _bad_request(_NOT_MODIFIED)
        _set_or_drop(message, "caption", fields.get("caption"))
        _set_or_drop(message, "caption_entities", fields.get("caption_entities"))
        _set_or_drop(message, "reply_markup", markup)
        message["edit_date"] = int(self._clock())
        extras = self._extras.setdefault((chat_id, message["message_id"]), {})
        extras.pop("raw_caption", None)
        extras.update(caption_extras)
        return copy.deepcopy(message)

    async def _m_edit_message_reply_markup(self, p: _Params, uploads: dict[str, _Upload]) -> Any:
        _, message = self._message_to_edit(p)
        markup = self._inline_markup(p)
        if markup == message.get("reply_markup"):
            raise _bad_request(_NOT_MODIFIED)
        _set_or_drop(message, "reply_markup", markup)
        message["edit_date"] = int(self._clock())
        return copy.deepcopy(message)

    async def _m_delete_message(self, p: _Params, uploads: dict[str, _Upload]) -> Any:
        chat = self._chat_for_send(p)
        message_id = p.get_int("message_id")
        messages = self._messages.get(chat["id"], {})
        if message_id is None or message_id not in messages:
            raise _bad_request("message to delete not found")
        del messages[message_id]
        return True

    async def _m_answer_callback_query(self, p: _Params, uploads: dict[str, _Upload]) -> Any:
        query_id = p.get_str("callback_query_id")
        if not query_id or query_id not in self._callbacks or query_id in self.answered_callbacks:
            raise _bad_request(_QUERY_TOO_OLD)
        text = p.get_str("text")
        if text is not None and len(text) > 200:
            raise _bad_request("MESSAGE_TOO_LONG")
        self.answered_callbacks[query_id] = copy.deepcopy(p.values)
        return True

    async def _m_send_chat_action(self, p: _Params, uploads: dict[str, _Upload]) -> Any:
        self._chat_for_send(p)
        if p.get_str("action") not in _CHAT_ACTIONS:
            raise _bad_request("wrong parameter action in request")
        return True

    async def _m_set_my_commands(self, p: _Params, uploads: dict[str, _Upload]) -> Any:
        commands = p.get_json("commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise _bad_request("can't parse commands JSON object")
        cleaned = []
        for command in commands:
            if not isinstance(command, dict):
                raise _bad_request("can't parse BotCommand JSON object")
            name = command.get("command")
            description = command.get("description")
            if not isinstance(name, str) or not re.fullmatch(r"[a-z0-9_]{1,32}", name.lower()):
                raise _bad_request("BOT_COMMAND_INVALID")
            if not isinstance(description, str) or not 1 <= len(description.strip()) <= 256:
                raise _bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
            cleaned.append({"command": name.lower(), "description": description})
        key = self._commands_key(p)
        if cleaned:
            self._commands[key] = cleaned
        else:
            self._commands.pop(key, None)
        return True

    async def _m_get_my_commands(self, p: _Params, uploads: dict[str, _Upload]) -> Any:
        return copy.deepcopy(self._commands.get(self._commands_key(p), []))

    async def _m_delete_my_commands(self, p: _Params, uploads: dict[str, _Upload]) -> Any:
        self._commands.pop(self._commands_key(p), None)
        return True

    async def _m_get_file(self, p: _Params, uploads: dict[str, _Upload]) -> Any:
        stored = self._files.get(p.get_str("file_id") or "")
        if stored is None:
            raise _bad_request("invalid file_id")
        if len(stored.data) > _MAX_DOWNLOAD:
            raise _bad_request("file is too big")
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": len(stored.data),
            "file_path": stored.file_path,
        }


def _set_or_drop(target: JSONDict, key: str, value: Any) -> None:
    if value is None:
        target.pop(key, None)
    else:
        target[key] = value


def _json_response(status: int, body: Any) -> web.Response:
    return web.Response(
        status=status,
        body=json.dumps(body, ensure_ascii=False).encode("utf-8"),
        content_type="application/json",
    )


def _error_response(error: _ApiError) -> web.Response:
    response = _json_response(error.code, error.body())
    if error.code == 429 and error.parameters:
        response.headers["Retry-After"] = str(error.parameters["retry_after"])
    return response


async def _read_params(request: web.Request) -> tuple[JSONDict, dict[str, _Upload]]:
    """Decode query string and JSON / form / multipart body into params and uploads."""
    values: JSONDict = {k: _decode_form_value(k, v) for k, v in request.query.items()}
    uploads: dict[str, _Upload] = {}
    if not request.can_read_body:
        return values, uploads
    content_type = request.content_type
    try:
        if content_type == "application/json":
            raw = await request.read()
            if raw.strip():
                try:
                    body = json.loads(raw)
                except ValueError:
                    raise _bad_request("can't parse JSON encoded request") from None
                if not isinstance(body, dict):
                    raise _bad_request("request body must be a JSON object")
                values.update(body)
        elif content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            form = await request.post()
            for key, value in form.items():
                if isinstance(value, web.FileField):
                    uploads[key] = _Upload(value.filename, value.content_type, value.file.read())
                else:
                    values[key] = _decode_form_value(key, str(value))
        else:
            await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise _ApiError(413, "Request Entity Too Large") from None
    return values, uploads
