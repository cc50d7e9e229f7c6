"""``/set [NAME=VALUE ...]`` in the chat: lists, checks (as ``-o`` does), saves and drops the
session's request options, and later turns send them: to an agent of our own, and to a fake
OpenAI or Anthropic server on 127.0.0.1 under the vendor's names."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from prompt_toolkit.completion import CompleteEvent
from prompt_toolkit.document import Document

from agentcli.cli.prompt_input import SlashCompleter
from agentcli.cli.repl import ChatOptions, Repl
from agentcli.cli.set_command import completions
from agentcli.config import load_settings

from ..providers.fake_http import FakeServer
from ..providers.vendor_fixtures import TEST_KEY as KEY
from ..providers.vendors import Vendor, make_vendor
from .inprocess_chat import ChatStarter
from .inprocess_chat import printed as output

AGENT = f"{Path(__file__).parent / 'options_agent.py'}:OptionsAgent"
NONE_SET = "no options set; /set NAME=VALUE sets one of temperature, top_p, max_output_tokens"


@pytest.fixture
async def chat(workdir: Path, chat_starter: ChatStarter) -> Repl:
    """A chat with the agent that answers with the options it was given, 100 columns wide."""
    settings = load_settings(env_file=None)
    return await chat_starter.start(settings, ChatOptions(AGENT, session="opts"), width=100)


async def sent(repl: Repl) -> dict[str, object]:
    """The options the agent was given on a turn sent now."""
    await repl.handle("hi")
    line = next(x for x in output(repl, one_line=False).splitlines() if x.startswith("options:"))
    options: dict[str, object] = json.loads(line.removeprefix("options: "))
    return options


async def test_set_lists_saves_and_later_turns_send_them(chat: Repl) -> None:
    await chat.handle("/set")
    assert NONE_SET in output(chat)

    await chat.handle("/set temperature=0.2 max_output_tokens=500")
    assert output(chat) == "options: max_output_tokens=500 temperature=0.2"
    assert await sent(chat) == {"max_output_tokens": 500, "temperature": 0.2}

    await chat.handle("/set temperature=1 'stop=END here'")
    assert output(chat) == 'options: max_output_tokens=500 stop="END here" temperature=1.0'
    await chat.handle("/set")
    assert output(chat) == 'options: max_output_tokens=500 stop="END here" temperature=1.0'
    expected = {"max_output_tokens": 500, "stop": ["END here"], "temperature": 1.0}
    assert await sent(chat) == expected


async def test_an_empty_value_drops_an_option(chat: Repl) -> None:
    await chat.handle("/set temperature=0.2 seed=7")
    output(chat)

    await chat.handle("/set temperature=")
    assert output(chat) == "options: seed=7"
    assert await sent(chat) == {"seed": 7}

    await chat.handle("/set seed= top_p=")
    assert output(chat) == "not set before: top_p no options set: the agent's defaults apply"
    assert await sent(chat) == {}
    await chat.handle("/set")
    assert NONE_SET in output(chat)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("temp=0.2", "/set 'temp=0.2': use NAME=VALUE with one of temperature, top_p"),
        ("temperature", "use NAME=VALUE"),
        ("temperature=warm", "/set temperature: 'warm' is not a number"),
        ("temperature=2.5", "option temperature=2.5: use a number from 0 to 2"),
        ("max_output_tokens=0", "from 1 to 10,000,000"),
        ("seed=x", "is not a whole number"),
    ],
)
async def test_a_wrong_option_changes_nothing(
    chat: Repl, capsys: pytest.CaptureFixture[str], change: str, message: str
) -> None:
    await chat.handle("/set top_p=0.5")
    output(chat)
    capsys.readouterr()

    await chat.handle(f"/set seed=1 {change}")  # the good change is not saved either

    assert message in capsys.readouterr().err
    assert output(chat) == ""
    await chat.handle("/set")
    assert output(chat) == "options: top_p=0.5"


async def test_unbalanced_quotes_are_a_usage_line(
    chat: Repl, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    await chat.handle("/set 'stop=END")
    assert "Usage: /set [NAME=VALUE ...]" in capsys.readouterr().err


async def test_the_echo_agent_says_it_ignores_them(
    workdir: Path, chat_starter: ChatStarter
) -> None:
    repl = await chat_starter.start(load_settings(env_file=None), ChatOptions("echo"), width=100)
    await repl.handle("/set temperature=0.2")
    assert output(repl) == (
        "options: temperature=0.2 options are saved but ignored by the echo agent"
    )


async def test_the_chats_own_options_come_first_and_set_changes_them(
    workdir: Path, chat_starter: ChatStarter
) -> None:
    options = ChatOptions(AGENT, request_options={"top_p": 0.5, "seed": 3})
    repl = await chat_starter.start(load_settings(env_file=None), options, width=100)
    await repl.handle("/set")
    assert output(repl) == "options: seed=3 top_p=0.5"
    await repl.handle("/set seed=")
    assert output(repl) == "options: top_p=0.5"
    assert await sent(repl) == {"top_p": 0.5}


def test_tab_offers_the_option_names_after_set() -> None:
    completer = SlashCompleter({"/set": "options"}, {"/set": completions})
    found = completer.get_completions(Document("/set t"), CompleteEvent())
    assert [c.text for c in found] == ["temperature=", "top_p="]
    completer = SlashCompleter({"/set": "options"}, {"/set": completions}, frozenset({"/set"}))
    later = list(completer.get_completions(Document("/set seed=3 temp"), CompleteEvent()))
    assert [(c.text, c.start_position) for c in later] == [("temperature=", -4)]
    first_only = SlashCompleter({"/agent": "agent"}, {"/agent": lambda: ["echo"]})
    assert not list(first_only.get_completions(Document("/agent echo e"), CompleteEvent()))


# ---------------------------------------------------------------------- provider agents


async def vendor_chat(
    chat_starter: ChatStarter, server: FakeServer, vendor: Vendor, **settings: object
) -> Repl:
    spec = f"{vendor.name}:{vendor.model}"
    return await chat_starter.start(vendor.settings(server, **settings), ChatOptions(spec))


async def test_a_later_turn_sends_them_to_the_vendor(
    workdir: Path, chat_starter: ChatStarter, server: FakeServer, vendor: Vendor
) -> None:
    repl = await vendor_chat(chat_starter, server, vendor, max_output_tokens=321)
    server.add(vendor.reply("cool", stream=True), vendor.reply("again", stream=True))
    await repl.handle("/set temperature=0.25 max_output_tokens=55 stop=END")
    assert output(repl) == 'options: max_output_tokens=55 stop="END" temperature=0.25'

    await repl.handle("hi")
    await repl.handle("/set temperature= stop=")
    await repl.handle("again")

    first, second = (request.json for request in server.requests)
    cap = "max_completion_tokens" if vendor.name == "openai" else "max_tokens"
    stop = "stop" if vendor.name == "openai" else "stop_sequences"
    assert (first["temperature"], first[cap], first[stop]) == (0.25, 55, ["END"])
    assert second[cap] == 55  # still over the setting's 321
    assert "temperature" not in second
    assert stop not in second


async def test_ranges_are_the_current_agents(
    workdir: Path,
    chat_starter: ChatStarter,
    server: FakeServer,
    capsys: pytest.CaptureFixture[str],
) -> None:
    anthropic = make_vendor("anthropic", KEY)
    repl = await vendor_chat(chat_starter, server, anthropic)
    capsys.readouterr()

    await repl.handle("/set temperature=1.5")
    assert "option temperature=1.5: use a number from 0 to 1 for Anthropic models" in (
        capsys.readouterr().err
    )
    await repl.handle("/set seed=1")
    assert "option seed is not supported by Anthropic models" in capsys.readouterr().err
    await repl.handle("/set temperature=0.5")
    output(repl)
    # With what the session keeps: the next turn would be refused, so nothing is saved.
    await repl.handle("/set top_p=0.5")
    assert "Anthropic models take temperature or top_p, not both" in capsys.readouterr().err
    await repl.handle("/set")
    assert output(repl) == "options: temperature=0.5"
    await repl.handle("/set temperature= top_p=0.5")
    assert output(repl) == "options: top_p=0.5"
    assert server.requests == []
