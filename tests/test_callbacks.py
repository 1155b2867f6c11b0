"""Button payloads (core.callbacks): the strings the bot has always sent, read back exactly."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from core.callbacks import (
    STATUS_ACTIONS,
    CancelHandDown,
    EditPress,
    ExcuseDecision,
    ExtensionDecision,
    GiaoPress,
    HandDownPress,
    Misfiled,
    Pick,
    PlanDuty,
    ProgressPage,
    ReportFile,
    StatusPress,
    Suggested,
)

KINDS = (ExcuseDecision, ExtensionDecision, Pick, HandDownPress, CancelHandDown, StatusPress,
         Misfiled, PlanDuty, Suggested, EditPress, GiaoPress, ProgressPage, ReportFile)
ids = st.integers(min_value=0, max_value=10**12)
words = st.text(st.characters(blacklist_characters=":"), min_size=1, max_size=12)
payloads = st.one_of(
    st.builds(ExcuseDecision, ids, st.booleans()),
    st.builds(ExtensionDecision, ids, st.booleans()),
    st.builds(Pick, ids),
    st.builds(HandDownPress, ids),
    st.builds(CancelHandDown, ids),
    st.builds(StatusPress, ids, st.sampled_from(STATUS_ACTIONS)),
    st.builds(Misfiled, ids),
    st.builds(Misfiled, ids, ids),
    st.builds(lambda s: Misfiled(s, withdraw=True), ids),
    st.builds(PlanDuty, ids, ids),
    st.builds(Suggested, st.from_regex(r"[a-z]{1,10}", fullmatch=True), st.text(max_size=40)),
    st.sampled_from([EditPress("send"), EditPress("cancel")]),
    st.builds(lambda name: EditPress("field", name), words),
    st.sampled_from([GiaoPress("send"), GiaoPress("edit"), GiaoPress("cancel")]),
    st.builds(lambda name: GiaoPress("field", name), words),
    st.builds(ProgressPage, words, ids, st.one_of(st.just(""), st.text(min_size=1, max_size=20))),
    st.builds(ReportFile, st.sampled_from(["chart", "xlsx"]), ids),
)


def test_the_payloads_are_the_ones_buttons_in_chats_carry() -> None:
    assert ExcuseDecision(12, True).pack() == "m:12:ok"
    assert ExtensionDecision(7, False).pack() == "x:7:no"
    assert StatusPress(3, "prog").pack() == "s:3:prog"
    assert Pick(9).pack() == "p:9"
    assert HandDownPress(4).pack() == "h:4"
    assert CancelHandDown(15).pack() == "h:cancel:15"
    assert Misfiled(5).pack() == "w:5"
    assert Misfiled(5, 8).pack() == "w:5:8"
    assert Misfiled(5, withdraw=True).pack() == "w:5:back"
    assert PlanDuty(2, 1).pack() == "k:2:1"
    assert Suggested("tiendo", "#3").pack() == "c:tiendo:#3"
    assert Suggested("giao").pack() == "c:giao:"
    assert EditPress("field", "deadline").pack() == "e:field:deadline"
    assert EditPress("send").pack() == "e:send"
    assert GiaoPress("send").pack() == "g:send"
    assert GiaoPress("field", "units").pack() == "g:field:units"
    assert ProgressPage("o", 2).pack() == "t:o:2"
    assert ProgressPage("u", 1, "42").pack() == "t:u:1:42"
    assert ReportFile("xlsx", 3).pack() == "r:xlsx:3"


def test_malformed_payloads_are_refused() -> None:
    for kind, payload in [(ExcuseDecision, "m:12"), (ExcuseDecision, "m:12:yes"),
                          (ExcuseDecision, "x:12:ok"), (ExtensionDecision, "x:a:ok"),
                          (Pick, "p:"), (Pick, "p:1:2"), (Pick, "p:²"), (Pick, "p:07"),
                          (HandDownPress, "h:cancel:3"), (CancelHandDown, "h:3"),
                          (StatusPress, "s:1:finish"), (Misfiled, "w:1:2:3"),
                          (Misfiled, "w:1:x"), (PlanDuty, "k:1"), (Suggested, "c:"),
                          (Suggested, "c:giao"), (EditPress, "e:field"), (EditPress, "e:edit"),
                          (EditPress, "e:send:now"), (GiaoPress, "g:field"),
                          (GiaoPress, "g:ok"), (ProgressPage, "t:o"),
                          (ProgressPage, "t:o:x"), (ProgressPage, "t:o:1:"),
                          (ReportFile, "r:pdf:3"), (ReportFile, "r:xlsx")]:
        assert kind.parse(payload) is None, payload


@given(payloads)
def test_a_packed_payload_parses_back(payload) -> None:
    text = payload.pack()
    assert type(payload).parse(text) == payload
    assert type(payload).from_parts(text.split(":")[1:]) == payload
    assert text.startswith(payload.PREFIX + ":")


@given(st.one_of(st.text(max_size=30), payloads.map(lambda p: p.pack() + "x")))
def test_whatever_parses_packs_to_the_same_string(text: str) -> None:
    for kind in KINDS:
        parsed = kind.parse(text)
        if parsed is not None:
            assert parsed.pack() == text
