"""Every change of a target, as a pure function from its facts to its new facts.

`services.targets` reads a target under a row lock, hands its `Facts` to one of these and
writes back what changed, moving the counters with it. The rules live only here:

- the first submission's time counts: a re-submission keeps `submitted_at` and `on_time`;
- on time means submitted at or before the deadline that applies, and every change of the
  deadline (an extension, the task's deadline moved) judges a submission already made again;
- a task's deadline moved earlier keeps a granted extension that runs past it;
- the state can always be recounted from the answers not withdrawn (`recount`), with the
  result the answers gave when they came one by one.

Nothing here refuses a change: the handlers decide whether one applies (a closed task, an
excused unit...) and tell the user why not.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields, replace
from datetime import datetime
from enum import StrEnum
from typing import NamedTuple

from core.states import REPORT_KINDS, AssignmentState, Requires, SubmissionKind, TargetState


@dataclass(frozen=True)
class Facts:
    """What the rules read and write of one target."""

    state: TargetState
    deadline: datetime  # moved by a granted extension
    submitted_at: datetime | None = None  # the first submission's time
    on_time: bool | None = None  # known once submitted
    percent: int | None = None  # the progress last reported
    extension_granted: bool = False
    nil_report: bool = False


FIELDS = tuple(field.name for field in fields(Facts))


def _judged(facts: Facts) -> Facts:
    """`facts` with a submission already made judged against the deadline they hold."""
    if facts.submitted_at is None:
        return facts
    return replace(facts, on_time=facts.submitted_at <= facts.deadline)


def submit(facts: Facts, now: datetime, nil: bool = False) -> tuple[Facts, bool]:
    """A report (or «nothing to report», `nil`) at `now`, and whether it was a re-submission
    (which keeps the first one's time and judgement)."""
    if facts.state == TargetState.SUBMITTED:
        return replace(facts, percent=100, nil_report=nil), True
    return replace(facts, state=TargetState.SUBMITTED, percent=100, nil_report=nil,
                   submitted_at=now, on_time=now <= facts.deadline), False


def progress(facts: Facts, percent: int | None) -> Facts:
    """Work in progress (at `percent`); a submitted target stays submitted."""
    if facts.state == TargetState.SUBMITTED:
        return facts
    return replace(facts, state=TargetState.IN_PROGRESS, percent=percent)


def excuse(facts: Facts) -> Facts:
    return replace(facts, state=TargetState.EXCUSED, percent=None)


def take_back_excuse(facts: Facts, percent: int | None) -> Facts:
    """The excuse withdrawn: owed again as before (in progress at the last percent reported,
    if any)."""
    state = TargetState.PENDING if percent is None else TargetState.IN_PROGRESS
    return replace(facts, state=state, percent=percent)


def extend(facts: Facts, until: datetime) -> Facts:
    """An extension granted to `until`."""
    return _judged(replace(facts, deadline=until, extension_granted=True))


def remove(facts: Facts) -> Facts:
    """The unit taken off the task: everything else stays, as history."""
    return replace(facts, state=TargetState.REMOVED)


def owe_again(facts: Facts, deadline: datetime) -> Facts:
    """A unit taken off the task and added again: it owes the task anew, by `deadline`."""
    return Facts(TargetState.PENDING, deadline)


def move_deadline(facts: Facts, due: datetime) -> Facts:
    """The task's deadline moved to `due`; an extension running past it is kept."""
    if facts.extension_granted and facts.deadline > due:
        return _judged(facts)
    return _judged(replace(facts, deadline=due))


class Answer(NamedTuple):
    """A submission as `recount` reads it."""

    kind: str
    at: datetime
    percent: int | None = None


def recount(facts: Facts, answers: Iterable[Answer], requires: str) -> Facts:
    """The facts the answers not withdrawn (in the order they came) leave: the first report
    counts (its time judges on time), a file alone is not enough where the task asks for a
    file and «đã xong», and without a report the latest progress stands. Excused and
    removed targets stay as they are."""
    if facts.state in (TargetState.EXCUSED, TargetState.REMOVED):
        return facts
    submitted_at: datetime | None = None
    nil, percent, progressed, done = False, None, False, False
    for answer in answers:
        if answer.kind == SubmissionKind.PROGRESS and submitted_at is None:
            progressed, percent = True, answer.percent
        if answer.kind == SubmissionKind.DONE:
            done = True
        if answer.kind not in REPORT_KINDS:
            continue
        if answer.kind == SubmissionKind.FILE and requires == Requires.BOTH and not done:
            continue
        submitted_at = submitted_at or answer.at
        nil = answer.kind == SubmissionKind.NIL
    if submitted_at is not None:
        return replace(facts, state=TargetState.SUBMITTED, submitted_at=submitted_at,
                       percent=100, on_time=submitted_at <= facts.deadline, nil_report=nil)
    state = TargetState.IN_PROGRESS if progressed else TargetState.PENDING
    return replace(facts, state=state, submitted_at=None, on_time=None, percent=percent,
                   nil_report=False)


# --- a task ------------------------------------------------------------------------------


class TaskRefusal(StrEnum):
    """Why a task does not go to the state asked for."""

    CANCELLED = "cancelled"  # a cancelled task is neither closed nor reopened
    ALREADY = "already"  # it is in that state already


def task_refusal(was: str, state: str) -> TaskRefusal | None:
    """Whether a task in state `was` may be closed, reopened or cancelled (`state`)."""
    if was == AssignmentState.CANCELLED:
        return TaskRefusal.CANCELLED
    return TaskRefusal.ALREADY if was == state else None


def in_history(state: str) -> bool:
    """Whether a task's targets count in their units' history: every task not cancelled."""
    return state != AssignmentState.CANCELLED


def history_move(was: str, state: str) -> int:
    """How a task's targets move in their units' history when it goes from `was` to `state`:
    -1 out (cancelled), +1 back in (a cancel undone), 0 not at all (closed, reopened)."""
    return in_history(state) - in_history(was)
