"""A session as Markdown, for people: the whole transcript, tool calls and results included.

The messages before the window marker are marked as trimmed out of the agent's context window
(the store keeps them). Every piece of text the document did not write itself goes through
``_markdown_text``: terminal escapes neutralised, and nothing in a message able to pass for a
turn heading or the trim marker.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Final

from ._markdown_text import code_span, fenced, markdown_body, markdown_line
from ._safe_text import escape_json
from .context import pinned_exchange_seqs
from .messages import Message
from .request_options import describe_options, stored_options
from .session.window_cache import SYSTEM_PROMPT_KEY, read_pins, summary_range
from .stores.base import SessionInfo

__all__ = ["TRIMMED_MARKER", "to_markdown"]

TRIMMED_MARKER: Final = "— trimmed out of the context window above this line —"

_ROLE_NAMES = {"system": "System", "user": "User", "assistant": "Assistant", "tool": "Tool result"}


def to_markdown(info: SessionInfo, messages: list[Message]) -> str:
    title = markdown_line(info.title) or markdown_line(f"Session {info.id}")
    # Pinned exchanges stay in the window wherever they are, like system messages.
    pinned = pinned_exchange_seqs([m for m in messages if m.in_window], read_pins(info.metadata))
    trimmed = [m for m in messages if _is_trimmed(m, info.window_start, pinned)]
    out = [
        f"# {title}",
        "",
        f"- Session: {code_span(info.id)}",
        f"- Created: {_when(info.created_at)} · last active: {_when(info.updated_at)}",
        f"- Messages: {len(messages)} · tokens: {sum(m.tokens for m in messages):,}",
    ]
    options = stored_options(info.metadata)
    if options:  # sent with every turn, like the system prompt
        out.append(f"- Request options: {code_span(describe_options(options))}")
    if trimmed:
        count = "1 earlier message" if len(trimmed) == 1 else f"{len(trimmed)} earlier messages"
        out.append(
            f"- Context window: starts at message #{info.window_start}; the {count} marked "
            "*trimmed* were cleaned out of the agent's context window and are kept here."
        )
    out.append("")
    out.extend(_system_prompt_section(info))
    marker_due = bool(trimmed)
    for message in messages:
        if marker_due and message.seq >= info.window_start:
            out.extend(_trim_rule())
            marker_due = False
        kept = message.seq in pinned
        out.extend(
            _render(message, trimmed=_is_trimmed(message, info.window_start, pinned), pinned=kept)
        )
    if marker_due:  # every message is before the window's start
        out.extend(_trim_rule())
    return "\n".join(out).rstrip("\n") + "\n"


def _system_prompt_section(info: SessionInfo) -> list[str]:
    """What the agent is told before every turn (a body like a message's: it cannot forge a
    heading of the transcript)."""
    prompt = info.metadata.get(SYSTEM_PROMPT_KEY)
    if not isinstance(prompt, str) or not prompt.strip():
        return []
    return ["### System prompt", "", markdown_body(prompt), ""]


def _is_trimmed(message: Message, window_start: int, pinned: frozenset[int]) -> bool:
    # System messages stay in the window wherever they are (the cleanup policy keeps them).
    return message.seq < window_start and message.role != "system" and message.seq not in pinned


def _trim_rule() -> list[str]:
    return ["---", "", f"✂ **{TRIMMED_MARKER}**", "", "---", ""]


def _render(message: Message, *, trimmed: bool, pinned: bool = False) -> list[str]:
    out = [_heading(message, trimmed=trimmed, pinned=pinned), "", _details(message), ""]
    if message.status == "interrupted":
        out += ["> ⚠ **Interrupted:** the answer was cut off; below is what had arrived.", ""]
    elif message.status == "failed":
        error = (message.metadata or {}).get("error")
        reason = f": {markdown_line(str(error))}" if error else ""
        out += [f"> ✖ **Failed**{reason}", ""]
    if message.role == "tool":
        out += [*fenced(message.content), ""]
    elif message.content:
        out += [markdown_body(message.content), ""]
    elif not message.tool_calls and message.status == "complete":
        out += ["*(empty)*", ""]
    for call in message.tool_calls:
        out += [f"**Tool call** {code_span(call.name)} (id {code_span(call.id)}):", ""]
        out += [*fenced(_pretty_json(call.arguments), "json"), ""]
    return out


def _heading(message: Message, *, trimmed: bool, pinned: bool = False) -> str:
    covered = summary_range(message)
    role = f"Summary of messages #{covered[0]} to #{covered[1]}" if covered else None
    tags = [f"#{message.seq}", role or _ROLE_NAMES[message.role]]
    if message.role == "tool" and message.name:
        tags.append(code_span(message.name))
    if message.status != "complete":
        tags.append("⚠ interrupted" if message.status == "interrupted" else "✖ failed")
    if pinned:
        tags.append("📌 pinned")
    if trimmed:
        tags.append("*trimmed*")
    return f"### {' · '.join(tags)}"


def _details(message: Message) -> str:
    details = [_when(message.timestamp), f"{message.tokens:,} tokens"]
    model = message.usage.model if message.usage else None
    if model:
        details.append(code_span(model))
    if message.tool_call_id:
        details.append(f"answers {code_span(message.tool_call_id)}")
    return f"*{' · '.join(details)}*"


def _when(moment: datetime) -> str:
    return moment.isoformat(sep=" ", timespec="seconds")


def _pretty_json(text: str) -> str:
    try:  # controls and bidi characters stay escaped: the arguments as the model sent them
        return escape_json(json.dumps(json.loads(text), indent=2, ensure_ascii=False))
    except ValueError:
        return text
