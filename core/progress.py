"""Progress figures as national reporting systems count them: completeness = submitted /
expected, timeliness = on time / expected."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


class TargetLike(Protocol):
    state: str
    on_time: bool | None
    extension_granted: bool
    deadline: datetime


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

    @property
    def completeness(self) -> float:
        return 100.0 * self.submitted / self.expected if self.expected else 0.0

    @property
    def timeliness(self) -> float:
        return 100.0 * self.on_time / self.expected if self.expected else 0.0


def figures(targets: Iterable[TargetLike], now: datetime) -> Figures:
    counts = dict.fromkeys(Figures.__dataclass_fields__, 0)
    for target in targets:
        if target.state == "excused":
            counts["excused"] += 1
            continue
        counts["expected"] += 1
        counts["extended"] += int(target.extension_granted)
        if target.state == "submitted":
            counts["submitted"] += 1
            counts["on_time" if target.on_time else "late"] += 1
        else:
            counts["missing"] += 1
            counts["in_progress"] += int(target.state == "in_progress")
            counts["overdue"] += int(now > target.deadline)
    return Figures(**counts)
