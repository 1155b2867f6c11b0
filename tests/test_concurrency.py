"""Two workers on one database handle events for the same rows at the same moment: two
answers for one target, a double tap (the same press delivered twice, and two presses), two
people joining with one single-use code, [Gửi] pressed together, `/sua` sent while units
answer, a misfiled report moved and withdrawn together. Each worker has its own
engine (its own connections), and the events are started together, so on PostgreSQL their
transactions overlap; SQLite lets one writer at a time in. Every race runs several times:
the counters stay what a recount from the targets gives, nobody gets the apology."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import datetime, timedelta

from sqlalchemy import event
from sqlmodel import col, func, select

from app.bootstrap import Runtime
from app.config import Settings
from core.clock import LOCAL_TZ
from core.messages import Incoming, buttons_from_json
from storage import tally
from storage.models import Assignment, Invite, Membership, Outbox, Submission, Target
from tests.seed import Bot, seeded_bot
from tests.test_unit_tally import recount, stored

NOW = datetime(2023, 5, 2, 8, 0, tzinfo=LOCAL_TZ)
ROUNDS = 10
APOLOGY = "Xin lỗi, đã có lỗi"


async def two_workers(settings: Settings) -> tuple[Bot, Runtime]:
    """The seeded bot (worker one, whose sender delivers every message) and a second worker
    on the same database."""
    bot = await seeded_bot(settings, NOW)
    return bot, await Runtime.open(settings, migrate=False)


async def race(*runs: tuple[Runtime, Incoming]) -> list[bool]:
    """Handle the events at the same moment, each on its worker."""
    return list(await asyncio.gather(*(runtime.dispatcher.handle(event, NOW)
                                       for runtime, event in runs)))


def texts(bot: Bot, user: str, since: int = 0) -> list[str]:
    return [m.text for m in bot.recorder.sent[since:] if m.chat_id == user]


async def button(bot: Bot, user: str, label: str) -> tuple[str, str]:
    """(payload, platform message id) of the latest message to `user` with button `label`."""
    async with bot.runtime.sessions() as session:
        rows = (await session.exec(select(Outbox).where(Outbox.chat_id == user)
                                   .order_by(col(Outbox.id).desc()))).all()
    return next((b.payload, row.platform_message_id or "") for row in rows
                for b in buttons_from_json(row.buttons) if b.label == label)


def press(user: str, payload: str, message_id: str, tap: str) -> Incoming:
    return Incoming("console", user, user, button=payload, button_message_id=message_id,
                    once_key=f"callback:{tap}")


async def assert_counted(bot: Bot) -> None:
    """The units' counters are what a recount of the targets gives."""
    kept, counted = await recount(bot.runtime)
    assert kept == counted


async def assert_rebuilt_alike(bot: Bot) -> None:
    """The tasks' and groups' counter rows as a rebuild from the targets gives (a unit's
    row may stay at zero where a rebuild writes none: `assert_counted` checks those)."""
    rows = (await stored(bot.runtime))[1:]
    async with bot.runtime.engine.begin() as conn:
        await conn.run_sync(tally.rebuild)
    assert (await stored(bot.runtime))[1:] == rows


async def test_two_answers_for_one_target_count_once(settings: Settings) -> None:
    """Two principals of school A answer «đã xong» at the same moment, each through a
    worker: one submission, one re-submission, the task shows 1/1."""
    bot, other = await two_workers(settings)
    try:
        await bot.admin(NOW, "members", "add", "ht_a2", "--role", "reporter", "--unit", "A")
        for i in range(ROUNDS):
            await bot.assign(NOW, f"Báo cáo {i} | hạn 20/05/2023 | đơn vị A")
            answers = [Incoming("console", user, user, text="đã xong",  # to the task
                                reply_to=(await button(bot, user, "Đã nộp"))[1])
                       for user in ("ht_a", "ht_a2")]
            since = len(bot.recorder.sent)
            handled = await race((bot.runtime, answers[0]), (other, answers[1]))
            await bot.sender.drain(NOW)
            assert handled == [True, True]
            acks = texts(bot, "ht_a", since) + texts(bot, "ht_a2", since)
            assert len(acks) == 2 and not any(APOLOGY in a for a in acks), acks
            assert all("✅ Đã ghi nhận: Trường A đã nộp nhiệm vụ" in a for a in acks), acks
            assert sum("lần báo nộp lại" in a for a in acks) == 1, acks
            await assert_counted(bot)
        async with bot.runtime.sessions() as session:
            states = (await session.exec(select(Target.state, func.count()).group_by(
                col(Target.state)))).all()
        assert dict(states) == {"submitted": ROUNDS}
        await assert_rebuilt_alike(bot)
        await bot.say("staff", NOW, f"/tiendo #{ROUNDS}")
        assert "Đã nộp 1/1" in texts(bot, "staff")[-1]
    finally:
        await other.close()
        await bot.runtime.close()


async def test_a_double_tap_is_recorded_once(settings: Settings) -> None:
    """[Đã nộp] delivered twice (one tap reaching both workers) and tapped again at the same
    moment: one submission, one acknowledgement, the second tap told it was pressed."""
    bot, other = await two_workers(settings)
    try:
        for i in range(ROUNDS):
            await bot.assign(NOW, f"Báo cáo {i} | hạn 20/05/2023 | đơn vị A")
            payload, message_id = await button(bot, "ht_a", "Đã nộp")
            since = len(bot.recorder.sent)
            handled = await race((bot.runtime, press("ht_a", payload, message_id, f"{i}a")),
                                 (other, press("ht_a", payload, message_id, f"{i}a")),
                                 (other, press("ht_a", payload, message_id, f"{i}b")))
            await bot.sender.drain(NOW)
            assert sorted(handled[:2]) == [False, True] and handled[2]
            replies = texts(bot, "ht_a", since)
            assert not any(APOLOGY in r for r in replies), replies
            assert sum("✅ Đã ghi nhận" in r for r in replies) == 1, replies
            assert sum("Bạn đã bấm «Đã nộp» ở tin nhắn này rồi" in r for r in replies) == 1
            await assert_counted(bot)
        async with bot.runtime.sessions() as session:
            submissions = (await session.exec(select(func.count()).select_from(
                Submission))).one()
        assert submissions == ROUNDS
        await assert_rebuilt_alike(bot)
    finally:
        await other.close()
        await bot.runtime.close()


async def test_a_single_use_invite_admits_one_person(settings: Settings) -> None:
    bot, other = await two_workers(settings)
    try:
        for i in range(ROUNDS):
            _, out = await bot.admin(NOW, "invites", "create", "--unit", "B", "--uses", "1")
            code = out.split("\t")[2].strip()
            first, second = f"moi{i}a", f"moi{i}b"
            since = len(bot.recorder.sent)
            await race((bot.runtime, Incoming("console", first, first, text=f"/start {code}")),
                       (other, Incoming("console", second, second, text=f"/start {code}")))
            await bot.sender.drain(NOW)
            replies = texts(bot, first, since) + texts(bot, second, since)
            assert sum(r.startswith("Chào mừng") for r in replies) == 1, replies
            assert sum(f"Mã mời «{code}» đã được dùng hết lượt" in r for r in replies) == 1
        async with bot.runtime.sessions() as session:
            left = (await session.exec(select(Invite.uses_left))).all()
            joined = (await session.exec(select(func.count()).select_from(Membership).where(
                Membership.role == "reporter", Membership.unit_id == 2))).one()
        assert set(left) == {0}
        assert joined == 1 + ROUNDS  # ht_b and one per code
    finally:
        await other.close()
        await bot.runtime.close()


async def test_staff_sending_drafts_together_each_get_their_task(settings: Settings) -> None:
    """Two staff press [Gửi] at the same moment (and one of them taps it twice on two
    devices): two tasks with their own numbers, no apology, one confirmation each."""
    bot, other = await two_workers(settings)
    try:
        await bot.admin(NOW, "members", "add", "staff2", "--role", "staff")
        for i in range(ROUNDS):
            await bot.say("staff", NOW, f"/giao Báo cáo {i} | hạn 20/05/2023 | đơn vị A")
            await bot.say("staff2", NOW, f"/giao Thống kê {i} | hạn 21/05/2023 | đơn vị B")
            mine, mine_id = await button(bot, "staff", "Gửi")
            theirs, theirs_id = await button(bot, "staff2", "Gửi")
            since = len(bot.recorder.sent)
            handled = await race((bot.runtime, press("staff", mine, mine_id, f"{i}a")),
                                 (other, press("staff2", theirs, theirs_id, f"{i}b")),
                                 (other, press("staff", mine, mine_id, f"{i}c")))
            await bot.sender.drain(NOW)
            assert handled == [True, True, True]
            replies = texts(bot, "staff", since) + texts(bot, "staff2", since)
            assert not any(APOLOGY in r for r in replies), replies
            assert sum(r.startswith("✅ Đã giao nhiệm vụ") for r in replies) == 2, replies
            assert sum("Bạn đã bấm «Gửi» ở tin nhắn này rồi" in r for r in replies) == 1
            await assert_counted(bot)
        async with bot.runtime.sessions() as session:
            numbers = (await session.exec(select(Assignment.number))).all()
            targets = (await session.exec(select(func.count()).select_from(Target))).one()
        assert sorted(numbers) == list(range(1, 2 * ROUNDS + 1))
        assert targets == 2 * ROUNDS
        await assert_rebuilt_alike(bot)
    finally:
        await other.close()
        await bot.runtime.close()


async def test_answers_racing_a_cancel_keep_the_counters(settings: Settings) -> None:
    """A unit answers while staff cancel the task, at the same moment: whichever comes
    second sees the first, and the counters follow both."""
    bot, other = await two_workers(settings)
    try:
        for i in range(ROUNDS):
            await bot.assign(NOW, f"Báo cáo {i} | hạn 20/05/2023 | đơn vị A, B")
            since = len(bot.recorder.sent)
            await race((other, Incoming("console", "ht_a", "ht_a", text="đã xong")),
                       (bot.runtime, Incoming("console", "staff", "staff",
                                              text=f"/huy #{i + 1}")),
                       (other, Incoming("console", "ht_b", "ht_b", text="đang làm 40%")))
            await bot.sender.drain(NOW + timedelta(seconds=1))
            replies = [m.text for m in bot.recorder.sent[since:]]
            assert not any(APOLOGY in r for r in replies), replies
            await assert_counted(bot)
        await assert_rebuilt_alike(bot)
    finally:
        await other.close()
        await bot.runtime.close()


async def test_an_answer_reads_its_target_once_locked_and_its_task_after_the_lock(
        settings: Settings) -> None:
    """The unit's open targets are read with their rows locked (PostgreSQL), so the target
    an answer changes is not read a second time; the task is read again after the lock
    (a cancel committed meanwhile is seen). SQLite holds the write lock from BEGIN: the
    rows read are as committed, and the task comes from the first read."""
    bot = await seeded_bot(settings, NOW)
    statements: list[str] = []

    def seen(_conn, _cursor, statement: str, *_args: object) -> None:
        statements.append(" ".join(statement.split()))

    engine = bot.runtime.engine.sync_engine
    try:
        await bot.assign(NOW, "Báo cáo | hạn 20/05/2023 | đơn vị A")
        event.listen(engine, "before_cursor_execute", seen)
        await bot.runtime.dispatcher.handle(
            Incoming("console", "ht_a", "ht_a", text="đang làm 40%"), NOW)
        event.remove(engine, "before_cursor_execute", seen)
        targets = [s for s in statements if s.startswith("SELECT target.id")]
        tasks = [s for s in statements if s.startswith("SELECT assignment.id")]
        if settings.database_url.startswith("postgresql"):
            assert len(targets) == 1 and targets[0].endswith("FOR NO KEY UPDATE OF target")
            assert len(tasks) == 1 and statements.index(tasks[0]) > statements.index(targets[0])
        else:
            assert len(targets) == 1 and "FOR" not in targets[0] and not tasks
        await bot.sender.drain(NOW)
        assert "đang làm nhiệm vụ" in texts(bot, "ht_a")[-1]
    finally:
        await bot.runtime.close()


async def task_message(bot: Bot, user: str, number: int) -> str:
    """Platform id of the message that gave task `number` to `user` (the one with buttons)."""
    async with bot.runtime.sessions() as session:
        rows = (await session.exec(select(Outbox).where(
            Outbox.chat_id == user, Outbox.buttons != "", col(Outbox.assignment_id).in_(
                select(Assignment.id).where(Assignment.number == number)))
            .order_by(col(Outbox.id)))).all()
    return rows[0].platform_message_id or ""


async def test_counters_after_a_mixed_run(settings: Settings) -> None:
    """Every kind of change a target or a task goes through, one after the other through the
    handlers: after each, the counters are what a recount gives."""
    bot = await seeded_bot(settings, NOW)
    try:
        await bot.assign(NOW, "Báo cáo tháng | hạn 10/05/2023 | đơn vị A, B")
        await bot.assign(NOW, "Thống kê | hạn 12/05/2023 | đơn vị A, B")
        later = NOW + timedelta(days=12)

        async def reply(user: str, number: int, text: str, now: datetime = NOW) -> None:
            await bot.runtime.dispatcher.handle(Incoming(
                "console", user, user, text=text,
                reply_to=await task_message(bot, user, number)), now)
            await bot.sender.drain(now)

        steps = [
            lambda: reply("ht_a", 1, "đang làm 40%"),
            lambda: reply("ht_a", 1, "đã xong", later),  # late
            lambda: reply("ht_b", 1, "không có số liệu"),
            lambda: reply("ht_a", 2, "xin gia hạn đến 15/05/2023 vì chờ số liệu"),
            lambda: bot.press("staff", NOW, "Đồng ý"),
            lambda: reply("ht_a", 1, "đã xong"),  # a re-submission: still late
            lambda: bot.say("staff", NOW, "/mien #2 B | trường sáp nhập"),
            lambda: bot.say("staff", NOW, "/mien #2 B | bỏ"),
            lambda: bot.say("staff", NOW, "/giahan #1 A | đến 30/05/2023"),  # now on time
            lambda: bot.say("staff", NOW, "/dong #2"),
            lambda: bot.say("staff", NOW, "/mo #2"),
            lambda: reply("ht_b", 2, "đã xong"),
            lambda: bot.say("staff", NOW, "/huy #2"),
            lambda: bot.assign(NOW, "Kế hoạch | hạn 20/05/2023 | đơn vị A, B"),
        ]
        for step in steps:
            await step()
            await assert_counted(bot)
        replies = [m.text for m in bot.recorder.sent]
        assert not any(APOLOGY in r for r in replies)
        for told in ("Đã đồng ý gia hạn nhiệm vụ #2",
                     "Đã miễn nộp nhiệm vụ #2 «Thống kê» cho 1 đơn vị: Trường B",
                     "Đã bỏ miễn nộp nhiệm vụ #2 «Thống kê» cho 1 đơn vị: Trường B",
                     "Đã gia hạn nhiệm vụ #1 «Báo cáo tháng» cho 1 đơn vị",
                     "Đã huỷ nhiệm vụ #2"):
            assert any(told in r for r in replies), told
        async with bot.runtime.sessions() as session:
            first = (await session.exec(select(Target).where(
                Target.assignment_id == 1).order_by(col(Target.unit_id)))).all()
        assert [(t.state, t.on_time, t.nil_report) for t in first] == [
            ("submitted", True, False), ("submitted", True, True)]
        await assert_rebuilt_alike(bot)
    finally:
        await bot.runtime.close()


async def test_two_workers_sweeping_open_a_period_once(settings: Settings) -> None:
    """Both workers' sweeps come at the moment a monthly task's next period opens: it opens
    once (one target per unit, one notice to staff)."""
    settings = dataclasses.replace(settings, reminders=dataclasses.replace(
        settings.reminders, period_lead_days=10))
    start = datetime(2024, 10, 28, 8, 0, tzinfo=LOCAL_TZ)
    bot = await seeded_bot(settings, start)
    other = await Runtime.open(settings, migrate=False)
    try:
        await bot.assign(start, "Sĩ số | hạn ngày 5 hàng tháng | đơn vị A, B")
        months = [(2024, 12), *((2025, m) for m in range(1, ROUNDS))]
        for year, month in months:
            opening = datetime(year, month, 5, 17, 0, tzinfo=LOCAL_TZ) - timedelta(days=10)
            await asyncio.gather(bot.runtime.dispatcher.sweep(opening),
                                 other.dispatcher.sweep(opening))
            await bot.sender.drain(opening)
        async with bot.runtime.sessions() as session:
            periods = (await session.exec(select(Target.period, func.count()).group_by(
                col(Target.period)))).all()
        assert dict(periods) == {f"{m:02d}/{y}": 2 for y, m in [(2024, 11), *months]}
        notices = [t for t in texts(bot, "staff") if t.startswith("🔁 Đã mở kỳ")]
        assert len(notices) == len(months)
        await assert_counted(bot)
        await assert_rebuilt_alike(bot)
    finally:
        await other.close()
        await bot.runtime.close()


async def test_an_edit_racing_answers_keeps_the_counters(settings: Settings) -> None:
    """`/sua` (a new deadline, unit B taken off) is sent while A reports and B says how it
    goes, at the same moment: whichever comes second sees the first, and the counters follow
    all three."""
    bot, other = await two_workers(settings)
    try:
        for i in range(ROUNDS):
            await bot.assign(NOW, f"Báo cáo {i} | hạn 20/05/2023 | đơn vị A, B")
            await bot.say("staff", NOW, f"/sua #{i + 1} | hạn 10/05/2023 | bớt B")
            payload, message_id = await button(bot, "staff", "Gửi")
            since = len(bot.recorder.sent)
            await race((other, Incoming("console", "ht_a", "ht_a", text="đã xong")),
                       (bot.runtime, press("staff", payload, message_id, f"edit{i}")),
                       (other, Incoming("console", "ht_b", "ht_b", text="đang làm 40%")))
            await bot.sender.drain(NOW + timedelta(seconds=1))
            replies = [m.text for m in bot.recorder.sent[since:]]
            assert not any(APOLOGY in r for r in replies), replies
            assert any("Đã sửa nhiệm vụ" in r for r in texts(bot, "staff", since)), replies
            await assert_counted(bot)
        async with bot.runtime.sessions() as session:
            states = dict((await session.exec(select(Target.state, func.count()).group_by(
                col(Target.state)))).all())
        assert states == {"submitted": ROUNDS, "removed": ROUNDS}  # A reported, B taken off
        await assert_rebuilt_alike(bot)
    finally:
        await other.close()
        await bot.runtime.close()


async def test_one_submission_moved_and_withdrawn_at_once(settings: Settings) -> None:
    """A report filed under the wrong task: [Rút lại] and [Chuyển sang #M] pressed at the same
    moment, each through a worker. One of them happens; the other is told the submission was
    already moved or withdrawn, and the counters follow."""
    bot, other = await two_workers(settings)
    try:
        for i in range(ROUNDS):
            wrong, right = 2 * i + 1, 2 * i + 2
            await bot.assign(NOW, f"Báo cáo sai {i} | hạn 20/05/2023 | đơn vị A")
            await bot.assign(NOW, f"Báo cáo đúng {i} | hạn 20/05/2023 | đơn vị A")
            await bot.runtime.dispatcher.handle(Incoming(
                "console", "ht_a", "ht_a", text="đã xong",
                reply_to=await task_message(bot, "ht_a", wrong)), NOW)
            await bot.sender.drain(NOW)
            move = await button(bot, "ht_a", f"Chuyển sang #{right}")
            await bot.press("ht_a", NOW, "Nộp nhầm")
            back = await button(bot, "ht_a", "Rút lại")
            since = len(bot.recorder.sent)
            handled = await race((bot.runtime, press("ht_a", *back, f"back{i}")),
                                 (other, press("ht_a", *move, f"move{i}")))
            await bot.sender.drain(NOW)
            assert handled == [True, True]
            replies = texts(bot, "ht_a", since)
            assert not any(APOLOGY in r for r in replies), replies
            assert sum("đã được chuyển hoặc rút lại rồi" in r for r in replies) == 1, replies
            assert sum("Đã rút lại" in r or "Đã chuyển" in r for r in replies) == 1, replies
            await assert_counted(bot)
            of_round = select(Target.id).join(
                Assignment, col(Assignment.id) == col(Target.assignment_id)).where(
                col(Assignment.number).in_([wrong, right]))
            async with bot.runtime.sessions() as session:
                live = (await session.exec(select(func.count()).select_from(Submission).where(
                    col(Submission.withdrawn_at).is_(None),
                    col(Submission.target_id).in_(of_round)))).one()
            assert live <= 1  # moved (one copy on the right task) or withdrawn (none)
            for number in (wrong, right):  # neither stays open for the next round
                await bot.say("staff", NOW, f"/huy #{number}")
        await assert_rebuilt_alike(bot)
    finally:
        await other.close()
        await bot.runtime.close()
