"""Progress figures as national reporting systems count them.

For a set of targets (one task and period, a unit over time, a group rolled up through the
unit tree):

- expected: targets that are owed, i.e. every target except the excused ones;
- submitted = on time + late; a nil report ("không phát sinh") is a submission;
- missing = expected - submitted; overdue: missing and past the (possibly extended) deadline;
- extended: targets whose deadline was moved by a granted extension (on time is measured
  against the moved deadline);
- completeness = submitted / expected, timeliness = on time / expected;
- over time, a unit *owes* a target once it is submitted or its deadline has passed:
  owed = on time + late + overdue, and the mean delay is the mean of (submitted at -
  deadline) over the late submissions, in days.

A re-submission never changes a target's figures: the first submission counts.

The figures are tallied from `Group`s — targets that share the fields that matter, with their
count — so that the database can aggregate millions of targets with one GROUP BY and this
module still holds the only copy of the rules.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple, Protocol

from core.states import TargetState

DAY_SECONDS = 86400.0
# The states as module names: `group_of` runs once per target, and a module name is reached
# several times faster than an enum's member.
SUBMITTED, EXCUSED, REMOVED, IN_PROGRESS = (TargetState.SUBMITTED, TargetState.EXCUSED,
                                            TargetState.REMOVED, TargetState.IN_PROGRESS)


class TargetLike(Protocol):
    """What the figures read of a target (a table row or a report's frozen row)."""

    @property
    def state(self) -> str: ...
    @property
    def on_time(self) -> bool | None: ...
    @property
    def extension_granted(self) -> bool: ...
    @property
    def nil_report(self) -> bool: ...
    @property
    def deadline(self) -> datetime: ...
    @property
    def submitted_at(self) -> datetime | None: ...


class Group(NamedTuple):
    """`count` targets sharing these fields, `past` of them past their deadline;
    `delay_days`: their summed late delay."""

    state: str
    on_time: bool | None
    extended: bool
    nil_report: bool
    count: int = 1  # type: ignore[assignment]  # a field named like tuple.count
    past: int = 0
    delay_days: float = 0.0


@dataclass(frozen=True)
class Figures:
    expected: int = 0
    submitted: int = 0
    on_time: int = 0
    late: int = 0
    missing: int = 0
    overdue: int = 0  # missing and past their deadline
    excused: int = 0
    in_progress: int = 0
    extended: int = 0
    nil: int = 0
    delay_days: float = 0.0  # summed over the late submissions

    @property
    def completeness(self) -> float:
        """Percent submitted of expected (0 when nothing is expected)."""
        return 100.0 * self.submitted / self.expected if self.expected else 0.0

    @property
    def timeliness(self) -> float:
        """Percent submitted on time of expected."""
        return 100.0 * self.on_time / self.expected if self.expected else 0.0

    @property
    def owed(self) -> int:
        """Targets already due: submitted, or missing past their deadline."""
        return self.submitted + self.overdue

    @property
    def mean_delay(self) -> float:
        """Mean delay of the late submissions, in days."""
        return self.delay_days / self.late if self.late else 0.0


def tally(groups: Iterable[Group]) -> Figures:
    counts: dict[str, float] = dict.fromkeys(Figures.__dataclass_fields__, 0)
    for g in groups:
        if g.state == REMOVED:
            continue
        if g.state == EXCUSED:
            counts["excused"] += g.count
            continue
        counts["expected"] += g.count
        counts["extended"] += g.count * g.extended
        if g.state == SUBMITTED:
            counts["submitted"] += g.count
            counts["nil"] += g.count * g.nil_report
            if g.on_time:
                counts["on_time"] += g.count
            else:
                counts["late"] += g.count
                counts["delay_days"] += g.delay_days
        else:
            counts["missing"] += g.count
            counts["in_progress"] += g.count * (g.state == IN_PROGRESS)
            counts["overdue"] += g.past
    delay = counts.pop("delay_days")
    return Figures(**{k: int(v) for k, v in counts.items()}, delay_days=delay)


def group_of(target: TargetLike, now: datetime) -> Group:
    late_by = 0.0
    if target.state == SUBMITTED and not target.on_time and target.submitted_at is not None:
        late_by = max(0.0, (target.submitted_at - target.deadline).total_seconds() / DAY_SECONDS)
    return Group(target.state, target.on_time, target.extension_granted, target.nil_report,
                 1, int(now > target.deadline), late_by)


def figures(targets: Iterable[TargetLike], now: datetime) -> Figures:
    """The figures of targets already loaded (each one its own group)."""
    return tally(group_of(target, now) for target in targets)


class History(NamedTuple):
    """What a target adds to its unit's history counters (`storage.tally`): submitted on
    time, late, the late delay in days (as the database computes it: not clamped, and only
    when on time is known to be false), and still open (to be sent, due or not)."""

    on_time: int = 0
    late: int = 0
    delay_days: float = 0.0
    open: int = 0

    def __add__(self, other: object) -> History:
        assert isinstance(other, History)
        return History._make(a + b for a, b in zip(self, other, strict=True))

    def __neg__(self) -> History:
        return History._make(-a for a in self)


def history_of(state: str, on_time: bool | None, submitted_at: datetime | None,
               deadline: datetime) -> History:
    """The counters of one target; `tally` counts a submission that is not on time as late."""
    if state == SUBMITTED:
        if on_time:
            return History(on_time=1)
        delay = 0.0
        if on_time is False and submitted_at is not None:
            delay = (submitted_at - deadline).total_seconds() / DAY_SECONDS
        return History(late=1, delay_days=delay)
    if state in (EXCUSED, REMOVED):
        return History()
    return History(open=1)


def history_figures(h: History, not_due: int) -> Figures:
    """Figures over time from summed counters, `not_due` of the open targets being before
    their deadline; the same as `tally` gives for expected, submitted, on time, late, missing,
    overdue and the delay (the other fields stay 0)."""
    submitted = h.on_time + h.late
    return Figures(expected=submitted + h.open, submitted=submitted, on_time=h.on_time,
                   late=h.late, missing=h.open, overdue=h.open - not_due,
                   delay_days=h.delay_days)


def pages(total: int, size: int) -> int:
    """How many pages `total` items fill (at least one)."""
    return max(1, -(-total // size))
