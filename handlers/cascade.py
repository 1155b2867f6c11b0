"""Cascade (giao tiếp): an office that received a task hands it down to the units below it.

`/giaotiep #N [| hạn ... | đơn vị ... | chi tiết ...]` or the `[Giao tiếp]` button (payload
`h:<target id>`) under the task message opens the `/giao` preview prefilled from the parent:
its title, details and plan file, the units directly below the office, and a deadline
`cascade.lead_days` working days before the office's own. `[Gửi]` makes a child task linked to
the parent and to the office's target there. Progress rolls up into the parent's `/tiendo`
(`handlers.tiendo`); the office is told when every unit below has answered; a cancelled
parent cancels its hand-downs, and an extension or excuse on the parent is told to the office.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import partial

from core import roles
from core.callbacks import CancelHandDown, HandDownPress
from core.cascade import answered, hand_down_deadline
from core.giao_line import parse_giao_line
from core.i18n import N_, Translator
from core.messages import Button
from core.progress import Figures
from core.states import OPEN_TARGET_STATES, AssignmentState
from core.text import excerpt
from handlers import giao
from handlers.common import calendar_of, task_line
from handlers.context import Context
from services import targets
from services.scope import find_task, office_name
from storage import tasks
from storage.figures import EVERY_UNIT, tallies
from storage.models import (
    Assignment,
    AuditLog,
    Member,
    Outbox,
    StoredFile,
    Target,
    Unit,
    ident,
)
from storage.tasks import TargetCondition
from storage.units import unit_ids_below

USAGE = N_("Gõ /giaotiep #số để giao tiếp nhiệm vụ cho các đơn vị trực thuộc, ví dụ: /giaotiep #1 "
         "hoặc /giaotiep #1 | hạn 15/05/2023 | đơn vị @THCS.")


async def child_of(ctx: Context, target_id: int) -> Assignment | None:
    """The hand-down (not cancelled) made from office target `target_id`."""
    return await tasks.hand_down_of(ctx.session, target_id)


# --- opening the preview -------------------------------------------------------------------


async def handle_command(ctx: Context, args: str) -> None:
    t = ctx.t
    if not roles.can_assign(ctx.roles):
        await ctx.reply(t("Chỉ chuyên viên văn phòng mới giao tiếp được nhiệm vụ."))
        return
    ref, _, rest = args.strip().partition("|")
    ref = ref.strip()
    if not ref:
        await ctx.reply(t(USAGE))
        return
    parent = await find_task(ctx.session, ctx.scope, ref)
    if parent is None:
        await ctx.reply(t("Không có nhiệm vụ «{ref}». Xem danh sách bằng /tiendo.",
                          ref=excerpt(ref)))
        return
    offices = sorted(ctx.scope.staff_offices)
    target = await tasks.first_target_of(ctx.session, ident(parent),
                                         parent.period, offices) if offices else None
    if target is None:
        await ctx.reply(t("Nhiệm vụ {task} không giao cho đơn vị của bạn; chỉ đơn vị nhận nhiệm vụ "
                          "mới giao tiếp được cho các đơn vị cấp dưới.", task=task_line(t, parent)))
        return
    await _open(ctx, parent, target, ("| " + rest) if rest.strip() else "")


async def on_button(ctx: Context, parts: list[str], source: Outbox) -> None:
    """`h:<target id>` under a task message; `h:cancel:<number>` under the notice that the
    office was excused from the parent."""
    t = ctx.t
    cancel = CancelHandDown.from_parts(parts)
    if cancel is not None:
        await giao.handle_cancel(ctx, f"#{cancel.number}")
        return
    press = HandDownPress.from_parts(parts)
    target = await ctx.session.get(Target, press.target_id) if press else None
    parent = await ctx.session.get(Assignment, target.assignment_id) if target else None
    if target is None or parent is None:
        await ctx.reply(t("Nút này không còn hiệu lực. Gõ /help để xem các lệnh."))
        return
    if not roles.can_assign(ctx.roles) or not (
            ctx.scope.is_admin or target.unit_id in ctx.scope.staff_offices):
        await ctx.reply(t("Chỉ chuyên viên của đơn vị nhận nhiệm vụ mới giao tiếp được."))
        return
    await _open(ctx, parent, target, "")


async def _open(ctx: Context, parent: Assignment, target: Target, rest: str) -> None:
    t = ctx.t
    if parent.state != AssignmentState.ACTIVE:
        await ctx.reply(t("Nhiệm vụ {task} không còn mở.", task=task_line(t, parent)))
        return
    existing = await child_of(ctx, ident(target))
    if existing is not None:
        await ctx.reply(t("Đơn vị đã giao tiếp nhiệm vụ {task} thành nhiệm vụ #{number}; xem "
                          "tiến độ: /tiendo #{number}.", task=task_line(t, parent),
                          number=existing.number))
        return
    office = await ctx.session.get(Unit, target.unit_id)
    assert office is not None
    draft = giao.new_draft()
    plan = await ctx.session.get(StoredFile, parent.file_id) if parent.file_id else None
    due = hand_down_deadline(calendar_of(ctx.settings), target.deadline,
                             ctx.settings.cascade_lead_days, ctx.now)
    draft.update({
        "title": parent.title, "details": parent.details, "details_done": True,
        "file_id": parent.file_id, "file_name": plan.original_name if plan else None,
        "deadline": due.isoformat(), "requires": parent.requires,
        "offsets": [int(x) for x in parent.reminder_offsets.split(",") if x.strip()],
        "parent_id": parent.id, "parent_target_id": target.id, "parent_number": parent.number,
        "parent_office": await office_name(ctx.session, parent.office_id) or "",
        "parent_deadline": target.deadline.isoformat(), "office_id": office.id,
    })
    below = await unit_ids_below(ctx.session, ident(office))
    draft["unit_ids"] = [u for u in below if u != office.id]
    if rest:
        line = parse_giao_line(rest)
        if line.unknown:
            await ctx.reply(t("Không hiểu phần «{part}»; các phần là: hạn, đơn vị, chi tiết.",
                              part=excerpt(" | ".join(line.unknown))))
            return
        if line.details:
            draft["details"] = line.details
        if line.deadline:
            problem = giao.apply_deadline(ctx, draft, line.deadline)
            if problem:
                await giao.ask(ctx, draft, "deadline", problem)
                return
        if line.units:
            problem = await giao.apply_units(ctx, draft, line.units)
            if problem:
                await giao.ask(ctx, draft, "units", problem)
                return
    if not draft["unit_ids"]:
        await giao.ask(ctx, draft, "units", t("{office} chưa có đơn vị trực thuộc nào.",
                                              office=office.name))
        return
    await giao.preview(ctx, draft)


# --- after a change ------------------------------------------------------------------------


async def after_answer(ctx: Context, target: Target) -> None:
    """A unit of a hand-down has answered (submitted or excused): when it was the last one,
    the office's staff are told, with `/tainop` ready and the report it still owes upward."""
    child = await ctx.session.get(Assignment, target.assignment_id)
    if child is None or child.parent_id is None or target.period != child.period:
        return
    states = await tasks.target_states(ctx.session, ident(child),
                                       child.period)
    if not answered(states):
        return
    marker = f"handed_down_done:{child.id}"
    if await tasks.logged(ctx.session, "handed_down_done", marker):
        return
    ctx.session.add(AuditLog(at=ctx.now, actor="system", action="handed_down_done",
                             assignment_id=child.id, detail=marker))
    n = len(states)
    await _tell_office(ctx, child, lambda tr: tr(
        "✅ Cả {n} đơn vị đã trả lời nhiệm vụ giao tiếp {task}. Tải các tệp đã nộp: "
        "/tainop #{number}", n=n, task=task_line(tr, child), number=child.number))


async def _tell_office(ctx: Context, child: Assignment, news: Callable[[Translator], str]
                       ) -> None:
    """Tell the clerk who handed `child` down `news`, and the report the office still owes
    for the parent, if it does."""
    parent = await ctx.session.get(Assignment, child.parent_id)
    office_target = await ctx.session.get(Target, child.parent_target_id) \
        if child.parent_target_id else None
    staff = await ctx.session.get(Member, child.assigned_by)
    if parent is None or office_target is None or staff is None:
        return
    office = await ctx.session.get(Unit, office_target.unit_id)
    owed = office_target.state in OPEN_TARGET_STATES

    def render(tr: Translator) -> str:
        lines = [news(tr)]
        if owed:
            lines.append(tr("{office} vẫn cần nộp báo cáo của mình cho nhiệm vụ {task} trước "
                            "{deadline}.", office=office.name if office else "",
                            task=task_line(tr, parent),
                            deadline=tr.moment(office_target.deadline)))
        return "\n".join(lines)

    await ctx.send(staff, render, priority=1, assignment_id=child.id)


async def cancel_children(ctx: Context, parent: Assignment) -> int:
    """The parent was cancelled: so are its hand-downs (and theirs); their units are told.
    Returns how many people were told."""
    told = 0
    children = await tasks.active_hand_downs(ctx.session, ident(parent))
    for child in children:
        told += await giao.cancel_task(ctx, child)
        told += await cancel_children(ctx, child)  # and theirs, level after level
        await ctx.audit("cancel", child.id, number=child.number, because=f"#{parent.number}")
        staff = await ctx.session.get(Member, child.assigned_by)
        if staff is not None and (ctx.member is None or staff.id != ctx.member.id):
            await ctx.send(staff, partial(_cancelled_text, parent=parent, child=child), priority=1,
                           assignment_id=child.id)
    return told


def _cancelled_text(tr: Translator, parent: Assignment, child: Assignment) -> str:
    return tr("Nhiệm vụ {parent} đã được huỷ nên nhiệm vụ giao tiếp {task} cũng được huỷ; "
              "các đơn vị đã được báo.", parent=task_line(tr, parent),
              task=task_line(tr, child))


async def after_extension(ctx: Context, target: Target, parent: Assignment) -> None:
    """An office got an extension on the parent: its hand-down keeps its deadline, and its
    staff are told they may move it."""
    child = await child_of(ctx, ident(target))
    staff = await ctx.session.get(Member, child.assigned_by) if child else None
    if child is None or staff is None:
        return
    child_due = await tasks.earliest_deadline(ctx.session, ident(child))
    await ctx.send(staff, lambda tr: tr(
        "ℹ️ Nhiệm vụ {parent} được gia hạn cho đơn vị đến {until}. Nhiệm vụ giao tiếp {task} "
        "vẫn giữ hạn {deadline}; có thể gia hạn cho các đơn vị nếu cần.",
        parent=task_line(tr, parent), until=tr.moment(target.deadline),
        task=task_line(tr, child), deadline=tr.moment(child_due or child.deadline)),
        priority=1, assignment_id=child.id)


async def after_excuse(ctx: Context, target: Target) -> None:
    """An office was excused from the parent: its hand-down's staff are asked whether to
    cancel it."""
    child = await child_of(ctx, ident(target))
    staff = await ctx.session.get(Member, child.assigned_by) if child else None
    parent = await ctx.session.get(Assignment, target.assignment_id)
    if child is None or staff is None or parent is None or child.state != AssignmentState.ACTIVE:
        return
    await ctx.send(staff, lambda tr: tr(
        "ℹ️ Đơn vị được miễn nộp nhiệm vụ {parent}. Nhiệm vụ giao tiếp {task} còn cần không? "
        "Bấm «Huỷ #{number}» để huỷ và báo các đơn vị; nếu vẫn cần thì không phải làm gì.",
        parent=task_line(tr, parent), task=task_line(tr, child), number=child.number),
        lambda tr: [Button(tr("Huỷ #{number}", number=child.number),
                                 CancelHandDown(child.number).pack())],
        priority=1, assignment_id=child.id)


# --- roll-up ------------------------------------------------------------------------------


@dataclass(frozen=True)
class HandDown:
    child: Assignment
    figures: Figures  # of the child's current period, over all its units


async def hand_downs(ctx: Context, assignment: Assignment, period: str,
                     seen: TargetCondition | None) -> dict[int, HandDown]:
    """The hand-downs of `assignment`'s `period`, by the office target they came from, for
    the office targets the reader sees (`seen`, None for all)."""
    children = await tasks.hand_downs_seen(ctx.session, ident(assignment),
                                           period, seen)
    if not children:
        return {}
    # One read of the counters for every hand-down (a Sở task may have hundreds).
    counted = await tasks.hand_down_tallies(ctx.session, ctx.now, ident(assignment))
    found: dict[int, HandDown] = {}
    for child in children:
        assert child.parent_target_id is not None  # a hand-down comes from an office target
        item = counted.get((ident(child), child.period))
        found[child.parent_target_id] = HandDown(child, item.figures if item else Figures())
    return found


def hand_down_words(t: Translator, down: HandDown) -> str:
    return t(" — giao tiếp #{number}: {done}/{total} đơn vị đã nộp", number=down.child.number,
             done=t.number(down.figures.submitted), total=t.number(down.figures.expected))


def level_below(t: Translator, downs: dict[int, HandDown]) -> str:
    done = sum(d.figures.submitted for d in downs.values())
    total = sum(d.figures.expected for d in downs.values())
    return t("Cấp dưới: {done}/{total} đơn vị đã nộp qua {k} đơn vị đã giao tiếp",
             done=t.number(done), total=t.number(total), k=t.number(len(downs)))


async def hand_downs_due(ctx: Context, now: datetime) -> int:
    """Hand-downs whose deadline has passed with units still owing: the clerk who handed it
    down is told once, with `/tainop` ready and the report the office still owes upward
    (those whose units all answered were told then). Returns how many were told."""
    children = await tasks.hand_downs_due_untold(ctx.session, now)
    told = 0
    for child in children:
        # Told once, whichever worker's sweep comes first: the task's row is locked and the
        # question asked again.
        await targets.lock_task(ctx.session, child)
        if await tasks.hand_down_told(ctx.session, ident(child)):
            continue
        told += 1
        ctx.session.add(AuditLog(at=now, actor="system", action="handed_down_due",
                                 assignment_id=child.id, detail=f"#{child.number}"))
        counted = await tallies(ctx.session, ctx.now, EVERY_UNIT, assignment_id=child.id)
        item = counted.get((ident(child), child.period))
        f = item.figures if item else Figures()
        await _tell_office(ctx, child, partial(_due_text, child=child, f=f))
    return told


def _due_text(tr: Translator, child: Assignment, f: Figures) -> str:
    return tr("⏰ Đã đến hạn nhiệm vụ giao tiếp {task}: {done}/{total} đơn vị đã nộp. Tải các "
              "tệp đã nộp: /tainop #{number}", task=task_line(tr, child),
              done=tr.number(f.submitted), total=tr.number(f.expected), number=child.number)
