"""Summarising compaction: the messages a cleanup drops are replaced in the window by one
summary, written by a summariser agent (the session's own agent, or a cheaper one).

One request per cleanup, never one per turn. The messages go as a plain-text transcript in a
single user message, so the request is valid for every vendor (no tool call without its result,
no two turns of one role in a row), and the summariser is asked not to call tools (provider
agents offer none to a summary request). The live summary, if there is one, is summarised
again with the dropped messages: summaries of summaries, one live summary at a time.

If the summariser fails, times out, answers nothing or answers something no shorter than what
it would replace, the cleanup trims first-in first-out instead and says so: a turn never fails
because compaction did.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from pydantic import JsonValue

from ..agent import AgentInterface
from ..context import TrimPlan, apply_trim
from ..errors import ConfigError
from ..messages import SUMMARY_REQUEST, AgentContext, AgentResponse, Message, make_storable
from ..usage import CleanupReport, checked_usage
from .budget import record_session_spend
from .window_cache import SUMMARY_KEY, summary_range, window_order

if TYPE_CHECKING:
    from ..config import Settings
    from .writer import SessionWriter

__all__ = [
    "SUMMARY_REQUEST",
    "SUMMARY_SYSTEM_PROMPT",
    "CleanupStrategy",
    "Compaction",
    "SummaryError",
    "check_compaction",
    "compact_now",
    "request_summary",
    "summarize_dropped",
    "summary_agent_from",
    "summary_message",
    "transcript_text",
]

logger = logging.getLogger("agentcli.session")

CleanupStrategy = Literal["fifo", "summarize"]

SUMMARY_SYSTEM_PROMPT = (
    "You compact the earlier part of a conversation between a user and an AI assistant, so "
    "the assistant can carry on without the original messages. Write a concise summary that "
    "keeps: what the user wants and asked for; decisions made and why; facts, numbers, names, "
    "file names and paths; the results of tool calls that later work relies on; errors met and "
    "how they were handled; open tasks and unanswered questions. Fold an earlier summary in. "
    "Leave out greetings and whatever was superseded. Write in the conversation's language, as "
    "short plain paragraphs or bullet points, with no preamble. Do not call any tools."
)

_CLIP = 6_000  # characters of one message in the transcript sent: a huge tool output is cut


class SummaryError(Exception):
    """The summariser gave no usable summary; the text says why (shown in the notice)."""


@dataclass(frozen=True, slots=True)
class Compaction:
    """How a session's cleanups are done: ``strategy``, the summariser (``agent()`` picks the
    summary agent, or the session's own), its ``timeout`` in seconds, and whether its cost goes
    to the session's budget counter."""

    strategy: CleanupStrategy
    agent: Callable[[], AgentInterface]
    timeout: float
    count_tokens: Callable[[str], int]
    record_spend: bool = False


def check_compaction(strategy: str, timeout: float) -> None:
    """Refuse an unknown strategy or a timeout that is not a positive number of seconds."""
    if strategy not in ("fifo", "summarize"):
        raise ConfigError(f"cleanup_strategy must be 'fifo' or 'summarize', not {strategy!r}")
    if not (math.isfinite(timeout) and timeout > 0):
        raise ConfigError(f"summary_timeout must be a positive number of seconds, not {timeout!r}")


def summary_agent_from(settings: Settings) -> AgentInterface | None:
    """The agent ``AGENTCLI_SUMMARY_AGENT`` names (no tools), or ``None``: the session's own."""
    if not settings.summary_agent:
        return None
    from ..agents.factory import create_agent

    return create_agent(settings.summary_agent, settings)


async def compact_now(
    writer: SessionWriter, compaction: Compaction | None, instructions: str | None
) -> CleanupReport:
    """A cleanup asked for (``/compact``): to the cleanup target, by ``compaction`` (``None``:
    first-in first-out); with ``instructions``, everything but the last exchanges."""
    plan = writer.plan()
    if compaction is None:
        return await writer.apply(plan, reason="compact")
    if instructions:
        state = writer.state
        tracker = state.tracker
        every = tracker.plan(
            state.window,
            state.overhead,
            target=0.0,
            min_keep=max(1, tracker.min_keep),
            pinned=state.pinned,
        )
        # The warning says the target of 0 was missed: it was never the point.
        plan = dataclasses.replace(every, warning=None)
    if not plan.changed:
        return await writer.apply(plan, reason="compact")
    return await summarize_dropped(
        writer, plan, compaction, instructions=instructions, reason="compact"
    )


async def summarize_dropped(
    writer: SessionWriter,
    plan: TrimPlan,
    compaction: Compaction,
    *,
    instructions: str | None = None,
    reason: str = "threshold",
) -> CleanupReport:
    """Carry out ``plan`` with the messages it drops (and the live summary) replaced by one new
    summary; if no summary comes, carry it out first-in first-out and say why."""
    state = writer.state
    kept = {m.seq for m in apply_trim(state.window, plan.drop, state.pinned)}
    covered = [m for m in state.window if m.seq not in kept or summary_range(m) is not None]
    try:
        response = await request_summary(
            compaction, covered, session_id=writer.session_id, instructions=instructions
        )
        summary = summary_message(response, covered, compaction.count_tokens)
    except SummaryError as exc:
        report = await writer.apply(plan, reason)
        warning = f"summariser failed ({exc}): trimmed instead"
        if report.warning:
            warning = f"{warning}; {report.warning}"
        return report.model_copy(update={"warning": warning})
    before = state.tracker.tokens
    # Trim first, then store the summary: a crash in between leaves a plain trim behind.
    report = await writer.apply(plan, reason)
    await writer.append([summary])
    state.window = window_order(state.window)  # the new summary in place, the old one out
    state.tracker.tokens = state.overhead + sum(m.tokens for m in state.window)
    if compaction.record_spend:
        await record_session_spend(writer.store, writer.session_id, response)
    report = report.model_copy(
        update={
            "summarized": len(covered),
            "strategy": "summarize",
            "tokens_before": before,
            "tokens_after": state.tracker.tokens,
        }
    )
    logger.info(
        "context summarised", extra={"session_id": writer.session_id, **report.model_dump()}
    )
    return report


def transcript_text(messages: Sequence[Message]) -> str:
    """The messages as plain text, one labelled block each."""
    blocks: list[str] = []
    for message in messages:
        covered = summary_range(message)
        if covered is not None:
            head = f"[summary of messages {covered[0]} to {covered[1]}]"
        elif message.role == "tool":
            failed = " (failed)" if message.is_error else ""
            head = f"[result of tool {message.name or 'tool'}{failed}]"
        else:
            head = f"[{message.role}]"
        body = _clipped(message.content)
        calls = "".join(
            f"\n[called tool {call.name} with {_clipped(call.arguments)}]"
            for call in message.tool_calls
        )
        blocks.append(f"{head}\n{body}{calls}".rstrip())
    return "\n\n".join(blocks)


def _clipped(text: str) -> str:
    if len(text) <= _CLIP:
        return text
    return f"{text[:_CLIP]}… [{len(text) - _CLIP:,} more characters left out]"


def _request(messages: Sequence[Message], instructions: str | None) -> str:
    text = (
        "Summarise this earlier part of our conversation:\n\n<conversation>\n"
        f"{transcript_text(messages)}\n</conversation>"
    )
    if instructions:
        text += f"\n\nThe user asks that the summary: {instructions}"
    return make_storable(text)


async def request_summary(
    compaction: Compaction,
    covered: Sequence[Message],
    *,
    session_id: str,
    instructions: str | None,
) -> AgentResponse:
    """One request to the summariser; ``SummaryError`` if it fails or times out."""
    first, last = _span(covered)
    context = AgentContext(
        input=_request(covered, instructions),
        session_id=session_id,
        system_prompt=SUMMARY_SYSTEM_PROMPT,
        metadata={SUMMARY_REQUEST: {"messages": len(covered), "from": first, "to": last}},
    )
    agent = compaction.agent()
    try:
        async with asyncio.timeout(compaction.timeout):
            response = await agent.process(context)
    except TimeoutError:
        raise SummaryError(f"no summary within {compaction.timeout:g} s") from None
    except Exception as exc:
        logger.warning("the summariser failed", exc_info=True, extra={"session_id": session_id})
        raise SummaryError(f"{type(exc).__name__}: {_short(str(exc))}") from exc
    if response.is_error:
        raise SummaryError(_short(response.error or "the summariser reported an error"))
    if not response.output.strip():
        raise SummaryError("the summary was empty")
    return response


def summary_message(
    response: AgentResponse, covered: Sequence[Message], count_tokens: Callable[[str], int]
) -> Message:
    """The summary to store, or ``SummaryError`` if it is no shorter than what it replaces."""
    first, last = _span(covered)
    messages = sum(_covers(m) for m in covered)
    content = (
        f"Summary of the earlier conversation (messages {first} to {last}):\n\n"
        f"{response.output.strip()}"
    )
    tokens = count_tokens(content)
    replaced = sum(m.tokens for m in covered)
    if tokens >= replaced:
        raise SummaryError(
            f"the summary ({tokens:,} tokens) was not shorter than the {replaced:,} it replaces"
        )
    marker: dict[str, JsonValue] = {"from": first, "to": last, "messages": messages}
    return Message(
        role="system",
        content=content,
        tokens=tokens,
        usage=checked_usage(response.usage),
        metadata={SUMMARY_KEY: marker},
    )


def _span(covered: Sequence[Message]) -> tuple[int, int]:
    """The first and last ``seq`` the messages cover (an earlier summary's range included)."""
    first = covered[0]
    earlier = summary_range(first)
    last = covered[-1]
    later = summary_range(last)
    return (earlier[0] if earlier else first.seq), (later[1] if later else last.seq)


def _covers(message: Message) -> int:
    """How many original messages ``message`` stands for (a summary: all it covers)."""
    value = (message.metadata or {}).get(SUMMARY_KEY)
    if isinstance(value, dict):
        count = value.get("messages")
        if isinstance(count, int) and not isinstance(count, bool):
            return count
    return 1


def _short(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
