"""`/nhac #N` nudges now the units of task N that have not answered; `/nhac #N 7,3,1`
changes when its reminders go out (days before the deadline) and re-plans them."""

from __future__ import annotations

from core import roles
from core.giao_line import parse_offsets, repeated_offsets
from core.states import AssignmentState
from core.text import excerpt
from handlers.common import (
    in_current_period,
    repeated_offsets_text,
    task_line,
    task_to_change,
    tell_assigner,
)
from handlers.context import Context
from handlers.reminders import replan_target, send_reminder
from storage import tasks
from storage.models import ident


async def handle_command(ctx: Context, args: str) -> None:
    t = ctx.t
    if not roles.can_assign(ctx.roles):
        await ctx.reply(t("Chỉ chuyên viên văn phòng mới nhắc việc được."))
        return
    ref, _, rest = args.strip().partition(" ")
    assignment = await task_to_change(ctx, ref, t(
        "Không có nhiệm vụ «{ref}». Dùng: /nhac #N để nhắc ngay, hoặc /nhac #N 7,3,1 để đổi "
        "lịch nhắc.", ref=excerpt(ref) or "?"))
    if assignment is None:
        return
    if assignment.state != AssignmentState.ACTIVE:
        await ctx.reply(t("Nhiệm vụ {task} không còn mở.", task=task_line(t, assignment)))
        return
    targets = await in_current_period(ctx, await tasks.open_targets(
        ctx.session, ident(assignment)))
    if rest.strip():
        offsets = parse_offsets(rest)
        if offsets is None:
            await ctx.reply(t("Chưa hiểu lịch nhắc «{text}». Ghi các số ngày trước hạn, ví dụ: "
                              "/nhac #{number} 7,3,1.", text=excerpt(rest),
                              number=assignment.number))
            return
        if repeated_offsets(rest):
            await ctx.reply(repeated_offsets_text(t, rest))
            return
        assignment.reminder_offsets = ",".join(map(str, offsets))
        ctx.session.add(assignment)
        for target in targets:
            await replan_target(ctx, target, assignment)
        await ctx.audit("reminder_policy", assignment.id, number=assignment.number, offsets=offsets)
        await tell_assigner(ctx, assignment, lambda tr: tr(
            "lịch nhắc mới {days} ngày trước hạn.", days=", ".join(map(str, offsets)) or "0"))
        await ctx.reply(t("Đã đổi lịch nhắc nhiệm vụ {task}: {days} ngày trước hạn, lúc 08:00; đã "
                          "lập lại lịch cho {n} đơn vị chưa nộp.", task=task_line(t, assignment),
                          days=", ".join(map(str, offsets)) or "0", n=len(targets)))
        return
    nudged = 0
    for target in targets:
        nudged += int(await send_reminder(ctx, target, assignment, None) > 0)
    await ctx.audit("nudge", assignment.id, number=assignment.number, units=nudged)
    if nudged:
        await tell_assigner(ctx, assignment, lambda tr: tr(
            "đã nhắc ngay {n} đơn vị chưa nộp.", n=nudged))
    if not targets:
        await ctx.reply(t("Mọi đơn vị đã trả lời nhiệm vụ {task}; không cần nhắc.",
                          task=task_line(t, assignment)))
        return
    await ctx.reply(t("Đã nhắc ngay {n} đơn vị chưa nộp nhiệm vụ {task}.", n=nudged,
                      task=task_line(t, assignment)))
