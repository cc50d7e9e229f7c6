"""Spans over real OTLP/HTTP: a service turn with one tool call, exported to a loopback
collector and decoded from protobuf."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx2 as httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span as ProtoSpan
from opentelemetry.proto.trace.v1.trace_pb2 import Status

from agentcli import observability
from agentcli.agents.openai import OpenAIAgent
from agentcli.tools import tool

from ..providers import fake_openai
from ..providers.fake_http import FakeServer, sse_reply
from ..server.running import running_server, server_settings
from .receiver import Receiver, wait_for

KEY = "sk-test-0123456789abcdefghijklmnopqrstuvwxyz"
QUESTION = "What's the weather in Paris?"
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"
# Words of the conversation (question, tool arguments and result, answers): never in a span.
CONTENT = ("Paris", "sunny", "Let me check", "weather in")


@dataclass
class Found:
    name: str
    kind: int
    trace_id: str
    span_id: str
    parent: str
    status: int
    attributes: dict[str, Any]


def _value(value: AnyValue) -> Any:
    which = value.WhichOneof("value")
    return getattr(value, which) if which else None


def _spans(collector: Receiver) -> list[Found]:
    found = []
    for posted in collector.posted("/v1/traces"):
        request = ExportTraceServiceRequest.FromString(posted.body)
        for resource in request.resource_spans:
            service = {a.key: _value(a.value) for a in resource.resource.attributes}
            assert service["service.name"] == "agentcli-test"
            for scope in resource.scope_spans:
                found += [_found(span) for span in scope.spans]
    return found


def _found(span: ProtoSpan) -> Found:
    return Found(
        name=span.name,
        kind=span.kind,
        trace_id=span.trace_id.hex(),
        span_id=span.span_id.hex(),
        parent=span.parent_span_id.hex(),
        status=span.status.code,
        attributes={a.key: _value(a.value) for a in span.attributes},
    )


@pytest.fixture
def provider() -> Iterator[FakeServer]:
    fake = FakeServer().start()
    yield fake
    fake.stop()


def _script(provider: FakeServer) -> None:
    call = fake_openai.Call("call_w1", "get_weather", '{"city": "Paris"}')
    provider.add(
        sse_reply(
            fake_openai.stream_parts(("Let me check.",), calls=(call,), prompt=50, output=20)
        ),
        fake_openai.stream(("It is sunny in Paris.",), prompt=80, output=10),
    )


@tool
async def get_weather(city: str) -> str:
    """The weather in a city."""
    return f"sunny in {city}"


def test_a_turn_with_a_tool_call_is_traced(provider: FakeServer, collector: Receiver) -> None:
    settings = server_settings(
        openai_api_key=KEY,
        openai_base_url=f"{provider.url}/v1",
        otel_endpoint=f"{collector.url}/v1/traces",
        otel_service_name="agentcli-test",
    )
    agent = OpenAIAgent.from_settings(
        fake_openai.MODEL, settings, tools=[get_weather], max_tokens=256
    )
    _script(provider)
    traceparent = f"00-{TRACE_ID}-{CALLER_SPAN}-01"
    with (
        running_server(settings, agents={"assistant": agent}) as server,
        httpx.Client(base_url=server.url, timeout=30) as client,
    ):
        answer = client.post(
            "/chat", json={"message": QUESTION}, headers={"traceparent": traceparent}
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["output"] == "It is sunny in Paris."
        wait_for(
            lambda: any(s.name == "POST /chat" for s in _spans(collector)),
            poke=observability.flush,
        )
    spans = {s.name: s for s in _spans(collector)}
    chats = [s for s in _spans(collector) if s.name.startswith("chat ")]

    request = spans["POST /chat"]
    assert request.kind == ProtoSpan.SPAN_KIND_SERVER
    assert (request.trace_id, request.parent) == (TRACE_ID, CALLER_SPAN)  # the caller's trace
    assert request.attributes["http.request.method"] == "POST"
    assert request.attributes["http.route"] == "/chat"
    assert request.attributes["http.response.status_code"] == 200

    turn = spans["invoke_agent openai:gpt-4o-mini"]
    assert turn.parent == request.span_id
    assert turn.attributes["gen_ai.operation.name"] == "invoke_agent"
    assert turn.attributes["gen_ai.agent.name"] == "openai:gpt-4o-mini"
    assert turn.attributes["gen_ai.conversation.id"] == answer.json()["session_id"]
    assert turn.attributes["gen_ai.usage.input_tokens"] == 130
    assert turn.attributes["gen_ai.usage.output_tokens"] == 30

    assert [c.name for c in chats] == ["chat gpt-4o-mini"] * 2
    assert [c.attributes["gen_ai.usage.input_tokens"] for c in chats] == [50, 80]
    assert [c.attributes["gen_ai.usage.output_tokens"] for c in chats] == [20, 10]
    for chat in chats:
        assert chat.parent == turn.span_id
        assert chat.kind == ProtoSpan.SPAN_KIND_CLIENT
        assert chat.attributes["gen_ai.operation.name"] == "chat"
        assert chat.attributes["gen_ai.provider.name"] == "openai"
        assert chat.attributes["gen_ai.request.model"] == fake_openai.MODEL
        assert chat.attributes["gen_ai.response.model"] == fake_openai.MODEL
        assert chat.attributes["gen_ai.request.max_tokens"] == 256

    run = spans["execute_tool get_weather"]
    assert run.parent == turn.span_id
    assert run.attributes == {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": "get_weather",
        "gen_ai.tool.call.id": "call_w1",
        "gen_ai.tool.type": "function",
    }

    assert len(spans) == 4
    assert len(chats) == 2
    for span in spans.values():
        assert span.trace_id == TRACE_ID
        assert span.status != Status.STATUS_CODE_ERROR
        texts = [span.name, *(str(v) for v in span.attributes.values())]
        assert not [word for word in CONTENT for text in texts if word in text], span


def test_a_provider_failure_marks_its_spans_with_the_error_type(
    provider: FakeServer, collector: Receiver
) -> None:
    settings = server_settings(
        openai_api_key=KEY,
        openai_base_url=f"{provider.url}/v1",
        otel_endpoint=f"{collector.url}/v1/traces",
        otel_service_name="agentcli-test",
        max_retries=0,
    )
    provider.add(fake_openai.bad_key)
    with (
        running_server(settings, agents=["openai:gpt-4o-mini"]) as server,
        httpx.Client(base_url=server.url, timeout=30) as client,
    ):
        failed = client.post("/chat", json={"message": QUESTION})
        assert failed.status_code == 502, failed.text
        missing = client.get("/sessions/no-such-session")
        assert missing.status_code == 404
        wait_for(lambda: len(_spans(collector)) >= 4, poke=observability.flush)
    spans = {s.name: s for s in _spans(collector)}
    error = "agentcli.errors.AuthenticationError"
    for name in ("chat gpt-4o-mini", "invoke_agent openai:gpt-4o-mini"):
        assert spans[name].status == Status.STATUS_CODE_ERROR
        assert spans[name].attributes["error.type"] == error
    request = spans["POST /chat"]
    assert request.status == Status.STATUS_CODE_ERROR  # a 502
    assert request.attributes["error.type"] == "502"
    not_found = spans["GET /sessions/{session_id}"]
    assert not_found.status != Status.STATUS_CODE_ERROR  # the client's mistake
    assert not_found.attributes["http.route"] == "/sessions/{session_id}"
    assert "no-such-session" not in not_found.name
