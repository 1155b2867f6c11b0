"""Pieces shared by handlers: who reports for a unit, status buttons, task summaries."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

from app.config import Settings
from core.callbacks import HandDownPress, StatusAction, StatusPress
from core.i18n import N_, Translator
from core.messages import Button
from core.policy import Policy
from core.states import OPEN_TARGET_STATES, Requires
from core.text import excerpt, fold
from handlers.context import Context, Recipient, calendar_of  # noqa: F401 (shared from here too)
from services.scope import Access, check_change
from storage import members, submissions
from storage.models import Assignment, Member, Target, Unit, ident
from storage.repositories import task_by_ref
from storage.units import units_below, units_below_of
from storage.units import units_with_units_below as _units_with_units_below

STATUS_LABELS: tuple[tuple[StatusAction, str], ...] = (
    ("done", N_("Đã nộp")),
    ("prog", N_("Đang làm")),
    ("help", N_("Cần hỗ trợ")),
    ("ext", N_("Xin gia hạn")),
)

REQUIRES_TEXT = {
    Requires.ANY: N_("tệp báo cáo, hoặc báo «đã nộp» nếu đã gửi qua e-mail/giấy"),
    Requires.FILE: N_("tệp báo cáo"),
    Requires.STATUS: N_("chỉ cần báo trạng thái (không cần tệp)"),
    Requires.BOTH: N_("tệp báo cáo và xác nhận «đã xong»"),
}


def status_buttons(target_id: int):
    def render(t: Translator) -> list[Button]:
        return [Button(label, StatusPress(target_id, action).pack())
                for action, label in _status_labels(t.language)]

    return render


@cache
def _status_labels(language: str) -> tuple[tuple[StatusAction, str], ...]:
    """The status buttons' labels in `language`, translated once (a reminder wave and a
    national task put them under 100,000 messages)."""
    t = Translator(language)
    return tuple((action, t(label)) for action, label in STATUS_LABELS)


async def members_with_role(ctx: Context, unit_id: int, role: str) -> list[Member]:
    return await members.members_with_role(ctx.session, unit_id, role)


async def members_with_role_in(ctx: Context, unit_ids: list[int],
                               role: str) -> dict[int, list[Recipient]]:
    """`members_with_role` of many units at once (a few queries, not one per unit), as the
    columns a bulk message needs rather than objects."""
    found: dict[int, list[Recipient]] = {}
    for unit_id, member_id, channel, chat_id, language in await members.role_holders_in(
            ctx.session, unit_ids, role):
        member = Recipient(member_id, channel, chat_id, language)
        found_members = found.setdefault(unit_id, [])
        if member not in found_members:
            found_members.append(member)
    return found


def task_line(t: Translator, assignment: Assignment) -> str:
    return t("#{number} «{title}»", number=assignment.number, title=assignment.title)


def repeated_offsets_text(t: Translator, text: str) -> str:
    return t("Lịch nhắc «{text}» sẽ nhắc hơn một lần một ngày; mỗi số ngày chỉ ghi một lần.",
             text=excerpt(text))


def policy_of(settings: Settings, assignment: Assignment | None = None) -> Policy:
    r = settings.reminders
    offsets = r.offsets_days
    if assignment is not None:
        offsets = tuple(int(x) for x in assignment.reminder_offsets.split(",") if x.strip())
    return Policy(offsets, r.before_time, r.on_day_time, r.overdue_time, r.overdue_max,
                  r.quiet_start, r.quiet_end)


async def unit_name(ctx: Context, unit_id: int) -> str:
    unit = await ctx.session.get(Unit, unit_id)
    return unit.name if unit else "?"


async def current_periods(ctx: Context, assignment_ids: set[int]) -> dict[int, str]:
    """The current period of each task: the one opened last (recurring tasks open a new one
    each period; a one-off task has the single period "")."""
    if not assignment_ids:
        return {}
    return await submissions.current_periods(ctx.session, assignment_ids)


async def in_current_period(ctx: Context, targets: list[Target]) -> list[Target]:
    """`targets` without those of past periods: answers and nudges are about the current
    period; past periods stay in the database as history. An open target of a past period
    whose deadline an extension moved past the next period's opening is still owed until
    that deadline, so it stays."""
    current = await current_periods(ctx, {t.assignment_id for t in targets})
    return [t for t in targets if _owed_now(ctx, t, current)]


def _owed_now(ctx: Context, target: Target, current: dict[int, str]) -> bool:
    """Whether `target` belongs to its task's current period (`current`: task id → period)
    or is still owed (`in_current_period`)."""
    return current.get(target.assignment_id) == target.period or (
        target.state in OPEN_TARGET_STATES and target.deadline >= ctx.now)


async def open_targets_of(ctx: Context, unit_ids: set[int], locked: bool = False
                          ) -> list[tuple[Target, Assignment]]:
    """The open targets of the current periods of active tasks of `unit_ids` (`locked`: for
    an answer to one of them, see `storage.submissions.open_targets_of`)."""
    if not unit_ids:
        return []
    rows = await submissions.open_targets_of(ctx.session, unit_ids, locked)
    current = {ident(a): a.period for _, a in rows}  # read with them: no second query
    return [(t, a) for t, a in rows if _owed_now(ctx, t, current)]


async def task_to_change(ctx: Context, ref: str, unknown: str) -> Assignment | None:
    """Task `ref` if this member may change it; otherwise None, after answering with
    `unknown` (no such task, or none they can see) or with the office that owns it."""
    assignment = await task_by_ref(ctx.session, ref)
    if assignment is None:
        await ctx.reply(unknown)
        return None
    return assignment if await may_change(ctx, assignment, unknown) else None


async def may_change(ctx: Context, assignment: Assignment, unknown: str) -> bool:
    """Whether this member may change `assignment`; if not, they are told (`unknown` when
    the task does not exist for them, else which office owns it) and nothing changes."""
    t = ctx.t
    check = await check_change(ctx.session, ctx.scope, assignment)
    if check.access is Access.UNKNOWN:
        await ctx.reply(unknown)
    elif check.access is Access.NOT_OWNER:
        await ctx.reply(t("Nhiệm vụ {task} do {office} giao; chỉ chuyên viên của {office} mới thay "
                          "đổi được nhiệm vụ này.", task=task_line(t, assignment),
                          office=check.office) if check.office else
                        t("Nhiệm vụ {task} là nhiệm vụ chung của toàn hệ thống; chỉ quản trị viên "
                          "mới thay đổi được nhiệm vụ này.", task=task_line(t, assignment)))
    return check.access is Access.ALLOWED


async def tell_assigner(ctx: Context, assignment: Assignment, change: Callable[[Translator], str]
                        ) -> None:
    """Tell the staff member who assigned `assignment` that a colleague (or an admin) changed
    it: `change` says what, in their language."""
    if ctx.member is None or assignment.assigned_by == ctx.member.id:
        return
    assigner = await ctx.session.get(Member, assignment.assigned_by)
    if assigner is None:
        return
    who = ctx.member.display_name
    await ctx.send(assigner, lambda tr: tr("ℹ️ {who} đã thay đổi nhiệm vụ {task} do bạn giao: "
                                           "{change}", who=who, task=task_line(tr, assignment),
                                           change=change(tr)),
                   assignment_id=assignment.id)


# --- offices that hand tasks down (cascade) ----------------------------------------------


def hand_down_button(target_id: int):
    """`[Giao tiếp]` under a task message to an office's staff (`handlers.cascade`)."""
    def render(t: Translator) -> list[Button]:
        return [Button(t("Giao tiếp"), HandDownPress(target_id).pack())]

    return render


async def units_with_units_below(ctx: Context, unit_ids: list[int]) -> set[int]:
    """Those of `unit_ids` that have units below them (offices that can hand down)."""
    return await _units_with_units_below(ctx.session, unit_ids)


async def office_staff_of(ctx: Context, office_ids: list[int]) -> dict[int, list[Member]]:
    """`office_staff` of many offices at once (a few queries, not two per office)."""
    kinds = {fold(kind) for kind in ctx.settings.department_kinds}
    office_of: dict[int, list[int]] = {office: [office] for office in office_ids}
    # The units below: all, for a whole tree.
    for unit_id, parent_id, kind in await units_below_of(ctx.session, office_ids):
        if fold(kind) in kinds:  # a department: its staff are the office's
            office_of.setdefault(unit_id, []).append(parent_id)
    found: dict[int, list[Member]] = {}
    for unit_id, member in await members.staff_in(ctx.session, list(office_of)):
        for office in office_of[unit_id]:
            office_members = found.setdefault(office, [])
            if member not in office_members:
                office_members.append(member)
    for office_members in found.values():
        office_members.sort(key=ident)
    return found


async def office_staff(ctx: Context, unit_id: int) -> list[Member]:
    """The staff of office `unit_id`: attached to it or to one of its departments."""
    kinds = {fold(kind) for kind in ctx.settings.department_kinds}
    departments = [ident(u) for u in await units_below(ctx.session, unit_id)
                   if fold(u.kind) in kinds]
    return await members.staff_of_units(ctx.session, [unit_id, *departments])
