"""`/tiendo`: progress for leaders and staff (everything) and reporters (their units)."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import func
from sqlmodel import col, select

from core import roles
from core.i18n import Translator
from core.progress import Figures, figures
from core.text import fold
from handlers.common import find_assignment, in_current_period, task_line
from handlers.context import Context
from storage.models import Assignment, Outbox, Target, Unit, UnitGroup

MAX_LISTED = 30


def figures_text(t: Translator, f: Figures) -> str:
    text = t("đã nộp {submitted}/{expected} (đúng hạn {on_time}, muộn {late}), chưa nộp "
             "{missing}", submitted=f.submitted, expected=f.expected, on_time=f.on_time,
             late=f.late, missing=f.missing)
    if f.overdue:
        text += t(", quá hạn {n}", n=f.overdue)
    if f.excused:
        text += t(", miễn {n}", n=f.excused)
    return text


async def _targets(ctx: Context, assignment_ids: list[int] | None = None,
                   unit_ids: set[int] | None = None) -> list[Target]:
    query = select(Target)
    if assignment_ids is not None:
        query = query.where(col(Target.assignment_id).in_(assignment_ids))
    if unit_ids is not None:
        query = query.where(col(Target.unit_id).in_(unit_ids))
    return await in_current_period(ctx, list((await ctx.session.exec(query)).all()))


async def _open_assignments(ctx: Context) -> list[Assignment]:
    return list((await ctx.session.exec(
        select(Assignment).where(Assignment.state == "active")
        .order_by(col(Assignment.deadline), col(Assignment.number)))).all())


async def handle_command(ctx: Context, args: str) -> None:
    t = ctx.t
    sees_all = roles.can_see_all_progress(ctx.roles)
    scope = None if sees_all else set(ctx.unit_ids)
    if scope is not None and not scope:
        ctx.reply(t("Bạn chưa có quyền xem tiến độ."))
        return
    arg = args.strip()
    if not arg:
        await _overview(ctx, scope, t("Tiến độ các nhiệm vụ đang mở:"))
    elif arg.startswith("#") or arg.isdigit():
        await _one_task(ctx, arg, scope)
    elif arg.startswith("@"):
        if scope is not None:
            ctx.reply(t("Bạn chỉ xem được tiến độ của đơn vị mình: gõ /tiendo."))
            return
        units = (await ctx.session.exec(
            select(Unit).join(UnitGroup, col(UnitGroup.unit_id) == col(Unit.id))
            .where(UnitGroup.key == fold(arg[1:])))).unique().all()
        if not units:
            ctx.reply(t("Không có nhóm «{group}».", group=arg))
            return
        await _overview(ctx, {u.id for u in units},  # type: ignore[misc]
                        t("Tiến độ của nhóm {group} ({n} đơn vị):", group=arg, n=len(units)))
    else:
        unit = (await ctx.session.exec(
            select(Unit).where(func.upper(Unit.code) == arg.upper()))).first()
        if unit is None:
            unit = (await ctx.session.exec(select(Unit).where(Unit.name_key == fold(arg)))).first()
        if unit is None:
            ctx.reply(t("Không có đơn vị hay nhiệm vụ «{ref}». Gõ /tiendo, /tiendo #số, "
                        "/tiendo @nhóm hoặc /tiendo mã-đơn-vị.", ref=arg))
            return
        if scope is not None and unit.id not in scope:
            ctx.reply(t("Bạn chỉ xem được tiến độ của đơn vị mình."))
            return
        await _unit(ctx, unit)


async def _overview(ctx: Context, unit_ids: set[int] | None, title: str) -> None:
    t = ctx.t
    assignments = await _open_assignments(ctx)
    targets = await _targets(ctx, [a.id for a in assignments], unit_ids)  # type: ignore[misc]
    by_task: dict[int, list[Target]] = defaultdict(list)
    for target in targets:
        by_task[target.assignment_id].append(target)
    lines = [title]
    shown = [a for a in assignments if by_task.get(a.id)]  # type: ignore[arg-type]
    shown.sort(key=lambda a: (min(x.deadline for x in by_task[a.id]), a.number))  # type: ignore[index]
    for assignment in shown:
        items = by_task[assignment.id]  # type: ignore[index]
        deadline = min(x.deadline for x in items)
        lines.append(t("• {task} — hạn {deadline} — {figures}", task=task_line(t, assignment),
                       deadline=t.date(deadline), figures=figures_text(t, figures(items, ctx.now))))
    if not shown:
        lines = [t("Không có nhiệm vụ nào đang mở.")]
    ctx.reply("\n".join(lines))


async def _one_task(ctx: Context, ref: str, scope: set[int] | None) -> None:
    t = ctx.t
    assignment = await find_assignment(ctx, ref)
    targets = await _targets(ctx, [assignment.id], scope) if assignment else []  # type: ignore[list-item]
    if assignment is None or (scope is not None and not targets):
        ctx.reply(t("Không có nhiệm vụ «{ref}». Gõ /tiendo để xem các nhiệm vụ đang mở.",
                    ref=ref))
        return
    f = figures(targets, ctx.now)
    units = {u.id: u for u in (await ctx.session.exec(
        select(Unit).where(col(Unit.id).in_([x.unit_id for x in targets])))).all()}
    state = {"cancelled": t(" (đã huỷ)"), "closed": t(" (đã đóng)")}.get(assignment.state, "")
    deadline = min((x.deadline for x in targets), default=assignment.deadline)
    lines = [
        t("Nhiệm vụ {task}{state}", task=task_line(t, assignment), state=state),
        t("Hạn nộp: {deadline} — {left}", deadline=t.moment(deadline),
          left=t.time_left(ctx.now, deadline)),
        *([t("Kỳ báo cáo: {period}", period=targets[0].period)]
          if targets and targets[0].period else []),
        figures_text(t, f).capitalize() + t(" — hoàn thành {c}%, đúng hạn {o}%",
                                            c=t.number(round(f.completeness)),
                                            o=t.number(round(f.timeliness))),
    ]
    missing = sorted((x for x in targets if x.state in ("pending", "in_progress")),
                     key=lambda x: units[x.unit_id].code)
    if missing:
        lines.append(t("Chưa nộp ({n}):", n=len(missing)))
        for target in missing[:MAX_LISTED]:
            extra = (t(" — đang làm {percent}%", percent=target.percent)
                     if target.state == "in_progress" and target.percent is not None
                     else t(" — đang làm") if target.state == "in_progress" else "")
            lines.append(f"• {units[target.unit_id].name}{extra}")
        if len(missing) > MAX_LISTED:
            lines.append(t("… và {n} đơn vị khác", n=len(missing) - MAX_LISTED))
    late = [x for x in targets if x.state == "submitted" and not x.on_time]
    if late:
        lines.append(t("Nộp muộn ({n}): {names}", n=len(late),
                       names=", ".join(units[x.unit_id].name for x in late[:MAX_LISTED])))
    ctx.reply("\n".join(lines), assignment_id=assignment.id)


async def _unit(ctx: Context, unit: Unit) -> None:
    t = ctx.t
    rows = (await ctx.session.exec(
        select(Target, Assignment).join(Assignment, col(Assignment.id) == col(Target.assignment_id))
        .where(Target.unit_id == unit.id, Assignment.state == "active")
        .order_by(col(Target.deadline)))).all()
    lines = [t("Tiến độ của {unit} ({code}):", unit=unit.name, code=unit.code)]
    names = {"pending": t("chưa nộp"), "in_progress": t("đang làm"), "excused": t("được miễn")}
    for target, assignment in rows:
        if target.state == "submitted":
            state = t("đã nộp đúng hạn") if target.on_time else t("đã nộp muộn")
        else:
            state = names.get(target.state, target.state)
            if ctx.now > target.deadline and target.state in ("pending", "in_progress"):
                state += t(" (quá hạn)")
        lines.append(t("• {task} — hạn {deadline} — {state}", task=task_line(t, assignment),
                       deadline=t.date(target.deadline), state=state))
    if not rows:
        lines.append(t("Không có nhiệm vụ nào đang mở."))
    ctx.reply("\n".join(lines))


async def on_button(ctx: Context, parts: list[str], source: Outbox) -> None:
    ctx.reply(ctx.t("Nút này không còn hiệu lực. Gõ /help để xem các lệnh."))
