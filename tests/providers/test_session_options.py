"""A session's request options (``-o``) in the requests the real SDKs send to a fake vendor on
127.0.0.1: each option under the vendor's own name, the answer cap over the setting, kept in a
SQLite file for the next manager, and refused before any request for a provider they do not fit.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import JsonValue

from agentcli.errors import InvalidInputError
from agentcli.messages import AgentContext
from agentcli.session import SessionManager
from agentcli.stores import open_store

from .fake_http import FakeServer
from .vendors import Vendor

# temperature and top_p together are refused for Anthropic (its newer models take only one).
OPTIONS: dict[str, JsonValue] = {"temperature": 0.25, "max_output_tokens": 55, "stop": ["END"]}


def sent(vendor: Vendor, body: dict[str, object]) -> dict[str, object]:
    """The request options in ``body``, under our names."""
    ours = {
        "max_completion_tokens" if vendor.name == "openai" else "max_tokens": "max_output_tokens",
        "stop" if vendor.name == "openai" else "stop_sequences": "stop",
        "temperature": "temperature",
        "top_p": "top_p",
        "seed": "seed",
    }
    return {ours[key]: value for key, value in body.items() if key in ours}


async def test_session_options_reach_the_request_under_the_vendors_names(
    server: FakeServer, vendor: Vendor
) -> None:
    server.add(vendor.reply("cool", stream=True))
    manager = SessionManager(vendor.agent(server, max_output_tokens=321))
    await manager.update_options("s1", OPTIONS)

    await manager.chat("s1", "hi")

    assert sent(vendor, server.requests[0].json) == OPTIONS  # 55 wins over the setting's 321


async def test_a_whole_answer_carries_them_too(server: FakeServer, vendor: Vendor) -> None:
    server.add(vendor.answer("whole"))
    agent = vendor.agent(server)
    options: dict[str, JsonValue] = {"top_p": 0.5, "stop": ["a", "b"], "max_output_tokens": 9}

    await agent.process(AgentContext(input="hi", session_id="s1", metadata={"options": options}))

    assert sent(vendor, server.requests[0].json) == options


async def test_openai_takes_a_seed(server: FakeServer, openai_vendor: Vendor) -> None:
    server.add(openai_vendor.reply("seeded", stream=True))
    manager = SessionManager(openai_vendor.agent(server))
    await manager.update_options("s1", {"seed": 42})

    await manager.chat("s1", "hi")

    assert server.requests[0].json["seed"] == 42


async def test_without_options_the_request_carries_none(server: FakeServer, vendor: Vendor) -> None:
    server.add(vendor.reply("plain", stream=True))
    manager = SessionManager(vendor.agent(server))

    await manager.chat("s1", "hi")

    body = server.requests[0].json
    assert not {"temperature", "top_p", "seed", "stop", "stop_sequences"} & set(body)


async def test_options_are_kept_in_the_store_for_the_next_manager(
    server: FakeServer, vendor: Vendor, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'sessions.db'}"
    first = SessionManager(vendor.agent(server), store=open_store(url))
    assert await first.update_options("s1", {"temperature": 0.5}) == {"temperature": 0.5}
    assert await first.update_options("s1", {"top_p": 0.5, "temperature": None}) == {"top_p": 0.5}
    await first.store.close()

    server.add(vendor.reply("later", stream=True))
    second = SessionManager(vendor.agent(server), store=open_store(url))
    await second.chat("s1", "hi")
    await second.store.close()

    body = server.requests[0].json
    assert body["top_p"] == 0.5
    assert "temperature" not in body


async def test_options_that_do_not_fit_the_provider_fail_before_any_request(
    server: FakeServer, anthropic_vendor: Vendor
) -> None:
    manager = SessionManager(anthropic_vendor.agent(server))
    await manager.update_options("s1", {"temperature": 1.5})  # saved for an OpenAI agent

    with pytest.raises(InvalidInputError, match=r"from 0 to 1 for Anthropic models.*-o NAME="):
        await manager.chat("s1", "hi")

    assert server.requests == []
