"""Fenced code blocks of an answer, and ``run -x`` printing only them."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from agentcli.cli.app import app
from agentcli.cli.code_blocks import CodeBlock, code_blocks, extracted_code
from agentcli.cli.exits import USAGE

from .terminal import agent

CODE_AGENT = f"{Path(__file__).parent / 'code_agents.py'}:CodeAgent"
runner = CliRunner()


@pytest.fixture(autouse=True)
def _cwd(workdir: Path) -> None:
    """Every test runs in a scratch directory with its own data directory."""


def test_backtick_and_tilde_fences_with_their_languages() -> None:
    text = "Intro\n```python title\nx = 1\n```\nthen\n~~~\nls\n~~~\n"
    assert code_blocks(text) == [CodeBlock("python", "x = 1\n"), CodeBlock("", "ls\n")]


def test_a_longer_fence_holds_a_shorter_one() -> None:
    text = "````markdown\n```python\nx = 1\n```\n````\n"
    assert code_blocks(text) == [CodeBlock("markdown", "```python\nx = 1\n```\n")]


def test_blocks_inside_lists_and_quotes_lose_their_markers() -> None:
    text = "- step one:\n\n  ```sh\n  make\n  ```\n\n> ```\n> quoted\n> ```\n"
    assert [block.code for block in code_blocks(text)] == ["make\n", "quoted\n"]


def test_an_unclosed_fence_runs_to_the_end() -> None:
    assert code_blocks("cut off:\n```js\nlet a = 1;\nlet b") == [
        CodeBlock("js", "let a = 1;\nlet b")
    ]


@pytest.mark.parametrize(
    "text",
    [
        "just prose",
        "inline ```code``` in a line",
        "    indented code\n",
        "text then ``` in the middle",
    ],
)
def test_text_without_a_fenced_block_has_none(text: str) -> None:
    assert code_blocks(f"para\n\n{text}") == []


def test_line_count_counts_lines_not_newlines() -> None:
    assert CodeBlock("", "a\nb\n").line_count == 2
    assert CodeBlock("", "a\nb").line_count == 2


def test_extracted_code_joins_blocks_with_a_blank_line() -> None:
    text = "a\n```\none\n\n```\nb\n```\ntwo\n```\n"
    assert extracted_code(text) == "one\n\ntwo\n"


def test_extracted_code_without_blocks_is_the_whole_text() -> None:
    assert extracted_code("roses are red\nviolets are blue") == "roses are red\nviolets are blue\n"


def test_run_extract_prints_only_the_code() -> None:
    result = runner.invoke(app, ["run", "--agent", CODE_AGENT, "-x", "show me"])
    assert result.exit_code == 0, result.output
    assert result.stdout == "print('one')\n\necho two\nls -l\n"


def test_run_extract_without_code_prints_the_answer_as_is() -> None:
    result = runner.invoke(app, ["run", "--agent", CODE_AGENT, "--extract", "prose"])
    assert result.exit_code == 0, result.output
    assert result.stdout == "roses are red\nviolets are blue\n"


def test_run_extract_sanitises_the_answer() -> None:
    result = runner.invoke(app, ["run", "--agent", agent("HostileAgent"), "-x", "hi"])
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.stdout
    assert "\x9b" not in result.stdout
    assert "click me (https://evil.example/phish)" in result.stdout


def test_run_extract_and_json_together_is_a_usage_error() -> None:
    result = runner.invoke(app, ["run", "-x", "--json", "hi"])
    assert result.exit_code == USAGE
    assert "choose --json or --extract, not both" in result.stderr
