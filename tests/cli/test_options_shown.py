"""A session's request options wherever the session is shown: ``sessions show`` (one line, and
``--json``), the Markdown export; the JSON export keeps them, and its import restores them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from agentcli.cli.app import app

AGENT = f"{Path(__file__).parent / 'options_agent.py'}:OptionsAgent"
runner = CliRunner()


@pytest.fixture(autouse=True)
def _workdir(workdir: Path) -> Path:
    return workdir


def invoke(*args: str) -> Result:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result


def session(*options: str) -> None:
    """Session ``s1``, one exchange, with these ``-o`` options."""
    invoke("run", "-a", AGENT, "-s", "s1", *(x for o in options for x in ("-o", o)), "hi")


def test_show_prints_the_options_before_the_transcript() -> None:
    session("temperature=0.2", "max_output_tokens=500", "stop=END")
    lines = invoke("sessions", "show", "s1").stdout.splitlines()
    assert lines[:2] == ["session s1", 'options: max_output_tokens=500 stop="END" temperature=0.2']
    assert lines[2] == "#1 user"


def test_show_json_carries_them() -> None:
    session("seed=7", "stop=a", "stop=b")
    shown = json.loads(invoke("sessions", "show", "s1", "--json").stdout)
    assert shown["session"]["options"] == {"seed": 7, "stop": ["a", "b"]}


def test_nothing_is_shown_without_options() -> None:
    session()
    assert invoke("sessions", "show", "s1").stdout.splitlines()[:2] == ["session s1", "#1 user"]
    assert json.loads(invoke("sessions", "show", "s1", "--json").stdout)["session"]["options"] == {}
    assert "Request options" not in invoke("sessions", "export", "s1").stdout


def test_hostile_stop_text_is_shown_safely() -> None:
    session("stop=\x9b31m\u202eEND\x1b]0;title\x07")
    out = invoke("sessions", "show", "s1").stdout
    options = next(line for line in out.splitlines() if line.startswith("options: "))
    assert 'stop="' in options
    for raw in ("\x9b", "\u202e", "\x1b", "\x07"):
        assert raw not in out
    markdown = invoke("sessions", "export", "s1").stdout
    assert "- Request options: `stop=" in markdown
    for raw in ("\x9b", "\u202e", "\x1b", "\x07"):
        assert raw not in markdown


def test_markdown_export_lists_them_in_its_header() -> None:
    session("temperature=0.2", "max_output_tokens=500")
    lines = invoke("sessions", "export", "s1", "--format", "md").stdout.splitlines()
    listed = "- Request options: `max_output_tokens=500 temperature=0.2`"
    assert listed in lines
    assert lines.index(listed) < next(i for i, x in enumerate(lines) if x.startswith("### #1"))


def test_a_json_export_imported_keeps_them_for_later_turns(tmp_path: Path) -> None:
    session("temperature=0.2", "stop=END")
    exported = tmp_path / "s1.json"
    invoke("sessions", "export", "s1", "--format", "json", "-o", str(exported))
    document = json.loads(exported.read_text())
    assert document["session"]["metadata"]["options"] == {"temperature": 0.2, "stop": ["END"]}

    invoke("sessions", "import", str(exported), "--id", "copy")

    shown = invoke("sessions", "show", "copy").stdout.splitlines()
    assert shown[1] == 'options: stop="END" temperature=0.2'
    answer = invoke("run", "-a", AGENT, "-s", "copy", "again").stdout
    line = next(x for x in answer.splitlines() if x.startswith("options: "))
    assert json.loads(line.removeprefix("options: ")) == {"stop": ["END"], "temperature": 0.2}
