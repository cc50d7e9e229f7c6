"""``-o NAME=VALUE`` on run and chat: checked before anything starts, saved with the session,
handed to the agent on every later turn, changed or dropped by a later ``-o``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from agentcli.cli.app import app
from agentcli.cli.exits import USAGE

AGENT = f"{Path(__file__).parent / 'options_agent.py'}:OptionsAgent"
runner = CliRunner()


@pytest.fixture(autouse=True)
def _workdir(workdir: Path) -> Path:
    return workdir


def invoke(*args: str, input: str | None = None) -> Result:
    return runner.invoke(app, list(args), input=input)


def answer(result: Result) -> dict[str, object]:
    """The options the agent said it was given."""
    assert result.exit_code == 0, result.output
    line = next(x for x in result.stdout.splitlines() if x.startswith("options: "))
    options: dict[str, object] = json.loads(line.removeprefix("options: "))
    return options


def test_options_are_saved_and_reach_later_turns() -> None:
    first = invoke("run", "-a", AGENT, "-s", "opts", "-o", "temperature=0.2", "-o", "seed=7", "hi")
    assert answer(first) == {"temperature": 0.2, "seed": 7}

    again = invoke("run", "-a", AGENT, "-s", "opts", "hello")
    assert answer(again) == {"temperature": 0.2, "seed": 7}


def test_a_later_option_overrides_and_an_empty_value_drops() -> None:
    invoke("run", "-a", AGENT, "-s", "opts", "-o", "temperature=0.2", "-o", "seed=7", "hi")

    changed = invoke(
        "run", "-a", AGENT, "-s", "opts", "--option", "temperature=1", "-o", "seed=", "hi"
    )
    assert answer(changed) == {"temperature": 1.0}


def test_chat_saves_its_options_and_a_resumed_chat_reuses_them() -> None:
    started = invoke("chat", "-a", AGENT, "-s", "talk", "-o", "top_p=0.5", input="hello\n")
    assert answer(started) == {"top_p": 0.5}

    resumed = invoke("chat", "-a", AGENT, "-s", "talk", "-o", "stop=END", input="again\n")
    assert answer(resumed) == {"stop": ["END"], "top_p": 0.5}


def test_options_are_not_carried_to_other_sessions() -> None:
    invoke("run", "-a", AGENT, "-s", "one", "-o", "temperature=0.2", "hi")
    assert answer(invoke("run", "-a", AGENT, "-s", "two", "hi")) == {}


def test_stop_may_be_repeated() -> None:
    result = invoke("run", "-a", AGENT, "-o", "stop=END", "-o", "stop=\n\n", "hi")
    assert answer(result) == {"stop": ["END", "\n\n"]}


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ("temp=0.2", "one of temperature, top_p, max_output_tokens, seed, stop"),
        ("temperature", "use NAME=VALUE"),
        ("temperature=warm", "'warm' is not a number"),
        ("temperature=2.5", "from 0 to 2"),
        ("temperature=nan", "is not a number"),
        ("top_p=1.5", "from 0 to 1"),
        ("max_output_tokens=0", "from 1 to 10,000,000"),
        ("max_output_tokens=10000001", "from 1 to 10,000,000"),
        ("max_output_tokens=1.5", "is not a whole number"),
        ("seed=x", "is not a whole number"),
    ],
)
def test_a_wrong_option_is_a_usage_error_before_anything_runs(option: str, message: str) -> None:
    result = invoke("run", "-a", AGENT, "-s", "never", "-o", option, "hi")
    assert result.exit_code == USAGE
    assert message in result.stderr
    assert "Traceback" not in result.output
    listed = json.loads(invoke("sessions", "list", "--json").stdout)
    assert listed == []  # nothing was stored


def test_ranges_are_per_provider(monkeypatch: pytest.MonkeyPatch) -> None:
    # The key and base URL are only checked, never used: the options fail first.
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-0123456789")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-0123456789")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    hot = invoke("run", "-a", "anthropic:claude-haiku-4-5", "-o", "temperature=1.5", "hi")
    assert hot.exit_code == USAGE
    assert "from 0 to 1 for Anthropic models" in hot.stderr
    seeded = invoke("run", "-a", "anthropic:claude-haiku-4-5", "-o", "seed=1", "hi")
    assert seeded.exit_code == USAGE
    assert "seed is not supported by Anthropic" in seeded.stderr
    both = invoke(
        "run", "-a", "anthropic:claude-haiku-4-5", "-o", "temperature=1", "-o", "top_p=1", "hi"
    )
    assert both.exit_code == USAGE
    assert "temperature or top_p, not both" in both.stderr
    stops = [arg for i in range(5) for arg in ("-o", f"stop=S{i}")]
    many = invoke("run", "-a", "openai:gpt-4o-mini", *stops, "hi")
    assert many.exit_code == USAGE
    assert "at most 4 stop sequences" in many.stderr


def test_the_echo_agent_says_it_ignores_them() -> None:
    result = invoke("run", "-a", "echo", "-o", "temperature=0.2", "hi")
    assert result.exit_code == 0, result.output
    assert "ignored by the echo agent" in result.stderr
    assert "You said: hi" in result.stdout
