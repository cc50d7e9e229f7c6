"""Running a batch of tool calls: each becomes a ``tool`` message, a failure included.

A tool's failure is information for the model, not a crash of the turn: bad JSON, invalid
arguments, an unknown name, a timeout or an exception become a result with ``is_error`` set and
text saying what went wrong, so the model can read it and try again. The flag, not the text,
marks the failure: a tool whose real output begins with "error:" has not failed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from .errors import InvalidInputError
from .messages import Message, ToolCall, make_storable
from .observability import tracing

if TYPE_CHECKING:
    from .tools import Tool

__all__ = [
    "DEFAULT_MAX_RESULT_CHARS",
    "ToolArgumentsError",
    "ToolError",
    "run_tool_calls",
    "storable_result",
]

logger = logging.getLogger("agentcli.tools")

DEFAULT_MAX_RESULT_CHARS = 100_000
"""Results longer than this are cut (a model's window is the scarce resource, not disk)."""


class ToolError(Exception):
    """Raise from a tool to tell the model it failed, in your words.

    The call's result is then your message as it is, marked as a failure (``is_error``): the
    Anthropic API receives the flag, the OpenAI API (which has none) an ``error:`` prefix.
    """


class ToolArgumentsError(InvalidInputError):
    """The arguments the model sent are not valid JSON, not an object, or do not fit the schema."""


async def run_tool_calls(
    tools: Mapping[str, Tool],
    calls: Sequence[ToolCall],
    *,
    timeout: float | None = None,  # noqa: ASYNC109 - per call, not for the whole batch
    max_result_chars: int | None = DEFAULT_MAX_RESULT_CHARS,
) -> list[Message]:
    """Run ``calls`` concurrently; return one ``tool`` message per call, in the order of ``calls``.

    Every failure becomes a result with ``is_error`` set; only cancellation propagates (and
    cancels the other calls). ``timeout`` is per call, in seconds (a sync tool's thread cannot
    be stopped: it finishes in the background and its result is dropped). Results are made
    storable (NUL and lone surrogates become U+FFFD) and cut at ``max_result_chars``.
    """
    if len(calls) == 1:
        return [await _run_one(tools, calls[0], timeout, max_result_chars)]
    async with asyncio.TaskGroup() as group:
        tasks = [
            group.create_task(_run_one(tools, call, timeout, max_result_chars)) for call in calls
        ]
    return [task.result() for task in tasks]


def storable_result(text: str, max_chars: int | None = DEFAULT_MAX_RESULT_CHARS) -> str:
    """Make ``text`` storable (U+FFFD for NUL and lone surrogates); cut it at ``max_chars``."""
    text = make_storable(text)
    if max_chars is not None and len(text) > max_chars:
        cut = len(text) - max_chars
        text = f"{text[:max_chars]}\n[truncated: {cut} more characters not shown]"
    return text


async def _run_one(
    tools: Mapping[str, Tool], call: ToolCall, seconds: float | None, max_chars: int | None
) -> Message:
    started = time.perf_counter()
    name = call.name[:64]  # the model's choice: it may name no tool at all
    attributes = {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": name,
        "gen_ai.tool.call.id": call.id[:128],
        "gen_ai.tool.type": "function",
    }
    with tracing.span(f"execute_tool {name}", attributes) as span:
        selected = tools.get(call.name)
        if selected is None:
            names = ", ".join(sorted(tools)) or "none"
            text, outcome = f"unknown tool {call.name!r}; available tools: {names}", "unknown"
        else:
            text, outcome = await _call(selected, call, seconds)
        if outcome != "ok":
            span.fail("tool_error")
    logger.info(
        "tool call finished",
        extra={
            "tool": call.name,
            "outcome": outcome,
            "duration_ms": round((time.perf_counter() - started) * 1000, 1),
            "result_chars": len(text),
        },
    )
    return Message(
        role="tool",
        tool_call_id=call.id,
        name=call.name,
        content=storable_result(text, max_chars),
        is_error=outcome != "ok",
    )


async def _call(selected: Tool, call: ToolCall, seconds: float | None) -> tuple[str, str]:
    """Run one tool; return (result text, outcome for the log: ok, error or timeout)."""
    deadline = asyncio.timeout(seconds)
    try:
        async with deadline:
            return await selected.call(call.arguments), "ok"
    except (ToolArgumentsError, ToolError) as exc:
        return str(exc) or f"tool {call.name!r} failed", "error"
    except TimeoutError as exc:
        if deadline.expired():
            return f"tool {call.name!r} did not finish within {seconds:g} s", "timeout"
        return _describe_exception(exc), "error"
    except asyncio.CancelledError:
        task = asyncio.current_task()
        # Our task is being cancelled (the turn was interrupted): propagate. Otherwise the tool
        # raised CancelledError on its own account, which is just another failure.
        if task is None or task.cancelling():
            raise
        return f"tool {call.name!r} was cancelled", "error"
    except Exception as exc:
        logger.debug("tool %r raised", call.name, exc_info=True)
        return _describe_exception(exc), "error"


def _describe_exception(exc: BaseException) -> str:
    detail = str(exc)
    return f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__
