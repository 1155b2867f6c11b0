"""`/tiendo`: progress for leaders and staff (everything) and reporters (their units).

`/tiendo` (open tasks), `/tiendo #N` (one task, its missing units, chart and Excel buttons),
`/tiendo @group` and `/tiendo <unit>` (rolled up through the unit tree, with the figures over
time), `/tiendo tre-han` (late and missing across open tasks), `/tiendo hay-tre` (the units
most often late over time).
Figures are aggregated in the database (one GROUP BY) and tallied by `core.progress`; the
figures over time sum the units' history counters (`UnitTally`, see `storage.tally`) instead
of reading every target. Long lists are paged with `Trang sau`/`Trang trước` buttons whose
payload carries the view.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, literal_column, or_, text, union_all
from sqlmodel import col, select

from core import roles
from core.i18n import Translator
from core.messages import Button
from core.progress import Figures, Group, History, history_figures, pages, tally
from core.text import fold
from handlers.common import OPEN_STATES, current_periods, find_assignment, task_line
from handlers.context import Context
from storage.models import OPEN_TARGET, Assignment, Outbox, Target, Unit, UnitGroup, UnitTally
from storage.tally import delay_days

PAGE_SIZE = 20
MOST_LATE = 10
UNIT_INDEX_LIMIT = 500
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


# --- aggregation ------------------------------------------------------------------------


@dataclass(frozen=True)
class Tally:
    figures: Figures
    earliest: datetime  # the earliest deadline among the targets


async def _tallies(ctx: Context, where: Sequence[ColumnElement[bool]],
                   by: Sequence[Any] = (), per_task: bool = False,
                   delay: bool = False) -> dict[tuple, Tally]:
    """Figures over the targets matching `where`, counted by the database, per `by` key —
    prefixed by (assignment id, period) with `per_task`."""
    fields = (col(Target.state), col(Target.on_time), col(Target.extension_granted),
              col(Target.nil_report))
    aggregates = (func.count(), func.sum(case((col(Target.deadline) < ctx.now, 1), else_=0)),
                  func.min(Target.deadline))
    # Always grouped by task first, in the order of ix_target_progress: the database streams
    # the index instead of sorting every target; without `per_task` the tasks are summed here.
    task = (col(Target.assignment_id), col(Target.period))
    skip = 0 if per_task else len(task)
    keys = len(task) + len(by)
    query = select(*task, *by, *fields, *aggregates).where(*where).group_by(*task, *by, *fields)
    groups: dict[tuple, list[Group]] = defaultdict(list)
    earliest: dict[tuple, datetime] = {}
    for row in (await ctx.session.exec(query)).all():  # type: ignore[call-overload]
        key = tuple(row[skip:keys])
        state, on_time, extended, nil, count, past, first = row[keys:]
        groups[key].append(Group(state, on_time, bool(extended), bool(nil), count, int(past)))
        first = _aware(first)
        earliest[key] = min(earliest.get(key, first), first)
    delays: dict[tuple, float] = {}
    if delay:  # needs the submission times: read the table, for the late targets only
        late_by = [*(task if per_task else ()), *by]
        late = (select(*late_by, func.sum(delay_days(
            ctx.session.bind.dialect.name,  # type: ignore[union-attr]
            col(Target.submitted_at), col(Target.deadline))), func.count())  # two columns: rows
                .where(*where, Target.state == "submitted", col(Target.on_time).is_(False))
                .group_by(*late_by))
        delays = {tuple(row[:-2]): float(row[-2] or 0)
                  for row in (await ctx.session.exec(late)).all()}  # type: ignore[call-overload]
    return {key: Tally(replace(tally(g), delay_days=delays.get(key, 0.0)), earliest[key])
            for key, g in groups.items()}


def _aware(moment: datetime) -> datetime:
    """SQLite hands back times without their zone; they are UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _in_units(units: Any, count: int) -> ColumnElement[bool]:
    """`Target.unit_id IN units`. Past a few hundred units, `unit_id + 0` keeps the database
    off the unit_id index: reading each task's entries of the covering progress index is then
    cheaper than looking up every unit's targets (bench/progress.py)."""
    column = col(Target.unit_id) if count <= UNIT_INDEX_LIMIT else col(Target.unit_id) + 0
    return column.in_(units)


def _subtree(roots: Any) -> Any:
    """Ids of the units selected by `roots` and of all units below them (a Phòng and its
    schools), through a recursive query over `Unit.parent_id`."""
    tree = select(col(Unit.id).label("id")).where(col(Unit.id).in_(roots)).cte(
        "tree", recursive=True)
    tree = tree.union(select(col(Unit.id)).join(tree, col(Unit.parent_id) == tree.c.id))
    return select(tree.c.id)


def _late_or_overdue(now: datetime) -> ColumnElement[bool]:
    """Submitted late, or not submitted and past the deadline."""
    return or_(and_(Target.state == "submitted", col(Target.on_time).is_(False)),
               and_(col(Target.state).in_(OPEN_STATES), col(Target.deadline) < now))


# Tasks as a subquery rather than a join: the database then reads the targets of just those
# tasks from the index instead of scanning them all.
ACTIVE = col(Target.assignment_id).in_(select(Assignment.id).where(Assignment.state == "active"))
NOT_CANCELLED = col(Target.assignment_id).in_(
    select(Assignment.id).where(Assignment.state != "cancelled"))


# The condition of ix_target_open_deadline, word for word: SQLite (and PostgreSQL's generic
# plans) use a partial index only for a query that states its condition with the same values.
OPEN_TARGET_SQL = text(f"target.{OPEN_TARGET}")


# --- paging ------------------------------------------------------------------------------


def _page_buttons(t: Translator, view: str, page: int, total: int, arg: str = "") -> list[Button]:
    """`t:<view>:<page>[:<arg>]` payloads for the neighbouring pages."""
    suffix = f":{arg}" if arg else ""
    buttons = []
    if page > 1:
        buttons.append(Button(t("Trang trước"), f"t:{view}:{page - 1}{suffix}"))
    if page < pages(total, PAGE_SIZE):
        buttons.append(Button(t("Trang sau"), f"t:{view}:{page + 1}{suffix}"))
    return buttons


def _page_line(t: Translator, page: int, total: int) -> list[str]:
    last = pages(total, PAGE_SIZE)
    return [t("Trang {page}/{pages}", page=t.number(page), pages=t.number(last))] if last > 1 \
        else []


def _clamp(page: int, total: int) -> int:
    return min(max(1, page), pages(total, PAGE_SIZE))


# --- the command --------------------------------------------------------------------------


def _scope(ctx: Context) -> set[int] | None:
    """None for those who see everything, else the units the member reports for."""
    return None if roles.can_see_all_progress(ctx.roles) else set(ctx.unit_ids)


async def handle_command(ctx: Context, args: str) -> None:
    t = ctx.t
    scope = _scope(ctx)
    if scope is not None and not scope:
        ctx.reply(t("Bạn chưa có quyền xem tiến độ."))
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
    view, page_text, arg = (parts + ["", "", ""])[:2] + [":".join(parts[2:])]
    scope = _scope(ctx)
    if not page_text.isdigit() or (scope is not None and not scope):
        ctx.reply(ctx.t("Nút này không còn hiệu lực. Gõ /help để xem các lệnh."))
        return
    page = int(page_text)
    if view == "o":
        await _overview(ctx, scope, page)
    elif view == "n":
        await _one_task(ctx, arg, scope, page)
    elif view == "l":
        await _late(ctx, scope, page)
    elif view == "g":
        await _group(ctx, arg, scope, page)
    elif view == "u" and arg.isdigit():
        unit = await ctx.session.get(Unit, int(arg))
        await _unit(ctx, unit.code if unit else "", scope, page)
    else:
        ctx.reply(ctx.t("Nút này không còn hiệu lực. Gõ /help để xem các lệnh."))


# --- views -------------------------------------------------------------------------------


async def _task_lines(ctx: Context, where: Sequence[ColumnElement[bool]], page: int,
                      view: str, arg: str = "") -> tuple[list[str], list[Button]]:
    """One line per open task (its latest period), nearest deadline first, one page; no lines
    when there is no open task."""
    t = ctx.t
    tallies = await _tallies(ctx, [ACTIVE, *where], per_task=True)
    current = await current_periods(ctx, {assignment_id for assignment_id, _ in tallies})
    latest = {assignment_id: (period, item) for (assignment_id, period), item in tallies.items()
              if current.get(assignment_id) == period}
    if not latest:
        return [], []
    assignments = {a.id: a for a in (await ctx.session.exec(
        select(Assignment).where(col(Assignment.id).in_(latest)))).all()}
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


async def _overview(ctx: Context, scope: set[int] | None, page: int) -> None:
    where = [] if scope is None else [col(Target.unit_id).in_(scope)]
    lines, buttons = await _task_lines(ctx, where, page, "o")
    if not lines:
        ctx.reply(ctx.t("Không có nhiệm vụ nào đang mở."))
        return
    ctx.reply("\n".join([ctx.t("Tiến độ các nhiệm vụ đang mở:"), *lines]), buttons)


async def _one_task(ctx: Context, ref: str, scope: set[int] | None, page: int) -> None:
    t = ctx.t
    assignment = await find_assignment(ctx, ref)
    where: list[ColumnElement[bool]] = []
    if assignment is not None:
        where.append(Target.assignment_id == assignment.id)
        if scope is not None:
            where.append(col(Target.unit_id).in_(scope))
    by_period = ({period: item for (_, period), item in
                  (await _tallies(ctx, where, per_task=True)).items()} if assignment else {})
    if assignment is None or not by_period:
        ctx.reply(t("Không có nhiệm vụ «{ref}». Gõ /tiendo để xem các nhiệm vụ đang mở.",
                    ref=ref))
        return
    # The current period is the one opened last (an extension may move one of its deadlines
    # past the next period's); the earlier ones follow by deadline.
    period = (await current_periods(ctx, {assignment.id})).get(assignment.id, "")  # type: ignore[arg-type]
    if period not in by_period:  # a reporter's unit may have no target in it
        period = max(by_period, key=lambda k: by_period[k].earliest)
    periods = [*sorted((k for k in by_period if k != period),
                       key=lambda k: by_period[k].earliest), period]
    current = by_period[period]
    f = current.figures
    state = {"cancelled": t(" (đã huỷ)"), "closed": t(" (đã đóng)")}.get(assignment.state, "")
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
    for earlier in reversed(periods[-6:-1]):
        lines.append(t("Kỳ {period}: {figures}", period=earlier,
                       figures=figures_text(t, by_period[earlier].figures)))
    in_period = [*where, Target.period == period]
    page = _clamp(page, f.missing)
    if f.missing:
        rows = (await ctx.session.exec(
            select(Unit.name, Target.state, Target.percent, Target.deadline)
            .join(Unit, col(Unit.id) == col(Target.unit_id))
            .where(*in_period, col(Target.state).in_(OPEN_STATES))
            .order_by(col(Unit.code)).offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE))).all()
        lines.append(t("Chưa nộp ({n}):", n=t.number(f.missing)))
        for name, target_state, progress, deadline in rows:
            extra = ""
            if target_state == "in_progress":
                extra = (t(" — đang làm {percent}%", percent=progress) if progress is not None
                         else t(" — đang làm"))
            if deadline != current.earliest:
                extra += t(" — hạn {deadline}", deadline=t.date(_aware(deadline)))
            lines.append(f"• {name}{extra}")
        lines += _page_line(t, page, f.missing)
    if f.late and page == 1:
        names = (await ctx.session.exec(
            select(Unit.name).join(Target, col(Unit.id) == col(Target.unit_id))
            .where(*in_period, Target.state == "submitted", col(Target.on_time).is_(False))
            .order_by(col(Unit.code)).limit(PAGE_SIZE))).all()
        text = t("Nộp muộn ({n}): {names}", n=t.number(f.late), names=", ".join(names))
        if f.late > len(names):
            text += t(" … và {n} đơn vị khác (/tiendo tre-han)", n=t.number(f.late - len(names)))
        lines.append(text)
    buttons = _page_buttons(t, "n", page, f.missing, str(assignment.number))
    if scope is None:
        buttons += [Button(t("Biểu đồ"), f"r:chart:{assignment.number}"),
                    Button("Excel", f"r:xlsx:{assignment.number}")]
    ctx.reply("\n".join(lines), buttons, assignment_id=assignment.id)


async def _group(ctx: Context, name: str, scope: set[int] | None, page: int) -> None:
    t = ctx.t
    if scope is not None:
        ctx.reply(t("Bạn chỉ xem được tiến độ của đơn vị mình: gõ /tiendo."))
        return
    key = fold(name)
    roots = select(UnitGroup.unit_id).where(UnitGroup.key == key)
    count = (await ctx.session.exec(select(func.count()).select_from(roots.subquery()))).one()
    if not count:
        ctx.reply(t("Không có nhóm «{group}». Các nhóm được đặt khi nhập danh sách đơn vị.",
                    group=f"@{name}"))
        return
    tree = _subtree(roots)
    size = (await ctx.session.exec(select(func.count()).select_from(tree.subquery()))).one()
    in_tree = _in_units(tree, size)
    lines = [t("Tiến độ của nhóm {group} ({n} đơn vị):", group=f"@{name}", n=t.number(count))]
    if size > count:
        lines[0] = t("Tiến độ của nhóm {group} ({n} đơn vị, tính cả {below} đơn vị trực "
                     "thuộc):", group=f"@{name}", n=t.number(count), below=t.number(size - count))
    task_lines, buttons = await _task_lines(ctx, [in_tree], page, "g", key)
    lines += task_lines or [t("Không có nhiệm vụ nào đang mở.")]
    if page == 1:
        lines += await _over_time(ctx, tree, size, t("cả nhóm"))
        lines += await _most_late(ctx, tree, size)
    ctx.reply("\n".join(lines), buttons)


def _not_due(ctx: Context) -> list[ColumnElement[bool]]:
    """Open targets of tasks not cancelled that are not due yet: the part of a history that
    depends on `now`, few at any time (ix_target_open_deadline)."""
    # `assignment_id + 0`: SQLite would otherwise read the progress index of every task.
    return [OPEN_TARGET_SQL, col(Target.deadline) >= ctx.now, (col(Target.assignment_id) + 0).in_(
        select(Assignment.id).where(Assignment.state != "cancelled"))]


def _not_due_by_unit(ctx: Context, in_units: Sequence[ColumnElement[bool]]) -> Any:
    """(unit id, how many) of the open targets not yet due. `unit_id + 0`: grouped from the
    partial index rather than by walking the whole unit_id index (SQLite)."""
    unit = (col(Target.unit_id) + literal_column("0")).label("unit_id")
    return select(unit, func.count().label("n")).where(*_not_due(ctx), *in_units).group_by(unit)


def _tally_of(units: Any | None) -> list[ColumnElement[bool]]:
    return [] if units is None else [col(UnitTally.unit_id).in_(units)]


async def histories(ctx: Context, units: Any | None, size: int,
                    per_unit: bool = False) -> dict[int | None, Figures]:
    """Figures over time of `units` (ids or a query of them, `size` of them; None: all), per
    unit or summed (key None): their `UnitTally` counters (tasks not cancelled), less the
    open targets not yet due. The same figures as `_tallies(..., delay=True)` over their
    targets, without reading their whole history."""
    by = (col(UnitTally.unit_id),) if per_unit else ()
    counters = (func.coalesce(func.sum(UnitTally.on_time), 0),
                func.coalesce(func.sum(UnitTally.late), 0),
                func.coalesce(func.sum(UnitTally.delay_days), 0.0),
                func.coalesce(func.sum(UnitTally.open), 0))
    stored = await ctx.session.exec(  # type: ignore[call-overload]
        select(*by, *counters).where(*_tally_of(units)).group_by(*by))
    rows = {(row[0] if per_unit else None): row[-4:] for row in stored.all()}
    in_units = [] if units is None else [_in_units(units, size)]
    not_due = dict((await ctx.session.exec(  # type: ignore[call-overload]
        _not_due_by_unit(ctx, in_units))).all()) if per_unit else {None: (await ctx.session.exec(
            select(func.count()).select_from(Target).where(*_not_due(ctx), *in_units))).one()}
    return {key: history_figures(History(int(on_time), int(late), float(delay), int(still_open)),
                                 not_due.get(key, 0))
            for key, (on_time, late, delay, still_open) in rows.items()}


async def _over_time(ctx: Context, units: Any, size: int, who: str) -> list[str]:
    figures = (await histories(ctx, units, size)).get(None)
    if figures is None or not figures.owed:
        return []
    return [ctx.t("Từ trước đến nay — {who}: {figures}", who=who,
                  figures=history_text(ctx.t, figures))]


async def most_late(ctx: Context, units: Any | None, size: int) -> list[int]:
    """Ids of the units most often late or missing over time (late + overdue, most first):
    each unit's late + open counters, less its open targets not yet due, summed in one
    GROUP BY (a join of the two makes SQLite compare every pair)."""
    in_units = [] if units is None else [_in_units(units, size)]
    parts = union_all(
        select(col(UnitTally.unit_id).label("unit_id"),
               (UnitTally.late + UnitTally.open).label("n")).where(*_tally_of(units)),
        _not_due_by_unit(ctx, in_units).with_only_columns(
            (col(Target.unit_id) + literal_column("0")).label("unit_id"),
            (-func.count()).label("n"))).subquery()
    times = func.sum(parts.c.n)
    return list((await ctx.session.exec(  # type: ignore[call-overload]
        select(parts.c.unit_id).group_by(parts.c.unit_id).having(times > 0)
        .order_by(times.desc(), parts.c.unit_id).limit(MOST_LATE))).all())


async def _most_late(ctx: Context, units: Any | None, size: int) -> list[str]:
    """The units most often late or missing over time, with their figures."""
    t = ctx.t
    ids = await most_late(ctx, units, size)
    if not ids:
        return []
    figures = await histories(ctx, ids, len(ids), per_unit=True)
    units_by_id = {u.id: u for u in (await ctx.session.exec(
        select(Unit).where(col(Unit.id).in_(ids)))).all()}
    lines = [t("Đơn vị hay trễ hạn nhất:")]
    for unit_id in ids:
        lines.append(t("• {unit} ({code}) — {figures}", unit=units_by_id[unit_id].name,
                       code=units_by_id[unit_id].code,
                       figures=history_text(t, figures[unit_id])))
    return lines


async def _find_unit(ctx: Context, ref: str) -> Unit | None:
    if not ref:
        return None
    unit = (await ctx.session.exec(
        select(Unit).where(func.upper(Unit.code) == ref.upper()))).first()
    if unit is None:
        unit = (await ctx.session.exec(select(Unit).where(Unit.name_key == fold(ref)))).first()
    return unit


async def _unit(ctx: Context, ref: str, scope: set[int] | None, page: int) -> None:
    t = ctx.t
    unit = await _find_unit(ctx, ref)
    if unit is None:
        ctx.reply(t("Không có đơn vị hay nhiệm vụ «{ref}». Gõ /tiendo, /tiendo #số, "
                    "/tiendo @nhóm hoặc /tiendo mã-đơn-vị.", ref=ref))
        return
    if scope is not None and unit.id not in scope:
        ctx.reply(t("Bạn chỉ xem được tiến độ của đơn vị mình."))
        return
    own = Target.unit_id == unit.id
    total = (await ctx.session.exec(
        select(func.count()).select_from(Target).where(own, ACTIVE))).one()
    page = _clamp(page, total)
    rows = (await ctx.session.exec(
        select(Target, Assignment).join(Assignment, col(Assignment.id) == col(Target.assignment_id))
        .where(own, ACTIVE).order_by(col(Target.deadline), col(Assignment.number))
        .offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE))).all()
    lines = [t("Tiến độ của {unit} ({code}):", unit=unit.name, code=unit.code)]
    names = {"pending": t("chưa nộp"), "in_progress": t("đang làm"), "excused": t("được miễn")}
    for target, assignment in rows:
        if target.state == "submitted":
            state = t("đã nộp đúng hạn") if target.on_time else t("đã nộp muộn")
        else:
            state = names.get(target.state, target.state)
            if ctx.now > target.deadline and target.state in OPEN_STATES:
                state += t(" (quá hạn)")
        lines.append(t("• {task} — hạn {deadline} — {state}", task=task_line(t, assignment),
                       deadline=t.date(target.deadline), state=state))
    if not rows:
        lines.append(t("Không có nhiệm vụ nào đang mở."))
    lines += _page_line(t, page, total)
    if page == 1:
        lines += await _over_time(ctx, [unit.id], 1, t("riêng đơn vị"))
        tree = _subtree([unit.id])
        size = (await ctx.session.exec(select(func.count()).select_from(tree.subquery()))).one()
        if size > 1:
            lines += await _over_time(ctx, tree, size, t(
                "tính cả {n} đơn vị trực thuộc", n=t.number(size - 1)))
    ctx.reply("\n".join(lines), _page_buttons(t, "u", page, total, str(unit.id)))


async def _late(ctx: Context, scope: set[int] | None, page: int) -> None:
    """Late and missing targets across the open tasks, then the units most often late."""
    t = ctx.t
    where = [ACTIVE, _late_or_overdue(ctx.now)]
    if scope is not None:
        where.append(col(Target.unit_id).in_(scope))
    total = (await ctx.session.exec(
        select(func.count()).select_from(Target).where(*where))).one()
    if not total:
        ctx.reply(t("Không có đơn vị nào trễ hạn ở các nhiệm vụ đang mở."))
        return
    page = _clamp(page, total)
    rows = (await ctx.session.exec(
        select(Assignment, Unit.name, Target)
        .join(Target, col(Assignment.id) == col(Target.assignment_id))
        .join(Unit, col(Unit.id) == col(Target.unit_id)).where(*where)
        .order_by(col(Target.deadline), col(Assignment.number), col(Unit.code))
        .offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE))).all()
    lines = [t("Trễ hạn ở các nhiệm vụ đang mở ({n}):", n=t.number(total))]
    for assignment, name, target in rows:
        if target.state == "submitted":
            assert target.submitted_at is not None
            state = t("nộp muộn, {late}", late=t.time_left(target.submitted_at, target.deadline))
        else:
            state = t("chưa nộp, {late}", late=t.time_left(ctx.now, target.deadline))
        number = t("#{number} kỳ {period}", number=assignment.number, period=target.period) \
            if target.period else f"#{assignment.number}"
        lines.append(t("• {task} — {unit}: {state}", task=number, unit=name, state=state))
    lines += _page_line(t, page, total)
    ctx.reply("\n".join(lines), _page_buttons(t, "l", page, total))


async def _most_late_view(ctx: Context, scope: set[int] | None) -> None:
    """`/tiendo hay-tre`: the units most often late over time, among all units."""
    if scope is not None:
        ctx.reply(ctx.t("Bạn chỉ xem được tiến độ của đơn vị mình: gõ /tiendo."))
        return
    lines = await _most_late(ctx, None, 0)
    ctx.reply("\n".join(lines) if lines else ctx.t("Chưa có đơn vị nào trễ hạn."))
