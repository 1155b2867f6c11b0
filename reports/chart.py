"""The progress chart of a task: units on time, late and missing, for all units and per
group, and the answers day by day towards the deadline; a PNG 1080 px wide (a phone
screen's width) in the reader's language. Drawn on the Agg canvas directly, without
pyplot's global state."""

from __future__ import annotations

import textwrap
import unicodedata
from collections import defaultdict
from datetime import date, datetime, timedelta
from io import BytesIO
from typing import TYPE_CHECKING

from core.clock import to_local
from core.i18n import Translator
from core.progress import SUBMITTED, figures
from core.text import fold
from reports.rows import TargetRow, TaskReport

if TYPE_CHECKING:
    from matplotlib.axes import Axes

WIDTH_PX = 1080
DPI = 100
MAX_GROUPS = 20  # more bars than this are unreadable on a phone
MAX_DAYS = 31
FONT = "DejaVu Sans"  # ships with matplotlib and has every Vietnamese letter
COLOURS = ("#2e7d32", "#f9a825", "#c62828")  # on time, late, missing


def _nfc(text: str) -> str:
    """Precomposed letters: the font has them, not every combining-mark sequence."""
    return unicodedata.normalize("NFC", text)


def bars(report: TaskReport, now: datetime) -> list[tuple[str | None, tuple[int, int, int]]]:
    """(group name or None for all units, (on time, late, missing)); excused units are left
    out, and groups with nothing expected. A unit in several groups counts in each; the
    largest groups are kept."""
    def counts(rows: list[TargetRow]) -> tuple[int, int, int]:
        f = figures(rows, now)
        return f.on_time, f.late, f.missing

    by_group: dict[str, list[TargetRow]] = defaultdict(list)
    for row in report.rows:
        for group in row.groups:
            by_group[group].append(row)
    by_group = {g: rows for g, rows in by_group.items() if figures(rows, now).expected}
    kept = sorted(by_group, key=lambda g: (-len(by_group[g]), fold(g)))[:MAX_GROUPS]
    kept.sort(key=fold)
    return [(None, counts(report.rows))] + [(g, counts(by_group[g])) for g in kept]


def office_bars(report: TaskReport, now: datetime) -> list[tuple[str, tuple[int, int, int]]]:
    """The level below each office that handed the task down (cascade): (office code, (on
    time, late, missing)) over the units of its hand-down, by code; at most MAX_GROUPS."""
    by_office: dict[str, list[TargetRow]] = defaultdict(list)
    for below in report.tree:
        by_office[below.office_code].append(below.row)
    out = []
    for code in sorted(by_office)[:MAX_GROUPS]:
        f = figures(by_office[code], now)
        out.append((code, (f.on_time, f.late, f.missing)))
    return out


def days(report: TaskReport) -> list[tuple[date, int, int]]:
    """(local day, submitted on time, submitted late) for each day from a week before the
    deadline (or the first answer, if earlier) to the deadline (or the last answer, if
    later); at most the last MAX_DAYS days."""
    daily: dict[date, list[int]] = defaultdict(lambda: [0, 0])
    for row in report.rows:
        if row.state == SUBMITTED and row.submitted_at is not None:
            daily[to_local(row.submitted_at).date()][0 if row.on_time else 1] += 1
    due = to_local(report.deadline).date()
    first = min([due - timedelta(days=7), *daily])
    last = max([due, *daily])
    first = max(first, last - timedelta(days=MAX_DAYS - 1))
    span = (last - first).days + 1
    return [(d, *daily.get(d, (0, 0))) for d in (first + timedelta(n) for n in range(span))]


def _groups_panel(axes: Axes, report: TaskReport, t: Translator, now: datetime) -> None:
    groups = bars(report, now)
    offices = office_bars(report, now)
    labels = [_nfc(t("Tất cả đơn vị") if g is None else f"@{g}") for g, _ in groups] + [
        _nfc(t("Cấp dưới {office}", office=code)) for code, _ in offices]
    data = [*groups, *offices]
    series = (t("Đã nộp đúng hạn"), t("Trễ hạn"), t("Chưa nộp"))
    positions = list(range(len(data)))[::-1]  # "all units" on top
    left = [0] * len(data)
    for index, (name, colour) in enumerate(zip(series, COLOURS, strict=True)):
        values = [c[index] for _, c in data]
        drawn = axes.barh(positions, values, left=left, color=colour, label=_nfc(name),
                          height=0.7)
        axes.bar_label(drawn, labels=[t.number(v) if v else "" for v in values],
                       label_type="center", color="white", fontweight="bold", fontsize=15)
        left = [a + b for a, b in zip(left, values, strict=True)]
    axes.set_yticks(positions, labels)
    axes.set_xlabel(_nfc(t("Số đơn vị")))
    axes.xaxis.get_major_locator().set_params(integer=True)  # type: ignore[call-arg]  # a MaxNLocator
    axes.spines[["top", "right"]].set_visible(False)
    f = figures(report.rows, now)
    summary = t("Đã nộp {submitted}/{expected} · đúng hạn {on_time} · trễ hạn {late} · "
                "chưa nộp {missing}", submitted=t.number(f.submitted),
                expected=t.number(f.expected), on_time=t.number(f.on_time),
                late=t.number(f.late), missing=t.number(f.missing))
    axes.set_title(_nfc(summary + "\n" + t("Cập nhật {moment}", moment=t.moment(now))),
                   fontsize=15, loc="left", color="#444444")


def _days_panel(axes: Axes, report: TaskReport, t: Translator) -> None:
    data = days(report)
    positions = range(len(data))
    on_time = [d[1] for d in data]
    axes.bar(positions, on_time, color=COLOURS[0], width=0.8)
    axes.bar(positions, [d[2] for d in data], bottom=on_time, color=COLOURS[1], width=0.8)
    due = to_local(report.deadline).date()
    marker = next(i for i, d in enumerate(data) if d[0] >= due) if data[-1][0] >= due else None
    if marker is not None:
        axes.axvline(marker + 0.5, color=COLOURS[2], linestyle="--", linewidth=2)
        axes.annotate(_nfc(t("Hạn nộp")), (marker + 0.5, 1), xycoords=("data", "axes fraction"),
                      xytext=(6, -6), textcoords="offset points", va="top",
                      color=COLOURS[2], fontsize=15)
    step = -(-len(data) // 6)  # about six dates fit a phone-width axis without touching
    axes.set_xticks(list(positions)[::step], [d[0].strftime("%d/%m") for d in data][::step])
    most = max((d[1] + d[2] for d in data), default=0)
    axes.set_ylim(0, max(1, most) * 1.15)  # no answers yet: an axis from 0, not ±0.04
    axes.yaxis.get_major_locator().set_params(integer=True)  # type: ignore[call-arg]  # a MaxNLocator
    axes.spines[["top", "right"]].set_visible(False)
    axes.set_title(_nfc(t("Số đơn vị nộp mỗi ngày")), fontsize=15, loc="left",
                   color="#444444")


def build_chart(report: TaskReport, t: Translator, now: datetime) -> bytes:
    """The PNG bytes of `report`'s chart as of `now`: per group above, per day below."""
    # Imported here: matplotlib and numpy cost a bot process 50 MB and most of a second at
    # start, for the few who ask for a chart.
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    count = len(bars(report, now)) + len(office_bars(report, now))
    height = 7.5 + 0.7 * count
    figure = Figure(figsize=(WIDTH_PX / DPI, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    with matplotlib.rc_context({"font.family": FONT, "font.size": 17}):
        groups, per_day = figure.subplots(2, 1, height_ratios=(max(2.0, 0.7 * count), 3.2))
        _groups_panel(groups, report, t, now)
        _days_panel(per_day, report, t)
        figure.legend(handles=groups.containers, loc="outside lower center", ncol=3,
                      frameon=False, fontsize=15)
        title = "\n".join(textwrap.wrap(_nfc(report.heading(t)), 52)[:2])
        figure.suptitle(title, fontsize=20, fontweight="bold", x=0.02, ha="left")
        buffer = BytesIO()
        figure.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()
