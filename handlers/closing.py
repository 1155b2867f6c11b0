"""`/dong #N` closes a task: no more reminders nor new periods, the figures shown as closed;
answers that still come (a reply to the task's messages) are recorded, and marked late when
they are. `/mo #N` reopens it and plans the reminders of its open units again from now, so
nothing missed is sent in a burst. Both belong to the staff of the office that owns the task."""

from __future__ import annotations

from core import roles, transitions
from core.states import AssignmentState
from core.text import excerpt
from handlers.common import task_line, task_to_change, tell_assigner
from handlers.context import Context
from handlers.reminders import replan_target, unplan_target
from services import targets
from storage import tasks
from storage.models import ident


async def handle_close(ctx: Context, args: str) -> None:
    await _set(ctx, args, closing=True)


async def handle_reopen(ctx: Context, args: str) -> None:
    await _set(ctx, args, closing=False)


async def _set(ctx: Context, args: str, closing: bool) -> None:
    t = ctx.t
    if not roles.can_assign(ctx.roles):
        await ctx.reply(t("Chỉ chuyên viên văn phòng mới đóng hoặc mở lại được nhiệm vụ."))
        return
    if not args.strip():
        await ctx.reply(t("Gõ /dong #số để đóng một nhiệm vụ (thôi nhắc), /mo #số để mở lại."))
        return
    assignment = await task_to_change(ctx, args, t(
        "Không có nhiệm vụ «{ref}». Xem danh sách bằng /tiendo.", ref=excerpt(args)))
    if assignment is None:
        return
    await targets.lock_task(ctx.session, assignment)  # decided on the row as committed
    task = task_line(t, assignment)
    state = AssignmentState.CLOSED if closing else AssignmentState.ACTIVE
    refusal = transitions.task_refusal(assignment.state, state)
    if refusal == transitions.TaskRefusal.CANCELLED:
        await ctx.reply(t("Nhiệm vụ {task} đã được huỷ.", task=task))
        return
    if refusal == transitions.TaskRefusal.ALREADY:
        await ctx.reply(t("Nhiệm vụ {task} đã đóng rồi.", task=task) if closing
                        else t("Nhiệm vụ {task} đang mở.", task=task))
        return
    await targets.set_task_state(ctx.session, assignment, state)
    owed = await tasks.open_targets(ctx.session, ident(assignment),
                                    assignment.period)
    for target in owed:
        if closing:
            await unplan_target(ctx, target)
        else:
            await replan_target(ctx, target, assignment)
    if closing:
        await ctx.audit("close", assignment.id, number=assignment.number, still_open=len(owed))
        await tell_assigner(ctx, assignment, lambda tr: tr("đã đóng nhiệm vụ."))
        await ctx.reply(t("Đã đóng nhiệm vụ {task}: bot thôi nhắc {n} đơn vị chưa nộp; bài nộp "
                          "muộn vẫn được ghi nhận. Mở lại bằng /mo #{number}.", task=task,
                          n=len(owed), number=assignment.number))
    else:
        await ctx.audit("reopen", assignment.id, number=assignment.number, still_open=len(owed))
        await tell_assigner(ctx, assignment, lambda tr: tr("đã mở lại nhiệm vụ."))
        await ctx.reply(t("Đã mở lại nhiệm vụ {task}; đã lập lại lịch nhắc cho {n} đơn vị chưa nộp "
                          "từ bây giờ.", task=task, n=len(owed)))
