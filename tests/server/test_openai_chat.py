"""The OpenAI Chat Completions and Models APIs, with the official SDK as the client, over real
HTTP against a real uvicorn."""

from __future__ import annotations

from typing import Any

import httpx2 as httpx
import openai
import pytest

from agentcli.messages import Message

from ..agents_for_tests import FailingAgent, RecordingAgent, SlowStreamingAgent
from .openai_fakes import KEY_A, KEY_B, USAGE, ToolingAgent, async_client, client, extra
from .running import RunningServer, running_server, server_settings

USER: Any = [{"role": "user", "content": "hello"}]


def _stored(server: RunningServer, session_id: str) -> list[Message]:
    messages: list[Message] = server.call(server.app_state.store.read(session_id))
    return messages


def test_models_are_the_served_agents() -> None:
    agents = {"tooling": ToolingAgent(), "recording": RecordingAgent()}
    with running_server(agents=agents) as server, client(server) as sdk:
        models = sdk.models.list()
        assert [m.id for m in models.data] == ["tooling", "recording"]
        assert {(m.object, m.owned_by) for m in models.data} == {("model", "agentcli")}
        assert sdk.models.retrieve("recording").id == "recording"
        with pytest.raises(openai.NotFoundError) as caught:
            sdk.models.retrieve("gpt-4o")
        assert caught.value.code == "model_not_found"


def test_completion_reports_usage_and_tool_activity_without_tool_calls() -> None:
    with running_server(agents={"tooling": ToolingAgent()}) as server, client(server) as sdk:
        completion = sdk.chat.completions.create(model="tooling", messages=USER)
    choice = completion.choices[0]
    assert choice.message.content == "The answer is 42."
    # The agent ran its tool itself: nothing for the client to run.
    assert choice.finish_reason == "stop"
    assert choice.message.tool_calls is None
    assert extra(choice.message)["tool_activity"] == [
        {"type": "tool_call", "id": "call-1", "name": "lookup", "arguments": '{"q": "x"}'},
        {
            "type": "tool_result",
            "tool_call_id": "call-1",
            "name": "lookup",
            "content": "42",
            "is_error": False,
        },
    ]
    assert completion.id.startswith("chatcmpl-")
    assert completion.model == "tooling"
    usage = completion.usage
    assert usage is not None
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (40, 6, 46)
    assert usage.prompt_tokens_details is not None
    assert usage.prompt_tokens_details.cached_tokens == USAGE.cached_tokens


def test_stream_with_usage_ends_with_a_usage_chunk() -> None:
    with running_server(agents={"tooling": ToolingAgent()}) as server, client(server) as sdk:
        stream = sdk.chat.completions.create(
            model="tooling", messages=USER, stream=True, stream_options={"include_usage": True}
        )
        chunks = list(stream)
        state = server.app_state
        timed = state.metrics.registry.get_sample_value(
            "agent_time_to_first_event_seconds_count",
            {"agent": "tooling", "endpoint": "/v1/chat/completions"},
        )
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "The answer is 42."
    activity = [extra(c.choices[0].delta).get("tool_activity") for c in chunks if c.choices]
    assert [a[0]["type"] for a in activity if a] == ["tool_call", "tool_result"]
    assert all(c.choices[0].delta.tool_calls is None for c in chunks if c.choices)
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    last = chunks[-1]
    assert last.choices == []
    assert last.usage is not None
    assert (last.usage.prompt_tokens, last.usage.completion_tokens) == (40, 6)
    assert all(c.usage is None for c in chunks[:-1])
    assert len({c.id for c in chunks}) == 1
    assert timed == 1


def test_stream_wire_format_has_sse_headers_and_done() -> None:
    with running_server(agents=["echo"]) as server, httpx.Client(base_url=server.url) as http:
        body = {"model": "echo", "messages": USER, "stream": True}
        response = http.post("/v1/chat/completions", json=body)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["x-accel-buffering"] == "no"
    assert "x-session-id" not in response.headers  # stateless: no session
    frames = [f for f in response.text.split("\n\n") if f]
    assert all(f.startswith("data: ") for f in frames)
    assert frames[-1] == "data: [DONE]"


def test_without_a_session_the_messages_are_the_history() -> None:
    agent = RecordingAgent()
    messages: Any = [
        {"role": "system", "content": "Answer briefly."},
        {"role": "user", "content": "one"},
        {"role": "assistant", "content": "reply to one"},
        {"role": "developer", "content": [{"type": "text", "text": "No jargon."}]},
        {"role": "user", "content": [{"type": "text", "text": "two"}]},
    ]
    with running_server(agents={"rec": agent}) as server, client(server) as sdk:
        completion = sdk.chat.completions.create(model="rec", messages=messages)
        sessions = server.call(server.app_state.store.list_sessions())
    assert completion.choices[0].message.content == "reply 1"
    context = agent.contexts[0]
    assert context.input == "two"
    assert [(m.role, m.content) for m in context.conversation_history] == [
        ("system", "Answer briefly."),
        ("user", "one"),
        ("assistant", "reply to one"),
        ("system", "No jargon."),
    ]
    # The operator's prompt is untouched; the client's are messages in the window.
    assert context.system_prompt is None
    assert sessions == []  # the scratch session went with the request


def test_with_a_session_the_server_keeps_the_history() -> None:
    agent = RecordingAgent()
    with running_server(agents={"rec": agent}) as server, client(server) as sdk:
        manager = server.app_state.managers["rec"]
        server.call(manager.set_system_prompt("s-1", "You are the operator's agent."))
        system: Any = {"role": "system", "content": "Be kind."}
        sdk.chat.completions.create(
            model="rec", messages=[system, *USER], extra_body={"session_id": "s-1"}
        )
        ignored: Any = {"role": "assistant", "content": "not from the server"}
        raw = sdk.chat.completions.with_raw_response.create(
            model="rec",
            messages=[system, ignored, {"role": "user", "content": "again"}],
            extra_headers={"X-Session-ID": "s-1"},
        )
        stored = _stored(server, "s-1")
    assert raw.headers["x-session-id"] == "s-1"
    assert raw.parse().choices[0].message.content == "reply 2"
    second = agent.contexts[1]
    assert second.input == "again"
    assert second.system_prompt == "You are the operator's agent."
    assert [(m.role, m.content) for m in second.conversation_history] == [
        ("system", "Be kind."),  # once, though sent with every request
        ("user", "hello"),
        ("assistant", "reply 1"),
    ]
    assert [m.role for m in stored] == ["system", "user", "assistant", "user", "assistant"]


def test_a_session_belongs_to_its_key() -> None:
    settings = server_settings(api_keys=f"{KEY_A},{KEY_B}")
    with (
        running_server(settings, agents=["echo"]) as server,
        client(server, KEY_A) as alice,
        client(server, KEY_B) as bob,
        client(server, "not-a-key-of-this-server") as stranger,
    ):
        session: Any = {"session_id": "mine"}
        alice.chat.completions.create(model="echo", messages=USER, extra_body=session)
        with pytest.raises(openai.NotFoundError) as caught:
            bob.chat.completions.create(model="echo", messages=USER, extra_body=session)
        assert caught.value.code == "session_not_found"
        with pytest.raises(openai.AuthenticationError):
            stranger.models.list()
        with pytest.raises(openai.AuthenticationError) as refused:
            stranger.chat.completions.create(model="echo", messages=USER)
        assert refused.value.code == "invalid_api_key"


REFUSED: list[tuple[dict[str, Any], str, str]] = [
    ({"n": 2}, "n", "unsupported_parameter"),
    (
        {"tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}]},
        "tools",
        "unsupported_parameter",
    ),
    ({"response_format": {"type": "json_object"}}, "response_format", "unsupported_parameter"),
    ({"logprobs": True}, "logprobs", "unsupported_parameter"),
    (
        {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}]},
        "messages[0].content[0]",
        "unsupported_content",
    ),
    (
        {"messages": [*USER, {"role": "assistant", "content": "prefill"}]},
        "messages",
        "unsupported_parameter",
    ),
    (
        {"messages": [*USER, {"role": "tool", "tool_call_id": "c", "content": "1"}]},
        "messages[1]",
        "unsupported_parameter",
    ),
    ({"messages": [{"role": "user", "content": "a\x00b"}]}, "", "invalid_input"),
]


@pytest.mark.parametrize(("change", "param", "code"), REFUSED)
def test_what_cannot_be_served_is_refused_in_openai_shape(
    change: dict[str, Any], param: str, code: str
) -> None:
    with running_server(agents=["echo"]) as server, client(server) as sdk:
        request: dict[str, Any] = {"model": "echo", "messages": USER, **change}
        with pytest.raises(openai.BadRequestError) as caught:
            sdk.chat.completions.create(**request)
    error = caught.value
    assert error.status_code == 400
    assert error.code == code
    assert isinstance(error.body, dict)
    assert set(error.body) == {"message", "type", "code", "param"}
    if param:
        assert error.param == param


def test_unknown_model_and_provider_settings_in_the_body() -> None:
    agent = RecordingAgent()
    with running_server(agents={"rec": agent}) as server, client(server) as sdk:
        with pytest.raises(openai.NotFoundError) as caught:
            sdk.chat.completions.create(model="openai:gpt-4o", messages=USER)
        assert caught.value.code == "model_not_found"
        # Provider settings in the body go nowhere; sampling settings are ignored.
        smuggled: Any = {"base_url": "http://203.0.113.1", "api_key": "sk-x", "provider": "x"}
        completion = sdk.chat.completions.create(
            model="rec", messages=USER, temperature=0.1, max_tokens=5, extra_body=smuggled
        )
    assert completion.choices[0].message.content == "reply 1"
    assert agent.contexts[0].metadata == {}


def test_failures_are_statuses_before_the_answer_and_errors_in_the_stream() -> None:
    with running_server(agents={"failing": FailingAgent()}) as server, client(server) as sdk:
        with pytest.raises(openai.InternalServerError) as caught:
            sdk.chat.completions.create(model="failing", messages=USER)
        assert caught.value.status_code == 502
        assert caught.value.code == "agent_error"
        stream = sdk.chat.completions.create(model="failing", messages=USER, stream=True)
        with pytest.raises(openai.APIError) as streamed:
            list(stream)
    assert streamed.value.code == "agent_error"


def test_disconnect_cancels_the_turn_and_keeps_the_partial_answer() -> None:
    with running_server(agents={"slow": SlowStreamingAgent()}) as server, client(server) as sdk:
        session: Any = {"session_id": "slow-1"}
        stream = sdk.chat.completions.create(
            model="slow", messages=USER, stream=True, extra_body=session
        )
        for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                break
        # While the turn runs, the session is busy: a status, not a queue.
        with pytest.raises(openai.ConflictError) as busy:
            sdk.chat.completions.create(model="slow", messages=USER, extra_body=session)
        assert busy.value.code == "session_busy"
        turn = server.app_state.turns.get(stream.response.headers["x-turn-id"])
        assert turn is not None
        stream.close()
        server.call(turn.wait())
        stored = _stored(server, "slow-1")
    assert turn.failure is not None
    assert turn.failure.code == "turn_cancelled"
    assert stored[-1].role == "assistant"
    assert stored[-1].status == "interrupted"
    assert stored[-1].content.startswith("word0 ")


async def test_async_client_streams_and_completes() -> None:
    with running_server(agents=["echo"]) as server:
        async with async_client(server) as sdk:
            completion = await sdk.chat.completions.create(model="echo", messages=USER)
            stream = await sdk.chat.completions.create(model="echo", messages=USER, stream=True)
            pieces = [c.choices[0].delta.content or "" async for c in stream if c.choices]
    answer = completion.choices[0].message.content
    assert answer is not None
    assert answer.startswith("You said: hello")
    assert "".join(pieces) == answer
