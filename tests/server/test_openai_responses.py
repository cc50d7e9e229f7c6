"""The OpenAI Responses API on our sessions, with the official SDK as the client, over real
HTTP against a real uvicorn."""

from __future__ import annotations

import uuid
from typing import Any

import openai
import pytest
from hypothesis import given
from hypothesis import strategies as st
from openai.types.responses import (
    ResponseCompletedEvent,
    ResponseFailedEvent,
    ResponseStreamEvent,
    ResponseTextDeltaEvent,
)

from agentcli.errors import InvalidInputError
from agentcli.messages import Message
from agentcli.server.encoders.responses import response_id, session_of
from agentcli.stores.base import validate_session_id

from ..agents_for_tests import FailingAgent, RecordingAgent, SlowStreamingAgent
from .openai_fakes import KEY_A, KEY_B, ToolingAgent, async_client, client
from .running import RunningServer, running_server, server_settings


def _stored(server: RunningServer, session_id: str) -> list[Message]:
    messages: list[Message] = server.call(server.app_state.store.read(session_id))
    return messages


def _session(value: str) -> str:
    session_id = session_of(value)
    assert session_id is not None, value
    return session_id


def test_a_response_makes_a_session_and_the_next_continues_it() -> None:
    agent = RecordingAgent()
    with running_server(agents={"rec": agent}) as server, client(server) as sdk:
        first = sdk.responses.create(model="rec", input="hello", instructions="Be brief.")
        second = sdk.responses.create(
            model="rec", input="again", instructions="Be brief.", previous_response_id=first.id
        )
        session_id = _session(first.id)
        stored = _stored(server, session_id)
    assert (first.output_text, second.output_text) == ("reply 1", "reply 2")
    assert first.status == "completed"
    assert first.instructions == "Be brief."
    assert second.previous_response_id == first.id
    assert _session(second.id) == session_id
    context = agent.contexts[1]
    assert context.input == "again"
    # The instructions are a system message, once, and never the operator's prompt.
    assert context.system_prompt is None
    assert [(m.role, m.content) for m in context.conversation_history] == [
        ("system", "Be brief."),
        ("user", "hello"),
        ("assistant", "reply 1"),
    ]
    assert [m.role for m in stored] == ["system", "user", "assistant", "user", "assistant"]


def test_input_items_become_the_history_of_the_new_session() -> None:
    agent = RecordingAgent()
    items: Any = [
        {"role": "developer", "content": "No jargon."},
        {"role": "user", "content": "one"},
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "1"}]},
        {"role": "user", "content": [{"type": "input_text", "text": "two"}]},
    ]
    with running_server(agents={"rec": agent}) as server, client(server) as sdk:
        response = sdk.responses.create(model="rec", input=items)
    assert response.output_text == "reply 1"
    context = agent.contexts[0]
    assert context.input == "two"
    assert [(m.role, m.content) for m in context.conversation_history] == [
        ("system", "No jargon."),
        ("user", "one"),
        ("assistant", "1"),
    ]


def test_tools_the_agent_ran_are_mcp_calls_and_usage_is_reported() -> None:
    agents = {"tooling": ToolingAgent(), "failing-tool": ToolingAgent(tool_fails=True)}
    with running_server(agents=agents) as server, client(server) as sdk:
        response = sdk.responses.create(model="tooling", input="what is it?")
        failed_tool = sdk.responses.create(model="failing-tool", input="and now?")
    assert [item.type for item in response.output] == ["mcp_call", "message"]
    call = response.output[0]
    assert call.type == "mcp_call"
    assert (call.name, call.arguments, call.output, call.status) == (
        "lookup",
        '{"q": "x"}',
        "42",
        "completed",
    )
    assert response.output_text == "The answer is 42."
    usage = response.usage
    assert usage is not None
    assert (usage.input_tokens, usage.output_tokens, usage.total_tokens) == (40, 6, 46)
    assert usage.input_tokens_details.cached_tokens == 10
    broken = failed_tool.output[0]
    assert broken.type == "mcp_call"
    assert broken.status == "failed"
    assert broken.error is not None


def test_stream_events_are_typed_and_numbered() -> None:
    with running_server(agents={"tooling": ToolingAgent()}) as server, client(server) as sdk:
        events: list[ResponseStreamEvent] = list(
            sdk.responses.create(model="tooling", input="what is it?", stream=True)
        )
        timed = server.app_state.metrics.registry.get_sample_value(
            "agent_time_to_first_event_seconds_count",
            {"agent": "tooling", "endpoint": "/v1/responses"},
        )
    assert [e.sequence_number for e in events] == list(range(len(events)))
    kinds = [e.type for e in events]
    assert kinds[:2] == ["response.created", "response.in_progress"]
    assert kinds[2:6] == [
        "response.output_item.added",
        "response.mcp_call_arguments.done",
        "response.mcp_call.completed",
        "response.output_item.done",
    ]
    assert kinds[-4:] == [
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    deltas = [e.delta for e in events if isinstance(e, ResponseTextDeltaEvent)]
    assert deltas == ["The answer ", "is 42."]
    done = events[-1]
    assert isinstance(done, ResponseCompletedEvent)
    assert done.response.output_text == "The answer is 42."
    assert done.response.usage is not None
    assert done.response.usage.total_tokens == 46
    assert timed == 1


def test_a_failed_turn_is_a_failed_response() -> None:
    with running_server(agents={"failing": FailingAgent()}) as server, client(server) as sdk:
        with pytest.raises(openai.InternalServerError) as caught:
            sdk.responses.create(model="failing", input="hello")
        assert caught.value.code == "agent_error"
        events = list(sdk.responses.create(model="failing", input="hello", stream=True))
    failed = events[-1]
    assert isinstance(failed, ResponseFailedEvent)
    assert failed.response.status == "failed"
    assert failed.response.error is not None
    # Our stable code, though the SDK's type lists only OpenAI's own codes.
    assert str(failed.response.error.code) == "agent_error"


def test_previous_responses_belong_to_their_key() -> None:
    settings = server_settings(api_keys=f"{KEY_A},{KEY_B}")
    with (
        running_server(settings, agents=["echo"]) as server,
        client(server, KEY_A) as alice,
        client(server, KEY_B) as bob,
    ):
        mine = alice.responses.create(model="echo", input="hello")
        with pytest.raises(openai.NotFoundError) as caught:
            bob.responses.create(model="echo", input="again", previous_response_id=mine.id)
        assert caught.value.code == "previous_response_not_found"
        assert caught.value.param == "previous_response_id"
        for made_up in ("resp_nope", response_id("no-such-session", uuid.uuid4().hex)):
            with pytest.raises(openai.NotFoundError):
                alice.responses.create(model="echo", input="x", previous_response_id=made_up)
        again = alice.responses.create(model="echo", input="again", previous_response_id=mine.id)
    assert again.output_text == "You said: again"


def test_store_false_keeps_nothing() -> None:
    with running_server(agents=["echo"]) as server, client(server) as sdk:
        response = sdk.responses.create(model="echo", input="hello", store=False)
        sessions = server.call(server.app_state.store.list_sessions())
        with pytest.raises(openai.NotFoundError):
            sdk.responses.create(model="echo", input="again", previous_response_id=response.id)
    assert response.output_text.startswith("You said: hello")
    assert sessions == []


REFUSED: list[tuple[dict[str, Any], str]] = [
    ({"tools": [{"type": "function", "name": "f", "parameters": {}}]}, "tools"),
    ({"input": [{"type": "function_call_output", "call_id": "c", "output": "1"}]}, "input[0]"),
    ({"input": [{"role": "user", "content": [{"type": "input_image"}]}]}, "input[0].content[0]"),
    ({"input": [{"role": "assistant", "content": "prefill"}]}, "input"),
    ({"text": {"format": {"type": "json_object"}}}, "text.format"),
    ({"background": True}, "background"),
]


@pytest.mark.parametrize(("change", "param"), REFUSED)
def test_what_cannot_be_served_is_refused(change: dict[str, Any], param: str) -> None:
    with running_server(agents=["echo"]) as server, client(server) as sdk:
        request: dict[str, Any] = {"model": "echo", "input": "hello", **change}
        with pytest.raises(openai.BadRequestError) as caught:
            sdk.responses.create(**request)
    assert caught.value.param == param


def test_unknown_model_is_not_found() -> None:
    with (
        running_server(agents=["echo"]) as server,
        client(server) as sdk,
        pytest.raises(openai.NotFoundError) as caught,
    ):
        sdk.responses.create(model="gpt-4o", input="hello")
    assert caught.value.code == "model_not_found"


def test_disconnect_cancels_the_turn_and_keeps_the_partial_answer() -> None:
    with running_server(agents={"slow": SlowStreamingAgent()}) as server, client(server) as sdk:
        stream = sdk.responses.create(model="slow", input="hello", stream=True)
        created = None
        for event in stream:
            if event.type == "response.created":
                created = event.response.id
            if isinstance(event, ResponseTextDeltaEvent):
                break
        assert created is not None
        turn = server.app_state.turns.get(stream.response.headers["x-turn-id"])
        assert turn is not None
        stream.close()
        server.call(turn.wait())
        stored = _stored(server, _session(created))
    assert stored[-1].status == "interrupted"
    assert stored[-1].content.startswith("word0 ")


async def test_async_client_streams_on_a_continued_session() -> None:
    with running_server(agents=["echo"]) as server:
        async with async_client(server) as sdk:
            first = await sdk.responses.create(model="echo", input="hello")
            stream = await sdk.responses.create(
                model="echo", input="again", previous_response_id=first.id, stream=True
            )
            events = [event async for event in stream]
    done = events[-1]
    assert isinstance(done, ResponseCompletedEvent)
    assert done.response.output_text == "You said: again"
    assert _session(done.response.id) == _session(first.id)


def _valid(session_id: str) -> bool:
    try:
        validate_session_id(session_id)
    except InvalidInputError:
        return False
    return True


@given(st.text(min_size=1, max_size=128).filter(_valid))
def test_a_response_id_carries_any_session_id(session_id: str) -> None:
    turn_id = uuid.uuid4().hex
    value = response_id(session_id, turn_id)
    assert session_of(value) == session_id
    assert session_of(value + "=") is None
    assert session_of(value[:-1] + "g") is None  # turn ids are hex
    assert session_of(value.removeprefix("resp_")) is None
