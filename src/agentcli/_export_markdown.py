"""A session as Markdown, for people: the whole transcript, tool calls and results included.

The messages before the window marker are marked as trimmed out of the agent's context window
(the store keeps them).
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Final

from .messages import Message
from .stores.base import SessionInfo

__all__ = ["TRIMMED_MARKER", "to_markdown"]

TRIMMED_MARKER: Final = "— trimmed out of the context window above this line —"

_ROLE_NAMES = {"system": "System", "user": "User", "assistant": "Assistant", "tool": "Tool result"}
_FENCE_LINE = re.compile(r"^ {0,3}(`{3,}|~{3,})(.*)$")
_BACKTICKS = re.compile(r"`+")


def to_markdown(info: SessionInfo, messages: list[Message]) -> str:
    title = " ".join(info.title.split()) or f"Session {info.id}"
    trimmed = [m for m in messages if _is_trimmed(m, info.window_start)]
    out = [
        f"# {title}",
        "",
        f"- Session: {_code(info.id)}",
        f"- Created: {_when(info.created_at)} · last active: {_when(info.updated_at)}",
        f"- Messages: {len(messages)} · tokens: {sum(m.tokens for m in messages):,}",
    ]
    if trimmed:
        count = "1 earlier message" if len(trimmed) == 1 else f"{len(trimmed)} earlier messages"
        out.append(
            f"- Context window: starts at message #{info.window_start}; the {count} marked "
            "*trimmed* were cleaned out of the agent's context window and are kept here."
        )
    out.append("")
    marker_due = bool(trimmed)
    for message in messages:
        if marker_due and message.seq >= info.window_start:
            out.extend(_trim_rule())
            marker_due = False
        out.extend(_render(message, trimmed=_is_trimmed(message, info.window_start)))
    if marker_due:  # every message is before the window's start
        out.extend(_trim_rule())
    return "\n".join(out).rstrip("\n") + "\n"


def _is_trimmed(message: Message, window_start: int) -> bool:
    # System messages stay in the window wherever they are (the cleanup policy keeps them).
    return message.seq < window_start and message.role != "system"


def _trim_rule() -> list[str]:
    return ["---", "", f"✂ **{TRIMMED_MARKER}**", "", "---", ""]


def _render(message: Message, *, trimmed: bool) -> list[str]:
    out = [_heading(message, trimmed=trimmed), "", _details(message), ""]
    if message.status == "interrupted":
        out += ["> ⚠ **Interrupted:** the answer was cut off; below is what had arrived.", ""]
    elif message.status == "failed":
        error = (message.metadata or {}).get("error")
        reason = f": {' '.join(str(error).split())}" if error else ""
        out += [f"> ✖ **Failed**{reason}", ""]
    if message.role == "tool":
        out += [*_fenced(message.content), ""]
    elif message.content:
        out += [_close_fences(message.content), ""]
    elif not message.tool_calls and message.status == "complete":
        out += ["*(empty)*", ""]
    for call in message.tool_calls:
        out += [f"**Tool call** {_code(call.name)} (id {_code(call.id)}):", ""]
        out += [*_fenced(_pretty_json(call.arguments), "json"), ""]
    return out


def _heading(message: Message, *, trimmed: bool) -> str:
    tags = [f"#{message.seq}", _ROLE_NAMES[message.role]]
    if message.role == "tool" and message.name:
        tags.append(_code(message.name))
    if message.status != "complete":
        tags.append("⚠ interrupted" if message.status == "interrupted" else "✖ failed")
    if trimmed:
        tags.append("*trimmed*")
    return f"### {' · '.join(tags)}"


def _details(message: Message) -> str:
    details = [_when(message.timestamp), f"{message.tokens:,} tokens"]
    model = message.usage.model if message.usage else None
    if model:
        details.append(_code(model))
    if message.tool_call_id:
        details.append(f"answers {_code(message.tool_call_id)}")
    return f"*{' · '.join(details)}*"


def _when(moment: datetime) -> str:
    return moment.isoformat(sep=" ", timespec="seconds")


def _pretty_json(text: str) -> str:
    try:
        return json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    except ValueError:
        return text


def _longest_backticks(text: str) -> int:
    return max((len(run) for run in _BACKTICKS.findall(text)), default=0)


def _code(text: str) -> str:
    """``text`` as an inline code span, whatever backticks it holds."""
    ticks = "`" * (_longest_backticks(text) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{ticks}{pad}{text}{pad}{ticks}"


def _fenced(text: str, info: str = "") -> list[str]:
    """``text`` in a code block whose fence no line of ``text`` can close."""
    fence = "`" * max(3, _longest_backticks(text) + 1)
    return [f"{fence}{info}", text, fence]


def _close_fences(text: str) -> str:
    """Close a code block the text leaves open (an interrupted answer often stops inside one),
    so it cannot swallow the rest of the document."""
    open_fence: str | None = None
    for line in text.splitlines():
        match = _FENCE_LINE.match(line)
        if match is None:
            continue
        fence, rest = match.groups()
        if open_fence is None:
            if not (fence[0] == "`" and "`" in rest):  # else it is inline code, not a fence
                open_fence = fence
        elif fence[0] == open_fence[0] and len(fence) >= len(open_fence) and not rest.strip():
            open_fence = None
    return text if open_fence is None else f"{text}\n{open_fence}"
