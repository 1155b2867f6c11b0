"""SQLModel tables. Times are timezone-aware and stored in UTC; `core.clock` shows them
in Asia/Ho_Chi_Minh."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from sqlalchemy import Boolean, Column, Double, Index, Text, UniqueConstraint, false, text
from sqlmodel import Field, SQLModel

from core.roles import CHANNELS  # noqa: F401  (the channels a member may be on)
from core.states import (
    OPEN_TARGET_STATES,
    AssignmentState,
    ReminderState,
    RequestState,
    Requires,
    TargetState,
)

# Owed and not yet reported (`OPEN_TARGET_STATES`), as SQL for the partial index.
OPEN_TARGET = "state IN ({})".format(", ".join(f"'{state}'" for state in OPEN_TARGET_STATES))
SENT = "platform_message_id IS NOT NULL"  # an outbox row the platform took (partial index)
WAITING = "sent_at IS NULL"  # an outbox row not sent yet (partial index)
UNREACHABLE = "unreachable_since IS NOT NULL"  # a member the platform refuses (partial index)


class _Row(Protocol):
    @property
    def id(self) -> int | None: ...


def ident(row: _Row) -> int:
    """The id of a row read from the database (or flushed): the tables type `id` as
    optional only because a new row has none until it is written."""
    if row.id is None:
        raise ValueError(f"{type(row).__name__} has no id: it was never written")
    return row.id


class Unit(SQLModel, table=True):
    """A school, a district office, a centre... Units form a tree through `parent_id`."""

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(index=True, unique=True, max_length=64)
    name: str = Field(max_length=255)
    name_key: str = Field(index=True, max_length=255)  # folded name for accent-free lookups
    kind: str = Field(default="", max_length=64)
    parent_id: int | None = Field(default=None, foreign_key="unit.id", index=True)


class UnitGroup(SQLModel, table=True):
    """A group/tag of a unit (`THCS`, `huyen-nam-truc`); `key` is the folded name."""

    __tablename__ = "unit_group"
    __table_args__ = (UniqueConstraint("unit_id", "key"),)

    id: int | None = Field(default=None, primary_key=True)
    unit_id: int = Field(foreign_key="unit.id", index=True, ondelete="CASCADE")
    name: str = Field(max_length=64)
    key: str = Field(index=True, max_length=64)


class GroupUnit(SQLModel, table=True):
    """The units of each group with every unit below them (a Phòng in @PGD brings its
    schools): the unit tree walked once, when the units are imported (`storage.tally`),
    rather than at every `/tiendo @group`."""

    __tablename__ = "group_unit"

    key: str = Field(primary_key=True, max_length=64)
    unit_id: int = Field(primary_key=True, foreign_key="unit.id", index=True,
                         sa_column_kwargs={"autoincrement": False})


class Member(SQLModel, table=True):
    """A person on one channel."""

    __table_args__ = (
        UniqueConstraint("channel", "channel_user_id"),
        # The members the platform refuses, which every claim of the outbox leaves out: a
        # handful, read without a scan of a national registry's 150,000 members.
        Index("ix_member_unreachable", "id", sqlite_where=text(UNREACHABLE),
              postgresql_where=text(UNREACHABLE)),
    )

    id: int | None = Field(default=None, primary_key=True)
    display_name: str = Field(max_length=255)
    channel: str = Field(max_length=16)
    channel_user_id: str = Field(max_length=64)
    chat_id: str = Field(max_length=64)
    language: str = Field(default="vi", max_length=8)
    created_at: datetime
    # The platform refuses for good to deliver to them (blocked the bot, never opened it):
    # since when, and why (blocked | not_started | gone). Cleared when they write again.
    unreachable_since: datetime | None = None
    unreachable_reason: str = Field(default="", max_length=16,
                                    sa_column_kwargs={"server_default": text("''")})


class Membership(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("member_id", "unit_id", "role"),)

    id: int | None = Field(default=None, primary_key=True)
    member_id: int = Field(foreign_key="member.id", index=True, ondelete="CASCADE")
    unit_id: int | None = Field(default=None, foreign_key="unit.id", index=True)
    role: str = Field(max_length=16)


class Invite(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(index=True, unique=True, max_length=32)
    unit_id: int = Field(foreign_key="unit.id", index=True)
    role: str = Field(default="reporter", max_length=16)
    expires_at: datetime | None = None
    uses_left: int = 1
    created_at: datetime


class StoredFile(SQLModel, table=True):
    """A file kept in the content-addressed file store, checked on the way in."""

    __tablename__ = "stored_file"

    id: int | None = Field(default=None, primary_key=True)
    sha256: str = Field(index=True, max_length=64)
    size: int
    mime_type: str = Field(max_length=128)
    original_name: str = Field(max_length=255)
    created_at: datetime


class Assignment(SQLModel, table=True):
    """A reporting task (nhiệm vụ), known to users by its short number `#N`."""

    id: int | None = Field(default=None, primary_key=True)
    number: int = Field(index=True, unique=True)
    title: str = Field(max_length=500)
    details: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    file_id: int | None = Field(default=None, foreign_key="stored_file.id")
    deadline: datetime  # the first (or only) period's deadline
    recurrence: str | None = Field(default=None, max_length=64)  # core.deadlines rule
    requires: str = Field(default=Requires.ANY, max_length=16)  # core.states.Requires
    reminder_offsets: str = Field(default="7,3,1", max_length=64)  # days before the deadline
    reminders_paused: bool = False
    assigned_by: int = Field(foreign_key="member.id")
    # The office (a unit) that assigned it: its staff change it and see all of it. None: a
    # task of the whole registry (assigned by an admin or by staff attached to no unit). A unit
    # id without a foreign key: SQLite cannot add one to a table that others refer to, and
    # units are never deleted.
    office_id: int | None = Field(default=None, index=True)
    # A hand-down (giao tiếp): the task it came from and the office's target there (unit ids
    # and task ids without foreign keys, for the reason above).
    parent_id: int | None = Field(default=None, index=True)
    parent_target_id: int | None = Field(default=None, index=True)
    state: str = Field(default=AssignmentState.ACTIVE, max_length=16)
    created_at: datetime
    # The current period: the one opened last ("" for a one-off task).
    period: str = Field(default="", max_length=32, sa_column_kwargs={"server_default": text("''")})


class Target(SQLModel, table=True):
    """One unit's duty for one assignment and one period."""

    __table_args__ = (
        UniqueConstraint("assignment_id", "unit_id", "period"),
        # `/tiendo` counts targets per task from this index alone (bench/progress.py).
        Index("ix_target_progress", "assignment_id", "period", "state", "on_time",
              "extension_granted", "nil_report", "deadline", "unit_id"),
        # A unit's open targets by deadline: those not yet due, which its history counts
        # apart (the units most often late are ranked by it).
        Index("ix_target_open_unit", "unit_id", "deadline", "assignment_id",
              sqlite_where=text(OPEN_TARGET), postgresql_where=text(OPEN_TARGET)),
    )

    id: int | None = Field(default=None, primary_key=True)
    # No index of its own: the unique key and ix_target_progress begin with it.
    assignment_id: int = Field(foreign_key="assignment.id")
    unit_id: int = Field(foreign_key="unit.id", index=True)
    period: str = Field(default="", max_length=32)
    deadline: datetime  # moved by a granted extension, never by the calendar
    state: str = Field(default=TargetState.PENDING, max_length=16)  # core.states.TargetState
    percent: int | None = None
    submitted_at: datetime | None = None
    on_time: bool | None = None
    nil_report: bool = False
    extension_granted: bool = False


class UnitTally(SQLModel, table=True):
    """A unit's history over the targets of tasks not cancelled, kept up to date in the
    transaction of every change (`storage.tally`) so that a group's figures over time are a
    sum over its units' rows: submitted on time, late (with their summed delay in days), and
    open (not submitted nor excused, due or not: `/tiendo` subtracts those not yet due)."""

    __tablename__ = "unit_tally"

    unit_id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    on_time: int = 0
    late: int = 0
    delay_days: float = Field(default=0.0, sa_column=Column(Double, nullable=False, default=0.0))
    open: int = 0


class ProgressTally(SQLModel, table=True):
    """How many targets of a task's period share the fields its figures are counted by,
    over every unit (`scope` "") and over each group's units (`scope` = the group's key,
    `GroupUnit`). Kept in the transaction of every change (`storage.tally`), so `/tiendo`
    and `/tiendo @group` read a few rows per task instead of every target. `on_time` is
    true for targets submitted on time only; `deadline` is kept because the figures that
    depend on `now` (overdue, the earliest deadline) are counted from it."""

    __tablename__ = "progress_tally"

    assignment_id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    period: str = Field(primary_key=True, max_length=32)
    scope: str = Field(primary_key=True, max_length=64)
    state: str = Field(primary_key=True, max_length=16)
    on_time: bool = Field(primary_key=True)
    extension_granted: bool = Field(primary_key=True)
    nil_report: bool = Field(primary_key=True)
    deadline: datetime = Field(primary_key=True)
    n: int = 0


class Submission(SQLModel, table=True):
    """A reporter's answer for a target. Rows are only ever added, never overwritten."""

    id: int | None = Field(default=None, primary_key=True)
    target_id: int = Field(foreign_key="target.id", index=True)
    member_id: int = Field(foreign_key="member.id")
    kind: str = Field(max_length=16)  # core.states.SubmissionKind
    percent: int | None = None
    text: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    file_id: int | None = Field(default=None, foreign_key="stored_file.id")
    route: str | None = Field(default=None, max_length=16)  # done: email|paper|eoffice|other
    created_at: datetime
    # Filed by mistake ([Nộp nhầm]): withdrawn at this moment, and when it was moved to
    # another task, the submission it became there (an id without a foreign key). The row
    # stays as history; the target's state is counted again without it.
    withdrawn_at: datetime | None = None
    moved_to: int | None = None


class ExtensionRequest(SQLModel, table=True):
    __tablename__ = "extension_request"

    id: int | None = Field(default=None, primary_key=True)
    target_id: int = Field(foreign_key="target.id", index=True)
    member_id: int = Field(foreign_key="member.id")
    requested_until: datetime
    reason: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    state: str = Field(default=RequestState.PENDING, max_length=16)  # RequestState, never withdrawn
    decided_by: int | None = Field(default=None, foreign_key="member.id")
    decided_at: datetime | None = None
    granted_until: datetime | None = None
    created_at: datetime


class ExcuseRequest(SQLModel, table=True):
    """A unit excused from one target (state «miễn»): asked by a reporter and decided by staff,
    or decided by staff directly (`/mien`, then `member_id` is theirs). Also records when
    staff took an excuse back ("withdrawn")."""

    __tablename__ = "excuse_request"

    id: int | None = Field(default=None, primary_key=True)
    target_id: int = Field(foreign_key="target.id", index=True)
    member_id: int = Field(foreign_key="member.id")
    reason: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    state: str = Field(default=RequestState.PENDING, max_length=16)
    decided_by: int | None = Field(default=None, foreign_key="member.id")
    decided_at: datetime | None = None
    created_at: datetime


class Reminder(SQLModel, table=True):
    """A reminder owed to a target at `due_at`; planned by the core, claimed by the sweep."""

    __table_args__ = (Index("ix_reminder_due", "state", "due_at"),)

    id: int | None = Field(default=None, primary_key=True)
    # A target id without a foreign key, checked by a query per row on PostgreSQL (a national
    # task plans 250,000 reminders at once); targets are never deleted.
    target_id: int = Field(index=True)
    due_at: datetime
    kind: str = Field(max_length=16)  # core.states.ReminderKind
    state: str = Field(default=ReminderState.PLANNED, max_length=16)
    sent_at: datetime | None = None


class Outbox(SQLModel, table=True):
    """A message to a member, rendered in their language, written in the same transaction
    as the change that caused it and drained by the sender."""

    __table_args__ = (
        # The rows waiting, in the order a claim takes them: a claim reads its first rows
        # and stops, and a row leaves the index once sent.
        Index("ix_outbox_waiting", "channel", "priority", "id",
              sqlite_where=text(WAITING), postgresql_where=text(WAITING)),
        # The rows sent only: not the 100,000 of a national task as they are written.
        Index("ix_outbox_platform_message_id", "platform_message_id",
              sqlite_where=text(SENT), postgresql_where=text(SENT)),
    )

    id: int | None = Field(default=None, primary_key=True)
    # The member, target, task and reminder a message is about: ids without foreign keys,
    # each of which PostgreSQL would check by a query per row (a national task writes
    # 100,000 messages at once); none of those rows is ever deleted (a member is marked
    # removed, only reminders not sent yet are withdrawn).
    member_id: int | None = Field(default=None, index=True)
    channel: str = Field(max_length=16)
    chat_id: str = Field(max_length=64)
    # The chat is a group: known where the row is written (the event that caused it), so the
    # sender paces it at the group rate whatever the platform's chat ids look like.
    is_group: bool = Field(default=False, sa_column=Column(
        Boolean, nullable=False, default=False, server_default=false()))
    text: str = Field(sa_column=Column(Text, nullable=False))
    buttons: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))  # JSON
    file_id: int | None = Field(default=None, foreign_key="stored_file.id")
    file_name: str | None = Field(default=None, max_length=255)
    target_id: int | None = None
    assignment_id: int | None = None
    extension_id: int | None = Field(default=None, foreign_key="extension_request.id")
    reminder_id: int | None = None
    priority: int = 0  # 0 = a reply to a user, 1 = bulk (reminders, task fan-out)
    created_at: datetime
    # Bulk written in quiet hours or on a day off waits until then (`core.policy.bulk_wait`).
    not_before: datetime | None = None
    sent_at: datetime | None = None
    attempts: int = 0
    claimed_by: str | None = Field(default=None, max_length=64)
    claimed_at: datetime | None = None
    platform_message_id: str | None = Field(default=None, max_length=64)
    pressed: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))  # JSON
    error: str | None = Field(default=None, max_length=500)


class Dialogue(SQLModel, table=True):
    """The open guided conversation of a member, so a restart loses nothing."""

    member_id: int = Field(foreign_key="member.id", primary_key=True)
    kind: str = Field(max_length=32)
    data: str = Field(sa_column=Column(Text, nullable=False))  # JSON
    updated_at: datetime


class PlanDraft(SQLModel, table=True):
    """A plan read by `/kehoach`: the duties found in it (JSON), kept so that each one's button
    opens a `/giao` draft later, and which of them have become tasks (`sent`: duty → #N)."""

    __tablename__ = "plan_draft"

    id: int | None = Field(default=None, primary_key=True)
    member_id: int = Field(foreign_key="member.id", index=True)
    file_id: int | None = Field(default=None, foreign_key="stored_file.id")
    name: str = Field(max_length=255)  # the file's name, or «nội dung dán vào»
    duties: str = Field(sa_column=Column(Text, nullable=False))
    sent: str = Field(default="{}", sa_column=Column(Text, nullable=False, default="{}"))
    created_at: datetime


class AuditLog(SQLModel, table=True):
    """Who changed what, when, and from which channel (`cli` for the admin command line)."""

    __tablename__ = "audit_log"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(index=True)
    member_id: int | None = Field(default=None, foreign_key="member.id")
    actor: str = Field(max_length=255)
    channel: str = Field(default="", max_length=16, sa_column_kwargs={"server_default": text("''")})
    assignment_id: int | None = Field(default=None, index=True)
    action: str = Field(max_length=64)
    detail: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))


class InboundUpdate(SQLModel, table=True):
    """A platform update as it arrived (the inbox, the outbox's counterpart): recorded in a
    commit of its own before the platform is told it was received, unique per channel and
    `key` (Telegram's update id, Zalo's event and message id), and marked handled in the
    same transaction as its effects, so it is handled once even when delivered twice or
    when the process dies in between. `claimed_by` names the worker handling it."""

    __tablename__ = "inbound_update"
    __table_args__ = (UniqueConstraint("channel", "key"),
                      Index("ix_inbound_update_pending", "handled_at", "channel", "id"))

    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=16)
    key: str = Field(max_length=128)
    payload: str = Field(sa_column=Column(Text, nullable=False))  # the update, as JSON
    received_at: datetime
    claimed_by: str | None = Field(default=None, max_length=64)
    claimed_at: datetime | None = None
    attempts: int = 0  # failed handlings: an update that keeps failing is given up
    handled_at: datetime | None = None


class SeenEvent(SQLModel, table=True):
    """A platform update or a one-time link already handled: `key` is unique per channel,
    written in the same transaction as the event's effects, so a re-delivered update (even
    after a restart) or a second use of an upload link records nothing."""

    __tablename__ = "seen_event"
    __table_args__ = (UniqueConstraint("channel", "key"),)

    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=16)
    key: str = Field(max_length=128)
    seen_at: datetime


class PublishedMenu(SQLModel, table=True):
    """The command menu last published in a chat of its own (a member whose roles call for
    more than a reporter's menu): a restart, or a second bot process, publishes only the
    menus that changed, each once (`storage.chats.claim_menus`)."""

    __tablename__ = "published_menu"

    channel: str = Field(primary_key=True, max_length=16)
    chat_id: str = Field(primary_key=True, max_length=64)
    menu: str = Field(max_length=1000)  # its language and commands: "vi:giao,tiendo,..."


class RateLimit(SQLModel, table=True):
    """The sending limiter shared by every bot process: for each key (a channel overall,
    one chat) the wall-clock moment (Unix seconds) when its next message may go out."""

    __tablename__ = "rate_limit"

    key: str = Field(primary_key=True, max_length=96)
    next_at: float = Field(default=0.0, sa_column=Column(Double, nullable=False, default=0.0))
