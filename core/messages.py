"""The channel-agnostic shapes of what users send and what the bot sends back."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class IncomingFile:
    name: str
    data: bytes
    is_photo: bool = False


@dataclass(frozen=True)
class Incoming:
    """One user action on any channel, already translated by its adapter."""

    channel: str
    user_id: str
    chat_id: str
    display_name: str = ""
    text: str = ""
    file: IncomingFile | None = None
    button: str | None = None  # payload of the pressed button
    button_message_id: str | None = None  # platform id of the message carrying that button
    reply_to: str | None = None  # platform id of the bot message this one replies to
    is_group: bool = False
    unsupported: str | None = None  # sticker, voice... that the bot cannot use
    once_key: str | None = None  # handled at most once per channel (one-time links)
    inbox_id: int | None = None  # the recorded platform update: marked handled with its effects


@dataclass(frozen=True)
class Button:
    label: str
    payload: str


@dataclass(frozen=True)
class OutgoingFile:
    name: str
    data: bytes
    mime_type: str


@dataclass(frozen=True)
class Outgoing:
    """A rendered message for one chat, as the sender hands it to a channel adapter."""

    chat_id: str
    text: str
    buttons: tuple[Button, ...] = ()
    file: OutgoingFile | None = None
    reply_to: str | None = None
    extra: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Queued:
    """An outbox row as the sender handles it: where it goes and what it says, not yet
    rendered for the channel (its stored file is read when it is sent)."""

    id: int
    channel: str
    chat_id: str
    is_group: bool
    member_id: int | None
    text: str
    buttons: tuple[Button, ...]
    file_id: int | None
    file_name: str | None
    error: str | None
    priority: int


def buttons_to_json(buttons: Sequence[Button]) -> str:
    """Buttons as a queued message keeps them: JSON `[[label, payload], ...]`, "" for none."""
    if not buttons:
        return ""
    return json.dumps([[b.label, b.payload] for b in buttons], ensure_ascii=False)


def buttons_from_json(text: str | None) -> tuple[Button, ...]:
    """The buttons of a queued message, kept as JSON `[[label, payload], ...]` ("" for none)."""
    if not text:
        return ()
    return tuple(Button(label, payload) for label, payload in json.loads(text))
