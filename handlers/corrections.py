"""[Nộp nhầm]: a reporter who filed a report or a status under the wrong task moves it to
another open task (or period) of their unit, or withdraws it. Nothing is erased: the
submission keeps its row, marked withdrawn (and, for a move, with the submission it became),
and both targets are counted again from the submissions that remain, so the figures and
the counters (`storage.tally`, moved by `services.targets` under the targets' row locks)
stay right."""

from __future__ import annotations

from core.callbacks import Misfiled
from core.i18n import Translator
from core.messages import Button
from core.states import OPEN_TARGET_STATES, AssignmentState, Requires, SubmissionKind, TargetState
from handlers.answers import misfiled_buttons, move_label, move_options
from handlers.cascade import after_answer
from handlers.common import task_line, unit_name
from handlers.context import Context
from handlers.reminders import replan_target
from services import targets
from storage import tasks
from storage.models import Assignment, Outbox, StoredFile, Submission, Target, ident

STALE = "Nút này không còn hiệu lực. Gõ /help để xem các lệnh."


async def recount(ctx: Context, target: Target, assignment: Assignment) -> None:
    """Count `target` (locked) again from its submissions that remain
    (`services.targets.recount`); a target that goes back to owing has its reminders planned
    again from now."""
    was_open = target.state in OPEN_TARGET_STATES
    await targets.recount(ctx.session, target, assignment.requires)
    if not was_open and target.state in OPEN_TARGET_STATES \
            and assignment.state == AssignmentState.ACTIVE:
        await replan_target(ctx, target, assignment)


def what(t: Translator, submission: Submission, file_name: str) -> str:
    if submission.kind == SubmissionKind.FILE:
        return t("tệp «{name}»", name=file_name)
    if submission.kind == SubmissionKind.NIL:
        return t("báo cáo không phát sinh")
    return t("báo «đã nộp»")


def state_words(t: Translator, target: Target) -> str:
    if target.state == TargetState.SUBMITTED:
        return t("vẫn đã nộp (còn bài nộp khác)")
    if target.state == TargetState.IN_PROGRESS:
        return t("đang làm")
    return t("chưa nộp")


async def on_button(ctx: Context, parts: list[str], source: Outbox) -> None:
    """`w:<submission>` asks where to; `w:<submission>:<target>` moves it there;
    `w:<submission>:back` withdraws it."""
    t = ctx.t
    press = Misfiled.from_parts(parts)
    submission = await ctx.session.get(Submission, press.submission_id) if press else None
    target = await ctx.session.get(Target, submission.target_id) if submission else None
    if press is None or submission is None or target is None:
        await ctx.reply(t(STALE))
        return
    if target.unit_id not in ctx.unit_ids:
        await ctx.reply(t("Nút này không dành cho đơn vị bạn."))
        return
    if submission.withdrawn_at is not None:
        await ctx.reply(t("Bài nộp này đã được chuyển hoặc rút lại rồi."))
        return
    assignment = await ctx.session.get(Assignment, target.assignment_id)
    assert assignment is not None
    stored = await ctx.session.get(StoredFile, submission.file_id) if submission.file_id \
        else None
    shown = what(t, submission, stored.original_name if stored else "")
    if press.to is None and not press.withdraw:
        options = await move_options(ctx, target)
        buttons = [Button(move_label(t, other, a, target),
                          Misfiled(ident(submission), ident(other)).pack())
                   for other, a in options]
        buttons.append(Button(t("Rút lại"), Misfiled(ident(submission), withdraw=True).pack()))
        await ctx.reply(t("Bài nộp {what} đang ở nhiệm vụ {task}. Chuyển sang nhiệm vụ nào, hay "
                          "rút lại?", what=shown, task=task_line(t, assignment)) if options else
                        t("Bài nộp {what} đang ở nhiệm vụ {task}; đơn vị không còn nhiệm vụ nào "
                          "khác đang mở. Rút lại bài nộp này?", what=shown,
                          task=task_line(t, assignment)),
                        buttons, target_id=target.id)
        return
    if press.withdraw:
        assignment = await targets.lock(ctx.session, target)
        await ctx.session.refresh(submission)  # a withdrawal committed meanwhile is seen
        if submission.withdrawn_at is not None:
            await ctx.reply(t("Bài nộp này đã được chuyển hoặc rút lại rồi."))
            return
        submission.withdrawn_at = ctx.now
        ctx.session.add(submission)
        await ctx.session.flush()
        await recount(ctx, target, assignment)
        await ctx.audit("submission_withdrawn", assignment.id, target=target.id,
                  submission=submission.id)
        await ctx.reply(t("↩️ Đã rút lại {what} của {unit} cho nhiệm vụ {task}; bản đã rút vẫn được "
                          "lưu trong lịch sử. Nhiệm vụ {task}: {state}.", what=shown,
                          unit=await unit_name(ctx, target.unit_id), task=task_line(t, assignment),
                          state=state_words(t, target)), target_id=target.id)
        return
    assert press.to is not None
    await _move(ctx, submission, target, assignment, press.to, shown)


async def _move(ctx: Context, submission: Submission, source: Target, assignment: Assignment,
                to: int, shown: str) -> None:
    t = ctx.t
    other = await ctx.session.get(Target, to)
    destination = await ctx.session.get(Assignment, other.assignment_id) if other else None
    if other is None or destination is None or other.unit_id not in ctx.unit_ids \
            or other.id == source.id:
        await ctx.reply(t(STALE))
        return
    # Both targets locked (in id order) and read again, the submission too: a change made
    # meanwhile by another worker is seen before anything is decided.
    await tasks.locked_targets_by_id(ctx.session, [source.id, other.id])
    await ctx.session.refresh(submission)
    fresh = await ctx.session.get(Assignment, source.assignment_id, populate_existing=True)
    destination = await ctx.session.get(Assignment, other.assignment_id,
                                        populate_existing=True)
    assert fresh is not None and destination is not None
    assignment = fresh
    if submission.withdrawn_at is not None:
        await ctx.reply(t("Bài nộp này đã được chuyển hoặc rút lại rồi."))
        return
    if other.state not in OPEN_TARGET_STATES or destination.state != AssignmentState.ACTIVE:
        await ctx.reply(t("Nhiệm vụ {task} không còn chờ đơn vị nộp; chưa chuyển gì.",
                          task=task_line(t, destination)))
        return
    if submission.kind == SubmissionKind.FILE and destination.requires == Requires.STATUS:
        await ctx.reply(t("Nhiệm vụ {task} chỉ cần báo trạng thái, không nhận tệp; chưa chuyển gì.",
                          task=task_line(t, destination)))
        return
    moved = Submission(target_id=ident(other), member_id=submission.member_id,
                       kind=submission.kind, percent=submission.percent, text=submission.text,
                       file_id=submission.file_id, route=submission.route,
                       created_at=submission.created_at)
    ctx.session.add(moved)
    await ctx.session.flush()
    submission.withdrawn_at, submission.moved_to = ctx.now, moved.id
    ctx.session.add(submission)
    await ctx.session.flush()
    await recount(ctx, source, assignment)
    await recount(ctx, other, destination)
    if other.state == TargetState.SUBMITTED:
        await after_answer(ctx, other)
    for task in {assignment.id, destination.id}:  # in the log of both tasks
        await ctx.audit("submission_moved", task, submission=submission.id, to=moved.id,
                  from_task=assignment.number, to_task=destination.number)
    if other.state == TargetState.SUBMITTED:
        at = other.submitted_at
        assert at is not None
        timing = t("nộp đúng hạn") if other.on_time else t(
            "nộp muộn, {late}", late=t.time_left(at, other.deadline))
    else:
        timing = t("nhiệm vụ cần thêm «đã xong» để tính là đã nộp")
    await ctx.reply("\n".join([
        t("↪️ Đã chuyển {what} của {unit} từ nhiệm vụ {source} sang nhiệm vụ {task} — {timing}.",
          what=shown, unit=await unit_name(ctx, other.unit_id),
          source=task_line(t, assignment), task=task_line(t, destination), timing=timing),
        t("Nhiệm vụ {task}: {state}.", task=task_line(t, assignment),
          state=state_words(t, source))]),
        await misfiled_buttons(ctx, moved, other), target_id=other.id)
