"""The rules of a target's changes (core.transitions), without a database."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from core import transitions as tr
from core.states import AssignmentState, Requires, SubmissionKind, TargetState
from core.transitions import Answer, Facts

START = datetime(2026, 5, 1, 8, tzinfo=UTC)
DEADLINE = START + timedelta(days=5)


def at(hours: int) -> datetime:
    return START + timedelta(hours=hours)


def fresh(deadline: datetime = DEADLINE) -> Facts:
    return Facts(TargetState.PENDING, deadline)


def test_states_equal_their_column_strings() -> None:
    assert TargetState.SUBMITTED == "submitted"
    assert f"{TargetState.IN_PROGRESS}" == "in_progress"
    assert "cancelled" in (AssignmentState.CANCELLED,)


def test_first_submission_counts_and_a_resubmission_keeps_it() -> None:
    first, again = tr.submit(fresh(), at(1))
    assert not again and first.state == TargetState.SUBMITTED
    assert first.submitted_at == at(1) and first.on_time and first.percent == 100
    late, again = tr.submit(first, DEADLINE + timedelta(days=3), nil=True)
    assert again and late.submitted_at == at(1) and late.on_time and late.nil_report


def test_a_late_submission_is_judged_again_by_an_extension() -> None:
    late, _ = tr.submit(fresh(), DEADLINE + timedelta(hours=2))
    assert late.on_time is False
    extended = tr.extend(late, DEADLINE + timedelta(days=1))
    assert extended.on_time and extended.extension_granted


def test_progress_leaves_a_submission_alone() -> None:
    submitted, _ = tr.submit(fresh(), at(1))
    assert tr.progress(submitted, 40) == submitted
    assert tr.progress(fresh(), 40) == Facts(TargetState.IN_PROGRESS, DEADLINE, percent=40)


def test_excuse_and_its_take_back() -> None:
    working = tr.progress(fresh(), 30)
    excused = tr.excuse(working)
    assert excused.state == TargetState.EXCUSED and excused.percent is None
    assert tr.take_back_excuse(excused, 30) == working
    assert tr.take_back_excuse(excused, None).state == TargetState.PENDING


def test_remove_then_owe_again_starts_afresh() -> None:
    extended = tr.extend(tr.submit(fresh(), at(1))[0], DEADLINE + timedelta(days=2))
    removed = tr.remove(extended)
    assert removed.state == TargetState.REMOVED and removed.submitted_at == at(1)
    assert tr.owe_again(removed, DEADLINE) == fresh()


def test_moving_the_deadline_keeps_a_longer_extension() -> None:
    longer = DEADLINE + timedelta(days=4)
    extended = tr.extend(fresh(), longer)
    assert tr.move_deadline(extended, DEADLINE + timedelta(days=1)).deadline == longer
    assert tr.move_deadline(extended, longer + timedelta(days=1)).deadline == longer + timedelta(
        days=1)
    assert tr.move_deadline(fresh(), START).deadline == START
    submitted = tr.submit(fresh(), at(30))[0]
    assert tr.move_deadline(submitted, at(20)).on_time is False


def test_recount_takes_the_first_report_and_the_progress_before_it() -> None:
    answers = [Answer(SubmissionKind.PROGRESS, at(1), 20), Answer(SubmissionKind.HELP, at(2)),
               Answer(SubmissionKind.DONE, at(3)), Answer(SubmissionKind.PROGRESS, at(4), 50),
               Answer(SubmissionKind.NIL, at(5))]
    counted = tr.recount(fresh(), answers, Requires.ANY)
    assert counted == Facts(TargetState.SUBMITTED, DEADLINE, at(3), True, 100, False, True)
    assert tr.recount(fresh(), answers[:2], Requires.ANY) == tr.progress(fresh(), 20)
    assert tr.recount(counted, [], Requires.ANY) == fresh()


def test_recount_wants_done_beside_a_file_when_the_task_asks_for_both() -> None:
    answers = [Answer(SubmissionKind.FILE, at(1)), Answer(SubmissionKind.DONE, at(2))]
    assert tr.recount(fresh(), answers[:1], Requires.BOTH) == fresh()
    assert tr.recount(fresh(), answers, Requires.BOTH).submitted_at == at(2)
    assert tr.recount(fresh(), answers, Requires.FILE).submitted_at == at(1)


def test_recount_leaves_excused_and_removed_targets() -> None:
    answers = [Answer(SubmissionKind.DONE, at(1))]
    for settled in (tr.excuse(fresh()), tr.remove(fresh())):
        assert tr.recount(settled, answers, Requires.ANY) == settled


def test_only_a_cancel_or_its_undoing_moves_a_task_in_history() -> None:
    active, cancelled, closed = AssignmentState
    assert tr.history_move(active, cancelled) == tr.history_move(closed, cancelled) == -1
    assert tr.history_move(cancelled, active) == tr.history_move(cancelled, closed) == 1
    assert tr.history_move(active, closed) == tr.history_move(closed, active) == 0


# --- any sequence of changes -------------------------------------------------------------

moments = st.integers(min_value=-200, max_value=300).map(at)
percents = st.one_of(st.none(), st.integers(min_value=0, max_value=99))
Step = Callable[[Facts], Facts]
steps: st.SearchStrategy[Step] = st.one_of(
    st.builds(lambda now, nil: lambda f: tr.submit(f, now, nil)[0], moments, st.booleans()),
    st.builds(lambda p: lambda f: tr.progress(f, p), percents),
    st.just(tr.excuse),
    st.builds(lambda p: lambda f: tr.take_back_excuse(f, p), percents),
    st.builds(lambda until: lambda f: tr.extend(f, until), moments),
    st.just(tr.remove),
    st.builds(lambda due: lambda f: tr.owe_again(f, due), moments),
    st.builds(lambda due: lambda f: tr.move_deadline(f, due), moments),
)


@given(st.lists(steps, max_size=12))
def test_on_time_always_means_submitted_by_the_deadline(sequence: list[Step]) -> None:
    facts = fresh()
    for step in sequence:
        facts = step(facts)
        if facts.state == TargetState.SUBMITTED:
            assert facts.submitted_at is not None and facts.percent == 100
        if facts.submitted_at is not None:
            assert facts.on_time == (facts.submitted_at <= facts.deadline)
        else:
            assert facts.on_time is None


@given(st.lists(steps, max_size=12), moments, st.booleans())
def test_a_resubmission_never_changes_the_submission_time(sequence: list[Step],
                                                          now: datetime, nil: bool) -> None:
    facts = fresh()
    for step in sequence:
        facts = step(facts)
        if facts.state == TargetState.SUBMITTED:
            again, resubmitted = tr.submit(facts, now, nil)
            assert resubmitted
            assert (again.submitted_at, again.on_time) == (facts.submitted_at, facts.on_time)


# Answers as the handlers apply them one by one to a task that takes a file or «đã xong»,
# and extensions granted between them.
events = st.one_of(
    st.tuples(st.sampled_from([SubmissionKind.DONE, SubmissionKind.NIL, SubmissionKind.FILE,
                               SubmissionKind.PROGRESS, SubmissionKind.HELP]), percents),
    st.tuples(st.just("extend"), st.integers(min_value=-100, max_value=300)),
)


@given(st.lists(events, max_size=12))
def test_recount_gives_what_the_answers_gave_one_by_one(sequence: list[tuple]) -> None:
    facts, answers = fresh(), []
    for hour, (kind, value) in enumerate(sequence):
        if kind == "extend":
            facts = tr.extend(facts, at(value))
            continue
        answers.append(Answer(kind, at(hour), value if kind == SubmissionKind.PROGRESS else None))
        if kind in (SubmissionKind.DONE, SubmissionKind.NIL, SubmissionKind.FILE):
            facts = tr.submit(facts, at(hour), nil=kind == SubmissionKind.NIL)[0]
        elif kind == SubmissionKind.PROGRESS:
            facts = tr.progress(facts, value)
    assert tr.recount(facts, answers, Requires.ANY) == facts
    assert tr.recount(tr.recount(facts, answers, Requires.ANY), answers, Requires.ANY) == facts


def test_a_cancelled_task_is_neither_closed_nor_reopened() -> None:
    active, cancelled, closed = AssignmentState
    assert tr.task_refusal(cancelled, closed) == tr.task_refusal(cancelled, active) \
        == tr.task_refusal(cancelled, cancelled) == tr.TaskRefusal.CANCELLED
    assert tr.task_refusal(closed, closed) == tr.task_refusal(active, active) \
        == tr.TaskRefusal.ALREADY
    assert tr.task_refusal(active, closed) is tr.task_refusal(closed, active) is None
    assert tr.task_refusal(active, cancelled) is tr.task_refusal(closed, cancelled) is None
