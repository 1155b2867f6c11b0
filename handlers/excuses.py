"""Excuses («miễn»): a unit that need not report for a task's current period. A reporter asks
(«xin miễn nộp vì ...») and the assigning staff decides with «Đồng ý» / «Từ chối»; staff can
also excuse units directly, or take an excuse back, with `/mien #N <đơn vị> | <lý do>`. Every
decision is kept in `excuse_request`: who asked, who decided, when and why. An excused target
gets no more reminders and counts as «miễn», outside the expected figure."""

from __future__ import annotations

import re
from functools import partial

from core import roles
from core.callbacks import ExcuseDecision
from core.i18n import Translator
from core.messages import Button
from core.states import (
    OPEN_TARGET_STATES,
    AssignmentState,
    RequestState,
    TargetState,
)
from core.text import excerpt, fold
from handlers import cascade
from handlers.common import (
    may_change,
    members_with_role,
    task_line,
    task_to_change,
    tell_assigner,
    unit_name,
)
from handlers.context import Context
from handlers.giao import resolve_units
from handlers.reminders import replan_target, unplan_target
from services import targets
from storage import requests, submissions, tasks
from storage.models import Assignment, ExcuseRequest, Member, Outbox, Target, Unit, ident
from storage.queries import ROW_LOCK

# `/mien #N <units> | bỏ` takes an excuse back: only when the whole text after "|" is one of
# these phrases (case and accents aside); anything else, «thử» included, is a reason.
WITHDRAWALS = frozenset({
    "bo", "bo mien", "bo mien nop", "huy", "huy bo", "huy mien", "huy mien nop", "huy bo mien",
    "thu hoi", "thu hoi mien", "thu hoi mien nop", "go", "go mien", "go bo", "remove",
    "remove exemption", "withdraw", "withdraw exemption", "undo", "undo exemption", "revoke",
    "revoke exemption", "cancel exemption",
})
LISTED = 10  # units named in a reply; more are counted


async def request(ctx: Context, target: Target, assignment: Assignment, reason: str) -> None:
    """A reporter asks for their unit to be excused; the assigning staff decides."""
    t = ctx.t
    assert ctx.member is not None
    task = task_line(t, assignment)
    if target.state == TargetState.SUBMITTED:
        await ctx.reply(t("Đơn vị đã nộp nhiệm vụ {task}; không cần xin miễn nữa.", task=task),
                        target_id=target.id)
        return
    pending = await requests.pending_excuse(ctx.session, target.id)
    if pending is not None:
        await ctx.reply(t("Đơn vị đã có một đề nghị miễn nộp nhiệm vụ {task} đang chờ văn phòng "
                          "trả lời.", task=task), target_id=target.id)
        return
    excuse = ExcuseRequest(target_id=ident(target), member_id=ident(ctx.member),
                           reason=reason, created_at=ctx.now)
    ctx.session.add(excuse)
    await ctx.session.flush()
    unit = await unit_name(ctx, target.unit_id)
    staff = await ctx.session.get(Member, assignment.assigned_by)
    who = ctx.member.display_name

    def render(tr: Translator) -> str:
        return "\n".join([
            tr("🙏 {unit} xin miễn nộp nhiệm vụ {task}", unit=unit,
               task=task_line(tr, assignment)),
            tr("Lý do: {reason}", reason=reason),
            tr("Người gửi: {who}. Bấm Đồng ý để miễn cho đơn vị, Từ chối để đơn vị vẫn nộp.",
               who=who),
        ])

    if staff is not None:
        await ctx.send(staff, render, lambda tr: [
            Button(tr("Đồng ý"), ExcuseDecision(ident(excuse), True).pack()),
            Button(tr("Từ chối"), ExcuseDecision(ident(excuse), False).pack())],
                       target_id=target.id, assignment_id=assignment.id)
    await ctx.audit("excuse_request", assignment.id, target=target.id, reason=reason)
    await ctx.reply(t("📨 Đã gửi đề nghị miễn nộp nhiệm vụ {task} tới văn phòng; trong khi chờ, "
                      "bot vẫn nhắc hạn nộp. Bot sẽ báo khi có trả lời.", task=task),
                    target_id=target.id)


async def on_button(ctx: Context, parts: list[str], source: Outbox) -> None:
    if not roles.can_excuse(ctx.roles):
        await ctx.reply(ctx.t("Chỉ chuyên viên văn phòng mới duyệt được đề nghị miễn nộp."))
        return
    press = ExcuseDecision.from_parts(parts)
    excuse = await ctx.session.get(ExcuseRequest, press.request_id, with_for_update=ROW_LOCK,
                                   populate_existing=True) if press else None
    if press is None or excuse is None:
        await ctx.reply(ctx.t("Nút này không còn hiệu lực. Gõ /help để xem các lệnh."))
        return
    await decide(ctx, excuse, press.grant)


async def decide(ctx: Context, excuse: ExcuseRequest, grant: bool) -> None:
    t = ctx.t
    if excuse.state != RequestState.PENDING:
        await ctx.reply(t("Đề nghị miễn nộp này đã được trả lời rồi."))
        return
    target = await targets.get(ctx.session, excuse.target_id)
    assignment = await targets.lock(ctx.session, target) if target else None
    assert target is not None and assignment is not None
    if not await may_change(ctx, assignment, t("Nút này không còn hiệu lực. Gõ /help để xem "
                                                "các lệnh.")):
        return
    task, unit = task_line(t, assignment), await unit_name(ctx, target.unit_id)
    if assignment.state == AssignmentState.CANCELLED:
        await ctx.reply(t("Nhiệm vụ {task} đã được huỷ; không cần miễn cho đơn vị nữa.", task=task))
        return
    if target.state not in OPEN_TARGET_STATES:  # reported (or excused) meanwhile: nothing to decide
        _decided(ctx, excuse, RequestState.WITHDRAWN)
        await ctx.reply(t("{unit} đã nộp nhiệm vụ {task}; không cần miễn nữa.", unit=unit,
                          task=task)
                        if target.state == TargetState.SUBMITTED else
                        t("{unit} không còn thuộc nhiệm vụ {task}.", unit=unit, task=task)
                        if target.state == TargetState.REMOVED else
                        t("{unit} đã được miễn nộp nhiệm vụ {task} rồi.", unit=unit, task=task))
        return
    _decided(ctx, excuse, RequestState.GRANTED if grant else RequestState.REFUSED)
    if grant:
        await _excuse(ctx, target)
    await ctx.audit("excuse_" + excuse.state, assignment.id, target=target.id)
    for member in await members_with_role(ctx, target.unit_id, "reporter"):
        if grant:
            await ctx.send(member, lambda tr: tr("✅ Văn phòng đồng ý miễn nộp nhiệm vụ "
                                                 "{task}{period} cho {unit}; bot sẽ không nhắc "
                                                 "việc này nữa.",
                                                 task=task_line(tr, assignment), unit=unit,
                                                 period=period_words(tr, target)),
                           target_id=target.id, assignment_id=assignment.id)
        else:
            await ctx.send(member, lambda tr: tr("❌ Văn phòng không đồng ý miễn nộp nhiệm vụ "
                                                 "{task}; đơn vị vẫn nộp trước {deadline}.",
                                                 task=task_line(tr, assignment),
                                                 deadline=tr.moment(target.deadline)),
                           target_id=target.id, assignment_id=assignment.id)
    if grant:
        await ctx.reply(t("Đã miễn nộp nhiệm vụ {task} cho {unit}; đơn vị đã được báo.", task=task,
                          unit=unit))
    else:
        await ctx.reply(t("Đã từ chối miễn nộp nhiệm vụ {task} cho {unit}; đơn vị đã được báo.",
                          task=task, unit=unit))


def _decided(ctx: Context, excuse: ExcuseRequest, state: str) -> None:
    excuse.state = state
    excuse.decided_by = ctx.member.id if ctx.member else None
    excuse.decided_at = ctx.now
    ctx.session.add(excuse)


async def _excuse(ctx: Context, target: Target) -> None:
    await targets.excuse(ctx.session, target)
    await unplan_target(ctx, target)
    await cascade.after_answer(ctx, target)  # the last unit of a hand-down to answer
    await cascade.after_excuse(ctx, target)  # an office excused: its hand-down still needed?


def is_withdrawal(text: str) -> bool:
    words = re.sub(r"[^\w\s]", " ", fold(text)).split()
    return " ".join(words) in WITHDRAWALS


def period_words(tr: Translator, target: Target) -> str:
    """« (kỳ 06/2023)» for a recurring task's target: an excuse covers one period only."""
    return tr(" (kỳ {period})", period=target.period) if target.period else ""


def usage(t: Translator) -> str:
    return t("Cách dùng: /mien #N <đơn vị> | <lý do> — miễn nộp nhiệm vụ #N cho các đơn vị "
             "(mã, tên hoặc @nhóm, cách nhau bằng dấu phẩy).\n"
             "Bỏ miễn: /mien #N <đơn vị> | bỏ\n"
             "Ví dụ: /mien #3 THPT-LHP | trường không có khối 12")


async def handle_command(ctx: Context, args: str) -> None:
    """`/mien #N <đơn vị> | <lý do>` excuses units from task N's current period (staff);
    `... | bỏ` takes the excuse back. Nothing changes unless every unit named is one of the
    task's units; units already in the asked state are only mentioned."""
    t = ctx.t
    if not roles.can_excuse(ctx.roles):
        await ctx.reply(t("Chỉ chuyên viên văn phòng mới miễn nộp được cho đơn vị."))
        return
    head, _, reason = args.partition("|")
    reason = reason.strip()
    reference, _, spec = head.strip().partition(" ")
    if not reference or not spec.strip():
        await ctx.reply(usage(t))
        return
    assignment = await task_to_change(ctx, reference, t(
        "Không có nhiệm vụ «{ref}». Xem danh sách bằng /tiendo.", ref=excerpt(reference)))
    if assignment is None:
        return
    task = task_line(t, assignment)
    if assignment.state == AssignmentState.CANCELLED:
        await ctx.reply(t("Nhiệm vụ {task} đã được huỷ; không cần miễn cho đơn vị nào.", task=task))
        return
    units, problems = await resolve_units(ctx, spec)
    if problems:
        await ctx.reply("\n".join([*problems, t("Chưa thay đổi gì.")]))
        return
    owed = {target.unit_id: target for target in await tasks.locked_targets_of_units(
        ctx.session, assignment.id, assignment.period, [unit.id for unit in units])}
    outside = [unit for unit in units if unit.id not in owed]
    if outside:
        await ctx.reply(t("Không thuộc nhiệm vụ {task}: {units}. Chưa thay đổi gì.", task=task,
                          units=_names(t, outside)))
        return
    if is_withdrawal(reason):
        await _withdraw(ctx, assignment, units, owed)
    else:
        await _grant(ctx, assignment, units, owed, reason)


async def _grant(ctx: Context, assignment: Assignment, units: list[Unit],
                 owed: dict[int, Target], reason: str) -> None:
    t = ctx.t
    assert ctx.member is not None
    task = task_line(t, assignment)
    done = [u for u in units if owed[ident(u)].state == TargetState.SUBMITTED]
    already = [u for u in units if owed[ident(u)].state == TargetState.EXCUSED]
    excused = [u for u in units if owed[ident(u)].state in OPEN_TARGET_STATES]
    for unit in excused:
        target = owed[ident(unit)]
        pending = await requests.pending_excuse(ctx.session, target.id)
        excuse = pending or ExcuseRequest(target_id=ident(target), member_id=ident(ctx.member),
                                          reason=reason, created_at=ctx.now)
        if reason:
            excuse.reason = reason
        _decided(ctx, excuse, RequestState.GRANTED)
        await _excuse(ctx, target)
        shown = excuse.reason
        for member in await members_with_role(ctx, ident(unit), "reporter"):
            await ctx.send(member, partial(_excused_text, assignment=assignment, target=target,
                                           unit=unit, reason=shown),
                           priority=1, target_id=target.id, assignment_id=assignment.id)
    if excused:
        await ctx.audit("excuse", assignment.id, number=assignment.number,
                  units=[u.code for u in excused], reason=reason)
        await tell_assigner(ctx, assignment, lambda tr: tr(
            "miễn nộp cho {units}.", units=", ".join(u.code for u in excused)))
    lines = []
    if excused:
        lines.append(t("Đã miễn nộp nhiệm vụ {task} cho {n} đơn vị: {units}; các đơn vị đã được "
                       "báo.", task=task, n=len(excused), units=_names(t, excused)))
    if already:
        lines.append(t("Đã được miễn từ trước: {units}.", units=_names(t, already)))
    if done:
        lines.append(t("Đã nộp, không miễn: {units}.", units=_names(t, done)))
    await ctx.reply("\n".join(lines))


def _excused_text(tr: Translator, assignment: Assignment, target: Target, unit: Unit,
                  reason: str) -> str:
    """What a unit is told when staff excuse it, with the reason when there is one."""
    return "\n".join(
        [tr("✅ {unit} được miễn nộp nhiệm vụ {task}{period}; bot sẽ không nhắc việc này nữa.",
            unit=unit.name, task=task_line(tr, assignment), period=period_words(tr, target))]
        + ([tr("Lý do: {reason}", reason=reason)] if reason else []))


async def _withdraw(ctx: Context, assignment: Assignment, units: list[Unit],
                    owed: dict[int, Target]) -> None:
    t = ctx.t
    assert ctx.member is not None
    task = task_line(t, assignment)
    back = [u for u in units if owed[ident(u)].state == TargetState.EXCUSED]
    others = [u for u in units if owed[ident(u)].state != TargetState.EXCUSED]
    for unit in back:
        target = owed[ident(unit)]
        progress = await submissions.latest_progress(ctx.session, target.id)
        await targets.take_back_excuse(ctx.session, target, progress)  # as before the excuse
        record = ExcuseRequest(target_id=ident(target), member_id=ident(ctx.member),
                               created_at=ctx.now)
        _decided(ctx, record, RequestState.WITHDRAWN)
        await replan_target(ctx, target, assignment)
        for member in await members_with_role(ctx, ident(unit), "reporter"):
            await ctx.send(member, partial(_taken_back, ctx=ctx, assignment=assignment,
                                           target=target, unit=unit),
                           priority=1, target_id=target.id, assignment_id=assignment.id)
    if back:
        await ctx.audit("excuse_withdrawn", assignment.id, number=assignment.number,
                  units=[u.code for u in back])
        await tell_assigner(ctx, assignment, lambda tr: tr(
            "bỏ miễn nộp cho {units}.", units=", ".join(u.code for u in back)))
    lines = []
    if back:
        lines.append(t("Đã bỏ miễn nộp nhiệm vụ {task} cho {n} đơn vị: {units}; các đơn vị đã "
                       "được báo.", task=task, n=len(back), units=_names(t, back)))
    if others:
        lines.append(t("Không được miễn nên không cần bỏ: {units}.", units=_names(t, others)))
    await ctx.reply("\n".join(lines))


def _taken_back(tr: Translator, ctx: Context, assignment: Assignment, target: Target,
                unit: Unit) -> str:
    """What a unit is told when its excuse is taken back: the deadline, or that it passed."""
    words = {"task": task_line(tr, assignment), "period": period_words(tr, target),
             "unit": unit.name, "deadline": tr.moment(target.deadline)}
    if target.deadline > ctx.now:
        return tr("Văn phòng đã bỏ miễn nộp nhiệm vụ {task}{period} cho {unit}; đơn vị cần nộp "
                  "trước {deadline}.", **words)
    return tr("Văn phòng đã bỏ miễn nộp nhiệm vụ {task}{period} cho {unit}; hạn nộp {deadline} "
              "đã qua, đơn vị hãy nộp ngay.", **words)


def _names(t: Translator, units: list[Unit]) -> str:
    shown = ", ".join(unit.name for unit in units[:LISTED])
    if len(units) > LISTED:
        shown += t(" và {n} đơn vị khác", n=len(units) - LISTED)
    return shown
