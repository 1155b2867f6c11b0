"""People the bot cannot reach: a platform that refuses for good to deliver to a member
(blocked, never opened the bot) marks them unreachable; the staff of the offices whose tasks
they owe are told once; nothing is sent to them until they write to the bot again, when
their waiting task messages go out. Also a chat that moved (a Telegram group upgraded to a
supergroup) keeps its messages under the new id."""

from __future__ import annotations

from functools import partial

from core.i18n import N_, Translator
from handlers.common import members_with_role
from handlers.context import Context
from storage import members, submissions
from storage.models import Assignment, Member, Unit

WHY = {
    "blocked": N_("người này đã chặn bot"),
    "not_started": N_("người này chưa mở bot (nền tảng không cho bot nhắn trước)"),
    "gone": N_("tài khoản không còn nhận tin nhắn"),
}
CHANNEL_NAMES = {"telegram": "Telegram", "zalo": "Zalo", "console": "console"}


async def reporter_units(ctx: Context, member: Member) -> list[Unit]:
    return await members.reporter_units(ctx.session, member.id)


async def _owed_tasks(ctx: Context, unit_ids: list[int]) -> list[Assignment]:
    """The active tasks the units still owe something for."""
    if not unit_ids:
        return []
    return await submissions.tasks_owed_by(ctx.session, unit_ids)


async def _staff_of(ctx: Context, assignment: Assignment) -> list[Member]:
    """The staff of the office that assigned the task; whoever assigned it when that office
    has none (or the task is the whole registry's)."""
    staff = (await members_with_role(ctx, assignment.office_id, "staff")
             if assignment.office_id is not None else [])
    if not staff:
        who = await ctx.session.get(Member, assignment.assigned_by)
        staff = [who] if who is not None else []
    return staff


async def refused(ctx: Context, member_id: int, kind: str) -> None:
    """The platform refuses `member_id` for good: mark them unreachable and, the first time,
    tell the staff of the offices whose open tasks their units owe."""
    member = await ctx.session.get(Member, member_id)
    if member is None or member.unreachable_since is not None:
        return  # told already
    member.unreachable_since = ctx.now
    member.unreachable_reason = kind if kind in WHY else "gone"
    ctx.session.add(member)
    await ctx.audit("unreachable", member=member.display_name, channel=member.channel, kind=kind)
    units = await reporter_units(ctx, member)
    tasks = await _owed_tasks(ctx, [u.id for u in units if u.id is not None])
    told: dict[int, list[Assignment]] = {}
    people: dict[int, Member] = {}
    for task in tasks:
        for staff in await _staff_of(ctx, task):
            if staff.id is None or staff.id == member.id:
                continue
            people[staff.id] = staff
            told.setdefault(staff.id, []).append(task)
    names = ", ".join(u.name for u in units)
    code = units[0].code if len(units) == 1 else None
    for staff_id, owed in told.items():
        await ctx.send(people[staff_id], partial(unreachable_text, member=member, units=names,
                                                 code=code, tasks=owed), priority=1)


def unreachable_text(t: Translator, member: Member, units: str, code: str | None,
                     tasks: list[Assignment]) -> str:
    who = t("{name} ({units})", name=member.display_name, units=units) if units \
        else member.display_name
    invite = (f"bot.py invites create --unit {code}" if code else "bot.py invites create")
    why = WHY.get(member.unreachable_reason, WHY["gone"])
    return "\n".join([
        t("⚠️ Không liên lạc được với {who} trên {channel}: {why}.", who=who,
          channel=CHANNEL_NAMES.get(member.channel, member.channel),
          why=t(why)),
        t("Nhiệm vụ đang chờ đơn vị nộp: {tasks}.",
          tasks=", ".join(f"#{task.number}" for task in tasks)),
        t("Bot thôi gửi tin cho người này; khi họ nhắn lại cho bot, các tin đang chờ sẽ được "
          "gửi. Hãy liên hệ trực tiếp, hoặc gửi lời mời mới ({invite}).", invite=invite),
    ])


async def welcome_back(ctx: Context) -> None:
    """An unreachable member wrote to the bot in a private chat: they are reachable again.
    Their waiting messages go out after the answer to what they wrote; of the reminders
    that piled up meanwhile only the latest of each target is kept."""
    member = ctx.member
    event = ctx.event
    if member is None or member.unreachable_since is None or event is None or event.is_group:
        return
    member.unreachable_since = None
    member.unreachable_reason = ""
    ctx.session.add(member)
    await ctx.audit("reachable", member=member.display_name, channel=member.channel)
    waiting = await members.waiting_reminders(ctx.session, member.id)
    latest = {target: row_id for row_id, target in waiting}
    stale = [row_id for row_id, target in waiting if latest[target] != row_id]
    if stale:
        await members.drop_waiting(ctx.session, stale)
    # The waiting rows were queued to the chat they had then; private chats may have moved.
    await members.readdress_waiting(ctx.session, member.id, member.chat_id)


async def unit_unreachable(ctx: Context, unit_ids: list[int]) -> set[int]:
    """Of `unit_ids`, the units whose reporters the bot can reach none of (and that have
    some)."""
    if not unit_ids:
        return set()
    reachable: dict[int, bool] = {}
    for unit_id, since in await members.reporters_reach(ctx.session, unit_ids):
        reachable[unit_id] = reachable.get(unit_id, False) or since is None
    return {unit_id for unit_id, ok in reachable.items() if not ok}


async def chat_moved(ctx: Context, channel: str, old: str, new: str) -> None:
    """The chat `old` lives on as `new`: its messages (sent ones too, so that their buttons
    still answer) belong to the new chat."""
    if old == new:
        return
    await members.move_chat(ctx.session, channel, old, new)
