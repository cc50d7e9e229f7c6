"""``OpenAIAgent``: Chat Completions through the official ``openai`` SDK, streamed with usage.

Also the agent for any OpenAI-compatible server (Ollama, vLLM, LM Studio): ``ollama:MODEL``
uses ``AGENTCLI_OLLAMA_BASE_URL`` with a placeholder key, and ``OPENAI_BASE_URL`` points
``openai:MODEL`` anywhere. The SDK is imported when the first request is made, not here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from .provider import OpenAIProvider, Provider
from .provider_agent import ProviderAgent
from .registry import OPENAI
from .wire.openai import OpenAIWire

if TYPE_CHECKING:
    from openai import AsyncOpenAI
    from pydantic import SecretStr

    from ..config import Settings
    from .registry import ProviderInfo

__all__ = ["OpenAIAgent"]


class OpenAIAgent(ProviderAgent["AsyncOpenAI"]):
    """A model behind the OpenAI Chat Completions API (or a server that speaks it):
    ``OpenAIAgent("gpt-4o-mini", tools=[weather])``."""

    providers: ClassVar[tuple[str, ...]] = ("openai", "ollama")

    @classmethod
    def for_ollama(cls, model: str, settings: Settings, **options: Any) -> OpenAIAgent:
        """``ollama:MODEL``: the server at ``AGENTCLI_OLLAMA_BASE_URL``, which needs no key."""
        return cls(model, settings, provider="ollama", **options)

    def _connect(
        self,
        info: ProviderInfo,
        settings: Settings,
        *,
        api_key: SecretStr | None,
        base_url: str | None,
    ) -> Provider[AsyncOpenAI]:
        return OpenAIProvider(info, settings, api_key=api_key, base_url=base_url)

    def _wire_format(
        self, info: ProviderInfo, model: str, max_tokens: int | None, settings: Settings
    ) -> OpenAIWire:
        return OpenAIWire(model, max_tokens, official=info is OPENAI)
