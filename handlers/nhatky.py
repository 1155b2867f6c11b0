"""`/nhatky #N`: the audit log of a task, for the staff of the office that owns it (the
channel each change came from is in `bot.py audit`)."""

from __future__ import annotations

from core import roles
from core.clock import to_local
from core.i18n import N_
from core.text import excerpt
from handlers.common import task_line, task_to_change
from handlers.context import Context
from storage import tasks
from storage.models import ident

SHOWN = 30
ACTIONS = {
    "assign": N_("giao nhiệm vụ"),
    "cancel": N_("huỷ nhiệm vụ"),
    "close": N_("đóng nhiệm vụ"),
    "reopen": N_("mở lại nhiệm vụ"),
    "edit": N_("sửa nhiệm vụ"),
    "submission_moved": N_("chuyển bài nộp nhầm"),
    "submission_withdrawn": N_("rút lại bài nộp"),
    "nudge": N_("nhắc ngay"),
    "reminder_policy": N_("đổi lịch nhắc"),
    "reminders_pause": N_("tạm dừng nhắc"),
    "reminders_resume": N_("nhắc lại từ bây giờ"),
    "roll_over": N_("mở kỳ báo cáo mới"),
    "excuse": N_("miễn nộp"),
    "excuse_withdrawn": N_("bỏ miễn nộp"),
    "excuse_request": N_("xin miễn nộp"),
    "excuse_granted": N_("đồng ý miễn nộp"),
    "excuse_refused": N_("từ chối miễn nộp"),
    "extension_request": N_("xin gia hạn"),
    "extension_granted": N_("đồng ý gia hạn"),
    "extension_refused": N_("từ chối gia hạn"),
    "submit_file": N_("nộp tệp"),
    "status_done": N_("báo đã xong"),
    "status_progress": N_("báo đang làm"),
    "status_not_started": N_("báo chưa làm"),
    "status_help": N_("cần hỗ trợ"),
    "status_nil": N_("báo không phát sinh"),
}


async def handle_command(ctx: Context, args: str) -> None:
    t = ctx.t
    if not roles.can_assign(ctx.roles):
        await ctx.reply(t("Nhật ký thay đổi của nhiệm vụ chỉ dành cho chuyên viên của đơn vị giao "
                          "nhiệm vụ."))
        return
    if not args.strip():
        await ctx.reply(t("Gõ /nhatky #số để xem ai đã thay đổi gì ở nhiệm vụ, ví dụ: /nhatky #1."))
        return
    assignment = await task_to_change(ctx, args, t(
        "Không có nhiệm vụ «{ref}». Xem danh sách bằng /tiendo.", ref=excerpt(args)))
    if assignment is None:
        return
    rows = await tasks.latest_audit_entries(ctx.session, ident(assignment),
                                            SHOWN)
    lines = [t("Nhật ký nhiệm vụ {task}:", task=task_line(t, assignment))]
    for row in rows:
        action = t(ACTIONS[row.action]) if row.action in ACTIONS else row.action
        lines.append(t("• {moment} — {who}: {action}",
                       moment=f"{t.date(row.at)} {to_local(row.at):%H:%M}", who=row.actor,
                       action=action))
    if not rows:
        lines.append(t("Chưa có thay đổi nào được ghi."))
    await ctx.reply("\n".join(lines), assignment_id=assignment.id)
