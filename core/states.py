"""The states stored in the database's state and kind columns, as enums.

Each is a `StrEnum`: a member equals its string (`TargetState.SUBMITTED == "submitted"`), so
the columns stay plain strings, rows read back as `str` compare equal to the members, and
SQL built with them binds the string. The rules that move a target between states are in
`core.transitions`.
"""

from __future__ import annotations

from enum import StrEnum


class TargetState(StrEnum):
    """Where one unit's duty for one task and period stands."""

    PENDING = "pending"  # owed, nothing reported yet
    IN_PROGRESS = "in_progress"  # owed, progress reported
    SUBMITTED = "submitted"  # reported (a nil report too)
    EXCUSED = "excused"  # excused by staff («miễn»): owes nothing
    # A unit taken off the task after it was sent (`/sua #N | bớt ...`): its target and
    # answers stay as history, and it counts nowhere.
    REMOVED = "removed"


# Owed and not yet reported: reminded, chased, listed as missing.
OPEN_TARGET_STATES: tuple[TargetState, ...] = (TargetState.PENDING, TargetState.IN_PROGRESS)
# Nothing more is owed: reported, excused or taken off the task.
SETTLED_TARGET_STATES: tuple[TargetState, ...] = (
    TargetState.SUBMITTED, TargetState.EXCUSED, TargetState.REMOVED)


class AssignmentState(StrEnum):
    """A task: open for answers, cancelled (counts nowhere) or closed (answers refused)."""

    ACTIVE = "active"
    CANCELLED = "cancelled"
    CLOSED = "closed"


class RequestState(StrEnum):
    """An extension or excuse request; `WITHDRAWN` records an excuse that staff took back."""

    PENDING = "pending"
    GRANTED = "granted"
    REFUSED = "refused"
    WITHDRAWN = "withdrawn"


class SubmissionKind(StrEnum):
    """What a reporter's answer for a target said."""

    DONE = "done"
    NIL = "nil"  # nothing to report («không phát sinh»)
    FILE = "file"
    PROGRESS = "progress"
    NOT_STARTED = "not_started"
    HELP = "help"


# Answers that report the task done; the others only say how it goes.
REPORT_KINDS: tuple[SubmissionKind, ...] = (
    SubmissionKind.FILE, SubmissionKind.DONE, SubmissionKind.NIL)


class Requires(StrEnum):
    """What a task asks a unit to send before it counts as submitted."""

    ANY = "any"  # a file or «đã xong»
    FILE = "file"
    STATUS = "status"  # «đã xong» only, no file
    BOTH = "both"  # a file and «đã xong»


class ReminderState(StrEnum):
    PLANNED = "planned"
    SENT = "sent"
    SKIPPED = "skipped"


class ReminderKind(StrEnum):
    BEFORE = "before"
    ON_DAY = "on_day"
    OVERDUE = "overdue"
