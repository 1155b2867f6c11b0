"""Pictures and files of a task's progress for staff and leaders: the chart (`[Biểu đồ]`,
`r:chart:N`), the workbook (`[Excel]`, `r:xlsx:N`) and the zip of the files units sent
(`/tainop #N`), over the units the reader's scope holds. Reporters are refused. The workbook
and the zip are built in a worker thread (a task with 50,000 units takes seconds) so that the
event loop is not blocked; the chart (under a second) is drawn here, as matplotlib's settings are
process-wide."""

from __future__ import annotations

import asyncio

from core.text import excerpt
from handlers import files
from handlers.context import Context
from reports.archive import build_archives, with_files
from reports.chart import build_chart
from reports.excel import build_workbook
from reports.load import task_report
from reports.rows import TaskReport
from services.scope import find_task, task_target_filter
from storage.models import Outbox

PNG = "image/png"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
ZIP = "application/zip"
MAX_ARCHIVE_BYTES = 45 * 1024 * 1024  # each zip part stays under the Bot API's 50 MB upload


def _allowed(ctx: Context) -> bool:
    if not ctx.scope.sees_offices:
        ctx.reply(ctx.t("Biểu đồ, tệp Excel và tệp nén bài nộp chỉ dành cho cán bộ và lãnh "
                        "đạo. Gõ /tiendo để xem tiến độ của đơn vị mình."))
        return False
    if ctx.event is not None and ctx.event.is_group:  # every member of the group would see
        ctx.reply(ctx.t("Biểu đồ, tệp Excel và bài nộp của các đơn vị chỉ gửi trong tin nhắn "
                        "riêng với bot, không gửi vào nhóm. Hãy nhắn riêng cho bot."))
        return False
    return True


async def _report(ctx: Context, ref: str) -> TaskReport | None:
    """The task `#N` with its targets, or None after telling the user what is wrong."""
    t = ctx.t
    if not _allowed(ctx):
        return None
    if not ref.strip():
        ctx.reply(t("Gõ /tainop #số để tải các tệp đơn vị đã nộp, ví dụ: /tainop #1."))
        return None
    assignment = await find_task(ctx.session, ctx.scope, ref)
    if assignment is None:
        ctx.reply(t("Không có nhiệm vụ «{ref}». Gõ /tiendo để xem các nhiệm vụ đang mở.",
                    ref=excerpt(ref)))
        return None
    report = await task_report(ctx.session, assignment,
                               await task_target_filter(ctx.session, ctx.scope, assignment))
    if not report.rows:
        ctx.reply(t("Nhiệm vụ {task} chưa giao cho đơn vị nào.", task=report.heading(t)))
        return None
    return report


async def _send(ctx: Context, report: TaskReport, name: str, data: bytes, mime: str,
                caption: str) -> None:
    stored = await files.keep(ctx, data, name, mime)
    ctx.reply(caption, file_id=stored.id, file_name=name)
    ctx.audit("report_file", task=report.number, name=name, size=len(data))


async def send_chart(ctx: Context, ref: str) -> None:
    """The chart of task `ref`, as a picture."""
    t = ctx.t
    report = await _report(ctx, ref)
    if report is None:
        return
    await _send(ctx, report, f"bieu-do-nhiem-vu-{report.number}.png",
                await asyncio.to_thread(build_chart, report, t, ctx.now), PNG,
                t("Biểu đồ tiến độ nhiệm vụ {task}, lúc {moment}.", task=report.heading(t),
                  moment=t.moment(ctx.now)))


async def send_workbook(ctx: Context, ref: str) -> None:
    """The workbook of task `ref`: its figures and a row per unit."""
    t = ctx.t
    report = await _report(ctx, ref)
    if report is None:
        return
    await _send(ctx, report, f"tien-do-nhiem-vu-{report.number}.xlsx",
                await asyncio.to_thread(build_workbook, [report], t, ctx.now), XLSX,
                t("Bảng tiến độ nhiệm vụ {task} ({n} đơn vị), lúc {moment}.",
                  task=report.heading(t), n=t.number(len(report.rows)),
                  moment=t.moment(ctx.now)))


async def handle_tainop(ctx: Context, args: str) -> None:
    """`/tainop #N`: the latest file of every unit, in one zip, or in parts small enough
    to send."""
    t = ctx.t
    report = await _report(ctx, args)
    if report is None:
        return
    sent = with_files(report)
    if not sent:
        ctx.reply(t("Chưa đơn vị nào gửi tệp cho nhiệm vụ {task}.", task=report.heading(t)))
        return
    parts = await asyncio.to_thread(build_archives, report, ctx.files.get, MAX_ARCHIVE_BYTES)
    caption = t("Tệp của {n}/{total} đơn vị cho nhiệm vụ {task}.", n=t.number(len(sent)),
                total=t.number(len(report.rows)), task=report.heading(t))
    if len(parts) == 1:
        await _send(ctx, report, f"bai-nop-nhiem-vu-{report.number}.zip", parts[0], ZIP, caption)
        return
    for index, data in enumerate(parts, start=1):
        await _send(ctx, report, f"bai-nop-nhiem-vu-{report.number}-phan-{index}.zip", data,
                    ZIP, caption + " " + t("(phần {i}/{n})", i=index, n=len(parts)))


async def on_button(ctx: Context, parts: list[str], source: Outbox) -> None:
    """`r:chart:N` and `r:xlsx:N` under `/tiendo #N`."""
    action, number = (parts + ["", ""])[:2]
    if action == "chart":
        await send_chart(ctx, number)
    elif action == "xlsx":
        await send_workbook(ctx, number)
    else:
        ctx.reply(ctx.t("Nút này không còn hiệu lực. Gõ /help để xem các lệnh."))
