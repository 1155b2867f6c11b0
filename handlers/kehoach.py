"""`/kehoach`: staff send a plan (a .docx, a PDF with a text layer, a .txt, or pasted text) and
get the reporting duties the bot found in it, one button each. A button opens the normal
`/giao` draft with everything the plan said filled in; nothing is sent before «Gửi».

The plan is read by `core.plan` (rules, no model); the duties are kept in `PlanDraft` so their
buttons keep working while the staff member confirms one task after another."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime

from core import roles
from core.callbacks import PlanDuty
from core.deadlines import Recurrence
from core.documents import PLAN_TYPES, DocumentProblem, plan_text
from core.files import check_file
from core.i18n import N_, Translator
from core.messages import IncomingFile
from core.plan import Audience, Duty, UnitView, extract_duties, resolve_audience
from core.text import excerpt, fold
from handlers import files as file_intake
from handlers import giao, plans
from handlers.common import calendar_of
from handlers.context import Context
from services.scope import assignable_units
from storage.models import Dialogue, Outbox, PlanDraft, ident
from storage.units import group_names, unit_ids_within, units_within

PASTED = N_("nội dung dán vào")
SOURCE_CHARS = 160  # of each duty's passage shown in the list
MAX_PLAN_CHARS = 400_000  # about 150 pages: past this a text is no plan

PROMPT = N_("Gửi tệp kế hoạch (.docx, .pdf hoặc .txt) hoặc dán nội dung kế hoạch vào tin nhắn "
          "tiếp theo (gõ /huy để dừng).")


# --- reading what the staff member sent --------------------------------------------------


def problem_text(t: Translator, name: str, problem: DocumentProblem) -> str:
    if problem.code == "old_word":
        return t("Tệp «{name}» là Word cũ (.doc), bot chưa đọc được. Hãy mở tệp, lưu thành "
                 ".docx hoặc PDF rồi gửi lại, hoặc dán nội dung kế hoạch.", name=name)
    if problem.code == "no_text":
        return t("Tệp «{name}» là bản quét (ảnh), không có chữ để đọc. Hãy gửi bản .docx hoặc "
                 "PDF có chữ, hoặc dán nội dung kế hoạch.", name=name)
    if problem.code == "empty":
        return t("Tệp «{name}» không có nội dung. Hãy gửi tệp kế hoạch có nội dung.", name=name)
    if problem.code == "unreadable":
        return t("Không đọc được tệp «{name}» (tệp hỏng hoặc mã chữ lạ). Hãy lưu lại thành "
                 ".docx hoặc PDF rồi gửi lại, hoặc dán nội dung kế hoạch.", name=name)
    return t("Tệp «{name}» không phải văn bản kế hoạch. Hãy gửi tệp .docx, .pdf hoặc .txt, hoặc "
             "dán nội dung kế hoạch.", name=name)


def read_file(ctx: Context, file: IncomingFile) -> tuple[str, str] | str:
    """(the plan's text, the file's type), or what to tell the user."""
    t = ctx.t
    mime, problem = check_file(file.data, ctx.settings.max_file_bytes, file.name)
    is_text_file = file.name.lower().endswith((".txt", ".csv"))
    if problem is not None and not (problem.code == "bad_type" and is_text_file):
        return file_intake.problem_text(t, file.name, problem)
    if problem is not None:  # a .txt in a legacy code page: not UTF-8, read by its encoding
        mime = "text/plain"
    if mime not in PLAN_TYPES and mime != "application/x-ole-storage":
        return problem_text(t, file.name, DocumentProblem("not_a_plan"))
    try:
        return plan_text(file.data, mime), mime
    except DocumentProblem as problem_found:
        return problem_text(t, file.name, problem_found)


# --- the command and its dialogue ------------------------------------------------------


async def handle_command(ctx: Context, args: str) -> None:
    t = ctx.t
    if not roles.can_assign(ctx.roles):
        await ctx.reply(t("Chỉ chuyên viên văn phòng mới dùng /kehoach để giao việc từ kế hoạch."))
        return
    event = ctx.event
    assert event is not None
    if event.file is not None:
        await _read(ctx, event.file, None)
    elif args.strip():
        await _read(ctx, None, args)
    else:
        await ctx.set_dialogue("kehoach", {"step": "plan"})
        await ctx.reply(t(PROMPT))


async def on_dialogue(ctx: Context, dialogue: Dialogue) -> None:
    event = ctx.event
    assert event is not None
    if event.file is None and not event.text.strip():
        await ctx.reply(ctx.t(PROMPT))
        return
    await ctx.clear_dialogue()
    await _read(ctx, event.file, None if event.file else event.text)


async def _read(ctx: Context, file: IncomingFile | None, pasted: str | None) -> None:
    t = ctx.t
    mime = ""
    if file is not None:
        read = read_file(ctx, file)
        if isinstance(read, str):
            await ctx.reply(read)
            return
        (text, mime), name = read, file.name
    else:
        text, name = pasted or "", t(PASTED)
    if len(text) > MAX_PLAN_CHARS:
        await ctx.reply(t("Nội dung dài {n} ký tự, quá giới hạn {limit}. Hãy gửi phần kế hoạch "
                          "có các việc cần báo cáo.", n=t.number(len(text)),
                          limit=t.number(MAX_PLAN_CHARS)))
        return
    duties = extract_duties(text, now=ctx.now, calendar=calendar_of(ctx.settings),
                            synonyms=dict(ctx.settings.plan_kinds))
    if not duties:
        await ctx.reply(t("Không tìm thấy việc nào cần báo cáo trong «{name}». Bạn có thể giao "
                          "bằng /giao, ví dụ: /giao Tên | hạn 08/05/2023 | đơn vị @THCS",
                          name=name))
        return
    units = await _scope_units(ctx)
    office = ctx.scope.office_for_new_task()
    stored = None
    if file is not None:
        stored = await file_intake.keep(ctx, file.data, file.name, mime)
    rows = [_duty_row(duty, _audience_units(ctx, duty.audience, units, office))
            for duty in duties]
    assert ctx.member is not None
    plan = PlanDraft(member_id=ident(ctx.member), file_id=stored.id if stored else None,
                     name=name[:255], duties=json.dumps(rows, ensure_ascii=False),
                     created_at=ctx.now)
    ctx.session.add(plan)
    await ctx.session.flush()
    await ctx.audit("plan_read", name=name, duties=len(rows))
    await ctx.reply(list_text(t, ctx.now, name, rows), plans.duty_buttons(t, plan))


async def _scope_units(ctx: Context) -> list[UnitView]:
    """The units the staff member may assign to, with their groups, for the audience."""
    allowed = assignable_units(ctx.scope)
    units = await units_within(ctx.session, allowed)
    groups: dict[int, list[str]] = {}
    for unit_id, group in await group_names(ctx.session, allowed):
        groups.setdefault(unit_id, []).append(group)
    return [UnitView(id=ident(u), code=u.code, name=u.name, kind=u.kind,
                     groups=tuple(groups.get(ident(u), ())), parent_id=u.parent_id)
            for u in units]


def _audience_units(ctx: Context, audience: Audience, units: list[UnitView],
                    office: int | None) -> list[int]:
    """The units a duty's audience means, within scope. «Các đơn vị trực thuộc» are the units
    below the office, not its own departments (Văn phòng, the «phòng thuộc Sở»), which the
    text names when it means them; the office never assigns to itself."""
    synonyms = dict(ctx.settings.plan_kinds)
    found = set(resolve_audience(replace(audience, below=False), units, office, synonyms))
    if audience.below:
        departments = {u.id for u in units if fold(u.kind) in
                       {fold(kind) for kind in ctx.settings.department_kinds}}
        found |= set(resolve_audience(Audience(audience.words, (), (), True), units, office,
                                      synonyms)) - departments
    found -= ctx.scope.staff_offices
    return sorted(found)


def _duty_row(duty: Duty, unit_ids: list[int]) -> dict:
    """A duty as kept in the plan draft (JSON)."""
    return {
        "title": duty.title, "product": duty.product, "deadline_text": duty.deadline_text,
        "due": duty.due.isoformat() if duty.due else None,
        "recurrence": duty.recurrence.to_rule() if duty.recurrence else None,
        "audience": duty.audience.words, "source": duty.source, "unit_ids": unit_ids,
    }


# --- what the staff member sees -----------------------------------------------------------


def passage(text: str, limit: int) -> str:
    """A plan's passage on one line, without its leading bullet, cut at a word."""
    return excerpt(text.strip().lstrip("-–•+* "), limit)


def deadline_words(t: Translator, now: datetime, row: dict) -> str:
    if row["recurrence"]:
        return giao.recurrence_words(t, Recurrence.from_rule(row["recurrence"]))
    due = datetime.fromisoformat(row["due"])
    return t("{date} (đã qua)", date=t.date(due)) if due <= now else t.date(due)


def list_text(t: Translator, now: datetime, name: str, rows: list[dict]) -> str:
    lines = [t.plural("Tìm thấy {n} việc cần giao trong «{name}»:",
                      "Tìm thấy {n} việc cần giao trong «{name}»:", len(rows), name=name)]
    for i, row in enumerate(rows, 1):
        deadline = (t("hạn {deadline}", deadline=deadline_words(t, now, row)) if row["due"]
                    else t("chưa có hạn"))
        if row["unit_ids"]:
            units = t.plural("{n} đơn vị", "{n} đơn vị", len(row["unit_ids"]))
            if row["audience"]:
                units += f" ({row['audience']})"
        else:
            units = t("chưa rõ đơn vị") + (f" ({row['audience']})" if row["audience"] else "")
        lines.append(f"{i}. {row['title']} — {deadline} — {units}")
        lines.append(f"   «{passage(row['source'], SOURCE_CHARS)}»")
    lines.append(t("Bấm số của việc để xem bản nháp giao việc; chưa gửi gì cho đơn vị nào."))
    return "\n".join(lines)


# --- a duty's button: the /giao draft --------------------------------------------------


async def on_button(ctx: Context, parts: list[str], source: Outbox) -> None:
    t = ctx.t
    press = PlanDuty.from_parts(parts)
    plan_id, index = (press.plan_id, press.index) if press else (0, 0)
    plan = await ctx.session.get(PlanDraft, plan_id)
    rows = json.loads(plan.duties) if plan else []
    if (plan is None or ctx.member is None or plan.member_id != ctx.member.id
            or not 1 <= index <= len(rows) or not roles.can_assign(ctx.roles)):
        await ctx.reply(t("Nút này không còn hiệu lực. Gõ /help để xem các lệnh."))
        return
    sent = json.loads(plan.sent)
    if str(index) in sent:
        await ctx.reply(t("Việc {n} đã được giao thành nhiệm vụ #{number}. Xem tiến độ: "
                          "/tiendo #{number}", n=index, number=sent[str(index)]))
        return
    row = rows[index - 1]
    draft = giao.new_draft()
    draft.update(title=passage(row["title"], giao.MAX_TITLE),
                 details=row["source"].strip().lstrip("-–•+* "),
                 details_done=True, file_id=plan.file_id,
                 file_name=plan.name if plan.file_id else None,
                 plan_id=plan.id, plan_duty=index)
    notice = ""
    if row["due"]:
        due = datetime.fromisoformat(row["due"])
        if row["recurrence"] or due > ctx.now:
            draft["deadline"] = due.isoformat()
            draft["recurrence"] = row["recurrence"]
        else:
            notice = t("Hạn trong kế hoạch ({date}) đã qua.", date=t.date(due))
    if row["unit_ids"]:
        allowed = assignable_units(ctx.scope)  # the scope may have changed since the reading
        draft["unit_ids"] = list(await unit_ids_within(ctx.session, row["unit_ids"], allowed))
    elif row["audience"]:
        notice = (notice + "\n" if notice else "") + t(
            "Chưa tìm được đơn vị nào khớp với «{words}».", words=row["audience"])
    await giao.next_step(ctx, draft, notice)

