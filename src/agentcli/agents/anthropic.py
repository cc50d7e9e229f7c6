"""``AnthropicAgent``: the Messages API through the official ``anthropic`` SDK, streamed.

The SDK is imported when the first request is made, not here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from .provider import AnthropicProvider, Provider
from .provider_agent import ProviderAgent
from .wire.anthropic import DEFAULT_MAX_TOKENS, AnthropicWire

if TYPE_CHECKING:
    from anthropic import AsyncAnthropic
    from pydantic import SecretStr

    from ..config import Settings
    from .registry import ProviderInfo

__all__ = ["DEFAULT_MAX_TOKENS", "AnthropicAgent"]


class AnthropicAgent(ProviderAgent["AsyncAnthropic"]):
    """A Claude model behind the Anthropic Messages API: ``AnthropicAgent("claude-haiku-4-5")``.

    ``prompt_cache`` marks the stable start of each request for Anthropic's prompt cache
    (default: ``AGENTCLI_ANTHROPIC_PROMPT_CACHE``, on); the other options are ``ProviderAgent``'s.
    """

    providers: ClassVar[tuple[str, ...]] = ("anthropic",)

    def __init__(
        self,
        model: str,
        settings: Settings | None = None,
        *,
        prompt_cache: bool | None = None,
        **options: Any,
    ) -> None:
        self.prompt_cache = prompt_cache  # decided with the settings, in _wire_format
        super().__init__(model, settings, **options)

    def _connect(
        self,
        info: ProviderInfo,
        settings: Settings,
        *,
        api_key: SecretStr | None,
        base_url: str | None,
    ) -> Provider[AsyncAnthropic]:
        return AnthropicProvider(info, settings, api_key=api_key, base_url=base_url)

    def _wire_format(
        self, info: ProviderInfo, model: str, max_tokens: int | None, settings: Settings
    ) -> AnthropicWire:
        if self.prompt_cache is None:
            self.prompt_cache = settings.anthropic_prompt_cache
        return AnthropicWire(model, max_tokens, prompt_cache=self.prompt_cache)
