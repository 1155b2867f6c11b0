"""Recurring tasks roll over: each period gets its own targets and reminders, opened
`reminders.period_lead_days` before its deadline, under the virtual clock."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlmodel import col, select

from app.bootstrap import Runtime
from app.config import ConfigError, Settings, load_settings
from core.clock import LOCAL_TZ
from core.deadlines import Recurrence, parse_deadline
from core.i18n import Translator
from core.periods import current_period, next_opening
from reports.load import task_report
from storage.models import Assignment, Outbox, Reminder, Target
from tests.seed import seeded_bot

LEAD = timedelta(days=30)


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=LOCAL_TZ)


# --- the pure rule -----------------------------------------------------------------------


def test_yearly_rolls_over_across_the_year_end() -> None:
    rule = Recurrence("yearly", month=1, day=15)
    first = local(2025, 1, 15, 17, 0)
    assert current_period(rule, first, local(2025, 12, 16, 16, 59), LEAD) == first
    opened = current_period(rule, first, local(2025, 12, 16, 17, 0), LEAD)
    assert opened == local(2026, 1, 15, 17, 0)
    assert rule.period_label(opened) == "2026"  # opened in December 2025, labelled 2026
    assert next_opening(rule, first, local(2025, 6, 1, 8, 0), LEAD) == local(2025, 12, 16, 17, 0)


def test_monthly_opens_when_the_previous_deadline_passes_if_the_lead_is_longer() -> None:
    rule = Recurrence("monthly", day=5)
    first = local(2024, 11, 5, 17, 0)
    assert current_period(rule, first, local(2024, 11, 5, 16, 0), LEAD) == first
    december = current_period(rule, first, local(2024, 11, 5, 17, 0), LEAD)
    assert (december, rule.period_label(december)) == (local(2024, 12, 5, 17, 0), "12/2024")
    january = current_period(rule, first, local(2024, 12, 20, 8, 0), LEAD)
    assert rule.period_label(january) == "01/2025"
    short = timedelta(days=3)
    assert current_period(rule, first, local(2024, 12, 1, 16, 0), short) == first
    assert current_period(rule, first, local(2024, 12, 2, 17, 0), short) == december


def test_school_year_periods_are_labelled_by_school_year() -> None:
    deadline = parse_deadline("hàng năm học trước 31/5", local(2024, 9, 5, 8, 0))
    rule = deadline.recurrence
    assert rule is not None and rule.kind == "school_year"
    assert rule.period_label(deadline.due) == "năm học 2024-2025"
    assert Recurrence.from_rule(rule.to_rule()) == rule
    opened = current_period(rule, deadline.due, local(2026, 5, 1, 17, 0), LEAD)
    assert rule.period_label(opened) == "năm học 2025-2026"
    assert rule.period_label(local(2025, 9, 30, 17, 0)) == "năm học 2025-2026"


def test_quarterly_periods_are_labelled_by_quarter() -> None:
    deadline = parse_deadline("hàng quý trước ngày 20 tháng cuối quý", local(2024, 5, 2, 8, 0))
    rule = deadline.recurrence
    assert rule is not None and rule.kind == "quarterly"
    assert (deadline.due, rule.period_label(deadline.due)) == (local(2024, 6, 20, 17, 0), "Q2/2024")
    opened = current_period(rule, deadline.due, local(2024, 8, 25, 8, 0), LEAD)
    assert (opened, rule.period_label(opened)) == (local(2024, 9, 20, 17, 0), "Q3/2024")
    assert current_period(rule, deadline.due, local(2024, 8, 20, 8, 0), LEAD) == deadline.due


def test_half_yearly_periods_are_the_two_halves_of_the_year() -> None:
    deadline = parse_deadline("định kỳ 6 tháng, trước ngày 15/6", local(2024, 5, 2, 8, 0))
    rule = deadline.recurrence
    assert rule is not None and rule.to_rule() == "half_yearly:06-15@17:00"
    assert rule.period_label(deadline.due) == "6 tháng đầu năm 2024"
    opened = current_period(rule, deadline.due, local(2024, 11, 20, 8, 0), LEAD)
    assert (opened, rule.period_label(opened)) == (local(2024, 12, 15, 17, 0),
                                                   "6 tháng cuối năm 2024")
    opened = current_period(rule, deadline.due, local(2025, 5, 20, 8, 0), LEAD)
    assert (opened, rule.period_label(opened)) == (local(2025, 6, 15, 17, 0),
                                                   "6 tháng đầu năm 2025")


def test_semester_periods_are_the_two_halves_of_the_school_year() -> None:
    deadline = parse_deadline("hàng học kỳ trước 15/1", local(2024, 9, 5, 8, 0))
    rule = deadline.recurrence
    assert rule is not None and rule.to_rule() == "semester:06-15@17:00"
    assert (deadline.due, rule.period_label(deadline.due)) == (
        local(2025, 1, 15, 17, 0), "học kỳ I năm học 2024-2025")
    opened = current_period(rule, deadline.due, local(2025, 6, 20, 8, 0), LEAD)
    assert (opened, rule.period_label(opened)) == (local(2025, 7, 15, 17, 0),
                                                   "học kỳ II năm học 2024-2025")
    opened = current_period(rule, deadline.due, local(2025, 12, 20, 8, 0), LEAD)
    assert rule.period_label(opened) == "học kỳ I năm học 2025-2026"


def test_after_a_long_downtime_only_the_newest_period_opens() -> None:
    rule = Recurrence("yearly", month=11, day=30)
    first = local(2024, 11, 30, 17, 0)
    assert current_period(rule, first, local(2031, 11, 10, 8, 0), LEAD) == \
        local(2031, 11, 30, 17, 0)


@given(st.sampled_from([Recurrence("yearly", month=2, day=29), Recurrence("monthly", day=31),
                        Recurrence("weekly", weekday=4),
                        Recurrence("school_year", month=8, day=1),
                        Recurrence("quarterly", month=3, day=20),
                        Recurrence("half_yearly", month=6, day=31),
                        Recurrence("semester", month=6, day=15)]),
       st.integers(min_value=0, max_value=3000), st.integers(min_value=0, max_value=400))
def test_the_current_period_is_open_and_the_next_opening_is_later(rule, days, lead_days) -> None:
    first = rule.next_due(local(2024, 1, 1, 0, 0))
    now = first + timedelta(days=days, minutes=7)
    lead = timedelta(days=lead_days)
    due = current_period(rule, first, now, lead)
    assert due >= first
    assert due == first or max(due - lead, first) <= now
    assert next_opening(rule, first, now, lead) > now


# --- through the dispatcher, on SQLite and PostgreSQL ------------------------------------


async def _targets(runtime: Runtime) -> list[Target]:
    async with runtime.sessions() as session:
        return list((await session.exec(select(Target).order_by(col(Target.id)))).all())


async def test_monthly_task_rolls_over_and_answers_go_to_the_current_period(
        settings: Settings, tmp_path: Path) -> None:
    settings = dataclasses.replace(settings, reminders=dataclasses.replace(
        settings.reminders, period_lead_days=10))
    start = local(2024, 10, 28, 8, 0)
    bot = await seeded_bot(settings, start)
    runtime = bot.runtime
    try:
        await bot.assign(start, "Sĩ số | hạn ngày 5 hàng tháng | đơn vị A, B")
        assert [t.period for t in await _targets(runtime)] == ["11/2024", "11/2024"]
        await bot.say("ht_a", start, "đã xong")

        dispatcher = runtime.dispatcher
        opening = local(2024, 11, 25, 17, 0)  # 10 days before 05/12
        await dispatcher.sweep(opening - timedelta(minutes=1))
        assert len(await _targets(runtime)) == 2
        await dispatcher.sweep(opening)
        await dispatcher.sweep(opening + timedelta(hours=1))  # opening twice adds nothing
        targets = await _targets(runtime)
        assert [(t.period, t.state) for t in targets] == [
            ("11/2024", "submitted"), ("11/2024", "pending"),
            ("12/2024", "pending"), ("12/2024", "pending")]
        december = targets[2:]
        assert {t.deadline.astimezone(LOCAL_TZ) for t in december} == {local(2024, 12, 5, 17, 0)}
        async with runtime.sessions() as session:
            planned = (await session.exec(select(Reminder).where(
                col(Reminder.target_id).in_([t.id for t in december])))).all()
            news = (await session.exec(select(Outbox).where(
                col(Outbox.text).contains("Kỳ báo cáo mới 12/2024")))).all()
        assert {r.kind for r in planned} >= {"before", "on_day", "overdue"}
        assert len(news) == 2

        await bot.sender.drain(opening)
        mark = len(bot.recorder.sent)
        await bot.say("staff", opening, "/nhac #1")  # December's units, once each
        nudged = bot.recorder.sent[mark:]
        assert sorted(m.chat_id for m in nudged) == ["ht_a", "ht_b", "staff"]
        assert all("Kỳ báo cáo: 12/2024" in m.text for m in nudged if m.chat_id != "staff")
        # B is still late for November, but a plain answer is about December now.
        await bot.say("ht_b", opening + timedelta(hours=2), "đã xong")
        states = [(t.period, t.unit_id, t.state) for t in await _targets(runtime)]
        assert states[1][2] == "pending" and states[3][2] == "submitted"
    finally:
        await runtime.close()


async def test_a_cancelled_recurring_task_does_not_roll_over(settings: Settings,
                                                            tmp_path: Path) -> None:
    start = local(2024, 10, 28, 8, 0)
    bot = await seeded_bot(settings, start)
    runtime = bot.runtime
    try:
        await bot.assign(start, "Sĩ số | hạn ngày 5 hàng tháng | đơn vị A")
        await bot.say("staff", start, "/huy #1")
        await runtime.dispatcher.sweep(local(2025, 3, 1, 8, 0))
        assert [t.period for t in await _targets(runtime)] == ["11/2024"]
    finally:
        await runtime.close()


def test_period_lead_days_is_read_and_checked(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("[reminders]\nperiod_lead_days = 45\n", encoding="utf-8")
    assert load_settings(config, {}).reminders.period_lead_days == 45
    for value in ("400", "0", "-1", '"soon"'):
        config.write_text(f"[reminders]\nperiod_lead_days = {value}\n", encoding="utf-8")
        with pytest.raises(ConfigError, match="reminders.period_lead_days"):
            load_settings(config, {})


async def test_an_extension_past_the_next_deadline_keeps_the_newest_period_current(
        settings: Settings) -> None:
    start = local(2024, 11, 4, 8, 0)  # Monday
    bot = await seeded_bot(settings, start)
    try:
        await bot.assign(start, "Báo cáo tuần | hạn thứ sáu hàng tuần | đơn vị A")
        await bot.say("ht_a", start, "xin gia hạn đến 29/11 vì ốm")
        await bot.press("staff", start, "Đồng ý")
        later = local(2024, 11, 19, 9, 0)
        await bot.runtime.dispatcher.sweep(later)
        await bot.sender.drain(later)
        await bot.say("staff", later, "/tiendo #1")
        answer = bot.recorder.sent[-1].text
        assert "Kỳ báo cáo: 18/11/2024" in answer, answer
        assert "Kỳ 04/11/2024" in answer  # the extended week is an earlier period
    finally:
        await bot.runtime.close()


async def test_charts_workbooks_and_zips_show_the_current_period(settings: Settings) -> None:
    settings = dataclasses.replace(settings, reminders=dataclasses.replace(
        settings.reminders, period_lead_days=10))
    start = local(2024, 10, 28, 8, 0)
    bot = await seeded_bot(settings, start)
    try:
        await bot.assign(start, "Sĩ số | hạn ngày 5 hàng tháng | đơn vị A, B")
        await bot.say("ht_a", start, "đã xong")
        await bot.runtime.dispatcher.sweep(local(2024, 11, 26, 9, 0))  # December opens
        async with bot.runtime.sessions() as session:
            assignment = (await session.exec(select(Assignment))).one()
            report = await task_report(session, assignment)
        assert report.period == "12/2024" and len(report.rows) == 2
        assert {row.state for row in report.rows} == {"pending"}
        assert report.deadline.astimezone(LOCAL_TZ) == local(2024, 12, 5, 17, 0)
        assert report.heading(Translator("vi")) == "#1 «Sĩ số» kỳ 12/2024"
    finally:
        await bot.runtime.close()


async def test_a_period_extended_past_the_next_opening_is_still_owed_until_its_deadline(
        settings: Settings) -> None:
    """May's report of a monthly task is extended to 12/05; June opens on 06/05. Until 12/05
    the unit owes both: /viec names each period, a plain answer asks which one, May's
    reminders keep running, and an answer for May counts on time."""
    start = local(2023, 5, 2, 8, 0)
    bot = await seeded_bot(settings, start)
    runtime = bot.runtime
    try:
        await bot.assign(start, "Báo cáo tháng | hạn ngày 5 hàng tháng | đơn vị A, B")
        await bot.say("ht_b", start, "xin gia hạn đến 12/05/2023 vì ốm")
        await bot.press("staff", start, "Đồng ý")
        opened = local(2023, 5, 7, 9, 0)  # June opened on 05/05 17:00 (30 days' lead)
        await runtime.dispatcher.sweep(opened)
        await bot.sender.drain(opened)
        targets = await _targets(runtime)
        assert [(t.period, t.unit_id) for t in targets][-2:] == [("06/2023", 1), ("06/2023", 2)]
        may = next(t for t in targets if t.period == "05/2023" and t.unit_id == 2)
        async with runtime.sessions() as session:
            kinds = {r.kind for r in (await session.exec(select(Reminder).where(
                Reminder.target_id == may.id, Reminder.state == "planned"))).all()}
        assert "on_day" in kinds  # 12/05 is still chased

        await bot.say("ht_b", opened, "/viec")
        listing = bot.recorder.sent[-1].text
        assert "#1 «Báo cáo tháng» kỳ 05/2023 — hạn Thứ Sáu, 12/05/2023 17:00" in listing
        assert "#1 «Báo cáo tháng» kỳ 06/2023 — hạn Thứ Hai, 05/06/2023 17:00" in listing
        await bot.say("ht_b", opened, "đã xong")
        question = bot.recorder.sent[-1]
        assert [b.label for b in question.buttons] == ["#1 kỳ 05/2023", "#1 kỳ 06/2023"]
        await bot.press("ht_b", opened, "#1 kỳ 05/2023")
        may = next(t for t in await _targets(runtime) if t.id == may.id)
        assert (may.state, may.on_time) == ("submitted", True)
        await bot.say("ht_a", opened, "/viec")  # A's May deadline has passed: June only
        assert "kỳ" not in bot.recorder.sent[-1].text
    finally:
        await runtime.close()
