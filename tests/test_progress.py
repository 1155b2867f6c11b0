"""Progress figures checked against a hand-computed fixture, and the `/tiendo` views over it on
both databases: extensions, excuses, a nil report, a re-submission, a unit that changed group
and parent, the roll-up through the unit tree, paging, and what a reporter may not see."""

from __future__ import annotations

import io
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from app import admin
from app.bootstrap import Runtime
from channels.console import ConsoleSession, Delivered, user_event
from core.i18n import Translator
from core.progress import Figures, figures, pages
from core.text import fold
from core.unit_rows import UnitRow
from handlers.tiendo import percent
from services.targets import add as add_target
from storage import tally
from storage.models import (
    Assignment,
    Member,
    Membership,
    ProgressTally,
    Target,
    Unit,
    UnitGroup,
)

D1 = datetime(2023, 5, 8, 10, tzinfo=UTC)  # Thứ Hai 08/05/2023 17:00 in Hà Nội
D2 = datetime(2023, 4, 10, 10, tzinfo=UTC)
D4 = datetime(2023, 5, 20, 10, tzinfo=UTC)
NOW = datetime(2023, 5, 10, 3, tzinfo=UTC)
DAY = timedelta(days=1)

# code, name, parent, groups. TH-C used to be a school of PGD-NT (group huyen-nt); it now
# belongs to PGD-YY (huyen-yy), and its past targets follow it.
UNITS = [
    ("SO", "Sở GDĐT", None, ()),
    ("PGD-NT", "Phòng GDĐT Nam Trực", "SO", ("PGD", "huyen-nt")),
    ("PGD-YY", "Phòng GDĐT Ý Yên", "SO", ("PGD", "huyen-yy")),
    ("TH-A", "Tiểu học A", "PGD-NT", ("TH", "huyen-nt")),
    ("TH-B", "Tiểu học B", "PGD-NT", ("TH", "huyen-nt")),
    ("TH-C", "Tiểu học C", "PGD-YY", ("TH", "huyen-yy")),
    ("THPT-X", "THPT X", "SO", ("THPT",)),
]


@dataclass
class T:
    """A target as the rules see it."""

    state: str = "pending"
    on_time: bool | None = None
    extension_granted: bool = False
    nil_report: bool = False
    deadline: datetime = D1
    submitted_at: datetime | None = None


def submitted(at: datetime, deadline: datetime = D1, **kw: object) -> dict:
    return {"state": "submitted", "submitted_at": at, "on_time": at <= deadline, **kw}


# Task #1 (active): due D1. TH-A on time; TH-B one day late; TH-C excused; THPT-X granted an
# extension to D1 + 4 days, not yet sent; PGD-NT a nil report on time; PGD-YY missing, overdue.
TASK1 = {
    "TH-A": submitted(D1 - DAY),
    "TH-B": submitted(D1 + DAY),
    "TH-C": {"state": "excused"},
    "THPT-X": {"extension_granted": True, "deadline": D1 + 4 * DAY},
    "PGD-NT": submitted(D1 - timedelta(hours=2), nil_report=True),
    "PGD-YY": {},
}
# Task #2 (closed): due D2. TH-A 3 days late, TH-B on time, TH-C 2 days late, PGD-YY never.
TASK2 = {
    "TH-A": submitted(D2 + 3 * DAY, D2),
    "TH-B": submitted(D2 - DAY, D2),
    "TH-C": submitted(D2 + 2 * DAY, D2),
    "PGD-YY": {},
}
# Task #3 (cancelled) counts nowhere; task #4 (active) is not due yet.
TASK3 = {"TH-A": {}}
TASK4 = {"TH-A": {"state": "in_progress", "percent": 50}, "TH-B": {}}


def test_figures_of_task_1_by_hand() -> None:
    f = figures([T(**{"deadline": D1, **fields}) for fields in TASK1.values()], NOW)
    assert f == Figures(expected=5, submitted=3, on_time=2, late=1, missing=2, overdue=1,
                        excused=1, in_progress=0, extended=1, nil=1, delay_days=1.0)
    assert (f.completeness, f.timeliness, f.owed) == (60.0, 40.0, 4)


def test_figures_over_time_of_one_unit() -> None:
    """TH-A: #1 on time, #2 three days late, #4 not due yet (not owed)."""
    th_a = [T(**{"deadline": D1, **TASK1["TH-A"]}), T(**{"deadline": D2, **TASK2["TH-A"]}),
            T(state="in_progress", deadline=D4)]
    f = figures(th_a, NOW)
    assert (f.owed, f.on_time, f.late, f.overdue, f.mean_delay) == (2, 1, 1, 0, 3.0)
    assert f.missing == 1  # still to send, but not owed yet


def test_percentages_and_counts_through_babel() -> None:
    vi, en = Translator("vi"), Translator("en")
    assert percent(vi, 2, 3) == "66,7% (2/3)" and percent(en, 2, 3) == "66.7% (2/3)"
    assert percent(vi, 1234, 2000) == "61,7% (1.234/2.000)"
    assert percent(en, 1234, 2000) == "61.7% (1,234/2,000)"
    assert percent(vi, 0, 0) == "0% (0/0)"


def test_empty_figures_and_pages() -> None:
    f = figures([], NOW)
    assert (f.completeness, f.timeliness, f.mean_delay, f.owed) == (0.0, 0.0, 0.0, 0)
    assert (pages(0, 20), pages(20, 20), pages(21, 20)) == (1, 1, 2)


async def seed(runtime: Runtime) -> None:
    async with runtime.sessions() as session, session.begin():
        ids: dict[str, int] = {}
        for code, name, parent, groups in UNITS:
            unit = Unit(code=code, name=name, name_key=fold(name),
                        parent_id=ids[parent] if parent else None)
            session.add(unit)
            await session.flush()
            ids[code] = unit.id
            for group in groups:
                session.add(UnitGroup(unit_id=unit.id, name=group, key=group.lower()))
        await session.flush()
        await session.run_sync(lambda sync: tally.regroup(sync.connection()))  # as the import
        people = [("lanhdao", "leader", None), ("ht_a", "reporter", "TH-A"),
                  ("pgd_nt", "reporter", "PGD-NT"), ("vp", "staff", None)]
        members = {}
        for name, role, unit_code in people:
            member = Member(display_name=name, channel="console", channel_user_id=name,
                            chat_id=name, created_at=NOW)
            session.add(member)
            await session.flush()
            members[name] = member.id
            session.add(Membership(member_id=member.id, role=role,
                                   unit_id=ids[unit_code] if unit_code else None))
        tasks = [(1, "Báo cáo NQ29", D1, "active", TASK1),
                 (2, "Thống kê đầu năm", D2, "closed", TASK2),
                 (3, "Báo cáo huỷ", D2, "cancelled", TASK3),
                 (4, "Kế hoạch hè", D4, "active", TASK4)]
        for number, title, deadline, state, targets in tasks:
            assignment = Assignment(number=number, title=title, deadline=deadline, state=state,
                                    assigned_by=members["vp"], created_at=NOW - 60 * DAY)
            session.add(assignment)
            await session.flush()
            for code, fields in targets.items():
                await add_target(session, Target(assignment_id=assignment.id, unit_id=ids[code],
                                   **{"deadline": deadline, **fields}))


@pytest.fixture
async def bot(settings):
    runtime = await Runtime.open(settings)
    await seed(runtime)
    try:
        yield ConsoleSession(runtime, io.StringIO(), start=NOW)
    finally:
        await runtime.close()


async def ask(bot: ConsoleSession, user: str, text: str = "", **fields: object) -> Delivered:
    before = len(bot.delivered)
    await bot.send(user_event(user, text=text, **fields))
    (answer,) = bot.delivered[before:]
    return answer


async def press(bot: ConsoleSession, user: str, message: Delivered, label: str) -> Delivered:
    (button,) = [b for b in message.buttons if b.label == label]
    return await ask(bot, user, button=button.payload, button_message_id=message.message_id)


async def test_one_task_figures_missing_units_and_buttons(bot) -> None:
    answer = await ask(bot, "lanhdao", "/tiendo #1")
    text = answer.text
    assert "Đã nộp 3/5 (đúng hạn 2, muộn 1), chưa nộp 2, quá hạn 1, miễn 1, gia hạn 1" in text
    assert "Hoàn thành 60% (3/5), đúng hạn 40% (2/5)" in text
    assert "Báo cáo không phát sinh: 1" in text
    assert "Chưa nộp (2):\n• Phòng GDĐT Ý Yên\n• THPT X — hạn 12/05/2023" in text
    assert "Nộp muộn (1): Tiểu học B" in text
    assert [(b.label, b.payload) for b in answer.buttons] == [
        ("Biểu đồ", "r:chart:1"), ("Excel", "r:xlsx:1")]
    chart = await press(bot, "lanhdao", answer, "Biểu đồ")
    assert chart.file_name == "bieu-do-nhiem-vu-1.png"
    # These buttons show something rather than decide: each may be pressed, and again.
    workbook = await press(bot, "lanhdao", answer, "Excel")
    assert workbook.file_name and workbook.file_name.endswith(".xlsx")
    again = await press(bot, "lanhdao", answer, "Biểu đồ")
    assert again.file_name == "bieu-do-nhiem-vu-1.png"


async def test_one_task_in_english_uses_english_numbers(bot) -> None:
    async with bot.host.sessions() as session, session.begin():
        row = (await session.exec(select(Member).where(Member.display_name == "lanhdao"))).one()
        row.language = "en"
    answer = await ask(bot, "lanhdao", "/tiendo #1")
    assert "Completeness 60% (3/5), on time 40% (2/5)" in answer.text
    assert "Submitted 3/5 (2 on time, 1 late), 2 not submitted, 1 overdue" in answer.text
    assert [b.label for b in answer.buttons] == ["Chart", "Excel"]


async def test_overview_lists_open_tasks_nearest_first(bot) -> None:
    text = (await ask(bot, "lanhdao", "/tiendo")).text
    lines = text.splitlines()
    assert lines[0] == "Tiến độ các nhiệm vụ đang mở:"
    assert lines[1].startswith("• #1 «Báo cáo NQ29» — hạn 08/05/2023 — đã nộp 3/5")
    assert lines[2].startswith("• #4 «Kế hoạch hè» — hạn 20/05/2023 — đã nộp 0/2")
    assert "#2" not in text and "#3" not in text


async def test_unit_over_time_and_rolled_up_through_the_tree(bot) -> None:
    text = (await ask(bot, "lanhdao", "/tiendo th-a")).text
    assert "• #1 «Báo cáo NQ29» — hạn 08/05/2023 — đã nộp đúng hạn" in text
    assert "• #4 «Kế hoạch hè» — hạn 20/05/2023 — đang làm" in text
    assert ("Từ trước đến nay — riêng đơn vị: đến hạn 2 lần: đúng hạn 50% (1/2), muộn 1, "
            "không nộp 0; trễ trung bình 3 ngày") in text
    # The Phòng's figure includes its schools; TH-C moved to PGD-YY and took its history.
    text = (await ask(bot, "lanhdao", "/tiendo PGD-NT")).text
    assert "riêng đơn vị: đến hạn 1 lần: đúng hạn 100% (1/1), muộn 0, không nộp 0" in text
    assert ("tính cả 2 đơn vị trực thuộc: đến hạn 5 lần: đúng hạn 60% (3/5), muộn 2, "
            "không nộp 0; trễ trung bình 2 ngày") in text
    text = (await ask(bot, "lanhdao", "/tiendo Phòng GDĐT Ý Yên")).text
    assert ("tính cả 1 đơn vị trực thuộc: đến hạn 3 lần: đúng hạn 0% (0/3), muộn 1, "
            "không nộp 2; trễ trung bình 2 ngày") in text


async def test_group_rolled_up_with_the_units_most_often_late(bot) -> None:
    text = (await ask(bot, "lanhdao", "/tiendo @TH")).text
    assert text.startswith("Tiến độ của nhóm @TH (3 đơn vị):")
    assert "#1 «Báo cáo NQ29» — hạn 08/05/2023 — đã nộp 2/2 (đúng hạn 1, muộn 1), chưa nộp 0, " \
           "miễn 1" in text
    assert "#4 «Kế hoạch hè» — hạn 20/05/2023 — đã nộp 0/2" in text
    assert ("cả nhóm: đến hạn 5 lần: đúng hạn 40% (2/5), muộn 3, không nộp 0; trễ trung bình "
            "2 ngày") in text
    # @PGD rolls up both Phòng with their schools: 2 units, 3 below them.
    text = (await ask(bot, "lanhdao", "/tiendo @pgd")).text
    assert text.startswith("Tiến độ của nhóm @pgd (2 đơn vị, tính cả 3 đơn vị trực thuộc):")
    assert "Đơn vị hay trễ hạn nhất:\n• Phòng GDĐT Ý Yên (PGD-YY) — đến hạn 2 lần" in text
    # A unit that changed group: its history left huyen-nt with it.
    text = (await ask(bot, "lanhdao", "/tiendo @huyen-nt")).text
    assert "cả nhóm: đến hạn 5 lần: đúng hạn 60% (3/5), muộn 2" in text
    assert "Tiểu học C" not in text


async def test_late_and_missing_across_open_tasks(bot) -> None:
    for spelling in ("tre-han", "trễ hạn", "TRE HAN", "late"):
        text = (await ask(bot, "lanhdao", f"/tiendo {spelling}")).text
        assert text.splitlines()[:3] == [
            "Trễ hạn ở các nhiệm vụ đang mở (2):",
            "• #1 — Phòng GDĐT Ý Yên: chưa nộp, quá hạn 1 ngày",
            "• #1 — Tiểu học B: nộp muộn, quá hạn 1 ngày",
        ]
        assert "hay trễ hạn" not in text
    text = (await ask(bot, "lanhdao", "/tiendo hay-tre")).text
    assert text.splitlines() == [
        "Đơn vị hay trễ hạn nhất:",
        "• Phòng GDĐT Ý Yên (PGD-YY) — đến hạn 2 lần: đúng hạn 0% (0/2), muộn 0, không nộp 2",
        "• Tiểu học A (TH-A) — đến hạn 2 lần: đúng hạn 50% (1/2), muộn 1, không nộp 0; trễ "
        "trung bình 3 ngày",
        "• Tiểu học B (TH-B) — đến hạn 2 lần: đúng hạn 50% (1/2), muộn 1, không nộp 0; trễ "
        "trung bình 1 ngày",
        "• Tiểu học C (TH-C) — đến hạn 1 lần: đúng hạn 0% (0/1), muộn 1, không nộp 0; trễ "
        "trung bình 2 ngày",
    ]


async def test_a_reporter_sees_only_their_unit(bot) -> None:
    text = (await ask(bot, "ht_a", "/tiendo #1")).text
    assert "Đã nộp 1/1" in text and "Tiểu học B" not in text and "Ý Yên" not in text
    assert not (await ask(bot, "ht_a", "/tiendo #1")).buttons
    for ref in ("/tiendo TH-B", "/tiendo Tiểu học B", "/tiendo PGD-NT"):
        assert (await ask(bot, "ht_a", ref)).text == "Bạn chỉ xem được tiến độ của đơn vị mình."
    for ref in ("/tiendo @TH", "/tiendo hay-tre"):
        assert "chỉ xem được tiến độ của đơn vị mình" in (await ask(bot, "ht_a", ref)).text
    text = (await ask(bot, "ht_a", "/tiendo tre-han"))
    assert text.text == "Không có đơn vị nào trễ hạn ở các nhiệm vụ đang mở."
    # The Phòng's reporter sees its roll-up as figures, never its schools' names.
    text = (await ask(bot, "pgd_nt", "/tiendo PGD-NT")).text
    assert "tính cả 2 đơn vị trực thuộc" in text and "Tiểu học" not in text


async def test_unknown_task_group_and_unit(bot) -> None:
    assert (await ask(bot, "lanhdao", "/tiendo #99")).text.startswith(
        "Không có nhiệm vụ «#99».")
    assert (await ask(bot, "lanhdao", "/tiendo @khongco")).text.startswith(
        "Không có nhóm «@khongco».")
    assert (await ask(bot, "lanhdao", "/tiendo KHONG-CO")).text.startswith(
        "Không có đơn vị hay nhiệm vụ «KHONG-CO».")
    # A reporter asking for a task of other units learns nothing about it.
    assert (await ask(bot, "pgd_nt", "/tiendo #4")).text.startswith("Không có nhiệm vụ «#4».")


async def test_a_re_submission_keeps_the_first_time(bot) -> None:
    """TH-A sends #4 before the deadline, then again after it: still on time."""
    bot.now = D4 - DAY
    first = await ask(bot, "ht_a", "đã xong")
    assert "đúng hạn" in first.text
    bot.now = D4 + DAY
    again = await ask(bot, "ht_a", "đã xong", reply_to=first.message_id)
    assert "nộp lại" in again.text
    text = (await ask(bot, "lanhdao", "/tiendo #4")).text
    assert "Đã nộp 1/2 (đúng hạn 1, muộn 0)" in text


async def test_long_lists_are_paged(bot) -> None:
    async with bot.host.sessions() as session, session.begin():
        for i in range(45):
            unit = Unit(code=f"MN-{i:02d}", name=f"Mầm non {i:02d}", name_key=f"mam non {i:02d}")
            session.add(unit)
            await session.flush()
            await add_target(session, Target(assignment_id=4, unit_id=unit.id, deadline=D4))
    first = await ask(bot, "lanhdao", "/tiendo #4")
    assert "Chưa nộp (47):" in first.text and "Trang 1/3" in first.text
    assert "• Mầm non 19" in first.text and "Mầm non 20" not in first.text
    assert [b.label for b in first.buttons] == ["Trang sau", "Biểu đồ", "Excel"]
    second = await press(bot, "lanhdao", first, "Trang sau")
    assert "Trang 2/3" in second.text and "• Mầm non 20" in second.text
    assert [b.payload for b in second.buttons][:2] == ["t:n:1:4", "t:n:3:4"]
    back = await press(bot, "lanhdao", second, "Trang trước")
    assert "Trang 1/3" in back.text
    # A page button shows its page again when pressed twice; a page payload that was never
    # sent, or pressed by someone else on a message that was not theirs, is refused.
    assert "Trang 2/3" in (await press(bot, "lanhdao", first, "Trang sau")).text
    forged = await ask(bot, "ht_a", button="t:n:2:4", button_message_id=first.message_id)
    assert "không còn hiệu lực" in forged.text


async def test_a_group_with_many_open_tasks_is_paged_under_its_name(bot) -> None:
    """The page buttons of `/tiendo @group` carry the group's key; the next page still names
    the group as the unit list spells it."""
    async with bot.host.sessions() as session, session.begin():
        for number in range(10, 32):
            task = Assignment(number=number, title=f"Báo cáo {number}", deadline=D4,
                              assigned_by=1, created_at=NOW - DAY)
            session.add(task)
            await session.flush()
            await add_target(session, Target(assignment_id=task.id, unit_id=4, deadline=D4))
    first = await ask(bot, "lanhdao", "/tiendo @th")
    assert first.text.startswith("Tiến độ của nhóm @th (3 đơn vị):") and "Trang 1/2" in first.text
    second = await press(bot, "lanhdao", first, "Trang sau")
    assert second.text.startswith("Tiến độ của nhóm @TH (3 đơn vị):")
    assert "Trang 2/2" in second.text and "#31 «Báo cáo 31»" in second.text


async def test_an_import_that_moves_a_unit_moves_its_figures(bot) -> None:
    """TH-C moves from PGD-YY (huyen-yy) to PGD-NT (huyen-nt) in a new unit list: the groups'
    counters follow it, its past targets included, and nothing else changes."""
    before = {ref: (await ask(bot, "lanhdao", ref)).text
              for ref in ("/tiendo @huyen-nt", "/tiendo @huyen-yy", "/tiendo @th", "/tiendo")}
    assert "miễn 1" in before["/tiendo @huyen-yy"]
    assert "miễn" not in before["/tiendo @huyen-nt"]
    rows = [UnitRow(i + 2, code, name, "", parent or "", groups)
            for i, (code, name, parent, groups) in enumerate(UNITS)]
    rows[5] = replace(rows[5], parent="PGD-NT", groups=("TH", "huyen-nt"))
    async with bot.host.sessions() as session, session.begin():
        report = await admin.import_units(session, rows)
    assert [r.code for r in report.updated] == ["TH-C"]
    after = {ref: (await ask(bot, "lanhdao", ref)).text for ref in before}
    assert "miễn" not in after["/tiendo @huyen-yy"]
    assert "miễn 1" in after["/tiendo @huyen-nt"]
    assert "(3 đơn vị, tính cả" not in after["/tiendo @huyen-nt"]
    assert (after["/tiendo @th"], after["/tiendo"]) == (before["/tiendo @th"], before["/tiendo"])
    async with bot.host.sessions() as session:  # as counted again from every target
        kept = sorted(map(tuple, (await session.exec(select(ProgressTally))).all()))
    async with bot.host.engine.begin() as conn:
        await conn.run_sync(tally.rebuild)
    async with bot.host.sessions() as session:
        assert sorted(map(tuple, (await session.exec(select(ProgressTally))).all())) == kept


async def test_a_recurring_task_shows_its_latest_period_and_the_earlier_ones(bot) -> None:
    async with bot.host.sessions() as session, session.begin():
        task = Assignment(number=5, title="Báo cáo tháng", deadline=D2, recurrence="monthly:10",
                          period="05/2023",
                          assigned_by=1, created_at=NOW - 60 * DAY)
        session.add(task)
        await session.flush()
        for unit_id, period, deadline, fields in (
                (4, "04/2023", D2, submitted(D2 - DAY, D2)), (5, "04/2023", D2, {}),
                (4, "05/2023", D1, submitted(D1 + DAY)), (5, "05/2023", D1, {})):
            await add_target(session, Target(assignment_id=task.id, unit_id=unit_id, period=period,
                               **{"deadline": deadline, **fields}))
    text = (await ask(bot, "lanhdao", "/tiendo #5")).text
    assert "Kỳ báo cáo: 05/2023" in text and "Hoàn thành 50% (1/2), đúng hạn 0% (0/2)" in text
    assert "Kỳ 04/2023: đã nộp 1/2 (đúng hạn 1, muộn 0), chưa nộp 1, quá hạn 1" in text
    assert "#5 «Báo cáo tháng» kỳ 05/2023 — hạn 08/05/2023 — đã nộp 1/2" in (
        await ask(bot, "lanhdao", "/tiendo")).text
