"""Button payloads (callback data), one typed dataclass per kind.

A payload is `<prefix>:<field>:<field>...`, at most 64 bytes on Telegram. `pack()` builds it
and `parse()` reads it back, refusing with None anything the bot does not build (a wrong
prefix, a missing or extra field, a number that is not plain digits), so that
`parse(p).pack() == p` for every payload `parse` accepts. The strings are the ones the bot
has always sent: buttons already in chats keep working.

The router splits a payload at its prefix and hands the rest to the module that owns it,
which reads it with `from_parts`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar, Literal, Self, cast, get_args

StatusAction = Literal["done", "prog", "help", "ext"]
STATUS_ACTIONS: tuple[StatusAction, ...] = get_args(StatusAction)
_YES, _NO = "ok", "no"
_BACK = "back"


def _number(text: str) -> int | None:
    """A database id or task number as a payload writes it: plain digits, no leading zero."""
    if not (text.isascii() and text.isdigit()) or (len(text) > 1 and text[0] == "0"):
        return None
    return int(text)


class Callback:
    """A payload kind: its prefix, its fields as strings, and back."""

    PREFIX: ClassVar[str]

    def fields(self) -> tuple[str, ...]:
        raise NotImplementedError

    @classmethod
    def of_fields(cls, fields: list[str]) -> Self | None:
        raise NotImplementedError

    def pack(self) -> str:
        return ":".join((self.PREFIX, *self.fields()))

    @classmethod
    def parse(cls, payload: str) -> Self | None:
        prefix, *fields = payload.split(":")
        return cls.of_fields(fields) if prefix == cls.PREFIX else None

    @classmethod
    def from_parts(cls, parts: Sequence[str]) -> Self | None:
        """From what follows the prefix, split at every «:» (as the router hands it on)."""
        return cls.parse(":".join((cls.PREFIX, *parts)))


@dataclass(frozen=True)
class _Decision(Callback):
    """Staff's answer to a request: grant (`<id>:ok`) or refuse (`<id>:no`)."""

    request_id: int
    grant: bool

    def fields(self) -> tuple[str, ...]:
        return str(self.request_id), _YES if self.grant else _NO

    @classmethod
    def of_fields(cls, fields: list[str]) -> Self | None:
        if len(fields) != 2 or fields[1] not in (_YES, _NO):
            return None
        request_id = _number(fields[0])
        return None if request_id is None else cls(request_id, fields[1] == _YES)


@dataclass(frozen=True)
class ExcuseDecision(_Decision):
    """`m:<excuse request>:ok|no`."""

    PREFIX: ClassVar[str] = "m"


@dataclass(frozen=True)
class ExtensionDecision(_Decision):
    """`x:<extension request>:ok|no`."""

    PREFIX: ClassVar[str] = "x"


@dataclass(frozen=True)
class _TargetPress(Callback):
    target_id: int

    def fields(self) -> tuple[str, ...]:
        return (str(self.target_id),)

    @classmethod
    def of_fields(cls, fields: list[str]) -> Self | None:
        target_id = _number(fields[0]) if len(fields) == 1 else None
        return None if target_id is None else cls(target_id)


@dataclass(frozen=True)
class Pick(_TargetPress):
    """`p:<target>`: the task an answer that named none is for."""

    PREFIX: ClassVar[str] = "p"


@dataclass(frozen=True)
class HandDownPress(_TargetPress):
    """`h:<target>`: hand the office's task down to its units."""

    PREFIX: ClassVar[str] = "h"


@dataclass(frozen=True)
class CancelHandDown(Callback):
    """`h:cancel:<task number>`: cancel a hand-down whose office was excused upstream."""

    PREFIX: ClassVar[str] = "h"
    number: int

    def fields(self) -> tuple[str, ...]:
        return "cancel", str(self.number)

    @classmethod
    def of_fields(cls, fields: list[str]) -> Self | None:
        number = _number(fields[1]) if len(fields) == 2 and fields[0] == "cancel" else None
        return None if number is None else cls(number)


@dataclass(frozen=True)
class StatusPress(Callback):
    """`s:<target>:<action>`: a status button under a task (Đã nộp, Đang làm...)."""

    PREFIX: ClassVar[str] = "s"
    target_id: int
    action: StatusAction

    def fields(self) -> tuple[str, ...]:
        return str(self.target_id), self.action

    @classmethod
    def of_fields(cls, fields: list[str]) -> Self | None:
        if len(fields) != 2 or fields[1] not in STATUS_ACTIONS:
            return None
        target_id = _number(fields[0])
        return None if target_id is None else cls(target_id, cast(StatusAction, fields[1]))


@dataclass(frozen=True)
class Misfiled(Callback):
    """[Nộp nhầm] under a submission: `w:<submission>` asks where to, `w:<submission>:<target>`
    moves it to that target, `w:<submission>:back` withdraws it."""

    PREFIX: ClassVar[str] = "w"
    submission_id: int
    to: int | None = None
    withdraw: bool = False

    def fields(self) -> tuple[str, ...]:
        if self.withdraw:
            return str(self.submission_id), _BACK
        if self.to is not None:
            return str(self.submission_id), str(self.to)
        return (str(self.submission_id),)

    @classmethod
    def of_fields(cls, fields: list[str]) -> Self | None:
        submission_id = _number(fields[0]) if 1 <= len(fields) <= 2 else None
        if submission_id is None:
            return None
        if len(fields) == 1:
            return cls(submission_id)
        if fields[1] == _BACK:
            return cls(submission_id, withdraw=True)
        to = _number(fields[1])
        return None if to is None else cls(submission_id, to)


@dataclass(frozen=True)
class PlanDuty(Callback):
    """`k:<plan draft>:<duty>`: assign one duty of a plan (`/kehoach`), counted from 1."""

    PREFIX: ClassVar[str] = "k"
    plan_id: int
    index: int

    def fields(self) -> tuple[str, ...]:
        return str(self.plan_id), str(self.index)

    @classmethod
    def of_fields(cls, fields: list[str]) -> Self | None:
        if len(fields) != 2:
            return None
        plan_id, index = _number(fields[0]), _number(fields[1])
        return None if plan_id is None or index is None else cls(plan_id, index)


@dataclass(frozen=True)
class Suggested(Callback):
    """`c:<command>:<arguments>`: run the command an unknown one was taken for (the
    arguments may hold «:» themselves, or be cut off to fit the payload)."""

    PREFIX: ClassVar[str] = "c"
    command: str
    args: str = ""

    def fields(self) -> tuple[str, ...]:
        return self.command, self.args

    @classmethod
    def of_fields(cls, fields: list[str]) -> Self | None:
        if len(fields) < 2 or not fields[0]:
            return None
        return cls(fields[0], ":".join(fields[1:]))


DraftAction = Literal["send", "edit", "cancel", "field"]


@dataclass(frozen=True)
class _DraftPress(Callback):
    """A button under a draft: one of `ACTIONS`, or `field:<name>` to change one field."""

    ACTIONS: ClassVar[tuple[str, ...]]
    action: DraftAction
    field: str = ""  # of a «field» press

    def fields(self) -> tuple[str, ...]:
        return (self.action, self.field) if self.action == "field" else (self.action,)

    @classmethod
    def of_fields(cls, fields: list[str]) -> Self | None:
        if len(fields) == 1 and fields[0] in cls.ACTIONS:
            return cls(cast(DraftAction, fields[0]))
        if len(fields) == 2 and fields[0] == "field" and fields[1]:
            return cls("field", fields[1])
        return None


@dataclass(frozen=True)
class GiaoPress(_DraftPress):
    """Under a `/giao` draft: `g:send`, `g:edit` (choose a part to change), `g:cancel`, or
    `g:field:<name>`."""

    PREFIX: ClassVar[str] = "g"
    ACTIONS: ClassVar[tuple[str, ...]] = ("send", "edit", "cancel")


@dataclass(frozen=True)
class EditPress(_DraftPress):
    """Under a `/sua` draft: `e:send`, `e:cancel`, or `e:field:<name>` to change one field."""

    PREFIX: ClassVar[str] = "e"
    ACTIONS: ClassVar[tuple[str, ...]] = ("send", "cancel")


@dataclass(frozen=True)
class ProgressPage(Callback):
    """`t:<view>:<page>[:<arg>]`: another page of a `/tiendo` view (`arg`: the task number,
    the unit id or the group key the view is of)."""

    PREFIX: ClassVar[str] = "t"
    view: str
    page: int
    arg: str = ""

    def fields(self) -> tuple[str, ...]:
        return (self.view, str(self.page), self.arg) if self.arg else (self.view, str(self.page))

    @classmethod
    def of_fields(cls, fields: list[str]) -> Self | None:
        page = _number(fields[1]) if len(fields) >= 2 and fields[0] else None
        arg = ":".join(fields[2:])
        if page is None or (len(fields) > 2 and not arg):
            return None
        return cls(fields[0], page, arg)


@dataclass(frozen=True)
class ReportFile(Callback):
    """`r:chart:<task number>` or `r:xlsx:<task number>` under `/tiendo #N`."""

    PREFIX: ClassVar[str] = "r"
    kind: Literal["chart", "xlsx"]
    number: int

    def fields(self) -> tuple[str, ...]:
        return self.kind, str(self.number)

    @classmethod
    def of_fields(cls, fields: list[str]) -> Self | None:
        if len(fields) != 2 or fields[0] not in ("chart", "xlsx"):
            return None
        number = _number(fields[1])
        kind = cast(Literal["chart", "xlsx"], fields[0])
        return None if number is None else cls(kind, number)
