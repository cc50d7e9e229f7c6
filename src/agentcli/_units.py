"""Tool-call bookkeeping shared by the session manager and the agents.

A *unit* is an assistant message that calls tools together with the ``tool`` messages that
answer every one of its calls. Only whole units may be stored or sent to a provider.
"""

from __future__ import annotations

from collections.abc import Sequence

from .messages import Message

__all__ = ["complete_units"]


def complete_units(messages: Sequence[Message]) -> list[Message]:
    """Keep only messages that form whole units: drop tool calls that were never answered
    (and their partial results) and results whose call is missing. Order is kept."""
    kept: list[Message] = []
    index = 0
    while index < len(messages):
        message = messages[index]
        if message.role == "tool":
            index += 1  # a result with no call before it: orphaned
            continue
        if message.role != "assistant" or not message.tool_calls:
            kept.append(message)
            index += 1
            continue
        wanted = {call.id for call in message.tool_calls}
        results: list[Message] = []
        index += 1
        while index < len(messages) and messages[index].role == "tool":
            if messages[index].tool_call_id in wanted:
                results.append(messages[index])
            index += 1
        if wanted == {r.tool_call_id for r in results}:
            kept.append(message)
            kept.extend(results)
    return kept
