"""`/giao`: staff assign a reporting task to units, in one line or step by step. Nothing is
sent before the staff member has seen what the bot understood and pressed «Gửi»."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import datetime
from functools import partial
from typing import Any, NamedTuple

from core import roles
from core.callbacks import GiaoPress
from core.clock import LOCAL_TZ
from core.deadlines import Deadline, DeadlineError, Recurrence, parse_deadline
from core.giao_line import parse_giao_line, parse_offsets, parse_requires, repeated_offsets
from core.i18n import N_, Translator
from core.messages import Button
from core.states import SETTLED_TARGET_STATES, AssignmentState, Requires
from core.text import excerpt, fold
from handlers import files as file_intake
from handlers import plans
from handlers.common import (
    REQUIRES_TEXT,
    calendar_of,
    hand_down_button,
    members_with_role,
    members_with_role_in,
    office_staff,
    office_staff_of,
    repeated_offsets_text,
    status_buttons,
    task_line,
    task_to_change,
    tell_assigner,
    units_with_units_below,
)
from handlers.context import Context, bulk_wait, dialogue_data
from handlers.reminders import plan_period
from services import targets
from services.scope import (
    assignable_units,
    directly_below,
    office_name,
)
from storage import assigning
from storage.models import Assignment, Dialogue, Outbox, Target, Unit
from storage.queries import chunks_of, dialect_of
from storage.units import (
    UNIT_COLUMNS,
    UNIT_OBJECTS,
    code_and_name_rows,
    count_units,
    first_codes_and_names,
    first_names,
    group_or_kind_exists,
    is_within,
    unit_ids_within,
    units_among,
    units_by_code,
    units_by_name,
    units_named,
    units_of_group,
    units_of_kind,
)

PREVIEW_UNITS = 10
ID_CHUNK = 5000  # ids per IN (...) list
MAX_TITLE = 500  # Assignment.title; longer texts belong in the details
STEPS = ("title", "details", "deadline", "units")
EDITABLE = (("title", N_("Tên")), ("deadline", N_("Hạn")), ("units", N_("Đơn vị")),
            ("details", N_("Chi tiết")))


# --- parsing what staff type -------------------------------------------------------------


def title_too_long(t: Translator, title: str) -> str:
    return t("Tên nhiệm vụ dài {n} ký tự, quá {limit}. Hãy gõ tên ngắn hơn; nội dung dài ghi ở "
             "phần «| chi tiết ...».", n=t.number(len(title)), limit=t.number(MAX_TITLE))


def deadline_error_text(t: Translator, error: DeadlineError) -> str:
    if error.code == "no_such_date":
        shown = "/".join(str(error.params[k]) for k in ("day", "month", "year")
                         if error.params.get(k) is not None)
        return t("Ngày {date} không có trong lịch. Hãy kiểm tra lại ngày tháng.", date=shown)
    if error.code == "past":
        return t("Hạn {due} đã qua. Hãy chọn một hạn trong tương lai.",
                 due=t.moment(error.params["due"]))
    if error.code == "needs_day":
        kind = error.params.get("kind")
        if kind == "weekly":
            return t("Hạn hàng tuần vào thứ mấy? Ví dụ: thứ sáu hàng tuần.")
        if kind == "monthly":
            return t("Hạn hàng tháng vào ngày nào? Ví dụ: ngày 5 hàng tháng.")
        if kind == "quarterly":
            return t("Hạn hàng quý vào ngày nào? Ví dụ: hàng quý trước ngày 20 tháng cuối quý.")
        if kind == "half_yearly":
            return t("Hạn 6 tháng một lần vào ngày nào? Ví dụ: định kỳ 6 tháng trước ngày 15/6 "
                     "(rồi 15/12).")
        if kind == "semester":
            return t("Hạn hàng học kỳ vào ngày nào? Ví dụ: hàng học kỳ trước ngày 15/1 (rồi "
                     "15/7).")
        return t("Hạn hàng năm vào ngày nào? Ví dụ: định kỳ hằng năm trước ngày 30/11.")
    return t("Chưa hiểu hạn nộp này. Ví dụ: 08/05/2023, 8/5/2023 17:00, trước ngày 15/5, "
             "thứ sáu tuần sau, cuối tháng, trong tháng 9/2023, 5 ngày làm việc, trước Tết, "
             "hàng năm 30/11, ngày 5 hàng tháng.")


DIRECTLY_BELOW_WORDS = ("tructhuoc", "truc thuoc", "don vi truc thuoc", "cac don vi truc thuoc")
EVERY_UNIT_WORDS = ("tat ca", "all", "toan bo", "tat ca don vi")


async def resolve_units(ctx: Context, spec: str) -> tuple[list[Unit], list[str]]:
    """Units named by `spec` (codes, @groups, names without accents, «tất cả», @tructhuoc)
    and, for the parts that could not be used, what to tell the user. Everything is read
    inside the member's scope: a Phòng clerk's @THCS is his Phòng's THCS schools."""
    return await _resolve(ctx, spec, UNIT_OBJECTS)


async def _resolve(ctx: Context, spec: str, entity: tuple[Any, ...]) -> tuple[list[Any], list[str]]:
    """`resolve_units`, reading `entity`: the `Unit` objects, or `UNIT_COLUMNS` (what
    `/giao` reads of the units it resolves: rows, not objects, 50,000 for «tất cả»)."""
    t = ctx.t
    found: dict[int, Any] = {}
    problems: list[str] = []
    allowed = assignable_units(ctx.scope)
    office = await office_name(ctx.session, ctx.scope.office_for_new_task())
    session = ctx.session
    for raw in re.split(r"[,;\n]|\s+và\s+|\s+va\s+", spec):
        token = raw.strip()
        if not token:
            continue
        key = fold(token)
        if key in EVERY_UNIT_WORDS:
            units = await units_among(session, allowed, entity=entity)
        elif fold(token.lstrip("@")) in DIRECTLY_BELOW_WORDS:
            units = await units_among(session, allowed, directly_below(ctx.scope),
                                      entity=entity)
            if not units:
                problems.append(t("Không có đơn vị nào trực thuộc đơn vị của bạn."))
                continue
        elif token.startswith("@"):
            group = fold(token[1:])
            units = await units_of_group(session, group, allowed, entity)
            if not units:  # a unit kind (@THCS) or a unit code written as a group
                units = await units_of_kind(session, token[1:], allowed, entity) or \
                    await units_by_code(session, token[1:], allowed, entity)
            if not units:
                problems.append(t("Không có nhóm «{group}» trong phạm vi của {office}.",
                                  group=excerpt(token), office=office) if office and await _exists(
                    ctx, group, token[1:]) else t("Không có nhóm «{group}».", group=excerpt(token)))
                continue
        else:
            units = await units_by_code(session, token, None, entity)
            if units and allowed is not None and not await is_within(
                    session, units[0].id, allowed):
                problems.append(t("Đơn vị «{code}» không thuộc phạm vi của {office}: chỉ giao "
                                  "được cho {office} và các đơn vị cấp dưới.",
                                  code=token, office=office or t("bạn")))
                continue
            if not units:
                units = await units_by_name(session, key, allowed, entity)
            if not units:
                candidates = await units_named(session, key, allowed, 11, entity)
                if len(candidates) > 1:
                    listed = "\n".join(f"• {u.code} — {u.name}" for u in candidates[:10])
                    problems.append(t("«{name}» khớp với nhiều đơn vị; hãy ghi rõ mã đơn vị:\n"
                                      "{units}", name=token, units=listed))
                    continue
                units = candidates
            if not units:
                problems.append(t("Không tìm thấy đơn vị «{name}» trong phạm vi của {office}.",
                                  name=token, office=office) if office else
                                t("Không tìm thấy đơn vị «{name}».", name=token))
                continue
        for unit in units:
            found.setdefault(unit.id, unit)
    return list(found.values()), problems


async def _exists(ctx: Context, group: str, kind: str) -> bool:
    """Whether a group or kind exists anywhere (to say it is outside the scope)."""
    return await group_or_kind_exists(ctx.session, group, kind)


# --- the draft, kept in the dialogue -----------------------------------------------------


def new_draft() -> dict:
    return {"title": "", "details": "", "file_id": None, "file_name": None, "deadline": None,
            "recurrence": None, "unit_ids": [], "requires": Requires.ANY, "offsets": None,
            "step": "title", "editing": False}


PROMPTS = {
    "title": N_("Tên nhiệm vụ là gì? (gõ /huy để dừng)"),
    "details": N_("Gửi nội dung chi tiết và/hoặc tệp kế hoạch; gõ «bỏ qua» nếu không có."),
    "deadline": N_("Hạn nộp là khi nào? Ví dụ: 08/05/2023 17:00, trước ngày 15/5, thứ sáu tuần "
                   "sau, cuối tháng, hàng năm 30/11, ngày 5 hàng tháng."),
    "units": N_("Giao cho đơn vị nào? Ghi mã đơn vị, @nhóm, tên đơn vị (không dấu cũng được) "
                "hoặc «tất cả», cách nhau bởi dấu phẩy."),
}


def _deadline_of(draft: dict) -> datetime:
    return datetime.fromisoformat(draft["deadline"])


async def _save(ctx: Context, draft: dict) -> None:
    await ctx.set_dialogue("giao", draft)


async def ask(ctx: Context, draft: dict, step: str, before: str = "") -> None:
    draft["step"] = step
    await _save(ctx, draft)
    await ctx.reply((before + "\n" if before else "") + ctx.t(PROMPTS[step]))


async def next_step(ctx: Context, draft: dict, before: str = "") -> None:
    """Ask for the first missing part, or show the preview when the draft is complete (also
    for drafts that `/kehoach` filled in from a plan)."""
    if draft["editing"]:
        await preview(ctx, draft, before)
        return
    for step in STEPS:
        if step == "details":
            if draft.get("details_done"):
                continue
        elif draft[{"title": "title", "deadline": "deadline", "units": "unit_ids"}[step]]:
            continue
        await ask(ctx, draft, step, before)
        return
    await preview(ctx, draft, before)


class UnitRef(NamedTuple):
    """The columns of a `Unit` that a task's sending needs, read as plain rows (a national
    task has 50,000 units)."""

    id: int
    code: str
    name: str


async def _draft_units(ctx: Context, unit_ids: list[int]) -> list[UnitRef]:
    """The draft's units by code, read in chunks on SQLite (a bounded number of parameters
    a statement; PostgreSQL takes them as one array, `storage.queries.chunks_of`)."""
    if len(unit_ids) <= ID_CHUNK:  # in the database's order of codes, as always
        return [UnitRef(*row) for row in await code_and_name_rows(ctx.session, unit_ids)]
    units: list[UnitRef] = []
    for drafted in chunks_of(unit_ids, dialect_of(ctx.session), ID_CHUNK):
        units += [UnitRef(*row) for row in await code_and_name_rows(
            ctx.session, drafted, by_code=False)]
    return sorted(units, key=lambda u: u.code)


async def _draft_names(ctx: Context, unit_ids: list[int]) -> tuple[int, list[str]]:
    """How many of the draft's units exist and the names of the first `PREVIEW_UNITS` by
    code, for the preview: counted by the database, not read row by row."""
    if len(unit_ids) <= ID_CHUNK:  # in the database's order of codes, as always
        count = await count_units(ctx.session, unit_ids)
        names = await first_names(ctx.session, unit_ids, PREVIEW_UNITS)
        return count, names
    count, first = 0, []
    for start in range(0, len(unit_ids), ID_CHUNK):
        chunk = unit_ids[start:start + ID_CHUNK]
        count += await count_units(ctx.session, chunk)
        first += await first_codes_and_names(ctx.session, chunk, PREVIEW_UNITS)
    return count, [name for _, name in sorted(first)[:PREVIEW_UNITS]]


async def preview(ctx: Context, draft: dict, before: str = "") -> None:
    t = ctx.t
    draft["step"] = "confirm"
    draft["editing"] = False
    await _save(ctx, draft)
    count, names = await _draft_names(ctx, draft["unit_ids"])
    deadline = _deadline_of(draft)
    lines = [t("Xin xác nhận nhiệm vụ sẽ giao:")]
    if draft.get("parent_id"):
        lines.append(t("Giao tiếp từ nhiệm vụ #{number} của {office}",
                       number=draft["parent_number"], office=draft["parent_office"])
                     if draft["parent_office"] else
                     t("Giao tiếp từ nhiệm vụ #{number}", number=draft["parent_number"]))
    lines.append(t("• Tên: {title}", title=draft["title"]))
    if draft["details"]:
        lines.append(t("• Chi tiết: {details}", details=draft["details"]))
    if draft["file_name"]:
        lines.append(t("• Tệp kế hoạch: {name}", name=draft["file_name"]))
    lines.append(t("• Hạn nộp: {deadline} — {left}", deadline=t.moment(deadline),
                   left=t.time_left(ctx.now, deadline)))
    if draft.get("parent_deadline") and deadline > datetime.fromisoformat(
            draft["parent_deadline"]):
        lines.append(t("⚠️ Hạn này sau hạn đơn vị phải nộp cho nhiệm vụ #{number} ({due}).",
                       number=draft["parent_number"],
                       due=t.moment(datetime.fromisoformat(draft["parent_deadline"]))))
    if draft["recurrence"]:
        lines.append(t("• Lặp lại: {rule}", rule=recurrence_words(
            t, Recurrence.from_rule(draft["recurrence"]))))
    more = count - PREVIEW_UNITS
    lines.append(t.plural("• {n} đơn vị: {names}", "• {n} đơn vị: {names}", count,
                          names=", ".join(names))
                 + (t(" và {more} đơn vị khác", more=more) if more > 0 else ""))
    lines.append(t("• Nộp: {what}", what=t(REQUIRES_TEXT[draft["requires"]])))
    offsets = draft["offsets"] if draft["offsets"] is not None else list(
        ctx.settings.reminders.offsets_days)
    lines.append(t("• Nhắc trước hạn: {days} ngày", days=", ".join(map(str, offsets)))
                 if offsets else t("• Không nhắc trước hạn"))
    waits = bulk_wait(ctx.settings, ctx.now)
    if waits is not None:
        lines.append(waiting_words(t, waits))
    buttons = [Button(t("Gửi"), GiaoPress("send").pack()),
               Button(t("Sửa"), GiaoPress("edit").pack()),
               Button(t("Huỷ"), GiaoPress("cancel").pack())]
    await ctx.reply((before + "\n" if before else "") + "\n".join(lines), buttons)


def waiting_words(t: Translator, waits: datetime) -> str:
    return t("• Ngoài giờ làm việc: tin giao việc sẽ được gửi lúc {moment}.",
             moment=t.moment(waits))


def recurrence_words(t: Translator, rule: Recurrence) -> str:
    if rule.kind == "yearly":
        return t("hàng năm, trước ngày {day:02d}/{month:02d}", day=rule.day, month=rule.month)
    if rule.kind == "school_year":
        return t("hàng năm học, trước ngày {day:02d}/{month:02d}", day=rule.day, month=rule.month)
    if rule.kind in ("half_yearly", "semester"):
        first, second = _twice_a_year(rule)
        if rule.kind == "half_yearly":
            return t("6 tháng một lần, trước ngày {first} và {second}", first=first,
                     second=second)
        return t("hàng học kỳ, trước ngày {first} và {second}", first=first, second=second)
    if rule.kind == "quarterly":
        if rule.month == 3 and rule.day == 31:
            return t("hàng quý, trước ngày cuối quý")
        names = (t("tháng đầu quý"), t("tháng giữa quý"), t("tháng cuối quý"))
        month = names[(rule.month or 3) - 1]
        if rule.day == 31:
            return t("hàng quý, trước ngày cuối {month}", month=month)
        return t("hàng quý, trước ngày {day} {month}", day=rule.day, month=month)
    if rule.kind == "monthly":
        return t("ngày {day} hàng tháng", day=rule.day)
    return t("hàng tuần")


def _twice_a_year(rule: Recurrence) -> list[str]:
    """The two days («15/06», «15/12») of a half-yearly or semester rule, in calendar order
    (the 31st of a shorter month is its last day)."""
    first = rule.next_due(datetime(2001, 1, 1, tzinfo=LOCAL_TZ))
    second = rule.next_due(first)
    days = sorted((d.month, d.day) for d in (first, second))
    return [f"{day:02d}/{month:02d}" for month, day in days]


def apply_deadline(ctx: Context, draft: dict, text: str) -> str | None:
    """Parse `text` into the draft; returns the problem to show, if any."""
    try:
        deadline: Deadline = parse_deadline(text, ctx.now, ctx.settings.default_deadline_time,
                                            calendar_of(ctx.settings),
                                            ctx.settings.school_year_end)
    except DeadlineError as error:
        return deadline_error_text(ctx.t, error)
    draft["deadline"] = deadline.due.isoformat()
    draft["recurrence"] = deadline.recurrence.to_rule() if deadline.recurrence else None
    return None


async def apply_units(ctx: Context, draft: dict, text: str) -> str | None:
    units, problems = await _resolve(ctx, text, UNIT_COLUMNS)
    if problems:
        return "\n".join(problems)
    if draft.get("office_id"):  # a hand-down never reaches the office that hands it down
        units = [u for u in units if u.id != draft["office_id"]]
    if not units:
        return ctx.t("Chưa có đơn vị nào khớp.")
    draft["unit_ids"] = [u.id for u in units]
    return None


# --- the command and the dialogue --------------------------------------------------------


async def handle_command(ctx: Context, args: str) -> None:
    t = ctx.t
    if not roles.can_assign(ctx.roles):
        await ctx.reply(t("Chỉ chuyên viên văn phòng mới giao được nhiệm vụ. Bạn có thể xem việc "
                          "của mình bằng /viec."))
        return
    draft = new_draft()
    event = ctx.event
    assert event is not None
    if event.file is not None:
        stored, problem = await file_intake.store(ctx, event.file)
        if problem:
            await ctx.reply(problem)
            return
        draft["file_id"], draft["file_name"] = stored.id, event.file.name  # type: ignore[union-attr]
    if not args.strip():
        await next_step(ctx, draft)
        return
    line = parse_giao_line(args)
    draft["title"] = line.title
    draft["details"] = line.details
    draft["details_done"] = True
    problems: list[str] = []
    if line.unknown:
        problems.append(t("Không hiểu phần «{part}»; các phần là: hạn, đơn vị, nộp, nhắc, "
                          "chi tiết.", part=excerpt(" | ".join(line.unknown))))
    if line.requires is not None:
        requires = parse_requires(line.requires)
        if requires is None:
            problems.append(t("Phần «nộp:» chỉ nhận: tệp, trạng thái hoặc cả hai."))
        else:
            draft["requires"] = requires
    if line.reminders is not None:
        offsets = parse_offsets(line.reminders)
        if offsets is None:
            problems.append(t("Phần «nhắc:» cần các số ngày trước hạn, ví dụ: nhắc: 7,3,1."))
        elif repeated_offsets(line.reminders):
            problems.append(repeated_offsets_text(t, line.reminders))
        else:
            draft["offsets"] = offsets
    if problems:
        await ctx.reply("\n".join(problems))
        return
    missing = [name for name in line.missing if name != "title"]
    if len(line.title) > MAX_TITLE:
        await ask(ctx, draft, "title", title_too_long(t, line.title))
        return
    if not line.title:
        await ask(ctx, draft, "title", t("Thiếu tên nhiệm vụ (phần trước dấu |)."))
        return
    if missing:
        names = {"deadline": t("«hạn ...»"), "units": t("«đơn vị ...»")}
        notice = t("Thiếu phần {parts}. Mẫu một dòng: /giao Tên | hạn 08/05/2023 | đơn vị @THCS",
                   parts=t(" và ").join(names[m] for m in missing))
    else:
        notice = ""
    if line.deadline:
        problem = apply_deadline(ctx, draft, line.deadline)
        if problem:
            await ask(ctx, draft, "deadline", problem)
            return
    if line.units:
        problem = await apply_units(ctx, draft, line.units)
        if problem:
            await ask(ctx, draft, "units", problem)
            return
    await next_step(ctx, draft, notice)


async def on_dialogue(ctx: Context, dialogue: Dialogue) -> None:
    draft = dialogue_data(dialogue)
    event = ctx.event
    assert event is not None
    text = event.text.strip()
    step = draft["step"]
    t = ctx.t
    if step == "confirm":
        await ctx.reply(t("Bản nháp đang chờ xác nhận: bấm Gửi, Sửa hoặc Huỷ ở tin nhắn trên "
                          "(hoặc gõ /huy)."))
        return
    if step == "details":
        if event.file is not None:
            stored, problem = await file_intake.store(ctx, event.file)
            if problem:
                await ctx.reply(problem)
                return
            draft["file_id"], draft["file_name"] = stored.id, event.file.name  # type: ignore[union-attr]
        if text and fold(text) not in ("bo qua", "khong", "skip", "-"):
            draft["details"] = text
        draft["details_done"] = True
        await next_step(ctx, draft)
        return
    if event.file is not None:
        await ctx.reply(t("Bước này cần một dòng chữ, không phải tệp.") + "\n" + t(PROMPTS[step]))
        return
    if not text:
        await ctx.reply(t(PROMPTS[step]))
        return
    if step == "title":
        if len(text) > MAX_TITLE:
            await ctx.reply(title_too_long(t, text))
            return
        draft["title"] = text
    elif step == "deadline":
        problem = apply_deadline(ctx, draft, text)
        if problem:
            await ctx.reply(problem)
            return
    elif step == "units":
        problem = await apply_units(ctx, draft, text)
        if problem:
            await ctx.reply(problem)
            return
    await next_step(ctx, draft)


async def on_button(ctx: Context, parts: list[str], source: Outbox) -> None:
    t = ctx.t
    dialogue = await ctx.dialogue()
    if dialogue is None or dialogue.kind != "giao":
        await ctx.reply(t("Bản nháp này không còn nữa (đã gửi hoặc đã huỷ). Gõ /giao để giao nhiệm "
                          "vụ mới."))
        return
    draft = dialogue_data(dialogue)
    press = GiaoPress.from_parts(parts)
    action = press.action if press else ""
    if action == "cancel":
        await ctx.clear_dialogue()
        rest, plan_buttons = (await plans.rest_of_plan(ctx, draft["plan_id"])
                              if draft.get("plan_id") else ("", []))
        await ctx.reply(t("Đã huỷ bản nháp; chưa gửi gì cho đơn vị nào.")
                        + (f"\n{rest}" if rest else ""), plan_buttons)
    elif action == "edit":
        draft["step"] = "choose_edit"
        await _save(ctx, draft)
        await ctx.reply(t("Sửa phần nào?"),
                        [Button(t(label), GiaoPress("field", name).pack())
                         for name, label in EDITABLE])
    elif press is not None and action == "field" and press.field in PROMPTS:
        draft["editing"] = True
        await ask(ctx, draft, press.field)
    elif action == "send" and draft.get("step") == "confirm":
        await _send(ctx, draft)
    else:
        await ctx.reply(t("Nút này không còn hiệu lực. Gõ /help để xem các lệnh."))


# --- sending -----------------------------------------------------------------------------


def task_text(t: Translator, ctx: Context, assignment: Assignment, target: Target,
              unit: Unit, rolled: bool = False) -> str:
    before, after = _task_parts(t, ctx, assignment, target.deadline, target.period, rolled)
    return _with_unit(t, before, after, unit.name)


def _task_parts(t: Translator, ctx: Context, assignment: Assignment, deadline: datetime,
                period: str, rolled: bool) -> tuple[str, str]:
    """The task message's lines before and after its unit's name: the same for every unit
    of the task in one language, so a national task renders them once per language."""
    before = [t("📋 Kỳ báo cáo mới {period} của nhiệm vụ {task}", period=period,
                task=task_line(t, assignment)) if rolled
              else t("📋 Nhiệm vụ mới {task}", task=task_line(t, assignment))]
    if assignment.details:
        before.append(assignment.details)
    after = [t("Hạn nộp: {deadline} — {left}", deadline=t.moment(deadline),
               left=t.time_left(ctx.now, deadline))]
    if period:
        after.append(t("Kỳ báo cáo: {period}", period=period))
    after += [
        t("Cần nộp: {what}", what=t(REQUIRES_TEXT[Requires(assignment.requires)])),
        t("Trả lời tin này kèm tệp báo cáo, hoặc bấm một nút bên dưới."),
    ]
    return "\n".join(before), "\n".join(after)


def _with_unit(t: Translator, before: str, after: str, unit: str) -> str:
    return "\n".join((before, t("Đơn vị: {unit}", unit=unit), after))


async def open_targets(ctx: Context, assignment: Assignment, units: Sequence[Unit | UnitRef],
                       deadline: datetime, period: str, file_name: str | None,
                       rolled: bool = False) -> tuple[int, list[Unit | UnitRef]]:
    """Create one target per unit for `period`, plan its reminders and send the task to
    the units' reporters (as a new period of a recurring task when `rolled`). Returns how
    many people got it and the units that have nobody to receive it."""
    recipients, silent = 0, []
    assignment.period = period
    ctx.session.add(assignment)
    unit_ids: list[int] = [u.id for u in units]  # type: ignore[misc]
    offices = await units_with_units_below(ctx, unit_ids)
    target_ids = await targets.add_all(ctx.session, assignment.id, unit_ids, period,  # type: ignore[arg-type]
                                       deadline)
    await plan_period(ctx, assignment, deadline)
    reporters_of = await members_with_role_in(ctx, unit_ids, "reporter")
    staff_of = await office_staff_of(ctx, sorted(offices & set(unit_ids)))
    parts: dict[str, tuple[str, str]] = {}  # language → the text around the unit's name

    def render(t: Translator, unit: str) -> str:
        if t.language not in parts:
            parts[t.language] = _task_parts(t, ctx, assignment, deadline, period, rolled)
        return _with_unit(t, *parts[t.language], unit)

    for unit, target_id in zip(units, target_ids, strict=True):
        reporters = reporters_of.get(unit.id, [])  # type: ignore[arg-type]
        # An office with units below it can hand the task down: its staff get [Giao tiếp].
        staff = staff_of.get(unit.id, [])  # type: ignore[arg-type]
        if not reporters and not staff:
            silent.append(unit)
        reporter_ids = {m.id for m in reporters}
        staff_ids = {m.id for m in staff}
        for member in reporters + [m for m in staff if m.id not in reporter_ids]:
            ctx.send_bulk(member, partial(render, unit=unit.name),
                          _task_buttons(target_id, member.id in reporter_ids,
                                        member.id in staff_ids),
                          priority=1, file_id=assignment.file_id, file_name=file_name,
                          target_id=target_id, assignment_id=assignment.id)
            recipients += 1
    await ctx.write_queued()
    return recipients, silent


async def announce(ctx: Context, assignment: Assignment, target: Target, unit: Unit,
                   file_name: str | None, is_office: bool, rolled: bool = False) -> int:
    """Send the task message of `target` to its unit's reporters and, for an office with
    units below it, to its staff with [Giao tiếp]; returns how many people got it."""
    reporters = await members_with_role(ctx, unit.id, "reporter")  # type: ignore[arg-type]
    staff = await office_staff(ctx, unit.id) if is_office else []  # type: ignore[arg-type]
    staff_ids = {m.id for m in staff}
    told = 0
    for member in reporters + [m for m in staff if m.id not in {r.id for r in reporters}]:
        await ctx.send(member, lambda tr: task_text(tr, ctx, assignment, target, unit, rolled),
                       _task_buttons(target.id, member in reporters,  # type: ignore[arg-type]
                                     member.id in staff_ids),
                       priority=1, file_id=assignment.file_id, file_name=file_name,
                       target_id=target.id, assignment_id=assignment.id)
        told += 1
    return told


def _task_buttons(target_id: int, reports: bool, hands_down: bool):
    """A reporter's status buttons and, for the staff of an office, [Giao tiếp]."""
    status, down = status_buttons(target_id), hand_down_button(target_id)

    def render(t: Translator) -> list[Button]:
        return [*(status(t) if reports else []), *(down(t) if hands_down else [])]

    return render


async def _send(ctx: Context, draft: dict) -> None:
    t = ctx.t
    assert ctx.member is not None
    deadline = _deadline_of(draft)
    if deadline <= ctx.now:
        draft["editing"] = True
        await ask(ctx, draft, "deadline", t("Hạn {due} đã qua trong lúc chờ xác nhận.",
                                             due=t.moment(deadline)))
        return
    units = await _draft_units(ctx, draft["unit_ids"])
    allowed = assignable_units(ctx.scope)
    if allowed is not None:  # the scope may have changed since the preview
        inside: set[int] = set()
        for drafted in chunks_of(draft["unit_ids"], dialect_of(ctx.session), ID_CHUNK):
            inside.update(await unit_ids_within(ctx.session, drafted, allowed))
        if len(inside) < len(units):
            draft["editing"] = True
            await ask(ctx, draft, "units", t(
                "Một số đơn vị không còn thuộc phạm vi của bạn: {codes}. Chưa gửi gì.",
                codes=", ".join(u.code for u in units if u.id not in inside)))
            return
    if draft.get("parent_target_id"):  # handed down meanwhile (by a colleague)?
        # The office's target is locked: of two colleagues sending at the same moment, the
        # second sees the first one's hand-down.
        await targets.get(ctx.session, draft["parent_target_id"])
        existing = await assigning.hand_down_number(ctx.session, draft["parent_target_id"])
        if existing is not None:
            await ctx.clear_dialogue()
            await ctx.reply(t("Nhiệm vụ #{parent} đã được giao tiếp thành nhiệm vụ #{number}; bản "
                              "nháp này không được gửi.", parent=draft["parent_number"],
                              number=existing))
            return
    offsets = draft["offsets"] if draft["offsets"] is not None else list(
        ctx.settings.reminders.offsets_days)
    assignment = await _numbered(ctx, lambda number: Assignment(
        number=number, title=draft["title"], details=draft["details"],
        file_id=draft["file_id"], deadline=deadline, recurrence=draft["recurrence"],
        requires=draft["requires"], reminder_offsets=",".join(map(str, offsets)),
        assigned_by=ctx.member.id, created_at=ctx.now,  # type: ignore[union-attr,arg-type]
        office_id=draft.get("office_id") or ctx.scope.office_for_new_task(),
        parent_id=draft.get("parent_id"), parent_target_id=draft.get("parent_target_id"),
    ))
    number = assignment.number
    period = (Recurrence.from_rule(draft["recurrence"]).period_label(deadline)
              if draft["recurrence"] else "")
    recipients, silent = await open_targets(ctx, assignment, units, deadline, period,
                                            draft["file_name"])
    rest, plan_buttons = (await plans.rest_of_plan(ctx, draft["plan_id"], draft["plan_duty"],
                                                   number)
                          if draft.get("plan_id") else ("", []))
    await ctx.clear_dialogue()
    await ctx.audit("assign", assignment.id, number=number, title=assignment.title,
                    units=len(units))
    lines = [t("✅ Đã giao nhiệm vụ #{number} «{title}» cho {units} đơn vị ({people} người nhận).",
               number=number, title=assignment.title, units=len(units), people=recipients),
             t("Hạn nộp: {deadline}. Xem tiến độ: /tiendo #{number}",
               deadline=t.moment(deadline), number=number)]
    waits = bulk_wait(ctx.settings, ctx.now)
    if waits is not None and recipients:
        lines.append(waiting_words(t, waits))
    if silent:
        names = ", ".join(u.name for u in silent[:PREVIEW_UNITS])
        lines.append(t("Chưa có người nhận ở {n} đơn vị: {names}. Hãy tạo mã mời cho các đơn vị "
                       "này.", n=len(silent), names=names))
    if rest:
        lines.append(rest)
    await ctx.reply("\n".join(lines), plan_buttons, assignment_id=assignment.id)


async def _numbered(ctx: Context, build: Callable[[int], Assignment]) -> Assignment:
    """The new task `build(number)` stored with the next free number, taking the next one
    when a colleague's [Gửi] took it meanwhile (`storage.assigning.numbered`)."""
    return await assigning.numbered(ctx.session, build)


async def handle_cancel(ctx: Context, args: str) -> None:
    """`/huy` leaves the current dialogue; `/huy #N` cancels task N (staff)."""
    t = ctx.t
    if not args.strip():
        if await ctx.clear_dialogue():
            await ctx.reply(t("Đã dừng thao tác đang làm dở."))
        else:
            await ctx.reply(t("Không có thao tác nào đang làm dở."))
        return
    if not roles.can_assign(ctx.roles):
        await ctx.reply(t("Chỉ chuyên viên văn phòng mới huỷ được nhiệm vụ."))
        return
    assignment = await task_to_change(ctx, args, t(
        "Không có nhiệm vụ «{ref}». Xem danh sách bằng /tiendo.", ref=excerpt(args)))
    if assignment is None:
        return
    await targets.lock_task(ctx.session, assignment)  # decided on the row as committed
    if assignment.state == AssignmentState.CANCELLED:
        await ctx.reply(t("Nhiệm vụ {task} đã được huỷ trước đó.", task=task_line(t, assignment)))
        return
    notified = await cancel_task(ctx, assignment)
    from handlers.cascade import cancel_children  # the cascade builds on /giao

    notified += await cancel_children(ctx, assignment)
    await ctx.audit("cancel", assignment.id, number=assignment.number)
    await tell_assigner(ctx, assignment, lambda tr: tr("đã huỷ nhiệm vụ."))
    await ctx.reply(t("Đã huỷ nhiệm vụ {task}; đã báo cho {n} người nhận.",
                      task=task_line(t, assignment), n=notified))



async def cancel_task(ctx: Context, assignment: Assignment) -> int:
    """Cancel `assignment` and tell the reporters of the units that still owed it; returns
    how many were told (none when it was cancelled meanwhile)."""
    await targets.lock_task(ctx.session, assignment)
    if assignment.state == AssignmentState.CANCELLED:
        return 0
    await targets.set_task_state(ctx.session, assignment, AssignmentState.CANCELLED)
    owed = await assigning.targets_of(ctx.session, assignment.id)  # type: ignore[arg-type]
    notified = 0
    for target in owed:
        if target.state in SETTLED_TARGET_STATES:
            continue
        for member in await members_with_role(ctx, target.unit_id, "reporter"):
            await ctx.send(member, lambda tr: tr("Nhiệm vụ {task} đã được huỷ; đơn vị không cần "
                                                 "nộp nữa.", task=task_line(tr, assignment)),
                           priority=1, target_id=target.id, assignment_id=assignment.id)
            notified += 1
    return notified
