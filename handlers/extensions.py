"""Extension requests: a reporter asks, the assigning staff decides with «Đồng ý» /
«Từ chối» (or replies with another date), the reporter is told, and a granted extension
moves that target's deadline and re-plans its reminders."""

from __future__ import annotations

from datetime import datetime
from functools import partial

from core import roles
from core.callbacks import ExtensionDecision
from core.deadlines import DeadlineError, parse_deadline
from core.i18n import Translator
from core.messages import Button
from core.states import AssignmentState, RequestState, TargetState
from core.text import excerpt, fold
from handlers import cascade
from handlers.common import (
    calendar_of,
    may_change,
    members_with_role,
    task_line,
    task_to_change,
    tell_assigner,
    unit_name,
)
from handlers.context import Context
from handlers.giao import deadline_error_text, resolve_units
from handlers.reminders import replan_target
from services import targets
from storage import requests, tasks
from storage.models import Assignment, ExtensionRequest, Member, Outbox, Target, ident
from storage.queries import ROW_LOCK
from storage.repositories import bot_message


async def request(ctx: Context, target: Target, assignment: Assignment, until: datetime,
                  reason: str) -> None:
    t = ctx.t
    assert ctx.member is not None
    if until <= target.deadline:
        await ctx.reply(t("Ngày xin gia hạn ({until}) không sau hạn hiện tại ({deadline}).",
                          until=t.moment(until), deadline=t.moment(target.deadline)))
        return
    pending = await requests.pending_extension(ctx.session, target.id)
    if pending is not None:
        await ctx.reply(t("Đơn vị đã có một đề nghị gia hạn nhiệm vụ {task} đang chờ văn phòng trả "
                          "lời.", task=task_line(t, assignment)))
        return
    ext = ExtensionRequest(target_id=ident(target), member_id=ident(ctx.member),
                           requested_until=until, reason=reason, created_at=ctx.now)
    ctx.session.add(ext)
    await ctx.session.flush()
    unit = await unit_name(ctx, target.unit_id)
    staff = await ctx.session.get(Member, assignment.assigned_by)
    who = ctx.member.display_name

    def render(tr: Translator) -> str:
        lines = [tr("⏳ {unit} xin gia hạn nhiệm vụ {task}", unit=unit,
                    task=task_line(tr, assignment)),
                 tr("Hạn hiện tại: {deadline}", deadline=tr.moment(target.deadline)),
                 tr("Xin đến: {until}", until=tr.moment(until))]
        if reason:
            lines.append(tr("Lý do: {reason}", reason=reason))
        lines.append(tr("Người gửi: {who}. Bấm Đồng ý / Từ chối, hoặc trả lời tin này bằng "
                        "một ngày khác để đồng ý đến ngày đó.", who=who))
        return "\n".join(lines)

    if staff is not None:
        await ctx.send(staff, render, lambda tr: [
            Button(tr("Đồng ý"), ExtensionDecision(ident(ext), True).pack()),
            Button(tr("Từ chối"), ExtensionDecision(ident(ext), False).pack())],
                       target_id=target.id, extension_id=ext.id, assignment_id=assignment.id)
    await ctx.audit("extension_request", assignment.id, target=target.id, until=until)
    await ctx.reply(t("📨 Đã gửi đề nghị gia hạn nhiệm vụ {task} đến {until} tới văn phòng; bot sẽ "
                      "báo khi có trả lời.", task=task_line(t, assignment), until=t.moment(until)),
                    target_id=target.id)


async def decide(ctx: Context, ext: ExtensionRequest, grant: bool,
                 until: datetime | None = None) -> None:
    t = ctx.t
    if ext.state != RequestState.PENDING:
        await ctx.reply(t("Đề nghị gia hạn này đã được trả lời rồi."))
        return
    target = await targets.get(ctx.session, ext.target_id)
    assignment = await targets.lock(ctx.session, target) if target else None
    assert target is not None and assignment is not None
    if not await may_change(ctx, assignment, t("Nút này không còn hiệu lực. Gõ /help để xem "
                                                "các lệnh.")):
        return
    if target.state == TargetState.EXCUSED:  # excused meanwhile: it owes nothing to extend
        await ctx.reply(t("{unit} đã được miễn nộp nhiệm vụ {task}; không cần gia hạn.",
                          unit=await unit_name(ctx, target.unit_id), task=task_line(t, assignment)))
        return
    if target.state == TargetState.REMOVED:  # taken off the task meanwhile (/sua)
        await ctx.reply(t("{unit} không còn thuộc nhiệm vụ {task}; không cần gia hạn.",
                          unit=await unit_name(ctx, target.unit_id), task=task_line(t, assignment)))
        return
    until = until or ext.requested_until
    if grant and until <= target.deadline:
        await ctx.reply(t("Ngày gia hạn ({until}) không sau hạn hiện tại ({deadline}). Trả lời "
                          "bằng một ngày sau hạn đó, hoặc bấm Từ chối.", until=t.moment(until),
                          deadline=t.moment(target.deadline)))
        return
    ext.state = RequestState.GRANTED if grant else RequestState.REFUSED
    ext.decided_by = ctx.member.id if ctx.member else None
    ext.decided_at = ctx.now
    unit = await unit_name(ctx, target.unit_id)
    if grant:
        ext.granted_until = until
        await extend(ctx, target, assignment, until)
    ctx.session.add(ext)
    await ctx.audit("extension_" + ext.state, assignment.id, target=target.id,
                    until=ext.granted_until)
    for member in await members_with_role(ctx, target.unit_id, "reporter"):
        if grant:
            await ctx.send(member, lambda tr: tr("✅ Văn phòng đồng ý gia hạn nhiệm vụ {task} cho "
                                                 "{unit} đến {until}.",
                                                 task=task_line(tr, assignment), unit=unit,
                                                 until=tr.moment(target.deadline)),
                           target_id=target.id, assignment_id=assignment.id)
        else:
            await ctx.send(member, lambda tr: tr("❌ Văn phòng không đồng ý gia hạn nhiệm vụ "
                                                 "{task}; hạn nộp vẫn là {deadline}.",
                                                 task=task_line(tr, assignment),
                                                 deadline=tr.moment(target.deadline)),
                           target_id=target.id, assignment_id=assignment.id)
    if grant:
        await ctx.reply(t("Đã đồng ý gia hạn nhiệm vụ {task} cho {unit} đến {until}; đơn vị đã "
                          "được báo.", task=task_line(t, assignment), unit=unit,
                          until=t.moment(target.deadline)))
    else:
        await ctx.reply(t("Đã từ chối gia hạn nhiệm vụ {task} cho {unit}; đơn vị đã được báo.",
                          task=task_line(t, assignment), unit=unit))


async def extend(ctx: Context, target: Target, assignment: Assignment, until: datetime) -> None:
    """Move `target`'s deadline to `until` (an extension): on time is judged again against
    it, reminders are planned again, and an office's hand-down is told."""
    await targets.extend(ctx.session, target, until)  # on time judged again against it
    await replan_target(ctx, target, assignment)
    await cascade.after_extension(ctx, target, assignment)


async def handle_giahan(ctx: Context, args: str) -> None:
    """`/giahan #N <đơn vị> | đến 12/05/2023`: staff of the owning office extend units'
    deadline without a request. Nothing changes unless every unit named is one of the task's
    units of its current period and the date is after each one's deadline."""
    t = ctx.t
    usage = t("Cách dùng: /giahan #N <đơn vị> | đến <ngày> — gia hạn cho các đơn vị (mã, tên "
              "hoặc @nhóm), ví dụ: /giahan #3 THPT-LHP | đến 12/05/2023")
    if not roles.can_decide_extensions(ctx.roles):
        await ctx.reply(t("Chỉ chuyên viên văn phòng mới gia hạn được."))
        return
    head, _, when = args.partition("|")
    reference, _, spec = head.strip().partition(" ")
    when = when.strip()
    for word in ("đến ngày", "đến", "den ngay", "den", "to", "until"):
        if fold(when).startswith(fold(word) + " "):
            when = when[len(word):].strip()
            break
    if not reference or not spec.strip() or not when:
        await ctx.reply(usage)
        return
    assignment = await task_to_change(ctx, reference, t(
        "Không có nhiệm vụ «{ref}». Xem danh sách bằng /tiendo.", ref=excerpt(reference)))
    if assignment is None:
        return
    if assignment.state != AssignmentState.ACTIVE:
        await ctx.reply(t("Nhiệm vụ {task} không còn mở.", task=task_line(t, assignment)))
        return
    try:
        until = parse_deadline(when, ctx.now, ctx.settings.default_deadline_time,
                               calendar_of(ctx.settings), ctx.settings.school_year_end).due
    except DeadlineError as error:
        await ctx.reply(deadline_error_text(t, error))
        return
    units, problems = await resolve_units(ctx, spec)
    if problems:
        await ctx.reply("\n".join([*problems, t("Chưa thay đổi gì.")]))
        return
    owed = {tg.unit_id: tg for tg in await tasks.locked_targets_of_units(
        ctx.session, assignment.id, assignment.period, [u.id for u in units])}
    outside = [u for u in units if u.id not in owed]
    if outside:
        await ctx.reply(t("Không thuộc nhiệm vụ {task}: {units}. Chưa thay đổi gì.",
                          task=task_line(t, assignment), units=", ".join(u.name for u in outside)))
        return
    early = [u for u in units if until <= owed[ident(u)].deadline]
    if early:
        await ctx.reply(t("Ngày gia hạn ({until}) không sau hạn hiện tại của {units}. Chưa thay "
                          "đổi gì.", until=t.moment(until),
                          units=", ".join(u.name for u in early)))
        return
    excused = [u for u in units if owed[ident(u)].state == TargetState.EXCUSED]
    extended = [u for u in units if u not in excused]
    for unit in extended:
        target = owed[ident(unit)]
        await extend(ctx, target, assignment, until)
        for member in await members_with_role(ctx, ident(unit), "reporter"):
            await ctx.send(member, partial(_extended_text, assignment=assignment, unit=unit.name,
                                           until=until),
                           priority=1, target_id=target.id, assignment_id=assignment.id)
    if extended:
        await ctx.audit("extension_granted", assignment.id, number=assignment.number,
                  units=[u.code for u in extended], until=until)
        await tell_assigner(ctx, assignment, lambda tr: tr(
            "gia hạn cho {units} đến {until}.", units=", ".join(u.code for u in extended),
            until=tr.moment(until)))
    lines = []
    if extended:
        lines.append(t("Đã gia hạn nhiệm vụ {task} cho {n} đơn vị đến {until}: {units}; các đơn "
                       "vị đã được báo.", task=task_line(t, assignment), n=len(extended),
                       until=t.moment(until), units=", ".join(u.name for u in extended)))
    if excused:
        lines.append(t("Đã được miễn, không cần gia hạn: {units}.",
                       units=", ".join(u.name for u in excused)))
    await ctx.reply("\n".join(lines))


def _extended_text(tr: Translator, assignment: Assignment, unit: str, until: datetime) -> str:
    return tr("✅ Văn phòng gia hạn nhiệm vụ {task} cho {unit} đến {until}.",
              task=task_line(tr, assignment), unit=unit, until=tr.moment(until))


async def on_button(ctx: Context, parts: list[str], source: Outbox) -> None:
    if not roles.can_decide_extensions(ctx.roles):
        await ctx.reply(ctx.t("Chỉ chuyên viên văn phòng mới duyệt được gia hạn."))
        return
    press = ExtensionDecision.from_parts(parts)
    ext = await ctx.session.get(ExtensionRequest, press.request_id, with_for_update=ROW_LOCK,
                                populate_existing=True) if press else None
    if press is None or ext is None:
        await ctx.reply(ctx.t("Nút này không còn hiệu lực. Gõ /help để xem các lệnh."))
        return
    await decide(ctx, ext, press.grant)


async def handle_staff_reply(ctx: Context) -> bool:
    """A staff member replying to an extension request with a date, «đồng ý» or «từ chối».
    Returns False when the message is not such a reply."""
    event = ctx.event
    assert event is not None
    if not event.reply_to or not roles.can_decide_extensions(ctx.roles):
        return False
    source = await bot_message(ctx.session, event.channel, event.chat_id, event.reply_to)
    if source is None or source.extension_id is None:
        return False
    ext = await ctx.session.get(ExtensionRequest, source.extension_id, with_for_update=ROW_LOCK,
                                populate_existing=True)
    assert ext is not None
    text = fold(event.text)
    if text.startswith(("tu choi", "khong")):
        await decide(ctx, ext, False)
        return True
    if text in ("dong y", "ok", "yes"):
        await decide(ctx, ext, True)
        return True
    date_text = event.text
    for word in ("đồng ý đến", "dong y den", "đồng ý", "dong y", "gia hạn đến", "đến", "den"):
        if fold(date_text).startswith(fold(word)):
            date_text = date_text.strip()[len(word):]
            break
    try:
        until = parse_deadline(date_text, ctx.now, ctx.settings.default_deadline_time,
                               calendar_of(ctx.settings), ctx.settings.school_year_end).due
    except DeadlineError:
        await ctx.reply(ctx.t("Chưa hiểu. Trả lời «đồng ý», «từ chối» hoặc một ngày, ví dụ 10/5."))
        return True
    await decide(ctx, ext, True, until)
    return True
