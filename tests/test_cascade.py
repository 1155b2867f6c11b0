"""Cascade: an office hands a task down to the units below it, three levels deep; progress
rolls up; cancelling, extending and excusing the parent flow down. On SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlmodel import col, select

from app.bootstrap import Runtime
from app.config import Settings
from core.clock import LOCAL_TZ
from core.messages import Outgoing
from storage.models import Assignment, Target
from tests.databases import seeded_copy
from tests.seed import Bot

NOW = datetime(2023, 5, 2, 8, 0, tzinfo=LOCAL_TZ)
UNITS = """code,name,kind,parent,groups
SO,Sở GDĐT Thử Nghiệm,Sở GDĐT,,so
VP-SO,Văn phòng Sở,Phòng thuộc Sở,SO,
PGD-A,Phòng GDĐT An Bình,Phòng GDĐT,SO,PGD
PGD-B,Phòng GDĐT Bảo Lâm,Phòng GDĐT,SO,PGD
TH-A1,Trường TH Anh Đào,TH,PGD-A,TH
TH-A2,Trường TH Ánh Sáng,TH,PGD-A,TH
DT-A1X,Điểm trường Xuân,Điểm trường,TH-A1,
DT-A1Y,Điểm trường Yên,Điểm trường,TH-A1,
TH-B1,Trường TH Bạch Mai,TH,PGD-B,TH
"""
PEOPLE = (("so", "staff", "VP-SO"), ("pa", "staff", "PGD-A"), ("pgd_a", "reporter", "PGD-A"),
          ("pgd_b", "reporter", "PGD-B"), ("pb", "staff", "PGD-B"),
          ("hta", "staff", "TH-A1"), ("hta", "reporter", "TH-A1"),
          ("ht_a2", "reporter", "TH-A2"), ("dt_x", "reporter", "DT-A1X"),
          ("dt_y", "reporter", "DT-A1Y"))


def texts(bot: Bot, user: str) -> list[str]:
    return [m.text for m in bot.recorder.sent if m.chat_id == user]


def last(bot: Bot, user: str) -> str:
    return texts(bot, user)[-1]


async def seed(settings: Settings) -> list[Outgoing]:
    """The units and people, and the Sở's task to the district offices; what was sent."""
    runtime = await Runtime.open(settings)
    try:
        b = Bot(runtime)
        await b.register(NOW, UNITS, PEOPLE)
        await b.say("so", NOW, "/giao Báo cáo năm học | hạn 20/05/2023 | đơn vị @PGD")
        await b.press("so", NOW, "Gửi")
        return b.recorder.sent
    finally:
        await runtime.close()


@pytest.fixture
async def bot(settings: Settings):
    """The seeded bot, on a copy of the database `seed` made once per test process."""
    async with seeded_copy(settings, "cascade", seed) as (copied, sent):
        runtime = await Runtime.open(copied)
        b = Bot(runtime)
        b.recorder.sent = sent
        try:
            yield b
        finally:
            await runtime.close()


async def hand_down(bot: Bot, user: str, line: str) -> None:
    await bot.say(user, NOW, line)
    await bot.press(user, NOW, "Gửi")


async def tasks(bot: Bot) -> dict[int, Assignment]:
    async with bot.runtime.sessions() as session:
        return {a.number: a for a in (await session.exec(select(Assignment))).all()}


async def test_three_levels_hand_down_and_roll_up(bot: Bot) -> None:
    # The Phòng's staff got the task with [Giao tiếp]; its prefilled preview.
    first = next(m for m in bot.recorder.sent if m.chat_id == "pa")
    assert [b.label for b in first.buttons] == ["Giao tiếp"]
    await bot.press("pa", NOW, "Giao tiếp")
    preview = last(bot, "pa")
    assert "Giao tiếp từ nhiệm vụ #1 của Sở GDĐT Thử Nghiệm" in preview
    assert "Hạn nộp: Thứ Năm, 18/05/2023 17:00" in preview  # 2 working days before Saturday
    assert "2 đơn vị: Trường TH Anh Đào, Trường TH Ánh Sáng" in preview
    await bot.press("pa", NOW, "Gửi")
    # The school is an office too (it has sites below it): its staff, also its reporter,
    # get status buttons and [Giao tiếp]; it hands #2 down to its sites.
    school = next(m for m in bot.recorder.sent if m.chat_id == "hta" and "#2" in m.text)
    assert [b.label for b in school.buttons][-1] == "Giao tiếp"
    await hand_down(bot, "hta", "/giaotiep #2")
    assert "Đã giao nhiệm vụ #3" in last(bot, "hta") and "cho 2 đơn vị" in last(bot, "hta")
    found = await tasks(bot)
    assert (found[2].parent_id, found[3].parent_id) == (found[1].id, found[2].id)
    assert found[3].deadline == datetime(2023, 5, 16, 17, 0, tzinfo=LOCAL_TZ)

    await bot.say("dt_x", NOW, "đã xong")
    await bot.say("pa", NOW, "/tiendo #2")
    assert "• Trường TH Anh Đào — giao tiếp #3: 1/2 đơn vị đã nộp" in last(bot, "pa")
    assert "• Trường TH Ánh Sáng — chưa giao tiếp" not in last(bot, "pa")  # a school: no sites
    await bot.say("dt_y", NOW, "đã xong")
    done = last(bot, "hta")
    assert "Cả 2 đơn vị đã trả lời nhiệm vụ giao tiếp #3" in done
    assert "Trường TH Anh Đào vẫn cần nộp báo cáo của mình cho nhiệm vụ #2" in done
    await bot.say("hta", NOW, "đã xong")  # the school reports up: to #2, not to its #3
    assert "đã nộp nhiệm vụ #2" in last(bot, "hta")
    await bot.say("so", NOW, "/tiendo #1")
    shown = last(bot, "so")
    assert "Cấp dưới: 1/2 đơn vị đã nộp qua 1 đơn vị đã giao tiếp" in shown
    assert "• Phòng GDĐT An Bình — giao tiếp #2: 1/2 đơn vị đã nộp" in shown
    assert "• Phòng GDĐT Bảo Lâm — chưa giao tiếp" in shown
    # The roll-up equals a count over the targets of the hand-down.
    async with bot.runtime.sessions() as session:
        states = (await session.exec(select(Target.state).where(
            Target.assignment_id == found[2].id))).all()
    assert (states.count("submitted"), len(states)) == (1, 2)


async def test_the_office_is_never_a_target_of_its_own_hand_down(bot: Bot) -> None:
    await bot.say("pa", NOW, "/giaotiep #1 | đơn vị PGD-A, TH-A1 | hạn 25/05/2023")
    preview = last(bot, "pa")
    assert "1 đơn vị: Trường TH Anh Đào" in preview
    assert "⚠️ Hạn này sau hạn đơn vị phải nộp cho nhiệm vụ #1" in preview
    await bot.say("pa", NOW, "/giaotiep #1 | đơn vị @tructhuoc")
    assert "2 đơn vị: Trường TH Anh Đào, Trường TH Ánh Sáng" in last(bot, "pa")
    await bot.say("pa", NOW, "/giaotiep #1 | đơn vị PGD-B")
    assert "không thuộc phạm vi của Phòng GDĐT An Bình" in last(bot, "pa")
    await bot.say("so", NOW, "/giaotiep #1")  # the Sở received no target of its own task
    assert "không giao cho đơn vị của bạn" in last(bot, "so")
    await bot.say("ht_a2", NOW, "/giaotiep #1")
    assert "Chỉ chuyên viên văn phòng" in last(bot, "ht_a2")
    await bot.say("pa", NOW, "/giaotiep #9")
    assert "Không có nhiệm vụ «#9»" in last(bot, "pa")
    await hand_down(bot, "pa", "/giaotiep #1")
    await bot.say("pa", NOW, "/giaotiep #1")
    assert "thành nhiệm vụ #2" in last(bot, "pa")


async def test_changes_of_the_parent_flow_down(bot: Bot) -> None:
    await hand_down(bot, "pa", "/giaotiep #1")
    await hand_down(bot, "hta", "/giaotiep #2")
    # An extension for the Phòng: its hand-down keeps its deadline and its clerk is told.
    await bot.say("pgd_a", NOW, "xin gia hạn đến 27/05/2023 vì chờ số liệu")
    await bot.press("so", NOW, "Đồng ý")
    assert "vẫn giữ hạn Thứ Năm, 18/05/2023 17:00" in last(bot, "pa")
    assert (await tasks(bot))[2].state == "active"
    # Phòng B is excused: it has no hand-down, nothing to ask. Phòng A excused: asked.
    await bot.say("so", NOW, "/mien #1 PGD-A | sáp nhập")
    asked = [m for m in bot.recorder.sent if m.chat_id == "pa"][-1]
    assert "Nhiệm vụ giao tiếp #2" in asked.text
    assert [b.label for b in asked.buttons] == ["Huỷ #2"]
    await bot.press("pa", NOW, "Huỷ #2")
    found = await tasks(bot)
    assert (found[2].state, found[3].state) == ("cancelled", "cancelled")
    assert any("#3" in t and "đã được huỷ" in t for t in texts(bot, "dt_x"))


async def test_cancelling_the_parent_cancels_every_level(bot: Bot) -> None:
    await hand_down(bot, "pa", "/giaotiep #1")
    await hand_down(bot, "hta", "/giaotiep #2")
    await bot.say("pa", NOW, "/huy #1")
    assert "do Sở GDĐT Thử Nghiệm giao" in last(bot, "pa")
    later = NOW + timedelta(hours=1)
    await bot.say("so", later, "/huy #1")
    found = await tasks(bot)
    assert [found[n].state for n in (1, 2, 3)] == ["cancelled"] * 3
    assert any("#2" in t and "cũng được huỷ" in t for t in texts(bot, "pa"))
    for user in ("ht_a2", "dt_x", "dt_y"):
        assert any("đã được huỷ; đơn vị không cần nộp" in t for t in texts(bot, user)), user
    async with bot.runtime.sessions() as session:
        owed = (await session.exec(select(Target).where(
            col(Target.assignment_id).in_([found[2].id, found[3].id])))).all()
    assert owed and all(t.state == "pending" for t in owed)


async def test_the_workbook_has_the_hand_downs_and_the_whole_tree(bot: Bot) -> None:
    import io

    from openpyxl import load_workbook

    await hand_down(bot, "pa", "/giaotiep #1")
    await hand_down(bot, "hta", "/giaotiep #2")
    await bot.say("dt_x", NOW, "đã xong")
    await bot.say("so", NOW, "/tiendo #1")
    await bot.press("so", NOW, "Excel")
    sent = [m for m in bot.recorder.sent if m.file and m.file.name.endswith(".xlsx")][-1]
    book = load_workbook(io.BytesIO(sent.file.data))
    task = book.worksheets[1]
    header = [c.value for c in task[1]]
    assert header[-1] == "Giao tiếp (đã nộp/phải nộp)"
    rows = {r[0]: r for r in task.iter_rows(min_row=2, values_only=True)}
    assert rows["PGD-A"][-1] == "#2: 0/2" and rows["PGD-B"][-1] in ("", None)
    tree = book["#1 cấp dưới"]
    below = [(r[0], r[2], r[3], r[6]) for r in tree.iter_rows(min_row=2, values_only=True)]
    assert ("PGD-A", "#2", "TH-A1", "Chưa nộp") in below
    assert ("TH-A1", "#3", "DT-A1X", "Đã nộp") in below and len(below) == 4


async def test_the_chart_shows_the_level_below_per_office(bot: Bot) -> None:
    from reports.chart import office_bars
    from reports.load import task_report

    await hand_down(bot, "pa", "/giaotiep #1")
    await hand_down(bot, "hta", "/giaotiep #2")
    await bot.say("dt_x", NOW, "đã xong")
    async with bot.runtime.sessions() as session:
        parent = (await session.exec(select(Assignment).where(Assignment.number == 1))).one()
        report = await task_report(session, parent)
    assert office_bars(report, NOW) == [("PGD-A", (0, 0, 2)), ("TH-A1", (1, 0, 1))]
    await bot.say("so", NOW, "/tiendo #1")
    await bot.press("so", NOW, "Biểu đồ")
    picture = [m for m in bot.recorder.sent if m.file and m.file.name.endswith(".png")][-1]
    assert picture.file.data.startswith(b"\x89PNG")


async def test_at_the_hand_down_deadline_the_office_is_told_once(bot: Bot) -> None:
    await hand_down(bot, "pa", "/giaotiep #1")
    await hand_down(bot, "hta", "/giaotiep #2")
    await bot.say("dt_x", NOW, "đã xong")
    await bot.sweep(NOW)
    assert not any("Đã đến hạn nhiệm vụ giao tiếp" in t for t in texts(bot, "hta"))
    after = datetime(2023, 5, 16, 18, 0, tzinfo=LOCAL_TZ)  # #3 was due 16/05 17:00
    await bot.sweep(after)
    told = [t for t in texts(bot, "hta") if "Đã đến hạn nhiệm vụ giao tiếp #3" in t]
    assert len(told) == 1 and "1/2 đơn vị đã nộp" in told[0] and "/tainop #3" in told[0]
    assert "Trường TH Anh Đào vẫn cần nộp báo cáo của mình cho nhiệm vụ #2" in told[0]
    await bot.sweep(after + timedelta(days=1))
    assert len([t for t in texts(bot, "hta") if "Đã đến hạn nhiệm vụ giao tiếp #3" in t]) == 1
    assert not any("Đã đến hạn nhiệm vụ giao tiếp #2" in t for t in texts(bot, "pa"))
