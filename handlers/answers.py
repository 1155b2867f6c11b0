"""Reporters' answers: a file, a photo or a status text, by reply to a task message, by
button, or without context (matched to their open task, or asked which)."""

from __future__ import annotations

from collections.abc import Callable

from core.callbacks import Misfiled, Pick, StatusPress
from core.deadlines import DeadlineError
from core.i18n import Translator
from core.messages import Button
from core.periods import named_periods, names_a_year
from core.states import OPEN_TARGET_STATES, AssignmentState, Requires, SubmissionKind, TargetState
from core.statuses import StatusAnswer, late_until, parse_percent, parse_status
from core.text import excerpt, fold
from handlers import excuses, extensions
from handlers import files as file_intake
from handlers.cascade import after_answer
from handlers.common import (
    calendar_of,
    in_current_period,
    open_targets_of,
    status_buttons,
    task_line,
    unit_name,
)
from handlers.context import Context, dialogue_data
from handlers.giao import deadline_error_text
from services import targets
from storage import submissions
from storage.models import (
    Assignment,
    Dialogue,
    Member,
    Outbox,
    StoredFile,
    Submission,
    Target,
    ident,
)
from storage.repositories import bot_message
from storage.units import unit_names

# --- /viec -------------------------------------------------------------------------------


async def handle_viec(ctx: Context, _args: str) -> None:
    t = ctx.t
    if not ctx.unit_ids:
        await ctx.reply(t("Bạn không phải đầu mối báo cáo của đơn vị nào nên không có việc phải "
                          "nộp. Gõ /tiendo để xem tiến độ."))
        return
    rows = await open_targets_of(ctx, ctx.unit_ids)
    if not rows:
        await ctx.reply(t("Đơn vị bạn không còn nhiệm vụ nào phải nộp. 👍"))
        return
    lines = [t("Nhiệm vụ còn mở của đơn vị bạn:")]
    apart = await _apart(ctx, rows)
    for target, assignment in rows:
        state = (t(" — đang làm {percent}%", percent=target.percent)
                 if target.state == TargetState.IN_PROGRESS and target.percent is not None
                 else t(" — đang làm") if target.state == TargetState.IN_PROGRESS else "")
        task = task_line(t, assignment)
        period, unit = apart(t, target, assignment)
        task += (f" {period}" if period else "") + (f" — {unit}" if unit else "")
        lines.append(t("• {task} — hạn {deadline} ({left}){state}",
                       task=task, deadline=t.moment(target.deadline),
                       left=t.time_left(ctx.now, target.deadline), state=state))
    lines.append(t("Trả lời tin nhắn giao việc kèm tệp, hoặc gõ trạng thái (đã xong, đang làm "
                   "60%...)."))
    await ctx.reply("\n".join(lines))


# --- finding the target of an answer -----------------------------------------------------


async def _target_of_reply(ctx: Context) -> tuple[Target, Assignment] | None | str:
    """The target of the bot message the user replied to; a message text if it is not one
    of theirs; None when the message is not about a task."""
    event = ctx.event
    assert event is not None
    if not event.reply_to:
        return None
    source = await bot_message(ctx.session, event.channel, event.chat_id, event.reply_to)
    if source is None or source.target_id is None:
        return None
    target = await ctx.session.get(Target, source.target_id)
    if target is None or target.unit_id not in ctx.unit_ids:
        return ctx.t("Tin nhắn đó không phải nhiệm vụ của đơn vị bạn.")
    assignment = await ctx.session.get(Assignment, target.assignment_id)
    assert assignment is not None
    return target, assignment


def _periods_shown(rows: list[tuple[Target, Assignment]]) -> set[int]:
    """Tasks owed for two periods at once (an extension running past the next period's
    opening): their lines name the period."""
    numbers = [a.number for _, a in rows]
    return {n for n in numbers if numbers.count(n) > 1}


Apart = Callable[[Translator, Target, Assignment], tuple[str, str]]


async def _apart(ctx: Context, rows: list[tuple[Target, Assignment]]) -> Apart:
    """What tells apart the lines of a task owed twice, as (period, unit name): its period
    (an extension running past the next period's opening) or, for a member reporting for two
    units, the unit; ("", "") for a task owed once."""
    twice = _periods_shown(rows)
    units = await unit_names(
        ctx.session, {t.unit_id for t, a in rows if a.number in twice})

    def apart(t: Translator, target: Target, assignment: Assignment) -> tuple[str, str]:
        if assignment.number not in twice:
            return "", ""
        periods = {other.period for other, a in rows if a.number == assignment.number}
        if len(periods) > 1:
            return t("kỳ {period}", period=target.period), ""
        return "", units.get(target.unit_id, "")

    return apart


def _pick_buttons(rows: list[tuple[Target, Assignment]], apart: Apart):
    def label(t: Translator, target: Target, assignment: Assignment) -> str:
        which = " ".join(part for part in apart(t, target, assignment) if part)
        if which:
            return f"#{assignment.number} {which[:40]}"
        return t("#{number} {title}", number=assignment.number, title=assignment.title[:40])

    def render(t: Translator) -> list[Button]:
        return [Button(label(t, target, a), Pick(ident(target)).pack())
                for target, a in rows]

    return render


def read_status(ctx: Context, text: str) -> StatusAnswer | None:
    """An answer as parse_status reads it, dates on the configured calendar and school year."""
    settings = ctx.settings
    return parse_status(text, ctx.now, settings.default_deadline_time, calendar_of(settings),
                        settings.school_year_end)


async def handle_free(ctx: Context) -> None:
    event = ctx.event
    assert event is not None and ctx.member is not None
    t = ctx.t
    if not ctx.unit_ids:
        if await extensions.handle_staff_reply(ctx):
            return
        await ctx.reply(t("Chưa hiểu tin nhắn này. Gõ /help để xem các lệnh."))
        return
    picked = await _target_of_reply(ctx)
    if isinstance(picked, str):
        await ctx.reply(picked)
        return
    status = read_status(ctx, event.text) if event.text and not event.file else None
    if event.file is None and status is None and picked is None:
        if not event.text.strip():
            return
        rows = await open_targets_of(ctx, ctx.unit_ids)
        if len(rows) == 1:
            picked = rows[0]
        else:
            await ctx.reply(t("Chưa hiểu «{text}». Hãy gõ: đã xong, đang làm 60%, cần hỗ trợ: ..., "
                              "xin gia hạn đến 12/5 vì ..., không có số liệu, xin miễn nộp vì ...; "
                              "hoặc gửi tệp báo cáo.",
                              text=excerpt(event.text)))
            return
    if picked is None:  # the answer's target is locked as it is read (one statement)
        rows = await open_targets_of(ctx, ctx.unit_ids, locked=True)
        if not rows and (event.file is not None
                         or (status and status.kind in (SubmissionKind.DONE, SubmissionKind.NIL))):
            # A re-submission without a reply: the task already submitted, if only one is.
            rows = await submitted_targets_of(ctx, ctx.unit_ids)
            if len(rows) > 1:
                await _ask_which(ctx, rows, lambda tr: tr(
                    "Đơn vị bạn không còn nhiệm vụ nào đang mở. Đây là bản nộp lại cho nhiệm vụ "
                    "nào?"))
                return
        if not rows:
            await ctx.reply(t("Đơn vị bạn không còn nhiệm vụ nào đang mở, nên chưa ghi nhận gì. "
                              "Nếu muốn nộp lại, hãy trả lời đúng tin nhắn giao việc."))
            return
        if len(rows) > 1:
            await _ask_which(ctx, rows, lambda tr: tr(
                "Đơn vị bạn có {n} nhiệm vụ đang mở. Câu trả lời này dành cho nhiệm vụ nào?",
                n=len(rows)))
            return
        picked = rows[0]
    target, assignment = picked
    if event.text.strip():  # a caption naming another period goes there, or the bot asks
        named = await _period_named(ctx, target, assignment, event.text)
        if named is None:
            return
        target = named
    if event.file is not None:
        await submit_file(ctx, target, assignment, event.file.name, None)
        return
    if status is None:
        await _ask_back(ctx, target, assignment, event.text)
        return
    await apply_status(ctx, target, assignment, status)


async def _ask_which(ctx: Context, rows: list[tuple[Target, Assignment]],
                     question: Callable[[Translator], str]) -> None:
    """Keep the answer (its file stored) and ask which of `rows` it is for."""
    event = ctx.event
    assert event is not None and ctx.member is not None
    pending: dict[str, str | int | None] = {"text": event.text, "file_id": None,
                                            "file_name": None}
    if event.file is not None:
        stored, problem = await file_intake.store(ctx, event.file)
        if problem:
            await ctx.reply(problem)
            return
        assert stored is not None
        pending.update(file_id=stored.id, file_name=event.file.name)
    await ctx.set_dialogue("answer", {"expect": "pick", "pending": pending})
    await ctx.send(ctx.member, question, _pick_buttons(rows, await _apart(ctx, rows)))


RESUBMIT_CHOICES = 5


async def submitted_targets_of(ctx: Context, unit_ids: set[int]
                               ) -> list[tuple[Target, Assignment]]:
    """The submitted targets of the current periods of active tasks of `unit_ids`, the most
    recently submitted first: what a re-submission without a reply may be for."""
    if not unit_ids:
        return []
    rows = await submissions.submitted_targets_of(ctx.session, unit_ids)
    current = set(map(id, await in_current_period(ctx, [t for t, _ in rows])))
    return [(t, a) for t, a in rows if id(t) in current][:RESUBMIT_CHOICES]


async def _period_named(ctx: Context, target: Target, assignment: Assignment,
                        text: str) -> Target | None:
    """The unit's target of the period `text` names («báo cáo năm 2023 nộp bổ sung») for a
    recurring task, else `target`; None after asking, when a file's caption names a year
    that is none of the unit's periods of the task."""
    if not assignment.recurrence:
        return target
    periods = {t.period: t for t in await submissions.unit_targets_of_task(
        ctx.session, assignment.id, target.unit_id)}
    named = named_periods(text, periods)
    if len(named) == 1:
        return periods[named[0]]
    if (len(named) > 1 or names_a_year(text)) and ctx.event and ctx.event.file is not None:
        rows = [(t, assignment) for _, t in sorted(periods.items(), reverse=True)]
        await _ask_which(ctx, rows[:RESUBMIT_CHOICES], lambda tr: tr(
            "Nhiệm vụ {task} không có kỳ nào khớp với «{text}». Tệp này dành cho kỳ nào?",
            task=task_line(tr, assignment), text=text.strip()[:80]))
        return None
    return target


async def _ask_back(ctx: Context, target: Target, assignment: Assignment, text: str) -> None:
    assert ctx.member is not None
    await ctx.send(ctx.member, lambda t: t("Chưa hiểu «{text}» cho nhiệm vụ {task}. Hãy chọn một "
                                           "nút, hoặc gõ: đã xong, đang làm 60%, cần hỗ trợ: ..., "
                                           "xin gia hạn đến 12/5 vì ..., không có số liệu.",
                                           text=excerpt(text), task=task_line(t, assignment)),
                   status_buttons(ident(target)), target_id=target.id, assignment_id=assignment.id)


# --- recording ---------------------------------------------------------------------------


def _closed_reason(ctx: Context, assignment: Assignment, target: Target) -> str | None:
    t = ctx.t
    if assignment.state == AssignmentState.CANCELLED:
        return t("Nhiệm vụ {task} đã được huỷ; đơn vị không cần nộp nữa.",
                 task=task_line(t, assignment))
    if target.state == TargetState.EXCUSED:
        return t("Đơn vị đã được miễn nộp nhiệm vụ {task}.", task=task_line(t, assignment))
    if target.state == TargetState.REMOVED:
        return t("Đơn vị không còn thuộc nhiệm vụ {task}; chưa ghi nhận gì.",
                 task=task_line(t, assignment))
    return None


def _timing(ctx: Context, target: Target) -> str:
    """On time or late, as the figures count it: by the first submission."""
    t = ctx.t
    at = target.submitted_at or ctx.now
    if at <= target.deadline:
        return t("đúng hạn")
    return t("muộn, {late}", late=t.time_left(at, target.deadline))


async def _has(ctx: Context, target: Target, kind: SubmissionKind) -> bool:
    rows = await submissions.live_submissions(ctx.session, target.id)
    if kind == SubmissionKind.FILE:
        return any(r.file_id is not None for r in rows)
    return any(r.kind == kind for r in rows)


async def submit_file(ctx: Context, target: Target, assignment: Assignment, name: str,
                      stored: StoredFile | None) -> None:
    """Record a report file for `target` (stored already, or from the current event)."""
    t = ctx.t
    assert ctx.member is not None
    await targets.lock(ctx.session, target)  # decided on the row as committed, locked
    closed = _closed_reason(ctx, assignment, target)
    if closed:
        await ctx.reply(closed)
        return
    if assignment.requires == Requires.STATUS:
        await ctx.reply(t("Nhiệm vụ {task} chỉ cần báo trạng thái, không cần gửi tệp; tệp chưa "
                          "được ghi nhận. Hãy gõ «đã xong» hoặc bấm Đã nộp.",
                          task=task_line(t, assignment)))
        return
    if stored is None:
        assert ctx.event is not None and ctx.event.file is not None
        stored, problem = await file_intake.store(ctx, ctx.event.file)
        if problem:
            await ctx.reply(problem)
            return
    assert stored is not None
    caption = ctx.event.text.strip() if ctx.event and ctx.event.file else ""
    submission = await submissions.write(ctx.session, Submission(
        target_id=ident(target), member_id=ident(ctx.member), kind=SubmissionKind.FILE,
        file_id=ident(stored), text=caption, created_at=ctx.now))
    unit = await unit_name(ctx, target.unit_id)
    size = t.number(round(stored.size / 1024, 1))
    if assignment.requires == Requires.BOTH and not await _has(ctx, target, SubmissionKind.DONE):
        await ctx.reply(t("📥 Đã nhận tệp «{name}» ({size} KB) của {unit} cho nhiệm vụ {task}. Khi "
                          "báo cáo đã hoàn tất, hãy gõ «đã xong».", name=name, size=size, unit=unit,
                          task=task_line(t, assignment)),
                        await misfiled_buttons(ctx, submission, target), target_id=target.id)
        await _clear_answer_dialogue(ctx)
        return
    again = await targets.submit(ctx.session, target, ctx.now)
    if not again:
        await after_answer(ctx, target)
    await ctx.audit("submit_file", assignment.id, target=target.id, file=stored.sha256)
    text = t("✅ Đã nhận tệp «{name}» ({size} KB) của {unit} cho nhiệm vụ {task} — nộp {timing}.",
             name=name, size=size, unit=unit, task=task_line(t, assignment),
             timing=_timing(ctx, target))
    if target.period != assignment.period:  # an earlier period (a caption named it)
        text += "\n" + t("Kỳ báo cáo: {period}", period=target.period)
    if again:
        text += "\n" + t("Đây là bản nộp lại; bản trước vẫn được lưu.")
    await ctx.reply(text, await misfiled_buttons(ctx, submission, target), target_id=target.id)
    await _clear_answer_dialogue(ctx)


async def _clear_answer_dialogue(ctx: Context) -> None:
    dialogue = await ctx.dialogue()
    if dialogue is not None and dialogue.kind == "answer":
        await ctx.clear_dialogue()


async def apply_status(ctx: Context, target: Target, assignment: Assignment,
                       status: StatusAnswer) -> None:
    t = ctx.t
    assert ctx.member is not None
    await targets.lock(ctx.session, target)  # decided on the row as committed, locked
    closed = _closed_reason(ctx, assignment, target)
    if closed:
        await ctx.reply(closed)
        return
    member = ctx.member
    task = task_line(t, assignment)
    unit = await unit_name(ctx, target.unit_id)

    async def record(kind: SubmissionKind, text: str = "", percent: int | None = None,
                     route: str | None = None) -> Submission:
        row = await submissions.write(ctx.session, Submission(
            target_id=ident(target), member_id=ident(member), kind=kind, percent=percent,
            text=text, route=route, created_at=ctx.now))
        await ctx.audit(f"status_{kind}", assignment.id, target=target.id)
        return row

    if status.kind == "done":
        if status.route is None and assignment.requires in (Requires.FILE, Requires.BOTH) \
                and not await _has(ctx, target, SubmissionKind.FILE):
            await ctx.set_dialogue("answer", {"expect": "file", "target_id": target.id})
            await ctx.reply(t("Nhiệm vụ {task} cần tệp báo cáo. Hãy gửi tệp (trả lời tin này kèm "
                              "tệp); chưa ghi nhận là đã nộp.", task=task), target_id=target.id)
            return
        submission = await record(SubmissionKind.DONE, text=status.note, route=status.route)
        again = await targets.submit(ctx.session, target, ctx.now)
        if not again:
            await after_answer(ctx, target)
        if status.route is not None:  # sent another way: the office finds it there
            text = t("✅ Đã ghi nhận: {unit} đã nộp nhiệm vụ {task} {route} — {timing}.",
                     unit=unit, task=task, route=route_words(t, status.route),
                     timing=_timing(ctx, target))
        else:
            text = t("✅ Đã ghi nhận: {unit} đã nộp nhiệm vụ {task} — {timing}.", unit=unit,
                     task=task, timing=_timing(ctx, target))
        if again:
            text += "\n" + t("Đây là lần báo nộp lại; lần trước vẫn được lưu.")
        await ctx.reply(text, await misfiled_buttons(ctx, submission, target), target_id=target.id)
    elif status.kind == "nil":
        submission = await record(SubmissionKind.NIL, text=status.note)
        if not await targets.submit(ctx.session, target, ctx.now, nil=True):
            await after_answer(ctx, target)
        await ctx.reply(t("✅ Đã ghi nhận: {unit} không có số liệu để báo cáo cho nhiệm vụ {task} "
                          "(báo cáo không phát sinh) — {timing}.", unit=unit, task=task,
                          timing=_timing(ctx, target)),
                        await misfiled_buttons(ctx, submission, target), target_id=target.id)
    elif status.kind == "progress":
        await record(SubmissionKind.PROGRESS, percent=status.percent)
        await targets.progress(ctx.session, target, status.percent)
        if status.percent is None:
            await ctx.set_dialogue("answer", {"expect": "percent", "target_id": target.id})
            await ctx.reply(t("📝 Đã ghi nhận: {unit} đang làm nhiệm vụ {task}. Đã làm được bao "
                              "nhiêu phần trăm? Gõ một con số, ví dụ 40. Bot vẫn sẽ nhắc đến khi "
                              "đơn vị nộp.", unit=unit, task=task), target_id=target.id)
            return
        shown = t("{percent}%", percent=status.percent)
        await ctx.reply(t("📝 Đã ghi nhận: {unit} đang làm nhiệm vụ {task} {shown}. Bot vẫn sẽ "
                          "nhắc đến khi đơn vị nộp; gõ «đang làm 60%» để cập nhật tiến độ.",
                          unit=unit, task=task, shown=shown), target_id=target.id)
    elif status.kind == "not_started":
        await record(SubmissionKind.NOT_STARTED)
        await ctx.reply(t("📝 Đã ghi nhận: {unit} chưa làm được nhiệm vụ {task}. Hạn nộp: "
                          "{deadline}. Cần giúp gì, hãy gõ «cần hỗ trợ: "
                          "...».", unit=unit, task=task,
                          deadline=t.moment(target.deadline)), target_id=target.id)
    elif status.kind == "help":
        if not status.note:
            await ctx.set_dialogue("answer", {"expect": "help", "target_id": target.id})
            await ctx.reply(t("Bạn cần hỗ trợ gì về nhiệm vụ {task}? Hãy gõ nội dung.", task=task),
                            target_id=target.id)
            return
        await record(SubmissionKind.HELP, text=status.note)
        staff = await ctx.session.get(Member, assignment.assigned_by)
        if staff is not None:
            await ctx.send(staff, lambda tr: tr("🆘 {unit} cần hỗ trợ về nhiệm vụ {task} ({who}): "
                                                "{note}", unit=unit, task=task_line(tr, assignment),
                                                who=member.display_name, note=status.note),
                           target_id=target.id)
        await ctx.reply(t("📨 Đã chuyển yêu cầu hỗ trợ về nhiệm vụ {task} tới văn phòng.",
                          task=task), target_id=target.id)
    elif status.kind == "extension":
        if status.until_error is not None:
            await ctx.reply(_extension_date_problem(t, status.until_error), target_id=target.id)
            return
        if status.late_count is not None:
            until = late_until(target.deadline, status.late_count, status.late_unit,
                               calendar_of(ctx.settings))
            await extensions.request(ctx, target, assignment, until, status.note)
            await _clear_answer_dialogue(ctx)
            return
        if status.until is None:
            await ctx.set_dialogue("answer", {"expect": "ext", "target_id": target.id})
            await ctx.reply(t("Xin gia hạn nhiệm vụ {task} đến ngày nào, vì sao? Ví dụ: đến 12/5 "
                              "vì chờ số liệu.", task=task), target_id=target.id)
            return
        await extensions.request(ctx, target, assignment, status.until.due, status.note)
        return
    elif status.kind == "excuse":
        if not status.note:
            await ctx.set_dialogue("answer", {"expect": "excuse", "target_id": target.id})
            await ctx.reply(t("Vì sao đơn vị xin miễn nộp nhiệm vụ {task}? Hãy gõ lý do.",
                              task=task), target_id=target.id)
            return
        await excuses.request(ctx, target, assignment, status.note)
    await _clear_answer_dialogue(ctx)


def route_words(t: Translator, route: str) -> str:
    """How a report sent another way went: «qua e-mail», «bằng bản giấy»..."""
    if route == "email":
        return t("qua e-mail")
    if route == "paper":
        return t("bằng bản giấy")
    if route == "eoffice":
        return t("qua hệ thống văn bản điện tử")
    return t("theo đường khác (không qua bot)")


def _extension_date_problem(t: Translator, error: DeadlineError) -> str:
    return deadline_error_text(t, error)


# --- [Nộp nhầm]: a submission filed under the wrong task --------------------------------

MOVE_OPTIONS = 3  # «Chuyển sang #M» buttons under an acknowledgement, at most


async def misfiled_buttons(ctx: Context, submission: Submission, target: Target
                           ) -> list[Button]:
    """Under every acknowledgement of a submission: [Nộp nhầm] and, when the unit has other
    open tasks, one «Chuyển sang #M» each (on Zalo, where a message answers the bot's latest
    one, these are the numbers to answer: «Trả lời 2 = Chuyển sang #1»)."""
    t = ctx.t
    buttons = [Button(t("Nộp nhầm"), Misfiled(ident(submission)).pack())]
    for other, assignment in (await move_options(ctx, target))[:MOVE_OPTIONS]:
        buttons.append(Button(move_label(t, other, assignment, target),
                              Misfiled(ident(submission), ident(other)).pack()))
    return buttons


async def move_options(ctx: Context, target: Target) -> list[tuple[Target, Assignment]]:
    """The open targets of the same unit a submission for `target` could be moved to."""
    return [(other, a) for other, a in await open_targets_of(ctx, {target.unit_id})
            if other.id != target.id]


def move_label(t: Translator, other: Target, assignment: Assignment, source: Target) -> str:
    if other.assignment_id == source.assignment_id:  # another period of the same task
        return t("Chuyển sang #{number} kỳ {period}", number=assignment.number,
                 period=other.period)
    return t("Chuyển sang #{number}", number=assignment.number)


# --- buttons and the answer dialogue -----------------------------------------------------


async def _own_target(ctx: Context, target_id: int) -> tuple[Target, Assignment] | None:
    target = await ctx.session.get(Target, target_id)
    if target is None or target.unit_id not in ctx.unit_ids:
        await ctx.reply(ctx.t("Nút này không dành cho đơn vị bạn."))
        return None
    assignment = await ctx.session.get(Assignment, target.assignment_id)
    assert assignment is not None
    closed = _closed_reason(ctx, assignment, target)
    if closed:
        await ctx.reply(closed)
        return None
    return target, assignment


async def on_status_button(ctx: Context, parts: list[str], source: Outbox) -> None:
    press = StatusPress.from_parts(parts)
    if press is None:
        await ctx.reply(ctx.t("Nút này không còn hiệu lực. Gõ /help để xem các lệnh."))
        return
    owned = await _own_target(ctx, press.target_id)
    if owned is None:
        return
    target, assignment = owned
    action = press.action
    if action == "done":
        await apply_status(ctx, target, assignment, StatusAnswer("done"))
    elif action == "prog":
        await apply_status(ctx, target, assignment, StatusAnswer("progress", target.percent))
    elif action == "help":
        await apply_status(ctx, target, assignment, StatusAnswer("help"))
    elif action == "ext":
        await apply_status(ctx, target, assignment, StatusAnswer("extension"))


async def on_pick_button(ctx: Context, parts: list[str], source: Outbox) -> None:
    dialogue = await ctx.dialogue()
    data = dialogue_data(dialogue) if dialogue and dialogue.kind == "answer" else {}
    press = Pick.from_parts(parts)
    if data.get("expect") != "pick" or press is None:
        await ctx.reply(ctx.t("Câu trả lời này đã được xử lý rồi."))
        return
    owned = await _own_target(ctx, press.target_id)
    if owned is None:
        return
    target, assignment = owned
    await ctx.clear_dialogue()
    pending = data["pending"]
    if pending.get("file_id"):
        stored = await ctx.session.get(StoredFile, pending["file_id"])
        await submit_file(ctx, target, assignment, pending["file_name"], stored)
        return
    status = read_status(ctx, pending.get("text", ""))
    if status is None:
        await _ask_back(ctx, target, assignment, pending.get("text", ""))
        return
    await apply_status(ctx, target, assignment, status)


async def on_dialogue(ctx: Context, dialogue: Dialogue) -> None:
    data = dialogue_data(dialogue)
    event = ctx.event
    assert event is not None
    expect = data.get("expect")
    if expect == "pick":
        await ctx.clear_dialogue()
        await handle_free(ctx)
        return
    target = await ctx.session.get(Target, data.get("target_id", 0))
    assignment = await ctx.session.get(Assignment, target.assignment_id) if target else None
    if target is None or assignment is None \
            or target.state not in (*OPEN_TARGET_STATES, TargetState.SUBMITTED):
        await ctx.clear_dialogue()
        await handle_free(ctx)
        return
    text = event.text.strip()
    if event.file is not None or event.reply_to:
        await ctx.clear_dialogue()
        if event.reply_to:
            await handle_free(ctx)
        elif event.file is not None:
            await submit_file(ctx, target, assignment, event.file.name, None)
        return
    if expect == "percent":  # after [Đang làm]: a bare «40» or «40%»
        percent = parse_percent(text)
        await ctx.clear_dialogue()
        if percent is None:
            await handle_free(ctx)
        elif percent == 100:
            await apply_status(ctx, target, assignment, StatusAnswer("done"))
        else:
            await apply_status(ctx, target, assignment, StatusAnswer("progress", percent))
        return
    status = read_status(ctx, text)
    if expect == "help" and (status is None or status.kind == "help"):
        note = status.note if status else text
        await ctx.clear_dialogue()
        await apply_status(ctx, target, assignment, StatusAnswer("help", note=note or text))
        return
    if expect == "excuse" and (status is None or status.kind == "excuse"):
        note = status.note if status else text
        if not fold(note):
            await ctx.reply(ctx.t("Hãy gõ lý do xin miễn nộp (hoặc /huy để thôi)."))
            return
        await ctx.clear_dialogue()
        await apply_status(ctx, target, assignment, StatusAnswer("excuse", note=note))
        return
    if expect == "ext" and (status is None or status.kind == "extension"):
        if status is None:
            status = read_status(ctx, f"xin gia hạn {text}")
        if status is None or (status.until is None and status.until_error is None):
            await ctx.reply(ctx.t("Chưa đọc được ngày. Hãy gõ, ví dụ: đến 12/5 vì chờ số liệu "
                            "(hoặc /huy để thôi)."))
            return
        if status.until_error is None:
            await ctx.clear_dialogue()
        await apply_status(ctx, target, assignment, status)
        return
    await ctx.clear_dialogue()
    if status is not None:
        await apply_status(ctx, target, assignment, status)
    elif fold(text):
        await _ask_back(ctx, target, assignment, text)

