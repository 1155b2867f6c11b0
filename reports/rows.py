"""The data the chart, the workbook and the archive are built from: one `TaskReport` per task
with one `TargetRow` per unit and period, already read from the database."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from core.i18n import N_, Translator
from core.progress import EXCUSED, IN_PROGRESS, SUBMITTED  # per row: module names
from core.states import AssignmentState, TargetState

STATE_LABELS: dict[str, str] = {
    TargetState.PENDING: N_("Chưa nộp"),
    TargetState.IN_PROGRESS: N_("Đang làm"),
    TargetState.SUBMITTED: N_("Đã nộp"),
    TargetState.EXCUSED: N_("Được miễn"),
}
# How a report sent another way went (`Submission.route`); the bot's own answers have none.
ROUTE_LABELS = {
    "email": N_("E-mail"),
    "paper": N_("Bản giấy"),
    "eoffice": N_("Hệ thống văn bản điện tử"),
    "other": N_("Đường khác"),
}


@dataclass(frozen=True)
class TargetRow:
    """One unit's duty for a task and period, with its latest answer. It has the fields
    `core.progress.figures` counts."""

    code: str
    name: str
    deadline: datetime
    state: str
    groups: tuple[str, ...] = ()
    period: str = ""
    submitted_at: datetime | None = None
    on_time: bool | None = None
    extension_granted: bool = False
    percent: int | None = None
    nil_report: bool = False
    reporter: str = ""  # who sent the latest answer
    status_text: str = ""  # the latest answer's words
    route: str = ""  # the latest answer was a report sent another way: email|paper|...
    file_name: str = ""  # the latest file sent
    file_sha256: str | None = None
    file_mime: str = ""
    file_size: int = 0

    def delay_days(self, now: datetime) -> float | None:
        """Days past the deadline: of a late answer, or so far for a missing one; 0 when on
        time; None while a missing answer is not yet due (or excused)."""
        if self.state == EXCUSED:
            return None
        if self.state == SUBMITTED:
            if self.on_time or self.submitted_at is None:
                return 0.0
            end = self.submitted_at
        elif now > self.deadline:
            end = now
        else:
            return None
        return round(max(0.0, (end - self.deadline).total_seconds() / 86400), 1)

    def state_label(self, t: Translator) -> str:
        if self.state == IN_PROGRESS and self.percent is not None:
            return t("Đang làm {percent}%", percent=self.percent)
        if self.state == SUBMITTED and self.nil_report:
            return t("Đã nộp (không có số liệu)")
        return t(STATE_LABELS.get(self.state, self.state))

    def route_label(self, t: Translator) -> str:
        """«E-mail», «Bản giấy»...: how the latest answer says the report was sent, when it
        did not come through the bot; "" otherwise."""
        return t(ROUTE_LABELS[self.route]) if self.route in ROUTE_LABELS else ""

    def timing_label(self, t: Translator) -> str:
        if self.state != SUBMITTED or self.on_time is None:
            return ""
        return t("Đúng hạn") if self.on_time else t("Trễ hạn")


@dataclass(frozen=True)
class TreeRow:
    """A unit below an office that handed the task down: which office, which hand-down."""

    office_code: str
    office_name: str
    number: int  # the hand-down's task number
    row: TargetRow


@dataclass(frozen=True)
class TaskReport:
    number: int
    title: str
    deadline: datetime  # the period's deadline (the earliest, when extensions moved some)
    state: str = AssignmentState.ACTIVE
    rows: list[TargetRow] = field(default_factory=list)
    period: str = ""  # a recurring task's period; "" for a one-off task
    # Hand-downs (cascade): per office code, "#M: X/Y"; and every unit of the tree below.
    hand_downs: dict[str, str] = field(default_factory=dict)
    tree: list[TreeRow] = field(default_factory=list)

    def heading(self, t: Translator) -> str:
        heading = t("#{number} «{title}»", number=self.number, title=self.title)
        return heading + t(" kỳ {period}", period=self.period) if self.period else heading
