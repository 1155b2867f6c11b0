"""`/sua #N`: the staff of the owning office edit a task after it was sent: the deadline for
everyone, units added or taken off, the title, the details, what must be submitted. Guided
like `/giao` (choose what to change, type it, see what changes, «Gửi» or «Huỷ»), or in one
line: `/sua #N | hạn 12/05/2023 | thêm THCS-NAMHONG | bớt TH-YENTHO`.

On «Gửi» the units still on the task are told what changed and their reminders are planned
again from now (nothing missed is sent in a burst); an added unit gets the task message; a
unit taken off keeps its target and answers as history in state «removed», which the
figures and the counters (`storage.tally`) leave out."""

from __future__ import annotations

from datetime import datetime
from functools import partial

from core import roles
from core.callbacks import EditPress
from core.deadlines import DeadlineError, parse_deadline
from core.giao_line import EditLine, parse_edit_line, parse_requires
from core.i18n import N_, Translator
from core.messages import Button
from core.states import OPEN_TARGET_STATES, AssignmentState, Requires, TargetState
from handlers.common import (
    REQUIRES_TEXT,
    calendar_of,
    may_change,
    members_with_role,
    task_line,
    task_to_change,
    tell_assigner,
    units_with_units_below,
)
from handlers.context import Context, dialogue_data
from handlers.giao import (
    MAX_TITLE,
    PREVIEW_UNITS,
    announce,
    deadline_error_text,
    resolve_units,
    title_too_long,
)
from handlers.reminders import plan_target, replan_target, unplan_target
from services import targets
from storage import tasks
from storage.models import Assignment, Dialogue, Outbox, StoredFile, Target, Unit, ident
from storage.units import units_by_id

FIELDS = (("deadline", N_("Hạn nộp")), ("add", N_("Thêm đơn vị")), ("remove", N_("Bớt đơn vị")),
          ("title", N_("Tên")), ("details", N_("Chi tiết")), ("requires", N_("Cần nộp")))
PROMPTS = {
    "deadline": N_("Hạn nộp mới cho mọi đơn vị là khi nào? Ví dụ: 12/05/2023 17:00."),
    "add": N_("Thêm đơn vị nào? Ghi mã đơn vị, @nhóm hoặc tên đơn vị, cách nhau bởi dấu phẩy."),
    "remove": N_("Bớt đơn vị nào? Ghi mã đơn vị, @nhóm hoặc tên đơn vị, cách nhau bởi dấu "
                 "phẩy."),
    "title": N_("Tên mới của nhiệm vụ là gì?"),
    "details": N_("Nội dung chi tiết mới là gì?"),
    "requires": N_("Đơn vị cần nộp gì? Gõ: tệp, trạng thái hoặc cả hai."),
}
NO_TASK = N_("Không có nhiệm vụ «{ref}». Xem danh sách bằng /tiendo.")
USAGE = N_("Cách dùng: /sua #N — chọn phần cần sửa; hoặc một dòng: /sua #N | hạn 12/05/2023 | "
           "thêm <đơn vị> | bớt <đơn vị> | tên ... | chi tiết ... | nộp: tệp")


# --- what the task is now ----------------------------------------------------------------


async def _targets(ctx: Context, assignment: Assignment, locked: bool = False) -> list[Target]:
    """The targets of the task's current period, those taken off included; `locked`, their
    rows locked and read afresh (before they are changed)."""
    return await tasks.period_targets(ctx.session, ident(assignment),
                                      assignment.period, lock=locked)


def common_deadline(assignment: Assignment, owed: list[Target]) -> datetime:
    """The deadline of the current period for every unit (an extension moves one unit's)."""
    on_task = [t for t in owed if t.state != TargetState.REMOVED]
    plain = [t.deadline for t in on_task if not t.extension_granted]
    return min(plain or [t.deadline for t in on_task] or [assignment.deadline])


async def _units(ctx: Context, ids: list[int]) -> list[Unit]:
    if not ids:
        return []
    return await units_by_id(ctx.session, ids)


def _names(units: list[Unit]) -> str:
    names = ", ".join(u.name for u in units[:PREVIEW_UNITS])
    return names + (f" (+{len(units) - PREVIEW_UNITS})" if len(units) > PREVIEW_UNITS else "")


# --- reading one change ------------------------------------------------------------------


async def apply_part(ctx: Context, assignment: Assignment, changes: dict, name: str,
                     value: str) -> str | None:
    """Put the change `name` = `value` into `changes`; returns the problem to show, if any.
    A value equal to what the task has already changes nothing."""
    t = ctx.t
    value = value.strip()
    task = task_line(t, assignment)
    if not value:
        return t(PROMPTS[name])
    current = await _targets(ctx, assignment)
    on_task = {tg.unit_id for tg in current if tg.state != TargetState.REMOVED}
    if name == "deadline":
        try:
            deadline = parse_deadline(value, ctx.now, ctx.settings.default_deadline_time,
                                      calendar_of(ctx.settings))
        except DeadlineError as error:
            return deadline_error_text(t, error)
        if deadline.recurrence is not None:
            return t("Sửa hạn cần một ngày cụ thể, ví dụ 12/05/2023; lịch lặp lại của nhiệm vụ "
                     "không đổi được.")
        if deadline.due == common_deadline(assignment, current):
            return t("Hạn nộp của nhiệm vụ {task} đã là {due}.", task=task,
                     due=t.moment(deadline.due))
        changes["deadline"] = deadline.due.isoformat()
    elif name in ("add", "remove"):
        units, problems = await resolve_units(ctx, value)  # inside the member's scope
        if problems:
            return "\n".join(problems)
        if name == "add":
            already = [u for u in units if u.id in on_task]
            if already:
                return t("Đã thuộc nhiệm vụ {task}: {units}.", task=task, units=_names(already))
            if assignment.parent_target_id:  # a hand-down never reaches its own office
                office = await ctx.session.get(Target, assignment.parent_target_id)
                if office is not None and office.unit_id in {u.id for u in units}:
                    return t("Không giao tiếp được cho chính đơn vị giao tiếp.")
            ids = [u.id for u in units if u.id not in changes.get("remove", [])]
            changes["add"] = sorted({*changes.get("add", []), *ids})
        else:
            outside = [u for u in units if u.id not in on_task]
            if outside:
                return t("Không thuộc nhiệm vụ {task}: {units}.", task=task,
                         units=_names(outside))
            removing = {*changes.get("remove", []), *(u.id for u in units)}
            if on_task <= removing and not changes.get("add"):
                return t("Không bớt được mọi đơn vị của nhiệm vụ {task}; muốn thôi nhiệm vụ "
                         "thì huỷ bằng /huy #{number}.", task=task, number=assignment.number)
            changes["remove"] = sorted(removing)
            changes["add"] = [i for i in changes.get("add", []) if i not in removing]
    elif name == "title":
        if len(value) > MAX_TITLE:
            return title_too_long(t, value)
        if value == assignment.title:
            return t("Tên nhiệm vụ {task} đã là «{title}».", task=task, title=value)
        changes["title"] = value
    elif name == "details":
        if value == assignment.details:
            return t("Nội dung chi tiết của nhiệm vụ {task} không đổi.", task=task)
        changes["details"] = value
    elif name == "requires":
        requires = parse_requires(value)
        if requires is None:
            return t("Phần «nộp:» chỉ nhận: tệp, trạng thái hoặc cả hai.")
        if requires == assignment.requires:
            return t("Nhiệm vụ {task} đã yêu cầu nộp {what}.", task=task,
                     what=t(REQUIRES_TEXT[requires]))
        changes["requires"] = requires
    return None


# --- the command and the dialogue --------------------------------------------------------


async def _task(ctx: Context, ref: str) -> Assignment | None:
    """Task `ref` if this member may edit it now; otherwise None, after saying why."""
    t = ctx.t
    assignment = await task_to_change(ctx, ref, t(NO_TASK, ref=ref.strip()))
    if assignment is None:
        return None
    if assignment.state == AssignmentState.CANCELLED:
        await ctx.reply(t("Nhiệm vụ {task} đã được huỷ; không sửa được.",
                          task=task_line(t, assignment)))
        return None
    if assignment.state == AssignmentState.CLOSED:
        await ctx.reply(t("Nhiệm vụ {task} đã đóng; mở lại bằng /mo #{number} rồi sửa.",
                          task=task_line(t, assignment), number=assignment.number))
        return None
    return assignment


async def handle_command(ctx: Context, args: str) -> None:
    t = ctx.t
    if not roles.can_assign(ctx.roles):
        await ctx.reply(t("Chỉ chuyên viên văn phòng mới sửa được nhiệm vụ."))
        return
    line: EditLine = parse_edit_line(args)
    if not line.reference:
        await ctx.reply(t(USAGE))
        return
    assignment = await _task(ctx, line.reference)
    if assignment is None:
        return
    changes: dict = {}
    draft = {"assignment_id": assignment.id, "changes": changes, "step": "choose"}
    if not line.parts and not line.unknown:
        await ctx.set_dialogue("sua", draft)
        await ctx.reply(t("Sửa gì ở nhiệm vụ {task}?", task=task_line(t, assignment)),
                        [Button(t(label), EditPress("field", name).pack())
                         for name, label in FIELDS])
        return
    problems = [t("Không hiểu phần «{part}»; các phần là: hạn, thêm, bớt, tên, chi tiết, nộp.",
                  part=" | ".join(line.unknown))] if line.unknown else []
    # Units added first: taking off every unit but those added is no empty task.
    for name, value in sorted(line.parts.items(), key=lambda part: part[0] != "add"):
        problem = await apply_part(ctx, assignment, changes, name, value)
        if problem:
            problems.append(problem)
    if problems:
        await ctx.reply("\n".join([*problems, t("Chưa thay đổi gì.")]))
        return
    await preview(ctx, assignment, draft)


async def on_dialogue(ctx: Context, dialogue: Dialogue) -> None:
    t = ctx.t
    draft = dialogue_data(dialogue)
    event = ctx.event
    assert event is not None
    assignment = await ctx.session.get(Assignment, draft["assignment_id"])
    step = draft.get("step")
    if assignment is None:
        await ctx.clear_dialogue()
        return
    if step == "confirm":
        await ctx.reply(t("Bản sửa đang chờ xác nhận: bấm Gửi hoặc Huỷ ở tin nhắn trên (hoặc gõ "
                          "/huy)."))
        return
    if step not in PROMPTS:
        await ctx.reply(t("Hãy chọn phần cần sửa ở tin nhắn trên (hoặc gõ /huy)."))
        return
    if event.file is not None:
        await ctx.reply(t("Bước này cần một dòng chữ, không phải tệp.") + "\n" + t(PROMPTS[step]))
        return
    problem = await apply_part(ctx, assignment, draft["changes"], step, event.text)
    if problem:
        await ctx.reply(problem)
        return
    await preview(ctx, assignment, draft)


async def on_button(ctx: Context, parts: list[str], source: Outbox) -> None:
    t = ctx.t
    dialogue = await ctx.dialogue()
    if dialogue is None or dialogue.kind != "sua":
        await ctx.reply(t("Bản sửa này không còn nữa (đã gửi hoặc đã huỷ). Gõ /sua #N để sửa nhiệm "
                          "vụ."))
        return
    draft = dialogue_data(dialogue)
    press = EditPress.from_parts(parts)
    action = press.action if press else ""
    if action == "cancel":
        await ctx.clear_dialogue()
        await ctx.reply(t("Đã huỷ bản sửa; nhiệm vụ vẫn như cũ."))
    elif press is not None and action == "field" and press.field in PROMPTS:
        draft["step"] = press.field
        await ctx.set_dialogue("sua", draft)
        await ctx.reply(t(PROMPTS[press.field]))
    elif action == "send" and draft.get("step") == "confirm":
        await _send(ctx, draft)
    else:
        await ctx.reply(t("Nút này không còn hiệu lực. Gõ /help để xem các lệnh."))


# --- the preview and the change ----------------------------------------------------------


async def _change_lines(ctx: Context, t: Translator, assignment: Assignment, changes: dict,
                        before: datetime) -> list[str]:
    """What changes, one line each, in `t`'s language."""
    lines = []
    if "deadline" in changes:
        lines.append(t("• Hạn nộp: {old} → {new}", old=t.moment(before),
                       new=t.moment(datetime.fromisoformat(changes["deadline"]))))
    if changes.get("add"):
        added = await _units(ctx, changes["add"])
        lines.append(t.plural("• Thêm {n} đơn vị: {names}", "• Thêm {n} đơn vị: {names}",
                              len(added), names=_names(added)))
    if changes.get("remove"):
        removed = await _units(ctx, changes["remove"])
        lines.append(t.plural("• Bớt {n} đơn vị: {names} (bài đã nộp vẫn được lưu)",
                              "• Bớt {n} đơn vị: {names} (bài đã nộp vẫn được lưu)",
                              len(removed), names=_names(removed)))
    if "title" in changes:
        lines.append(t("• Tên: «{old}» → «{new}»", old=assignment.title, new=changes["title"]))
    if "details" in changes:
        lines.append(t("• Chi tiết: {new}", new=changes["details"]))
    if "requires" in changes:
        lines.append(t("• Cần nộp: {old} → {new}",
                       old=t(REQUIRES_TEXT[Requires(assignment.requires)]),
                       new=t(REQUIRES_TEXT[Requires(changes["requires"])])))
    return lines


async def preview(ctx: Context, assignment: Assignment, draft: dict) -> None:
    t = ctx.t
    before = common_deadline(assignment, await _targets(ctx, assignment))
    draft["step"] = "confirm"
    await ctx.set_dialogue("sua", draft)
    lines = [t("Xin xác nhận sửa nhiệm vụ {task}:", task=task_line(t, assignment)),
             *await _change_lines(ctx, t, assignment, draft["changes"], before)]
    await ctx.reply("\n".join(lines), [Button(t("Gửi"), EditPress("send").pack()),
                                       Button(t("Huỷ"), EditPress("cancel").pack())])


async def _send(ctx: Context, draft: dict) -> None:
    t = ctx.t
    assignment = await ctx.session.get(Assignment, draft["assignment_id"])
    assert assignment is not None
    await ctx.clear_dialogue()
    if not await may_change(ctx, assignment, t(NO_TASK, ref=f"#{assignment.number}")):
        return
    # The task's row, then its targets' rows (the order a cancel takes them): an answer in
    # hand is counted before the change, and one that waited sees the task as changed.
    assignment = await targets.lock_task(ctx.session, assignment)
    if assignment.state != AssignmentState.ACTIVE:
        await ctx.reply(t("Nhiệm vụ {task} không còn mở; chưa thay đổi gì.",
                          task=task_line(t, assignment)))
        return
    changes = draft["changes"]
    owed = await _targets(ctx, assignment, locked=True)
    before = common_deadline(assignment, owed)
    due = datetime.fromisoformat(changes["deadline"]) if "deadline" in changes else before
    if due <= ctx.now:
        await ctx.reply(t("Hạn {due} đã qua trong lúc chờ xác nhận; chưa thay đổi gì.",
                          due=t.moment(due)))
        return
    added = await _units(ctx, changes.get("add", []))
    if added:  # the scope may have changed since the preview
        _, problems = await resolve_units(ctx, ", ".join(u.code for u in added))
        if problems:
            await ctx.reply("\n".join([*problems, t("Chưa thay đổi gì.")]))
            return
    removed = await _units(ctx, changes.get("remove", []))
    # Told before the task changes, in each reader's language (the old title and deadline).
    summary = {lang: await _change_lines(ctx, Translator(lang), assignment, changes, before)
               for lang in ("vi", "en")}
    for name in ("title", "details", "requires"):
        if name in changes:
            setattr(assignment, name, changes[name])
    if "deadline" in changes and not assignment.recurrence:
        assignment.deadline = due
    ctx.session.add(assignment)
    by_unit = {tg.unit_id: tg for tg in owed}
    gone = {u.id for u in removed}
    told = 0
    for target in owed:
        if target.state == TargetState.REMOVED or target.unit_id in gone:
            continue
        if "deadline" in changes:
            await targets.move_deadline(ctx.session, target, due)
            if target.state in OPEN_TARGET_STATES:
                await replan_target(ctx, target, assignment)
        if target.state == TargetState.EXCUSED or not _told(t, assignment, changes, target):
            continue  # an excused unit owes nothing; units added or taken off change no one else
        for member in await members_with_role(ctx, target.unit_id, "reporter"):
            await ctx.send(member, partial(_edited_text, assignment=assignment, changes=changes,
                                           target=target),
                           priority=1, target_id=target.id, assignment_id=assignment.id)
            told += 1
    for unit in removed:
        target = by_unit[ident(unit)]
        await targets.remove(ctx.session, target)
        await unplan_target(ctx, target)
        for member in await members_with_role(ctx, ident(unit), "reporter"):
            await ctx.send(member, partial(_taken_off_text, assignment=assignment, unit=unit),
                           priority=1, target_id=by_unit[ident(unit)].id,
                           assignment_id=assignment.id)
            told += 1
    if added:
        plan = await ctx.session.get(StoredFile, assignment.file_id) \
            if assignment.file_id else None
        offices = await units_with_units_below(ctx, [ident(u) for u in added])
        for unit in added:
            taken_off = by_unit.get(ident(unit))
            if taken_off is None:
                target = await targets.add(ctx.session, Target(
                    assignment_id=ident(assignment), unit_id=ident(unit),
                    period=assignment.period, deadline=due))
            else:  # taken off earlier and added again: it owes the task anew
                target = taken_off
                await targets.owe_again(ctx.session, target, due)
            plan_target(ctx, target, assignment)
            told += await announce(ctx, assignment, target, unit,
                                   plan.original_name if plan else None, unit.id in offices)
    await ctx.audit("edit", assignment.id, number=assignment.number,
              **{k: v for k, v in changes.items() if k not in ("add", "remove")},
              **({"added": [u.code for u in added]} if added else {}),
              **({"removed": [u.code for u in removed]} if removed else {}))
    await tell_assigner(ctx, assignment, lambda tr: "\n" + "\n".join(
        summary.get(tr.language, summary["vi"])))
    await ctx.reply("\n".join([t("✅ Đã sửa nhiệm vụ {task}; đã báo cho {n} người nhận.",
                                 task=task_line(t, assignment), n=told),
                               *summary.get(t.language, summary["vi"])]),
                    assignment_id=assignment.id)


def _edited_text(tr: Translator, assignment: Assignment, changes: dict, target: Target) -> str:
    return "\n".join([tr("✏️ Nhiệm vụ {task} đã được sửa:", task=task_line(tr, assignment)),
                      *_told(tr, assignment, changes, target)])


def _taken_off_text(tr: Translator, assignment: Assignment, unit: Unit) -> str:
    return tr("ℹ️ {unit} không còn phải nộp nhiệm vụ {task}; các bài đơn vị đã nộp vẫn được "
              "lưu.", unit=unit.name, task=task_line(tr, assignment))


def _told(t: Translator, assignment: Assignment, changes: dict, target: Target) -> list[str]:
    """What a unit still on the task is told: its deadline, title, details, what to submit."""
    lines = []
    if "deadline" in changes:
        lines.append(t("Hạn nộp mới: {deadline}", deadline=t.moment(target.deadline)))
    if "title" in changes:
        lines.append(t("Tên mới: {title}", title=assignment.title))
    if "details" in changes:
        lines.append(t("Chi tiết: {details}", details=assignment.details))
    if "requires" in changes:
        lines.append(t("Cần nộp: {what}", what=t(REQUIRES_TEXT[Requires(assignment.requires)])))
    return lines
