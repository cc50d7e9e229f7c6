"""The Anthropic Messages wire format.

The system prompt (the session's, plus any system messages in the window) goes in ``system=``,
never into a user message. A failed tool call is a ``tool_result`` with ``is_error``, from the
message's flag, never guessed from its text.

With prompt caching on, a request marks up to four ``cache_control`` breakpoints, in the order
Anthropic builds its prefix (tools, system, messages): the last tool, the last system block,
the window's last block before the new input (fixed for the whole turn, so every round of the
tool loop and the next turn read it back) and the request's last block (which moves forward,
so the next round or turn reads everything before it). Anthropic ignores prefixes shorter than
the model's minimum, and finds an earlier cached prefix within 20 blocks of a breakpoint.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ...messages import Message, ToolCall, make_storable
from .._faults import Failure, classify_status, connection_failure, error_fields
from .base import Conversation, Round, RoundUsage, WireFormat, parsed_arguments

if TYPE_CHECKING:
    from anthropic import AsyncAnthropic, AsyncStream
    from anthropic.types import Message as AnthropicMessage
    from anthropic.types import RawMessageStreamEvent
    from anthropic.types.message_delta_usage import MessageDeltaUsage
    from anthropic.types.usage import Usage

    from ...tools import Tool
    from .._watchdog import EventStream

__all__ = ["DEFAULT_MAX_TOKENS", "AnthropicWire"]

DEFAULT_MAX_TOKENS = 4096
"""The Messages API requires a cap on each answer; every current model allows at least this."""

_TRIMMED = "(earlier messages of this conversation were trimmed)"
_EPHEMERAL = {"type": "ephemeral"}
# Request options the API takes on models that allow sampling options, but the SDK (since 1.0)
# no longer as arguments: sent in the body as they are.
_SAMPLING = ("temperature", "top_p")


class AnthropicWire(WireFormat["AsyncAnthropic"]):
    """The Messages API for one model; ``prompt_cache`` marks the stable prefix for caching."""

    def __init__(self, model: str, max_tokens: int | None, *, prompt_cache: bool = True) -> None:
        super().__init__(model, max_tokens)
        self.prompt_cache = prompt_cache

    def start(self, system_prompt: str | None, messages: Sequence[Message]) -> Conversation:
        conversation = Conversation(messages=[], system=[system_prompt] if system_prompt else [])
        self.extend(conversation, messages[:-1])
        wire = conversation.messages
        if self.prompt_cache and wire:
            # The window before the new input: the same for every request of this turn.
            wire[-1]["content"][-1]["cache_control"] = _EPHEMERAL
        self.extend(conversation, messages[-1:])
        if wire and wire[0]["role"] == "assistant":
            # A trimmed window can begin with an answer; the Messages API wants a user turn first.
            wire.insert(0, {"role": "user", "content": [{"type": "text", "text": _TRIMMED}]})
        return conversation

    def extend(self, conversation: Conversation, messages: Sequence[Message]) -> None:
        out = conversation.messages
        for message in messages:
            if message.role == "system":
                if message.content:
                    conversation.system.append(message.content)
                continue
            blocks = _blocks(message)
            if not blocks:
                continue  # Anthropic rejects empty content
            role = "assistant" if message.role == "assistant" else "user"
            if out and out[-1]["role"] == role:
                # One turn per role: tool results share the user turn that follows the calls.
                out[-1]["content"].extend(blocks)
            else:
                out.append({"role": role, "content": blocks})

    def tool_schema(self, tool: Tool) -> dict[str, Any]:
        return tool.anthropic_schema()

    def request(
        self, conversation: Conversation, tools: list[dict[str, Any]], allow_tools: bool
    ) -> dict[str, Any]:
        cache = self.prompt_cache
        messages = conversation.messages
        if cache and messages:
            *before, last = messages
            messages = [*before, {**last, "content": _marked(last["content"])}]
        options = conversation.options
        request: dict[str, Any] = {
            "model": self.model,
            "max_tokens": options.get("max_output_tokens", self.max_tokens) or DEFAULT_MAX_TOKENS,
            "messages": messages,
        }
        if "stop" in options:
            request["stop_sequences"] = options["stop"]
        sampling = {name: options[name] for name in _SAMPLING if name in options}
        if sampling:
            request["extra_body"] = sampling
        system = conversation.system
        if len(system) == 1 and not cache:
            request["system"] = system[0]
        elif system:
            blocks = [{"type": "text", "text": part} for part in system]
            request["system"] = _marked(blocks) if cache else blocks
        if tools:
            request["tools"] = _marked(tools) if cache else tools
            if not allow_tools:
                request["tool_choice"] = {"type": "none"}
        return request

    async def complete(
        self,
        client: AsyncAnthropic,
        conversation: Conversation,
        tools: list[dict[str, Any]],
        allow_tools: bool,
    ) -> Round:
        request = self.request(conversation, tools, allow_tools)
        message: AnthropicMessage = await client.messages.create(**request)
        texts: list[str] = []
        calls: list[ToolCall] = []
        for block in message.content:
            if block.type == "text":
                texts.append(block.text)
            elif block.type == "tool_use":
                arguments = json.dumps(block.input, ensure_ascii=False)
                calls.append(
                    ToolCall(id=block.id, name=block.name, arguments=make_storable(arguments))
                )
        return Round(
            text=make_storable("".join(texts)),
            tool_calls=calls,
            usage=_usage(message.usage),
            model=message.model,
            cut_short=message.stop_reason == "max_tokens",
        )

    async def open_stream(
        self,
        client: AsyncAnthropic,
        conversation: Conversation,
        tools: list[dict[str, Any]],
        allow_tools: bool,
    ) -> EventStream:
        request = self.request(conversation, tools, allow_tools)
        stream: AsyncStream[RawMessageStreamEvent] = await client.messages.create(
            **request, stream=True
        )
        return stream

    def stream_state(self) -> _StreamState:
        return _StreamState()

    @staticmethod
    def classify(exc: BaseException) -> Failure | None:
        import anthropic

        if isinstance(exc, anthropic.APITimeoutError):
            return Failure("timeout", chain=True)
        if isinstance(exc, anthropic.APIConnectionError):
            return connection_failure(exc)
        if isinstance(exc, anthropic.APIStatusError):
            code, kind, message = error_fields(exc.body)
            status = exc.status_code
            if status < 400:  # an error event inside a stream that began with 200
                status = 200
            return classify_status(status, code, kind, message, exc.response.headers)
        return None


def _marked(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``blocks`` with a cache breakpoint on the last one (copied: the original is kept)."""
    *before, last = blocks
    return [*before, {**last, "cache_control": _EPHEMERAL}]


def _blocks(message: Message) -> list[dict[str, Any]]:
    """A message's content blocks in the Messages API format."""
    if message.role == "tool":
        result: dict[str, Any] = {
            "type": "tool_result",
            "tool_use_id": message.tool_call_id or "",
            "content": message.content,
        }
        if message.is_error:
            result["is_error"] = True
        return [result]
    blocks: list[dict[str, Any]] = []
    if message.content:
        blocks.append({"type": "text", "text": message.content})
    if message.role == "assistant":
        blocks.extend(
            {
                "type": "tool_use",
                "id": call.id,
                "name": call.name,
                "input": parsed_arguments(call.arguments),
            }
            for call in message.tool_calls
        )
    return blocks


class _StreamState:
    """Assembles a streamed message: text, tool_use blocks, stop reason, usage.

    Pings are dropped by the SDK and keep-alive comments never become events, so every event
    counts as content. The message is whole at ``message_stop`` with every block closed.
    """

    moved = True

    __slots__ = (
        "_cache_read",
        "_cache_write",
        "_input",
        "_output",
        "_tools",
        "model",
        "open_blocks",
        "stop_reason",
        "stopped",
        "text",
    )

    def __init__(self) -> None:
        self.text: list[str] = []
        self._tools: dict[int, list[Any]] = {}  # index -> [id, name, json pieces]
        self.open_blocks: set[int] = set()
        self.stop_reason: str | None = None
        self.stopped = False
        self.model: str | None = None
        self._input: int | None = None
        self._output: int | None = None
        self._cache_read: int | None = None
        self._cache_write: int | None = None

    def take(self, event: RawMessageStreamEvent) -> str:
        """Record ``event``; return the text it carries."""
        if event.type == "content_block_delta":
            delta = event.delta
            if delta.type == "text_delta":
                self.text.append(delta.text)
                return delta.text
            if delta.type == "input_json_delta" and event.index in self._tools:
                self._tools[event.index][2].append(delta.partial_json)
        elif event.type == "content_block_start":
            self.open_blocks.add(event.index)
            block = event.content_block
            if block.type == "text" and block.text:
                self.text.append(block.text)
                return block.text
            if block.type == "tool_use":
                self._tools[event.index] = [block.id, block.name, []]
        elif event.type == "content_block_stop":
            self.open_blocks.discard(event.index)
        elif event.type == "message_start":
            self.model = event.message.model
            self._count(event.message.usage)
        elif event.type == "message_delta":
            self.stop_reason = event.delta.stop_reason
            self._count(event.usage)
        elif event.type == "message_stop":
            self.stopped = True
        return ""

    def _count(self, usage: Usage | MessageDeltaUsage) -> None:
        # message_delta repeats the counts cumulatively; a None there means "unchanged".
        if usage.input_tokens is not None:
            self._input = usage.input_tokens
        self._output = usage.output_tokens
        if usage.cache_read_input_tokens is not None:
            self._cache_read = usage.cache_read_input_tokens
        if usage.cache_creation_input_tokens is not None:
            self._cache_write = usage.cache_creation_input_tokens

    def usage(self) -> RoundUsage | None:
        if self._input is None or self._output is None:
            return None
        return _round_usage(self._input, self._output, self._cache_read, self._cache_write)

    def problem(self) -> str | None:
        if not self.stopped:
            return "the stream stopped before the model finished"
        if self.open_blocks:
            return "the stream stopped in the middle of a content block"
        return None

    def result(self) -> Round:
        return Round(
            text=make_storable("".join(self.text)),
            tool_calls=self._tool_calls(),
            usage=self.usage(),
            model=self.model,
            cut_short=self.stop_reason == "max_tokens",
        )

    def _tool_calls(self) -> list[ToolCall]:
        return [
            ToolCall(id=entry[0], name=entry[1], arguments=make_storable("".join(entry[2]) or "{}"))
            for _, entry in sorted(self._tools.items())
        ]


def _usage(usage: Usage) -> RoundUsage:
    return _round_usage(
        usage.input_tokens,
        usage.output_tokens,
        usage.cache_read_input_tokens,
        usage.cache_creation_input_tokens,
    )


def _round_usage(
    uncached: int, output: int, cache_read: int | None, cache_write: int | None
) -> RoundUsage:
    # Anthropic's input_tokens leaves out the cached part; ours counts the whole prompt.
    return RoundUsage(
        input_tokens=uncached + (cache_read or 0) + (cache_write or 0),
        output_tokens=output,
        cache_read_tokens=cache_read,
        cache_write_tokens=cache_write,
    )
