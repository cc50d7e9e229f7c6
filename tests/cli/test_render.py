"""Rendering to a string console: gauge colours, cleanup lines, transcripts, durations."""

from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
from rich.console import Console

from agentcli.cli import render
from agentcli.cli.durations import parse_duration
from agentcli.cli.exporting import format_for, parse_export_args
from agentcli.messages import AgentResponse, Message, ToolCall
from agentcli.usage import CleanupReport, ContextReport, Usage, UsageLevel


def draw(*renderables: object) -> str:
    console = Console(
        file=io.StringIO(), width=100, force_terminal=True, color_system="standard", markup=False
    )
    for renderable in renderables:
        console.print(renderable)
    out = console.file.getvalue()  # type: ignore[attr-defined]
    assert isinstance(out, str)
    return out


@pytest.mark.parametrize(
    ("tokens", "colour", "code"),
    [
        (0, "green", "32"),
        (690, "green", "32"),
        (700, "yellow", "33"),
        (899, "yellow", "33"),
        (900, "red", "31"),
        (1200, "red", "31"),
    ],
)
def test_gauge_colours(tokens: int, colour: str, code: str) -> None:
    out = draw(render.gauge(tokens, 1000))
    assert f"\x1b[{code}m█" in out or (tokens == 0 and f"\x1b[{code}m{tokens}" in out)
    assert f"{tokens:,} / 1,000 tokens" in out
    assert render.level_for(tokens / 1000) == colour


def test_gauge_bar_is_full_at_or_above_100_percent() -> None:
    out = draw(render.gauge(5000, 1000))
    assert "█" * render.BAR_WIDTH in out
    assert "░" not in out


def test_turn_line_shows_usage_and_cost() -> None:
    response = AgentResponse(
        output="x",
        metadata={"tokens": 1234, "prompt_tokens": 1000, "completion_tokens": 234, "cost": 0.00421},
    )
    context = ContextReport(tokens=5000, window=100_000, fraction=0.05, level=UsageLevel.GREEN)
    out = draw(render.turn_line(context, response))
    assert "turn 1,234 tokens (1,000 in, 234 out)" in out
    assert "$0.0042" in out


def test_turn_line_is_drawn_in_the_level_colour() -> None:
    context = ContextReport(tokens=950, window=1000, fraction=0.95, level=UsageLevel.RED)
    out = draw(render.turn_line(context))
    assert "\x1b[31m█" in out  # red: 95 %


@pytest.mark.parametrize(("cost", "text"), [(0, "$0"), (0.00001, "<$0.0001"), (12.5, "$12.50")])
def test_format_cost(cost: float, text: str) -> None:
    assert render.format_cost(cost) == text


def test_cleanup_lines() -> None:
    lines = render.cleanup_lines(
        CleanupReport(trimmed=4, tokens_before=910, tokens_after=580, window=1000)
    )
    assert [str(line).split(" (")[0] for line in lines] == [
        "cleanup: trimmed 4 messages from the window, 91% → 58%"
    ]
    assert render.cleanup_lines(None) == []
    warned = render.cleanup_lines(
        CleanupReport(trimmed=0, tokens_before=950, tokens_after=950, window=1000, warning="w")
    )
    assert [str(line) for line in warned] == ["cleanup warning: w"]


def test_transcript_marks_window_and_status() -> None:
    call = ToolCall(id="c1", name="lookup", arguments='{"q": 1}')
    messages = [
        Message(role="user", content="old", seq=1),
        Message(role="assistant", content="older answer", seq=2),
        Message(role="user", content="new \x1b[2J", seq=3),
        Message(role="assistant", tool_calls=(call,), seq=4),
        Message(role="tool", content="result", tool_call_id="c1", name="lookup", seq=5),
        Message(role="assistant", content="part", status="interrupted", seq=6),
        Message(role="assistant", status="failed", metadata={"error": "boom"}, seq=7),
    ]
    out = draw(*render.transcript(messages, window_start=3))
    assert "the context window starts here (2 earlier messages trimmed)" in out
    assert "\x1b[2J" not in out
    text = re.sub(r"\x1b\[[0-9;]*m", "", out)
    assert '→ lookup({"q": 1})' in text
    assert "#5 tool lookup\nresult" in text
    assert "[interrupted]\npart" in text
    assert "[failed: boom]" in text


def test_cost_summary() -> None:
    messages = [
        Message(
            role="assistant",
            content="a",
            usage=Usage(total_tokens=10, input_tokens=6, output_tokens=4, cost=0.5),
        ),
        Message(role="assistant", content="b", usage=Usage(total_tokens=5)),
    ]
    text = str(render.cost_summary(messages))
    assert "2 answers with usage: 15 tokens (6 in, 4 out)" in text
    assert "$0.5000" in text
    assert "1 without a price" in text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30d", timedelta(days=30)),
        ("12h", timedelta(hours=12)),
        ("90m", timedelta(minutes=90)),
        ("2w", timedelta(weeks=2)),
        ("1d12h", timedelta(days=1, hours=12)),
        ("45s", timedelta(seconds=45)),
        ("1.5h", timedelta(minutes=90)),
    ],
)
def test_parse_duration(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "30", "d", "30x", "soon", "0d", "-1d", "99999999999d"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


def test_export_args() -> None:
    path, fmt = parse_export_args(["notes.json"])
    assert str(path) == "notes.json"
    assert fmt == "json"
    assert parse_export_args(["--format", "md"]) == (None, "md")
    assert parse_export_args(["--format=json"]) == (None, "json")
    assert format_for("markdown", None) == "md"
    for bad in (["--format"], ["a", "b"], ["--zip"], ["--format", "pdf"]):
        with pytest.raises(ValueError, match=r"format|path|option"):
            parse_export_args(bad)


@pytest.mark.parametrize(
    ("tokens", "text"),
    [(0, "0%"), (1, "<1%"), (9, "<1%"), (10, "1%"), (580, "58%"), (1500, "150%")],
)
def test_percent(tokens: int, text: str) -> None:
    assert render.percent(tokens, 1000) == text


def test_a_failed_tool_call_is_shown_as_failed() -> None:
    ok = Message(role="tool", name="weather", content="error: is just text here", tool_call_id="a")
    failed = Message(
        role="tool", name="weather", content="timed out", tool_call_id="b", is_error=True
    )
    assert str(render.tool_result_line(ok)) == "  ← weather: error: is just text here"
    assert str(render.tool_result_line(failed)) == "  ✗ weather failed: timed out"
