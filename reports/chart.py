"""The progress chart of a task: units on time, late and missing, all units and per group,
as a PNG 1080 px wide (a phone screen's width) in the reader's language. Drawn on the Agg
canvas directly, without pyplot's global state."""

from __future__ import annotations

import textwrap
import unicodedata
from collections import defaultdict
from datetime import datetime
from io import BytesIO

import matplotlib
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from core.i18n import Translator
from core.progress import figures
from core.text import fold
from reports.rows import TargetRow, TaskReport

WIDTH_PX = 1080
DPI = 100
MAX_GROUPS = 20  # more bars than this are unreadable on a phone
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


def build_chart(report: TaskReport, t: Translator, now: datetime) -> bytes:
    """The PNG bytes of `report`'s chart as of `now`."""
    data = bars(report, now)
    labels = [_nfc(t("Tất cả đơn vị") if g is None else f"@{g}") for g, _ in data]
    series = (t("Đã nộp đúng hạn"), t("Trễ hạn"), t("Chưa nộp"))
    height = max(8.0, 4.0 + 0.7 * len(data))
    figure = Figure(figsize=(WIDTH_PX / DPI, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    with matplotlib.rc_context({"font.family": FONT, "font.size": 17}):
        axes = figure.add_subplot()
        positions = list(range(len(data)))[::-1]  # "all units" on top
        left = [0] * len(data)
        for index, (name, colour) in enumerate(zip(series, COLOURS, strict=True)):
            values = [c[index] for _, c in data]
            drawn = axes.barh(positions, values, left=left, color=colour, label=_nfc(name),
                              height=0.7)
            shown = [t.number(v) if v else "" for v in values]
            axes.bar_label(drawn, labels=shown, label_type="center", color="white",
                           fontweight="bold", fontsize=15)
            left = [a + b for a, b in zip(left, values, strict=True)]
        axes.set_yticks(positions, labels)
        axes.set_xlabel(_nfc(t("Số đơn vị")))
        axes.xaxis.get_major_locator().set_params(integer=True)
        axes.spines[["top", "right"]].set_visible(False)
        figure.legend(loc="outside lower center", ncol=3, frameon=False, fontsize=15)
        f = figures(report.rows, now)
        title = "\n".join(textwrap.wrap(_nfc(report.heading(t)), 52)[:2])
        summary = t("Đã nộp {submitted}/{expected} · đúng hạn {on_time} · trễ hạn {late} · "
                    "chưa nộp {missing}", submitted=t.number(f.submitted),
                    expected=t.number(f.expected), on_time=t.number(f.on_time),
                    late=t.number(f.late), missing=t.number(f.missing))
        figure.suptitle(title, fontsize=20, fontweight="bold", x=0.02, ha="left")
        axes.set_title(_nfc(summary + "\n" + t("Cập nhật {moment}", moment=t.moment(now))),
                       fontsize=15, loc="left", color="#444444")
        buffer = BytesIO()
        figure.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()
