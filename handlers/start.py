"""`/start [CODE]` joins a unit through an invite; `/start` and `/help` explain what this
user, in their roles, can do; `/ngonngu` switches language."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

from core import roles as role_rules
from core.i18n import LANGUAGES, N_, Translator
from handlers.context import Context
from storage import members
from storage.db import Session
from storage.models import Member, Membership, Unit, ident

ROLE_NAMES = {
    "admin": N_("quản trị"),
    "staff": N_("chuyên viên"),
    "leader": N_("lãnh đạo"),
    "reporter": N_("đầu mối báo cáo"),
}


Menu = tuple[str, str, tuple[str, ...]]  # chat id, language, commands


async def special_menus(session: Session, channel: str, chat_id: str) -> list[Menu]:
    """(chat id, language, commands) of the member on `channel` in `chat_id` if their
    command menu differs from the default one, so that an adapter can publish it for that
    chat alone."""
    return _menus(await members.menu_rows_in_chat(session, channel, chat_id))


async def special_menus_page(session: Session, channel: str, after: int,
                             limit: int) -> tuple[list[Menu], int | None]:
    """`special_menus` of the next `limit` members on `channel` by id, from the one after
    member `after`, and where the next page starts (None after the last): the menus of a
    national registry (49,000 leaders) are read and published a page at a time."""
    ids = await members.member_ids_after(session, channel, after, limit)
    if not ids:
        return [], None
    last = ids[-1]
    assert last is not None
    rows = await members.menu_rows_between(session, channel, after, last)
    return _menus(rows), (last if len(ids) == limit else None)


@cache
def _menu_of(roles: frozenset[str]) -> tuple[str, ...]:
    """One tuple per set of roles, shared by the menus that adapters keep per chat."""
    return role_rules.menu_commands(roles)


def _menus(rows: Sequence[tuple[int | None, str, str, str]]) -> list[Menu]:
    """The menus that differ from the default one, from (member id, chat id, language,
    role) rows, by member id."""
    default = role_rules.menu_commands(role_rules.DEFAULT_MENU_ROLES)
    members: dict[int, tuple[str, str, set[str]]] = {}
    for member_id, chat_id, language, role in rows:
        assert member_id is not None
        members.setdefault(member_id, (chat_id, language, set()))[2].add(role)
    menus = []
    for _, (chat_id, language, roles) in sorted(members.items()):
        commands = _menu_of(frozenset(roles))
        if commands != default:
            menus.append((chat_id, language, commands))
    return menus


def help_text(t: Translator, roles: set[str]) -> str:
    if not roles:
        return t(
            "Xin chào! Bot này nhắc các đơn vị nộp báo cáo đúng hạn.\n"
            "Bạn chưa tham gia đơn vị nào: hãy gửi /start kèm mã mời mà văn phòng Sở/Phòng "
            "gửi cho đơn vị, ví dụ /start ABCD2345."
        )
    parts = [t("Bạn có thể dùng:")]
    if "reporter" in roles:
        parts.append(t(
            "• /viec — các nhiệm vụ của đơn vị bạn còn mở, kèm hạn nộp\n"
            "• Trả lời tin nhắc việc bằng tệp báo cáo, hoặc bấm nút Đã nộp / Đang làm / "
            "Cần hỗ trợ / Xin gia hạn\n"
            "• Hoặc gõ: đã xong, đang làm 60%, cần hỗ trợ: ..., xin gia hạn đến 12/5 vì ..., "
            "không có số liệu, xin miễn nộp vì ..."
        ))
        parts.append(t("• Đã gửi cách khác: «đã gửi qua email rồi», «đã nộp bản giấy», «đã gửi qua "
                       "iOffice»; xin nộp muộn: «xin gửi muộn 2 ngày» (hoặc 1 tuần, 1 tháng, "
                       "tính từ hạn nộp), «dự kiến 2/12 gửi»; xin miễn: «đề nghị miễn», «xin "
                       "không báo cáo vì ...»"))
    if {"staff", "admin"} & roles:
        parts.append(t(
            "• /giao — giao nhiệm vụ (hỏi từng bước), hoặc một dòng:\n"
            "  /giao Tên nhiệm vụ | hạn 08/05/2023 17:00 | đơn vị @THCS, PGD-NAMTRUC "
            "| nộp: tệp | nhắc: 7,3,1\n"
            "• /sua #N — sửa nhiệm vụ đã giao; một dòng: /sua #N | hạn 12/05/2023 | thêm "
            "<đơn vị> | bớt <đơn vị> | tên ... | chi tiết ... | nộp: tệp\n"
            "• /huy #N — huỷ nhiệm vụ số N\n"
            "• /nhac #N — nhắc ngay các đơn vị chưa nộp; /nhac #N 7,3,1 — đổi lịch nhắc\n"
            "• /mien #N <đơn vị> | <lý do> — miễn nộp cho đơn vị; /mien #N <đơn vị> | bỏ — bỏ miễn"
        ))
        parts.append(t("• /kehoach — gửi kèm tệp kế hoạch (.docx, .pdf, .txt) hoặc dán nội "
                       "dung: bot tìm các việc cần báo cáo, hạn và đơn vị, soạn sẵn từng nhiệm "
                       "vụ để bạn xác nhận"))
        parts.append(t(
            "• Đơn vị: trong phạm vi đơn vị của bạn; @tructhuoc — các đơn vị trực thuộc\n"
            "• /nhatky #N — ai đã thay đổi gì ở nhiệm vụ N do đơn vị bạn giao"
        ))
        parts.append(t("• /moi @nhóm hoặc mã đơn vị — tạo mã mời, nhận tệp PDF thẻ mời để in "
                       "hoặc chuyển cho đơn vị"))
        parts.append(t("• /giahan #N <đơn vị> | đến 12/05/2023 — gia hạn cho đơn vị\n"
                       "• /dong #N — đóng nhiệm vụ (thôi nhắc); /mo #N — mở lại"))
        parts.append(t("• /giaotiep #N — giao tiếp nhiệm vụ N cho các đơn vị trực thuộc (hạn sớm "
                       "hơn), tiến độ được cộng lên nhiệm vụ N"))
        parts.append(t("• Hạn nộp viết như văn bản: 15/5/2023, trước ngày 15/5, trong tháng "
                       "9/2023, năm học 2023-2024, 3 ngày nữa, 1 tuần, trong vòng 5 ngày làm "
                       "việc, trước Tết, 6 tháng đầu năm trước 15/6, 2023-05-15, 15 May 2023; "
                       "lặp lại: hằng năm trước 30/11, tháng 9 hằng năm, hàng quý trước ngày "
                       "20 tháng cuối quý, định kỳ 6 tháng trước 15/6, hàng học kỳ trước 15/1"))
    if {"staff", "admin", "leader"} & roles:
        parts.append(t(
            "• /tiendo — tiến độ các nhiệm vụ đang mở; /tiendo #N — một nhiệm vụ và các đơn vị "
            "chưa nộp; /tiendo @nhóm hoặc mã đơn vị — theo nhóm, theo đơn vị"
        ))
        parts.append(t("• /tainop #N — các tệp đơn vị đã nộp cho nhiệm vụ N, trong một tệp nén"))
        parts.append(t("• /tiendo tre-han — đơn vị nộp muộn, chưa nộp ở các nhiệm vụ đang mở; "
                       "/tiendo hay-tre — các đơn vị hay trễ hạn nhất"))
    elif "reporter" in roles:
        parts.append(t("• /tiendo — tiến độ các nhiệm vụ của đơn vị bạn"))
    if {"staff", "admin", "leader"} & roles:
        parts.append(t("• Lệnh gõ có dấu, có cách hay không có «/» cũng được: /tiến độ, /tien do, "
                       "tiến độ #1; tên tiếng Anh: /progress, /assign, /help"))
    parts.append(t("• /huy — thoát khỏi thao tác đang làm dở\n• /ngonngu en — English"))
    return "\n".join(parts)


async def handle_help(ctx: Context, _args: str) -> None:
    await ctx.reply(help_text(ctx.t, ctx.roles))


async def is_invite(ctx: Context, code: str) -> bool:
    """Whether `code` is an invite's code (a member's message that is only a code joins)."""
    return await members.is_invite(ctx.session, code)


async def handle_start(ctx: Context, args: str) -> None:
    assert ctx.event is not None
    code = role_rules.invite_code(args) or (args.strip().split()[0].upper() if args.strip()
                                            else "")
    if not code:
        await ctx.reply(help_text(ctx.t, ctx.roles))
        return
    # Locked and read afresh: two people joining with a single-use code at the same moment
    # take turns, and the second finds it used.
    invite = await members.invite_to_use(ctx.session, code)
    t = ctx.t
    if invite is None:
        await ctx.reply(t("Mã mời «{code}» không đúng. Hãy kiểm tra lại mã văn phòng đã gửi, "
                          "hoặc liên hệ văn phòng để được cấp mã mới.", code=code))
        return
    if invite.expires_at is not None and invite.expires_at <= ctx.now:
        await ctx.reply(t("Mã mời «{code}» đã hết hạn. Hãy liên hệ văn phòng để được cấp mã mới.",
                          code=code))
        return
    if invite.uses_left <= 0:
        await ctx.reply(t("Mã mời «{code}» đã được dùng hết lượt. Hãy liên hệ văn phòng để được "
                          "cấp mã mới.", code=code))
        return
    unit = await ctx.session.get(Unit, invite.unit_id)
    assert unit is not None
    member = ctx.member
    if member is None:
        member = Member(
            display_name=ctx.event.display_name or ctx.event.user_id,
            channel=ctx.event.channel,
            channel_user_id=ctx.event.user_id,
            chat_id=ctx.event.chat_id,
            language=ctx.settings.default_language,
            created_at=ctx.now,
        )
        ctx.session.add(member)
        await ctx.session.flush()
        ctx.member = member
    existing = await members.membership(ctx.session, member.id, unit.id, invite.role)
    role = t(ROLE_NAMES.get(invite.role, invite.role))
    if existing:
        await ctx.reply(t("Bạn đã là {role} của {unit} rồi.", role=role, unit=unit.name))
        return
    ctx.session.add(Membership(member_id=ident(member), unit_id=unit.id, role=invite.role))
    invite.uses_left -= 1
    ctx.session.add(invite)
    ctx.roles.add(invite.role)
    if invite.role == "reporter":
        ctx.unit_ids.add(ident(unit))
    await ctx.audit("join", unit=unit.code, role=invite.role, invite=invite.code)
    await ctx.reply(t("Chào mừng {name}! Bạn đã tham gia {unit} với vai trò {role}.",
                      name=member.display_name, unit=unit.name, role=role)
                    + "\n\n" + help_text(t, ctx.roles))


async def handle_language(ctx: Context, args: str) -> None:
    assert ctx.member is not None
    choice = args.strip().lower()[:2]
    if choice not in LANGUAGES:
        await ctx.reply(ctx.t("Chọn ngôn ngữ: /ngonngu vi (Tiếng Việt) hoặc /ngonngu en "
                              "(English)."))
        return
    ctx.member.language = choice
    ctx.session.add(ctx.member)
    await ctx.reply(ctx.t("Đã chuyển sang Tiếng Việt."))
