"""Pinned exchanges in the cleanup policy, proven over random histories with random pins
(hypothesis; how many: tests/conftest.py)."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from agentcli.context import TrimPlan, apply_trim, pinned_exchange_seqs, plan_trim
from agentcli.messages import Message, Role, ToolCall

from .test_context import Policy, histories, policy


@st.composite
def pinned_histories(draw: st.DrawFn) -> tuple[list[Message], frozenset[int]]:
    """A random history and a few random pins (any non-system message may be pinned)."""
    history = draw(histories())
    candidates = [m.seq for m in history if m.role != "system"]
    pins = draw(st.sets(st.sampled_from(candidates), max_size=4)) if candidates else set()
    return history, frozenset(pins)


def _trim(
    history: list[Message], pins: frozenset[int], p: Policy
) -> tuple[TrimPlan, list[Message]]:
    size, target, keep = p
    plan = plan_trim(history, window_size=size, target=target, min_keep=keep, pinned=pins)
    return plan, apply_trim(history, plan.drop, pins)


def _exchange_of(history: list[Message], seq: int) -> set[int]:
    """The seqs of ``seq``'s exchange, found the slow, obvious way."""
    body = [m for m in history if m.role != "system"]
    index = next(i for i, m in enumerate(body) if m.seq == seq)
    start = max((i for i in range(index + 1) if body[i].role == "user"), default=0)
    end = next((i for i in range(index + 1, len(body)) if body[i].role == "user"), len(body))
    return {m.seq for m in body[start:end]}


@given(pinned_histories(), policy)
def test_every_pinned_exchange_stays_whole(
    case: tuple[list[Message], frozenset[int]], p: Policy
) -> None:
    history, pins = case
    _, kept = _trim(history, pins, p)
    kept_seqs = {m.seq for m in kept}
    for seq in pins:
        assert _exchange_of(history, seq) <= kept_seqs
    assert [m for m in history if m.role == "system"] == [m for m in kept if m.role == "system"]


@given(pinned_histories(), policy)
def test_the_window_holds_only_whole_exchanges(
    case: tuple[list[Message], frozenset[int]], p: Policy
) -> None:
    """No answer or tool result whose question went, after the system and pinned part: every
    kept non-user message follows, in the history, a message that is kept too."""
    history, pins = case
    _, kept = _trim(history, pins, p)
    kept_seqs = {m.seq for m in kept}
    body = [m for m in history if m.role != "system"]
    for before, message in itertools.pairwise(body):
        if message.seq in kept_seqs and message.role != "user":
            assert before.seq in kept_seqs, f"#{message.seq} kept without #{before.seq}"
    called = {c.id for m in kept for c in m.tool_calls}
    answered = {m.tool_call_id for m in kept if m.role == "tool"}
    assert called == answered


@given(pinned_histories(), policy)
def test_the_newest_part_is_kept_and_the_target_met_when_it_can_be(
    case: tuple[list[Message], frozenset[int]], p: Policy
) -> None:
    history, pins = case
    plan, kept = _trim(history, pins, p)
    keep = p[2]
    assert plan.tokens_after == sum(m.tokens for m in kept)
    pinned = pinned_exchange_seqs(history, pins)
    droppable = [m for m in history if m.role != "system" and m.seq not in pinned]
    # What goes is the oldest droppable messages, in order; the rest stays, in order.
    assert [m for m in kept if m.role != "system" and m.seq not in pinned] == droppable[plan.drop :]
    last = [m for m in history if m.role != "system"][-keep:] if keep else []
    protected = sum(1 for m in last if m.seq not in pinned)
    assert all(m in kept for m in last)

    def allowed(cut: int) -> bool:
        within = cut <= len(droppable) - protected
        return within and (cut == len(droppable) or droppable[cut].role == "user")

    def after(cut: int) -> int:
        return plan.tokens_before - sum(m.tokens for m in droppable[:cut])

    if plan.tokens_after > plan.target:
        assert plan.warning is not None
        assert not any(allowed(cut) for cut in range(plan.drop + 1, len(droppable) + 1))
    else:
        assert plan.warning is None
        assert all(after(cut) > plan.target for cut in range(plan.drop) if cut == 0 or allowed(cut))


@given(pinned_histories(), policy)
def test_trimming_twice_with_pins_equals_trimming_once(
    case: tuple[list[Message], frozenset[int]], p: Policy
) -> None:
    history, pins = case
    _, once = _trim(history, pins, p)
    again, twice = _trim(once, pins, p)
    assert again.drop == 0
    assert twice == once


def test_pinning_an_answer_or_a_tool_result_keeps_its_whole_exchange() -> None:
    call = ToolCall(id="c1", name="look")
    history = [
        Message(role="system", content="rules", seq=1),
        Message(role="user", content="q1", seq=2),
        Message(role="assistant", tool_calls=(call,), seq=3),
        Message(role="tool", tool_call_id="c1", content="42", seq=4),
        Message(role="assistant", content="a1", seq=5),
        Message(role="user", content="q2", seq=6),
        Message(role="assistant", content="a2", seq=7),
    ]
    assert pinned_exchange_seqs(history, {4}) == {2, 3, 4, 5}
    assert pinned_exchange_seqs(history, {7}) == {6, 7}
    assert pinned_exchange_seqs(history, {1}) == frozenset()  # system messages stay anyway
    assert pinned_exchange_seqs(history, {99}) == frozenset()  # not in the window: nothing


def test_pins_move_the_cut_past_the_pinned_exchange() -> None:
    roles: list[Role] = ["user", "assistant"] * 5
    history = [
        Message(role=role, content=f"m{seq}", tokens=10, seq=seq)
        for seq, role in enumerate(roles, start=1)
    ]
    plan = plan_trim(history, window_size=100, target=0.3, min_keep=1, pinned={1})
    kept = apply_trim(history, plan.drop, {1})
    assert [m.seq for m in kept] == [1, 2, 9, 10]
    assert plan.tokens_after == 40
    assert plan.warning is not None  # 40 tokens are more than the target of 30
    assert "pinned" in plan.warning


def test_pins_are_found_in_a_window_out_of_seq_order() -> None:
    window = [
        Message(role="user", content="q", seq=10),
        Message(role="assistant", content="a", seq=11),
        Message(role="user", content="q", seq=2),
        Message(role="assistant", content="a", seq=3),
    ]
    assert pinned_exchange_seqs(window, {3}) == {2, 3}
    assert pinned_exchange_seqs(window, {11}) == {10, 11}
