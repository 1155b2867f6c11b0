"""`/tiendo`: progress for leaders and staff (everything) and reporters (their units).

`/tiendo` (open tasks), `/tiendo #N` (one task, its missing units, chart and Excel buttons),
`/tiendo @group` and `/tiendo <unit>` (rolled up through the unit tree, with the figures over
time), `/tiendo tre-han` (late and missing across open tasks), `/tiendo hay-tre` (the units
most often late over time).
The figures come from `storage.figures` (counters kept with every change, tallied by
`core.progress`). Long lists are paged with `Trang sau`/`Trang trước` buttons whose payload
carries the view.
"""

from __future__ import annotations

from typing import TypeGuard

from core.callbacks import ProgressPage, ReportFile
from core.i18n import Translator
from core.messages import Button
from core.progress import Figures, pages
from core.scope import Scope
from core.states import OPEN_TARGET_STATES, AssignmentState, TargetState
from core.text import excerpt, fold
from handlers import reach
from handlers.cascade import hand_down_words, hand_downs, level_below
from handlers.common import current_periods, task_line, units_with_units_below
from handlers.context import Context
from services.scope import find_task, own_tasks, task_target_filter, visible_units
from storage.figures import (
    EVERY_UNIT,
    Units,
    active,
    aware,
    histories,
    history,
    late_names,
    late_page,
    missing_page,
    most_late,
    tallies,
    tasks_by_id,
    unit_task_count,
    unit_task_page,
)
from storage.models import Outbox, Unit, ident
from storage.queries import subtree
from storage.units import (
    any_of,
    count_of,
    group_name,
    group_roots,
    group_units,
    units_by_code,
    units_by_id,
    units_by_name,
    units_named,
)

PAGE_SIZE = 20
CHOICES = 10  # units offered as buttons when a name matches several
LATE_WORDS = ("tre han", "late")
MOST_LATE_WORDS = ("hay tre", "hay tre han", "often late")


# --- texts -------------------------------------------------------------------------------


def figures_text(t: Translator, f: Figures) -> str:
    n = t.number
    text = t("đã nộp {submitted}/{expected} (đúng hạn {on_time}, muộn {late}), chưa nộp "
             "{missing}", submitted=n(f.submitted), expected=n(f.expected), on_time=n(f.on_time),
             late=n(f.late), missing=n(f.missing))
    if f.overdue:
        text += t(", quá hạn {n}", n=n(f.overdue))
    if f.excused:
        text += t(", miễn {n}", n=n(f.excused))
    if f.extended:
        text += t(", gia hạn {n}", n=n(f.extended))
    return text


def percent(t: Translator, part: int, whole: int) -> str:
    """`66,7% (2/3)` in Vietnamese, `66.7% (2/3)` in English."""
    value = round(100.0 * part / whole, 1) if whole else 0
    return t("{p}% ({part}/{whole})", p=t.number(value), part=t.number(part),
             whole=t.number(whole))


def rates_text(t: Translator, f: Figures) -> str:
    return t("Hoàn thành {c}, đúng hạn {o}", c=percent(t, f.submitted, f.expected),
             o=percent(t, f.on_time, f.expected))


def history_text(t: Translator, f: Figures) -> str:
    """The figures over time: what was due, how it went, the mean delay."""
    text = t("đến hạn {owed} lần: đúng hạn {on_time}, muộn {late}, không nộp {missing}",
             owed=t.number(f.owed), on_time=percent(t, f.on_time, f.owed), late=t.number(f.late),
             missing=t.number(f.overdue))
    if f.late:
        text += t("; trễ trung bình {days} ngày", days=t.number(round(f.mean_delay, 1)))
    return text


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


# --- paging ------------------------------------------------------------------------------


def _page_buttons(t: Translator, view: str, page: int, total: int, arg: str = "") -> list[Button]:
    """The buttons of the neighbouring pages."""
    buttons = []
    if page > 1:
        buttons.append(Button(t("Trang trước"), ProgressPage(view, page - 1, arg).pack()))
    if page < pages(total, PAGE_SIZE):
        buttons.append(Button(t("Trang sau"), ProgressPage(view, page + 1, arg).pack()))
    return buttons


def _page_line(t: Translator, page: int, total: int) -> list[str]:
    last = pages(total, PAGE_SIZE)
    return [t("Trang {page}/{pages}", page=t.number(page), pages=t.number(last))] if last > 1 \
        else []


def _clamp(page: int, total: int) -> int:
    return min(max(1, page), pages(total, PAGE_SIZE))


# --- the command --------------------------------------------------------------------------


def _scope(ctx: Context) -> Scope | None:
    """The member's scope (`services.scope`): None for those who see every unit."""
    return None if ctx.scope.whole_registry else ctx.scope


def _units(scope: Scope | None) -> Units:
    """Every target the member sees, over all tasks: their offices' subtrees and units, and
    every target of their offices' own tasks."""
    return EVERY_UNIT if scope is None else Units.given(visible_units(scope), own_tasks(scope))


def _nothing(scope: Scope | None) -> bool:
    return scope is not None and not scope.offices and not scope.reporting


def _reporter_only(scope: Scope | None) -> TypeGuard[Scope]:
    """Sees only the units they report for (no office): the group views are not theirs."""
    return scope is not None and not scope.offices


async def handle_command(ctx: Context, args: str) -> None:
    t = ctx.t
    scope = _scope(ctx)
    if _nothing(scope):
        await ctx.reply(t("Bạn chưa có quyền xem tiến độ."))
        return
    arg = args.strip()
    if not arg:
        await _overview(ctx, scope, 1)
    elif arg.startswith("#") or arg.isdigit():
        await _one_task(ctx, arg, scope, 1)
    elif fold(arg).replace("-", " ") in LATE_WORDS:
        await _late(ctx, scope, 1)
    elif fold(arg).replace("-", " ") in MOST_LATE_WORDS:
        await _most_late_view(ctx, scope)
    elif arg.startswith("@"):
        await _group(ctx, arg[1:], scope, 1)
    else:
        await _unit(ctx, arg, scope, 1)


async def on_button(ctx: Context, parts: list[str], source: Outbox) -> None:
    """A page button: `t:<view>:<page>[:<arg>]`. The router checked that the payload was on a
    message to this chat; the view checks again what this member may see."""
    press = ProgressPage.from_parts(parts)
    scope = _scope(ctx)
    if press is None or _nothing(scope):
        await ctx.reply(ctx.t("Nút này không còn hiệu lực. Gõ /help để xem các lệnh."))
        return
    view, page, arg = press.view, press.page, press.arg
    if view == "o":
        await _overview(ctx, scope, page)
    elif view == "n":
        await _one_task(ctx, arg, scope, page)
    elif view == "l":
        await _late(ctx, scope, page)
    elif view == "g":  # the payload carries the group's key: show its name as imported
        name = await group_name(ctx.session, arg)
        await _group(ctx, name or arg, scope, page)
    elif view == "u" and arg.isdigit():
        unit = await ctx.session.get(Unit, int(arg))
        await _unit(ctx, unit.code if unit else "", scope, page)
    else:
        await ctx.reply(ctx.t("Nút này không còn hiệu lực. Gõ /help để xem các lệnh."))


# --- views -------------------------------------------------------------------------------


async def _task_lines(ctx: Context, units: Units, page: int, view: str, arg: str = ""
                      ) -> tuple[list[str], list[Button]]:
    """One line per open task (its latest period), nearest deadline first, one page; no lines
    when there is no open task."""
    t = ctx.t
    counted = await tallies(ctx.session, ctx.now, units, active())
    current = await current_periods(ctx, {assignment_id for assignment_id, _ in counted})
    latest = {assignment_id: (period, item) for (assignment_id, period), item in counted.items()
              if current.get(assignment_id) == period}
    if not latest:
        return [], []
    assignments = await tasks_by_id(ctx.session, latest)
    order = sorted(latest, key=lambda a: (latest[a][1].earliest, assignments[a].number))
    page = _clamp(page, len(order))
    lines = []
    for assignment_id in order[(page - 1) * PAGE_SIZE: page * PAGE_SIZE]:
        period, item = latest[assignment_id]
        task = task_line(t, assignments[assignment_id])
        if period:
            task += t(" kỳ {period}", period=period)
        lines.append(t("• {task} — hạn {deadline} — {figures}", task=task,
                       deadline=t.date(item.earliest), figures=figures_text(t, item.figures)))
    return lines + _page_line(t, page, len(order)), _page_buttons(t, view, page, len(order), arg)


async def _overview(ctx: Context, scope: Scope | None, page: int) -> None:
    lines, buttons = await _task_lines(ctx, _units(scope), page, "o")
    if not lines:
        await ctx.reply(ctx.t("Không có nhiệm vụ nào đang mở."))
        return
    await ctx.reply("\n".join([ctx.t("Tiến độ các nhiệm vụ đang mở:"), *lines]), buttons)


async def _one_task(ctx: Context, ref: str, scope: Scope | None, page: int) -> None:
    t = ctx.t
    assignment = await find_task(ctx.session, ctx.scope, ref)
    seen = await task_target_filter(ctx.session, ctx.scope, assignment) if assignment \
        else None
    units = EVERY_UNIT if seen is None else Units.given(visible_units(ctx.scope))
    by_period = ({period: item for (_, period), item in (await tallies(
        ctx.session, ctx.now, units, assignment_id=assignment.id)).items()} if assignment else {})
    if assignment is None or not by_period:
        await ctx.reply(t("Không có nhiệm vụ «{ref}». Gõ /tiendo để xem các nhiệm vụ đang mở.",
                          ref=excerpt(ref)))
        return
    # The current period is the one opened last (an extension may move one of its deadlines
    # past the next period's); the earlier ones follow by deadline.
    period = (await current_periods(ctx, {ident(assignment)})).get(ident(assignment), "")
    if period not in by_period:  # a reporter's unit may have no target in it
        period = max(by_period, key=lambda k: by_period[k].earliest)
    periods = [*sorted((k for k in by_period if k != period),
                       key=lambda k: by_period[k].earliest), period]
    current = by_period[period]
    f = current.figures
    state_words: dict[str, str] = {AssignmentState.CANCELLED: t(" (đã huỷ)"),
                                   AssignmentState.CLOSED: t(" (đã đóng)")}
    state = state_words.get(assignment.state, "")
    lines = [t("Nhiệm vụ {task}{state}", task=task_line(t, assignment), state=state)]
    if period:
        lines.append(t("Kỳ báo cáo: {period}", period=period))
    lines += [
        t("Hạn nộp: {deadline} — {left}", deadline=t.moment(current.earliest),
          left=t.time_left(ctx.now, current.earliest)),
        _cap(figures_text(t, f)),
        rates_text(t, f),
    ]
    if f.nil:
        lines.append(t("Báo cáo không phát sinh: {n}", n=t.number(f.nil)))
    downs = await hand_downs(ctx, assignment, period, seen)
    if downs:
        lines.append(level_below(t, downs))
    for earlier in reversed(periods[-6:-1]):
        lines.append(t("Kỳ {period}: {figures}", period=earlier,
                       figures=figures_text(t, by_period[earlier].figures)))
    if assignment.state == AssignmentState.CANCELLED:  # nobody owes it: no list of units to chase
        lines.append(t("Nhiệm vụ đã được huỷ nên các đơn vị không cần nộp nữa; số liệu trên là "
                       "những gì đã nộp trước khi huỷ."))
        await ctx.reply("\n".join(lines), assignment_id=assignment.id)
        return
    page = _clamp(page, f.missing)
    if f.missing:
        rows = await missing_page(ctx.session, ident(assignment), period, seen,
                                  (page - 1) * PAGE_SIZE, PAGE_SIZE)
        offices = await units_with_units_below(ctx, [row[5] for row in rows]) if downs \
            else set()
        unreachable = await reach.unit_unreachable(ctx, [row[5] for row in rows])
        lines.append(t("Chưa nộp ({n}):", n=t.number(f.missing)))
        for name, target_state, progress, deadline, target_id, unit_id in rows:
            extra = ""
            if target_state == TargetState.IN_PROGRESS:
                extra = (t(" — đang làm {percent}%", percent=progress) if progress is not None
                         else t(" — đang làm"))
            if deadline != current.earliest:
                extra += t(" — hạn {deadline}", deadline=t.date(aware(deadline)))
            if target_id in downs:
                extra += hand_down_words(t, downs[target_id])
            elif unit_id in offices:
                extra += t(" — chưa giao tiếp")
            if unit_id in unreachable:
                extra += t(" — không liên lạc được")
            lines.append(f"• {name}{extra}")
        lines += _page_line(t, page, f.missing)
    if f.late and page == 1:
        names = await late_names(ctx.session, ident(assignment), period, seen,
                                 PAGE_SIZE)
        text = t("Nộp muộn ({n}): {names}", n=t.number(f.late), names=", ".join(names))
        if f.late > len(names):
            text += t(" … và {n} đơn vị khác (/tiendo tre-han)", n=t.number(f.late - len(names)))
        lines.append(text)
    buttons = _page_buttons(t, "n", page, f.missing, str(assignment.number))
    if ctx.scope.sees_offices and not (ctx.event and ctx.event.is_group):  # private only
        buttons += [Button(t("Biểu đồ"), ReportFile("chart", assignment.number).pack()),
                    Button("Excel", ReportFile("xlsx", assignment.number).pack())]
    await ctx.reply("\n".join(lines), buttons, assignment_id=assignment.id)


async def _group(ctx: Context, name: str, scope: Scope | None, page: int) -> None:
    """A group's units and those below them; for an office, only those in its scope."""
    t = ctx.t
    if _reporter_only(scope):
        await ctx.reply(t("Bạn chỉ xem được tiến độ của đơn vị mình: gõ /tiendo."))
        return
    key = fold(name)
    within = None if scope is None else visible_units(scope)
    roots, members = group_roots(key, within), group_units(key, within)
    count = await count_of(ctx.session, roots)
    if not count:
        await ctx.reply(t("Không có nhóm «{group}». Các nhóm được đặt khi nhập danh sách đơn vị.",
                          group=excerpt(f"@{name}")))
        return
    units = Units(group=key) if scope is None else Units.given(members)
    size = await count_of(ctx.session, members)
    lines = [t("Tiến độ của nhóm {group} ({n} đơn vị):", group=f"@{name}", n=t.number(count))]
    if size > count:
        lines[0] = t("Tiến độ của nhóm {group} ({n} đơn vị, tính cả {below} đơn vị trực "
                     "thuộc):", group=f"@{name}", n=t.number(count), below=t.number(size - count))
    task_lines, buttons = await _task_lines(ctx, units, page, "g", key)
    lines += task_lines or [t("Không có nhiệm vụ nào đang mở.")]
    if page == 1:
        lines += await _over_time(ctx, units, t("cả nhóm"))
        lines += await _most_late(ctx, units)
    await ctx.reply("\n".join(lines), buttons)


async def _over_time(ctx: Context, units: Units, who: str) -> list[str]:
    figures = await history(ctx.session, ctx.now, units)
    if not figures.owed:
        return []
    return [ctx.t("Từ trước đến nay — {who}: {figures}", who=who,
                  figures=history_text(ctx.t, figures))]


async def _most_late(ctx: Context, units: Units) -> list[str]:
    """The units most often late or missing over time, with their figures."""
    t = ctx.t
    ids = await most_late(ctx.session, ctx.now, units)
    if not ids:
        return []
    figures = await histories(ctx.session, ctx.now, ids)
    by_id = {u.id: u for u in await units_by_id(ctx.session, ids)}
    lines = [t("Đơn vị hay trễ hạn nhất:")]
    for unit_id in ids:
        lines.append(t("• {unit} ({code}) — {figures}", unit=by_id[unit_id].name,
                       code=by_id[unit_id].code,
                       figures=history_text(t, figures[unit_id])))
    return lines


async def _is_group(ctx: Context, name: str, scope: Scope | None) -> bool:
    return await any_of(ctx.session, group_roots(
        fold(name), None if scope is None else visible_units(scope)))


async def _units_named(ctx: Context, ref: str, scope: Scope | None) -> list[Unit]:
    """Units whose name contains `ref` (accents and case aside), among those the member
    sees; whole words first, as `/giao` reads names."""
    key = fold(ref)
    if not key:
        return []
    within = None if scope is None else (
        sorted(scope.reporting) if _reporter_only(scope) else visible_units(scope))
    return await units_named(ctx.session, key, within, CHOICES + 1)


async def _find_unit(ctx: Context, ref: str, scope: Scope | None) -> Unit | None:
    """The unit with code or name `ref`; for an office, only among the units it sees."""
    if not ref:
        return None
    within = None if scope is None or _reporter_only(scope) else visible_units(scope)
    found = await units_by_code(ctx.session, ref, within)
    if not found:
        found = await units_by_name(ctx.session, fold(ref), within)
    return found[0] if found else None


async def _unit(ctx: Context, ref: str, scope: Scope | None, page: int) -> None:
    t = ctx.t
    unit = await _find_unit(ctx, ref, scope)
    if unit is None and not _reporter_only(scope) and await _is_group(ctx, ref, scope):
        await _group(ctx, ref, scope, page)  # a group written without its @ (/tiendo thpt)
        return
    if unit is None:
        candidates = await _units_named(ctx, ref, scope)
        if len(candidates) > 1:
            await ctx.reply(t("«{ref}» khớp với nhiều đơn vị; chọn một:", ref=excerpt(ref)),
                            [Button(u.name, ProgressPage("u", 1, str(u.id)).pack())
                             for u in candidates[:CHOICES]])
            return
        unit = candidates[0] if candidates else None
    if unit is None:
        await ctx.reply(t("Không có đơn vị hay nhiệm vụ «{ref}». Gõ /tiendo, /tiendo #số, "
                          "/tiendo @nhóm hoặc /tiendo mã-đơn-vị.", ref=excerpt(ref)))
        return
    if _reporter_only(scope) and unit.id not in scope.reporting:
        await ctx.reply(t("Bạn chỉ xem được tiến độ của đơn vị mình."))
        return
    total = await unit_task_count(ctx.session, ident(unit))
    page = _clamp(page, total)
    rows = await unit_task_page(ctx.session, ident(unit),
                                (page - 1) * PAGE_SIZE, PAGE_SIZE)
    lines = [t("Tiến độ của {unit} ({code}):", unit=unit.name, code=unit.code)]
    names: dict[str, str] = {TargetState.PENDING: t("chưa nộp"),
                             TargetState.IN_PROGRESS: t("đang làm"),
                             TargetState.EXCUSED: t("được miễn"),
                             TargetState.REMOVED: t("không còn thuộc nhiệm vụ")}
    for target, assignment in rows:
        if target.state == TargetState.SUBMITTED:
            state = t("đã nộp đúng hạn") if target.on_time else t("đã nộp muộn")
        else:
            state = names.get(target.state, target.state)
            if ctx.now > target.deadline and target.state in OPEN_TARGET_STATES:
                state += t(" (quá hạn)")
        lines.append(t("• {task} — hạn {deadline} — {state}", task=task_line(t, assignment),
                       deadline=t.date(target.deadline), state=state))
    if not rows:
        lines.append(t("Không có nhiệm vụ nào đang mở."))
    lines += _page_line(t, page, total)
    if page == 1:
        lines += await _over_time(ctx, Units.given([unit.id]), t("riêng đơn vị"))
        tree = subtree([unit.id])
        size = await count_of(ctx.session, tree)
        if size > 1:
            lines += await _over_time(ctx, Units.given(tree), t(
                "tính cả {n} đơn vị trực thuộc", n=t.number(size - 1)))
    await ctx.reply("\n".join(lines), _page_buttons(t, "u", page, total, str(unit.id)))


async def _late(ctx: Context, scope: Scope | None, page: int) -> None:
    """Late and missing targets across the open tasks, by deadline, task and unit."""
    t = ctx.t
    units = _units(scope)
    total, rows = await late_page(ctx.session, ctx.now, units, (page - 1) * PAGE_SIZE, PAGE_SIZE)
    if not total:
        await ctx.reply(t("Không có đơn vị nào trễ hạn ở các nhiệm vụ đang mở."))
        return
    if page != _clamp(page, total):  # a page button of a list that has shrunk since
        page = _clamp(page, total)
        total, rows = await late_page(ctx.session, ctx.now, units, (page - 1) * PAGE_SIZE,
                                      PAGE_SIZE)
    lines = [t("Trễ hạn ở các nhiệm vụ đang mở ({n}):", n=t.number(total))]
    for assignment, name, target in rows:
        if target.state == TargetState.SUBMITTED:
            assert target.submitted_at is not None
            state = t("nộp muộn, {late}", late=t.time_left(target.submitted_at, target.deadline))
        else:
            state = t("chưa nộp, {late}", late=t.time_left(ctx.now, target.deadline))
        number = t("#{number} kỳ {period}", number=assignment.number, period=target.period) \
            if target.period else f"#{assignment.number}"
        lines.append(t("• {task} — {unit}: {state}", task=number, unit=name, state=state))
    lines += _page_line(t, page, total)
    await ctx.reply("\n".join(lines), _page_buttons(t, "l", page, total))


async def _most_late_view(ctx: Context, scope: Scope | None) -> None:
    """`/tiendo hay-tre`: the units most often late over time, among the units in scope."""
    if _reporter_only(scope):
        await ctx.reply(ctx.t("Bạn chỉ xem được tiến độ của đơn vị mình: gõ /tiendo."))
        return
    lines = await _most_late(ctx, EVERY_UNIT if scope is None
                             else Units.given(visible_units(scope)))
    await ctx.reply("\n".join(lines) if lines else ctx.t("Chưa có đơn vị nào trễ hạn."))
