"""Core types: one TypeAdapter round-trips every field exactly; unstorable text is refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from agentcli.messages import AgentContext, AgentResponse, Message, ToolCall, messages_adapter

# Text that can be stored: no NUL, no lone surrogates.
storable = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"))
json_scalars = st.none() | st.booleans() | st.integers(-(2**53), 2**53) | storable
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(storable, inner, max_size=3),
    max_leaves=8,
)
tool_calls = st.builds(ToolCall, id=storable, name=storable, arguments=storable)
moments = st.datetimes(
    min_value=datetime(1970, 1, 2), max_value=datetime(9999, 1, 1), timezones=st.just(UTC)
)
messages = st.builds(
    Message,
    role=st.sampled_from(["system", "user", "assistant", "tool"]),
    content=storable,
    tokens=st.integers(0, 10**9),
    seq=st.integers(0, 10**12),
    timestamp=moments,
    tool_calls=st.lists(tool_calls, max_size=3).map(tuple),
    tool_call_id=st.none() | storable,
    name=st.none() | storable,
    status=st.sampled_from(["complete", "interrupted", "failed"]),
    metadata=st.none() | st.dictionaries(storable, json_values, max_size=4),
)


@given(st.lists(messages, max_size=5))
def test_every_field_round_trips_through_json(batch: list[Message]) -> None:
    assert messages_adapter.validate_json(messages_adapter.dump_json(batch)) == batch


@given(st.lists(messages, max_size=5))
def test_every_field_round_trips_through_python(batch: list[Message]) -> None:
    dumped = messages_adapter.dump_python(batch, mode="json")
    assert messages_adapter.validate_python(dumped) == batch


def test_timestamps_keep_their_offset() -> None:
    moment = datetime(2026, 1, 1, 12, tzinfo=timezone(timedelta(hours=5, minutes=30)))
    message = Message(role="user", content="hi", timestamp=moment)
    back = messages_adapter.validate_json(messages_adapter.dump_json([message]))[0]
    assert back.timestamp == moment
    assert back.timestamp.utcoffset() == timedelta(hours=5, minutes=30)


def test_naive_timestamps_are_refused() -> None:
    with pytest.raises(ValidationError, match="timezone"):
        Message(role="user", timestamp=datetime(2026, 1, 1))


@pytest.mark.parametrize(
    ("text", "what"),
    [("a\x00b", "NUL character"), ("a\ud83db", "lone surrogate"), ("\udfff", "lone surrogate")],
)
def test_unstorable_text_is_refused_with_a_clear_error(text: str, what: str) -> None:
    with pytest.raises(ValidationError, match=what):
        Message(role="user", content=text)
    with pytest.raises(ValidationError, match=what):
        ToolCall(id="1", name="t", arguments=text)
    with pytest.raises(ValidationError, match=what):
        AgentResponse(output=text)
    with pytest.raises(ValidationError, match=what):
        AgentContext(input=text, session_id="s")


def test_messages_are_immutable() -> None:
    message = Message(role="user", content="hi")
    with pytest.raises((AttributeError, TypeError, ValidationError)):
        message.content = "changed"  # type: ignore[misc]


def test_unknown_roles_and_negative_tokens_are_refused() -> None:
    with pytest.raises(ValidationError):
        Message(role="robot", content="x")  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        Message(role="user", tokens=-1)


def test_response_metadata_accessors() -> None:
    response = AgentResponse(
        output="x",
        metadata={"tokens": 12, "prompt_tokens": 10, "completion_tokens": 2, "cost": 0.001},
    )
    assert (response.tokens, response.prompt_tokens, response.completion_tokens) == (12, 10, 2)
    assert response.cost == 0.001
    assert not response.is_error
    odd = AgentResponse(output="x", metadata={"tokens": True, "cost": "free", "error": True})
    assert odd.tokens is None
    assert odd.cost is None
    assert odd.is_error
