"""Renderables for the terminal: the context gauge, turn lines, tool calls, transcripts.

Every piece of text that came from a model, a tool or a user goes through ``sanitize`` and
into a ``Text`` (never into markup).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from rich.text import Text

from .sanitize import sanitize, sanitize_inline

if TYPE_CHECKING:
    from rich.console import RenderableType

    from ..messages import AgentResponse, Message, ToolCall
    from ..usage import CleanupReport, ContextReport

__all__ = [
    "LEVEL_STYLE",
    "answer",
    "cleanup_lines",
    "cost_summary",
    "gauge",
    "level_for",
    "tool_call_line",
    "tool_result_line",
    "transcript",
    "turn_line",
]

LEVEL_STYLE = {"green": "green", "yellow": "yellow", "red": "red"}
BAR_WIDTH = 16


def level_for(fraction: float) -> str:
    """The specification's colours: green below 70 %, yellow 70-89 %, red from 90 %."""
    from ..context import usage_level

    return usage_level(fraction).value


def percent(tokens: int, window: int) -> str:
    """``58%``; ``<1%`` for a little (not ``0%``, which reads as empty)."""
    if not window:
        return "?"
    value = tokens / window * 100
    return "<1%" if 0 < value < 1 else f"{value:.0f}%"


def gauge(tokens: int, window: int, level: str | None = None, width: int = BAR_WIDTH) -> Text:
    """``context ██████░░░░ 3,412 / 100,000 tokens (34%)`` in the level's colour."""
    fraction = tokens / window if window else 0.0
    style = LEVEL_STYLE.get(level or level_for(fraction), "green")
    filled = min(width, round(fraction * width))
    if fraction > 0 and filled == 0:
        filled = 1  # something is in the window: show it
    return Text.assemble(
        ("context ", "dim"),
        ("█" * filled, style),
        ("░" * (width - filled), "dim"),
        " ",
        (f"{tokens:,} / {window:,} tokens ({percent(tokens, window)})", style),
    )


def turn_line(context: ContextReport, response: AgentResponse | None = None) -> Text:
    """The gauge after a turn, with the turn's tokens and cost when the agent reported them."""
    line = gauge(context.tokens, context.window, context.level.value)
    if response is None:
        return line
    extras: list[str] = []
    if response.tokens is not None:
        detail = ""
        if response.prompt_tokens is not None and response.completion_tokens is not None:
            detail = f" ({response.prompt_tokens:,} in, {response.completion_tokens:,} out)"
        extras.append(f"turn {response.tokens:,} tokens{detail}")
    if response.cost is not None:
        extras.append(format_cost(response.cost))
    if extras:
        line.append(" · " + " · ".join(extras), style="dim")
    return line


def format_cost(cost: float) -> str:
    if cost == 0:
        return "$0"
    if cost < 0.0001:
        return "<$0.0001"
    return f"${cost:.4f}" if cost < 1 else f"${cost:,.2f}"


def cleanup_lines(cleanup: CleanupReport | None) -> list[Text]:
    """``cleanup: trimmed 4 messages, 91% → 58%`` (and the warning, when one was given)."""
    if cleanup is None:
        return []
    lines: list[Text] = []
    trimmed = cleanup.trimmed
    if cleanup.summarized:
        before = percent(cleanup.tokens_before, cleanup.window)
        after = percent(cleanup.tokens_after, cleanup.window)
        lines.append(
            Text(
                f"cleanup: summarised {cleanup.summarized} messages into 1, {before} → {after}"
                " (the transcript keeps them; /history shows all)",
                style="bold yellow",
            )
        )
    elif trimmed:
        before = percent(cleanup.tokens_before, cleanup.window)
        after = percent(cleanup.tokens_after, cleanup.window)
        noun = "message" if trimmed == 1 else "messages"
        lines.append(
            Text(
                f"cleanup: trimmed {trimmed} {noun} from the window, {before} → {after}"
                " (the transcript keeps them; /history shows all)",
                style="bold yellow",
            )
        )
    if cleanup.warning:
        lines.append(Text(f"cleanup warning: {sanitize_inline(cleanup.warning, 300)}", "yellow"))
    return lines


def tool_call_line(call: ToolCall) -> Text:
    return Text.assemble(
        ("  → ", "cyan"),
        (sanitize_inline(call.name, 60), "bold cyan"),
        (f"({sanitize_inline(call.arguments, 160)})", "cyan"),
    )


def tool_result_line(message: Message) -> Text:
    """``  ← weather: 18 degrees``; a failed call says so in red."""
    name = sanitize_inline(message.name or "tool", 60)
    if message.is_error:
        return Text.assemble(
            ("  ✗ ", "red"),
            (f"{name} failed: ", "bold red"),
            (sanitize_inline(message.content, 160), "red"),
        )
    return Text.assemble(
        ("  ← ", "dim"), (f"{name}: ", "dim bold"), (sanitize_inline(message.content, 160), "dim")
    )


def answer(text: str, markdown: bool = True) -> RenderableType:
    """A whole answer: Markdown with link targets shown as text, or plain text."""
    safe = sanitize(text)
    if not markdown:
        return Text(safe)
    from rich.markdown import Markdown

    return Markdown(safe, hyperlinks=False)


_ROLE_STYLE = {"user": "bold cyan", "assistant": "bold magenta", "system": "bold", "tool": "dim"}


def message_block(message: Message) -> Text:
    """One transcript entry: ``#3 assistant [interrupted]`` then its text."""
    head = Text.assemble(
        (f"#{message.seq} ", "dim"), (message.role, _ROLE_STYLE.get(message.role, "bold"))
    )
    if message.status == "interrupted":
        head.append(" [interrupted]", style="yellow")
    elif message.status == "failed":
        error = (message.metadata or {}).get("error")
        head.append(f" [failed: {sanitize_inline(str(error or 'no answer'), 120)}]", style="red")
    if message.role == "tool":
        head.append(f" {sanitize_inline(message.name or '', 60)}", style="dim")
        return head.append("\n").append_text(
            Text(sanitize_inline(message.content, 400), style="dim")
        )
    body = Text(sanitize(message.content))
    for call in message.tool_calls:
        body.append("\n").append_text(tool_call_line(call))
    return head.append("\n").append_text(body)


def transcript(messages: Sequence[Message], window_start: int = 1) -> Iterable[RenderableType]:
    """The whole conversation, with a rule where the agent's window begins."""
    from rich.rule import Rule

    outside = sum(1 for m in messages if m.seq < window_start and m.role != "system")
    for message in messages:
        if outside and message.seq == window_start:
            yield Rule(
                Text(f"the context window starts here ({outside} earlier messages trimmed)"),
                style="yellow",
            )
        yield message_block(message)


def cost_summary(messages: Sequence[Message]) -> Text:
    """Tokens and cost of the whole session, from what each answer recorded."""
    tokens = prompt = completion = 0
    cost = 0.0
    priced = turns = 0
    for message in messages:
        usage = message.usage
        if usage is None or message.role not in ("assistant", "system"):
            continue  # a summary (system) carries the summariser's usage
        turns += 1
        tokens += usage.tokens or 0
        prompt += usage.input_tokens or 0
        completion += usage.output_tokens or 0
        if usage.cost is not None:
            cost += usage.cost
            priced += 1
    noun = "answer" if turns == 1 else "answers"
    line = Text(f"{turns} {noun} with usage: {tokens:,} tokens ({prompt:,} in, {completion:,} out)")
    if priced:
        line.append(f" · cost {format_cost(cost)}")
        if priced < turns:
            line.append(f" ({turns - priced} without a price)", style="dim")
    else:
        line.append(" · cost unknown", style="dim")
    return line
