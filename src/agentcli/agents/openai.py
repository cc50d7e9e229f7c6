"""``OpenAIAgent``: Chat Completions through the official ``openai`` SDK, streamed with usage.

Also the agent for any OpenAI-compatible server (Ollama, vLLM, LM Studio): ``ollama:MODEL``
uses ``AGENTCLI_OLLAMA_BASE_URL`` with a placeholder key, and ``OPENAI_BASE_URL`` points
``openai:MODEL`` anywhere. The SDK is imported when the first request is made, not here.

The cap on ``Retry-After`` is an httpx2 response hook on the SDK's own default client
(``openai.DefaultAsyncHttpxClient``): it runs on every attempt before the SDK decides to sleep,
and an exception it raises leaves the SDK's retry loop unchanged and unretried.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import SecretStr

from ..messages import Message, ToolCall, make_storable
from ._faults import Failure, classify_status, connection_failure, error_fields
from ._provider import Conversation, ProviderAgent, Round, RoundUsage, ToolSource
from ._watchdog import EventStream

if TYPE_CHECKING:
    import httpx2
    from openai import AsyncOpenAI, AsyncStream
    from openai.types.chat import ChatCompletion, ChatCompletionChunk
    from openai.types.chat.chat_completion_chunk import ChoiceDeltaToolCall
    from openai.types.completion_usage import CompletionUsage

    from ..config import Settings
    from ..tools import Tool

__all__ = ["OpenAIAgent"]

_OLLAMA_KEY = "ollama"  # Ollama ignores the key, but the SDK requires one


class OpenAIAgent(ProviderAgent["AsyncOpenAI"]):
    """A model behind the OpenAI Chat Completions API (or a server that speaks it).

    ``tools`` are offered to the model and run when it calls them; ``mcp`` takes open
    ``MCPToolset``s whose tools are read on every turn. ``max_tokens`` caps each answer.
    """

    key_variable: ClassVar[str] = "OPENAI_API_KEY"
    base_url_variable: ClassVar[str] = "OPENAI_BASE_URL"
    sdk_module: ClassVar[str] = "openai"

    def __init__(
        self,
        model: str,
        settings: Settings | None = None,
        *,
        tools: Sequence[Tool] = (),
        mcp: Sequence[ToolSource] = (),
        max_tokens: int | None = None,
        context_window: int | None = None,
        name: str | None = None,
        provider: str = "openai",
        api_key: SecretStr | None = None,
        base_url: str | None = None,
    ) -> None:
        super().__init__(
            model,
            settings,
            provider=provider,
            api_key=api_key,
            base_url=base_url,
            tools=tools,
            mcp=mcp,
            max_tokens=max_tokens,
            context_window=context_window,
            name=name,
        )

    @classmethod
    def for_ollama(cls, model: str, settings: Settings, **options: Any) -> OpenAIAgent:
        """``ollama:MODEL``: the server at ``AGENTCLI_OLLAMA_BASE_URL``, which needs no key."""
        return cls(
            model,
            settings,
            provider="ollama",
            api_key=SecretStr(_OLLAMA_KEY),
            base_url=settings.ollama_base_url,
            **options,
        )

    # ------------------------------------------------------------------ client

    @staticmethod
    def _endpoint(settings: Settings) -> tuple[SecretStr | None, str | None]:
        return settings.openai_api_key, settings.openai_base_url

    def _create_client(self, api_key: str) -> AsyncOpenAI:
        import openai

        limits = self.limits
        http_client = openai.DefaultAsyncHttpxClient(
            event_hooks={"response": [self._on_response]},
        )
        return openai.AsyncOpenAI(
            api_key=api_key,
            base_url=self.base_url,
            timeout=limits.request_timeout,
            max_retries=limits.max_retries,
            http_client=http_client,
        )

    def _secret(self) -> str | None:
        return None if self.provider == "ollama" else super()._secret()

    async def _on_response(self, response: httpx2.Response) -> None:
        if response.status_code < 400:
            return
        await response.aread()
        await self._check_retry_after(response.status_code, response.headers, response.content)

    # ------------------------------------------------------------------ wire format

    def _start(self, system_prompt: str | None, messages: Sequence[Message]) -> Conversation:
        conversation = Conversation(messages=[])
        if system_prompt:
            conversation.messages.append({"role": "system", "content": system_prompt})
        self._extend(conversation, messages)
        return conversation

    def _extend(self, conversation: Conversation, messages: Sequence[Message]) -> None:
        out = conversation.messages
        for message in messages:
            role = message.role
            if role == "tool":
                out.append(
                    {
                        "role": "tool",
                        "tool_call_id": message.tool_call_id or "",
                        "content": message.content,
                    }
                )
            elif role == "assistant" and message.tool_calls:
                out.append(
                    {
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
                )
            elif message.content or role == "user":
                # An empty assistant message (an answer interrupted before its first word)
                # says nothing and some servers reject it.
                out.append({"role": role, "content": message.content})

    def _tool_schema(self, tool: Tool) -> dict[str, Any]:
        return tool.openai_schema()

    def _request(
        self, conversation: Conversation, tools: list[dict[str, Any]], allow_tools: bool
    ) -> dict[str, Any]:
        request: dict[str, Any] = {"model": self.model, "messages": conversation.messages}
        if tools:
            request["tools"] = tools
            if not allow_tools:
                request["tool_choice"] = "none"
        if self.max_tokens is not None:
            # OpenAI's current name; compatible servers such as Ollama know only the old one.
            key = "max_completion_tokens" if self.provider == "openai" else "max_tokens"
            request[key] = self.max_tokens
        return request

    # ------------------------------------------------------------------ requests

    async def _complete_round(
        self,
        client: AsyncOpenAI,
        conversation: Conversation,
        tools: list[dict[str, Any]],
        allow_tools: bool,
    ) -> Round:
        request = self._request(conversation, tools, allow_tools)
        completion: ChatCompletion = await client.chat.completions.create(**request)
        if not completion.choices:
            raise self._incomplete("the response had no choices")
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
        text = message.content or message.refusal or ""
        return Round(
            text=make_storable(text),
            tool_calls=calls,
            usage=_usage(completion.usage),
            model=completion.model,
            cut_short=choice.finish_reason == "length",
        )

    async def _open_stream(
        self,
        client: AsyncOpenAI,
        conversation: Conversation,
        tools: list[dict[str, Any]],
        allow_tools: bool,
    ) -> EventStream:
        request = self._request(conversation, tools, allow_tools)
        stream: AsyncStream[ChatCompletionChunk] = await client.chat.completions.create(
            **request, stream=True, stream_options={"include_usage": True}
        )
        return stream

    def _stream_state(self) -> _StreamState:
        return _StreamState()

    # ------------------------------------------------------------------ errors

    def _classify(self, exc: BaseException) -> Failure | None:
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
