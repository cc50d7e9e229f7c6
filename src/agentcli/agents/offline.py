"""Agents that need no network: the offline default, and one that wraps your function."""

from __future__ import annotations

import asyncio
import inspect
import re
from collections.abc import AsyncIterator, Awaitable, Callable

from ..agent import AgentInterface, StreamEvent, TextDelta, TurnComplete
from ..messages import SUMMARY_REQUEST, AgentContext, AgentResponse
from ..usage import Usage
from .registry import DEFAULT_PROVIDER, keyed_providers

__all__ = ["SUMMARY_REQUEST", "EchoAgent", "FunctionAgent"]


_USER_LINES = re.compile(r"^\[user\]\n(.*)$", re.MULTILINE)
_ASKED = re.compile(r"The user asks that the summary: (.*)$", re.MULTILINE)


def _offline_notice() -> str:
    keys = " or ".join(str(info.key_variable) for info in keyed_providers())
    return (
        f"(offline echo agent: set {keys} and DEFAULT_MODEL, "
        f"or pass --agent {DEFAULT_PROVIDER.example_spec}, to talk to a real model)"
    )


OFFLINE_NOTICE = _offline_notice()


class EchoAgent(AgentInterface):
    """The default when no provider is configured: answers with the input, deterministically.

    It streams word by word and reports token usage like a real provider, so everything
    around it (the gauge, cleanup, costs) behaves as it will with a model.
    """

    name = "echo"

    def __init__(self, *, delay: float = 0.0, notice: bool = True) -> None:
        self.delay = delay
        self.notice = notice

    def _answer(self, context: AgentContext) -> str:
        if SUMMARY_REQUEST in context.metadata:
            return _extract_summary(context.input)
        text = f"You said: {context.input}"
        # Say once per session, on its first answer, what this agent is and how to change it.
        first = not any(m.role == "assistant" for m in context.conversation_history)
        return f"{text}\n\n{OFFLINE_NOTICE}" if self.notice and first else text

    def _response(self, context: AgentContext, output: str) -> AgentResponse:
        from ..tokens import count_message_tokens

        prompt = sum(m.tokens for m in context.conversation_history)
        prompt += count_message_tokens(context.input)
        completion = count_message_tokens(output)
        usage = Usage(
            input_tokens=prompt,
            output_tokens=completion,
            total_tokens=prompt + completion,
            cost=0.0,
            model="echo",
            provider="echo",
            requests=1,
        )
        return AgentResponse(output=output, usage=usage)

    async def process(self, context: AgentContext) -> AgentResponse:
        return self._response(context, self._answer(context))

    async def process_stream(self, context: AgentContext) -> AsyncIterator[str]:
        for word in re.findall(r"\S+\s*|\s+", self._answer(context)):
            if self.delay:
                await asyncio.sleep(self.delay)
            yield word

    async def stream_events(self, context: AgentContext) -> AsyncIterator[StreamEvent]:
        chunks: list[str] = []
        async for chunk in self.process_stream(context):
            chunks.append(chunk)
            yield TextDelta(chunk)
        yield TurnComplete(self._response(context, "".join(chunks)))


def _extract_summary(request: str) -> str:
    """A short, deterministic summary: the first words of the last three user messages (and
    of the user's instructions for the summary, when there are some)."""
    said = [_first_words(line) for line in _USER_LINES.findall(request)[-3:]]
    text = "The user said: " + "; ".join(said) + "." if said else "Nothing the user said."
    asked = _ASKED.search(request)
    return f"{text} (Asked: {_first_words(asked.group(1))}.)" if asked else text


def _first_words(text: str, count: int = 6) -> str:
    words = text.split()
    return " ".join(words[:count]) + ("…" if len(words) > count else "")


AgentFunction = Callable[[AgentContext], "str | AgentResponse | Awaitable[str | AgentResponse]"]


class FunctionAgent(AgentInterface):
    """Wraps a function (sync or async) that takes the context and returns text or a response.

    For tests of your own code: ``FunctionAgent(lambda ctx: "fixed answer")``.
    """

    def __init__(self, function: AgentFunction, *, name: str | None = None) -> None:
        self.function = function
        self.name = name or str(getattr(function, "__name__", "function"))

    async def process(self, context: AgentContext) -> AgentResponse:
        result = self.function(context)
        if inspect.isawaitable(result):
            result = await result
        if isinstance(result, AgentResponse):
            return result
        if isinstance(result, str):
            return AgentResponse(output=result)
        raise TypeError(
            f"{self.name} returned {type(result).__name__}; return a str or an AgentResponse"
        )
