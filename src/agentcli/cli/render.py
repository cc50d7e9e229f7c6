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

    from ..context import ContextUsage
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
    return _gauge(tokens, window, level, bar=width)


def _gauge(tokens: int, window: int, level: str | None, *, bar: int, short: bool = False) -> Text:
    """The gauge with a ``bar`` cells wide bar (none at 0); ``short``: ``ctx 3.4k/100k (34%)``."""
    fraction = tokens / window if window else 0.0
    style = LEVEL_STYLE.get(level or level_for(fraction), "green")
    line = Text().append("ctx " if short else "context ", "dim")
    if bar:
        filled = min(bar, round(fraction * bar))
        if fraction > 0 and filled == 0:
            filled = 1  # something is in the window: show it
        line.append("█" * filled, style).append("░" * (bar - filled), "dim").append(" ")
    share = percent(tokens, window)
    if short:
        return line.append(f"{compact(tokens)}/{compact(window)} ({share})", style)
    return line.append(f"{tokens:,} / {window:,} tokens ({share})", style)


def compact(number: int) -> str:
    """``950``, ``3.4k``, ``5k``, ``100k``, ``1.2M``: a count in a few characters."""
    for size, unit in ((1_000_000, "M"), (1_000, "k")):
        if number >= size:
            value = number / size
            shown = f"{value:.1f}".removesuffix(".0") if value < 10 else f"{value:,.0f}"
            return shown + unit
    return str(number)


# The turn line's forms, longest first: (bar width, short gauge, turn tokens as, session shown).
_FORMS = (
    (BAR_WIDTH, False, "full", True),
    (BAR_WIDTH, False, "tokens", True),
    (BAR_WIDTH // 2, False, "tokens", True),
    (0, False, "tokens", True),
    (0, False, "compact", True),
    (0, True, "compact", True),
    (0, True, "", True),
    (0, True, "", False),
)


def turn_line(
    context: ContextReport | ContextUsage,
    response: AgentResponse | None = None,
    *,
    width: int | None = None,
    session: str | None = None,
) -> Text:
    """The gauge after a turn, with the turn's tokens and cost when the agent reported them
    (and the session, if given): the longest form that fits ``width`` cells, all of it when
    ``width`` is ``None`` (not a terminal: nothing is cut there)."""
    line = Text()
    for bar, short, tokens, with_session in _FORMS:
        line = _gauge(context.tokens, context.window, context.level.value, bar=bar, short=short)
        extras = _turn_extras(response, tokens)
        if session is not None and with_session:
            extras.append(f"session {sanitize_inline(session, 64)}")
        if extras:
            line.append(" · " + " · ".join(extras), style="dim")
        if width is None or line.cell_len <= width:
            return line
    return line


def _turn_extras(response: AgentResponse | None, tokens: str) -> list[str]:
    """``turn 1,234 tokens (1,000 in, 234 out)`` (or shorter, per ``tokens``) and the cost."""
    if response is None:
        return []
    extras: list[str] = []
    if response.tokens is not None and tokens:
        if tokens == "compact":
            extras.append(f"turn {compact(response.tokens)}")
        else:
            given, made = response.prompt_tokens, response.completion_tokens
            detail = ""
            if tokens == "full" and given is not None and made is not None:
                detail = f" ({given:,} in, {made:,} out)"
            extras.append(f"turn {response.tokens:,} tokens{detail}")
    if response.cost is not None:
        extras.append(format_cost(response.cost))
    return extras


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
    """A whole answer: Markdown with link targets shown as text, or plain text. Markdown
    keeps the answer's line breaks: ``roses are red`` and ``violets are blue`` on two lines
    stay on two lines (CommonMark would join them into one)."""
    safe = sanitize(text)
    if not markdown:
        return Text(safe)
    from rich.markdown import Markdown

    rendered = Markdown(safe, hyperlinks=False)
    for block in rendered.parsed:
        for token in block.children or ():
            if token.type == "softbreak":
                token.type = "hardbreak"
    return rendered


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
