"""The OpenAI Chat Completions wire format (also spoken by Ollama, vLLM, LM Studio).

Requests and the SDK's answers, streamed (with ``include_usage``) or whole, are translated here;
the SDK is imported by the provider, and its types only for checking.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ...messages import Message, ToolCall, make_storable
from .._faults import Failure, IncompleteAnswer, classify_status, connection_failure, error_fields
from .base import Conversation, Round, RoundUsage, WireFormat

if TYPE_CHECKING:
    from openai import AsyncOpenAI, AsyncStream
    from openai.types.chat import ChatCompletion, ChatCompletionChunk
    from openai.types.chat.chat_completion_chunk import ChoiceDeltaToolCall
    from openai.types.completion_usage import CompletionUsage

    from ...tools import Tool
    from .._watchdog import EventStream

__all__ = ["OpenAIWire"]

# The Chat Completions tool message has no failure flag: a failed call says so in its text.
FAILED_RESULT_PREFIX = "error: "
# Request options (``agentcli.request_options``) sent under their own names.
_PASSED = ("temperature", "top_p", "seed", "stop")


class OpenAIWire(WireFormat["AsyncOpenAI"]):
    """Chat Completions for one model. ``official`` servers take ``max_completion_tokens``;
    compatible ones (Ollama) know only the older ``max_tokens``."""

    def __init__(self, model: str, max_tokens: int | None, *, official: bool = True) -> None:
        super().__init__(model, max_tokens)
        self.max_tokens_key = "max_completion_tokens" if official else "max_tokens"

    def start(self, system_prompt: str | None, messages: Sequence[Message]) -> Conversation:
        conversation = Conversation(messages=[])
        if system_prompt:
            conversation.messages.append({"role": "system", "content": system_prompt})
        self.extend(conversation, messages)
        return conversation

    def extend(self, conversation: Conversation, messages: Sequence[Message]) -> None:
        out = conversation.messages
        for message in messages:
            role = message.role
            if role == "tool":
                out.append(_tool_result(message))
            elif role == "assistant" and message.tool_calls:
                out.append(_tool_calls(message))
            elif message.content or role == "user":
                # An empty assistant message (an answer interrupted before its first word)
                # says nothing and some servers reject it.
                out.append({"role": role, "content": message.content})

    def tool_schema(self, tool: Tool) -> dict[str, Any]:
        return tool.openai_schema()

    def request(
        self, conversation: Conversation, tools: list[dict[str, Any]], allow_tools: bool
    ) -> dict[str, Any]:
        request: dict[str, Any] = {"model": self.model, "messages": conversation.messages}
        if tools:
            request["tools"] = tools
            if not allow_tools:
                request["tool_choice"] = "none"
        options = conversation.options
        max_tokens = options.get("max_output_tokens", self.max_tokens)
        if max_tokens is not None:
            request[self.max_tokens_key] = max_tokens
        request.update((name, options[name]) for name in _PASSED if name in options)
        return request

    async def complete(
        self,
        client: AsyncOpenAI,
        conversation: Conversation,
        tools: list[dict[str, Any]],
        allow_tools: bool,
    ) -> Round:
        request = self.request(conversation, tools, allow_tools)
        completion: ChatCompletion = await client.chat.completions.create(**request)
        if not completion.choices:
            raise IncompleteAnswer("the response had no choices")
        choice = completion.choices[0]
        message = choice.message
        calls = [
            ToolCall(
                id=call.id,
                name=call.function.name,
                arguments=make_storable(call.function.arguments or "{}"),
            )
            for call in message.tool_calls or ()
            if call.type == "function"
        ]
        return Round(
            text=make_storable(message.content or message.refusal or ""),
            tool_calls=calls,
            usage=_usage(completion.usage),
            model=completion.model,
            cut_short=choice.finish_reason == "length",
        )

    async def open_stream(
        self,
        client: AsyncOpenAI,
        conversation: Conversation,
        tools: list[dict[str, Any]],
        allow_tools: bool,
    ) -> EventStream:
        request = self.request(conversation, tools, allow_tools)
        stream: AsyncStream[ChatCompletionChunk] = await client.chat.completions.create(
            **request, stream=True, stream_options={"include_usage": True}
        )
        return stream

    def stream_state(self) -> _StreamState:
        return _StreamState()

    @staticmethod
    def classify(exc: BaseException) -> Failure | None:
        import openai

        if isinstance(exc, openai.APITimeoutError):
            return Failure("timeout", chain=True)
        if isinstance(exc, openai.APIConnectionError):
            return connection_failure(exc)
        if isinstance(exc, openai.APIStatusError):
            code, kind, message = error_fields(exc.body)
            return classify_status(exc.status_code, code, kind, message, exc.response.headers)
        if isinstance(exc, openai.APIError):
            # An error event inside a stream: the HTTP status was 200.
            code, kind, message = error_fields(exc.body)
            return classify_status(200, code, kind, message or exc.message, {})
        return None


def _tool_result(message: Message) -> dict[str, Any]:
    content = message.content
    if message.is_error:
        content = f"{FAILED_RESULT_PREFIX}{content}"
    return {"role": "tool", "tool_call_id": message.tool_call_id or "", "content": content}


def _tool_calls(message: Message) -> dict[str, Any]:
    return {
        "role": "assistant",
        "content": message.content or None,
        "tool_calls": [
            {
                "id": call.id,
                "type": "function",
                "function": {"name": call.name, "arguments": call.arguments},
            }
            for call in message.tool_calls
        ],
    }


class _StreamState:
    """Assembles a streamed answer: text pieces, tool calls by index, finish reason, usage.

    The answer is whole once a finish reason arrived; the usage chunk after it is optional
    (servers that ignore ``include_usage`` send none).
    """

    __slots__ = ("_calls", "finish", "model", "moved", "text", "usage")

    def __init__(self) -> None:
        self.text: list[str] = []
        self._calls: dict[int, list[Any]] = {}  # index -> [id, name, argument pieces]
        self.finish: str | None = None
        self.usage: RoundUsage | None = None
        self.model: str | None = None
        self.moved = False

    def take(self, chunk: ChatCompletionChunk) -> str:
        """Record ``chunk``; return its text. ``moved`` says whether it carried content."""
        self.moved = False
        if chunk.model:
            self.model = chunk.model
        if chunk.usage is not None:
            self.usage = _usage(chunk.usage)
            self.moved = True
        text = ""
        for choice in chunk.choices:
            if choice.index != 0:
                continue  # we ask for one choice
            delta = choice.delta
            piece = delta.content or delta.refusal
            if piece:
                text = piece
                self.text.append(piece)
                self.moved = True
            if delta.tool_calls:
                self._add_calls(delta.tool_calls)
            if choice.finish_reason is not None:
                self.finish = choice.finish_reason
                self.moved = True
        return text

    def _add_calls(self, pieces: list[ChoiceDeltaToolCall]) -> None:
        for piece in pieces:
            entry = self._calls.setdefault(piece.index, ["", "", []])
            if piece.id:
                entry[0] = piece.id
            function = piece.function
            if function is not None:
                if function.name:
                    entry[1] += function.name
                if function.arguments:
                    entry[2].append(function.arguments)
        self.moved = True

    def problem(self) -> str | None:
        return None if self.finish else "the stream stopped before the model finished"

    def result(self) -> Round:
        return Round(
            text=make_storable("".join(self.text)),
            tool_calls=self._tool_calls(),
            usage=self.usage,
            model=self.model,
            cut_short=self.finish == "length",
        )

    def _tool_calls(self) -> list[ToolCall]:
        return [
            ToolCall(
                id=entry[0] or f"call_{index}",
                name=entry[1],
                arguments=make_storable("".join(entry[2]) or "{}"),
            )
            for index, entry in sorted(self._calls.items())
        ]


def _usage(usage: CompletionUsage | None) -> RoundUsage | None:
    if usage is None:
        return None
    prompt = usage.prompt_tokens_details
    completion = usage.completion_tokens_details
    return RoundUsage(
        input_tokens=usage.prompt_tokens,
        output_tokens=usage.completion_tokens,
        cache_read_tokens=prompt.cached_tokens if prompt is not None else None,
        cache_write_tokens=prompt.cache_write_tokens if prompt is not None else None,
        reasoning_tokens=completion.reasoning_tokens if completion is not None else None,
    )
