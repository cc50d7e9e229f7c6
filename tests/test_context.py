"""The cleanup policy, proven over random histories (hypothesis; how many: tests/conftest.py)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from agentcli.context import (
    ContextTracker,
    TrimPlan,
    UsageLevel,
    apply_trim,
    plan_trim,
    usage_level,
)
from agentcli.messages import Message, Role, ToolCall

# ---------------------------------------------------------------- random valid histories


@st.composite
def histories(draw: st.DrawFn) -> list[Message]:
    """Valid conversations: system notes anywhere, user/assistant turns, and tool units
    (an assistant message calling 1-3 tools, then one result per call)."""
    messages: list[Message] = []
    for _ in range(draw(st.integers(0, 40))):
        kind = draw(st.sampled_from(["system", "user", "assistant", "tools"]))
        tokens = draw(st.integers(1, 400))
        if kind == "tools":
            n = draw(st.integers(1, 3))
            base = len(messages)
            calls = tuple(ToolCall(id=f"c{base}-{i}", name="t") for i in range(n))
            messages.append(Message(role="assistant", tool_calls=calls, tokens=tokens))
            for call in calls:
                messages.append(
                    Message(role="tool", tool_call_id=call.id, tokens=draw(st.integers(1, 400)))
                )
        else:
            role: Role = "system" if kind == "system" else "user" if kind == "user" else "assistant"
            messages.append(Message(role=role, tokens=tokens))
    return [_with_seq(m, i + 1) for i, m in enumerate(messages)]


def _with_seq(message: Message, seq: int) -> Message:
    import dataclasses

    return dataclasses.replace(message, seq=seq)


def _orphans(window: list[Message]) -> list[str]:
    """Tool results without their call, and calls without all their results."""
    called = {c.id for m in window for c in m.tool_calls}
    answered = {m.tool_call_id for m in window if m.role == "tool"}
    return sorted(str(x) for x in (called ^ answered) if x is not None)


Policy = tuple[int, float, int]
policy = st.tuples(
    st.integers(200, 20_000),  # window size
    st.floats(0.1, 0.85),  # target
    st.integers(0, 8),  # min_keep
)


def _trim(history: list[Message], p: Policy) -> tuple[TrimPlan, list[Message]]:
    size, target, keep = p
    plan = plan_trim(history, window_size=size, target=target, min_keep=keep)
    return plan, apply_trim(history, plan.drop)


@given(histories(), policy)
def test_trim_never_orphans_a_tool_call_or_result(history: list[Message], p: Policy) -> None:
    _, kept = _trim(history, p)
    assert _orphans(kept) == []


@given(histories(), policy)
def test_trim_keeps_system_messages_and_the_last_n(history: list[Message], p: Policy) -> None:
    keep = p[2]
    _, kept = _trim(history, p)
    assert [m for m in history if m.role == "system"] == [m for m in kept if m.role == "system"]
    body = [m for m in history if m.role != "system"]
    last = body[-keep:] if keep else []
    assert all(m in kept for m in last)
    # What is kept is a suffix of the non-system messages, in order (first in, first out).
    kept_body = [m for m in kept if m.role != "system"]
    assert kept_body == body[len(body) - len(kept_body) :]


@given(histories(), policy)
def test_trim_reaches_the_target_whenever_possible(history: list[Message], p: Policy) -> None:
    plan, kept = _trim(history, p)
    keep = p[2]
    assert plan.tokens_after == sum(m.tokens for m in kept)
    body = [m for m in history if m.role != "system"]

    def allowed(cut: int) -> bool:
        return cut <= len(body) - keep and (cut == len(body) or body[cut].role == "user")

    if plan.tokens_after > plan.target:
        # Only allowed when every cut that reaches the target is forbidden.
        assert plan.warning is not None
        for cut in range(plan.drop + 1, len(body) + 1):
            assert not allowed(cut), f"cut {cut} was allowed but not taken"
    else:
        assert plan.warning is None
        # And it dropped no more than needed: every smaller allowed cut is over the target.
        for cut in range(plan.drop):
            if cut == 0 or allowed(cut):
                assert plan.tokens_before - sum(m.tokens for m in body[:cut]) > plan.target


@given(histories(), policy)
def test_a_trimmed_window_starts_with_a_question(history: list[Message], p: Policy) -> None:
    plan, kept = _trim(history, p)
    kept_body = [m for m in kept if m.role != "system"]
    if plan.drop and kept_body:
        assert kept_body[0].role == "user"  # never an answer or a tool result on its own
    # That the part kept is the newest possible, and the target met whenever an exchange
    # boundary allows it, is the test above.


@given(histories(), policy)
def test_trimming_twice_equals_trimming_once(history: list[Message], p: Policy) -> None:
    _, once = _trim(history, p)
    again, twice = _trim(once, p)
    assert again.drop == 0
    assert twice == once


def test_smallest_drop_is_chosen() -> None:
    history = [_with_seq(Message(role="user", tokens=10), i) for i in range(1, 11)]
    plan = plan_trim(history, window_size=100, target=0.6, min_keep=2)
    assert plan.drop == 4  # 100 -> 60 tokens exactly
    assert plan.tokens_after == 60


def test_cut_moves_to_the_next_exchange_rather_than_splitting_one() -> None:
    call = ToolCall(id="c1", name="lookup")
    history = [
        Message(role="user", tokens=30, seq=1),
        Message(role="assistant", tool_calls=(call,), tokens=30, seq=2),
        Message(role="tool", tool_call_id="c1", tokens=30, seq=3),
        Message(role="assistant", tokens=5, seq=4),
        Message(role="user", tokens=5, seq=5),
    ]
    plan = plan_trim(history, window_size=100, target=0.5, min_keep=1)
    kept = apply_trim(history, plan.drop)
    # The call, its result and the answer left with their question.
    assert [m.seq for m in kept] == [5]


def test_warning_when_kept_messages_alone_exceed_the_target() -> None:
    history = [_with_seq(Message(role="user", tokens=50), i) for i in range(1, 4)]
    plan = plan_trim(history, window_size=100, target=0.6, min_keep=3)
    assert plan.drop == 0
    assert plan.warning is not None
    assert "150 tokens" in plan.warning


def test_usage_levels_follow_the_specification() -> None:
    assert usage_level(0.0) is UsageLevel.GREEN
    assert usage_level(0.6999) is UsageLevel.GREEN
    assert usage_level(0.70) is UsageLevel.YELLOW
    assert usage_level(0.8999) is UsageLevel.YELLOW
    assert usage_level(0.90) is UsageLevel.RED
    assert usage_level(1.5) is UsageLevel.RED


def test_tracker_defaults_are_the_specifications() -> None:
    tracker = ContextTracker()
    assert (tracker.window_size, tracker.threshold, tracker.target, tracker.min_keep) == (
        100_000,
        0.90,
        0.60,
        5,
    )
    tracker.add(89_999)
    below = tracker.needs_cleanup
    tracker.add(1)
    assert not below
    assert tracker.needs_cleanup
    assert tracker.level is UsageLevel.RED
    tracker.remove(200_000)
    assert tracker.tokens == 0


def test_tracker_rejects_inconsistent_numbers() -> None:
    import pytest

    with pytest.raises(ValueError, match="cleanup_target"):
        ContextTracker(1000, threshold=0.5, target=0.6)
    with pytest.raises(ValueError, match="positive"):
        ContextTracker(0)
