"""`/moi @THCS`, `/moi TH-YENTHO`: staff create invites for units in their scope and get
the invite cards back as a PDF to print or forward. Units are read as `/giao` reads them
(codes, names, @groups, @tructhuoc, «tất cả»), inside the clerk's scope; a unit outside it is
refused and nothing is created."""

from __future__ import annotations

import asyncio

from core import roles
from handlers import files
from handlers.context import Context
from handlers.giao import resolve_units
from reports.invite_cards import PDF, build_invite_pdf, cards_of, shown_code
from services.invites import DEFAULT_LIFETIME, DEFAULT_USES, create_invites

MAX_UNITS = 1000  # more cards than this belong to `bot.py invites export`
LISTED = 5  # codes written in the message itself when there are this few


async def handle_command(ctx: Context, args: str) -> None:
    t = ctx.t
    assert ctx.event is not None
    if not roles.can_assign(ctx.roles):
        await ctx.reply(t("Chỉ chuyên viên của văn phòng mới tạo được mã mời. Hãy nhờ văn phòng "
                          "Sở/Phòng cấp mã mời cho đơn vị."))
        return
    if ctx.event.is_group:  # every member of the group would read the codes
        await ctx.reply(t("Mã mời chỉ gửi trong tin nhắn riêng với bot, không gửi vào nhóm. Hãy "
                          "nhắn riêng cho bot: /moi ..."))
        return
    if not args.strip():
        await ctx.reply(t("Gõ /moi kèm đơn vị cần mời, ví dụ: /moi @THCS hoặc /moi TH-YENTHO, "
                          "THCS-NAMHONG. Bot gửi lại tệp PDF các thẻ mời (mã mời, mã QR, cách tham "
                          "gia trên Telegram và Zalo) để in hoặc chuyển cho đơn vị."))
        return
    units, problems = await resolve_units(ctx, args)
    if problems:
        await ctx.reply("\n".join(problems) + "\n" + t("Chưa tạo mã mời nào."))
        return
    if not units:
        await ctx.reply(t("Không có đơn vị nào để mời. Chưa tạo mã mời nào."))
        return
    if len(units) > MAX_UNITS:
        await ctx.reply(t("{n} đơn vị là quá nhiều cho một lần (tối đa {limit}). Hãy mời theo từng "
                          "nhóm nhỏ hơn, hoặc nhờ quản trị dùng lệnh bot.py invites export.",
                          n=t.number(len(units)), limit=t.number(MAX_UNITS)))
        return
    created = create_invites(ctx.session, units, "reporter", ctx.now, DEFAULT_LIFETIME,
                             DEFAULT_USES)
    cards = cards_of(created, ctx.settings.bot_username)
    data = await asyncio.to_thread(build_invite_pdf, cards, t)
    name = "the-moi.pdf" if len(cards) > 1 else f"the-moi-{cards[0].unit_code}.pdf"
    stored = await files.keep(ctx, data, name, PDF)
    expires = ctx.now + DEFAULT_LIFETIME
    caption = t("Thẻ mời của {n} đơn vị (mỗi mã dùng được cho {uses} người, đến hết ngày "
                "{date}): in ra hoặc chuyển tệp này cho các đơn vị. Người nhận gửi mã cho bot "
                "trên Telegram hoặc Zalo để tham gia.", n=t.number(len(cards)),
                uses=t.number(DEFAULT_USES), date=t.date(expires))
    if len(cards) <= LISTED:
        caption += "\n" + "\n".join(f"• {card.unit_name}: {shown_code(card.code)}"
                                    for card in cards)
    await ctx.reply(caption, file_id=stored.id, file_name=name)
    await ctx.audit("invites_create", role="reporter", uses=DEFAULT_USES, units=len(units),
              codes=[unit.code for unit in units[:20]])
