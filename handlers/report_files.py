"""Pictures and files of a task's progress for staff and leaders: the chart (`[Biểu đồ]`,
`r:chart:N`), the workbook (`[Excel]`, `r:xlsx:N`) and the zip of the files units sent
(`/tainop #N`), over the units the reader's scope holds. Reporters are refused.

A task may have 50,000 units, so the file is made outside the event's transaction
(`Context.later`, see `handlers/dispatcher.py`): the event's transaction checks who asks and
which task, then the report's rows are read in a read-only transaction, the file is built and
put in the file store in a worker thread with no transaction open (no lock that other chats
would wait for), and a last short transaction records the file, queues the reply and the
audit row, and marks the event handled."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from core.callbacks import ReportFile
from core.i18n import Translator
from core.text import excerpt
from handlers import files
from handlers.context import Context, Later
from reports.archive import build_archives, with_files
from reports.chart import build_chart
from reports.excel import build_workbook
from reports.load import task_report
from reports.rows import TaskReport
from services.scope import find_task, task_target_filter
from storage.filestore import FileStore
from storage.models import Outbox

PNG = "image/png"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
ZIP = "application/zip"
MAX_ARCHIVE_BYTES = 45 * 1024 * 1024  # each zip part stays under the Bot API's 50 MB upload


@dataclass(frozen=True)
class Made:
    """A file built and put in the file store, to be sent with its caption."""

    name: str
    sha256: str
    size: int
    mime: str
    caption: str


@dataclass(frozen=True)
class Outcome:
    """What a build gives the reader: files, or a text saying why there are none."""

    number: int  # the task's
    made: tuple[Made, ...] = ()
    text: str = ""


# A report -> the files to send [(name, bytes, type, caption)], or a text telling why none.
Maker = Callable[[TaskReport], list[tuple[str, bytes, str, str]] | str]


async def _allowed(ctx: Context) -> bool:
    if not ctx.scope.sees_offices:
        await ctx.reply(ctx.t("Biểu đồ, tệp Excel và tệp nén bài nộp chỉ dành cho cán bộ và lãnh "
                        "đạo. Gõ /tiendo để xem tiến độ của đơn vị mình."))
        return False
    if ctx.event is not None and ctx.event.is_group:  # every member of the group would see
        await ctx.reply(ctx.t("Biểu đồ, tệp Excel và bài nộp của các đơn vị chỉ gửi trong tin nhắn "
                        "riêng với bot, không gửi vào nhóm. Hãy nhắn riêng cho bot."))
        return False
    return True


async def _send_later(ctx: Context, ref: str, make: Maker) -> None:
    """Find the task `#N` the reader may see (or tell them what is wrong), then have its
    report read and its files made by `make` after this transaction."""
    t = ctx.t
    if not await _allowed(ctx):
        return
    if not ref.strip():
        await ctx.reply(t("Gõ /tainop #số để tải các tệp đơn vị đã nộp, ví dụ: /tainop #1."))
        return
    assignment = await find_task(ctx.session, ctx.scope, ref)
    if assignment is None:
        await ctx.reply(t("Không có nhiệm vụ «{ref}». Gõ /tiendo để xem các nhiệm vụ đang mở.",
                          ref=excerpt(ref)))
        return
    seen = await task_target_filter(ctx.session, ctx.scope, assignment)
    ctx.later(Later(read=lambda session: task_report(session, assignment, seen),
                    build=lambda report: _build(report, make, ctx.files, t),
                    finish=_finish))


def _build(report: TaskReport, make: Maker, store: FileStore, t: Translator) -> Outcome:
    """In the worker thread: the files of `report`, put in the file store."""
    if not report.rows:
        return Outcome(report.number, text=t("Nhiệm vụ {task} chưa giao cho đơn vị nào.",
                                             task=report.heading(t)))
    made = make(report)
    if isinstance(made, str):
        return Outcome(report.number, text=made)
    return Outcome(report.number, tuple(Made(name, store.put(data), len(data), mime, caption)
                                        for name, data, mime, caption in made))


async def _finish(ctx: Context, outcome: Outcome) -> None:
    """In the last transaction: record the files, queue the replies, audit."""
    if outcome.text:
        await ctx.reply(outcome.text)
        return
    for made in outcome.made:
        stored = await files.record(ctx, made.sha256, made.size, made.name, made.mime)
        await ctx.reply(made.caption, file_id=stored.id, file_name=made.name)
        await ctx.audit("report_file", task=outcome.number, name=made.name, size=made.size)


async def send_chart(ctx: Context, ref: str) -> None:
    """The chart of task `ref`, as a picture."""
    t, now = ctx.t, ctx.now

    def chart(report: TaskReport) -> list[tuple[str, bytes, str, str]]:
        return [(f"bieu-do-nhiem-vu-{report.number}.png", build_chart(report, t, now), PNG,
                 t("Biểu đồ tiến độ nhiệm vụ {task}, lúc {moment}.", task=report.heading(t),
                   moment=t.moment(now)))]

    await _send_later(ctx, ref, chart)


async def send_workbook(ctx: Context, ref: str) -> None:
    """The workbook of task `ref`: its figures and a row per unit."""
    t, now = ctx.t, ctx.now

    def workbook(report: TaskReport) -> list[tuple[str, bytes, str, str]]:
        return [(f"tien-do-nhiem-vu-{report.number}.xlsx", build_workbook([report], t, now),
                 XLSX, t("Bảng tiến độ nhiệm vụ {task} ({n} đơn vị), lúc {moment}.",
                         task=report.heading(t), n=t.number(len(report.rows)),
                         moment=t.moment(now)))]

    await _send_later(ctx, ref, workbook)


async def handle_tainop(ctx: Context, args: str) -> None:
    """`/tainop #N`: the latest file of every unit, in one zip, or in parts small enough
    to send."""
    t, store = ctx.t, ctx.files

    def archives(report: TaskReport) -> list[tuple[str, bytes, str, str]] | str:
        sent = with_files(report)
        if not sent:
            return t("Chưa đơn vị nào gửi tệp cho nhiệm vụ {task}.", task=report.heading(t))
        parts = build_archives(report, store.get, MAX_ARCHIVE_BYTES)
        caption = t("Tệp của {n}/{total} đơn vị cho nhiệm vụ {task}.", n=t.number(len(sent)),
                    total=t.number(len(report.rows)), task=report.heading(t))
        if len(parts) == 1:
            return [(f"bai-nop-nhiem-vu-{report.number}.zip", parts[0], ZIP, caption)]
        return [(f"bai-nop-nhiem-vu-{report.number}-phan-{index}.zip", data, ZIP,
                 caption + " " + t("(phần {i}/{n})", i=index, n=len(parts)))
                for index, data in enumerate(parts, start=1)]

    await _send_later(ctx, args, archives)


async def on_button(ctx: Context, parts: list[str], source: Outbox) -> None:
    """`r:chart:N` and `r:xlsx:N` under `/tiendo #N`."""
    press = ReportFile.from_parts(parts)
    if press is not None and press.kind == "chart":
        await send_chart(ctx, str(press.number))
    elif press is not None:
        await send_workbook(ctx, str(press.number))
    else:
        await ctx.reply(ctx.t("Nút này không còn hiệu lực. Gõ /help để xem các lệnh."))
