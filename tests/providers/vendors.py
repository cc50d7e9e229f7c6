"""One face for both vendors, so each fault scenario is written once and run against each.

A ``Vendor`` builds its agent against a ``FakeServer`` and scripts replies in its own wire
format; tests read the requests the server recorded through it too.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from pydantic import SecretStr

from agentcli.agents.anthropic import AnthropicAgent
from agentcli.agents.openai import OpenAIAgent
from agentcli.agents.provider_agent import ProviderAgent
from agentcli.config import Settings, load_settings
from agentcli.tools import Tool

from . import fake_anthropic, fake_openai
from .fake_http import FakeServer, Part, Recorded, Reply, sse_reply

# Short limits keep fault tests fast; each test may override them.
FAST = {
    "request_timeout": 3.0,
    "max_retries": 3,
    "max_retry_after": 5.0,
    "stream_idle_timeout": 0.5,
    "max_tool_rounds": 4,
}


@dataclass(frozen=True)
class CallSpec:
    """A tool call the fake model makes: id, tool name, arguments."""

    id: str
    name: str
    arguments: dict[str, Any]


@dataclass
class Vendor:
    name: str
    key: str
    model: str
    key_variable: str
    agents: list[ProviderAgent[Any]] = field(default_factory=list)

    # ------------------------------------------------------------------ agents

    async def aclose(self) -> None:
        """Close every agent this vendor made."""
        for agent in self.agents:
            await agent.aclose()

    def settings(self, server: FakeServer | str, **overrides: Any) -> Settings:
        """Settings for a fake ``server`` (or any base URL such as a closed port)."""
        url = server if isinstance(server, str) else server.url
        values: dict[str, Any] = {**FAST, **overrides}
        if self.name == "openai":
            values.setdefault("openai_api_key", self.key)
            values.setdefault("openai_base_url", f"{url}/v1")
        else:
            values.setdefault("anthropic_api_key", self.key)
            values.setdefault("anthropic_base_url", url)
        return load_settings(env_file=None, **values)

    def agent(
        self,
        server: FakeServer | str,
        *,
        tools: list[Tool] | None = None,
        model: str | None = None,
        **overrides: Any,
    ) -> ProviderAgent[Any]:
        settings = self.settings(server, **overrides)
        cls = OpenAIAgent if self.name == "openai" else AnthropicAgent
        agent: ProviderAgent[Any] = cls.from_settings(
            model or self.model, settings, tools=tools or []
        )
        self.agents.append(agent)
        return agent

    def agent_with_key(
        self, server: FakeServer | str, key: str, **overrides: Any
    ) -> ProviderAgent[Any]:
        field_name = "openai_api_key" if self.name == "openai" else "anthropic_api_key"
        overrides[field_name] = SecretStr(key)
        return self.agent(server, **overrides)

    # ------------------------------------------------------------------ replies

    def answer(self, text: str = "Hello!", model: str | None = None, **usage: Any) -> Reply:
        model = model or self.model
        if self.name == "openai":
            return fake_openai.completion(text, model=model, **usage)
        return fake_anthropic.message(text, model=model, **_anthropic_usage(usage))

    def stream_parts(
        self,
        pieces: tuple[str, ...] = ("Hel", "lo", "!"),
        calls: tuple[CallSpec, ...] = (),
        model: str | None = None,
        **usage: Any,
    ) -> list[Part]:
        model = model or self.model
        if self.name == "openai":
            return fake_openai.stream_parts(
                pieces,
                model=model,
                calls=tuple(fake_openai.Call(c.id, c.name, json.dumps(c.arguments)) for c in calls),
                **usage,
            )
        return fake_anthropic.stream_parts(
            pieces,
            model=model,
            calls=tuple(fake_anthropic.Call(c.id, c.name, c.arguments) for c in calls),
            **_anthropic_usage(usage),
        )

    def stream(
        self, pieces: tuple[str, ...] = ("Hel", "lo", "!"), model: str | None = None, **usage: Any
    ) -> Reply:
        return sse_reply(self.stream_parts(pieces, model=model, **usage))

    def tool_calls(self, *calls: CallSpec, stream: bool, text: str = "", **usage: Any) -> Reply:
        if stream:
            return sse_reply(self.stream_parts((text,) if text else (), calls, **usage))
        if self.name == "openai":
            return fake_openai.completion(
                text or None,
                calls=tuple(fake_openai.Call(c.id, c.name, json.dumps(c.arguments)) for c in calls),
                **usage,
            )
        return fake_anthropic.message(
            text,
            calls=tuple(fake_anthropic.Call(c.id, c.name, c.arguments) for c in calls),
            **_anthropic_usage(usage),
        )

    def reply(self, text: str, *, stream: bool, **usage: Any) -> Reply:
        return self.stream((text,), **usage) if stream else self.answer(text, **usage)

    def rate_limited(self, retry_after: str) -> Reply:
        if self.name == "openai":
            return fake_openai.rate_limited(retry_after=retry_after)
        return fake_anthropic.rate_limited(retry_after)

    def bad_key(self) -> Any:
        return fake_openai.bad_key if self.name == "openai" else fake_anthropic.bad_key()

    def context_too_long(self) -> Reply:
        if self.name == "openai":
            return fake_openai.context_too_long()
        return fake_anthropic.context_too_long()

    def model_not_found(self) -> Reply:
        if self.name == "openai":
            return fake_openai.model_not_found()
        return fake_anthropic.model_not_found()

    def server_error(self, status: int = 500, headers: dict[str, str] | None = None) -> Reply:
        # A short Retry-After keeps the SDK's backoff out of the test's run time.
        headers = {"retry-after-ms": "10"} if headers is None else headers
        if self.name == "openai":
            return fake_openai.error(
                status, "The server had an error.", type="server_error", headers=headers
            )
        return fake_anthropic.error(
            status, "Internal server error", type="api_error", headers=headers
        )

    def refusal(self, status: int, headers: dict[str, str]) -> Reply:
        """A rate limit (429) or a server error (5xx) with exactly these headers."""
        if status != 429:
            return self.server_error(status, headers)
        if self.name == "openai":
            reply = fake_openai.rate_limited()
        else:
            reply = fake_anthropic.rate_limited("0")
            del reply.headers["retry-after"]
        reply.headers.update(headers)
        return reply

    # ------------------------------------------------------------------ reading requests

    def messages(self, request: Recorded) -> list[dict[str, Any]]:
        return list(request.json["messages"])

    def user_texts(self, request: Recorded) -> list[str]:
        """The text of every user turn (Anthropic's are lists of blocks)."""
        texts = []
        for message in self.messages(request):
            if message["role"] != "user":
                continue
            content = message["content"]
            if isinstance(content, str):
                texts.append(content)
            else:
                texts.extend(b["text"] for b in content if b["type"] == "text")
        return texts

    def tool_results(self, request: Recorded) -> dict[str, str]:
        """Tool results the request sends back, by call id."""
        found: dict[str, str] = {}
        for message in self.messages(request):
            if self.name == "openai":
                if message["role"] == "tool":
                    found[message["tool_call_id"]] = message["content"]
            elif message["role"] == "user" and isinstance(message["content"], list):
                for block in message["content"]:
                    if block["type"] == "tool_result":
                        found[block["tool_use_id"]] = block["content"]
        return found

    def system(self, request: Recorded) -> Any:
        body = request.json
        if self.name == "openai":
            return [m["content"] for m in body["messages"] if m["role"] == "system"]
        system = body.get("system")
        if system is None:
            return []
        return [system] if isinstance(system, str) else [part["text"] for part in system]


def after(parts: list[Part], marker: str) -> int:
    """The index just past the first part that contains ``marker``, for splicing in faults."""
    needle = marker.encode()
    return next(i for i, p in enumerate(parts) if isinstance(p, bytes) and needle in p) + 1


def _anthropic_usage(usage: dict[str, Any]) -> dict[str, Any]:
    """The OpenAI-style usage names the tests use, as ``fake_anthropic`` calls them."""
    out = dict(usage)
    out.pop("reasoning", None)
    if "cached" in out:
        out["cache_read"] = out.pop("cached")
    return out


def make_vendor(name: str, key: str) -> Vendor:
    if name == "openai":
        return Vendor(name, key, fake_openai.MODEL, "OPENAI_API_KEY")
    return Vendor(name, key, fake_anthropic.MODEL, "ANTHROPIC_API_KEY")
