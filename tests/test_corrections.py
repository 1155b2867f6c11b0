"""[Nộp nhầm] (moving a submission to another open task, or withdrawing it), a
re-submission without a reply and a caption naming another period: what the reporter sees,
the history kept, the figures and counters right, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import col, select

from app.config import Settings
from core.clock import LOCAL_TZ
from core.messages import Incoming, IncomingFile, buttons_from_json
from storage import tally
from storage.models import Assignment, Outbox, ProgressTally, Submission, Target, UnitTally
from tests.seed import Bot, seeded_bot

START = datetime(2023, 5, 2, 8, 0, tzinfo=LOCAL_TZ)
LATER = datetime(2023, 5, 6, 9, 0, tzinfo=LOCAL_TZ)
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def last(bot: Bot, user: str) -> str:
    return [m.text for m in bot.recorder.sent if m.chat_id == user][-1]


async def last_buttons(bot: Bot, user: str) -> list[str]:
    async with bot.runtime.sessions() as session:
        row = (await session.exec(select(Outbox).where(Outbox.chat_id == user).order_by(
            col(Outbox.id).desc()))).first()
    return [b.label for b in buttons_from_json(row.buttons)] if row else []


async def newest(bot: Bot, chat: str, n: int) -> list[str]:
    """The texts of the last `n` outbox rows to `chat`, oldest first."""
    async with bot.runtime.sessions() as session:
        rows = (await session.exec(select(Outbox.text).where(Outbox.chat_id == chat)
                                   .order_by(col(Outbox.id).desc()).limit(n))).all()
    return list(reversed(rows))


async def send_file(bot: Bot, user: str, now: datetime, caption: str = "") -> None:
    await bot.runtime.dispatcher.handle(Incoming(
        "console", user, user, text=caption,
        file=IncomingFile(name="bao-cao.pdf", data=PDF)), now)
    await bot.sender.drain(now)


async def states(bot: Bot) -> dict[int, tuple[str, bool | None]]:
    async with bot.runtime.sessions() as session:
        rows = (await session.exec(select(Target.assignment_id, Target.state, Target.on_time)
                                   .where(Target.unit_id == 1))).all()
    return {a: (s, o) for a, s, o in rows}


async def counters(bot: Bot) -> tuple[list, list]:
    async with bot.runtime.sessions() as session:
        progress = sorted(repr(r) for r in (await session.exec(select(ProgressTally))).all())
        units = sorted((u.unit_id, u.on_time, u.late, round(u.delay_days, 6), u.open)
                       for u in (await session.exec(select(UnitTally))).all())
    return progress, units


async def counters_are_exact(bot: Bot) -> None:
    """The counters kept change by change are what a full recount gives."""
    kept = await counters(bot)
    async with bot.runtime.engine.begin() as conn:
        await conn.run_sync(tally.rebuild)
    assert kept == await counters(bot)


async def test_move_and_withdraw_keep_history_and_figures(settings: Settings) -> None:
    bot = await seeded_bot(settings, START)
    try:
        await bot.assign(START, "Thi đua | hạn 05/05/2023 | đơn vị A")
        await bot.assign(START, "Tuyển sinh | hạn 20/05/2023 | đơn vị A")
        await bot.say("ht_a", START, "/viec")
        await send_file(bot, "ht_a", LATER)  # two open tasks: asked which
        await bot.press("ht_a", LATER, "#2 Tuyển sinh")
        assert "cho nhiệm vụ #2 «Tuyển sinh» — nộp đúng hạn" in last(bot, "ht_a")
        assert await last_buttons(bot, "ht_a") == ["Nộp nhầm", "Chuyển sang #1"]
        # Moved to #1: judged by when it was sent (after #1's deadline), #2 owes again.
        await bot.press("ht_a", LATER, "Chuyển sang #1")
        text = last(bot, "ht_a")
        assert "Đã chuyển tệp «bao-cao.pdf» của Trường A từ nhiệm vụ #2 «Tuyển sinh» sang " \
            "nhiệm vụ #1 «Thi đua» — nộp muộn" in text
        assert "Nhiệm vụ #2 «Tuyển sinh»: chưa nộp." in text
        assert await states(bot) == {1: ("submitted", False), 2: ("pending", None)}
        await counters_are_exact(bot)
        # The same button again, and the old submission's [Nộp nhầm]: nothing more moves.
        await bot.press("ht_a", LATER, "Chuyển sang #1")
        assert "đã bấm «Chuyển sang #1»" in last(bot, "ht_a")
        await bot.press("ht_a", LATER, "Chuyển sang #2")  # the moved one back to #2
        assert "sang nhiệm vụ #2 «Tuyển sinh» — nộp đúng hạn" in last(bot, "ht_a")
        assert "Nhiệm vụ #1 «Thi đua»: chưa nộp." in last(bot, "ht_a")
        # Withdrawn: the history keeps all three rows, none counts.
        await bot.press("ht_a", LATER, "Nộp nhầm")
        assert "Chuyển sang nhiệm vụ nào, hay rút lại?" in last(bot, "ht_a")
        assert await last_buttons(bot, "ht_a") == ["Chuyển sang #1", "Rút lại"]
        await bot.press("ht_a", LATER, "Rút lại")
        assert "Đã rút lại tệp «bao-cao.pdf» của Trường A cho nhiệm vụ #2" in last(bot, "ht_a")
        assert await states(bot) == {1: ("pending", None), 2: ("pending", None)}
        async with bot.runtime.sessions() as session:
            rows = (await session.exec(select(Submission).order_by(col(Submission.id)))).all()
        assert [(r.target_id, r.withdrawn_at is not None) for r in rows] == [
            (2, True), (1, True), (2, True)]
        assert rows[0].moved_to == rows[1].id and rows[1].moved_to == rows[2].id
        await counters_are_exact(bot)
        await bot.say("lanhdao", LATER, "/tiendo #2")
        assert "Đã nộp 0/1" in last(bot, "lanhdao")
    finally:
        await bot.runtime.close()


async def test_wrong_presses_are_refused(settings: Settings) -> None:
    bot = await seeded_bot(settings, START)
    try:
        await bot.assign(START, "Thi đua | hạn 20/05/2023 | đơn vị A, B")
        await bot.assign(START, "Thống kê | hạn 20/05/2023 | đơn vị A | nộp: trạng thái")
        await bot.say("ht_a", START, "/viec")
        await send_file(bot, "ht_a", START)
        await bot.press("ht_a", START, "#1 Thi đua")
        async with bot.runtime.sessions() as session:
            sub = (await session.exec(select(Submission))).one()
            targets = {(t.assignment_id, t.unit_id): t.id
                       for t in (await session.exec(select(Target))).all()}
        # A file cannot go to a status-only task.
        await bot.press("ht_a", START, "Chuyển sang #2")
        assert "chỉ cần báo trạng thái, không nhận tệp; chưa chuyển gì" in last(bot, "ht_a")
        # Forged presses: another unit's reporter, another unit's target, an unknown one.
        for user, payload, expected in (
                ("ht_b", f"w:{sub.id}", "Nút này không còn hiệu lực"),
                ("ht_a", f"w:{sub.id}:{targets[(1, 2)]}", "Nút này không còn hiệu lực"),
                ("ht_a", "w:999", "Nút này không còn hiệu lực")):
            await bot.runtime.dispatcher.handle(Incoming(
                "console", user, user, button=payload, button_message_id="nope"), START)
            await bot.sender.drain(START)
            assert expected in last(bot, user)
        # The handler itself refuses what the message check lets through.
        from handlers import corrections
        from handlers.context import Context

        async with bot.runtime.sessions() as session, session.begin():
            ctx = Context(session=session, now=START, settings=bot.runtime.settings,
                          files=bot.runtime.files,
                          event=Incoming("console", "ht_b", "ht_b", text=""))
            await ctx.load_member()
            await corrections.on_button(ctx, [str(sub.id)], None)
            await corrections.on_button(ctx, [str(sub.id), "back", "x"], None)
        texts = await newest(bot, "ht_b", 2)
        assert texts == ["Nút này không dành cho đơn vị bạn.",
                         "Nút này không còn hiệu lực. Gõ /help để xem các lệnh."]
        async with bot.runtime.sessions() as session, session.begin():
            ctx = Context(session=session, now=START, settings=bot.runtime.settings,
                          files=bot.runtime.files,
                          event=Incoming("console", "ht_a", "ht_a", text=""))
            await ctx.load_member()
            await corrections.on_button(ctx, [str(sub.id), str(targets[(1, 2)])], None)
            await corrections.on_button(ctx, [str(sub.id), "back"], None)
            await corrections.on_button(ctx, [str(sub.id), "back"], None)
        texts = await newest(bot, "ht_a", 3)
        assert texts[0] == "Nút này không còn hiệu lực. Gõ /help để xem các lệnh."
        assert "Đã rút lại" in texts[1]
        assert texts[2] == "Bài nộp này đã được chuyển hoặc rút lại rồi."
        # A task closed meanwhile takes no moved submission.
        await bot.say("ht_a", START, "/viec")
        await send_file(bot, "ht_a", START)
        await bot.press("ht_a", START, "#1 Thi đua")
        await bot.say("staff", START, "/huy #2")
        await bot.press("ht_a", START, "Chuyển sang #2")
        assert "không còn chờ đơn vị nộp; chưa chuyển gì" in last(bot, "ht_a")
    finally:
        await bot.runtime.close()


async def test_resubmission_without_a_reply(settings: Settings) -> None:
    bot = await seeded_bot(settings, START)
    try:
        await bot.assign(START, "Thi đua | hạn 20/05/2023 | đơn vị A")
        await bot.say("ht_a", START, "đã xong")
        # The only submitted task: the corrected file goes there.
        await send_file(bot, "ht_a", START)
        assert "cho nhiệm vụ #1 «Thi đua» — nộp đúng hạn" in last(bot, "ht_a")
        assert "Đây là bản nộp lại; bản trước vẫn được lưu." in last(bot, "ht_a")
        await bot.assign(START, "Tuyển sinh | hạn 20/05/2023 | đơn vị A")
        await bot.say("ht_a", LATER, "đã xong")  # the most recent first
        await bot.say("ht_a", LATER, "đã xong")
        assert "Đây là bản nộp lại cho nhiệm vụ nào?" in last(bot, "ht_a")
        assert await last_buttons(bot, "ht_a") == ["#2 Tuyển sinh", "#1 Thi đua"]
        await bot.press("ht_a", LATER, "#1 Thi đua")
        assert "đã nộp nhiệm vụ #1 «Thi đua»" in last(bot, "ht_a")
        assert "lần báo nộp lại" in last(bot, "ht_a")
        # Other answers to a submitted task are still refused without a reply.
        await bot.say("ht_a", START, "đang làm 50%")
        assert "không còn nhiệm vụ nào đang mở" in last(bot, "ht_a")
        # A closed task is no candidate.
        await bot.say("staff", START, "/dong #1")
        await bot.say("staff", START, "/dong #2")
        await send_file(bot, "ht_a", START)
        assert "không còn nhiệm vụ nào đang mở" in last(bot, "ht_a")
        async with bot.runtime.sessions() as session:
            assert {a.state for a in (await session.exec(select(Assignment))).all()} == {
                "closed"}
    finally:
        await bot.runtime.close()


def test_a_caption_names_a_period() -> None:
    from core.periods import named_periods, names_a_year

    labels = ["2023", "2024", "năm học 2023-2024", "05/2023", "Q2/2023"]
    assert named_periods("báo cáo năm 2023 nộp bổ sung", labels) == ["2023"]
    assert named_periods("BAO CAO NAM 2023", labels) == ["2023"]
    assert named_periods("bổ sung 2023-2024", labels) == ["năm học 2023-2024"]
    assert named_periods("kỳ 05/2023", labels) == ["05/2023"]
    assert named_periods("gửi ngày 12/05/2023", labels) == []  # a date names no period
    assert not names_a_year("gửi ngày 12/05/2023") and names_a_year("báo cáo năm 2022")
