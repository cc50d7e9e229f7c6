"""The turn line fits the terminal: shorter forms as it narrows, everything when not one.

Every render here gives its width explicitly: nothing depends on ``COLUMNS`` or a terminal.
"""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from agentcli.cli import render
from agentcli.messages import AgentResponse
from agentcli.usage import ContextReport, UsageLevel

SESSION = "99c6b112a8f3"


def _case(tokens: int, window: int, turn: int, cost: float) -> tuple[ContextReport, AgentResponse]:
    usage = {"tokens": turn, "prompt_tokens": turn - turn // 5, "completion_tokens": turn // 5}
    response = AgentResponse(output="x", metadata={**usage, "cost": cost})
    context = ContextReport(
        tokens=tokens, window=window, fraction=tokens / window, level=UsageLevel.GREEN
    )
    return context, response


CASES = {
    "typical": _case(5_000, 100_000, 1_234, 0.00421),
    "large": _case(999_999, 1_000_000, 123_456, 12.34),
}


def _drawn(line: object, width: int) -> list[str]:
    console = Console(file=io.StringIO(), width=width, color_system=None, markup=False)
    console.print(line)
    out = console.file.getvalue()  # type: ignore[attr-defined]
    assert isinstance(out, str)
    return out.splitlines()


@pytest.mark.parametrize("width", [80, 60, 40])
@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("session", [None, SESSION])
def test_the_turn_line_fits_on_one_line(width: int, case: str, session: str | None) -> None:
    context, response = CASES[case]
    line = render.turn_line(context, response, width=width, session=session)
    assert line.cell_len <= width
    [drawn] = _drawn(line, width)
    assert drawn.startswith(("context ", "ctx "))
    assert "%)" in drawn
    assert "$" in drawn


def test_a_typical_line_keeps_its_bar_and_detail_at_100_columns() -> None:
    context, response = CASES["typical"]
    line = render.turn_line(context, response, width=100)
    assert line.plain == (
        "context █░░░░░░░░░░░░░░░ 5,000 / 100,000 tokens (5%) · "
        "turn 1,234 tokens (988 in, 246 out) · $0.0042"
    )


def test_the_forms_as_the_terminal_narrows() -> None:
    context, response = CASES["typical"]
    forms = {
        width: render.turn_line(context, response, width=width, session=SESSION).plain
        for width in (80, 60, 40)
    }
    assert forms[80] == (
        "context 5,000 / 100,000 tokens (5%) · turn 1.2k · $0.0042 · session 99c6b112a8f3"
    )
    assert forms[60] == "ctx 5k/100k (5%) · $0.0042 · session 99c6b112a8f3"
    assert forms[40] == "ctx 5k/100k (5%) · $0.0042"


def test_without_a_width_nothing_is_left_out() -> None:
    context, response = CASES["large"]
    line = render.turn_line(context, response, session=SESSION)
    assert line.plain == (
        "context ████████████████ 999,999 / 1,000,000 tokens (100%) · "
        "turn 123,456 tokens (98,765 in, 24,691 out) · $12.34 · session 99c6b112a8f3"
    )


@pytest.mark.parametrize(
    ("number", "text"),
    [(950, "950"), (3_412, "3.4k"), (5_000, "5k"), (100_000, "100k"), (1_200_000, "1.2M")],
)
def test_compact_numbers(number: int, text: str) -> None:
    assert render.compact(number) == text
